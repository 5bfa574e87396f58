package dispatch

import (
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// TestSupersededKeepsAMoreUrgentPage: a P2 opened in business hours paged
// ann on high urgency (a push that breaks through Do Not Disturb and
// repeats until acknowledged, on Pushover and ntfy); the store was away
// past 18:00, when the ladder came back round to her on low urgency (a
// quiet push). Both came due in one claim. The quiet push must not stand
// for the urgent one: she would be owed a page that wakes her and get one
// that does not. A later step at least as urgent does stand for an
// earlier one, as before.
func TestSupersededKeepsAMoreUrgentPage(t *testing.T) {
	t0 := time.Date(2025, 10, 6, 17, 50, 0, 0, time.UTC)
	act := func(at time.Time, urgency string) policy.Action {
		return policy.Action{Kind: policy.ActionNotify, At: at, User: "ann", Channel: "push", Urgency: urgency}
	}
	for _, c := range []struct {
		name          string
		early, late   string
		wantEarlyKept bool
		wantSkipped   int
	}{
		{"high then low", policy.UrgencyHigh, policy.UrgencyLow, true, 0},
		{"unknown then low", "", policy.UrgencyLow, true, 0},
		{"low then high", policy.UrgencyLow, policy.UrgencyHigh, false, 1},
		{"high then high", policy.UrgencyHigh, policy.UrgencyHigh, false, 1},
		{"low then low", policy.UrgencyLow, policy.UrgencyLow, false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			early, late := act(t0, c.early), act(t0.Add(30*time.Minute), c.late)
			pages := []duePage{{a: early, key: "early"}, {a: late, key: "late"}}
			order := []string{"early", "late"}
			got, gotOrder, skipped, _ := superseded(pages, order, []policy.Action{early, late}, t0.Add(time.Hour))
			kept := false
			for _, p := range got {
				if p.key == "early" {
					kept = true
				}
			}
			if kept != c.wantEarlyKept || len(skipped) != c.wantSkipped {
				t.Errorf("early page kept %v, %d skipped; want kept %v, %d skipped", kept, len(skipped), c.wantEarlyKept, c.wantSkipped)
			}
			if len(gotOrder) != len(got) {
				t.Errorf("order %v for pages %d", gotOrder, len(got))
			}
		})
	}
}
