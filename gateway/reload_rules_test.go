package gateway

import (
	"strings"
	"testing"
	"time"
)

// rulesConfig is testConfig without service batch (of another scheme),
// with cat among the users, a P0 rule that pages bob when the incident is
// still open after 1h, and a P0 rule that escalates it when no status
// update came for 30m.
var rulesConfig = strings.Replace(strings.Replace(withoutBatch,
	"  - {id: bob, ",
	"  - {id: cat, name: Cat, contacts: [{channel: push, via: log}]}\n  - {id: bob, ", 1),
	"      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n",
	"      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n"+
		"    unresolved:\n"+
		"      - {priorities: [P0], after: 1h, notify: [{user: bob}]}\n"+
		"    missing_status_update:\n"+
		"      - {priorities: [P0], after: 30m}\n", 1)

// TestReloadMovingUnresolvedRulesPagesTheRuleArmed: ann acknowledges a P0
// at 1m, so at 1h its unresolved rule pages bob. A reload at 10m adds a
// rule for P3 above it (cat after 1h), or takes one for P1 out from above
// it. The armed rule was kept by its place in the list: added above, the
// P3 rule fired at 1h for the P0 and paged cat, not bob; taken out from
// above, nothing was left at its place and nobody was paged. Now the rule
// armed is found where the reload put it.
func TestReloadMovingUnresolvedRulesPagesTheRuleArmed(t *testing.T) {
	p1Above := strings.Replace(rulesConfig, "    unresolved:\n",
		"    unresolved:\n      - {priorities: [P1], after: 1h, notify: [{user: cat}]}\n", 1)
	p3Above := strings.Replace(rulesConfig, "    unresolved:\n",
		"    unresolved:\n      - {priorities: [P3], after: 1h, notify: [{user: cat}]}\n", 1)
	for _, tc := range []struct{ name, before, after string }{
		{"a rule added above", rulesConfig, p3Above},
		{"a rule taken out from above", p1Above, rulesConfig},
	} {
		for name, open := range stores(t) {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				h := newHarness(t, withStore(open(t)), withConfig(tc.before))
				id := fire(h)
				h.runUntil(fixedNow.Add(time.Minute))
				if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
					t.Fatalf("ack: %d %s", r.code, r.body)
				}
				// A status update every 20m keeps the other rule quiet.
				for _, at := range []time.Duration{10, 30, 50} {
					h.runUntil(fixedNow.Add(at * time.Minute))
					if at == 10 {
						if err := h.reload(tc.after); err != nil {
							t.Fatalf("reload: %v", err)
						}
					}
					if r := h.api("POST", "/api/v1/incidents/"+id+"/status", `{"user":"ann","message":"working on it"}`); r.code != 200 {
						t.Fatalf("status: %d %s", r.code, r.body)
					}
				}
				h.runUntil(fixedNow.Add(61 * time.Minute))
				want := "0s L1 ann push,1h L1 bob push"
				if got := strings.Join(h.rec.lines(fixedNow), ","); got != want {
					t.Fatalf("pages %s, want %s", got, want)
				}
			})
		}
	}
}

// TestReloadTakingOutAStatusRuleAboveStillEscalates: ann acknowledges a
// P0 at 1m and posts no status update, so at 31m its missing-status-update
// rule escalates it to bob. A reload at 10m takes a rule for P1 out from
// above it. The armed rule was kept by its place in the list, where
// nothing was left: the incident never escalated. Now it is found where
// the reload put it.
func TestReloadTakingOutAStatusRuleAboveStillEscalates(t *testing.T) {
	p1Above := strings.Replace(rulesConfig, "    missing_status_update:\n",
		"    missing_status_update:\n      - {priorities: [P1], after: 20m}\n", 1)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(p1Above))
			id := fire(h)
			h.runUntil(fixedNow.Add(time.Minute))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(10 * time.Minute))
			if err := h.reload(rulesConfig); err != nil {
				t.Fatalf("reload: %v", err)
			}
			h.runUntil(fixedNow.Add(32 * time.Minute))
			want := "0s L1 ann push,31m L2 bob push"
			if got := strings.Join(h.rec.lines(fixedNow), ","); got != want {
				t.Fatalf("pages %s, want %s", got, want)
			}
		})
	}
}

// TestReloadTakingOutAnEarlierRulePagesNobodyEarly: ann acknowledges a P0
// at 1m; its rules page cat when it is still open after 30m and bob after
// 1h. A reload at 10m takes the 30m rule out, which moves bob's rule to
// its place in the list. The 30m step found bob's rule there, as if the
// 30m rule had been edited in place into it: bob was paged at 30m, half an
// hour early, and again at 1h by the rule's own step. A rule that has a
// step of its own is not another step's rule edited in place: the rule
// taken out pages nobody, and bob is paged once, at 1h.
func TestReloadTakingOutAnEarlierRulePagesNobodyEarly(t *testing.T) {
	twoRules := strings.Replace(rulesConfig, "    unresolved:\n",
		"    unresolved:\n      - {priorities: [P0], after: 30m, notify: [{user: cat}]}\n", 1)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(twoRules))
			id := fire(h)
			h.runUntil(fixedNow.Add(time.Minute))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			// A status update every 20m keeps the other rule quiet.
			for _, at := range []time.Duration{10, 30, 50} {
				h.runUntil(fixedNow.Add(at * time.Minute))
				if at == 10 {
					if err := h.reload(rulesConfig); err != nil {
						t.Fatalf("reload: %v", err)
					}
				}
				if r := h.api("POST", "/api/v1/incidents/"+id+"/status", `{"user":"ann","message":"working on it"}`); r.code != 200 {
					t.Fatalf("status: %d %s", r.code, r.body)
				}
			}
			h.runUntil(fixedNow.Add(61 * time.Minute))
			want := "0s L1 ann push,1h L1 bob push"
			if got := strings.Join(h.rec.lines(fixedNow), ","); got != want {
				t.Fatalf("pages %s, want %s", got, want)
			}
		})
	}
}
