package pagerduty_test

import (
	"testing"

	"github.com/pagerd/pagerd/notify/pagerduty"
)

// TestMergeNotesReadBack: the dispatcher reads back from the timeline the
// PagerDuty incident a merge went into (MergedInto) and the end of that
// merge (MergeOver), which names the same incident, whatever resolved
// the one the alert was in then; no other note reads as either.
func TestMergeNotesReadBack(t *testing.T) {
	key := pagerduty.DedupKey("07-06ck4dd3022btv2v", "carol", 2)
	for _, tc := range []struct{ note, into string }{
		{pagerduty.MergedNote(key, "PF9KMXH (API Service)", "Q7 ([#7] database latency)", "Carol", "rest"), "Q7"},
		{pagerduty.MergedNote(key, "", "Q7", `service_reference "API Service"`, "rest"), "Q7"},
		{pagerduty.MergedNote(key, "", "another incident", "Carol", "rest"), ""},
		{"resolved in PagerDuty (incident Q1) by no agent", ""},
	} {
		if got := pagerduty.MergedInto(tc.note); got != tc.into {
			t.Errorf("MergedInto(%q) = %q, want %q", tc.note, got, tc.into)
		}
	}
	for _, resolved := range []string{"Q7", "Q9"} {
		note := pagerduty.MergeOverNote(key, "Q7", resolved, "")
		if k, into, ok := pagerduty.MergeOver(note); !ok || k != key || into != "Q7" {
			t.Errorf("MergeOver(%q) = %q, %q, %v", note, k, into, ok)
		}
		if _, _, ok := pagerduty.MergedAlert(note); ok {
			t.Errorf("the end of a merge reads as a merge: %q", note)
		}
	}
	if _, _, ok := pagerduty.MergeOver(pagerduty.MergedNote(key, "", "Q7", "Carol", "rest")); ok {
		t.Errorf("a merge reads as its end")
	}
}
