package gateway

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/amresolve"
)

// TestStaleLastResolveOfAGroupThatHadAlertsLeftOutLeavesANewerFiringOpen:
// in fingerprint mode, api-2 was left out by max_alerts (the group had an
// overflow incident), so the group's last resolve (nothing left out)
// resolves every open incident of the group. Of two Alertmanagers in a
// cluster, one delivers that resolve (api-0 and api-1 ended at 06:04)
// after the other delivered api-3 firing since 06:09 and api-4 firing
// again since 06:09. The resolve swept api-3's incident, which it does
// not name, and api-4's, whose resolve by name was withheld as stale,
// while both fired: Alertmanager sends nothing more of the group until
// its repeat_interval, and nobody was paged. Both now stay open with a
// resolve_withheld entry, keep paging, and api-2's incident, which
// started before the group resolved, is still resolved with it.
func TestStaleLastResolveOfAGroupThatHadAlertsLeftOutLeavesANewerFiringOpen(t *testing.T) {
	t0 := fixedNow.Add(-10 * time.Minute)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withConfig(noStorm), withStore(open(t)))
			post := batchPoster(t, h)
			leftOut := func(body string) string {
				return strings.Replace(body, `"truncatedAlerts":0`, `"truncatedAlerts":1`, 1)
			}
			post(amEpisodes("firing", amEpisode{"api-1", "firing", t0, time.Time{}}, amEpisode{"api-2", "firing", t0, time.Time{}},
				amEpisode{"api-4", "firing", t0, time.Time{}}))
			post(leftOut(amEpisodes("firing", amEpisode{"api-0", "firing", t0, time.Time{}}, amEpisode{"api-1", "firing", t0, time.Time{}},
				amEpisode{"api-4", "firing", t0, time.Time{}})))
			post(amEpisodes("firing", amEpisode{"api-3", "firing", t0.Add(9 * time.Minute), time.Time{}},
				amEpisode{"api-4", "firing", t0.Add(9 * time.Minute), time.Time{}}))
			post(amEpisodes("resolved", amEpisode{"api-0", "resolved", t0, t0.Add(4 * time.Minute)},
				amEpisode{"api-1", "resolved", t0, t0.Add(4 * time.Minute)}, amEpisode{"api-4", "resolved", t0, t0.Add(4 * time.Minute)}))
			byInstance := incidentsByInstance(t, h, "api-0", "api-1", "api-2", "api-3", "api-4")
			start := h.clock.Now()
			h.runUntil(start.Add(3 * time.Minute))
			for _, inst := range []string{"api-3", "api-4"} {
				v := h.incident(byInstance[inst])
				if v.Status != "triggered" {
					t.Fatalf("%s fires since after the group's stale resolve: %s, want triggered; timeline %+v", inst, v.Status, v.Timeline)
				}
				if types := entryCounts(v); types["resolve_withheld"] != 1 || types["resolve_group"] != 0 {
					t.Fatalf("%s timeline %+v: want one resolve_withheld and no resolve_group", inst, v.Timeline)
				}
			}
			if len(h.rec.lines(start)) == 0 {
				t.Fatalf("the open incidents paged nobody")
			}
			for _, inst := range []string{"api-0", "api-1", "api-2"} {
				if v := h.incident(byInstance[inst]); v.Status != "resolved" {
					t.Fatalf("%s ended before the group resolved: %s, want resolved; timeline %+v", inst, v.Status, v.Timeline)
				}
			}
		})
	}
}

