package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/logtest"
)

// diskFull is the alert of group g-disk the tests of silenced
// acknowledged incidents fire (its group's labels: alertname="DiskFull").
var diskFull = map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db01"}

// silencedAckHarness is a daemon whose service api silences its
// acknowledged incidents at a fake Alertmanager that also lists alerts as
// alerts says, with diskFull fired and acknowledged (and silenced) by ann.
func silencedAckHarness(t *testing.T, alerts *fakeAlertmanagerAPI, opts ...option) (*harness, *fakeSilences, string) {
	t.Helper()
	am := newFakeSilences(t, alerts)
	h := newHarness(t, append([]option{withConfig(silenceConfig(am.url))}, opts...)...)
	id := fireAndAcknowledge(t, h, "g-disk", diskFull)
	if n := len(am.posted()); n != 1 {
		t.Fatalf("%d silences made at the acknowledgement, want 1", n)
	}
	return h, am, id
}

// TestSilencedAcknowledgedIncidentResolvesSoTheGroupPagesAgain: an
// acknowledgement silenced the incident's alert in Alertmanager, which
// then mutes its resolved notification too: pagerd heard nothing when the
// problem ended, the incident stayed acknowledged for ever, and when the
// group fired again days later (the silence long expired) the firing
// notification was taken for a repeat of it and paged nobody. Now pagerd
// asks Alertmanager whether the group still fires, keeps the incident
// acknowledged while its alert is listed (silenced: "suppressed"),
// resolves it once none is, and the group firing again is a new incident
// that pages.
func TestSilencedAcknowledgedIncidentResolvesSoTheGroupPagesAgain(t *testing.T) {
	alerts := &fakeAlertmanagerAPI{firing: 1, state: "suppressed"}
	h, am, id := silencedAckHarness(t, alerts)
	start := h.clock.Now()
	h.runUntil(start.Add(10 * time.Minute))
	if v := h.incident(id); v.Status != "acknowledged" {
		t.Fatalf("its alert silenced and firing: %s, want acknowledged; timeline %+v", v.Status, v.Timeline)
	}
	// The problem ends; Alertmanager, which mutes the alert, says nothing.
	alerts.set(0, false)
	h.runUntil(h.clock.Now().Add(amresolve.RecheckEvery))

	later := start.Add(72 * time.Hour)
	h.clock.Set(later)
	paged := len(h.rec.lines(start))
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g-disk", diskFull), "Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatalf("firing again: %d %s", r.code, r.body)
	}
	h.runUntil(later.Add(time.Minute))
	if got := h.rec.lines(start); len(got) == paged {
		t.Fatalf("the group firing again three days later paged nobody; the first incident is %s", h.incident(id).Status)
	}
	v := h.incident(id)
	if v.Status != "resolved" || v.ResolvedBy != "alertmanager" {
		t.Fatalf("the acknowledged incident: %s by %q, want resolved by alertmanager; timeline %+v", v.Status, v.ResolvedBy, v.Timeline)
	}
	if c := entryCounts(v); c[amresolve.EntryChecking] != 1 || c[amresolve.EntryConfirmed] != 1 || c[amresolve.EntryStillFiring] != 0 {
		t.Fatalf("timeline %+v: want one %s, one %s and no %s", v.Timeline, amresolve.EntryChecking, amresolve.EntryConfirmed, amresolve.EntryStillFiring)
	}
	for _, s := range am.posted() {
		if !s.Expired {
			t.Errorf("silence %s not expired at the resolve", s.ID)
		}
	}
	for _, q := range alerts.asked() {
		if !strings.Contains(q, "receiver=pagerd") || !strings.Contains(q, "filter=alertname%3D%22DiskFull%22") {
			t.Fatalf("Alertmanager asked %q; want the alerts of receiver pagerd and the group's labels", q)
		}
	}
}

// TestSilencedAcknowledgedIncidentResolvedOnceAcrossReplicas: the check
// is a store job, done by one of two replicas, once: one confirmation, one
// resolve, Alertmanager asked once, and no job left.
func TestSilencedAcknowledgedIncidentResolvedOnceAcrossReplicas(t *testing.T) {
	alerts := &fakeAlertmanagerAPI{} // it resolved as it was acknowledged
	h, _, id := silencedAckHarness(t, alerts, replicas(2))
	h.runUntil(h.clock.Now().Add(10 * time.Minute))
	v := h.incident(id)
	if v.Status != "resolved" {
		t.Fatalf("%s, want resolved; timeline %+v", v.Status, v.Timeline)
	}
	if c := entryCounts(v); c[amresolve.EntryConfirmed] != 1 || c["resolve"] != 1 || c[amresolve.EntryChecking] != 1 {
		t.Fatalf("timeline %+v: want one check started, one confirmation, one resolve", v.Timeline)
	}
	if n := len(alerts.asked()); n != 1 {
		t.Fatalf("Alertmanager asked %d times, want 1", n)
	}
	if _, err := h.store.GetJob(context.Background(), amresolve.JobKind, id+"/acknowledged"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the check's job after the resolve: %v, want none", err)
	}
}

