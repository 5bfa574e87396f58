package dispatch

import (
	"slices"
	"testing"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// TestMergedAlertsOverWhereverNoted: an alert's merge into a PagerDuty
// incident is over once the timeline notes that incident resolved
// (MergeOverNote), before or after the merge's own note: PagerDuty merges
// nothing into a resolved incident, and the merge's note comes after only
// when it was refused and written at the webhook's redelivery, the merge
// over noted meanwhile. Read in order, that alert's key stayed marked
// merged for good, and pagerd's acknowledgements never reached the
// PagerDuty incident its next page opened. A merge into another incident
// stays, and so does one whose note names no incident.
func TestMergedAlertsOverWhereverNoted(t *testing.T) {
	key := pagerduty.DedupKey("01incident", "carol", 0)
	merged := func(into string) store.Entry {
		return store.Entry{Type: "resolve_ignored", Detail: pagerduty.MergedNote(key, "PF9KMXH (API Service)", into, "no agent", "not applied")}
	}
	over := func(into string) store.Entry {
		return store.Entry{Type: "resolve_ignored", Detail: pagerduty.MergeOverNote(key, into, into, "API Service")}
	}
	for _, tc := range []struct {
		name string
		tl   []store.Entry
		want []string
	}{
		{"merged, then over", []store.Entry{merged("Q1 ([#1] x)"), over("Q1")}, nil},
		{"over noted first", []store.Entry{over("Q1"), merged("Q1 ([#1] x)")}, nil},
		{"over for another incident", []store.Entry{over("Q2"), merged("Q1 ([#1] x)")}, []string{"PF9KMXH"}},
		{"a note naming no incident", []store.Entry{over("Q1"), merged("another incident")}, []string{"PF9KMXH"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mergedAlerts(tc.tl)[key]; !slices.Equal(got, tc.want) {
				t.Fatalf("merges of %s: %q, want %q", key, got, tc.want)
			}
		})
	}
}
