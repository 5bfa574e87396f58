package gateway

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/gateway/store"
)

// amEpisode is one alert of group HighErrorRate as a notification lists
// it: its instance, status and the times of its firing (end zero while
// it fires).
type amEpisode struct {
	instance, status string
	start, end       time.Time
}

// amEpisodes is a notification of group HighErrorRate (receiver pagerd)
// with those alerts, whose fingerprint is fp- and their instance.
func amEpisodes(status string, alerts ...amEpisode) string {
	var as []map[string]any
	for _, a := range alerts {
		end := "0001-01-01T00:00:00Z"
		if !a.end.IsZero() {
			end = a.end.Format(time.RFC3339)
		}
		as = append(as, map[string]any{"status": a.status, "labels": map[string]string{"alertname": "HighErrorRate", "instance": a.instance, "severity": "critical"},
			"annotations": map[string]string{}, "startsAt": a.start.Format(time.RFC3339), "endsAt": end, "generatorURL": "", "fingerprint": "fp-" + a.instance})
	}
	b, _ := json.Marshal(map[string]any{"receiver": "pagerd", "status": status, "alerts": as,
		"groupLabels": map[string]string{"alertname": "HighErrorRate"}, "commonLabels": map[string]string{"alertname": "HighErrorRate", "severity": "critical"},
		"commonAnnotations": map[string]string{}, "externalURL": "http://am:9093", "version": "4",
		"groupKey": `{}:{alertname="HighErrorRate"}`, "truncatedAlerts": 0})
	return string(b)
}

// TestStaleResolveAfterANewerFiringKeepsTheIncidentOpen: of two
// Alertmanagers in a cluster, one delivers the resolve of api-1's firing
// that ended at 06:04 after the other delivered api-1 firing again since
// 06:06 (a slow network, a retry). The stale resolve closed the incident
// while api-1 fired, and Alertmanager, having delivered that firing
// notification, sends nothing more of the group until it changes or its
// repeat_interval (hours) has passed: nobody was paged. Now, in group and
// fingerprint mode, with or without alertmanager_url, the incident stays
// open with a resolve_withheld entry that says why, keeps paging, and
// resolves on the resolve of the newer firing.
func TestStaleResolveAfterANewerFiringKeepsTheIncidentOpen(t *testing.T) {
	t0 := fixedNow.Add(-time.Minute)
	first := amEpisode{"api-1", "firing", t0, time.Time{}}
	ended := amEpisode{"api-1", "resolved", t0, t0.Add(5 * time.Minute)}
	again := amEpisode{"api-1", "firing", t0.Add(7 * time.Minute), time.Time{}}
	over := amEpisode{"api-1", "resolved", t0.Add(7 * time.Minute), t0.Add(9 * time.Minute)}
	for _, tc := range []struct {
		name, key, mode string
		url             bool
	}{
		{"group mode", amKey, "    targets:\n      P0: {acknowledge: 5m}\n", false},
		{"group mode with alertmanager_url", amKey, "    targets:\n      P0: {acknowledge: 5m}\n", true},
		{"fingerprint mode", batchKey, "    incident_key: fingerprint\n", false},
		{"fingerprint mode with alertmanager_url", batchKey, "    incident_key: fingerprint\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig
			am := &fakeAlertmanagerAPI{active: []string{"fp-api-1"}}
			if tc.url {
				srv := httptest.NewServer(am)
				t.Cleanup(srv.Close)
				cfg = strings.Replace(cfg, tc.mode, tc.mode+"    alertmanager_url: "+srv.URL+"\n", 1)
			}
			h := newHarness(t, withConfig(cfg))
			auth := []string{"Authorization", "Bearer " + tc.key}
			for _, body := range []string{amEpisodes("firing", first), amEpisodes("firing", again), amEpisodes("resolved", ended)} {
				if r := h.do("POST", "/api/v1/alertmanager", body, auth...); r.code != 200 {
					t.Fatalf("notification: %d %s", r.code, r.body)
				}
			}
			id := h.list("")[0].ID
			start := h.clock.Now()
			h.runUntil(start.Add(3 * time.Minute))
			v := h.incident(id)
			if v.Status != "triggered" {
				t.Fatalf("after a resolve older than the firing before it: %s, want triggered; timeline %+v", v.Status, v.Timeline)
			}
			withheld := false
			for _, e := range v.Timeline {
				if e.Type == "resolve_withheld" {
					withheld = strings.Contains(e.Detail, "fired again after the time this notification says it ended")
				}
			}
			if !withheld {
				t.Fatalf("timeline %+v: want a resolve_withheld entry saying the resolve is older", v.Timeline)
			}
			if len(h.rec.lines(start)) == 0 {
				t.Fatalf("the open incident paged nobody")
			}
			if asked := len(am.asked()); tc.url && asked == 0 {
				t.Fatalf("Alertmanager was not asked")
			}
			if r := h.do("POST", "/api/v1/alertmanager", amEpisodes("resolved", over), auth...); r.code != 200 {
				t.Fatalf("resolved: %d %s", r.code, r.body)
			}
			if v := h.incident(id); v.Status != "resolved" {
				t.Fatalf("after the resolve of the newer firing: %s, want resolved; timeline %+v", v.Status, v.Timeline)
			}
		})
	}
}

