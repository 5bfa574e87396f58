package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
)

// staleResolveHarness is a harness on a store of open whose next Update or
// FindByDedup stalls when armed: a replica stopped with a resolve in its
// hands, after it read the incident (the write stalls) or before (the
// read does).
func staleResolveHarness(t *testing.T, open func(*testing.T) store.Store) (*harness, *stallingUpdateStore, *stallingFindStore) {
	t.Helper()
	us := &stallingUpdateStore{Store: open(t)}
	fs := &stallingFindStore{Store: us}
	return newHarness(t, withStore(fs), withConfig(noStorm)), us, fs
}

// stallResolve posts a resolve (post) while the store holds the write or
// read arm armed, runs meanwhile, then lets the resolve go on and returns
// its answer.
func stallResolve(t *testing.T, arm func() (chan struct{}, chan struct{}), post func() response, meanwhile func()) response {
	t.Helper()
	entered, release := arm()
	answer := make(chan response, 1)
	go func() { answer <- post() }()
	select {
	case <-entered:
	case r := <-answer:
		t.Fatalf("the resolve was answered (%d %s) without reaching the stalled store call", r.code, r.body)
	}
	meanwhile()
	close(release)
	return <-answer
}

// wantOpenAndPaging fails unless incident id is open (triggered) and its
// ladder goes on paging after.
func wantOpenAndPaging(t *testing.T, h *harness, id string, until time.Time) {
	t.Helper()
	if inc := h.incident(id); inc.Status != "triggered" {
		t.Fatalf("incident %s is %s after the stalled resolve landed, want triggered: its sender's latest word is firing (%s)",
			id, inc.Status, timelineTypes(inc))
	}
	before := len(h.rec.lines(fixedNow))
	h.runUntil(until)
	if got := h.rec.lines(fixedNow)[before:]; len(got) == 0 {
		t.Fatalf("the incident kept open paged nobody after the stalled resolve")
	}
}

