package redisstore

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
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
		got, err := unpackBlob(old.String())
		if err != nil || !bytes.Equal(got, doc) {
			t.Fatalf("old blob: %q %v", got, err)
		}
	}
	packed := packBlob(doc)
	if packed[0] != blobS2 || len(packed) >= len(doc) {
		t.Fatalf("a new blob: format %x, %d bytes for %d", packed[0], len(packed), len(doc))
	}
	if got, err := unpackBlob(string(packed)); err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("S2 blob: %q %v", got, err)
	}
	if got, err := unpackBlob(string(doc)); err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("plain JSON: %q %v", got, err)
	}
	if _, err := unpackBlob(string([]byte{blobDeflate, 0xff, 0x00})); err == nil || !strings.Contains(err.Error(), "inflate") {
		t.Fatalf("a broken deflate blob: %v", err)
	}
	if _, err := unpackBlob(string([]byte{blobS2, 0xff, 0x00})); err == nil {
		t.Fatal("a broken S2 blob was read")
	}
}

// TestPackingLeavesTheCallersStackSmall: packBlob gives the bytes S2 with
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
	packBlob(docs[0]) // the packers start, their stacks grow
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
			got[i] = packBlob(docs[i])
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
		if want := packS2(docs[i]); !bytes.Equal(got[i], want) {
			t.Fatalf("caller %d got %q, want %q", i, got[i], want)
		}
	}
	if grew := int64(after.StackInuse) - int64(before.StackInuse); grew > callers*32<<10 {
		t.Errorf("%d callers that packed a document hold %d KB of stack, %d KB each: the encoder's table is on their stacks",
			callers, grew>>10, grew/callers>>10)
	}
}

// BenchmarkPackBlob packs a stored incident document, handed to a packer
// and encoded in place, on the benchmark's goroutine, whose stack stays
// grown: what handing over costs. What it saves (stacks grown again after
// every collection, on hundreds of goroutines) shows in a profile of the
// load run, not here.
func BenchmarkPackBlob(b *testing.B) {
	var r record
	fill(b, reflect.ValueOf(&r).Elem(), time.Now().UTC(), new(int), false)
	plainStrings(reflect.ValueOf(&r).Elem(), new(int))
	doc, err := appendRecord(nil, &r)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("handed over", func(b *testing.B) {
		for b.Loop() {
			packBlob(doc)
		}
	})
	b.Run("in place", func(b *testing.B) {
		for b.Loop() {
			packS2(doc)
		}
	})
}

// TestEncodeDocAllocatesWhatItKeeps: a write's document costs the packed
// bytes it keeps and little more: the JSON goes into a pooled buffer and
// S2's room into the packer's scratch (each was a new buffer a write, and
// together more than twice what is kept).
func TestEncodeDocAllocatesWhatItKeeps(t *testing.T) {
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	inc := &store.Incident{ID: "0f-06h2rrcj3tt0a8e3", Service: "api", DedupKey: `{}:{alertname="DiskFull",instance="db1"}`,
		Summary: "Disk almost full on db1", CreatedAt: at, UpdatedAt: at, LastSeen: at,
		State: policy.Incident{Status: policy.StatusTriggered, Priority: "P1", TriggeredAt: at, LevelStartedAt: at,
			Pending: []policy.Deadline{
				{ID: "0001.000001.notify", At: at, Kind: policy.DeadlineNotify, User: "ann", Channel: "push", Seq: 1},
				{ID: "0001.000002.notify", At: at.Add(2 * time.Minute), Kind: policy.DeadlineNotify, User: "ann", Channel: "sms", Seq: 2},
				{ID: "0001.000003.notify", At: at.Add(5 * time.Minute), Kind: policy.DeadlineNotify, User: "ann", Channel: "voice", Seq: 3},
				{ID: "0001.000004.escalate", At: at.Add(15 * time.Minute), Kind: policy.DeadlineEscalate, Seq: 4},
			}}}
	doc, _, err := encodeDoc(inc)
	if err != nil {
		t.Fatal(err)
	}
	const runs = 2000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		if _, _, err := encodeDoc(inc); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("encodeDoc allocated %d bytes a call for a %d-byte document", per, len(doc))
	if most := uint64(len(doc)) + 512; per > most {
		t.Errorf("encodeDoc allocated %d bytes a call for a %d-byte document, want at most %d", per, len(doc), most)
	}
}
