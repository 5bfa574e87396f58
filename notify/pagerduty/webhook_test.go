package pagerduty_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// receiver records what a webhook asked of pagerd.
type receiver struct {
	notify.Receiver
	acted []string
}

func (r *receiver) Act(_ context.Context, target, user string, a notify.Action) (notify.Acted, error) {
	r.acted = append(r.acted, target+" "+user+" "+string(a))
	return notify.Acted{Changed: true, Incident: target}, nil
}

func (r *receiver) EscalateFrom(_ context.Context, user string, p notify.Page) (notify.Acted, error) {
	r.acted = append(r.acted, p.Target+" "+user+" escalate")
	return notify.Acted{Changed: true, Incident: p.Target}, nil
}

func (r *receiver) KnowsUser(string) bool { return true }

// TestWebhookEscalatedChangesNothing: PagerDuty's incident.escalated is
// its own escalation policy moving the incident pagerd pushed to one
// person, not that person asking pagerd to escalate. It is accepted and
// acts on nothing (the ladder goes on in pagerd), however often it is
// delivered; incident.acknowledged on the same incident acts.
func TestWebhookEscalatedChangesNothing(t *testing.T) {
	rec := &receiver{}
	wh := &pagerduty.Webhook{Receiver: rec, Secret: func() string { return providertest.PagerDutyWebhookSecret }}
	post := func(eventType string) int {
		body := `{"event":{"id":"01ABC","event_type":"` + eventType + `","agent":{"summary":"Carol"},"data":{"id":"Q1","type":"incident","incident_key":"` +
			pagerduty.DedupKey("01incident", "carol", 0) + `"}}}`
		r := httptest.NewRequest(http.MethodPost, pagerduty.WebhookPath, strings.NewReader(body))
		r.Header.Set("X-PagerDuty-Signature", providertest.PagerDutySign([]byte(body), providertest.PagerDutyWebhookSecret))
		w := httptest.NewRecorder()
		if err := wh.ServeWebhook(w, r); err != nil {
			t.Fatalf("%s: %v", eventType, err)
		}
		return w.Code
	}
	for range 2 {
		if code := post("incident.escalated"); code != http.StatusNoContent {
			t.Fatalf("incident.escalated: %d, want 204", code)
		}
	}
	if len(rec.acted) != 0 {
		t.Fatalf("incident.escalated acted: %v", rec.acted)
	}
	if code := post("incident.acknowledged"); code != http.StatusNoContent || len(rec.acted) != 1 || rec.acted[0] != "01incident carol acknowledge" {
		t.Fatalf("incident.acknowledged: %d, acted %v", code, rec.acted)
	}
}
