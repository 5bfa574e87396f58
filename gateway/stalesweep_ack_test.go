package gateway

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/amresolve"
)

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
	t0 := fixedNow.Add(-10 * time.Minute)
	for _, silences := range []bool{true, false} {
		for name, open := range stores(t) {
			t.Run(map[bool]string{true: "silence_on_acknowledge/", false: "alertmanager_url/"}[silences]+name, func(t *testing.T) {
				am := &fakeAlertmanagerAPI{suppressed: []string{"fp-api-050", "fp-api-051"}}
				srv := httptest.NewServer(am)
				t.Cleanup(srv.Close)
				line := "    alertmanager_url: " + srv.URL + "\n"
				if silences {
					line = "    silence_on_acknowledge: {alertmanager_url: '" + srv.URL + "', duration: 2h}\n"
				}
				cfg := strings.Replace(noStorm, "    incident_key: fingerprint\n", "    incident_key: fingerprint\n"+line, 1)
				h := newHarness(t, withConfig(cfg), withStore(open(t)))
				post := func(body string) {
					t.Helper()
					if r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+batchKey); r.code != 200 {
						t.Fatalf("%d %.300s", r.code, r.body)
					}
				}
				alerts := make([]amEpisode, 101) // one more than an incident a message: the group has alerts left out
				for i := range alerts {
					alerts[i] = amEpisode{fmt.Sprintf("api-%03d", i), "firing", t0, time.Time{}}
				}
				post(amEpisodes("firing", alerts...))
				byInstance := map[string]string{}
				for _, v := range h.list("?service=batch&limit=1000") {
					for _, inst := range []string{"api-050", "api-051"} {
						if strings.HasSuffix(v.DedupKey, "fp-"+inst) {
							byInstance[inst] = v.ID
						}
					}
				}
				if len(byInstance) != 2 {
					t.Fatalf("incidents by instance %v, want api-050 and api-051", byInstance)
				}
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
