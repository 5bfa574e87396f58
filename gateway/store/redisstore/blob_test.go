package redisstore

import (
	"bytes"
	stdflate "compress/flate"
	"strings"
	"testing"
)

// TestBlobsWrittenByTheStandardLibraryStillRead: records stored before the
// switch to klauspost/compress's deflate (same format byte, the standard
// DEFLATE stream) read back the same, and the new writer's output reads
// with the standard library too.
func TestBlobsWrittenByTheStandardLibraryStillRead(t *testing.T) {
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
	r := stdflate.NewReaderDict(bytes.NewReader(packed[1:]), blobDict)
	var back bytes.Buffer
	if _, err := back.ReadFrom(r); err != nil || !bytes.Equal(back.Bytes(), doc) {
		t.Fatalf("new blob with the standard library: %q %v", back.String(), err)
	}
	if _, err := unpackBlob(string([]byte{blobDeflate, 0xff, 0x00})); err == nil || !strings.Contains(err.Error(), "inflate") {
		t.Fatalf("a broken blob: %v", err)
	}
}
