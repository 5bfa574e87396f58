package gateway

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
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

// TestStormPageEscalatedPastWhileAcknowledgedIsTakenBackOnce: as above,
// with the rate limit the provider's own (it sends back B's level-1 push
// at 0s, to 20s), and ann acknowledging B as B's level-2 push reaches her
// at 10s, before the dispatcher records it. The level-1 push, which never
// went out, is taken back from the window once: ann has had two P0 pushes
// in it (A's and B's level-2), so C, a P0 at 60s, is held for the
// window's message. (The dispatcher took it back before its write, and
// the acknowledgement, which took the step out of the incident as stored,
// took it back again: the window counted one push, and C went out on its
// own.)
func TestStormPageEscalatedPastWhileAcknowledgedIsTakenBackOnce(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cfg := strings.Replace(testConfig,
				"      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}\n      - {name: secondary, targets: [{schedule: s, tier: secondary}]}",
				"      - {name: primary, targets: [{user: ann}], timeout: 10s}\n      - {name: secondary, targets: [{user: ann}]}", 1)
			if cfg == testConfig {
				t.Fatal("the test's config did not change: the test does not test what it says")
			}
			var h *harness
			var b string
			var ack response
			var acked sync.Once
			rec := &recorder{fail: func(m notify.Message) error {
				if m.Incident != b || m.Channel != "push" {
					return nil
				}
				if m.Level == 1 {
					return notify.OverRateLimit(20*time.Second, "push provider: 429")
				}
				acked.Do(func() { ack = h.api("POST", "/api/v1/incidents/"+b+"/acknowledge", `{"user":"ann"}`) })
				return nil
			}}
			h = newHarness(t, withStore(open(t)), withNotifier("log", rec),
				withConfig(cfg+"notifiers:\n  storm: {window: 5m, immediate: 2}\n"))
			a := fireAt(h, "A", "critical", fixedNow)
			h.clock.Set(fixedNow)
			r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "gB", map[string]string{"alertname": "B", "severity": "critical"}),
				"Authorization", "Bearer "+amKey)
			var res struct{ Incidents []string }
			r.json(t, &res)
			b = res.Incidents[0]
			h.step(fixedNow)
			if pushEntries(h, a) != "notify@0s" || pushEntries(h, b) != "" {
				t.Fatalf("pushes A %q, B %q; want A's sent at 0s and B's sent back: the test does not test what it says", pushEntries(h, a), pushEntries(h, b))
			}
			h.clock.Set(fixedNow.Add(5 * time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+a+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("ack A: %d %s", r.code, r.body)
			}
			h.step(fixedNow.Add(10 * time.Second))
			if ack.code != 200 || pushEntries(h, b) != "notify@10s" {
				t.Fatalf("ack of B as its level-2 push went out: %d %s; B's pushes %q, want notify@10s: the test does not test what it says", ack.code, ack.body, pushEntries(h, b))
			}
			c := fireAt(h, "C", "critical", fixedNow.Add(time.Minute))
			if got := pushEntries(h, c); got != "notify_held@1m0s" {
				t.Fatalf("C's push: %v; want it held for the window's message (notify_held@1m0s): ann had two P0 pushes in the window", got)
			}
		})
	}
}

// TestStormPageSentBackThenConflictedAndEscalatedIsCountedOnce: storm
// bundling with a 5-minute window and one page at once; B's first level
// (ann, the default ladder: push, SMS at 2m) escalates at 2m10s to a
// level that pages ann again. The provider sends B's level-1 push back at
// 0s (stored as counted in its window, due again later) and B's level-1
// SMS back at 2m, once. The claim at 2m lets the SMS out (counted in
// ann's SMS window) and it is sent back; ann posts a status update at
// 2m10s before the dispatcher records that, so its write conflicts. Worked
// again at 2m10s, the claim fires the SMS again (keeping what the storm
// said) and the escalation, which takes the counted push out: it takes
// that push back by a write of its own, and works the incident a third
// time. The SMS, counted once, goes out at 2m10s, and so does the new
// level's push. (The third try had lost what the storm said of the SMS
// when the second stopped short of its pages: it asked the storm again,
// which counted it a second time and held it for the window's message,
// to 7m.)
func TestStormPageSentBackThenConflictedAndEscalatedIsCountedOnce(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cfg := strings.Replace(testConfig,
				"      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}\n      - {name: secondary, targets: [{schedule: s, tier: secondary}]}",
				"      - {name: primary, targets: [{user: ann}], timeout: 2m10s}\n      - {name: secondary, targets: [{user: ann}]}", 1)
			if cfg == testConfig {
				t.Fatal("the test's config did not change: the test does not test what it says")
			}
			var h *harness
			var b string
			var smsSentBack atomic.Bool
			rec := &recorder{fail: func(m notify.Message) error {
				switch {
				case m.Incident != b || m.Level != 1:
				case m.Channel == "push":
					return notify.OverRateLimit(3*time.Minute, "push provider: 429")
				case m.Channel == "sms" && smsSentBack.CompareAndSwap(false, true):
					return notify.OverRateLimit(20*time.Second, "sms provider: 429")
				}
				return nil
			}}
			bf := &beforeFinish{Store: open(t)}
			var upd response
			bf.fn = func() {
				h.clock.Set(fixedNow.Add(2*time.Minute + 10*time.Second))
				upd = h.api("POST", "/api/v1/incidents/"+b+"/status", `{"user":"ann","message":"looking"}`)
			}
			h = newHarness(t, withStore(bf), withNotifier("log", rec),
				withConfig(cfg+"notifiers:\n  storm: {window: 5m, immediate: 1}\n"))
			h.clock.Set(fixedNow)
			r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "gB", map[string]string{"alertname": "B", "severity": "critical"}),
				"Authorization", "Bearer "+amKey)
			var res struct{ Incidents []string }
			r.json(t, &res)
			b = res.Incidents[0]
			h.step(fixedNow)
			if got := pushEntries(h, b); got != "" {
				t.Fatalf("B's pushes %q; want its level-1 push sent back at 0s: the test does not test what it says", got)
			}
			bf.armed.Store(true)
			h.step(fixedNow.Add(2 * time.Minute))
			if upd.code != 200 || !smsSentBack.Load() || pushEntries(h, b) != "notify@2m10s" {
				t.Fatalf("status update %d %s; SMS sent back %v; B's pushes %q, want an update as the SMS's step was recorded and the new level's push sent at 2m10s: the test does not test what it says",
					upd.code, upd.body, smsSentBack.Load(), pushEntries(h, b))
			}
			var sms []string
			for _, e := range timeline(h, b) {
				if e.Channel == "sms" {
					sms = append(sms, fmt.Sprintf("%s@%s", e.Type, e.At.Sub(fixedNow)))
				}
			}
			if got := strings.Join(sms, ","); got != "notify@2m10s" {
				t.Fatalf("B's SMS: %v; want it sent at 2m10s (notify@2m10s), counted once in its window, not held for the window's message", got)
			}
		})
	}
}
