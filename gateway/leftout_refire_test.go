package gateway

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
)

// amAlert is one alert of amBody: its status, labels and times.
type amAlert struct {
	st     string
	labels map[string]string
	starts time.Time
	ends   time.Time
}

// amBody is a webhook v4 body of group gk as Alertmanager sends it, with
// each alert's own status and times, and truncatedAlerts.
func amBody(status, gk string, truncated int, alerts ...amAlert) string {
	var as []map[string]any
	for _, a := range alerts {
		ends := "0001-01-01T00:00:00Z"
		if !a.ends.IsZero() {
			ends = a.ends.UTC().Format(time.RFC3339Nano)
		}
		as = append(as, map[string]any{"status": a.st, "labels": a.labels, "annotations": map[string]string{"summary": "s"},
			"startsAt": a.starts.UTC().Format(time.RFC3339Nano), "endsAt": ends, "generatorURL": "http://prom/graph"})
	}
	b, _ := json.Marshal(map[string]any{"version": "4", "groupKey": gk, "status": status, "receiver": "pagerd", "truncatedAlerts": truncated,
		"groupLabels": map[string]string{"alertname": "X"}, "commonLabels": map[string]string{"alertname": "X"}, "commonAnnotations": map[string]string{},
		"externalURL": "http://am:9093", "alerts": as})
	return string(b)
}

// am posts an Alertmanager notification with the integration key.
func (h *harness) am(key, body string) response {
	h.t.Helper()
	r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+key)
	if r.code != 200 {
		h.t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	return r
}

// lbl is the labels of alert X on instance inst at severity sev.
func lbl(name, sev, inst string) map[string]string {
	return map[string]string{"alertname": name, "severity": sev, "instance": inst}
}

// withheldGroup opens group g's incident with a firing from fixedNow and,
// at 2 minutes, sends the group's resolve with an alert left out
// (max_alerts), which pagerd withholds: the incident stays open. It
// returns the incident and when the resolve came.
func withheldGroup(t *testing.T, h *harness, a map[string]string) (id string, w time.Time) {
	t.Helper()
	r := h.am(amKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: a, starts: fixedNow}))
	var res struct{ Incidents []string }
	r.json(t, &res)
	w = fixedNow.Add(2 * time.Minute)
	h.runUntil(w)
	h.am(amKey, amBody("resolved", "g", 1, amAlert{st: "resolved", labels: a, starts: fixedNow, ends: w}))
	return res.Incidents[0], w
}

// firingAAndB sends a firing notification of group g with alerts a and b,
// started at fixedNow, on a harness with st and storm bundling off; with
// asked, the service names an Alertmanager that lists a, b and c active
// (alertmanager_url). It returns the harness, that Alertmanager (nil
// without), the labels of a, b and c (c joins the group later in the
// tests), and b's incident.
func firingAAndB(t *testing.T, st store.Store, asked bool) (h *harness, am *fakeAlertmanagerAPI, a, b, c map[string]string, bID string) {
	t.Helper()
	a, b, c = lbl("X", "critical", "a"), lbl("X", "critical", "b"), lbl("X", "critical", "c")
	cfg := noStorm
	if asked {
		am = &fakeAlertmanagerAPI{}
		am.hold(a, b, c)
		cfg, _ = amConfig(t, am, byURL)
	}
	h = newHarness(t, withStore(st), withConfig(cfg))
	r := h.am(batchKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: fixedNow}, amAlert{st: "firing", labels: b, starts: fixedNow}))
	var res struct{ Incidents []string }
	r.json(t, &res)
	return h, am, a, b, c, res.Incidents[1]
}

// ackTriggered has ann acknowledge every triggered incident.
func ackTriggered(t *testing.T, h *harness) {
	t.Helper()
	for _, v := range h.list("") {
		if v.Status == "triggered" {
			if r := h.api("POST", "/api/v1/incidents/"+v.ID+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("acknowledge: %d %s", r.code, r.body)
			}
		}
	}
}

// firedAnewOrRepeat checks what the last firing of a fired-anew test did
// to the incident id it may have fired anew of, with paged the pages
// since it was sent: with anew, the incident resolved, saying why, and a
// new one paging; else nobody paged, and the incident still status (a
// repeat).
func firedAnewOrRepeat(t *testing.T, h *harness, id string, paged []string, anew bool, status string) {
	t.Helper()
	v := h.incident(id)
	if !anew {
		if len(paged) != 0 || string(v.Status) != status {
			t.Fatalf("pages %v, the incident %s: %s; want a repeat of the %s incident, which paged while this firing fired",
				paged, v.Status, timelineTypes(v), status)
		}
		return
	}
	if v.Status != "resolved" || len(paged) == 0 {
		t.Fatalf("fired anew: the old incident %s, pages %v; want it resolved and a new incident paging", v.Status, paged)
	}
	if !h.timelineHas(id, "resolve_confirmed", "every alert of it started after") {
		t.Errorf("the old incident's timeline does not say why it was resolved: %s", timelineTypes(v))
	}
}

// TestGroupFiringAnewAfterAWithheldResolvePages: a group larger than its
// receiver's max_alerts pages, and the person on call acknowledges it.
// Every alert of it resolves; Alertmanager's resolved notification leaves
// some out (truncatedAlerts), so pagerd withholds the resolve and, without
// alertmanager_url, the incident stays open and acknowledged. Hours later
// the group fires again: Alertmanager sends it whole (truncatedAlerts 0),
// and every alert of it started after the withheld resolve. pagerd took it
// as a repeat of the acknowledged incident and paged nobody: a new outage
// went unannounced until someone read the old incident. It is a new
// firing of a group that had ended: the old incident is resolved and the
// new one opens, and pages. A notification that names an alert that
// started before the withheld resolve (one left out then, firing since)
// stays a repeat and pages nobody.
func TestGroupFiringAnewAfterAWithheldResolvePages(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name  string
				fresh bool
			}{{"every alert new", true}, {"an alert left out then still fires", false}} {
				t.Run(tc.name, func(t *testing.T) {
					h := newHarness(t, withStore(open(t)), withConfig(noStorm))
					t0 := fixedNow
					a, b, old := lbl("X", "critical", "a"), lbl("X", "critical", "b"), lbl("X", "critical", "c")
					r := h.am(amKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: a, starts: t0}))
					var res struct{ Incidents []string }
					r.json(t, &res)
					id := res.Incidents[0]
					h.runUntil(t0.Add(time.Minute))
					if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
						t.Fatalf("acknowledge: %d %s", r.code, r.body)
					}
					h.clock.Set(t0.Add(time.Hour))
					h.am(amKey, amBody("resolved", "g", 1, amAlert{st: "resolved", labels: a, starts: t0, ends: t0.Add(59 * time.Minute)}))
					if v := h.incident(id); v.Status != "acknowledged" {
						t.Fatalf("after the resolve that left alerts out: %s, want acknowledged (withheld)", v.Status)
					}
					before := len(h.rec.lines(t0))
					at := t0.Add(20 * time.Hour)
					h.clock.Set(at)
					alerts := []amAlert{{st: "firing", labels: b, starts: at.Add(-time.Minute)}}
					if !tc.fresh {
						alerts = append(alerts, amAlert{st: "firing", labels: old, starts: t0.Add(30 * time.Minute)})
					}
					h.am(amKey, amBody("firing", "g", 0, alerts...))
					h.runUntil(at.Add(time.Minute))
					paged := h.rec.lines(t0)[before:]
					incs := h.list("")
					if !tc.fresh {
						if len(paged) != 0 || len(incs) != 1 || incs[0].Status != "acknowledged" {
							t.Fatalf("an alert firing since before the withheld resolve: pages %v, %d incidents (%s); want a repeat of the acknowledged incident", paged, len(incs), incs[0].Status)
						}
						return
					}
					if len(incs) != 2 || incs[0].Status != "triggered" || h.incident(id).Status != "resolved" {
						var got []string
						for _, v := range incs {
							got = append(got, v.ID+" "+string(v.Status))
						}
						t.Fatalf("incidents %v; want the old one (%s) resolved and a new one triggered", got, id)
					}
					if len(paged) == 0 {
						t.Fatalf("the group fired anew after it had resolved, and nobody was paged")
					}
					if !h.timelineHas(id, "resolve_confirmed", "every alert of it started after") {
						t.Errorf("the old incident's timeline does not say why it was resolved: %s", timelineTypes(h.incident(id)))
					}
				})
			}
		})
	}
}

