package gateway

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// TestFingerprintFiringCheckAfterTheGroupsResolve: the fingerprint soak
// (seeds 900697799, 478973041). In fingerprint mode a firing notification
// left api-3 out (max_alerts 2), and its check of the alerts left out
// (am_overflow) ran after the group's resolved notification was taken: a
// replica stopped with the firing one answered it late, and the sender
// sent the group's last notification at once. Alertmanager could not be
// asked, so the check opened the overflow incident, which paged for
// alerts that had all ended, and nothing resolved it: Alertmanager sends
// nothing more of the group. A resolved notification received after the
// firing one that ends each alert it named, with none left out, now ends
// the check; one that may leave an alert firing (it left alerts out, or
// does not end an alert the firing one named) lets it open the incident,
// which is then checked until Alertmanager lists no alert of the group
// firing. A firing notification received after the resolve still opens it,
// and, opened while Alertmanager could not be asked, it is asked about
// again (TestFingerprintOverflowOpenedUnaskedAfterTheGroupsResolveIsAskedAgain):
// back, listing no alert of the group, it is resolved too.
func TestFingerprintFiringCheckAfterTheGroupsResolve(t *testing.T) {
	firing := amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"})
	resolved := amTruncated("resolved", 0, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"})
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name           string
				first, second  string
				opened, closes bool // the overflow incident opens; Alertmanager back, it is resolved
			}{
				{"resolve after the firing, none left out", firing, resolved, false, false},
				{"resolve after the firing, an alert left out", firing,
					amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}), true, true},
				{"resolve after the firing, api-1 firing again in it", strings.Replace(firing, `"startsAt":"2025-09-10T05:59:00Z"`, `"startsAt":"2025-09-10T06:05:00Z"`, 1),
					resolved, true, true},
				{"firing after the resolve", resolved, firing, true, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					am := &fakeAlertmanagerAPI{down: true}
					h, post := overflowHarness(t, open, am)
					t0 := h.clock.Now()
					// Received 5s apart, the check not run in between.
					post(tc.first)
					h.clock.Set(t0.Add(5 * time.Second))
					post(tc.second)
					h.runUntil(t0.Add(10 * time.Minute))
					v, opened := overflowIncident(h)
					if opened != tc.opened || (opened && v.Status != "triggered") {
						t.Fatalf("overflow incident opened %v (%s, timeline %s), want opened %v: Alertmanager down, the check of the alerts the firing "+
							"notification left out ran after both were received", opened, v.Status, timelineTypes(v), tc.opened)
					}
					if !opened {
						return
					}
					am.set(0, false)
					h.runUntil(t0.Add(time.Hour))
					v, _ = overflowIncident(h)
					if want := map[bool]policy.Status{true: "resolved", false: "triggered"}[tc.closes]; v.Status != want {
						t.Fatalf("Alertmanager back, listing no alert of the group: overflow incident %s (timeline %s), want %s", v.Status, timelineTypes(v), want)
					}
				})
			}
		})
	}
}

// TestFingerprintFiringReadJustAfterAStopAfterTheGroupsResolveOpensItsOverflow:
// the mirror of the firing notification a stalled replica answered late.
// A replica was stopped from t0 to t0+5s (CPU starved, a VM paused);
// meanwhile another took the group's resolved notification at t0+4s,
// none left out. The group fired again with its alerts' starts unchanged,
// and the stopped replica read that firing notification (api-3 left out,
// max_alerts 2) at t0+6s, within the grace after its stop: stamped at
// the stop's start at the earliest (t0), at t0+6s at the latest. The
// check of the alerts it left out judged it by its earliest, took the
// resolve as after it and ending each of its alerts, and opened nothing
// (Alertmanager down): api-3's outage paged nobody. Judged by its latest,
// as its alerts' own incidents are, the resolve may have come before it:
// the overflow incident opens, as for a firing received after the
// resolve. Both stores.
func TestFingerprintFiringReadJustAfterAStopAfterTheGroupsResolveOpensItsOverflow(t *testing.T) {
	firing := amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"})
	resolved := amTruncated("resolved", 0, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"})
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{down: true}
			h, post := overflowHarness(t, open, am)
			t0 := h.clock.Now()
			h.clock.Set(t0.Add(4 * time.Second))
			h.d.server.o.Arrival = func(*http.Request) (time.Time, time.Time) { return h.clock.Now(), h.clock.Now() }
			post(resolved)
			h.clock.Set(t0.Add(6 * time.Second))
			h.d.server.o.Arrival = func(*http.Request) (time.Time, time.Time) { return t0, t0.Add(6 * time.Second) }
			post(firing)
			h.runUntil(t0.Add(10 * time.Minute))
			if v, opened := overflowIncident(h); !opened || v.Status != "triggered" {
				t.Fatalf("overflow incident opened %v (%s, timeline %s); want it open: the firing notification read just after a stop "+
					"may have come after the group's resolve", opened, v.Status, timelineTypes(v))
			}
		})
	}
}

