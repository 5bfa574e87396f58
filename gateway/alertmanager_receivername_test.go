package gateway

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// TestRealAlertmanagerReceiverNameQuoted: Alertmanager 0.25's webhook
// names its receiver quoted as a regular expression (regexp.QuoteMeta:
// receiver "pagerd.prod" comes as `pagerd\.prod`), and its API's receiver
// parameter is a regular expression. pagerd asked with the stored name
// quoted a second time, which matches only a receiver named with the
// backslash: Alertmanager listed none of the group's alerts, so the check
// of an acknowledged incident whose alerts pagerd silenced resolved it at
// once while they still fired (and a withheld resolve was confirmed the
// same way). Asked with the name as the webhook gave it, Alertmanager
// lists the silenced alerts and the incident stays acknowledged.
func TestRealAlertmanagerReceiverNameQuoted(t *testing.T) {
	var ahead atomic.Int64
	ahead.Store(int64(amresolve.StartMargin + time.Minute)) // Alertmanager is believed
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	am, h, api := amSilencingPagerdAs(t, "pagerd.prod", "alertname", "1h", clock)
	startsAt := time.Now().Add(-time.Minute).UTC()
	am.postAlerts(t, amITAlert{Labels: map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db1"}, StartsAt: startsAt})
	var id string
	waitUntil(t, amITTimeout, "the group's incident", func() bool {
		var out struct{ Incidents []incidentView }
		api.get(t, "/api/v1/incidents", &out)
		if len(out.Incidents) == 1 {
			id = out.Incidents[0].ID
			if d := string(out.Incidents[0].Details); !strings.Contains(d, `"receiver":"pagerd\\.prod"`) {
				t.Fatalf("the webhook did not name the receiver quoted: %s", d)
			}
			return true
		}
		return false
	})
	acknowledged := clock()
	api.act(t, id, "acknowledge")
	waitUntil(t, 10*time.Second, "the alert silenced", func() bool {
		var alerts []struct {
			Status struct {
				State string `json:"state"`
			} `json:"status"`
		}
		am.getJSON(t, "/api/v2/alerts", &alerts)
		return len(alerts) == 1 && alerts[0].Status.State == "suppressed"
	})
	// The check runs at once after the acknowledgement, then every
	// RecheckEvery: wait until it has asked.
	waitUntil(t, 10*time.Second, "the check of the silenced alert", func() bool {
		j, err := h.store.GetJob(context.Background(), amresolve.JobKind, id+"/acknowledged")
		if errors.Is(err, store.ErrNotFound) {
			var v incidentView
			api.get(t, "/api/v1/incidents/"+id, &v)
			if v.Status != policy.StatusAcknowledged {
				t.Fatalf("its alert silenced and firing: %s by %q, want acknowledged; timeline %v", v.Status, v.ResolvedBy, api.timeline(t, id))
			}
		}
		return err == nil && !j.Due.Before(acknowledged.Add(amresolve.RecheckEvery))
	})
	var v incidentView
	api.get(t, "/api/v1/incidents/"+id, &v)
	if v.Status != policy.StatusAcknowledged || entryCounts(v)[amresolve.EntryConfirmed] != 0 {
		t.Fatalf("its alert silenced and firing: %s, want acknowledged; timeline %v", v.Status, api.timeline(t, id))
	}
}