// TestAlertFiringAnewAfterItsGroupsWithheldResolvePages: in fingerprint
// mode, a and b fire and are acknowledged; c joins and Alertmanager
// (max_alerts 2) leaves b out of the notifications from then on. The
// group resolves; its resolved notification leaves b out, so b's own
// incident stays open and acknowledged, and the overflow incident's
// resolve is withheld. Hours later b fires again, alone, sent whole: it
// repeated b's acknowledged incident and paged nobody. b's new firing
// started after the group's withheld resolve: b's old incident is
// resolved and the new firing opens one of its own, which pages. b
// firing since before that resolve, and an alert that fired again after
// its acknowledgement in a group no resolve was withheld of, stay
// repeats. The same holds when the overflow incident is not open at the
// resolve, where the withheld resolve was recorded nowhere and b's new
// firing paged nobody: resolved by hand before it, or never opened (with
// alertmanager_url, the overflow incident opens only for an active alert
// Alertmanager lists with no incident of its own, and b has one).
func TestAlertFiringAnewAfterItsGroupsWithheldResolvePages(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			const (
				overflowOpen     = ""
				overflowResolved = "overflow incident resolved by hand"
				overflowNever    = "overflow incident never opened (alertmanager_url)"
			)
			for _, tc := range []struct {
				name           string
				cut, refreshed bool
				paged          bool
				overflow       string
			}{
				{"fires anew after the withheld resolve", true, true, true, overflowOpen},
				{"fires since before the withheld resolve", true, false, false, overflowOpen},
				{"fires anew, no resolve withheld", false, true, false, overflowOpen},
				{"fires anew after the withheld resolve, " + overflowResolved, true, true, true, overflowResolved},
				{"fires since before the withheld resolve, " + overflowResolved, true, false, false, overflowResolved},
				{"fires anew after the withheld resolve, " + overflowNever, true, true, true, overflowNever},
				{"fires since before the withheld resolve, " + overflowNever, true, false, false, overflowNever},
			} {
				t.Run(tc.name, func(t *testing.T) {
					h, am, a, b, c, bID := firingAAndB(t, open(t), tc.overflow == overflowNever)
					t0 := fixedNow
					h.runUntil(t0.Add(time.Minute))
					ackAll := func() { ackTriggered(t, h) }
					ackAll()
					if tc.cut {
						h.clock.Set(t0.Add(5 * time.Minute))
						h.am(batchKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: c, starts: t0.Add(4 * time.Minute)}, amAlert{st: "firing", labels: a, starts: t0}))
						h.runUntil(t0.Add(6 * time.Minute))
						ackAll()
						ov, opened := overflowIncident(h)
						switch {
						case tc.overflow == overflowNever && opened:
							t.Fatalf("the overflow incident opened (%s), though every active alert has an incident of its own", ov.Status)
						case tc.overflow != overflowNever && !opened:
							t.Fatal("the overflow incident did not open for b, left out")
						case tc.overflow == overflowResolved:
							if r := h.api("POST", "/api/v1/incidents/"+ov.ID+"/resolve", `{"user":"ann"}`); r.code != 200 {
								t.Fatalf("resolve the overflow incident: %d %s", r.code, r.body)
							}
						}
						h.clock.Set(t0.Add(time.Hour))
						if am != nil {
							am.hold(b) // b still fires, left out
						}
						resolved := amBody("resolved", "g", 1, amAlert{st: "resolved", labels: c, starts: t0.Add(4 * time.Minute), ends: t0.Add(50 * time.Minute)},
							amAlert{st: "resolved", labels: a, starts: t0, ends: t0.Add(50 * time.Minute)})
						h.am(batchKey, resolved)
						if tc.overflow != overflowOpen {
							// Sent again (a retry, or the other
							// Alertmanager of a cluster): recorded on
							// b's incident at most again, a moment
							// later, which changes nothing below.
							h.clock.Set(t0.Add(time.Hour + 10*time.Second))
							h.am(batchKey, resolved)
							if n := entryCounts(h.incident(bID))["resolve_withheld"]; n < 1 || n > 2 {
								t.Fatalf("b's incident has %d resolve_withheld entries after the resolve and its retry, want 1 or 2: %s", n, timelineTypes(h.incident(bID)))
							}
						}
						h.runUntil(t0.Add(61 * time.Minute))
					}
					if v := h.incident(bID); v.Status != "acknowledged" {
						t.Fatalf("b's incident before it fires again: %s, want acknowledged", v.Status)
					}
					before := len(h.rec.lines(t0))
					at := t0.Add(20 * time.Hour)
					h.clock.Set(at)
					start := t0
					if tc.refreshed {
						start = at.Add(-time.Minute)
					}
					h.am(batchKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start}))
					h.runUntil(at.Add(time.Minute))
					paged := h.rec.lines(t0)[before:]
					firedAnewOrRepeat(t, h, bID, paged, tc.paged, "acknowledged")
				})
			}
		})
	}
}

// TestAlertFiringAnewBeforeALaterWithheldResolvePages: in fingerprint
// mode, b's incident is acknowledged and the group's resolved
// notification leaves b out (max_alerts); b had ended, and fires anew two
// minutes later. The same resolve comes again three minutes after the
// first (Alertmanager retrying a 5xx of a store that failed over, or the
// other Alertmanager of a cluster), b still left out, firing now. When
// b is sent whole, its start is after the first withheld resolve and
// before the second: only the latest was read, and b's new firing read
// as a repeat of its acknowledged incident; nobody was paged. Any
// withheld resolve after the incident opened and before the alert
// started says the alert it was opened for had ended: the first one
// tells. The overflow incident open at the resolves, resolved by hand,
// or never opened (alertmanager_url, b active at the first resolve's
// check and ending just after it) alike.
func TestAlertFiringAnewBeforeALaterWithheldResolvePages(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, overflow := range []string{"open", "resolved by hand", "never opened (alertmanager_url)"} {
				t.Run("overflow incident "+overflow, func(t *testing.T) {
					h, am, a, b, c, bID := firingAAndB(t, open(t), overflow == "never opened (alertmanager_url)")
					t0 := fixedNow
					ackAll := func() { ackTriggered(t, h) }
					h.runUntil(t0.Add(time.Minute))
					ackAll()
					h.clock.Set(t0.Add(5 * time.Minute))
					h.am(batchKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: c, starts: t0.Add(4 * time.Minute)}, amAlert{st: "firing", labels: a, starts: t0}))
					h.runUntil(t0.Add(6 * time.Minute))
					ackAll()
					if ov, opened := overflowIncident(h); overflow == "resolved by hand" {
						if r := h.api("POST", "/api/v1/incidents/"+ov.ID+"/resolve", `{"user":"ann"}`); !opened || r.code != 200 {
							t.Fatalf("resolve the overflow incident (opened %v): %d %s", opened, r.code, r.body)
						}
					}
					w1 := t0.Add(time.Hour)
					h.clock.Set(w1)
					resolved := amBody("resolved", "g", 1, amAlert{st: "resolved", labels: c, starts: t0.Add(4 * time.Minute), ends: t0.Add(50 * time.Minute)},
						amAlert{st: "resolved", labels: a, starts: t0, ends: t0.Add(50 * time.Minute)})
					h.am(batchKey, resolved)
					h.runUntil(w1.Add(10 * time.Second)) // with the URL: b listed active, it ends just after
					if am != nil {
						am.hold()
					}
					start := w1.Add(2 * time.Minute) // b fires anew
					h.clock.Set(w1.Add(3 * time.Minute))
					if am != nil {
						am.hold(b)
					}
					h.am(batchKey, resolved) // sent again, b left out, firing now
					h.runUntil(w1.Add(4 * time.Minute))
					if v := h.incident(bID); v.Status != "acknowledged" {
						t.Fatalf("b's incident before b is sent whole: %s, want acknowledged: %s", v.Status, timelineTypes(v))
					}
					before := len(h.rec.lines(t0))
					at := t0.Add(20 * time.Hour)
					h.clock.Set(at)
					h.am(batchKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start}))
					h.runUntil(at.Add(time.Minute))
					if paged := h.rec.lines(t0)[before:]; h.incident(bID).Status != "resolved" || len(paged) == 0 {
						t.Fatalf("b fired anew after its group's first withheld resolve: its old incident %s, pages %v; want it resolved and a new incident paging",
							h.incident(bID).Status, paged)
					}
				})
			}
		})
	}
}

