package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// TestUnresolvedRuleLeavesTheAcknowledgerAlone: ann missed the P0, bob
// (the secondary) acknowledged it at 16 minutes. At 1 hour the unresolved
// rule, which names only the secondary, finds it in bob's hands: the
// daemon pages nobody, the incident stays acknowledged, and the stored
// timeline says why.
func TestUnresolvedRuleLeavesTheAcknowledgerAlone(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(unresolvedConfig))
			id := fire(h)
			h.runUntil(fixedNow.Add(16 * time.Minute))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"bob"}`); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(90 * time.Minute))
			want := []string{"0s L1 ann push", "2m L1 ann sms", "5m L1 ann voice", "15m L2 bob push"}
			if got := h.rec.lines(fixedNow); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("pages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if !h.timelineHas(id, string(policy.ActionAlreadyAcknowledged), "unresolved after 1h: bob acknowledged the incident") {
				t.Fatalf("the rule's skip is not in the timeline: %+v", timeline(h, id))
			}
			if st := h.incident(id).Status; st != policy.StatusAcknowledged {
				t.Fatalf("incident %s after the rule, want still acknowledged", st)
			}
		})
	}
}