// TestStaleResolveMissingANewerAlertIsCheckedWithAlertmanager: in group
// mode, api-2 joined api-1's group (a firing notification of both), then
// the other Alertmanager of the cluster delivered its older resolve of
// api-1 alone. It closed the incident while api-2 fired. With
// alertmanager_url, the incident stays open and pagerd asks Alertmanager,
// which resolves it once no alert of the group fires (neither silenced
// nor inhibited). Without it, a resolve that names no newer firing is
// taken as today: the alert not named may have left the group unnamed
// (silenced by hand), and nothing else would resolve the incident.
func TestStaleResolveMissingANewerAlertIsCheckedWithAlertmanager(t *testing.T) {
	t0 := fixedNow.Add(-time.Minute)
	one := amEpisode{"api-1", "firing", t0, time.Time{}}
	two := amEpisode{"api-2", "firing", t0.Add(30 * time.Second), time.Time{}}
	ended := amEpisode{"api-1", "resolved", t0, t0.Add(time.Minute)}
	for _, url := range []bool{true, false} {
		t.Run(map[bool]string{true: "with alertmanager_url", false: "without"}[url], func(t *testing.T) {
			cfg := testConfig
			am := &fakeAlertmanagerAPI{active: []string{"fp-api-2"}}
			if url {
				srv := httptest.NewServer(am)
				t.Cleanup(srv.Close)
				cfg = strings.Replace(cfg, "    targets:\n      P0: {acknowledge: 5m}\n", "    targets:\n      P0: {acknowledge: 5m}\n    alertmanager_url: "+srv.URL+"\n", 1)
			}
			h := newHarness(t, withConfig(cfg))
			auth := []string{"Authorization", "Bearer " + amKey}
			for _, body := range []string{amEpisodes("firing", one), amEpisodes("firing", one, two), amEpisodes("resolved", ended)} {
				if r := h.do("POST", "/api/v1/alertmanager", body, auth...); r.code != 200 {
					t.Fatalf("notification: %d %s", r.code, r.body)
				}
			}
			id := h.list("")[0].ID
			if !url {
				if v := h.incident(id); v.Status != "resolved" {
					t.Fatalf("without alertmanager_url: %s, want resolved; timeline %+v", v.Status, v.Timeline)
				}
				return
			}
			h.runUntil(h.clock.Now().Add(2 * time.Minute))
			v := h.incident(id)
			if v.Status != "triggered" {
				t.Fatalf("api-2 still fires: %s, want triggered; timeline %+v", v.Status, v.Timeline)
			}
			if types := entryCounts(v); types["resolve_withheld"] != 1 || types[amresolve.EntryStillFiring] != 1 {
				t.Fatalf("timeline %+v: want one resolve_withheld and one %s", v.Timeline, amresolve.EntryStillFiring)
			}
			askedOnceForTheGroupAtLeast(t, am)
			// api-2 silenced by hand: Alertmanager notifies it no more,
			// and the incident is over.
			am.mu.Lock()
			am.active = nil
			am.held = []map[string]string{{"alertname": "HighErrorRate", "instance": "api-2"}}
			am.state = "suppressed"
			am.mu.Unlock()
			h.runUntil(h.clock.Now().Add(amresolve.RecheckEvery))
			if v := h.incident(id); v.Status != "resolved" || v.ResolvedBy != "alertmanager" {
				t.Fatalf("no alert of the group that pages: %s by %q, want resolved by alertmanager; timeline %+v", v.Status, v.ResolvedBy, v.Timeline)
			}
		})
	}
}

