package gateway

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/amresolve"
)

// TestResolvedNotificationLeavingAlertsOutWithNoIncidentOpen: api-1 and
// api-2 fire and resolve within group_wait while api-3 fires; Alertmanager
// (max_alerts 2) sends the group as resolved with api-1 and api-2 and
// truncatedAlerts 1, and no incident of the group is open. pagerd dropped
// it, and api-3 paged only at the group's next change, or hours later at
// its repeat_interval. Now it asks Alertmanager, and opens the group's
// incident, which pages, only if an alert of the group is active: not for
// silenced ones, not when none fires (the end of a large group whose
// incident was resolved by hand), and it asks again while Alertmanager
// cannot be asked.
func TestResolvedNotificationLeavingAlertsOutWithNoIncidentOpen(t *testing.T) {
	for _, tc := range []struct {
		name   string
		firing int
		state  string
		down   bool
		opened bool
	}{
		{"an alert left out fires", 1, "", false, true},
		{"the alert left out is silenced", 1, "suppressed", false, false},
		{"none fires", 0, "", false, false},
		{"Alertmanager down, then an alert fires", 1, "", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{firing: tc.firing, state: tc.state, down: tc.down}
			srv := httptest.NewServer(am)
			t.Cleanup(srv.Close)
			cfg := strings.Replace(testConfig, "    targets:\n      P0: {acknowledge: 5m}\n",
				"    targets:\n      P0: {acknowledge: 5m}\n    alertmanager_url: "+srv.URL+"\n", 1)
			h := newHarness(t, withConfig(cfg))
			r := h.do("POST", "/api/v1/alertmanager", amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}),
				"Authorization", "Bearer "+amKey)
			if r.code != 200 {
				t.Fatalf("%d %s", r.code, r.body)
			}
			if n := len(h.list("")); n != 0 {
				t.Fatalf("%d incidents before Alertmanager was asked, want none", n)
			}
			h.step(h.clock.Now())
			if tc.down {
				if n := len(h.list("")); n != 0 {
					t.Fatalf("%d incidents while Alertmanager could not be asked, want none yet", n)
				}
				am.set(tc.firing, false)
				h.step(h.clock.Now().Add(amresolve.RecheckEvery))
			}
			incs := h.list("")
			if !tc.opened {
				if len(incs) != 0 {
					t.Fatalf("%d incidents, want none: %+v", len(incs), incs)
				}
				return
			}
			if len(incs) != 1 {
				t.Fatalf("%d incidents, want the group's", len(incs))
			}
			v := h.incident(incs[0].ID)
			if v.Status != "triggered" || entryCounts(v)[amresolve.EntryLeftOutFiring] != 1 || entryCounts(v)["notify"] == 0 ||
				!strings.Contains(v.Summary, "left out of a resolved notification") {
				t.Fatalf("incident %s, summary %q, timeline %+v; want triggered, paged, with the %s entry", v.Status, v.Summary, v.Timeline, amresolve.EntryLeftOutFiring)
			}
			// Its resolve is checked with Alertmanager, as a withheld
			// one is: Alertmanager counts api-3 notified.
			if _, err := h.store.GetJob(context.Background(), amresolve.JobKind, v.ID); err != nil {
				t.Fatalf("the check of its resolve: %v", err)
			}
			am.set(0, false)
			h.step(h.clock.Now().Add(amresolve.RecheckEvery))
			if v := h.incident(v.ID); v.Status != "resolved" {
				t.Fatalf("after Alertmanager says none fires: %s", v.Status)
			}
		})
	}
}

// TestResolvedNotificationLeavingAlertsOutWithoutAlertmanagerURL: with
// no alertmanager_url nothing can be asked, and nothing is opened (a page
// at every large group's end would follow); the README says so.
func TestResolvedNotificationLeavingAlertsOutWithoutAlertmanagerURL(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/api/v1/alertmanager", amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}),
		"Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	h.step(h.clock.Now().Add(time.Minute))
	if n := len(h.list("")); n != 0 {
		t.Fatalf("%d incidents, want none", n)
	}
}