// TestAlertFiringAnewWhileItsIncidentPagedStaysARepeatOnceAcknowledged:
// in fingerprint mode the group's resolved notification leaves b out
// (max_alerts) while b's incident still pages; b had ended and fires anew
// minutes later, sent whole while its incident still pages: a repeat, as
// an incident still paging takes every firing. The person on call
// acknowledges it, working the outage b's new firing is. At the group's
// next notification (repeat_interval) that firing, started after the
// withheld resolve, was taken for b firing anew: the acknowledged
// incident was resolved and a new one paged them a second time for the
// outage they were working. An incident acknowledged after the firing
// started holds it. The overflow incident open at the resolve, and
// resolved by hand before it, alike.
func TestAlertFiringAnewWhileItsIncidentPagedStaysARepeatOnceAcknowledged(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, overflow := range []string{"open", "resolved by hand"} {
				t.Run("overflow incident "+overflow, func(t *testing.T) {
					h, _, a, b, c, bID := firingAAndB(t, open(t), false)
					t0 := fixedNow
					h.clock.Set(t0.Add(time.Minute))
					h.am(batchKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: c, starts: t0.Add(time.Minute)}, amAlert{st: "firing", labels: a, starts: t0}))
					ov, opened := overflowIncident(h)
					if !opened {
						t.Fatal("the overflow incident did not open for b, left out")
					}
					if overflow == "resolved by hand" {
						if r := h.api("POST", "/api/v1/incidents/"+ov.ID+"/resolve", `{"user":"ann"}`); r.code != 200 {
							t.Fatalf("resolve the overflow incident: %d %s", r.code, r.body)
						}
					}
					w := t0.Add(2 * time.Minute)
					h.clock.Set(w)
					h.am(batchKey, amBody("resolved", "g", 1, amAlert{st: "resolved", labels: c, starts: t0.Add(time.Minute), ends: w},
						amAlert{st: "resolved", labels: a, starts: t0, ends: w}))
					start := w.Add(2 * time.Minute) // b fires anew
					h.runUntil(w.Add(3 * time.Minute))
					if v := h.incident(bID); v.Status != "triggered" {
						t.Fatalf("b's incident before b fires anew: %s, want triggered (paging)", v.Status)
					}
					h.clock.Set(w.Add(3 * time.Minute))
					newFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start})
					h.am(batchKey, newFiring)
					if v := h.incident(bID); v.Status != "triggered" {
						t.Fatalf("b's incident after b's new firing, sent while it pages: %s, want triggered (a repeat)", v.Status)
					}
					h.clock.Set(w.Add(4 * time.Minute))
					if r := h.api("POST", "/api/v1/incidents/"+bID+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
						t.Fatalf("acknowledge: %d %s", r.code, r.body)
					}
					h.runUntil(w.Add(10 * time.Minute))
					before := len(h.rec.lines(t0))
					at := w.Add(4 * time.Hour) // repeat_interval: the same firing
					h.clock.Set(at)
					h.am(batchKey, newFiring)
					h.runUntil(at.Add(time.Minute))
					if paged := h.rec.lines(t0)[before:]; len(paged) != 0 || h.incident(bID).Status != "acknowledged" {
						t.Fatalf("pages %v, b's incident %s: %s; want a repeat of b's acknowledged incident, which holds this firing",
							paged, h.incident(bID).Status, timelineTypes(h.incident(bID)))
					}
				})
			}
		})
	}
}

// TestAlertFiringAnewWhileItsIncidentPagedStaysARepeatWithNoAck: as
// above, but nobody acknowledges: b's incident pages every level of its
// ladder and stops, unacknowledged. b had ended (the group's resolve left
// it out) and fired anew while the incident still paged: a repeat. At
// the next notification of that firing (repeat_interval, hours later) the
// incident paged nobody any more and nothing held the firing (no
// acknowledgement after it started), so it was taken for b firing anew:
// the incident was resolved and a new one paged the same people again,
// for the firing the incident had paged them about. A page of the
// incident a minute or more after the firing started holds it. b firing
// anew after the ladder ran out still pages, and so does a firing that
// started less than a minute before the last page (the start is on
// Prometheus's clock: a page that close to it says nothing).
func TestAlertFiringAnewWhileItsIncidentPagedStaysARepeatWithNoAck(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t0 := fixedNow
			lastPage := t0.Add(20 * time.Minute) // bob's call, the secondary level's last step
			for _, tc := range []struct {
				name     string
				overflow string
				start    time.Time // b's new firing
				paged    bool
			}{
				{"fires anew while it pages", "open", t0.Add(4 * time.Minute), false},
				{"fires anew while it pages, overflow incident resolved by hand", "resolved by hand", t0.Add(4 * time.Minute), false},
				{"fires anew after its ladder ran out", "open", t0.Add(time.Hour), true},
				{"fires anew after its ladder ran out, overflow incident resolved by hand", "resolved by hand", t0.Add(time.Hour), true},
				{"fires anew less than a minute before its last page", "open", lastPage.Add(-30 * time.Second), true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					h, _, a, b, c, bID := firingAAndB(t, open(t), false)
					h.clock.Set(t0.Add(time.Minute))
					h.am(batchKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: c, starts: t0.Add(time.Minute)}, amAlert{st: "firing", labels: a, starts: t0}))
					ov, opened := overflowIncident(h)
					if !opened {
						t.Fatal("the overflow incident did not open for b, left out")
					}
					if tc.overflow == "resolved by hand" {
						if r := h.api("POST", "/api/v1/incidents/"+ov.ID+"/resolve", `{"user":"ann"}`); r.code != 200 {
							t.Fatalf("resolve the overflow incident: %d %s", r.code, r.body)
						}
					}
					w := t0.Add(2 * time.Minute)
					h.clock.Set(w)
					h.am(batchKey, amBody("resolved", "g", 1, amAlert{st: "resolved", labels: c, starts: t0.Add(time.Minute), ends: w},
						amAlert{st: "resolved", labels: a, starts: t0, ends: w}))
					newFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: tc.start})
					sent := tc.start.Add(time.Minute) // group_wait, and then some
					if sent.Before(lastPage) {
						h.runUntil(sent)
						h.am(batchKey, newFiring)
						if v := h.incident(bID); v.Status != "triggered" || v.NextStepAt == nil {
							t.Fatalf("b's incident after b's new firing, sent while it pages: %s (next step %v), want triggered and paging (a repeat)", v.Status, v.NextStepAt)
						}
					}
					wantLadderOver(t, h, bID, lastPage.Add(time.Minute))
					before := len(h.rec.lines(t0))
					at := w.Add(4 * time.Hour) // repeat_interval: the same firing, or its first notification
					if !sent.Before(lastPage) {
						at = sent
					}
					h.clock.Set(at)
					h.am(batchKey, newFiring)
					h.runUntil(at.Add(time.Minute))
					paged := h.rec.lines(t0)[before:]
					firedAnewOrRepeat(t, h, bID, paged, tc.paged, "triggered")
				})
			}
		})
	}
}