// TestFingerprintStaleFiringCheckKeepsTheOverflowResolveChecked: the
// fingerprint soak, seed 478973041 (g296, g108). The group's overflow
// incident was open (Alertmanager down) at the group's last notification,
// which left nothing out and stored the check that resolves it once
// Alertmanager lists no alert of the group without an incident of its own.
// The check of the firing notification before it ran after that: it
// repeated the open incident (Alertmanager down), and the resolve's check
// ended silently on the repeat, taking it for a newer firing notification.
// The incident paged six times and stayed open. The firing one's check
// now repeats nothing, and the resolve's check resolves the incident once
// Alertmanager answers.
func TestFingerprintStaleFiringCheckKeepsTheOverflowResolveChecked(t *testing.T) {
	firing := amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"})
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{down: true}
			h, post := overflowHarness(t, open, am)
			t0 := h.clock.Now()
			v := overflowOpened(t, h, post, firing)
			post(firing) // its check stalls with a replica
			h.clock.Set(t0.Add(20 * time.Second))
			post(amTruncated("resolved", 0, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}))
			h.runUntil(t0.Add(30 * time.Second))
			if v = h.incident(v.ID); v.Status != "triggered" || v.Repeats != 0 {
				t.Fatalf("overflow incident %s, %d repeats; want triggered, not repeated by the second firing notification's check after the resolve",
					v.Status, v.Repeats)
			}
			am.set(0, false)
			h.runUntil(t0.Add(10 * time.Minute))
			if v = h.incident(v.ID); v.Status != "resolved" {
				t.Fatalf("Alertmanager back, listing no alert of the group: overflow incident %s (timeline %s), want resolved", v.Status, timelineTypes(v))
			}
		})
	}
}

// TestFingerprintFiringCheckOpeningAsTheGroupResolves: the check of a
// firing notification's left-out alerts read no resolve of the group, and
// the group's resolved notification (none left out) was taken before its
// opening landed (a replica stopped between them): it found no overflow
// incident open to resolve, and the one opened then would page for good.
// The check reads again after opening, and resolves it.
func TestFingerprintFiringCheckOpeningAsTheGroupResolves(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{down: true}
			cfg, _ := amConfig(t, am, byURL)
			st := &stallingTriggerStore{Store: open(t)}
			h := newHarness(t, withStore(st), withConfig(cfg))
			post := batchPoster(t, h)
			t0 := h.clock.Now()
			post(amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"}))
			entered, release := st.arm()
			stepped := make(chan struct{})
			go func() { defer close(stepped); h.step(t0) }()
			<-entered // the check's opening, stalled
			h.clock.Set(t0.Add(5 * time.Second))
			post(amTruncated("resolved", 0, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}))
			close(release)
			<-stepped
			h.runUntil(t0.Add(time.Hour))
			v, opened := overflowIncident(h)
			if !opened {
				t.Fatal("the stalled check opened no overflow incident: the test stalled something else")
			}
			found := false
			for _, e := range v.Timeline {
				found = found || e.Type == incident.FiringSuperseded
			}
			if v.Status != "resolved" || !found {
				t.Fatalf("overflow incident %s, timeline %s; want it resolved, with a %s entry saying why", v.Status, timelineTypes(v), incident.FiringSuperseded)
			}
		})
	}
}

// TestFingerprintFiringCheckLeavesAnOpenOverflowIncidentToTheResolvesCheck:
// the fingerprint soak, seed 900697799 (g52, g120). The group's overflow
// incident was open; the group's last firing notification (alerts left
// out) was answered and the sender sent the group's last, resolved one
// (alerts left out too) at once, received within a second of it. The
// resolve's check was stored (Alertmanager is asked until no alert of the
// group fires), then the firing one's check ran, Alertmanager down, and
// repeated the open incident; the resolve's check took the repeat for a
// firing notification since it and ended. Nothing resolved the incident.
// The firing one's check now leaves an open overflow incident as it is.
func TestFingerprintFiringCheckLeavesAnOpenOverflowIncidentToTheResolvesCheck(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{down: true}
			h, post := overflowHarness(t, open, am)
			t0 := h.clock.Now()
			firing := amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"})
			v := overflowOpened(t, h, post, firing)
			post(firing) // its check runs after the resolve, below
			post(amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}))
			h.runUntil(t0.Add(30 * time.Second))
			am.set(0, false)
			h.runUntil(t0.Add(10 * time.Minute))
			if v = h.incident(v.ID); v.Status != "resolved" {
				t.Fatalf("Alertmanager back, listing no alert of the group firing: overflow incident %s (%d repeats, timeline %s), want resolved",
					v.Status, v.Repeats, timelineTypes(v))
			}
		})
	}
}