// TestSilencedAcknowledgedIncidentStaysOpenUntilAlertmanagerConfirms:
// while Alertmanager lists an alert of the group (silenced, so
// "suppressed") or cannot be asked, the incident stays acknowledged, and
// Alertmanager is asked again every minute; the first time it cannot be
// asked, the timeline says so. Once it lists none, the incident resolves.
func TestSilencedAcknowledgedIncidentStaysOpenUntilAlertmanagerConfirms(t *testing.T) {
	for _, tc := range []struct {
		name    string
		firing  int
		down    bool
		entries map[string]int
	}{
		{"still silenced and firing", 1, false, map[string]int{amresolve.EntryStillFiring: 0, amresolve.EntryUnconfirmed: 0}},
		{"Alertmanager unreachable", 0, true, map[string]int{amresolve.EntryUnconfirmed: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alerts := &fakeAlertmanagerAPI{firing: tc.firing, down: tc.down, state: "suppressed"}
			h, _, id := silencedAckHarness(t, alerts)
			start := h.clock.Now()
			h.runUntil(start.Add(3*amresolve.RecheckEvery + time.Second))
			v := h.incident(id)
			if v.Status != "acknowledged" {
				t.Fatalf("%s, want acknowledged; timeline %+v", v.Status, v.Timeline)
			}
			for typ, n := range tc.entries {
				if got := entryCounts(v)[typ]; got != n {
					t.Fatalf("timeline %+v: %d %s entries, want %d", v.Timeline, got, typ, n)
				}
			}
			if n := len(alerts.asked()); n != 4 {
				t.Fatalf("Alertmanager asked %d times in 3 minutes, want 4 (at once, then every minute)", n)
			}
			// Said once, like the timeline, not at every check.
			warns := 0
			for _, l := range logtest.Lines(t, h.logs.String()) {
				if msg, _ := l["msg"].(string); l["level"] == "WARN" && strings.Contains(msg, "could not be asked") {
					warns++
				}
			}
			if want := tc.entries[amresolve.EntryUnconfirmed]; warns != want {
				t.Fatalf("%d WARN lines that Alertmanager could not be asked, want %d", warns, want)
			}
			alerts.set(0, false)
			h.runUntil(h.clock.Now().Add(amresolve.RecheckEvery))
			if v := h.incident(id); v.Status != "resolved" || v.ResolvedBy != "alertmanager" {
				t.Fatalf("once Alertmanager lists none: %s by %q, want resolved by alertmanager", v.Status, v.ResolvedBy)
			}
		})
	}
}

// TestSilencedAcknowledgedIncidentCheckEndsWithTheAcknowledgement: the
// check lasts while the incident is acknowledged. Resolved by a person,
// or re-opened (escalated), it is no longer asked about, and an
// Alertmanager that lists none of its alerts afterwards resolves nothing:
// a re-opened incident pages until someone acknowledges it again (which
// starts a check) or resolves it.
func TestSilencedAcknowledgedIncidentCheckEndsWithTheAcknowledgement(t *testing.T) {
	for _, tc := range []struct {
		action, status string
	}{
		{"resolve", "resolved"},
		{"escalate", "triggered"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			alerts := &fakeAlertmanagerAPI{firing: 1, state: "suppressed"}
			h, _, id := silencedAckHarness(t, alerts)
			h.runUntil(h.clock.Now().Add(amresolve.RecheckEvery))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/"+tc.action, `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("%s: %d %s", tc.action, r.code, r.body)
			}
			alerts.set(0, false)
			asked := len(alerts.asked())
			h.runUntil(h.clock.Now().Add(5 * amresolve.RecheckEvery))
			if n := len(alerts.asked()); n != asked {
				t.Fatalf("Alertmanager asked %d more times after the %s, want none", n-asked, tc.action)
			}
			v := h.incident(id)
			if string(v.Status) != tc.status || entryCounts(v)[amresolve.EntryConfirmed] != 0 {
				t.Fatalf("%s, want %s and no confirmation; timeline %+v", v.Status, tc.status, v.Timeline)
			}
			if _, err := h.store.GetJob(context.Background(), amresolve.JobKind, id+"/acknowledged"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("the check's job: %v, want none", err)
			}
		})
	}
}

