package gateway

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/internal/providertest"
)

// TestSMSReportedUndeliveredTwiceBringsOneStepForward: dan's ladder is an
// SMS at once, a call at 2m and a second call at 10m. Twilio reports the
// SMS undelivered, and the call comes at once; then the same report comes
// again (a callback Twilio sends again when pagerd's answer was slow, a
// load balancer's duplicate, a signed report replayed). It brought the
// 10m call forward too: dan was called twice within 20 seconds, and the
// call meant to come ten minutes later never did. The report again is
// noted once and moves nothing, as docs/CONFIG.md says.
func TestSMSReportedUndeliveredTwiceBringsOneStepForward(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			cfg := strings.Replace(twilioConfig, `{channel: voice, via: log}]}`,
				`{channel: voice, via: log}], notification_rules: {high: [{after: 0s, channel: sms}, {after: 2m, channel: voice}, {after: 10m, channel: voice}]}}`, 1)
			h := newHarness(t, withStore(mk(t)), withConfig(twilioAt(fake, cfg)), realTransport("twilio"))
			id := fire(h)
			h.runUntil(fixedNow.Add(5 * time.Second))
			ms := fake.Messages()
			if len(ms) != 1 {
				t.Fatalf("Twilio got %d messages", len(ms))
			}
			report := url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
			h.clock.Set(fixedNow.Add(10 * time.Second))
			if code, body := fake.Callback(t, ms[0].Get("StatusCallback"), report); code != 204 {
				t.Fatalf("report: %d %s", code, body)
			}
			h.runUntil(fixedNow.Add(20 * time.Second))
			h.clock.Set(fixedNow.Add(30 * time.Second))
			if code, body := fake.Callback(t, ms[0].Get("StatusCallback"), report); code != 204 {
				t.Fatalf("report again: %d %s", code, body)
			}
			h.runUntil(fixedNow.Add(9 * time.Minute))
			tl := timeline(h, id)
			var calls []string
			for _, e := range entriesOf(tl, "notify", "voice") {
				calls = append(calls, e.At.Sub(fixedNow).String())
			}
			if got := strings.Join(calls, ","); got != "10s" {
				t.Fatalf("calls at %s, want one at 10s (the next at 10m)", got)
			}
			if n := len(entriesOf(tl, incident.DeliveryFailed, "sms")); n != 1 {
				t.Fatalf("%d reports noted, want 1", n)
			}
			if v := h.incident(id); v.NextStepAt == nil || !v.NextStepAt.Equal(fixedNow.Add(10*time.Minute)) {
				t.Fatalf("next step at %v, want 10m", v.NextStepAt)
			}
		})
	}
}
