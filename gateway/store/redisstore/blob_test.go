package redisstore

import (
	"bytes"
	stdflate "compress/flate"
	"strings"
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
