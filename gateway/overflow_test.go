package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/amresolve"
)

// overflowIncident is the group's overflow incident, if any.
func overflowIncident(h *harness) (incidentView, bool) {
	for _, v := range h.list("?service=batch") {
		if strings.HasSuffix(v.DedupKey, "#overflow") {
			return h.incident(v.ID), true
		}
	}
	return incidentView{}, false
}

// TestOverflowIncidentOnlyForLeftOutAlertsWithoutIncidents: in
// fingerprint mode, api-0, sorted before api-1 and api-2, pushed api-2 out
// of its group's notification (max_alerts 2), while api-2's incident was
// open. The overflow incident that holds the alerts Alertmanager left out
// opened and paged: a second page for one new alert. With
// alertmanager_url, pagerd now asks Alertmanager which alerts of the
// group are active and opens the overflow incident only for one with no
// open incident of its own (api-3 here); when Alertmanager cannot be
// asked, or has just started, it opens it as before: a missed page is
// worse than a second one.
func TestOverflowIncidentOnlyForLeftOutAlertsWithoutIncidents(t *testing.T) {
	for _, tc := range []struct {
		name   string
		active []string
		fault  func(am *fakeAlertmanagerAPI)
		opened bool
		says   string
	}{
		{"every active alert has its incident", []string{"fp-api-0", "fp-api-1", "fp-api-2"}, nil, false, ""},
		{"an active alert with none", []string{"fp-api-0", "fp-api-1", "fp-api-2", "fp-api-3"}, nil, true,
			"lists 1 active alert(s) of the group with no open incident of their own (fingerprints fp-api-3)"},
		{"Alertmanager unreachable", []string{"fp-api-0", "fp-api-1", "fp-api-2"}, func(am *fakeAlertmanagerAPI) { am.set(0, true) }, true,
			"could not be asked which alerts of the group fire"},
		{"Alertmanager started 30s ago", []string{"fp-api-0", "fp-api-1", "fp-api-2"},
			func(am *fakeAlertmanagerAPI) { am.startedAt(fixedNow.Add(-30 * time.Second)) }, true, "started 30s ago"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{active: tc.active}
			if tc.fault != nil {
				tc.fault(am)
			}
			h, ids := fingerprintHarness(t, am, 1)
			start := h.clock.Now()
			h.step(start)
			v, opened := overflowIncident(h)
			if opened != tc.opened {
				t.Fatalf("overflow incident opened: %v, want %v (%+v)", opened, tc.opened, v)
			}
			if !opened {
				if v := h.incident(ids["api-2"]); v.Status != "triggered" {
					t.Fatalf("api-2's own incident: %s, want triggered", v.Status)
				}
				if !strings.Contains(h.logs.String(), "each active alert of the group has an incident of its own") {
					t.Fatalf("the log does not say why no overflow incident was opened")
				}
				return
			}
			if v.Status != "triggered" || len(h.rec.lines(start)) == 0 {
				t.Fatalf("overflow incident %s, pages %v; want triggered and paging", v.Status, h.rec.lines(start))
			}
			found := false
			for _, e := range v.Timeline {
				found = found || (e.Type == amresolve.EntryLeftOutFiring && strings.Contains(e.Detail, tc.says))
			}
			if !found {
				t.Fatalf("timeline %+v: want a %s entry saying %q", v.Timeline, amresolve.EntryLeftOutFiring, tc.says)
			}
		})
	}
}