// TestStaleNotificationThatLeftNothingOutKeepsTheOverflowIncidentOpen: in
// fingerprint mode, one Alertmanager of a cluster sends api-1 resolved
// (ended 06:04) and api-2 firing, nothing left out; the other then sends
// api-1 firing again since 06:09 and api-2, leaving an alert out
// (max_alerts), which opens the group's overflow incident. The first
// notification, delivered last, resolved the overflow incident although
// the alert left out may fire, and Alertmanager sends nothing more of the
// group until it changes: nobody was paged for it. Now the overflow
// incident stays open with a resolve_withheld entry and keeps paging, as
// does api-1's; the group's next notification that leaves nothing out
// resolves it.
func TestStaleNotificationThatLeftNothingOutKeepsTheOverflowIncidentOpen(t *testing.T) {
	t0 := fixedNow.Add(-10 * time.Minute)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withConfig(noStorm), withStore(open(t)))
			post := batchPoster(t, h)
			firing := amEpisode{"api-2", "firing", t0, time.Time{}}
			post(amEpisodes("firing", amEpisode{"api-1", "firing", t0, time.Time{}}, firing))
			post(strings.Replace(amEpisodes("firing", amEpisode{"api-1", "firing", t0.Add(9 * time.Minute), time.Time{}}, firing),
				`"truncatedAlerts":0`, `"truncatedAlerts":1`, 1))
			var overflow string
			for _, v := range h.list("?service=batch") {
				if strings.HasSuffix(v.DedupKey, "#overflow") {
					overflow = v.ID
				}
			}
			if overflow == "" {
				t.Fatalf("no overflow incident: %+v", h.list("?service=batch"))
			}
			post(amEpisodes("firing", amEpisode{"api-1", "resolved", t0, t0.Add(4 * time.Minute)}, firing))
			start := h.clock.Now()
			h.runUntil(start.Add(3 * time.Minute))
			v := h.incident(overflow)
			if v.Status != "triggered" {
				t.Fatalf("overflow incident after a notification older than the one that opened it: %s, want triggered; timeline %+v", v.Status, v.Timeline)
			}
			if types := entryCounts(v); types["resolve_withheld"] != 1 {
				t.Fatalf("timeline %+v: want one resolve_withheld", v.Timeline)
			}
			if len(h.rec.lines(start)) == 0 {
				t.Fatalf("the open incidents paged nobody")
			}
			post(amEpisodes("firing", amEpisode{"api-1", "firing", t0.Add(9 * time.Minute), time.Time{}}, firing))
			if v := h.incident(overflow); v.Status != "resolved" {
				t.Fatalf("overflow incident after the group's next notification that left nothing out: %s, want resolved; timeline %+v", v.Status, v.Timeline)
			}
		})
	}
}

// TestStaleResolveOfAnAlertOverTheCapKeepsTheOverflowIncidentOpen: in
// fingerprint mode, api-100, the 101st firing alert of a notification,
// fires again since 06:09 and is held by the group's overflow incident
// (100 incidents per notification). A notification older than that one,
// with api-100 resolved at 06:04 and 100 alerts firing, has no alert over
// the cap and resolved the overflow incident while api-100 fired. Now it
// stays open with a resolve_withheld entry.
func TestStaleResolveOfAnAlertOverTheCapKeepsTheOverflowIncidentOpen(t *testing.T) {
	roomyDeadline(t)
	t0 := fixedNow.Add(-10 * time.Minute)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withConfig(noStorm), withStore(open(t)))
			post := batchPoster(t, h)
			alerts := groupOf101(t0)
			alerts[100].start = t0.Add(9 * time.Minute)
			post(amEpisodes("firing", alerts...))
			var overflow string
			for _, v := range h.list("?service=batch&limit=1000") {
				if strings.HasSuffix(v.DedupKey, "#overflow") {
					overflow = v.ID
				}
			}
			if overflow == "" {
				t.Fatal("no overflow incident")
			}
			alerts[100] = amEpisode{"api-100", "resolved", t0, t0.Add(4 * time.Minute)}
			post(amEpisodes("firing", alerts...))
			v := h.incident(overflow)
			if v.Status != "triggered" {
				t.Fatalf("overflow incident after a resolve of api-100 older than its firing: %s, want triggered; timeline %+v", v.Status, v.Timeline)
			}
			if types := entryCounts(v); types["resolve_withheld"] != 1 {
				t.Fatalf("timeline %+v: want one resolve_withheld", v.Timeline)
			}
		})
	}
}

