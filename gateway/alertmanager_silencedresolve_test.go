package gateway

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// TestRealAlertmanagerResolvedJoinerDoesNotResolveSilencedGroup runs
// Debian's real Alertmanager 0.25: a group of two alerts is acknowledged
// in pagerd, which silences both (silence_on_acknowledge). A third alert
// joins the group, and Alertmanager notifies it alone (the silenced ones
// are muted): a repeat. When the third resolves, Alertmanager sends the
// group as resolved, listing only it, while the two silenced alerts still
// fire. That notification is no word on them: the acknowledged incident
// must stay open. Resolved, it would expire their silences, and the group
// firing again would page the responder who acknowledged it as new.
func TestRealAlertmanagerResolvedJoinerDoesNotResolveSilencedGroup(t *testing.T) {
	am, _, api := amSilencingPagerd(t, "alertname", "1h", time.Now)
	startsAt := time.Now().Add(-time.Minute).UTC()
	alert := func(instance string) amITAlert {
		return amITAlert{Labels: map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": instance}, StartsAt: startsAt}
	}
	db1, db2 := alert("db1"), alert("db2")
	am.postAlerts(t, db1, db2)
	incident := func(id string) incidentView {
		t.Helper()
		var v incidentView
		api.get(t, "/api/v1/incidents/"+id, &v)
		return v
	}
	var id string
	waitUntil(t, amITTimeout, "the group's incident with both alerts", func() bool {
		var out struct{ Incidents []incidentView }
		api.get(t, "/api/v1/incidents", &out)
		if len(out.Incidents) == 1 && strings.Contains(string(out.Incidents[0].Details), `"alerts_total":2`) {
			id = out.Incidents[0].ID
			return true
		}
		return false
	})
	api.act(t, id, "acknowledge")
	waitUntil(t, 10*time.Second, "both alerts suppressed in Alertmanager", func() bool {
		return amAlertStates(t, am)[""] == "suppressed suppressed"
	})

	repeats := incident(id).Repeats
	db3 := alert("db3")
	am.postAlerts(t, db3)
	waitUntil(t, amITTimeout, "the third alert's notification, a repeat", func() bool {
		v := incident(id)
		return v.Repeats > repeats && strings.Contains(string(v.Details), `"instance":"db3"`)
	})
	if v := incident(id); v.Status != policy.StatusAcknowledged {
		t.Fatalf("after the third alert joined: %s, want acknowledged", v.Status)
	}

	db3.EndsAt = time.Now().Add(-time.Second).UTC()
	am.postAlerts(t, db3)
	waitUntil(t, amITTimeout, "the third alert's resolved notification", func() bool {
		v := incident(id)
		return v.Status == policy.StatusResolved || slices.Contains(api.timeline(t, id), "resolve_withheld")
	})
	if v := incident(id); v.Status != policy.StatusAcknowledged {
		t.Fatalf("two alerts of the group still fire, silenced, but the incident is %s by %q; timeline %v",
			v.Status, v.ResolvedBy, api.timeline(t, id))
	}
	if tl := api.timeline(t, id); !slices.Contains(tl, "resolve_withheld") {
		t.Fatalf("timeline %v does not say the resolve was withheld", tl)
	}
	if states := amAlertStates(t, am)[""]; states != "suppressed suppressed" {
		t.Fatalf("the group's alerts in Alertmanager: %q, want both still suppressed", states)
	}
}
