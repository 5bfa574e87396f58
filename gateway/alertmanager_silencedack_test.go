package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

// TestRealAlertmanagerSilencedAcknowledgedIncidentResolves runs
// amresolve's check of a silenced acknowledged incident against Debian's
// real Alertmanager 0.25, end to end. Alertmanager mutes the resolved
// notification of the alerts pagerd silenced at the acknowledgement, so
// pagerd asks it whether any alert of the group is still listed: while
// they are (silenced: "suppressed"), even posted firing again, the
// incident stays acknowledged; once they are posted resolved, pagerd
// resolves it (resolve_confirmed), expires its silences, and the group
// firing again is a new incident that pages.
//
// The group's label value holds a quote, a comma and braces, which
// Alertmanager's filter must get escaped; a neighbouring group whose
// value differs from it by escaping backslashes keeps firing throughout,
// unsilenced. A filter escaped wrong matches nothing, the neighbour or
// is refused: the incident resolves while its alerts fire, or never.
//
// pagerd's clock runs ahead of the real one by more than
// amresolve.StartMargin, so the Alertmanager started moments ago is
// believed (TestRealAlertmanagerMaxAlertsGroupResolves proves the
// distrust of a fresh one), and is moved a minute
// (amresolve.RecheckEvery) for each check after the first.
func TestRealAlertmanagerSilencedAcknowledgedIncidentResolves(t *testing.T) {
	// pagerd's clock, ahead of Alertmanager's start by more than
	// amresolve.StartMargin.
	var ahead atomic.Int64
	ahead.Store(int64(amresolve.StartMargin + time.Minute))
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	// repeat_interval is short because Alertmanager's notification log
	// still holds the firing notification sent before the silence (the
	// resolved one was muted): the group firing again with the same
	// alerts is sent only once repeat_interval has passed since it.
	am, h, api := amSilencingPagerd(t, "alertname, mount", "2s", clock)

	const mount, neighbourMount = `/data "x", {y}`, `/data \"x\", {y}`
	startsAt := time.Now().Add(-time.Minute).UTC()
	group := []amITAlert{
		{Labels: map[string]string{"alertname": "DiskFull", "mount": mount, "severity": "critical", "instance": "db1"}, StartsAt: startsAt},
		{Labels: map[string]string{"alertname": "DiskFull", "mount": mount, "severity": "critical", "instance": "db2"}, StartsAt: startsAt},
	}
	neighbour := amITAlert{Labels: map[string]string{"alertname": "DiskFull", "mount": neighbourMount, "severity": "critical", "instance": "db3"}, StartsAt: startsAt}
	am.postAlerts(t, append(group, neighbour)...)

	// byMount lists pagerd's incidents by their group's mount label.
	byMount := func() map[string][]incidentView {
		var out struct{ Incidents []incidentView }
		api.get(t, "/api/v1/incidents", &out)
		m := map[string][]incidentView{}
		for _, v := range out.Incidents {
			var d struct {
				GroupLabels map[string]string `json:"group_labels"`
			}
			if err := json.Unmarshal(v.Details, &d); err != nil {
				t.Fatalf("incident %s's details: %v", v.ID, err)
			}
			m[d.GroupLabels["mount"]] = append(m[d.GroupLabels["mount"]], v)
		}
		return m
	}
	incident := func(id string) incidentView {
		t.Helper()
		var v incidentView
		api.get(t, "/api/v1/incidents/"+id, &v)
		return v
	}
	var id string
	waitUntil(t, amITTimeout, "one incident per group", func() bool {
		m := byMount()
		if len(m[mount]) == 1 && len(m[neighbourMount]) == 1 && strings.Contains(string(m[mount][0].Details), `"alerts_total":2`) {
			id = m[mount][0].ID
			return true
		}
		return false
	})
	acknowledged := clock()
	api.act(t, id, "acknowledge")

	// A real silence per alert of the group, none for the neighbour, and
	// Alertmanager shows the group's alerts suppressed by them.
	waitUntil(t, 10*time.Second, "two active silences of the group's mount", func() bool {
		n := 0
		for _, s := range amSilences(t, am) {
			if s.Status.State != "active" {
				continue
			}
			if !slices.Contains(s.Matchers, amMatcher{Name: "mount", Value: mount}) {
				t.Fatalf("a silence of another mount: %+v", s)
			}
			n++
		}
		return n == 2
	})
	waitUntil(t, 10*time.Second, "the group's alerts suppressed, the neighbour's active", func() bool {
		states := amAlertStates(t, am)
		return states[mount] == "suppressed suppressed" && states[neighbourMount] == "active"
	})

	// checked waits until the check has asked Alertmanager at pagerd's
	// time since or later: it then asks again a minute after.
	checked := func(what string, since time.Time) {
		t.Helper()
		waitUntil(t, 10*time.Second, what, func() bool {
			j, err := h.store.GetJob(context.Background(), amresolve.JobKind, id+"/acknowledged")
			if errors.Is(err, store.ErrNotFound) {
				if v := incident(id); v.Status != policy.StatusAcknowledged {
					t.Fatalf("its alerts silenced and firing: %s, want acknowledged; timeline %+v", v.Status, v.Timeline)
				}
			}
			return err == nil && !j.Due.Before(since.Add(amresolve.RecheckEvery))
		})
	}
	checked("the check after the acknowledgement", acknowledged)
	// Prometheus sends the firing alerts again; the next check is due.
	am.postAlerts(t, group...)
	next := clock().Add(amresolve.RecheckEvery)
	ahead.Add(int64(amresolve.RecheckEvery))
	checked("the check a minute later", next)
	v := incident(id)
	c := entryCounts(v)
	if v.Status != policy.StatusAcknowledged || c[amresolve.EntryChecking] != 1 || c[amresolve.EntryUnconfirmed] != 0 ||
		c[amresolve.EntryRecentStart] != 0 || c[amresolve.EntryConfirmed] != 0 {
		t.Fatalf("its alerts silenced and firing: %s, want acknowledged after one %s and nothing else of the check; timeline %+v",
			v.Status, amresolve.EntryChecking, v.Timeline)
	}

	// The problem ends: Prometheus sends the alerts resolved, and
	// Alertmanager mutes their notification.
	for i := range group {
		group[i].EndsAt = time.Now().Add(-time.Second).UTC()
	}
	am.postAlerts(t, group...)
	waitUntil(t, 10*time.Second, "Alertmanager listing none of the group", func() bool {
		_, listed := amAlertStates(t, am)[mount]
		return !listed
	})
	ahead.Add(int64(amresolve.RecheckEvery))
	waitUntil(t, 10*time.Second, "the incident resolved", func() bool { return incident(id).Status == policy.StatusResolved })
	v = incident(id)
	if v.ResolvedBy != "alertmanager" || entryCounts(v)[amresolve.EntryConfirmed] != 1 {
		t.Fatalf("resolved by %q, want alertmanager after one %s; timeline %+v", v.ResolvedBy, amresolve.EntryConfirmed, v.Timeline)
	}
	waitUntil(t, 10*time.Second, "the group's silences expired", func() bool { return amSilencesExpired(t, am) })
	waitUntil(t, 10*time.Second, "resolve_confirmed, resolve, then unsilenced, in the timeline", func() bool {
		return strings.HasSuffix(strings.Join(api.timeline(t, id), ","), amresolve.EntryConfirmed+",resolve,unsilenced")
	})
	if m := byMount(); m[neighbourMount][0].Status != policy.StatusTriggered {
		t.Fatalf("the neighbouring group, still firing: %+v", m[neighbourMount][0])
	}

	// The group fires again: a new incident, which pages.
	for i := range group {
		group[i].StartsAt, group[i].EndsAt = time.Now().UTC(), time.Time{}
	}
	am.postAlerts(t, group...)
	var again incidentView
	waitUntil(t, amITTimeout, "a new incident for the group firing again", func() bool {
		m := byMount()
		if len(m[mount]) > 2 {
			t.Fatalf("%d incidents of the group, want 2: %+v", len(m[mount]), m[mount])
		}
		for _, v := range m[mount] {
			if v.ID != id {
				again = v
				return true
			}
		}
		return false
	})
	if again.Status != policy.StatusTriggered || incident(id).Status != policy.StatusResolved {
		t.Fatalf("firing again: incident %+v, the first %s", again, incident(id).Status)
	}
	waitUntil(t, 10*time.Second, "the new incident's page", func() bool {
		h.rec.mu.Lock()
		defer h.rec.mu.Unlock()
		return slices.ContainsFunc(h.rec.msgs, func(m notify.Message) bool { return m.Incident == again.ID && m.User == "carol" })
	})
}

// amAlertStates reads the alerts Alertmanager lists for receiver pagerd
// (GET /api/v2/alerts: unresolved ones, silenced and inhibited too) and
// returns each mount label's alerts' states, sorted and joined by spaces.
func amAlertStates(t *testing.T, am *amITAlertmanager) map[string]string {
	t.Helper()
	var alerts []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State string `json:"state"`
		} `json:"status"`
	}
	am.getJSON(t, "/api/v2/alerts?receiver=pagerd", &alerts)
	states := map[string][]string{}
	for _, a := range alerts {
		states[a.Labels["mount"]] = append(states[a.Labels["mount"]], a.Status.State)
	}
	out := map[string]string{}
	for m, s := range states {
		slices.Sort(s)
		out[m] = strings.Join(s, " ")
	}
	return out
}
