package gateway

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify/pagerduty"
)

// TestPagerDutyMergesKept: which of pagerd's alerts PagerDuty merged into
// which of its incidents is kept in the store, the same on both stores:
// a merge of an incident that holds merged alerts carries them on, a
// merge delivered again adds nothing, Resolved drops the incident's record
// (and a merge into it delivered after its resolve is over at once; one
// delivered after a person's acknowledgement of it is told of it),
// and a record goes by itself pagerDutyMergeKeep after its last merge,
// or, at the next merge, once every pagerd incident in it is resolved.
// Another kind of document (an older replica's) is left alone.
func TestPagerDutyMergesKept(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(t)
			ctx := context.Background()
			now := fixedNow
			m := newPagerDutyMerges(st, func() time.Time { return now }, nil)
			h := newHarness(t, withStore(st), withConfig(pdConfig))
			x, y := fire(h), fireLabels(h, "gy", map[string]string{"alertname": "Y", "severity": "critical"})
			ax := pagerduty.Moved{Key: pagerduty.DedupKey(x, "carol", 0), Into: "Q1"}
			ay := pagerduty.Moved{Key: pagerduty.DedupKey(y, "carol", 1), Into: "Q9"}
			moved := func(pd string) []pagerduty.Moved {
				t.Helper()
				got, err := m.Moved(ctx, pd)
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			merge := func(from, into string, a pagerduty.Moved) {
				t.Helper()
				got, err := m.Merge(ctx, from, into, time.Time{}, a)
				must(err)
				if got.Resolved {
					t.Fatalf("merge of %s into %s, never resolved, over at once: %+v", from, into, got)
				}
			}
			if got := moved("Q1"); len(got) != 0 {
				t.Fatalf("kept before any merge: %v", got)
			}
			merge("Q2", "Q1", ax)
			merge("Q2", "Q1", ax) // delivered again
			merge("Q5", "Q1", pagerduty.Moved{})
			if got := moved("Q1"); !slices.Equal(got, []pagerduty.Moved{ax}) {
				t.Fatalf("Q1 holds %v, want %v", got, ax)
			}
			merge("Q8", "Q9", ay)
			merge("Q1", "Q9", pagerduty.Moved{}) // Q1 merged in turn: its alerts go with it
			if got := moved("Q9"); !slices.Equal(got, []pagerduty.Moved{ay, ax}) || len(moved("Q1")) != 0 {
				t.Fatalf("after Q1 was merged into Q9: Q9 holds %v, Q1 %v", got, moved("Q1"))
			}
			// Resolved only once all it drops is noted over: what was
			// not (merged into Q9 since its alerts were read) is
			// returned, and nothing written.
			if left, err := m.Resolved(ctx, "Q9", "Carol", []pagerduty.Moved{ay}); err != nil || !slices.Equal(left, []pagerduty.Moved{ax}) ||
				!slices.Equal(moved("Q9"), []pagerduty.Moved{ay, ax}) {
				t.Fatalf("Q9 resolved with only %v noted: %v left (%v), Q9 holds %v; want %v left, nothing written", ay, left, err, moved("Q9"), ax)
			}
			if left, err := m.Resolved(ctx, "Q9", "Carol", []pagerduty.Moved{ay, ax}); err != nil || len(left) != 0 {
				t.Fatalf("Q9 resolved with all noted: %v left (%v)", left, err)
			}
			if got := moved("Q9"); len(got) != 0 {
				t.Fatalf("Q9 forgotten still holds %v", got)
			}
			got, err := m.Merge(ctx, "Q4", "Q9", time.Time{}, ax) // its webhook delivered after Q9's resolve
			if err != nil || !got.Resolved || !slices.Equal(got.Moved, []pagerduty.Moved{ax}) || got.ResolvedBy != "Carol" || len(moved("Q9")) != 0 {
				t.Fatalf("merge into Q9 delivered after its resolve: %+v (%v), Q9 holds %v; want %v over, by Carol, nothing kept",
					got, err, moved("Q9"), ax)
			}
			if _, err := st.PutDocs(ctx, "other", 0, map[string][]byte{"k": []byte("v")}, nil); err != nil {
				t.Fatal(err)
			}
			merge("Q12", "Q11", ax)
			now = now.Add(pagerDutyMergeKeep + time.Second)
			if got := moved("Q11"); len(got) != 0 {
				t.Fatalf("kept past pagerDutyMergeKeep: %v", got)
			}
			now = fixedNow
			merge("Q14", "Q13", ax)
			carolActs(t, h, x)("resolve")
			merge("Q15", "Q7", ay)
			if got := moved("Q13"); len(got) != 0 {
				t.Fatalf("kept once its incident was resolved: %v", got)
			}
			raw, _, err := st.ListDocs(ctx, pagerDutyMergesKind)
			var holding []string
			for k, v := range raw {
				var d pagerDutyMerged
				// Merged away (what it carried on) or resolved (what it
				// held, for a late acknowledgement): kept
				// pagerDutyResolvedKeep.
				if json.Unmarshal(v, &d) == nil && len(d.Alerts) > 0 && d.MergedInto == "" && !d.Resolved {
					holding = append(holding, k)
				}
			}
			if err != nil || !slices.Equal(holding, []string{"Q7"}) || !strings.Contains(string(raw["Q9"]), `"resolved":true`) {
				t.Fatalf("documents holding alerts: %v (%v), want Q7's alone, and Q9's resolve kept", holding, err)
			}
			// A merge whose webhook comes after the merge of the
			// incident it went into (Q7 into Q16) goes on there.
			merge("Q7", "Q16", pagerduty.Moved{})
			merge("Q17", "Q7", ax)
			if got := moved("Q16"); !slices.Equal(got, []pagerduty.Moved{ay, ax}) || len(moved("Q7")) != 0 {
				t.Fatalf("merge into Q7 delivered after Q7's into Q16: Q16 holds %v, Q7 %v", got, moved("Q7"))
			}
			if other, _, err := st.ListDocs(ctx, "other"); err != nil || string(other["k"]) != "v" {
				t.Fatalf("another kind's document: %q (%v)", other, err)
			}
			// A person's acknowledgement delivered before a merge into
			// the incident: kept (the latest), and told to the merge.
			at := fixedNow.Add(time.Minute)
			_, err = m.Acknowledged(ctx, "Q3", "Carol", at)
			must(err)
			_, err = m.Acknowledged(ctx, "Q3", "Bob", at.Add(-time.Second)) // an older one, delivered late
			must(err)
			merge("Q18", "Q19", ay) // another write: Q3's acknowledgement alone stays
			got, err = m.Merge(ctx, "Q6", "Q3", fixedNow, ay)
			if err != nil || got.Resolved || !got.AckedAt.Equal(at) || got.AckedBy != "Carol" || !got.Arrived.Equal(fixedNow) || got.Into != "Q3" ||
				!slices.Equal(got.Moved, []pagerduty.Moved{ay}) {
				t.Fatalf("merge into Q3 delivered after Carol's acknowledgement of it: %+v (%v)", got, err)
			}
			// A resolve is kept pagerDutyResolvedKeep, no longer: every
			// webhook reads them all.
			_, err = m.Resolved(ctx, "Q20", "Carol", nil)
			must(err)
			now = fixedNow.Add(pagerDutyResolvedKeep + time.Second)
			if got, err = m.Merge(ctx, "Q21", "Q20", time.Time{}, ax); err != nil || got.Resolved {
				t.Fatalf("merge into Q20 %v after its resolve: %+v (%v), want the resolve gone", pagerDutyResolvedKeep+time.Second, got, err)
			}
		})
	}
}

