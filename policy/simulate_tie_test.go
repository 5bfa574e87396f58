package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSimulatePersonAtTheTargetIsInTime: the seeds' targets are "within":
// AIVO's P0 "acknowledgment 5 minutes", "15 minutes per level" and
// "resolution target 1 hour". An acknowledgement or a resolve at exactly
// the target is within it, as a status update at exactly a
// missing_status_update rule's `after` is, as reports count it (kept when
// not after the due time), and as the daemon does it (its dispatcher never
// fires a deadline before it is due, so a person acting at that instant
// comes first). So simulate applies a person's acknowledgement or resolve
// before a deadline due at the same instant: no acknowledge breach and no
// call at 5m, no secondary paged at 15m, no leadership, CTO or resolution
// breach at 1h.
func TestSimulatePersonAtTheTargetIsInTime(t *testing.T) {
	// Week of Sep 8: Jennifer primary, Marcus secondary.
	at := time.Date(2025, 9, 10, 14, 0, 0, 0, time.UTC)
	p0 := map[string]string{"alertname": "Down", "severity": "critical"}
	for _, tc := range []struct {
		name   string
		opts   SimOptions
		absent []string // "offset type detail-or-user" that must not be in the timeline
	}{
		{"acknowledged at 5m", SimOptions{At: at, For: time.Hour, AckAfter: 5 * time.Minute, Labels: p0},
			[]string{"5m sla_breach acknowledge", "5m notify jennifer"}},
		{"acknowledged at 15m by the primary", SimOptions{At: at, For: time.Hour, AckAfter: 15 * time.Minute, AckBy: "jennifer", Labels: p0},
			[]string{"15m escalate ", "15m notify marcus"}},
		{"resolved at 1h", SimOptions{At: at, For: 2 * time.Hour, AckAfter: 3 * time.Minute, ResolveAfter: time.Hour, Labels: p0},
			[]string{"1h sla_breach resolution", "1h escalate ", "1h notify sarah", "1h notify david"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := simulateExample(t, "aivo.yaml", tc.opts)
			var lines []string
			for _, e := range res.Events {
				what := e.Detail
				if e.Type == "notify" {
					what = e.User
				}
				lines = append(lines, fmt.Sprintf("%s %s %s", Duration(time.Duration(e.OffsetSeconds)*time.Second), e.Type, what))
			}
			all := strings.Join(lines, "\n")
			for _, a := range tc.absent {
				for _, l := range lines {
					if strings.HasPrefix(l, a) {
						t.Errorf("%q in the timeline:\n%s", l, all)
					}
				}
			}
			var acked, resolved bool
			for _, e := range res.Events {
				acked = acked || e.Type == "ack"
				resolved = resolved || e.Type == "resolve"
			}
			if !acked || (tc.opts.ResolveAfter > 0 && !resolved) {
				t.Errorf("acknowledged %v, resolved %v:\n%s", acked, resolved, all)
			}
		})
	}
}