// TestResolveReceivedBeforeAFiringStoredFirstResolvesNothing: the mirror
// of a stale firing. A sender's resolve is received at 20s by a replica
// that stalls with it (a pause, SIGSTOP); the alert fires again and the
// sender's trigger, received at 25s (after the resolve, by more than the
// clocks' skew, 3s here), is stored first: it repeats the open incident
// (or, the resolve retried elsewhere having resolved that one, opens a new
// one). Then the stalled resolve landed and resolved that incident
// although the sender's latest word is "firing"; the sender, its trigger
// answered, said nothing more, and the outage paged nobody. Now the
// resolve resolves nothing: answered 2xx, the incident stays open and
// keeps paging, its timeline says why (resolve_superseded, naming both
// receipts), the log warns, and the metric counts it. For PagerDuty
// events (no alert start to tell by), and for an Alertmanager group that
// fires again with its alert's start kept (a Prometheus restart), which
// the check of a newer start (ingest.Uncovered) does not catch.
func TestResolveReceivedBeforeAFiringStoredFirstResolvesNothing(t *testing.T) {
	t0 := fixedNow
	a := lbl("X", "critical", "a")
	amFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0})
	amResolved := amBody("resolved", "g", 0, amAlert{st: "resolved", labels: a, starts: t0, ends: t0.Add(15 * time.Second)})
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("pagerduty, the firing a repeat", func(t *testing.T) {
				h, us, _ := staleResolveHarness(t, open)
				pdEvent(t, h, "trigger")
				id := h.list("")[0].ID
				h.runUntil(t0.Add(20 * time.Second))
				r := stallResolve(t, us.arm, func() response { return h.do("POST", "/v2/enqueue", pdEventBody("resolve", "k")) }, func() {
					h.clock.Set(t0.Add(25 * time.Second))
					pdEvent(t, h, "trigger")
				})
				if r.code != 202 {
					t.Fatalf("the stalled resolve: %d %s, want 202", r.code, r.body)
				}
				if !h.timelineHas(id, incident.ResolveSuperseded, "received at "+t0.Add(20*time.Second).Format(time.RFC3339)) ||
					!h.timelineHas(id, incident.ResolveSuperseded, "received at "+t0.Add(25*time.Second).Format(time.RFC3339)) {
					t.Fatalf("no resolve_superseded entry naming both receipts: %s", timelineTypes(h.incident(id)))
				}
				if !strings.Contains(h.logs.String(), "superseded, the incident stays open") {
					t.Fatalf("not logged:\n%s", h.logs)
				}
				if got := metric(t, h.reg, "pagerd_alerts_received_total", "source", "pagerduty", "outcome", incident.ResolveSuperseded); got != 1 {
					t.Fatalf("pagerd_alerts_received_total{outcome=resolve_superseded} %v, want 1", got)
				}
				wantOpenAndPaging(t, h, id, t0.Add(10*time.Minute))
			})

			t.Run("pagerduty, the resolve retried elsewhere first", func(t *testing.T) {
				h, _, fs := staleResolveHarness(t, open)
				pdEvent(t, h, "trigger")
				first := h.list("")[0].ID
				h.runUntil(t0.Add(20 * time.Second))
				r := stallResolve(t, fs.arm, func() response { return h.do("POST", "/v2/enqueue", pdEventBody("resolve", "k")) }, func() {
					h.clock.Set(t0.Add(21 * time.Second))
					pdEvent(t, h, "resolve") // the sender's retry, taken first
					h.clock.Set(t0.Add(30 * time.Second))
					pdEvent(t, h, "trigger") // fires again: a new incident
				})
				if r.code != 202 {
					t.Fatalf("the stalled resolve: %d %s, want 202", r.code, r.body)
				}
				l := h.list("")
				if len(l) != 2 || l[1].ID != first || l[1].Status != "resolved" {
					t.Fatalf("incidents %+v, want the first resolved and a new one", l)
				}
				if !h.timelineHas(l[0].ID, incident.ResolveSuperseded, "") {
					t.Fatalf("no resolve_superseded entry on the new incident: %s", timelineTypes(h.incident(l[0].ID)))
				}
				wantOpenAndPaging(t, h, l[0].ID, t0.Add(10*time.Minute))
			})

			t.Run("alertmanager, firing again with the same start", func(t *testing.T) {
				h, us, _ := staleResolveHarness(t, open)
				h.am(amKey, amFiring)
				id := h.list("")[0].ID
				h.runUntil(t0.Add(20 * time.Second))
				r := stallResolve(t, us.arm, func() response {
					return h.do("POST", "/api/v1/alertmanager", amResolved, "Authorization", "Bearer "+amKey)
				}, func() {
					h.clock.Set(t0.Add(25 * time.Second))
					h.am(amKey, amFiring) // a Prometheus restart: the start kept
				})
				if r.code != 200 {
					t.Fatalf("the stalled resolve: %d %s, want 200", r.code, r.body)
				}
				if !h.timelineHas(id, incident.ResolveSuperseded, "alertmanager sent") {
					t.Fatalf("no resolve_superseded entry: %s", timelineTypes(h.incident(id)))
				}
				wantOpenAndPaging(t, h, id, t0.Add(10*time.Minute))
			})

			// Guards: these resolve as before.
			t.Run("a resolve received after the firing", func(t *testing.T) {
				h, us, _ := staleResolveHarness(t, open)
				pdEvent(t, h, "trigger")
				id := h.list("")[0].ID
				h.runUntil(t0.Add(20 * time.Second))
				pdEvent(t, h, "trigger")
				h.clock.Set(t0.Add(30 * time.Second))
				r := stallResolve(t, us.arm, func() response { return h.do("POST", "/v2/enqueue", pdEventBody("resolve", "k")) }, func() {})
				if r.code != 202 {
					t.Fatalf("resolve: %d %s", r.code, r.body)
				}
				wantResolved(t, h, id)
			})
			t.Run("within the clocks' skew", func(t *testing.T) {
				h, us, _ := staleResolveHarness(t, open)
				pdEvent(t, h, "trigger")
				id := h.list("")[0].ID
				h.runUntil(t0.Add(20 * time.Second))
				r := stallResolve(t, us.arm, func() response { return h.do("POST", "/v2/enqueue", pdEventBody("resolve", "k")) }, func() {
					h.clock.Set(t0.Add(22 * time.Second)) // 2s after: it may have been sent before the resolve
					pdEvent(t, h, "trigger")
				})
				if r.code != 202 {
					t.Fatalf("resolve: %d %s", r.code, r.body)
				}
				wantResolved(t, h, id)
			})
			t.Run("the resolve's receipt not known", func(t *testing.T) {
				h, _, _ := staleResolveHarness(t, open)
				pdEvent(t, h, "trigger")
				id := h.list("")[0].ID
				h.clock.Set(t0.Add(25 * time.Second))
				pdEvent(t, h, "trigger")
				// A replica off the shared clock stamps nothing.
				if _, err := h.d.incidents.ResolveByDedup(context.Background(), h.d.cfg.Load().Service("api"), "pd:k", "pagerduty", "pagerduty", time.Time{}); err != nil {
					t.Fatal(err)
				}
				wantResolved(t, h, id)
			})
			t.Run("pagerd's own on Alertmanager's word", func(t *testing.T) {
				h, _, _ := staleResolveHarness(t, open)
				h.am(amKey, amFiring)
				id := h.list("")[0].ID
				h.clock.Set(t0.Add(25 * time.Second))
				h.am(amKey, amFiring)
				why := store.Entry{At: t0.Add(20 * time.Second), Type: "resolve_confirmed", Actor: "pagerd", Detail: "no alert of the group is active"}
				if ok, err := h.d.incidents.ResolveUnless(context.Background(), h.d.cfg.Load().Service("api"), id, 1, "alertmanager", why, nil); err != nil || !ok {
					t.Fatalf("resolve after asking: %v %v", ok, err)
				}
				wantResolved(t, h, id)
			})
		})
	}
}