// TestSilencedAcknowledgedIncidentFingerprintModeResolvesAlertByAlert: in
// fingerprint mode (incident_key: fingerprint) each alert of a group is
// its own incident, silenced and checked on its own. Two alerts of group
// g-disk, both acknowledged and silenced; once Alertmanager no longer
// lists the first, its incident resolves, and the other's, whose alert it
// still lists (silenced), stays acknowledged. The second alert may carry
// all of the first's labels and one more: Alertmanager's filter on the
// first's labels lists it too, which kept the first's incident
// acknowledged for as long as the second fired; pagerd now holds the
// answer to the first alert's fingerprint.
func TestSilencedAcknowledgedIncidentFingerprintModeResolvesAlertByAlert(t *testing.T) {
	for _, tc := range []struct {
		name   string
		second map[string]string
	}{
		{"another instance", map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db02"}},
		{"its labels and one more", map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db01", "mountpoint": "/data"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, second := diskFull, tc.second
			alerts := &fakeAlertmanagerAPI{state: "suppressed", held: []map[string]string{first, second}}
			am := newFakeSilences(t, alerts)
			cfg := strings.Replace(silenceConfig(am.url), "    priority_scheme: P0-P3\n", "    priority_scheme: P0-P3\n    incident_key: fingerprint\n", 1)
			h := newHarness(t, withConfig(cfg))
			r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g-disk", first, second), "Authorization", "Bearer "+amKey)
			if r.code != 200 {
				t.Fatalf("webhook: %d %s", r.code, r.body)
			}
			var res struct{ Incidents []string }
			r.json(t, &res)
			ids := map[string]string{} // by alert: first, second
			for _, id := range res.Incidents {
				var d struct {
					Alerts []struct{ Labels map[string]string }
				}
				if err := json.Unmarshal(h.incident(id).Details, &d); err != nil || len(d.Alerts) != 1 {
					t.Fatalf("incident %s's details: %v, %d alerts; want one", id, err, len(d.Alerts))
				}
				switch {
				case maps.Equal(d.Alerts[0].Labels, first):
					ids["first"] = id
				case maps.Equal(d.Alerts[0].Labels, second):
					ids["second"] = id
				}
			}
			if len(res.Incidents) != 2 || ids["first"] == "" || ids["second"] == "" {
				t.Fatalf("incidents %v (%v by alert), want one for each alert", res.Incidents, ids)
			}
			for _, id := range ids {
				if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
					t.Fatalf("acknowledge: %d %s", r.code, r.body)
				}
			}
			h.runUntil(h.clock.Now().Add(3 * amresolve.RecheckEvery))
			for which, labels := range map[string]map[string]string{"first": first, "second": second} {
				if v := h.incident(ids[which]); v.Status != "acknowledged" {
					t.Fatalf("the %s alert's incident, silenced and firing: %s, want acknowledged; timeline %+v", which, v.Status, v.Timeline)
				}
				if len(am.silencedBy(labels)) == 0 {
					t.Fatalf("the %s alert is not silenced; silences %+v", which, am.posted())
				}
			}
			// The first ends; Alertmanager, which mutes it, says nothing,
			// but no longer lists it.
			alerts.hold(second)
			h.runUntil(h.clock.Now().Add(amresolve.RecheckEvery))
			v := h.incident(ids["first"])
			if v.Status != "resolved" || v.ResolvedBy != "alertmanager" {
				t.Fatalf("the first alert's incident, its alert no longer listed: %s by %q, want resolved by alertmanager; timeline %+v", v.Status, v.ResolvedBy, v.Timeline)
			}
			if c := entryCounts(v); c[amresolve.EntryConfirmed] != 1 || c["resolve"] != 1 {
				t.Fatalf("the first alert's timeline %+v: want one %s and one resolve", v.Timeline, amresolve.EntryConfirmed)
			}
			h.runUntil(h.clock.Now().Add(5 * amresolve.RecheckEvery))
			if v := h.incident(ids["second"]); v.Status != "acknowledged" || entryCounts(v)[amresolve.EntryConfirmed] != 0 {
				t.Fatalf("the second alert's incident, its alert still listed: %s, want acknowledged; timeline %+v", v.Status, v.Timeline)
			}
			if len(am.silencedBy(second)) != 1 {
				t.Fatalf("the second alert, still acknowledged, silenced by %v; want one silence", am.silencedBy(second))
			}
			for _, q := range alerts.asked() {
				if !strings.Contains(q, "filter=instance%3D%22db0") {
					t.Fatalf("Alertmanager asked %q; want an alert's own labels, its instance among them", q)
				}
			}
		})
	}
}