// TestStaleLastResolveAsksAlertmanagerWhetherTheNewerFiringStillFires: in
// fingerprint mode with alertmanager_url, the group (101 alerts, so it had
// an overflow incident) resolved at 06:04 and one Alertmanager of a
// cluster said so; api-200 then fired since 06:09. The other
// Alertmanager's copy of the group's last resolve, delivered last, leaves
// api-200's incident open, as it fired after the group resolved, and
// pagerd asks Alertmanager whether api-200 still fires (neither silenced
// nor inhibited): while it does the incident stays open and says so once,
// and once it no longer does the incident is resolved. Without the
// question nothing would resolve it until api-200's own resolve.
func TestStaleLastResolveAsksAlertmanagerWhetherTheNewerFiringStillFires(t *testing.T) {
	roomyDeadline(t)
	t0 := fixedNow.Add(-10 * time.Minute)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{active: []string{"fp-api-200"}}
			cfg, _ := amConfig(t, am, byURL)
			h := newHarness(t, withConfig(cfg), withStore(open(t)))
			post := batchPoster(t, h)
			alerts := groupOf101(t0)
			post(amEpisodes("firing", alerts...))
			for i := range alerts {
				alerts[i].status, alerts[i].end = "resolved", t0.Add(4*time.Minute)
			}
			last := amEpisodes("resolved", alerts...)
			post(last)
			post(amEpisodes("firing", amEpisode{"api-200", "firing", t0.Add(9 * time.Minute), time.Time{}}))
			post(last)
			var id string
			for _, v := range h.list("?service=batch&limit=1000") {
				if strings.HasSuffix(v.DedupKey, "fp-api-200") {
					id = v.ID
				}
			}
			if id == "" {
				t.Fatal("no incident of api-200")
			}
			h.runUntil(h.clock.Now().Add(2 * time.Minute))
			v := h.incident(id)
			if v.Status != "triggered" {
				t.Fatalf("api-200 fires since after the group's stale resolve: %s, want triggered; timeline %+v", v.Status, v.Timeline)
			}
			if types := entryCounts(v); types["resolve_withheld"] != 1 || types[amresolve.EntryStillFiring] != 1 {
				t.Fatalf("timeline %+v: want one resolve_withheld and one %s (Alertmanager asked, and api-200 still fires)", v.Timeline, amresolve.EntryStillFiring)
			}
			askedOnceForTheGroupAtLeast(t, am)
			am.mu.Lock()
			am.active = nil
			am.mu.Unlock()
			h.runUntil(h.clock.Now().Add(amresolve.RecheckEvery))
			if v := h.incident(id); v.Status != "resolved" || v.ResolvedBy != "alertmanager" || entryCounts(v)[amresolve.EntryConfirmed] != 1 {
				t.Fatalf("api-200 no longer fires: %s by %q, want resolved by alertmanager, confirmed; timeline %+v", v.Status, v.ResolvedBy, v.Timeline)
			}
		})
	}
}