// askedOnceForTheGroupAtLeast fails unless Alertmanager was asked for the
// alerts of receiver pagerd and group HighErrorRate.
func askedOnceForTheGroupAtLeast(t *testing.T, am *fakeAlertmanagerAPI) {
	t.Helper()
	asked := am.asked()
	if len(asked) == 0 || !strings.Contains(asked[0], "receiver=pagerd") || !strings.Contains(asked[0], "filter=alertname%3D%22HighErrorRate%22") {
		t.Fatalf("Alertmanager was asked %q; want the group's alerts", asked)
	}
}

// TestResolveAsTheAlertFiresAgainIsJudgedOnTheFiring: api-1's newer
// firing notification lands between the resolve's read of the incident
// (which showed the firing that resolve ends) and its write. A repeat
// does not change the incident's version, so the resolve went through
// and closed the incident while api-1 fired. The store now refuses the
// write, and the resolve, reading the incident again, sees the newer
// firing and withholds itself.
func TestResolveAsTheAlertFiresAgainIsJudgedOnTheFiring(t *testing.T) {
	t0 := fixedNow.Add(-time.Minute)
	first := amEpisode{"api-1", "firing", t0, time.Time{}}
	ended := amEpisode{"api-1", "resolved", t0, t0.Add(5 * time.Minute)}
	again := amEpisode{"api-1", "firing", t0.Add(7 * time.Minute), time.Time{}}
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			bu := &beforeUpdate{Store: open(t)}
			h := newHarness(t, withStore(bu))
			auth := []string{"Authorization", "Bearer " + amKey}
			if r := h.do("POST", "/api/v1/alertmanager", amEpisodes("firing", first), auth...); r.code != 200 {
				t.Fatalf("firing: %d %s", r.code, r.body)
			}
			id := h.list("")[0].ID
			bu.fn = func() {
				if r := h.do("POST", "/api/v1/alertmanager", amEpisodes("firing", again), auth...); r.code != 200 {
					t.Errorf("firing again: %d %s", r.code, r.body)
				}
			}
			bu.only = func(inc *store.Incident) bool { return !inc.Open() }
			bu.armed.Store(true)
			if r := h.do("POST", "/api/v1/alertmanager", amEpisodes("resolved", ended), auth...); r.code != 200 {
				t.Fatalf("resolved: %d %s", r.code, r.body)
			}
			if bu.armed.Load() {
				t.Fatal("the resolve wrote nothing: the test tests nothing")
			}
			v := h.incident(id)
			if v.Status != "triggered" {
				t.Fatalf("api-1 fired again as its older resolve was written: %s, want triggered; timeline %+v", v.Status, v.Timeline)
			}
			if types := entryCounts(v); types["resolve_withheld"] != 1 || types["resolve"] != 0 {
				t.Fatalf("timeline %+v: want the resolve withheld", v.Timeline)
			}
		})
	}
}
