package gateway

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
)

// TestRateLimitedSMSBurstGoesOutInTurn: Twilio's rate limit (here one SMS
// every 50 s, burst 1) and three incidents for Dan at once, whose SMS come
// due together at 2m, through the real transport chain the daemon builds.
// The first SMS goes at 2m; the others' turns are past what their send
// timeout allows to wait, so they are sent back: not recorded failed, the
// step due again at its turn (2m50s, 3m40s), where each goes out. Nothing
// else of the incidents moves: their calls are still at 5m. (They were
// recorded notify_failed and never sent: a burst lost every SMS past the
// send timeout's worth.)
func TestRateLimitedSMSBurstGoesOutInTurn(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfg := strings.Replace(twilioAt(fake, twilioConfig), "notifiers:\n",
		"notifiers:\n  storm: {window: 0s}\n  rate_limits: {twilio: {per_second: 0.02, burst: 1}}\n", 1)
	h := newHarness(t, withConfig(cfg), realTransport("twilio"), fastRetries())
	var ids []string
	for _, g := range []string{"g1", "g2", "g3"} {
		r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", g, map[string]string{"alertname": "A" + g, "severity": "critical"}),
			"Authorization", "Bearer "+amKey)
		if r.code != 200 {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
		var res struct{ Incidents []string }
		r.json(t, &res)
		ids = append(ids, res.Incidents[0])
	}
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("at 2m Twilio got %d SMS, want 1 (the others wait their turn)", n)
	}
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if n := len(fake.Messages()); n != 3 {
		t.Fatalf("by 5m Twilio got %d SMS, want 3", n)
	}
	var sentAt []string
	for _, id := range ids {
		calls := 0
		for _, e := range h.incident(id).Timeline {
			switch {
			case e.Type == "notify_failed":
				t.Errorf("%s: %s %s failed: %s", id, e.User, e.Channel, e.Detail)
			case e.Type == "notify" && e.Channel == "sms":
				sentAt = append(sentAt, e.At.Sub(fixedNow).String())
			case e.Type == "notify" && e.Channel == "voice":
				calls++
				if !e.At.Equal(fixedNow.Add(5 * time.Minute)) {
					t.Errorf("%s: call at %v, want 5m", id, e.At.Sub(fixedNow))
				}
			}
		}
		if calls != 1 {
			t.Errorf("%s: %d calls, want 1 at 5m", id, calls)
		}
	}
	sort.Strings(sentAt)
	if strings.Join(sentAt, " ") != "2m0s 2m50s 3m40s" {
		t.Fatalf("SMS recorded sent at %v, want 2m0s 2m50s 3m40s", sentAt)
	}
	if got := metric(t, h.reg, "pagerd_pages_total", "channel", "sms", "result", "rate_limited"); got != 2 {
		t.Fatalf("pagerd_pages_total{result=rate_limited} %v, want 2", got)
	}
}