// TestStaleLastResolveAsksAlertmanagerBeforeSweepingAnAlertThatStartedBeforeTheGroupEnded:
// in fingerprint mode, the group (101 alerts, so it had an overflow
// incident) resolved at 05:54, api-050 unseen, and one Alertmanager of a
// cluster said so; api-200 then fired, pending since 05:53 (Prometheus
// gives the start at which an alert turns pending, a `for:` before it
// fires). The other Alertmanager's copy of the group's last resolve,
// delivered last, swept api-200's incident, which it does not name and
// whose start comes before the ends it gives: api-200 fired and nobody
// was paged. With alertmanager_url, pagerd now asks Alertmanager first:
// api-200, listed firing, stays open and says why; api-050, not listed,
// is resolved. Without it, nothing tells api-200 from an alert that
// resolved unseen (api-050), which would page for good: both resolve, as
// before (README Not yet).
func TestStaleLastResolveAsksAlertmanagerBeforeSweepingAnAlertThatStartedBeforeTheGroupEnded(t *testing.T) {
	roomyDeadline(t)
	t0 := fixedNow.Add(-10 * time.Minute)
	for _, url := range []bool{true, false} {
		for name, open := range stores(t) {
			t.Run(map[bool]string{true: "with alertmanager_url/", false: "without/"}[url]+name, func(t *testing.T) {
				am := &fakeAlertmanagerAPI{active: []string{"fp-api-200"}}
				cfg := noStorm
				if url {
					cfg, _ = amConfig(t, am, byURL)
				}
				h := newHarness(t, withConfig(cfg), withStore(open(t)))
				post := batchPoster(t, h)
				alerts := groupOf101(t0)
				post(amEpisodes("firing", alerts...))
				for i := range alerts {
					alerts[i].status, alerts[i].end = "resolved", t0.Add(4*time.Minute)
				}
				last := amEpisodes("resolved", append(alerts[:50:50], alerts[51:]...)...)
				post(last)
				post(amEpisodes("firing", amEpisode{"api-200", "firing", t0.Add(3 * time.Minute), time.Time{}}))
				post(last)
				byInstance := incidentsByInstance(t, h, "api-050", "api-200")
				start := h.clock.Now()
				h.runUntil(start.Add(3 * time.Minute))
				fired, unseen := h.incident(byInstance["api-200"]), h.incident(byInstance["api-050"])
				if !url {
					if fired.Status != "resolved" || unseen.Status != "resolved" {
						t.Fatalf("without alertmanager_url: api-200 %s, api-050 %s, want both resolved", fired.Status, unseen.Status)
					}
					return
				}
				if fired.Status != "triggered" {
					t.Fatalf("api-200 fires: %s, want triggered; timeline %+v", fired.Status, fired.Timeline)
				}
				if types := entryCounts(fired); types[amresolve.EntryStillFiring] != 1 || types["resolve_group"] != 0 {
					t.Fatalf("api-200 timeline %+v: want one %s and no resolve_group", fired.Timeline, amresolve.EntryStillFiring)
				}
				if len(h.rec.lines(start)) == 0 {
					t.Fatalf("api-200's open incident paged nobody")
				}
				if unseen.Status != "resolved" || unseen.ResolvedBy != "alertmanager" || entryCounts(unseen)[amresolve.EntryConfirmed] != 1 {
					t.Fatalf("api-050 resolved unseen: %s by %q, want resolved by alertmanager, confirmed; timeline %+v", unseen.Status, unseen.ResolvedBy, unseen.Timeline)
				}
				askedOnceForTheGroupAtLeast(t, am)
			})
		}
	}
}

