package gateway

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
)

// TestRateLimitedSMSWaitsItsTurnThroughUpdates: as
// TestRateLimitedSMSBurstGoesOutInTurn, the second and third SMS are sent
// back at 2m for their turns (2m50s, 3m40s); dan then posts a status
// update on each incident at 2m10s, and Alertmanager sends the alerts
// again (a repeat). Their steps stay due at their turns: the sent-back
// step's time is in the incident's pending deadlines (not only in its due
// entry, which an Update moves), so no update tries an SMS early, nor
// counts it rate_limited again.
func TestRateLimitedSMSWaitsItsTurnThroughUpdates(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfg := strings.Replace(twilioAt(fake, twilioConfig), "notifiers:\n",
		"notifiers:\n  storm: {window: 0s}\n  rate_limits: {twilio: {per_second: 0.02, burst: 1}}\n", 1)
	h := newHarness(t, withConfig(cfg), realTransport("twilio"), fastRetries())
	var ids []string
	fireAll := func() {
		for _, g := range []string{"g1", "g2", "g3"} {
			r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", g, map[string]string{"alertname": "A" + g, "severity": "critical"}),
				"Authorization", "Bearer "+amKey)
			if r.code != 200 {
				t.Fatalf("webhook: %d %s", r.code, r.body)
			}
			if len(ids) < 3 {
				var res struct{ Incidents []string }
				r.json(t, &res)
				ids = append(ids, res.Incidents[0])
			}
		}
	}
	fireAll()
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("at 2m Twilio got %d SMS, want 1 (the others wait their turn)", n)
	}
	h.clock.Set(fixedNow.Add(2*time.Minute + 10*time.Second))
	for _, id := range ids {
		if r := h.api("POST", "/api/v1/incidents/"+id+"/status", `{"user":"dan","message":"looking"}`); r.code != 200 {
			t.Fatalf("status update: %d %s", r.code, r.body)
		}
	}
	fireAll()
	h.runUntil(fixedNow.Add(2*time.Minute + 49*time.Second))
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("by 2m49s Twilio got %d SMS, want 1", n)
	}
	h.runUntil(fixedNow.Add(4 * time.Minute))
	var sentAt []string
	for _, id := range ids {
		for _, e := range h.incident(id).Timeline {
			if e.Type == "notify" && e.Channel == "sms" {
				sentAt = append(sentAt, e.At.Sub(fixedNow).String())
			}
		}
	}
	sort.Strings(sentAt)
	if strings.Join(sentAt, " ") != "2m0s 2m50s 3m40s" {
		t.Fatalf("SMS recorded sent at %v, want 2m0s 2m50s 3m40s", sentAt)
	}
	if got := metric(t, h.reg, "pagerd_pages_total", "channel", "sms", "result", "rate_limited"); got != 2 {
		t.Fatalf("pagerd_pages_total{result=rate_limited} %v, want 2: an update brought a sent-back SMS forward", got)
	}
}
