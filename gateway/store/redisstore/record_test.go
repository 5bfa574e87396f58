package redisstore

import (
	"testing"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// TestParseRecordHeader checks the header split: what recordLua's build
// writes is read back field by field, and anything else is an error, never
// a panic or a silently shifted field.
func TestParseRecordHeader(t *testing.T) {
	good := "v1 7 acknowledged 1767225600000 3 2026-01-01T00:00:00.5Z 3 2\n{d}xxtl\n"
	h, err := parseRecord(good)
	if err != nil {
		t.Fatal(err)
	}
	want := header{ver: 7, repeats: 3, status: "acknowledged", next: "1767225600000", lastSeen: "2026-01-01T00:00:00.5Z",
		docLen: 3, detLen: 2, doc: "{d}", det: "xx", tl: "tl\n"}
	if h != want {
		t.Errorf("got %+v\nwant %+v", h, want)
	}
	for _, bad := range []string{
		"",
		"v1 7 triggered - 0 2026-01-01T00:00:00Z 3 2",                        // no newline
		"v2 7 triggered - 0 2026-01-01T00:00:00Z 3 2\n{d}xx",                 // another format
		"v1 7 triggered - 0 2026-01-01T00:00:00Z 3\n{d}xx",                   // a field short
		"v1 7 triggered - 0 2026-01-01T00:00:00Z 3 2 9\n{d}xx",               // one too many
		"v1 x triggered - 0 2026-01-01T00:00:00Z 3 2\n{d}xx",                 // version not a number
		"v1 7 triggered - 0 2026-01-01T00:00:00Z -1 2\n{d}xx",                // negative length
		"v1 7 triggered - 0 2026-01-01T00:00:00Z 30 2\n{d}xx",                // longer than the body
		"v1 7 triggered - 0 2026-01-01T00:00:00Z 3 2 \n{d}xx",                // trailing space
		"v1 7 triggered -  0 2026-01-01T00:00:00Z 3 2\n{d}xx",                // a field empty
		"v1 +7 triggered - 0 2026-01-01T00:00:00Z 3 2\n{d}xx",                // a sign, which %d+ does not read
		"v1 7 triggered - -1 2026-01-01T00:00:00Z 3 2\n{d}xx",                // a negative count
		"v1 1 triggered - 0 2026-01-01T00:00:00Z 9223372036854775807 1\nabc", // lengths whose sum overflows
		"v1 1 triggered - 0 2026-01-01T00:00:00Z 1 9223372036854775807\nabc",
		"v1 1 triggered - 0 2026-01-01T00:00:00Z 99999999999999999999 1\nabc", // past int64
	} {
		if _, err := parseRecord(bad); err == nil {
			t.Errorf("parseRecord(%q) took it", bad)
		}
	}
}

// TestPagingArgAllocatesNothing: every Update and Finish of an incident
// with a step pending says so to the script (pagingArg); boxed from a
// string variable, the "1" was an allocation each (42 a Get and Update of
// such an incident became 43 when the argument came in).
func TestPagingArgAllocatesNothing(t *testing.T) {
	paging := &store.Incident{State: policy.Incident{Pending: []policy.Deadline{{ID: "0001.000001.notify", Kind: policy.DeadlineNotify}}}}
	none := &store.Incident{}
	var with, without any
	if n := testing.AllocsPerRun(100, func() { with, without = pagingArg(paging), pagingArg(none) }); n != 0 {
		t.Errorf("pagingArg: %v allocations, want 0", n)
	}
	if with != "1" || without != "" {
		t.Errorf("pagingArg: %q with a step pending, %q without, want 1 and nothing", with, without)
	}
}