// TestLastResolveKeepsAnAcknowledgedIncidentWhoseAlertIsSilenced: in
// fingerprint mode, a group that had alerts left out (101 of them) ends,
// and its last resolve names every alert but api-050 and api-051, which
// are silenced: Alertmanager mutes them in its notifications. Asked, it
// lists both, suppressed. api-051's incident pages and nobody has seen
// it, and a silenced alert is one its team chose not to be paged for: it
// is resolved, as before. api-050's incident is acknowledged: with
// silence_on_acknowledge its alert is silenced by pagerd and still fires,
// and resolving it ended that silence, so the alert paged again as a new
// incident. It now stays acknowledged, as the check its acknowledgement
// started keeps it (silenced alerts count as firing) until the alert
// ends. Where acknowledging does not silence (alertmanager_url alone),
// someone else silenced it, and it is resolved as before.
func TestLastResolveKeepsAnAcknowledgedIncidentWhoseAlertIsSilenced(t *testing.T) {
	roomyDeadline(t)
	t0 := fixedNow.Add(-10 * time.Minute)
	for _, silences := range []bool{true, false} {
		for name, open := range stores(t) {
			t.Run(map[bool]string{true: "silence_on_acknowledge/", false: "alertmanager_url/"}[silences]+name, func(t *testing.T) {
				am := &fakeAlertmanagerAPI{suppressed: []string{"fp-api-050", "fp-api-051"}}
				how := byURL
				if silences {
					how = bySilencing
				}
				cfg, _ := amConfig(t, am, how)
				h := newHarness(t, withConfig(cfg), withStore(open(t)))
				post := batchPoster(t, h)
				alerts := groupOf101(t0)
				post(amEpisodes("firing", alerts...))
				byInstance := incidentsByInstance(t, h, "api-050", "api-051")
				if r := h.api("POST", "/api/v1/incidents/"+byInstance["api-050"]+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
					t.Fatalf("acknowledge: %d %s", r.code, r.body)
				}
				for i := range alerts {
					alerts[i].status, alerts[i].end = "resolved", t0.Add(4*time.Minute)
				}
				post(amEpisodes("resolved", append(alerts[:50:50], alerts[52:]...)...)) // the silenced two muted
				h.runUntil(h.clock.Now().Add(3 * time.Minute))
				acked, silenced := h.incident(byInstance["api-050"]), h.incident(byInstance["api-051"])
				if silences && (acked.Status != "acknowledged" || entryCounts(acked)[amresolve.EntryStillFiring] != 1) {
					t.Fatalf("api-050, acknowledged and silenced by pagerd: %s, want acknowledged with one %s; timeline %+v", acked.Status, amresolve.EntryStillFiring, acked.Timeline)
				}
				if !silences && (acked.Status != "resolved" || entryCounts(acked)[amresolve.EntryConfirmed] != 1) {
					t.Fatalf("api-050, acknowledged and silenced by someone: %s, want resolved, confirmed; timeline %+v", acked.Status, acked.Timeline)
				}
				if silenced.Status != "resolved" || entryCounts(silenced)[amresolve.EntryConfirmed] != 1 {
					t.Fatalf("api-051, silenced and never acknowledged: %s, want resolved, confirmed; timeline %+v", silenced.Status, silenced.Timeline)
				}
				askedOnceForTheGroupAtLeast(t, am)
			})
		}
	}
}

// TestLastResolveResolvesAnIncidentAcknowledgedBeforeSilenceOnAcknowledge:
// api-050's incident was acknowledged while its service had
// alertmanager_url alone: pagerd silenced nothing and started no check of
// its own (SilencedAt empty). silence_on_acknowledge is added by a reload,
// and the group's last resolve leaves api-050 out, silenced by someone
// else. Kept acknowledged as pagerd's silence's, nothing would ever
// resolve it, and the alert firing again later would repeat it and page
// nobody: it is resolved, as before the reload.
func TestLastResolveResolvesAnIncidentAcknowledgedBeforeSilenceOnAcknowledge(t *testing.T) {
	roomyDeadline(t)
	t0 := fixedNow.Add(-10 * time.Minute)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{suppressed: []string{"fp-api-050"}}
			cfg, url := amConfig(t, am, byURL)
			h := newHarness(t, withConfig(cfg), withStore(open(t)))
			post := batchPoster(t, h)
			alerts := groupOf101(t0)
			post(amEpisodes("firing", alerts...))
			id := incidentsByInstance(t, h, "api-050")["api-050"]
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("acknowledge: %d %s", r.code, r.body)
			}
			h.runUntil(h.clock.Now().Add(time.Minute))
			if err := h.reload(withBatchLine(bySilencing(url))); err != nil {
				t.Fatal(err)
			}
			for i := range alerts {
				alerts[i].status, alerts[i].end = "resolved", t0.Add(4*time.Minute)
			}
			post(amEpisodes("resolved", append(alerts[:50:50], alerts[51:]...)...)) // api-050 muted
			h.runUntil(h.clock.Now().Add(3 * time.Minute))
			if v := h.incident(id); v.Status != "resolved" || entryCounts(v)[amresolve.EntryConfirmed] != 1 {
				t.Fatalf("api-050, acknowledged before silence_on_acknowledge and silenced by someone: %s, want resolved, confirmed; timeline %+v", v.Status, v.Timeline)
			}
		})
	}
}