// TestAlertFiringAnewWhileItsReopenedIncidentPagedStaysARepeatOnceAcknowledged:
// b's incident is acknowledged, then escalated (re-opened), which pages
// bob. The group's resolve had left b out; b had ended and fires anew
// while bob is paged: a repeat. Bob acknowledges it, a minute and more
// after b started, working the outage its new firing is; his last page
// (the SMS) went out less than a minute after that start. The
// acknowledgement that holds a firing (55e387b) was read as the first
// one, before the reopen, which the incident keeps for the time to
// acknowledge: at the firing's next notification (repeat_interval) the
// incident was resolved and a new one paged ann for the outage bob was
// working. The latest acknowledgement holds it. The overflow incident
// open at the resolve, and resolved by hand before it, alike.
func TestAlertFiringAnewWhileItsReopenedIncidentPagedStaysARepeatOnceAcknowledged(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, overflow := range []string{"open", "resolved by hand"} {
				t.Run("overflow incident "+overflow, func(t *testing.T) {
					h, _, a, b, c, bID := firingAAndB(t, open(t), false)
					t0 := fixedNow
					h.clock.Set(t0.Add(time.Minute))
					if r := h.api("POST", "/api/v1/incidents/"+bID+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
						t.Fatalf("acknowledge: %d %s", r.code, r.body)
					}
					h.am(batchKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: c, starts: t0.Add(time.Minute)}, amAlert{st: "firing", labels: a, starts: t0}))
					ov, opened := overflowIncident(h)
					if !opened {
						t.Fatal("the overflow incident did not open for b, left out")
					}
					if overflow == "resolved by hand" {
						if r := h.api("POST", "/api/v1/incidents/"+ov.ID+"/resolve", `{"user":"ann"}`); r.code != 200 {
							t.Fatalf("resolve the overflow incident: %d %s", r.code, r.body)
						}
					}
					w := t0.Add(2 * time.Minute)
					h.clock.Set(w)
					h.am(batchKey, amBody("resolved", "g", 1, amAlert{st: "resolved", labels: c, starts: t0.Add(time.Minute), ends: w},
						amAlert{st: "resolved", labels: a, starts: t0, ends: w}))
					h.clock.Set(t0.Add(3 * time.Minute))
					if r := h.api("POST", "/api/v1/incidents/"+bID+"/escalate", `{"user":"ann"}`); r.code != 200 {
						t.Fatalf("escalate: %d %s", r.code, r.body)
					}
					start := t0.Add(4*time.Minute + 30*time.Second) // b fires anew; bob's SMS at 5m
					h.runUntil(t0.Add(5*time.Minute + 10*time.Second))
					newFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start})
					h.am(batchKey, newFiring)
					if v := h.incident(bID); v.Status != "triggered" || v.Reopened != 1 {
						t.Fatalf("b's incident after b's new firing, sent while it pages bob: %s, reopened %d; want triggered, reopened once (a repeat)", v.Status, v.Reopened)
					}
					h.clock.Set(t0.Add(6 * time.Minute))
					if r := h.api("POST", "/api/v1/incidents/"+bID+"/acknowledge", `{"user":"bob"}`); r.code != 200 {
						t.Fatalf("bob's acknowledgement: %d %s", r.code, r.body)
					}
					h.runUntil(t0.Add(10 * time.Minute))
					before := len(h.rec.lines(t0))
					at := w.Add(4 * time.Hour) // repeat_interval: the same firing
					h.clock.Set(at)
					h.am(batchKey, newFiring)
					h.runUntil(at.Add(time.Minute))
					if paged := h.rec.lines(t0)[before:]; len(paged) != 0 || h.incident(bID).Status != "acknowledged" {
						t.Fatalf("pages %v, b's incident %s: %s; want a repeat of b's incident, which bob acknowledged while this firing fired",
							paged, h.incident(bID).Status, timelineTypes(h.incident(bID)))
					}
				})
			}
		})
	}
}

// TestGroupStillFiringUnderClockSkewStaysARepeat: the alert Alertmanager
// left out of the group's resolved notification (max_alerts) fired a
// moment before that notification went out, on a Prometheus whose clock
// runs a few seconds ahead of pagerd's (or whose alert says it starts in
// the future). Its startsAt reads as after the resolve pagerd withheld,
// though it fired through it. When Alertmanager sends the group whole
// again (repeat_interval), it was taken for the group firing anew: the
// acknowledged incident was resolved and a new one paged the person on
// call a second time for an outage they were already working. Starts are
// another host's clock: only a start well after the withheld resolve, and
// not later than pagerd's own now, says the group had ended.
func TestGroupStillFiringUnderClockSkewStaysARepeat(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name   string
				starts func(withheld, now time.Time) time.Time
			}{
				{"prometheus two seconds ahead", func(w, _ time.Time) time.Time { return w.Add(2 * time.Second) }},
				{"a start in the future", func(_, now time.Time) time.Time { return now.Add(10 * time.Minute) }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					h := newHarness(t, withStore(open(t)), withConfig(noStorm))
					t0 := fixedNow
					a, c := lbl("X", "critical", "a"), lbl("X", "critical", "c")
					r := h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0.Add(-time.Minute)}))
					var res struct{ Incidents []string }
					r.json(t, &res)
					id := res.Incidents[0]
					h.runUntil(t0.Add(time.Minute))
					if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
						t.Fatalf("acknowledge: %d %s", r.code, r.body)
					}
					withheld := t0.Add(time.Hour)
					h.clock.Set(withheld)
					// a resolved; c, firing, is left out.
					h.am(amKey, amBody("resolved", "g", 1, amAlert{st: "resolved", labels: a, starts: t0.Add(-time.Minute), ends: withheld.Add(-time.Minute)}))
					before := len(h.rec.lines(t0))
					at := withheld.Add(4 * time.Hour)
					h.clock.Set(at)
					h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: c, starts: tc.starts(withheld, at)}))
					h.runUntil(at.Add(time.Minute))
					paged := h.rec.lines(t0)[before:]
					incs := h.list("")
					if len(paged) != 0 || len(incs) != 1 || h.incident(id).Status != "acknowledged" {
						t.Fatalf("a group that never ended, its start read on a skewed clock: pages %v, %d incidents, old one %s; want a repeat of the acknowledged incident",
							paged, len(incs), h.incident(id).Status)
					}
				})
			}
		})
	}
}

// TestGroupWithSilencedAlertsIsNotWholeForTheFiredAnewCheck: group mode
// with silence_on_acknowledge. The incident's alerts a and b are
// acknowledged, and so silenced in Alertmanager: they still fire, but
// Alertmanager mutes them, out of every notification, without counting
// them in truncatedAlerts. Alerts that joined later resolve in a
// notification that left one out (max_alerts), so the resolve is
// withheld. Hours later another alert joins, and Alertmanager sends it
// alone, truncatedAlerts 0: it is not the whole group, a and b are muted.
// It was taken for the group firing anew: the acknowledged incident was
// resolved (and its silences expired, so a and b reach the on-call again)
// and a new incident paged them for the outage they were working. A
// notification leaves muted alerts out while the incident's silences
// hold: it stays a repeat.
func TestGroupWithSilencedAlertsIsNotWholeForTheFiredAnewCheck(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFakeSilences(t)
			h := newHarness(t, withStore(open(t)), withConfig(silenceConfig(f.url)+"notifiers: {storm: {window: 0s}}\n"))
			t0 := fixedNow
			a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
			d, e, g := lbl("X", "critical", "d"), lbl("X", "critical", "e"), lbl("X", "critical", "g")
			started := t0.Add(-time.Minute)
			r := h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: started}, amAlert{st: "firing", labels: b, starts: started}))
			var res struct{ Incidents []string }
			r.json(t, &res)
			id := res.Incidents[0]
			h.runUntil(t0.Add(time.Minute))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("acknowledge: %d %s", r.code, r.body)
			}
			h.step(h.clock.Now())
			if len(f.silencedBy(a)) == 0 || len(f.silencedBy(b)) == 0 {
				t.Fatalf("a and b not silenced at the acknowledgement: %+v", f.posted())
			}
			// a and b muted from here on.
			joined := t0.Add(10 * time.Minute)
			h.clock.Set(joined)
			h.am(amKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: d, starts: joined}, amAlert{st: "firing", labels: e, starts: joined}))
			withheld := t0.Add(time.Hour)
			h.clock.Set(withheld)
			h.am(amKey, amBody("resolved", "g", 1, amAlert{st: "resolved", labels: d, starts: joined, ends: withheld.Add(-time.Minute)},
				amAlert{st: "resolved", labels: e, starts: joined, ends: withheld.Add(-time.Minute)}))
			if v := h.incident(id); v.Status != "acknowledged" {
				t.Fatalf("after the resolve that left an alert out: %s, want acknowledged (withheld)", v.Status)
			}
			at := withheld.Add(4 * time.Hour)
			h.clock.Set(at)
			h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: g, starts: at.Add(-time.Minute)}))
			if incs := h.list(""); len(incs) != 1 || h.incident(id).Status != "acknowledged" {
				t.Fatalf("a joiner sent alone while a and b fire silenced: %d incidents, old one %s; want a repeat of the acknowledged incident (timeline %s)",
					len(incs), h.incident(id).Status, timelineTypes(h.incident(id)))
			}
		})
	}
}

