package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify"
)

// TestStormPageSentBackThenEscalatedPastNoLongerCountsAsSent: storm
// bundling with a 5-minute window, two pages at once, and a push provider
// that takes one page every 20 s; the first level escalates after 10 s to
// a level that pages ann again. At 0s ann's pushes for A and B are let out
// at once; A's goes, B's is sent back to its turn (20s). A is
// acknowledged. At 10s B escalates: the new level's ladder for ann
// replaces her level-1 push, which never goes out. ann has had one P0
// push, so B's level-2 push to her is let out at once, and goes at its
// turn at the rate limit (40s or 1m, with bob's), not held for the
// window's message. (The escalation, which the dispatcher fires, took the step out
// without taking its page back from the window: B's level-2 push was
// held to the window's end.)
func TestStormPageSentBackThenEscalatedPastNoLongerCountsAsSent(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cfg := strings.Replace(testConfig,
				"      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}\n      - {name: secondary, targets: [{schedule: s, tier: secondary}]}",
				"      - {name: primary, targets: [{user: ann}], timeout: 10s}\n      - {name: secondary, targets: [{user: ann}, {user: bob}]}", 1)
			if cfg == testConfig {
				t.Fatal("the test's config did not change: the test does not test what it says")
			}
			rec := &recorder{}
			var h *harness
			chain := daemonChain(rec, func(o *notify.ChainOptions) {
				o.PerSecond, o.Burst = 0.05, 1
				o.Now = func() time.Time { return h.clock.Now() }
			})
			h = newHarness(t, withStore(open(t)), withNotifier("log", chain),
				withConfig(cfg+"notifiers:\n  storm: {window: 5m, immediate: 2}\n"))
			a := fireAt(h, "A", "critical", fixedNow)
			b := fireAt(h, "B", "critical", fixedNow)
			if pushEntries(h, a) != "notify@0s" || pushEntries(h, b) != "" {
				t.Fatalf("pushes A %q, B %q; want A's sent at 0s and B's sent back: the test does not test what it says", pushEntries(h, a), pushEntries(h, b))
			}
			h.clock.Set(fixedNow.Add(5 * time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+a+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(90 * time.Second))
			var ann []string
			for _, e := range timeline(h, b) {
				if e.Channel == "push" && e.User == "ann" {
					ann = append(ann, fmt.Sprintf("%s@%s", e.Type, e.At.Sub(fixedNow)))
				}
			}
			if got := strings.Join(ann, ","); got != "notify@40s" && got != "notify@1m0s" {
				t.Fatalf("B's pushes to ann: %v; want its level-2 push let out at once and sent at its turn at the rate limit (40s or 1m, with bob's), not held behind a level-1 push that never went out", got)
			}
		})
	}
}