// TestStaleNotificationOfAlertsThatAllStillFireAsksBeforeResolvingTheOverflowIncident:
// in fingerprint mode, api-0, sorted first, pushed api-2 out of the
// group's notification (max_alerts 2) and the overflow incident opened for
// api-3, left out too, active with no incident of its own. The other
// Alertmanager of the cluster then delivered its older notification,
// api-1 and api-2 firing with nothing left out: every alert it names
// still fires, so nothing in it is older than recorded, and it resolved
// the overflow incident while api-3 fired. Nobody was paged for api-3.
// With alertmanager_url, pagerd now asks Alertmanager first: api-3,
// active with no incident of its own, keeps the overflow incident open
// (said once), and the group's next notification that leaves nothing out
// resolves it once Alertmanager lists no such alert.
func TestStaleNotificationOfAlertsThatAllStillFireAsksBeforeResolvingTheOverflowIncident(t *testing.T) {
	am := &fakeAlertmanagerAPI{active: []string{"fp-api-0", "fp-api-1", "fp-api-2", "fp-api-3"}}
	h, v, start := overflowOpenForAPI3(t, am)
	postOlderNotification(t, h)
	h.runUntil(start.Add(3 * time.Minute))
	v = h.incident(v.ID)
	if v.Status != "triggered" {
		t.Fatalf("overflow incident after an older notification, api-3 active with no incident: %s, want triggered; timeline %+v", v.Status, v.Timeline)
	}
	if types := entryCounts(v); types[amresolve.EntryStillFiring] != 1 {
		t.Fatalf("timeline %+v: want one %s", v.Timeline, amresolve.EntryStillFiring)
	}
	if len(h.rec.lines(start)) == 0 {
		t.Fatal("the overflow incident paged nobody")
	}
	am.mu.Lock()
	am.active = []string{"fp-api-0", "fp-api-1", "fp-api-2"}
	am.mu.Unlock()
	if r := h.do("POST", "/api/v1/alertmanager", amTruncated("firing", 0, [2]string{"api-0", "firing"}, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"}),
		"Authorization", "Bearer "+batchKey); r.code != 200 {
		t.Fatalf("next notification: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	if v := h.incident(v.ID); v.Status != "resolved" || v.ResolvedBy != "alertmanager" || entryCounts(v)[amresolve.EntryConfirmed] != 1 {
		t.Fatalf("overflow incident once api-3 no longer fires: %s by %q, want resolved by alertmanager, confirmed; timeline %+v", v.Status, v.ResolvedBy, v.Timeline)
	}
}

// TestOverflowIncidentKeptOpenByAStaleNotificationIsAskedAgainUntilItsAlertsEnd:
// an overflow incident kept open because Alertmanager listed an active
// alert of the group without an incident of its own is asked about again
// until that alert ends: no notification of the group may ever come again
// to ask (after its last resolve, or for an alert of another route that
// Alertmanager lists with the group's), and it would page for good.
func TestOverflowIncidentKeptOpenByAStaleNotificationIsAskedAgainUntilItsAlertsEnd(t *testing.T) {
	am := &fakeAlertmanagerAPI{active: []string{"fp-api-0", "fp-api-1", "fp-api-2", "fp-api-3"}}
	h, v, start := overflowOpenForAPI3(t, am)
	postOlderNotification(t, h)
	h.runUntil(start.Add(90 * time.Second))
	if v = h.incident(v.ID); v.Status != "triggered" {
		t.Fatalf("overflow incident with api-3 active and no incident of its own: %s, want triggered; timeline %+v", v.Status, v.Timeline)
	}
	// api-3 ends; Alertmanager sends nothing more of the group.
	am.mu.Lock()
	am.active = []string{"fp-api-0", "fp-api-1", "fp-api-2"}
	am.mu.Unlock()
	h.runUntil(start.Add(90*time.Second + 2*amresolve.RecheckEvery))
	v = h.incident(v.ID)
	if v.Status != "resolved" || v.ResolvedBy != "alertmanager" || entryCounts(v)[amresolve.EntryConfirmed] != 1 {
		t.Fatalf("overflow incident after api-3 ended, with no notification since: %s by %q, want resolved by alertmanager, confirmed; timeline %+v",
			v.Status, v.ResolvedBy, v.Timeline)
	}
	if n := entryCounts(v)[amresolve.EntryStillFiring]; n != 1 {
		t.Fatalf("%d %s entries, want 1 (said once, however often asked); timeline %+v", n, amresolve.EntryStillFiring, v.Timeline)
	}
}

// TestOverflowIncidentResolvesWhenItsAlertHasAnIncidentInAnotherGroup:
// Alertmanager, asked for a group's alerts by receiver and group labels,
// also lists an alert of another route to the same receiver with the same
// group labels (or one routed to both with `continue`). One that has an
// open incident there pages through it: it no longer keeps the overflow
// incident open, which paged for as long as the alert fired.
func TestOverflowIncidentResolvesWhenItsAlertHasAnIncidentInAnotherGroup(t *testing.T) {
	am := &fakeAlertmanagerAPI{active: []string{"fp-api-0", "fp-api-1", "fp-api-2", "fp-api-3"}}
	h, v, start := overflowOpenForAPI3(t, am)
	// api-3 fires in another group of the same receiver too.
	other := strings.Replace(amTruncated("firing", 0, [2]string{"api-3", "firing"}), `{}:{alertname=\"HighErrorRate\"}`, `{}/{team=\"web\"}:{alertname=\"HighErrorRate\"}`, 1)
	if !strings.Contains(other, `team=\"web\"`) {
		t.Fatalf("the other group's notification kept the group key: %s", other)
	}
	if r := h.do("POST", "/api/v1/alertmanager", other, "Authorization", "Bearer "+batchKey); r.code != 200 {
		t.Fatalf("the other group's notification: %d %s", r.code, r.body)
	}
	postOlderNotification(t, h)
	h.runUntil(start.Add(3 * time.Minute))
	if v = h.incident(v.ID); v.Status != "resolved" || entryCounts(v)[amresolve.EntryConfirmed] != 1 {
		t.Fatalf("overflow incident, api-3 with an incident of its own in another group: %s, want resolved, confirmed; timeline %+v", v.Status, v.Timeline)
	}
}

// overflowOpenForAPI3 is the fingerprint harness with the group's overflow
// incident open for api-3 (left out by max_alerts, active with no incident
// of its own), and when it opened.
func overflowOpenForAPI3(t *testing.T, am *fakeAlertmanagerAPI, opts ...option) (*harness, incidentView, time.Time) {
	t.Helper()
	h, _ := fingerprintHarness(t, am, 1, opts...)
	start := h.clock.Now()
	h.step(start)
	v, opened := overflowIncident(h)
	if !opened || v.Status != "triggered" {
		t.Fatalf("overflow incident %+v, want opened for api-3", v)
	}
	return h, v, start
}

// postOlderNotification posts the other Alertmanager's older notification
// of the group: api-1 and api-2 firing, nothing left out.
func postOlderNotification(t *testing.T, h *harness) {
	t.Helper()
	older := amTruncated("firing", 0, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"})
	if r := h.do("POST", "/api/v1/alertmanager", older, "Authorization", "Bearer "+batchKey); r.code != 200 {
		t.Fatalf("older notification: %d %s", r.code, r.body)
	}
}

// TestOverflowIncidentNotOpenedForAnAlertWhoseIncidentOpensWhileAlertmanagerIsAsked:
// the check of the alerts a cut firing notification left out read the
// group's open incidents, then asked Alertmanager. api-3's own firing
// notification came in between and opened api-3's incident, which paged;
// Alertmanager then listed api-3 active, counted as with no incident of
// its own, and the overflow incident opened for it and paged as well:
// two pages for one alert. The incidents are now read again when
// Alertmanager lists one without: api-3's counts.
func TestOverflowIncidentNotOpenedForAnAlertWhoseIncidentOpensWhileAlertmanagerIsAsked(t *testing.T) {
	am := &fakeAlertmanagerAPI{active: []string{"fp-api-0", "fp-api-1", "fp-api-2", "fp-api-3"}}
	h, _ := fingerprintHarness(t, am, 1)
	am.onAlerts = func() {
		firing := amTruncated("firing", 0, [2]string{"api-0", "firing"}, [2]string{"api-1", "firing"}, [2]string{"api-3", "firing"})
		if r := h.do("POST", "/api/v1/alertmanager", firing, "Authorization", "Bearer "+batchKey); r.code != 200 {
			t.Errorf("api-3's firing notification: %d %s", r.code, r.body)
		}
	}
	start := h.clock.Now()
	h.step(start)
	if v, opened := overflowIncident(h); opened {
		t.Fatalf("overflow incident opened (%s, timeline %+v) for api-3, which has its own incident; pages %v", v.Status, v.Timeline, h.rec.lines(start))
	}
	own := ""
	for _, v := range h.list("?service=batch") {
		if strings.HasSuffix(v.DedupKey, ":fp-api-3") {
			own = v.ID
		}
	}
	if own == "" || h.incident(own).Status != "triggered" {
		t.Fatalf("api-3 has no open incident of its own (%q): its notification did not open one", own)
	}
	if !strings.Contains(h.logs.String(), "each active alert of the group has an incident of its own") {
		t.Fatalf("the log does not say why no overflow incident was opened")
	}
}

// TestOverflowIncidentResolvesWhenACutNotificationFindsEveryActiveAlertCovered:
// the overflow incident opened for api-3 (left out by max_alerts, active
// with no incident of its own). Then either api-3 ends, and the group's
// next notification is cut again (api-0 and api-1 kept, api-2 firing and
// api-3 resolved left out); or api-1 and api-2 end, and the next one
// names api-3, which opens its own incident, and leaves the two resolved
// ones out. Its check found every active alert with an incident of its
// own, opened nothing, and left the overflow incident open: it paged its
// whole ladder for api-3, which had ended or paged through its own
// incident too, and Alertmanager sends the group next at repeat_interval,
// cut the same way.
func TestOverflowIncidentResolvesWhenACutNotificationFindsEveryActiveAlertCovered(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name   string
				active []string
				next   string
			}{
				{"api-3 ended", []string{"fp-api-0", "fp-api-1", "fp-api-2"},
					amTruncated("firing", 2, [2]string{"api-0", "firing"}, [2]string{"api-1", "firing"})},
				{"api-3 in view", []string{"fp-api-0", "fp-api-3"},
					amTruncated("firing", 2, [2]string{"api-0", "firing"}, [2]string{"api-3", "firing"})},
			} {
				t.Run(tc.name, func(t *testing.T) {
					am := &fakeAlertmanagerAPI{active: []string{"fp-api-0", "fp-api-1", "fp-api-2", "fp-api-3"}}
					h, v, start := overflowOpenForAPI3(t, am, withStore(open(t)))
					am.mu.Lock()
					am.active = tc.active
					am.mu.Unlock()
					changed := start.Add(time.Minute)
					h.runUntil(changed)
					if r := h.do("POST", "/api/v1/alertmanager", tc.next, "Authorization", "Bearer "+batchKey); r.code != 200 {
						t.Fatalf("next notification, cut: %d %s", r.code, r.body)
					}
					h.runUntil(changed.Add(30 * time.Minute))
					v = h.incident(v.ID)
					var after []string
					for _, e := range v.Timeline {
						if e.Type == "notify" && e.At.After(changed.Add(time.Minute)) {
							after = append(after, e.At.Format(time.TimeOnly)+" "+e.Channel)
						}
					}
					if v.Status != "resolved" || len(after) > 0 {
						t.Fatalf("overflow incident after a cut notification's check found every active alert with an incident of its own: %s, pages since %v; want resolved, none; timeline %s",
							v.Status, after, timelineTypes(v))
					}
				})
			}
		})
	}
}