// TestGroupFiringAnewWhileItsIncidentPagedStaysARepeatWithNoAck: group
// mode, as TestAlertFiringAnewWhileItsIncidentPagedStaysARepeatWithNoAck
// is fingerprint mode's. The group's resolve left alerts out, so it was
// withheld and the incident paged on; the group fired anew (b) while it
// still paged, a repeat; nobody acknowledged and the ladder ran out. At
// the next notification of that firing (repeat_interval) b's start was
// after the withheld resolve and nothing held it, so the incident was
// resolved and a new one paged the same people again for the firing the
// incident had paged them about. The group firing anew after the ladder
// ran out still pages.
func TestGroupFiringAnewWhileItsIncidentPagedStaysARepeatWithNoAck(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name  string
				start time.Duration // b's, from the first firing
				paged bool
			}{
				{"fires anew while it pages", 4 * time.Minute, false},
				{"fires anew after its ladder ran out", 3 * time.Hour, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					h := newHarness(t, withStore(open(t)), withConfig(noStorm))
					t0 := fixedNow
					a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
					id, _ := withheldGroup(t, h, a)
					if v := h.incident(id); v.Status != "triggered" {
						t.Fatalf("after the resolve that left alerts out: %s, want triggered (withheld)", v.Status)
					}
					start := t0.Add(tc.start)
					newFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start})
					at := start.Add(time.Minute) // its first notification
					if !tc.paged {
						h.runUntil(at)
						h.am(amKey, newFiring)
						if v := h.incident(id); v.Status != "triggered" || v.NextStepAt == nil {
							t.Fatalf("after b's firing, sent while the incident pages: %s (next step %v), want triggered and paging (a repeat)", v.Status, v.NextStepAt)
						}
						at = start.Add(4 * time.Hour) // repeat_interval: the same firing again
					}
					wantLadderOver(t, h, id, t0.Add(2*time.Hour))
					before := len(h.rec.lines(t0))
					h.clock.Set(at)
					h.am(amKey, newFiring)
					h.runUntil(at.Add(time.Minute))
					paged := h.rec.lines(t0)[before:]
					firedAnewOrRepeat(t, h, id, paged, tc.paged, "triggered")
				})
			}
		})
	}
}

// TestGroupFiringAnewWhileItsLadderReachedNobodyPages: as
// TestGroupFiringAnewWhileItsIncidentPagedStaysARepeatWithNoAck, but
// after the group fired anew (b, after ann's last page) the ladder's only
// steps reached nobody: the secondary level had nobody on call (an
// escalation that pages nobody), or every page to bob was refused. b's
// first notification came while the incident still paged (its
// escalation pending), a repeat; the ladder then ran out having told
// nobody of it. The escalate and notify_failed entries after b started
// were taken for the ladder paging while it fired, so the next
// notification of that firing (repeat_interval) stayed a repeat too, and
// the new outage never paged anyone. Only a step that may have reached
// someone (a page sent, one that may have been, or one held for a storm
// message) holds a firing.
func TestGroupFiringAnewWhileItsLadderReachedNobodyPages(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				cfg  string
				opts []option
			}{
				{"the secondary has nobody on call", secondaryInOfficeHours(), nil},
				{"every page to the secondary is refused", strings.Replace(noStorm,
					`{id: bob, name: Bob, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}`,
					`{id: bob, name: Bob, contacts: [{channel: voice, via: webhook, address: "http://127.0.0.1:1/unused"}]}`, 1),
					[]option{withNotifier("webhook", refusingPage{})}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					h := newHarness(t, append([]option{withStore(open(t)), withConfig(tc.cfg)}, tc.opts...)...)
					t0 := fixedNow
					a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
					id, _ := withheldGroup(t, h, a)
					if v := h.incident(id); v.Status != "triggered" {
						t.Fatalf("after the resolve that left alerts out: %s, want triggered (withheld)", v.Status)
					}
					start := t0.Add(6 * time.Minute) // after ann's call at 5m, her last page
					newFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start})
					h.runUntil(start.Add(time.Minute))
					h.am(amKey, newFiring)
					if v := h.incident(id); v.Status != "triggered" || v.NextStepAt == nil {
						t.Fatalf("after b's firing, sent while the incident pages: %s (next step %v), want triggered and paging (a repeat)", v.Status, v.NextStepAt)
					}
					wantLadderOver(t, h, id, t0.Add(2*time.Hour))
					wantNoPageAfter(t, h, id, start)
					// repeat_interval: the same firing again
					wantFiredAnewAt(t, h, id, start.Add(4*time.Hour), newFiring, "the group fired anew and the ladder reached nobody since")
				})
			}
		})
	}
}

// TestGroupFiringAnewWhileItsOnlyPageWasReportedUndeliveredPages: as
// TestGroupFiringAnewWhileItsLadderReachedNobodyPages, but the ladder's
// one page after the group fired anew went out: Twilio took bob's SMS,
// then reported it undelivered (it reached nobody, for certain), and the
// ladder ran out. That page told nobody of the new firing, as a refused
// one: the next notification of the firing (repeat_interval) pages. A
// report that the SMS was delivered leaves it a repeat.
func TestGroupFiringAnewWhileItsOnlyPageWasReportedUndeliveredPages(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				status string
				paged  bool
			}{{"undelivered", true}, {"delivered", false}} {
				t.Run(tc.status, func(t *testing.T) {
					fake := providertest.NewTwilio(t)
					cfg := strings.Replace(testConfig,
						`{id: bob, name: Bob, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}`,
						`{id: bob, name: Bob, contacts: [{channel: sms, via: twilio, address: "+15555550112"}], notification_rules: {high: [{after: 0s, channel: sms}]}}`, 1) +
						"notifiers:\n  storm: {window: 0s}\n  twilio: {account_sid: " + twSID + ", auth_token: " + twToken + `, from: "` + twFrom + `"}` + "\n"
					h := newHarness(t, withStore(open(t)), withConfig(twilioAt(fake, cfg)), realTransport("twilio"))
					t0 := fixedNow
					a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
					id, _ := withheldGroup(t, h, a)
					start := t0.Add(6 * time.Minute) // after ann's call at 5m, her last page
					newFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start})
					h.runUntil(start.Add(time.Minute))
					h.am(amKey, newFiring)
					if v := h.incident(id); v.Status != "triggered" || v.NextStepAt == nil {
						t.Fatalf("after b's firing, sent while the incident pages: %s (next step %v), want triggered and paging (a repeat)", v.Status, v.NextStepAt)
					}
					h.runUntil(t0.Add(16 * time.Minute))
					if n := len(fake.Messages()); n != 1 {
						t.Fatalf("Twilio got %d messages, want 1 (bob's SMS at 15m)", n)
					}
					if code, _ := fake.Callback(t, fake.Messages()[0].Get("StatusCallback"), url.Values{"MessageSid": {providertest.MessageSID(0)},
						"MessageStatus": {tc.status}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}); code != 204 && code != 200 {
						t.Fatalf("status callback: %d", code)
					}
					wantLadderOver(t, h, id, t0.Add(2*time.Hour))
					before := len(h.rec.lines(t0))
					at := start.Add(4 * time.Hour) // repeat_interval: the same firing again
					h.clock.Set(at)
					h.am(amKey, newFiring)
					h.runUntil(at.Add(time.Minute))
					paged := h.rec.lines(t0)[before:]
					if !tc.paged {
						if len(paged) != 0 || h.incident(id).Status != "triggered" {
							t.Fatalf("pages %v, the incident %s: %s; want a repeat, bob's SMS having reached him while it fired",
								paged, h.incident(id).Status, timelineTypes(h.incident(id)))
						}
						return
					}
					if h.incident(id).Status != "resolved" || len(paged) == 0 {
						t.Fatalf("the group fired anew and its only page since reached nobody: the old incident %s, pages %v; want it resolved and a new incident paging: %s",
							h.incident(id).Status, paged, timelineTypes(h.incident(id)))
					}
				})
			}
		})
	}
}