// TestFingerprintResolvesCheckOutlastsARepeatOfAFiringReceivedBefore: the
// fingerprint soak, seed 900697799 (g148). The group's overflow incident
// was open (Alertmanager listed api-3, left out, firing); the group's
// last firing notification was answered and the sender sent the group's
// last, resolved one at once. Its check (the overflow incident resolves
// once Alertmanager lists no alert of the group without an incident of
// its own; or, the resolve leaving alerts out, once none fires) was
// stored, then the firing one's check ran: Alertmanager still listed
// api-3 for a moment, and it repeated the incident. The resolve's check
// took that for a firing notification since it and ended: the incident
// paged for good. A repeat of a firing received no later than the resolve
// no longer ends it, nor does a repeat on Alertmanager's word (the check
// of a firing received after it): the resolve's check asks Alertmanager
// again, and resolves once it lists nothing. (A firing received after
// the resolve that repeats an alert incident ends its checks:
// TestWithheldResolveNotCheckedAfterTheGroupFiresAgain.)
func TestFingerprintResolvesCheckOutlastsARepeatOfAFiringReceivedBefore(t *testing.T) {
	firing := amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"})
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name      string
				truncated int // of the resolved notification
				firingAt  time.Duration
				resolves  bool
			}{
				{"resolve left nothing out", 0, 0, true},
				{"resolve left alerts out", 1, 0, true},
				{"firing received after the resolve", 0, 5 * time.Second, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					am := &fakeAlertmanagerAPI{active: []string{"fp-api-3"}}
					h, post := overflowHarness(t, open, am)
					t0 := h.clock.Now()
					v := overflowOpened(t, h, post, firing)
					h.clock.Set(t0.Add(10 * time.Second))
					at := h.clock.Now()
					if tc.firingAt == 0 {
						post(firing) // its check runs after the resolve's is stored
					}
					post(amTruncated("resolved", tc.truncated, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}))
					if tc.firingAt != 0 {
						h.clock.Set(at.Add(tc.firingAt))
						post(firing) // the group fires again
					}
					h.runUntil(at.Add(30 * time.Second))
					am.mu.Lock()
					am.active = nil
					am.mu.Unlock()
					h.runUntil(at.Add(10 * time.Minute))
					v = h.incident(v.ID)
					if got := v.Status == "resolved"; got != tc.resolves {
						t.Fatalf("Alertmanager listing no alert of the group: overflow incident %s (%d repeats, timeline %s), want resolved %v",
							v.Status, v.Repeats, timelineTypes(v), tc.resolves)
					}
				})
			}
		})
	}
}

// TestFingerprintCheckAnsweredLateOpensWhatAlertmanagerLists: the check
// of the alerts a firing notification left out asked Alertmanager, which
// answered 20 s later; meanwhile another check resolved the group's
// overflow incident on Alertmanager's word (nothing left out fired), and
// an alert of the group (api-4) started. The answer lists api-4 active
// with no incident of its own: the overflow incident opens anew and
// pages. It opened nothing when its trigger carried the firing
// notification's receipt, read as received before the resolve
// (superseded): api-4 paged only at the group's next notification.
func TestFingerprintCheckAnsweredLateOpensWhatAlertmanagerLists(t *testing.T) {
	firing := amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"})
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{active: []string{"fp-api-3"}}
			h, post := overflowHarness(t, open, am)
			t0 := h.clock.Now()
			v := overflowOpened(t, h, post, firing)
			h.clock.Set(t0.Add(20 * time.Second))
			am.mu.Lock()
			am.onAlerts = func() { // the firing's check asks: the answer comes late
				h.clock.Set(t0.Add(40 * time.Second))
				inc, err := h.store.Get(context.Background(), v.ID)
				if err != nil {
					t.Errorf("read overflow incident: %v", err)
					return
				}
				why := store.Entry{At: h.clock.Now(), Type: amresolve.EntryConfirmed, Actor: "pagerd", Detail: "no alert of the group is active without an incident"}
				if ok, err := h.d.incidents.ResolveUnlessRepeated(context.Background(), h.d.cfg.Load().Service("batch"), v.ID, inc.Repeats, "alertmanager", why); err != nil || !ok {
					t.Errorf("resolve on Alertmanager's word: %v %v", ok, err)
				}
				am.active = []string{"fp-api-4"} // started since
			}
			am.mu.Unlock()
			post(firing)
			h.runUntil(t0.Add(time.Minute))
			var opened []string
			for _, l := range h.list("?service=batch") {
				if strings.HasSuffix(l.DedupKey, "#overflow") && l.ID != v.ID && h.incident(l.ID).Status == "triggered" {
					opened = append(opened, l.ID)
				}
			}
			if len(opened) != 1 {
				t.Fatalf("open overflow incidents after the first's resolve: %v, want one: Alertmanager lists api-4 active with no incident (first: %s)",
					opened, timelineTypes(h.incident(v.ID)))
			}
		})
	}
}

