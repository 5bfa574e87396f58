package gateway

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/gateway/store"
)

// TestFingerprintResolveLeavingOutAFiringAlertWithNoIncidentPages: in
// fingerprint mode, api-1 and api-2 fire and page; api-3 joins the group
// in the same flush as their resolve, and Alertmanager (max_alerts 2)
// sends the group as resolved with api-1 and api-2 and truncatedAlerts 1.
// The group's overflow incident is not open (nothing was left out
// before) and api-3 has no incident of its own. pagerd asked nothing in
// fingerprint mode, and api-3 paged nobody until Alertmanager's next
// notification of the group: its next change, or its repeat_interval,
// 4 hours by default. With alertmanager_url pagerd now asks Alertmanager
// which alerts of the group are active and opens the overflow incident,
// which pages, only for one with no open incident of its own: not for
// api-3 when its incident is open (no second page), not when none is
// active, and not while Alertmanager cannot be asked (asked again), as
// group mode does.
func TestFingerprintResolveLeavingOutAFiringAlertWithNoIncidentPages(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name    string
				active  []string
				ownOpen bool // api-3 fired in view earlier: its incident is open
				down    bool
				opened  bool
			}{
				{"api-3 active with no incident", []string{"fp-api-3"}, false, false, true},
				{"api-3 active with its incident open", []string{"fp-api-3"}, true, false, false},
				{"none active", nil, false, false, false},
				{"Alertmanager down, then api-3 active", []string{"fp-api-3"}, false, true, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					am := &fakeAlertmanagerAPI{active: tc.active, down: tc.down}
					cfg, _ := amConfig(t, am, byURL)
					h := newHarness(t, withStore(open(t)), withConfig(cfg))
					post := batchPoster(t, h)
					t0 := h.clock.Now()
					firing := [][2]string{{"api-1", "firing"}, {"api-2", "firing"}}
					if tc.ownOpen {
						firing = append(firing, [2]string{"api-3", "firing"})
					}
					post(amTruncated("firing", 0, firing...))
					h.runUntil(t0.Add(time.Minute))
					if len(h.rec.lines(t0)) == 0 {
						t.Fatal("the firing alerts paged nobody")
					}
					// Acknowledged, so that only a new incident pages.
					for _, v := range h.list("") {
						if r := h.api("POST", "/api/v1/incidents/"+v.ID+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
							t.Fatalf("acknowledge: %d %s", r.code, r.body)
						}
					}
					before := len(h.rec.lines(t0))
					post(amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}))
					h.step(h.clock.Now())
					if tc.down {
						if _, opened := overflowIncident(h); opened {
							t.Fatal("the overflow incident opened while Alertmanager could not be asked, want it asked again")
						}
						am.set(0, false)
						h.step(h.clock.Now().Add(amresolve.RecheckEvery))
					}
					// An hour on: Alertmanager says nothing more of
					// the group before its repeat_interval (4h).
					h.runUntil(t0.Add(time.Hour))
					paged := h.rec.lines(t0)[before:]
					v, opened := overflowIncident(h)
					if !tc.opened {
						if opened || len(paged) != 0 {
							t.Fatalf("overflow incident opened %v (%s), pages %v; want none", opened, v.Status, paged)
						}
						return
					}
					if !opened || len(paged) == 0 {
						t.Fatalf("api-3 fires, left out of the resolve, with no incident of its own: overflow incident opened %v, "+
							"pages in the hour after %v; want it opened and paging (else nobody is paged before the group's repeat_interval)", opened, paged)
					}
					found := false
					for _, e := range v.Timeline {
						found = found || (e.Type == amresolve.EntryLeftOutFiring && strings.Contains(e.Detail, "fingerprints fp-api-3"))
					}
					if v.Status != "triggered" || !found {
						t.Fatalf("overflow incident %s, timeline %s; want triggered with a %s entry naming fp-api-3", v.Status, timelineTypes(v), amresolve.EntryLeftOutFiring)
					}
				})
			}
		})
	}
}