// TestGroupFiringAnewFirstNotifiedAfterItsIncidentsLastPagePages: group
// mode. The group's resolve left alerts out, so it was withheld and the
// incident paged on, nobody acknowledging. The group fired anew (b) a
// minute and a half before the ladder's last page, and its first
// notification came after that page (group_wait past a minute, or a
// delivery Alertmanager retried), the incident quiet. The incident never
// took b's firing while it paged: its last page was about the group's
// first outage, sent before pagerd knew of b. Taken as a repeat, b paged
// nobody, then or at repeat_interval.
func TestGroupFiringAnewFirstNotifiedAfterItsIncidentsLastPagePages(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(noStorm))
			t0 := fixedNow
			a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
			id, w := withheldGroup(t, h, a)
			h.runUntil(t0.Add(2 * time.Hour))
			v := h.incident(id)
			if v.Status != "triggered" || v.NextStepAt != nil {
				t.Fatalf("after its ladder: %s (next step %v), want triggered with nothing pending: %s", v.Status, v.NextStepAt, timelineTypes(v))
			}
			var last time.Time
			for _, e := range v.Timeline {
				if e.Type == "notify" && e.At.After(last) {
					last = e.At
				}
			}
			start := last.Add(-90 * time.Second)
			if !start.After(w.Add(time.Minute)) {
				t.Fatalf("the ladder's last page at %v is too early for the test", last)
			}
			before := len(h.rec.lines(t0))
			at := last.Add(30 * time.Second) // b's first notification
			h.clock.Set(at)
			h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start}))
			h.runUntil(at.Add(time.Minute))
			if paged := h.rec.lines(t0)[before:]; len(paged) == 0 || h.incident(id).Status != "resolved" {
				t.Fatalf("b started at %v, 90 s before the incident's last page (%v), first notified at %v: pages %v, the old incident %s: %s; want it resolved and a new incident paging",
					start.Format(time.TimeOnly), last.Format(time.TimeOnly), at.Format(time.TimeOnly), paged, h.incident(id).Status, timelineTypes(h.incident(id)))
			}
		})
	}
}

// TestFiringTakenIsNotedOnce: a group whose alerts all started after its
// incident opened (a replaced by b while the incident pages) is repeated
// at every notification (group_interval, repeat_interval); the incident
// notes that it took b's firing (firing_taken) once, not at each repeat,
// which grew a long incident's timeline by an entry every notification.
func TestFiringTakenIsNotedOnce(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(noStorm))
			t0 := fixedNow
			a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
			r := h.am(amKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: a, starts: t0}))
			var res struct{ Incidents []string }
			r.json(t, &res)
			id := res.Incidents[0]
			for i := range 4 {
				at := t0.Add(time.Duration(5+i) * time.Minute)
				h.clock.Set(at)
				if r := h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: t0.Add(3 * time.Minute)})); r.code != 200 {
					t.Fatalf("notification %d: %d %s", i, r.code, r.body)
				}
			}
			n := 0
			for _, e := range h.incident(id).Timeline {
				if e.Type == "firing_taken" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("firing_taken noted %d times over 4 notifications of one firing, want once: %s", n, timelineTypes(h.incident(id)))
			}
		})
	}
}

// TestGroupFlappingAfterItsIncidentTookItsFiringStaysARepeat: group mode.
// The group's resolve left alerts out, so it was withheld and the
// incident stayed open. The group fired anew (b) while the incident
// paged: a repeat, the incident took b's firing (firing_taken) and paged
// on for it, and, acknowledged or not, its people were told of b. b then
// flapped (resolved and fired again within group_interval, so
// Alertmanager sent no resolve between) and its next notification
// (repeat_interval) carried b's new start. No resolve came after the
// incident took b: the group never ended since. The withheld resolve
// from before b was taken for the group's end, the incident resolved and
// a new one paged the same people again for the outage they had been
// paged for (and, acknowledged, were working).
func TestGroupFlappingAfterItsIncidentTookItsFiringStaysARepeat(t *testing.T) {
	for name, open := range stores(t) {
		for _, ack := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s acknowledged %v", name, ack), func(t *testing.T) {
				h := newHarness(t, withStore(open(t)), withConfig(noStorm))
				t0 := fixedNow
				a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
				id, _ := withheldGroup(t, h, a)
				// b fires anew while the incident pages: a repeat, taken.
				h.runUntil(t0.Add(5 * time.Minute))
				h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: t0.Add(4 * time.Minute)}))
				if v := h.incident(id); v.Status != "triggered" || !h.timelineHas(id, "firing_taken", "") {
					t.Fatalf("after b's first notification: %s: %s; want triggered, b's firing taken", v.Status, timelineTypes(v))
				}
				status := "triggered"
				if ack {
					h.runUntil(t0.Add(6 * time.Minute))
					if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
						t.Fatalf("acknowledge: %d %s", r.code, r.body)
					}
					status = "acknowledged"
				}
				h.runUntil(t0.Add(2 * time.Hour))
				if v := h.incident(id); string(v.Status) != status || v.NextStepAt != nil {
					t.Fatalf("before b flaps: %s (next step %v): %s", v.Status, v.NextStepAt, timelineTypes(v))
				}
				// b flaps at 2h10m; Alertmanager sends it at repeat_interval.
				before := len(h.rec.lines(t0))
				at := t0.Add(6 * time.Hour)
				h.clock.Set(at)
				h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: t0.Add(2*time.Hour + 10*time.Minute)}))
				h.runUntil(at.Add(time.Minute))
				paged := h.rec.lines(t0)[before:]
				firedAnewOrRepeat(t, h, id, paged, false, status)
			})
		}
	}
}

// TestGroupFiringAnewAfterAResolveWithheldSinceItsIncidentTookAFiringPages:
// as TestGroupFlappingAfterItsIncidentTookItsFiringStaysARepeat, but the
// group the incident took (b) then resolved, and its resolve left alerts
// out too (withheld after the incident took b): c, firing after that
// resolve, is the group firing anew, and pages.
func TestGroupFiringAnewAfterAResolveWithheldSinceItsIncidentTookAFiringPages(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(noStorm))
			t0 := fixedNow
			a, b, c := lbl("X", "critical", "a"), lbl("X", "critical", "b"), lbl("X", "critical", "c")
			id, _ := withheldGroup(t, h, a)
			h.runUntil(t0.Add(5 * time.Minute))
			h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: t0.Add(4 * time.Minute)}))
			if !h.timelineHas(id, "firing_taken", "") {
				t.Fatalf("b's firing not taken: %s", timelineTypes(h.incident(id)))
			}
			h.runUntil(t0.Add(2 * time.Hour))
			w2 := t0.Add(2*time.Hour + 5*time.Minute)
			h.clock.Set(w2)
			h.am(amKey, amBody("resolved", "g", 1, amAlert{st: "resolved", labels: b, starts: t0.Add(4 * time.Minute), ends: w2}))
			before := len(h.rec.lines(t0))
			at := t0.Add(6 * time.Hour)
			h.clock.Set(at)
			h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: c, starts: at.Add(-5 * time.Minute)}))
			h.runUntil(at.Add(time.Minute))
			firedAnewOrRepeat(t, h, id, h.rec.lines(t0)[before:], true, "")
		})
	}
}