// pdEvent posts a PagerDuty event of dedup key k and wants it taken.
func pdEvent(t *testing.T, h *harness, action string) {
	t.Helper()
	if r := h.do("POST", "/v2/enqueue", pdEventBody(action, "k")); r.code != 202 {
		t.Fatalf("%s: %d %s", action, r.code, r.body)
	}
}

// wantResolved fails unless incident id is resolved, without a
// resolve_superseded entry.
func wantResolved(t *testing.T, h *harness, id string) {
	t.Helper()
	if inc := h.incident(id); inc.Status != "resolved" || h.timelineHas(id, incident.ResolveSuperseded, "") {
		t.Fatalf("incident %s: %s (%s), want resolved", id, inc.Status, timelineTypes(inc))
	}
}

// TestResolveReadAfterAStopIsPlacedAtItsReading: the fingerprint soak,
// seed 900697799 (8 alert incidents left open in 10 minutes). A replica
// stopped, then read a resolve in the two seconds after: the intake
// stamps such a request at the stop's start (it may have waited through
// the stop in the socket), seconds before a repeat another replica had
// received meanwhile. Taken as received before that firing, the resolve
// resolved nothing, and the incident stayed open, paging, for good,
// although the resolve came after the firing. It is placed at its reading
// (incident.WithReadAt): a firing received after that is after it.
func TestResolveReadAfterAStopIsPlacedAtItsReading(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				read time.Duration // 0: not known
				open bool
			}{
				{"read after the firing", 8 * time.Second, false},
				{"reading not known: its stamp", 0, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					h := newHarness(t, withStore(open(t)), withConfig(noStorm))
					t0 := h.clock.Now()
					trigger := func() {
						if r := h.do("POST", "/v2/enqueue", pdEventBody("trigger", "k")); r.code != 202 {
							t.Fatalf("trigger: %d %s", r.code, r.body)
						}
					}
					trigger()
					h.clock.Set(t0.Add(5 * time.Second))
					trigger() // received at 5s: the incident's latest firing
					h.clock.Set(t0.Add(8 * time.Second))
					v := h.list("")[0]
					svc := h.d.cfg.Load().Service(v.Service)
					ctx := context.Background()
					if tc.read != 0 {
						ctx = incident.WithReadAt(ctx, t0.Add(tc.read))
					}
					// Stamped at 1s, the start of the stop it was read after.
					if _, err := h.d.incidents.ResolveByDedup(ctx, svc, v.DedupKey, "pagerduty", "pagerduty", t0.Add(time.Second)); err != nil {
						t.Fatal(err)
					}
					if got := h.incident(v.ID).Status == "triggered"; got != tc.open {
						t.Fatalf("incident %s after the resolve, want open %v", h.incident(v.ID).Status, tc.open)
					}
				})
			}
		})
	}
}
