package gateway

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestEnqueueGzipBody: an event sent gzip-compressed (Content-Encoding:
// gzip, as an HTTP client, a proxy or a shipper's sink set to compress
// sends it) is taken as the same event uncompressed: triggered, then
// resolved. Before, every such event was refused 400 "Malformed JSON:
// invalid character '\x1f'", which no sender retries, and nothing of
// theirs paged. A coding pagerd cannot undo is 415 naming it (with
// Accept-Encoding: gzip), corrupt gzip 400, and JSON over 512 KB once
// decompressed 413, however small the compressed body; plain JSON under
// any Content-Encoding is taken as it is.
func TestEnqueueGzipBody(t *testing.T) {
	h := newHarness(t)
	trigger := `{"routing_key":"` + pdKey + `","event_action":"trigger","dedup_key":"gz-1",` +
		`"payload":{"summary":"Disk full on db1","source":"db1","severity":"critical"}}`
	r := h.do("POST", "/v2/enqueue", gzipped(t, trigger), "Content-Encoding", "gzip")
	if r.code != 202 || !strings.Contains(r.body, `"dedup_key":"gz-1"`) {
		t.Fatalf("gzip trigger: %d %s", r.code, r.body)
	}
	incs := h.list("")
	if len(incs) != 1 || incs[0].DedupKey != "pd:gz-1" || incs[0].Summary != "Disk full on db1" || incs[0].Priority != "P0" {
		t.Fatalf("after the gzip trigger: %+v", incs)
	}
	resolve := `{"routing_key":"` + pdKey + `","event_action":"resolve","dedup_key":"gz-1"}`
	if r := h.do("POST", "/v2/enqueue", gzipped(t, resolve), "Content-Encoding", "x-gzip"); r.code != 202 {
		t.Fatalf("gzip resolve: %d %s", r.code, r.body)
	}
	if got := h.incident(incs[0].ID); got.Status != "resolved" {
		t.Fatalf("after the gzip resolve: %s", got.Status)
	}

	// Plain JSON under a Content-Encoding it does not have (a charset put
	// there, a proxy that decompressed and left the header) is taken, as
	// it was before pagerd undid codings.
	for _, enc := range []string{"utf-8", "gzip", "br"} {
		ev := strings.Replace(trigger, "gz-1", "plain-"+enc, 1)
		if r := h.do("POST", "/v2/enqueue", ev, "Content-Encoding", enc); r.code != 202 {
			t.Fatalf("plain JSON labelled %s: %d %s", enc, r.code, r.body)
		}
	}
	r = h.do("POST", "/v2/enqueue", "\x28\xb5\x2f\xfd"+trigger, "Content-Encoding", "br")
	if r.code != 415 || r.hdr.Get("Accept-Encoding") != "gzip" || !strings.Contains(r.body, `"status":"invalid event"`) || !strings.Contains(r.body, `br`) {
		t.Fatalf("brotli: %d %q %s", r.code, r.hdr.Get("Accept-Encoding"), r.body)
	}
	bad := gzipped(t, trigger)
	bad = bad[:len(bad)-12] // cut: its checksum and some data gone
	if r := h.do("POST", "/v2/enqueue", bad, "Content-Encoding", "gzip"); r.code != 400 || !strings.Contains(r.body, "gzip") {
		t.Fatalf("corrupt gzip: %d %s", r.code, r.body)
	}
	bomb := `{"routing_key":"` + pdKey + `","event_action":"trigger","payload":{"summary":"` + strings.Repeat("a", 600<<10) + `","source":"x","severity":"info"}}`
	z := gzipped(t, bomb)
	if len(z) > 8<<10 {
		t.Fatalf("compressed %d bytes", len(z))
	}
	if r := h.do("POST", "/v2/enqueue", z, "Content-Encoding", "gzip"); r.code != 413 {
		t.Fatalf("over 512 KB decompressed: %d %s", r.code, r.body)
	}
	if n := len(h.list("")); n != 4 {
		t.Fatalf("%d incidents, want the gzip one and the three plain ones", n)
	}
}