// TestGroupFlappingWithinAMinuteOfItsFiringTakenStaysARepeat: as
// TestGroupFlappingAfterItsIncidentTookItsFiringStaysARepeat, with the
// clocks in step, but b flaps less than startSkew after the incident took
// its firing: ann acknowledged, and b resolved and fired again 40 s after
// the firing_taken entry (within group_interval: no resolve sent). The
// entry, noted within a minute before the new start, was read as the new
// firing's own taking and no longer bounded the resolve withheld before
// it, so that resolve was taken for the group's end: the incident was
// resolved and ann paged again for the outage she was working.
func TestGroupFlappingWithinAMinuteOfItsFiringTakenStaysARepeat(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(noStorm))
			t0 := fixedNow
			a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
			id, _ := withheldGroup(t, h, a)
			taken := t0.Add(5 * time.Minute)
			h.runUntil(taken)
			h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: t0.Add(4 * time.Minute)}))
			if v := h.incident(id); v.Status != "triggered" || !h.timelineHas(id, "firing_taken", "") {
				t.Fatalf("after b's first notification: %s: %s; want triggered, b's firing taken", v.Status, timelineTypes(v))
			}
			h.runUntil(taken.Add(10 * time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("acknowledge: %d %s", r.code, r.body)
			}
			h.runUntil(t0.Add(2 * time.Hour))
			before := len(h.rec.lines(t0))
			at := t0.Add(4 * time.Hour) // repeat_interval
			h.clock.Set(at)
			h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: taken.Add(40 * time.Second)}))
			h.runUntil(at.Add(time.Minute))
			firedAnewOrRepeat(t, h, id, h.rec.lines(t0)[before:], false, "acknowledged")
		})
	}
}

// TestGroupFiringAnewTakenJustBeforeItsLastPageStaysARepeat: clocks in
// step. The group's resolve was withheld and it fired anew (b, at
// 14m30s) while its incident paged; b's first notification (group_wait,
// 20 s) was a repeat, taken at 14m50s, and at 15m the ladder escalated to
// bob, whose rules push only: his push, after the taking, told him of b,
// and the ladder ran out, nobody acknowledging. The push came less than
// a minute after b's start, so it was not counted as a page while b
// fired: at b's next notification (repeat_interval) the incident was
// resolved and bob paged again for the outage he had been paged about.
// A page after the firing's taking in the timeline holds it, however
// soon after its start.
func TestGroupFiringAnewTakenJustBeforeItsLastPageStaysARepeat(t *testing.T) {
	cfg := strings.Replace(noStorm,
		`{id: bob, name: Bob, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}`,
		`{id: bob, name: Bob, contacts: [{channel: push, via: log}], notification_rules: {high: [{after: 0s, channel: push}]}}`, 1)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(cfg))
			t0 := fixedNow
			a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
			id, _ := withheldGroup(t, h, a)
			start := t0.Add(14*time.Minute + 30*time.Second)
			newFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start})
			h.runUntil(start.Add(20 * time.Second))
			h.am(amKey, newFiring)
			if v := h.incident(id); v.Status != "triggered" || v.NextStepAt == nil || !h.timelineHas(id, "firing_taken", "") {
				t.Fatalf("after b's firing, sent while the incident pages: %s (next step %v): %s; want triggered and paging, b taken", v.Status, v.NextStepAt, timelineTypes(v))
			}
			wantLadderOver(t, h, id, t0.Add(2*time.Hour))
			if !h.timelineHas(id, "notify", "") {
				t.Fatal("no page")
			}
			before := len(h.rec.lines(t0))
			at := start.Add(4 * time.Hour) // repeat_interval: the same firing again
			h.clock.Set(at)
			h.am(amKey, newFiring)
			h.runUntil(at.Add(time.Minute))
			firedAnewOrRepeat(t, h, id, h.rec.lines(t0)[before:], false, "triggered")
		})
	}
}

// secondaryInOfficeHours is noStorm with bob on call for the secondary
// in office hours only: at the harness's time, nobody.
func secondaryInOfficeHours() string {
	return strings.Replace(noStorm, `      - {name: secondary, start: 2025-01-06, members: [bob]}`, `      - name: secondary
        layers:
          - {name: office, start: 2025-01-06, members: [bob], restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]}`, 1)
}

// wantFiredAnewAt sends firing again at at (its next notification), runs
// a minute, and wants the old incident resolved and a new one paging:
// the group had fired anew; what says how.
func wantFiredAnewAt(t *testing.T, h *harness, id string, at time.Time, firing, what string) {
	t.Helper()
	before := len(h.rec.lines(fixedNow))
	h.clock.Set(at)
	h.am(amKey, firing)
	h.runUntil(at.Add(time.Minute))
	if paged := h.rec.lines(fixedNow)[before:]; h.incident(id).Status != "resolved" || len(paged) == 0 {
		t.Fatalf("%s: the old incident %s, pages %v; want it resolved and a new incident paging: %s",
			what, h.incident(id).Status, paged, timelineTypes(h.incident(id)))
	}
}

// TestGroupFiringAnewFirstSentTruncatedWhileItsIncidentPagedStaysARepeat:
// clocks in step. The group's resolve was withheld and it fired anew (b1
// and b2, at 4m) while its incident paged; Alertmanager left b2 out of
// their notifications (max_alerts), so none was whole and no start was
// known: the incident took the firing as a repeat without a firing_taken
// entry, and its ladder paged ann and bob while b fired, then ran out,
// nobody acknowledging. Once b2 resolved, b1's next notification came
// whole: with no entry of the firing's taking, the pages since were held
// for nothing, the resolve withheld before b read as the group's end, and
// the incident was resolved and its people paged again for the outage
// they had been paged about. Acknowledged after the taking, it stays a
// repeat too; and when b's own resolve, cut as well, was withheld after
// the taking, c firing later is the group firing anew, and pages.
func TestGroupFiringAnewFirstSentTruncatedWhileItsIncidentPagedStaysARepeat(t *testing.T) {
	for name, open := range stores(t) {
		for _, tc := range []struct {
			name       string
			ack, ended bool
		}{{"paged", false, false}, {"acknowledged", true, false}, {"ended since", false, true}} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				h := newHarness(t, withStore(open(t)), withConfig(noStorm))
				t0 := fixedNow
				a, b, c := lbl("X", "critical", "a"), lbl("X", "critical", "b1"), lbl("X", "critical", "c")
				id, _ := withheldGroup(t, h, a)
				start := t0.Add(4 * time.Minute)
				h.runUntil(t0.Add(5 * time.Minute))
				h.am(amKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: b, starts: start}))
				if v := h.incident(id); v.Status != "triggered" || v.NextStepAt == nil {
					t.Fatalf("after b's first notification, sent while the incident pages: %s (next step %v), want triggered and paging (a repeat)", v.Status, v.NextStepAt)
				}
				status := "triggered"
				if tc.ack {
					h.runUntil(t0.Add(6 * time.Minute))
					if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
						t.Fatalf("acknowledge: %d %s", r.code, r.body)
					}
					status = "acknowledged"
				}
				h.runUntil(t0.Add(2 * time.Hour))
				v := h.incident(id)
				if string(v.Status) != status || v.NextStepAt != nil {
					t.Fatalf("after its ladder: %s (next step %v), want %s with nothing pending: %s", v.Status, v.NextStepAt, status, timelineTypes(v))
				}
				paged := false
				for _, e := range v.Timeline {
					paged = paged || (e.Type == "notify" && e.At.After(t0.Add(5*time.Minute)))
				}
				if !paged && !tc.ack {
					t.Fatalf("the ladder paged nobody after b's first notification: the test wants it to: %s", timelineTypes(v))
				}
				next := amAlert{st: "firing", labels: b, starts: start} // b2 resolved; b1 sent whole at repeat_interval
				at := start.Add(4 * time.Hour)
				if tc.ended {
					w2 := t0.Add(2*time.Hour + 5*time.Minute)
					h.clock.Set(w2)
					h.am(amKey, amBody("resolved", "g", 1, amAlert{st: "resolved", labels: b, starts: start, ends: w2}))
					at = t0.Add(6 * time.Hour)
					next = amAlert{st: "firing", labels: c, starts: at.Add(-5 * time.Minute)}
				}
				before := len(h.rec.lines(t0))
				h.clock.Set(at)
				h.am(amKey, amBody("firing", "g", 0, next))
				h.runUntil(at.Add(time.Minute))
				firedAnewOrRepeat(t, h, id, h.rec.lines(t0)[before:], tc.ended, status)
			})
		}
	}
}

