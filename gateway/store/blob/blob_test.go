package blob

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestBlobsWrittenByEarlierVersionsStillRead: records stored deflated (by
// the standard library, before the switch to S2) read back the same, as do
// S2 blobs, plain JSON, and a broken blob is an error.
func TestBlobsWrittenByEarlierVersionsStillRead(t *testing.T) {
	doc := []byte(`{"id":"0f-06h2rrcj3tt0a8e3","service":"api","summary":"Disk almost full on db1","state":{"priority":"P0","status":"triggered"}}`)
	var old bytes.Buffer
	old.WriteByte(blobDeflate)
	w, _ := stdflate.NewWriterDict(&old, stdflate.BestSpeed, blobDict)
	_, _ = w.Write(doc)
	_ = w.Close()
	for i := 0; i < 3; i++ { // pooled readers are reset, not reused dirty
		got, err := Unpack(old.String())
		if err != nil || !bytes.Equal(got, doc) {
			t.Fatalf("old blob: %q %v", got, err)
		}
	}
	packed := Pack(doc)
	if packed[0] != blobS2 || len(packed) >= len(doc) {
		t.Fatalf("a new blob: format %x, %d bytes for %d", packed[0], len(packed), len(doc))
	}
	if got, err := Unpack(string(packed)); err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("S2 blob: %q %v", got, err)
	}
	if got, err := Unpack(string(doc)); err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("plain JSON: %q %v", got, err)
	}
	if _, err := Unpack(string([]byte{blobDeflate, 0xff, 0x00})); err == nil || !strings.Contains(err.Error(), "inflate") {
		t.Fatalf("a broken deflate blob: %v", err)
	}
	if _, err := Unpack(string([]byte{blobS2, 0xff, 0x00})); err == nil {
		t.Fatal("a broken S2 blob was read")
	}
}

// TestPackingLeavesTheCallersStackSmall: Pack gives the bytes S2 with
// the dictionary gives, to many callers at once, each its own; and the
// encoder's 64 KB table is not on the callers' stacks (a hundred callers
// that each packed a document and then wait hold 100 small stacks, not 100
// of 128 KB).
func TestPackingLeavesTheCallersStackSmall(t *testing.T) {
	const callers = 100
	docs := make([][]byte, callers)
	for i := range docs {
		docs[i] = []byte(fmt.Sprintf(`{"id":"0f-%d","service":"api","summary":"Disk almost full on db%d","state":{"priority":"P0","status":"triggered"}}`, i, i))
	}
	Pack(docs[0]) // the packers start, their stacks grow
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	release := make(chan struct{})
	var packed, waiting sync.WaitGroup
	got := make([][]byte, callers)
	for i := range callers {
		packed.Add(1)
		waiting.Add(1)
		go func() {
			defer waiting.Done()
			got[i] = Pack(docs[i])
			packed.Done()
			<-release
		}()
	}
	packed.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	close(release)
	waiting.Wait()
	for i := range docs {
		if want := Encode(docs[i]); !bytes.Equal(got[i], want) {
			t.Fatalf("caller %d got %q, want %q", i, got[i], want)
		}
	}
	if grew := int64(after.StackInuse) - int64(before.StackInuse); grew > callers*32<<10 {
		t.Errorf("%d callers that packed a document hold %d KB of stack, %d KB each: the encoder's table is on their stacks",
			callers, grew>>10, grew/callers>>10)
	}
}

// TestPackTwoIsPackOfEach: two documents packed in one hand-over are each
// byte for byte what Pack and Encode make of it alone, whatever their
// sizes (the packer's scratch reused between them), and every packed form
// is a buffer of its own.
func TestPackTwoIsPackOfEach(t *testing.T) {
	small := []byte(`{"id":"0f-06h2rrcj3tt0a8e3","service":"api","state":{"status":"triggered"}}`)
	large := bytes.Repeat([]byte(`{"labels":{"alertname":"Disk","instance":"db1"}},`), 2000)
	for _, tc := range [][2][]byte{{small, small}, {small, large}, {large, small}, {large, large}, {small, []byte{}}} {
		a, b := PackTwo(tc[0], tc[1])
		if !bytes.Equal(a, Encode(tc[0])) || !bytes.Equal(a, Pack(tc[0])) {
			t.Errorf("first of %d and %d bytes: packed with another it differs from packed alone", len(tc[0]), len(tc[1]))
		}
		if !bytes.Equal(b, Encode(tc[1])) || !bytes.Equal(b, Pack(tc[1])) {
			t.Errorf("second of %d and %d bytes: packed with another it differs from packed alone", len(tc[0]), len(tc[1]))
		}
		a2 := bytes.Clone(a)
		if _, _ = PackTwo(large, large); !bytes.Equal(a, a2) {
			t.Error("a packed form changed when the packer packed more")
		}
	}
}