// TestLeftOutCheckDoesNotBelieveAJustStartedAlertmanager: Alertmanager
// restarts just after it sent the group as resolved with api-3 left out.
// Back up, it lists no alert until Prometheus sends them again, and its
// notification log holds back api-3's firing notification for a
// repeat_interval. The check took that empty answer as "none fires",
// opened nothing and ended: api-3 paged hours late. It now asks again
// until Alertmanager has run StartMargin, and opens the incident then.
func TestLeftOutCheckDoesNotBelieveAJustStartedAlertmanager(t *testing.T) {
	am := &fakeAlertmanagerAPI{down: true}
	srv := httptest.NewServer(am)
	t.Cleanup(srv.Close)
	cfg := strings.Replace(testConfig, "    targets:\n      P0: {acknowledge: 5m}\n",
		"    targets:\n      P0: {acknowledge: 5m}\n    alertmanager_url: "+srv.URL+"\n", 1)
	h := newHarness(t, withConfig(cfg))
	if r := h.do("POST", "/api/v1/alertmanager", amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}),
		"Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	// Back up 30s ago, knowing no alert yet.
	now := h.clock.Now().Add(amresolve.RecheckEvery)
	am.startedAt(now.Add(-30 * time.Second))
	am.set(0, false)
	h.step(now)
	if n := len(h.list("")); n != 0 {
		t.Fatalf("%d incidents, want none yet", n)
	}
	// Prometheus has sent api-3 again.
	am.set(1, false)
	for i := 0; i < 5 && len(h.list("")) == 0; i++ {
		h.step(h.clock.Now().Add(amresolve.RecheckEvery))
	}
	incs := h.list("")
	if len(incs) != 1 {
		t.Fatalf("%d incidents once Alertmanager knows api-3 fires, want the group's", len(incs))
	}
	if v := h.incident(incs[0].ID); v.Status != "triggered" || entryCounts(v)["notify"] == 0 {
		t.Fatalf("incident %s, timeline %+v; want triggered and paged", v.Status, v.Timeline)
	}
}

// TestLeftOutCheckLeavesAnIncidentAFiringNotificationOpened: after the cut
// resolved notification, and before its check runs, the group fires again
// and its notification opens the incident, with the alerts' details. The
// check opens nothing and leaves the incident as the notification made it
// (a trigger of its own would have repeated it and put empty details in
// place of the alerts').
func TestLeftOutCheckLeavesAnIncidentAFiringNotificationOpened(t *testing.T) {
	am := &fakeAlertmanagerAPI{firing: 1}
	srv := httptest.NewServer(am)
	t.Cleanup(srv.Close)
	cfg := strings.Replace(testConfig, "    targets:\n      P0: {acknowledge: 5m}\n",
		"    targets:\n      P0: {acknowledge: 5m}\n    alertmanager_url: "+srv.URL+"\n", 1)
	h := newHarness(t, withConfig(cfg))
	auth := []string{"Authorization", "Bearer " + amKey}
	if r := h.do("POST", "/api/v1/alertmanager", amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}), auth...); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	if r := h.do("POST", "/api/v1/alertmanager", amTruncated("firing", 0, [2]string{"api-3", "firing"}), auth...); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	incs := h.list("")
	if len(incs) != 1 {
		t.Fatalf("%d incidents, want the one the firing notification opened", len(incs))
	}
	before := h.incident(incs[0].ID)
	h.step(h.clock.Now())
	after := h.incident(incs[0].ID)
	if n := entryCounts(after)[amresolve.EntryLeftOutFiring]; n != 0 || after.Repeats != before.Repeats || string(after.Details) != string(before.Details) {
		t.Fatalf("the check wrote %d %s entries, repeats %d (before %d), details %s (before %s); want the incident as the notification left it",
			n, amresolve.EntryLeftOutFiring, after.Repeats, before.Repeats, after.Details, before.Details)
	}
	if n := len(h.list("")); n != 1 {
		t.Fatalf("%d incidents, want 1", n)
	}
}