// TestFingerprintStalledFiringCheckKeepsTheNewerFiringsCheck: a replica
// stalled with a firing notification of the group (api-3 left out,
// max_alerts 2) while the group resolved and fired again (api-1 started
// anew, api-3 left out again); the newer firing stored its check of the
// alerts left out, and the stalled write, landing before that check ran,
// replaced it with its own. That older check reads the group's resolve,
// received after it, as ending each alert it named, and opened nothing:
// with Alertmanager down, api-3 left out of the newer firing paged nobody
// (before the mark was read, any check opened the overflow incident). The
// check of a firing notification received later is kept.
func TestFingerprintStalledFiringCheckKeepsTheNewerFiringsCheck(t *testing.T) {
	firing := amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"})
	again := strings.Replace(firing, `"startsAt":"2025-09-10T05:59:00Z"`, `"startsAt":"2025-09-10T06:05:00Z"`, 1)
	resolved := amTruncated("resolved", 0, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"})
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{down: true}
			cfg, _ := amConfig(t, am, byURL)
			st := &stallingCheckStore{Store: open(t), entered: make(chan struct{}), release: make(chan struct{})}
			h := newHarness(t, withStore(st), withConfig(cfg))
			post := batchPoster(t, h)
			t0 := h.clock.Now()
			answered := make(chan response, 1)
			go func() { answered <- h.do("POST", "/api/v1/alertmanager", firing, "Authorization", "Bearer "+batchKey) }()
			<-st.entered // the first firing's check, its write stalled
			h.clock.Set(t0.Add(5 * time.Second))
			post(resolved)
			h.clock.Set(t0.Add(10 * time.Second))
			post(again) // its check stored, not run yet
			close(st.release)
			if r := <-answered; r.code != 200 {
				t.Fatalf("stalled firing: %d %.300s", r.code, r.body)
			}
			h.runUntil(t0.Add(10 * time.Minute))
			v, opened := overflowIncident(h)
			if !opened || v.Status != "triggered" {
				t.Fatalf("overflow incident opened %v (%s, timeline %s), want it open: Alertmanager down, the group fired again after its resolve "+
					"and left api-3 out", opened, v.Status, timelineTypes(v))
			}
		})
	}
}

// stallingCheckStore holds the first write of the check of the alerts a
// firing notification left out (an am_overflow job keyed by its group
// alone), however it is written, until release is closed.
type stallingCheckStore struct {
	store.Store
	stalled          atomic.Bool
	entered, release chan struct{}
}

func (s *stallingCheckStore) stall(j store.Job) {
	if j.Kind == amresolve.JobKindOverflow && !strings.Contains(j.Key, "/") && s.stalled.CompareAndSwap(false, true) {
		close(s.entered)
		<-s.release
	}
}

func (s *stallingCheckStore) PutJob(ctx context.Context, j store.Job) error {
	s.stall(j)
	return s.Store.PutJob(ctx, j)
}

func (s *stallingCheckStore) AddJob(ctx context.Context, j store.Job) (bool, error) {
	s.stall(j)
	return s.Store.AddJob(ctx, j)
}

func (s *stallingCheckStore) ReplaceJob(ctx context.Context, j store.Job) (bool, error) {
	s.stall(j)
	return s.Store.ReplaceJob(ctx, j)
}