// TestGroupFiringAnewAcknowledgedBeforeItsFirstNotificationPages: clocks
// in step. The group's resolve was withheld and its incident's ladder ran
// out, nobody acknowledging. Hours later the group fires anew (b); before
// its first notification reaches pagerd (group_wait past a minute, or a
// delivery Alertmanager retried), ann acknowledges the old incident, a
// minute and a half after b started. Her acknowledgement was about the
// outage the incident paged for, not b, which pagerd had not heard of: as
// a page sent before the taking, it told nobody of b. Read by its time
// (after b's start), it held b, and b's every notification was a repeat
// of the acknowledged incident: the new outage paged nobody.
func TestGroupFiringAnewAcknowledgedBeforeItsFirstNotificationPages(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(noStorm))
			t0 := fixedNow
			a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
			id, _ := withheldGroup(t, h, a)
			wantLadderOver(t, h, id, t0.Add(2*time.Hour))
			start := t0.Add(3 * time.Hour)
			h.clock.Set(start.Add(90 * time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("acknowledge: %d %s", r.code, r.body)
			}
			// b's first notification, two minutes after it started.
			wantFiredAnewAt(t, h, id, start.Add(2*time.Minute), amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start}),
				"b fired anew and was first notified after ann acknowledged the old incident")
		})
	}
}

// TestGroupFiringAnewTurnedOverWhileItsLadderReachedNobodyPages: as
// TestGroupFiringAnewWhileItsLadderReachedNobodyPages (clocks in step,
// the secondary level has nobody on call), but the group's alerts turned
// over while the incident still paged: b fired anew at 6m and was taken
// at 7m (firing_taken), b2 joined at 9m and b resolved at 10m, both sent
// before the escalation at 15m, which reached nobody. The next
// notification (repeat_interval) holds b2 alone: b's entry, another
// firing's, bounded the resolve withheld before it though nobody had been
// told of b since, so the group's end went unread, and the outage that
// began at 6m paged nobody, at that notification or any after.
func TestGroupFiringAnewTurnedOverWhileItsLadderReachedNobodyPages(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(secondaryInOfficeHours()))
			t0 := fixedNow
			a, b, b2 := lbl("X", "critical", "a"), lbl("X", "critical", "b"), lbl("X", "critical", "b2")
			id, _ := withheldGroup(t, h, a)
			bStart, b2Start := t0.Add(6*time.Minute), t0.Add(9*time.Minute)
			h.runUntil(t0.Add(7 * time.Minute))
			h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: bStart}))
			h.runUntil(t0.Add(11 * time.Minute))
			h.am(amKey, amBody("firing", "g", 0, amAlert{st: "resolved", labels: b, starts: bStart, ends: t0.Add(10 * time.Minute)},
				amAlert{st: "firing", labels: b2, starts: b2Start}))
			if v := h.incident(id); v.Status != "triggered" || v.NextStepAt == nil {
				t.Fatalf("after the turnover, sent while the incident pages: %s (next step %v), want triggered and paging (a repeat)", v.Status, v.NextStepAt)
			}
			wantLadderOver(t, h, id, t0.Add(2*time.Hour))
			wantNoPageAfter(t, h, id, bStart)
			wantFiredAnewAt(t, h, id, t0.Add(4*time.Hour+11*time.Minute), amBody("firing", "g", 0, amAlert{st: "firing", labels: b2, starts: b2Start}),
				"the group fired anew, turned over, and its ladder reached nobody since")
		})
	}
}

// TestGroupFiringAnewAfterACutNotificationOfItsOldAlertsPages: clocks in
// step. The group's resolve was withheld at 2m while its incident paged;
// a minute later a firing notification of the group's old alerts came cut
// (max_alerts: the other Alertmanager of a cluster sending what it had not
// yet seen resolved, or the alerts left out of the resolve). The incident
// took it and paged on; its ladder ran out. Hours later the group fired
// anew (b), sent whole: every alert the cut notification kept had started
// before the withheld resolve, so it told nothing of a firing after it,
// and must not bound it: b pages.
func TestGroupFiringAnewAfterACutNotificationOfItsOldAlertsPages(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(noStorm))
			t0 := fixedNow
			a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
			id, _ := withheldGroup(t, h, a)
			h.runUntil(t0.Add(3 * time.Minute))
			h.am(amKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: a, starts: t0}))
			wantLadderOver(t, h, id, t0.Add(2*time.Hour))
			start := t0.Add(3 * time.Hour)
			wantFiredAnewAt(t, h, id, start.Add(time.Minute), amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start}),
				"b fired anew after a cut notification of the group's old alerts")
		})
	}
}

// TestAlertFiringAnewAcknowledgedBeforeItsFirstNotificationPages: as
// TestGroupFiringAnewAcknowledgedBeforeItsFirstNotificationPages, in
// fingerprint mode: b's incident paged, nobody acknowledging, and the
// group's resolve left b out (max_alerts), withheld on the overflow
// incident. b fires anew at 3h; ann acknowledges b's old incident at
// 3h1m30s, before b's first notification (3h2m) reached pagerd: b pages.
func TestAlertFiringAnewAcknowledgedBeforeItsFirstNotificationPages(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h, _, a, b, c, bID := firingAAndB(t, open(t), false)
			t0 := fixedNow
			h.clock.Set(t0.Add(5 * time.Minute))
			h.am(batchKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: c, starts: t0.Add(4 * time.Minute)}, amAlert{st: "firing", labels: a, starts: t0}))
			if _, opened := overflowIncident(h); !opened {
				t.Fatal("the overflow incident did not open for b, left out")
			}
			h.runUntil(t0.Add(time.Hour))
			h.am(batchKey, amBody("resolved", "g", 1, amAlert{st: "resolved", labels: c, starts: t0.Add(4 * time.Minute), ends: t0.Add(50 * time.Minute)},
				amAlert{st: "resolved", labels: a, starts: t0, ends: t0.Add(50 * time.Minute)}))
			wantLadderOver(t, h, bID, t0.Add(2*time.Hour))
			start := t0.Add(3 * time.Hour)
			h.clock.Set(start.Add(90 * time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+bID+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("acknowledge: %d %s", r.code, r.body)
			}
			before := len(h.rec.lines(t0))
			at := start.Add(2 * time.Minute)
			h.clock.Set(at)
			h.am(batchKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start}))
			h.runUntil(at.Add(time.Minute))
			firedAnewOrRepeat(t, h, bID, h.rec.lines(t0)[before:], true, "")
		})
	}
}

// wantLadderOver runs the harness until until and fails unless incident
// id is then triggered with nothing pending: its ladder ran out.
func wantLadderOver(t *testing.T, h *harness, id string, until time.Time) {
	t.Helper()
	h.runUntil(until)
	if v := h.incident(id); v.Status != "triggered" || v.NextStepAt != nil {
		t.Fatalf("incident %s after its ladder: %s (next step %v), want triggered with nothing pending: %s", id, v.Status, v.NextStepAt, timelineTypes(v))
	}
}

// wantNoPageAfter fails if incident id's ladder paged anyone after start
// (the firing that started then): the tests that call it want that
// ladder to reach nobody.
func wantNoPageAfter(t *testing.T, h *harness, id string, start time.Time) {
	t.Helper()
	for _, e := range timeline(h, id) {
		if e.Type == "notify" && e.At.After(start) {
			t.Fatalf("the ladder paged %s on %s at %s, after the new firing started: the test wants it to reach nobody", e.User, e.Channel, e.At)
		}
	}
}