// TestPagerDutyMergesFollowedToTheEnd: PagerDuty merges its incidents
// Q1 into Q2, Q2 into Q3, ... Q12 into Q13, and the webhooks come last
// made first (each answered 5xx and delivered again later, or PagerDuty's
// own order): x's alert, Q1's, is kept in Q13, which holds it. Before,
// a merge followed ten merges away at most and left x's alert in Q12,
// merged away, whose merge it took off: an acknowledgement of Q13
// acknowledged nothing of x's, and Q12's record read as open. On both
// stores.
func TestPagerDutyMergesFollowedToTheEnd(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(t)
			ctx := context.Background()
			m := newPagerDutyMerges(st, func() time.Time { return fixedNow }, nil)
			h := newHarness(t, withStore(st), withConfig(pdConfig))
			x := fire(h)
			ax := pagerduty.Moved{Key: pagerduty.DedupKey(x, "carol", 0), Into: "Q2"}
			q := func(i int) string { return "Q" + strconv.Itoa(i) }
			for i := 12; i >= 1; i-- {
				a := pagerduty.Moved{}
				if i == 1 {
					a = ax
				}
				got, err := m.Merge(ctx, q(i), q(i+1), fixedNow.Add(time.Duration(i)*time.Second), a)
				if err != nil {
					t.Fatal(err)
				}
				if i == 1 && got.Into != "Q13" {
					t.Fatalf("Q1's merge went into %s, want Q13", got.Into)
				}
			}
			if got, err := m.Acknowledged(ctx, "Q13", "Carol", fixedNow.Add(time.Minute)); err != nil || !slices.Equal(got, []pagerduty.Moved{ax}) {
				t.Fatalf("Q13, acknowledged after every merge, covers %v (%v), want %v", got, err, ax)
			}
			if got, err := m.Moved(ctx, "Q12"); err != nil || len(got) != 0 {
				t.Fatalf("Q12, merged into Q13, holds %v (%v)", got, err)
			}
		})
	}
}
