package gateway

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
)

// TestStormPageSentBackThenFailedNoLongerCountsAsSent: storm bundling
// with a 5-minute window, two pages at once, and a push provider that
// takes one page every 20 s. At 0s ann's pushes for A and B are let out
// at once; one goes, the other is sent back by the rate limit to its turn
// (20s), where the provider refuses it. At 60s C, a P0, comes: ann had
// one P0 push (A), not two, so C's push goes out at once, as after a page
// that failed on its first try. (The page sent back was counted sent
// when it was let out and never taken back: C was held to the window's
// end, 5m.)
func TestStormPageSentBackThenFailedNoLongerCountsAsSent(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			var refused atomic.Int32
			h := throttledStorm(t, open(t), 2, func(m notify.Message) error {
				if m.Channel == "push" && !m.At.Before(fixedNow.Add(20*time.Second)) && refused.Add(1) == 1 {
					return errors.New("push provider: 400 device token is not registered")
				}
				return nil
			})
			fireAt(h, "A", "critical", fixedNow)
			fireAt(h, "B", "critical", fixedNow)
			h.runUntil(fixedNow.Add(59 * time.Second))
			if n := refused.Load(); n != 1 {
				t.Fatalf("%d pushes refused at their turn, want 1: the test does not test what it says", n)
			}
			c := fireAt(h, "C", "critical", fixedNow.Add(time.Minute))
			if got := pushEntries(h, c); got != "notify@1m0s" {
				t.Fatalf("C's push: %v; want it sent at once (notify@1m0s), not held behind a page that never went out", got)
			}
		})
	}
}

// TestStormPageSentBackAndHeldNoLongerCountsAsSent: storm bundling with a
// 5-minute window, one page at once, and a push provider that takes one
// page every 20 s. ann's P2 push for A goes at 0s and B's is held; C, a
// P0, is let out at once at 5s, more urgent than anything sent, and sent
// back by the rate limit: it is held for the storm's message instead. At
// 60s D, a P0, comes: ann has had no P0 push, so D's goes out at once.
// (C, held, still counted as a P0 sent: D was held to the window's end.)
func TestStormPageSentBackAndHeldNoLongerCountsAsSent(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := throttledStorm(t, open(t), 1, nil)
			fireAt(h, "A", "warning", fixedNow)
			fireAt(h, "B", "warning", fixedNow)
			c := fireAt(h, "C", "critical", fixedNow.Add(5*time.Second))
			if got := pushEntries(h, c); !strings.HasPrefix(got, "notify_held@5s") {
				t.Fatalf("C's push: %v; want it held for the message after the rate limit sent it back: the test does not test what it says", got)
			}
			d := fireAt(h, "D", "critical", fixedNow.Add(time.Minute))
			if got := pushEntries(h, d); got != "notify@1m0s" {
				t.Fatalf("D's push: %v; want it sent at once (notify@1m0s), not held behind a page that never went out", got)
			}
		})
	}
}

// throttledStorm is a daemon on st whose storm window is 5 minutes with
// immediate pages at once, its transports one recorder (failing as fail
// says) behind the daemon's chain with a rate limit of one page every
// 20 s on the test's clock.
func throttledStorm(t *testing.T, st store.Store, immediate int, fail func(notify.Message) error) *harness {
	t.Helper()
	rec := &recorder{fail: fail}
	var h *harness
	chain := daemonChain(rec, func(o *notify.ChainOptions) {
		o.PerSecond, o.Burst = 0.05, 1
		o.Now = func() time.Time { return h.clock.Now() }
	})
	h = newHarness(t, withStore(st), withNotifier("log", chain),
		withConfig(testConfig+fmt.Sprintf("notifiers:\n  storm: {window: 5m, immediate: %d}\n", immediate)))
	return h
}

// fireAt moves the clock to at, posts alert name of severity sev in a
// group of its own, lets the dispatcher work, and returns the incident.
func fireAt(h *harness, name, sev string, at time.Time) string {
	h.t.Helper()
	h.clock.Set(at)
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g"+name, map[string]string{"alertname": name, "severity": sev}),
		"Authorization", "Bearer "+amKey)
	if r.code != 200 {
		h.t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	var res struct{ Incidents []string }
	r.json(h.t, &res)
	h.step(at)
	return res.Incidents[0]
}

// pushEntries lists an incident's push entries as "type@offset".
func pushEntries(h *harness, id string) string {
	var got []string
	for _, e := range timeline(h, id) {
		if e.Channel == "push" {
			got = append(got, fmt.Sprintf("%s@%s", e.Type, e.At.Sub(fixedNow)))
		}
	}
	return strings.Join(got, ",")
}