// TestLastResolveKeepsAnIncidentAcknowledgedWhileAlertmanagerIsAsked:
// api-050's incident is open, not acknowledged, when the group's last
// resolve check reads it; it is acknowledged (and pagerd silences its
// alert) before Alertmanager answers, which then lists the alert silenced:
// left out of the active ones, as ended. Resolved on that answer, its
// silence ended and the alert, still firing, paged again as a new
// incident. The resolve now asks, in its write, whether the incident was
// acknowledged so since: it stays acknowledged.
func TestLastResolveKeepsAnIncidentAcknowledgedWhileAlertmanagerIsAsked(t *testing.T) {
	roomyDeadline(t)
	t0 := fixedNow.Add(-10 * time.Minute)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{suppressed: []string{"fp-api-050"}}
			cfg, _ := amConfig(t, am, bySilencing)
			h := newHarness(t, withConfig(cfg), withStore(open(t)))
			post := batchPoster(t, h)
			alerts := groupOf101(t0)
			post(amEpisodes("firing", alerts...))
			id := incidentsByInstance(t, h, "api-050")["api-050"]
			h.runUntil(h.clock.Now().Add(30 * time.Second)) // the cut notification's own check asks first
			am.mu.Lock()
			am.onAlerts = func() {
				if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
					t.Errorf("acknowledge: %d %s", r.code, r.body)
				}
			}
			am.mu.Unlock()
			for i := range alerts {
				alerts[i].status, alerts[i].end = "resolved", t0.Add(4*time.Minute)
			}
			post(amEpisodes("resolved", append(alerts[:50:50], alerts[51:]...)...)) // api-050 muted
			h.runUntil(h.clock.Now().Add(3 * time.Minute))
			if v := h.incident(id); v.Status != "acknowledged" {
				t.Fatalf("api-050, acknowledged and silenced while Alertmanager was asked: %s, want acknowledged; timeline %+v", v.Status, v.Timeline)
			}
			askedOnceForTheGroupAtLeast(t, am)
		})
	}
}

// askedAt is how the batch service names the Alertmanager at url:
// alertmanager_url, or, with silences, silence_on_acknowledge's.
type askedAt func(url string) string

var (
	byURL       askedAt = func(url string) string { return "    alertmanager_url: " + url + "\n" }
	bySilencing askedAt = func(url string) string {
		return "    silence_on_acknowledge: {alertmanager_url: '" + url + "', duration: 2h}\n"
	}
)

// amConfig serves am for the test and returns noStorm with the batch
// service naming it as how says, and its URL.
func amConfig(t *testing.T, am *fakeAlertmanagerAPI, how askedAt) (string, string) {
	srv := httptest.NewServer(am)
	t.Cleanup(srv.Close)
	return withBatchLine(how(srv.URL)), srv.URL
}

// withBatchLine is noStorm with line in the batch service.
func withBatchLine(line string) string {
	return strings.Replace(noStorm, "    incident_key: fingerprint\n", "    incident_key: fingerprint\n"+line, 1)
}

// batchPoster posts Alertmanager notifications to the batch service of h,
// failing the test on any answer but 200.
func batchPoster(t *testing.T, h *harness) func(body string) {
	return func(body string) {
		t.Helper()
		if r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+batchKey); r.code != 200 {
			t.Fatalf("%d %.300s", r.code, r.body)
		}
	}
}

