package gateway

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
)

// TestReportOfAnEarlierLevelsPageTwiceCountsOnce: Ann's ladder sends SMS
// twice (0 and 1m), then calls (3m); the primary waits 90 s for her. Once
// the incident went to Bob, Twilio reports her first SMS undelivered, and
// the same report comes again (Twilio calling back twice, or a replayed
// signed report). Her second SMS still went out and reached her: her
// call's page still counts one SMS sent. A reload then takes her calls
// away: she has no channel this page has not used, and she is not sent
// the SMS again; both stores. (Before: each report named the SMS's step,
// and the state machine, which counts a step reported twice once only
// among the level's pages, took an SMS out of her call's page for each:
// none was left, and the reload sent her both SMS again.)
func TestReportOfAnEarlierLevelsPageTwiceCountsOnce(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			cfg := strings.Replace(unreachedTwilioConfig(fake),
				"notification_rules: {high: [{after: 0s, channel: sms}, {after: 5m, channel: voice}]}",
				"notification_rules: {high: [{after: 0s, channel: sms}, {after: 1m, channel: sms}, {after: 3m, channel: voice}]}", 1)
			cfg = strings.Replace(cfg, "targets: [{schedule: s, tier: primary}], timeout: 15m}", "targets: [{schedule: s, tier: primary}], timeout: 90s}", 1)
			h := newHarness(t, withStore(mk(t)), withConfig(cfg), realTransport("twilio"))
			id := fire(h)
			h.runUntil(fixedNow.Add(2 * time.Minute))
			if n, m := len(fake.Messages()), len(fake.Calls()); n != 2 || m != 0 {
				t.Fatalf("Twilio took %d messages and %d calls by 2m, want 2 and 0", n, m)
			}
			undelivered := url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
			for range 2 {
				if code, body := fake.Callback(t, fake.Messages()[0].Get("StatusCallback"), undelivered); code != 204 {
					t.Fatalf("report answered %d %s", code, body)
				}
			}
			inc, err := h.store.Get(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			var sent []string
			for _, d := range inc.State.Pending {
				if d.User == "ann" && d.Channel == "voice" {
					sent = d.Sent
				}
			}
			if strings.Join(sent, ",") != "sms" {
				t.Fatalf("Ann's call's page went out on %q, want sms once (her second SMS)", sent)
			}
			cfg = strings.Replace(cfg, `, {channel: voice, via: twilio, address: "+15555550111"}`, "", 1)
			cfg = strings.Replace(cfg, ", {after: 3m, channel: voice}]", "]", 1)
			if err := h.reload(cfg); err != nil {
				t.Fatal(err)
			}
			h.runUntil(fixedNow.Add(10 * time.Minute))
			if n := len(fake.Messages()); n != 2 {
				t.Fatalf("Twilio took %d messages by 10m, want 2: Ann's second SMS reached her", n)
			}
		})
	}
}