// TestStormPageSentBackThenAcknowledgedNoLongerCountsAsSent: storm
// bundling with a 5-minute window, two pages at once, and a push provider
// that takes one page every 20 s. At 0s ann's pushes for A and B are let
// out at once; A's goes, B's is sent back to its turn (20s), and B is
// acknowledged at 10s, before it: that push never goes out.
// At 60s C, a P0, comes: ann had one P0 push, not two, so C's goes out at
// once. (The push taken out by the acknowledgement was still counted
// sent: C was held to the window's end, 5m.)
func TestStormPageSentBackThenAcknowledgedNoLongerCountsAsSent(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := throttledStorm(t, open(t), 2, nil)
			a := fireAt(h, "A", "critical", fixedNow)
			b := fireAt(h, "B", "critical", fixedNow)
			if pushEntries(h, a) != "notify@0s" || pushEntries(h, b) != "" {
				t.Fatalf("pushes A %q, B %q; want A's sent at 0s and B's sent back: the test does not test what it says", pushEntries(h, a), pushEntries(h, b))
			}
			h.clock.Set(fixedNow.Add(10 * time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+b+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(59 * time.Second))
			if got := pushEntries(h, b); got != "" {
				t.Fatalf("the acknowledged incident's push: %v; want none", got)
			}
			c := fireAt(h, "C", "critical", fixedNow.Add(time.Minute))
			if got := pushEntries(h, c); got != "notify@1m0s" {
				t.Fatalf("C's push: %v; want it sent at once (notify@1m0s), not held behind a page that never went out", got)
			}
		})
	}
}

// TestStormPageCalledOffAtItsTurnIsTakenBackOnce: as above, but B is
// acknowledged while its push is being retried at its turn (20s), and the
// retry is called off. B's push is taken back once, by the write that took
// its step out: A's still counts. At 60s C, a P0, goes out at once (the
// second page); at 80s D, a P0, is held for the window's message. (Taken
// back twice, by the acknowledgement and by the call-off, the window lost
// A's count too, and D went out at once as well.)
func TestStormPageCalledOffAtItsTurnIsTakenBackOnce(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			var h *harness
			var b string
			var acked atomic.Int32
			h = throttledStorm(t, open(t), 2, func(m notify.Message) error {
				if m.Incident == b && m.Channel == "push" && acked.Add(1) == 1 {
					if r := h.api("POST", "/api/v1/incidents/"+b+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
						t.Errorf("ack: %d %s", r.code, r.body)
					}
					return notify.Temporary(errors.New("push provider: 503 service unavailable"))
				}
				return nil
			})
			a := fireAt(h, "A", "critical", fixedNow)
			b = fireAt(h, "B", "critical", fixedNow)
			if pushEntries(h, a) != "notify@0s" || pushEntries(h, b) != "" || acked.Load() != 0 {
				t.Fatalf("pushes A %q, B %q; want A's sent at 0s and B's sent back: the test does not test what it says", pushEntries(h, a), pushEntries(h, b))
			}
			h.runUntil(fixedNow.Add(59 * time.Second))
			if acked.Load() != 1 || pushEntries(h, b) != "" {
				t.Fatalf("B's push tried %d times, recorded %q; want it tried once at its turn and called off", acked.Load(), pushEntries(h, b))
			}
			c := fireAt(h, "C", "critical", fixedNow.Add(time.Minute))
			d := fireAt(h, "D", "critical", fixedNow.Add(80*time.Second))
			if got := pushEntries(h, c); got != "notify@1m0s" {
				t.Fatalf("C's push: %v; want it sent at once (notify@1m0s)", got)
			}
			if got := pushEntries(h, d); got != "notify_held@1m20s" {
				t.Fatalf("D's push: %v; want it held (notify_held@1m20s): A and C went out at once in the window", got)
			}
		})
	}
}

// TestStormPageSentBackThenConflictedIsCountedOnce: storm bundling with a
// 5-minute window, two pages at once, and a push provider that takes one
// page every 20 s. At 0s A's push goes; B's is let out at once and sent
// back to its turn (20s), and a status update on B comes before the
// dispatcher records that, so its write conflicts and it works B again.
// B's push was counted once, when it was let out: it goes at its turn,
// 20s. (Worked again, the step, read without what the storm said, asked
// the storm again and was counted a second time: the window had two P0
// pushes already, and B's was held for the window's message, 5m.)
func TestStormPageSentBackThenConflictedIsCountedOnce(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			bf := &beforeFinish{Store: open(t)}
			h := throttledStorm(t, bf, 2, nil)
			var b string
			var upd response
			bf.fn = func() { upd = h.api("POST", "/api/v1/incidents/"+b+"/status", `{"user":"ann","message":"looking"}`) }
			a := fireAt(h, "A", "critical", fixedNow)
			r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "gB", map[string]string{"alertname": "B", "severity": "critical"}),
				"Authorization", "Bearer "+amKey)
			var res struct{ Incidents []string }
			r.json(t, &res)
			b = res.Incidents[0]
			bf.armed.Store(true)
			h.step(fixedNow)
			if upd.code != 200 || pushEntries(h, a) != "notify@0s" {
				t.Fatalf("status update %d %s; A's push %q; want an update as B's step was recorded and A's push sent at 0s: the test does not test what it says",
					upd.code, upd.body, pushEntries(h, a))
			}
			h.runUntil(fixedNow.Add(59 * time.Second))
			if got := pushEntries(h, b); got != "notify@20s" {
				t.Fatalf("B's push: %v; want it sent at its turn (notify@20s), counted once in its window", got)
			}
		})
	}
}