// incidentsByInstance finds the batch service's incidents of the alerts
// of those instances (amEpisodes' fingerprints), failing the test unless
// every one has one.
func incidentsByInstance(t *testing.T, h *harness, instances ...string) map[string]string {
	t.Helper()
	byInstance := map[string]string{}
	for _, v := range h.list("?service=batch&limit=1000") {
		for _, inst := range instances {
			if strings.HasSuffix(v.DedupKey, "fp-"+inst) {
				byInstance[inst] = v.ID
			}
		}
	}
	if len(byInstance) != len(instances) {
		t.Fatalf("incidents by instance %v, want %v", byInstance, instances)
	}
	return byInstance
}

// roomyDeadline gives the test's requests the time a notification of a
// hundred alerts in fingerprint mode takes to store on a machine whose
// disk and cores other processes keep busy; call it before newHarness (as
// shortDeadline). Each alert is an incident of its own: the intake stores
// a few at once (takeGroups), sharing the embedded store's fsyncs, but
// under the race detector on a loaded machine these tests still ran past
// the 5 s request timeout when they stored them one after another (a 503,
// "did not confirm the write in time"). What they check is which
// incidents stay open, not how fast the machine is;
// TestFingerprintNotificationOnASlowDiskIsStoredWhole checks the time.
func roomyDeadline(t *testing.T) { shortDeadline(t, time.Minute) }

// groupOf101 is a notification's alerts, api-000 to api-100, firing since
// t0: one more than a message opens incidents for, so the group has an
// alert left out.
func groupOf101(t0 time.Time) []amEpisode {
	alerts := make([]amEpisode, 101)
	for i := range alerts {
		alerts[i] = amEpisode{fmt.Sprintf("api-%03d", i), "firing", t0, time.Time{}}
	}
	return alerts
}

// TestLastResolveKeepsAReopenedIncidentWhoseSilenceIsNotExpiredYet: in
// fingerprint mode, api-050's incident was acknowledged (pagerd silenced
// its alert) and then escalated: re-opened, it owes the expiry of that
// silence, which Alertmanager has not taken yet (its silences API
// refuses; the expiry is retried). The group's last resolve leaves
// api-050 out, muted by pagerd's own silence, and Alertmanager lists it
// suppressed. No longer acknowledged, the incident was taken for one
// silenced by someone else and resolved while its alert fired, muted by
// pagerd's silence: nobody paged until that silence was expired or ended.
// It now stays open, paging, as an acknowledged one stays acknowledged.
func TestLastResolveKeepsAReopenedIncidentWhoseSilenceIsNotExpiredYet(t *testing.T) {
	roomyDeadline(t)
	t0 := fixedNow.Add(-10 * time.Minute)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{suppressed: []string{"fp-api-050"}}
			cfg, _ := amConfig(t, am, bySilencing)
			h := newHarness(t, withConfig(cfg), withStore(open(t)))
			post := batchPoster(t, h)
			alerts := groupOf101(t0)
			post(amEpisodes("firing", alerts...))
			id := incidentsByInstance(t, h, "api-050")["api-050"]
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("acknowledge: %d %s", r.code, r.body)
			}
			h.runUntil(h.clock.Now().Add(time.Minute))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("escalate: %d %s", r.code, r.body)
			}
			h.step(h.clock.Now())
			for i := range alerts {
				alerts[i].status, alerts[i].end = "resolved", t0.Add(4*time.Minute)
			}
			post(amEpisodes("resolved", append(alerts[:50:50], alerts[51:]...)...)) // api-050 muted
			h.runUntil(h.clock.Now().Add(3 * time.Minute))
			if v := h.incident(id); v.Status != "triggered" || entryCounts(v)[amresolve.EntryStillFiring] != 1 {
				t.Fatalf("api-050, re-opened with pagerd's silence not expired yet: %s, want triggered with one %s; timeline %+v",
					v.Status, amresolve.EntryStillFiring, v.Timeline)
			}
		})
	}
}