// TestFingerprintLateResolveKeepsTheFiringChecksOutcome: in fingerprint
// mode a firing notification left api-3 out (max_alerts 2) and stored
// the check of the alerts it left out, which opens the group's overflow
// incident at once while Alertmanager cannot be asked (a missed page is
// worse than a second one). Before it ran, a resolved notification of the
// group that also left an alert out came (an earlier one retried, or the
// other Alertmanager of a cluster's): its check was stored under the same
// key and replaced the firing one. That check opens nothing while
// Alertmanager cannot be asked and gives up after LeftOutFor (4 h), so
// api-3, firing, paged nobody for hours. The firing check must still run.
func TestFingerprintLateResolveKeepsTheFiringChecksOutcome(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{active: []string{"fp-api-3"}, down: true}
			cfg, _ := amConfig(t, am, byURL)
			h := newHarness(t, withStore(open(t)), withConfig(cfg))
			post := batchPoster(t, h)
			t0 := h.clock.Now()
			post(amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"}))
			post(amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}))
			h.runUntil(t0.Add(10 * time.Minute))
			v, opened := overflowIncident(h)
			if !opened || v.Status != "triggered" {
				t.Fatalf("api-3, left out of a firing notification, with Alertmanager down: overflow incident opened %v (%s); "+
					"want it opened at once, as the firing notification's check does, not replaced by the later resolve's", opened, v.Status)
			}
		})
	}
}

// refusesAJobOnce is a store that refuses the first write of a job of kind,
// as a full disk or a Redis over its maxmemory would, and takes the rest.
type refusesAJobOnce struct {
	store.Store
	kind    string
	refused atomic.Bool
}

func (s *refusesAJobOnce) PutJob(ctx context.Context, j store.Job) error {
	if j.Kind == s.kind && s.refused.CompareAndSwap(false, true) {
		return errDiskFull
	}
	return s.Store.PutJob(ctx, j)
}

// TestLeftOutResolvedOverflowIncidentIsCheckedWhenItsCheckWasNotStoredAtFirst:
// the check of a resolve that left api-3 out (max_alerts) opened the
// group's overflow incident for api-3, then could not store the check of
// that incident's own resolve (Alertmanager leaves the alerts it cut out
// of its resolved notifications too, so nothing else ends it). Retried,
// the check found the overflow incident open, took it for one a firing
// notification opened, and stored nothing: the incident stayed open,
// paging, after api-3 ended, until the group's next notification. The
// retry now stores the check, and the incident resolves once Alertmanager
// lists api-3 no more.
func TestLeftOutResolvedOverflowIncidentIsCheckedWhenItsCheckWasNotStoredAtFirst(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{active: []string{"fp-api-3"}}
			cfg, _ := amConfig(t, am, byURL)
			st := &refusesAJobOnce{Store: open(t), kind: amresolve.JobKind}
			h := newHarness(t, withStore(st), withConfig(cfg))
			post := batchPoster(t, h)
			t0 := h.clock.Now()
			post(amTruncated("firing", 0, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"}))
			h.runUntil(t0.Add(time.Minute))
			post(amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}))
			h.runUntil(t0.Add(10 * time.Minute))
			v, opened := overflowIncident(h)
			if !opened || v.Status == "resolved" || !st.refused.Load() {
				t.Fatalf("overflow incident opened %v (%s), the check's write refused %v; want it opened for api-3 after a refused write",
					opened, v.Status, st.refused.Load())
			}
			am.mu.Lock()
			am.active = nil // api-3 ended
			am.mu.Unlock()
			h.runUntil(t0.Add(30 * time.Minute))
			if v := h.incident(v.ID); v.Status != "resolved" {
				t.Fatalf("api-3 ended 20 minutes ago and Alertmanager lists nothing of the group: overflow incident %s, timeline %s; want resolved",
					v.Status, timelineTypes(v))
			}
		})
	}
}