// TestStormPageSentBackThenAcknowledgedInAConflictIsTakenBack: as above,
// but what comes before the dispatcher records B's step is an
// acknowledgement of B: its push, let out and sent back, never goes out,
// and its step was never stored as counted, so only the claim knows the
// window counted it. At 60s C, a P0, goes out at once: ann had one P0
// push in the window (A's). (The claim's count of B's push was left in
// the window: C was held to its end, 5m.)
func TestStormPageSentBackThenAcknowledgedInAConflictIsTakenBack(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			bf := &beforeFinish{Store: open(t)}
			h := throttledStorm(t, bf, 2, nil)
			var b string
			var ack response
			bf.fn = func() { ack = h.api("POST", "/api/v1/incidents/"+b+"/acknowledge", `{"user":"ann"}`) }
			a := fireAt(h, "A", "critical", fixedNow)
			r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "gB", map[string]string{"alertname": "B", "severity": "critical"}),
				"Authorization", "Bearer "+amKey)
			var res struct{ Incidents []string }
			r.json(t, &res)
			b = res.Incidents[0]
			bf.armed.Store(true)
			h.step(fixedNow)
			if ack.code != 200 || pushEntries(h, a) != "notify@0s" || pushEntries(h, b) != "" {
				t.Fatalf("ack %d %s; pushes A %q, B %q; want an ack as B's step was recorded, A's push sent at 0s and B's sent back: the test does not test what it says",
					ack.code, ack.body, pushEntries(h, a), pushEntries(h, b))
			}
			h.runUntil(fixedNow.Add(59 * time.Second))
			c := fireAt(h, "C", "critical", fixedNow.Add(time.Minute))
			if got := pushEntries(h, c); got != "notify@1m0s" {
				t.Fatalf("C's push: %v; want it sent at once (notify@1m0s), not held behind a page that never went out", got)
			}
		})
	}
}

// TestStormPageFailedAtItsTurnWhileAcknowledgedIsTakenBackOnce: as
// TestStormPageCalledOffAtItsTurnIsTakenBackOnce, but the provider
// refuses B's push at its turn (20s) as B is acknowledged, so the page
// fails rather than being called off. It is taken back once: A's push
// still counts, C, a P0 at 60s, goes out at once (the second page) and D,
// a P0 at 80s, is held for the window's message. (The dispatcher took it
// back as it failed, and the acknowledgement, which took the step out of
// the incident as stored, took it back again: D went out at once too.)
func TestStormPageFailedAtItsTurnWhileAcknowledgedIsTakenBackOnce(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			var h *harness
			var b string
			var acked atomic.Int32
			h = throttledStorm(t, open(t), 2, func(m notify.Message) error {
				if m.Incident == b && m.Channel == "push" && acked.Add(1) == 1 {
					if r := h.api("POST", "/api/v1/incidents/"+b+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
						t.Errorf("ack: %d %s", r.code, r.body)
					}
					return errors.New("push provider: 400 device token is not registered")
				}
				return nil
			})
			a := fireAt(h, "A", "critical", fixedNow)
			b = fireAt(h, "B", "critical", fixedNow)
			if pushEntries(h, a) != "notify@0s" || pushEntries(h, b) != "" || acked.Load() != 0 {
				t.Fatalf("pushes A %q, B %q; want A's sent at 0s and B's sent back: the test does not test what it says", pushEntries(h, a), pushEntries(h, b))
			}
			h.runUntil(fixedNow.Add(59 * time.Second))
			if got := pushEntries(h, b); acked.Load() != 1 || got != "notify_failed@20s" {
				t.Fatalf("B's push tried %d times, recorded %q; want it tried once at its turn and failed (notify_failed@20s)", acked.Load(), got)
			}
			c := fireAt(h, "C", "critical", fixedNow.Add(time.Minute))
			d := fireAt(h, "D", "critical", fixedNow.Add(80*time.Second))
			if got := pushEntries(h, c); got != "notify@1m0s" {
				t.Fatalf("C's push: %v; want it sent at once (notify@1m0s)", got)
			}
			if got := pushEntries(h, d); got != "notify_held@1m20s" {
				t.Fatalf("D's push: %v; want it held (notify_held@1m20s): A and C went out at once in the window", got)
			}
		})
	}
}