// overflowOpened posts firing (a notification that left api-3 out) to h
// and runs its check, failing unless the group's overflow incident opens.
func overflowOpened(t *testing.T, h *harness, post func(string), firing string) incidentView {
	t.Helper()
	post(firing)
	h.runUntil(h.clock.Now().Add(10 * time.Second))
	v, opened := overflowIncident(h)
	if !opened || v.Status != "triggered" {
		t.Fatalf("overflow incident opened %v (%s), want it open: api-3 left out, Alertmanager down or listing it", opened, v.Status)
	}
	return v
}

// overflowHarness is a harness on a store of open whose batch service (in
// fingerprint mode) names am as its Alertmanager, and what posts its
// notifications.
func overflowHarness(t *testing.T, open func(*testing.T) store.Store, am *fakeAlertmanagerAPI) (*harness, func(string)) {
	t.Helper()
	cfg, _ := amConfig(t, am, byURL)
	h := newHarness(t, withStore(open(t)), withConfig(cfg))
	return h, batchPoster(t, h)
}

// TestFingerprintOverflowOpenedUnaskedAfterTheGroupsResolveIsAskedAgain:
// the groups soak (seed 790625374, g163). A replica stopped 6 s while
// Alertmanager was down; running again, it took the group's firing
// notification (api-3 left out, max_alerts 2) and its last, resolved one,
// both received at the stop's start, so the check of the firing one's
// left-out alerts could not tell the resolve came after it. Alertmanager
// could not be asked: the check opened the overflow incident on the
// firing notification's word, after the resolve was taken (which found no
// overflow incident open). Nothing asked about it again: the resolve's
// own check (alerts left out of it) found, Alertmanager back, no active
// alert without an incident and opened nothing, leaving the overflow
// incident paging for alerts that had all ended. An overflow incident
// opened while Alertmanager could not be asked now leaves a check that
// asks it again every RecheckEvery, and resolves the incident once it
// lists no active alert of the group without an incident of its own; a
// left-out alert still active keeps it open.
func TestFingerprintOverflowOpenedUnaskedAfterTheGroupsResolveIsAskedAgain(t *testing.T) {
	firing := amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"})
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name      string
				truncated int    // of the resolved notification
				active    string // a left-out alert Alertmanager lists active once back
			}{
				{"resolve left an alert out", 1, ""},
				{"resolve left nothing out", 0, ""},
				{"resolve left an alert out, api-3 still fires", 1, "fp-api-3"},
				{"resolve left nothing out, api-3 still fires", 0, "fp-api-3"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					am := &fakeAlertmanagerAPI{down: true}
					h, post := overflowHarness(t, open, am)
					t0 := h.clock.Now()
					// Both received at once (a replica stopped), the
					// firing one's check not run in between.
					post(firing)
					post(amTruncated("resolved", tc.truncated, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}))
					h.runUntil(t0.Add(30 * time.Second))
					v, opened := overflowIncident(h)
					if !opened || v.Status != "triggered" {
						t.Fatalf("overflow incident opened %v (%s, timeline %s), want it open: Alertmanager down, the firing notification's check "+
							"could not tell its resolve came after it", opened, v.Status, timelineTypes(v))
					}
					h.runUntil(t0.Add(5 * time.Minute)) // Alertmanager still down
					if v = h.incident(v.ID); v.Status != "triggered" {
						t.Fatalf("Alertmanager down: overflow incident %s (timeline %s), want it open", v.Status, timelineTypes(v))
					}
					back := h.clock.Now()
					am.mu.Lock()
					am.down, am.active = false, nil
					if tc.active != "" {
						am.active = []string{tc.active}
					}
					am.mu.Unlock()
					h.runUntil(back.Add(amresolve.RecheckEvery + time.Second))
					v = h.incident(v.ID)
					if tc.active == "" {
						if v.Status != "resolved" {
							t.Fatalf("Alertmanager back %s, listing no alert of the group: overflow incident %s (timeline %s), want resolved",
								amresolve.RecheckEvery+time.Second, v.Status, timelineTypes(v))
						}
						return
					}
					h.runUntil(back.Add(10 * time.Minute))
					if v = h.incident(v.ID); v.Status != "triggered" {
						t.Fatalf("Alertmanager back, listing api-3 (left out) active with no incident of its own: overflow incident %s (timeline %s), "+
							"want it open", v.Status, timelineTypes(v))
					}
					ended := h.clock.Now()
					am.mu.Lock()
					am.active = nil
					am.mu.Unlock()
					h.runUntil(ended.Add(amresolve.RecheckEvery + time.Second))
					if v = h.incident(v.ID); v.Status != "resolved" {
						t.Fatalf("api-3 ended: overflow incident %s (timeline %s), want resolved", v.Status, timelineTypes(v))
					}
				})
			}
		})
	}
}
