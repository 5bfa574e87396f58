package gateway

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
)

// stormReportAgainConfig is unreachedTwilioConfig with Ann's ladder an
// SMS at once, a call at 2m and a second call at 10m.
func stormReportAgainConfig(fake *providertest.Twilio) string {
	return strings.Replace(unreachedTwilioConfig(fake),
		`notification_rules: {high: [{after: 0s, channel: sms}, {after: 5m, channel: voice}]}`,
		`notification_rules: {high: [{after: 0s, channel: sms}, {after: 2m, channel: voice}, {after: 10m, channel: voice}]}`, 1)
}

// TestStormSMSReportedUndeliveredTwiceBringsOneStepForward: five
// incidents page Ann at once; two of her SMS go out in one alert-storm
// SMS, which Twilio reports undelivered, and each of those two incidents
// calls her at once. Then the same report comes again (a callback Twilio
// sends again when pagerd's answer was slow, a signed report replayed).
// The fix for a page sent on its own (TestSMSReportedUndeliveredTwice-
// BringsOneStepForward) left storm messages out: the report again brought
// the 10m call forward too in each incident the message carried, Ann was
// called twice within seconds for each, and never at 10m. The report
// again is noted once in each timeline and moves nothing; both stores.
func TestStormSMSReportedUndeliveredTwiceBringsOneStepForward(t *testing.T) {
	undelivered := url.Values{"MessageSid": {providertest.MessageSID(3)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			h := newHarness(t, withStore(mk(t)), withConfig(stormReportAgainConfig(fake)), realTransport("twilio"))
			storm(h, 5, "u")
			h.runUntil(fixedNow.Add(30 * time.Second))
			msgs, b := stormSMSBundle(t, h, fake)
			h.clock.Set(fixedNow.Add(40 * time.Second))
			if code, body := fake.Callback(t, msgs[3].Get("StatusCallback"), undelivered); code != 204 {
				t.Fatalf("report: %d %s", code, body)
			}
			h.runUntil(fixedNow.Add(50 * time.Second))
			h.clock.Set(fixedNow.Add(60 * time.Second))
			if code, body := fake.Callback(t, msgs[3].Get("StatusCallback"), undelivered); code != 204 {
				t.Fatalf("report again: %d %s", code, body)
			}
			h.runUntil(fixedNow.Add(9 * time.Minute))
			for _, id := range b.Incidents {
				tl := timeline(h, id)
				var calls []string
				for _, e := range entriesOf(tl, "notify", "voice") {
					calls = append(calls, e.At.Sub(fixedNow).String())
				}
				if got := strings.Join(calls, ","); got != "40s" {
					t.Errorf("incident %s: calls at %s, want one at 40s (the next at 10m)", id, got)
				}
				if n := len(slices.DeleteFunc(entriesOf(tl, incident.DeliveryFailed, "sms"), func(e store.Entry) bool { return e.Bundle != b.ID })); n != 1 {
					t.Errorf("incident %s: %d reports of the storm SMS noted, want 1", id, n)
				}
				if v := h.incident(id); v.NextStepAt == nil || !v.NextStepAt.Equal(fixedNow.Add(10*time.Minute)) {
					t.Errorf("incident %s: next step at %v, want 10m", id, v.NextStepAt)
				}
			}
		})
	}
}

// TestStormSMSReportAgainAppliesWhereTheStoreRefusedTheFirst: the storm
// SMS's undelivered report brought Ann's call forward in one incident it
// carried, and the store refused the write in the other (answered 503).
// The same report again (a signed report replayed) brings the call
// forward there, where the first could not, and moves nothing in the
// incident that took the first; each timeline notes it once.
func TestStormSMSReportAgainAppliesWhereTheStoreRefusedTheFirst(t *testing.T) {
	undelivered := url.Values{"MessageSid": {providertest.MessageSID(3)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			st := &refusingUpdatesOf{Store: mk(t)}
			h := newHarness(t, withStore(st), withConfig(stormReportAgainConfig(fake)), realTransport("twilio"))
			storm(h, 5, "u")
			h.runUntil(fixedNow.Add(30 * time.Second))
			msgs, b := stormSMSBundle(t, h, fake)
			took, refused := b.Incidents[0], b.Incidents[1]
			h.clock.Set(fixedNow.Add(40 * time.Second))
			st.set(refused)
			code, body := fake.Callback(t, msgs[3].Get("StatusCallback"), undelivered)
			st.set()
			if code != 503 {
				t.Fatalf("report while the store refuses %s: %d %s, want 503", refused, code, body)
			}
			h.runUntil(fixedNow.Add(50 * time.Second))
			h.clock.Set(fixedNow.Add(60 * time.Second))
			if code, body := fake.Callback(t, msgs[3].Get("StatusCallback"), undelivered); code != 204 {
				t.Fatalf("report again: %d %s", code, body)
			}
			h.runUntil(fixedNow.Add(9 * time.Minute))
			for id, want := range map[string]string{took: "40s", refused: "1m0s"} {
				tl := timeline(h, id)
				var calls []string
				for _, e := range entriesOf(tl, "notify", "voice") {
					calls = append(calls, e.At.Sub(fixedNow).String())
				}
				if got := strings.Join(calls, ","); got != want {
					t.Errorf("incident %s: calls at %s, want one at %s (the next at 10m)", id, got, want)
				}
				if n := len(slices.DeleteFunc(entriesOf(tl, incident.DeliveryFailed, "sms"), func(e store.Entry) bool { return e.Bundle != b.ID })); n != 1 {
					t.Errorf("incident %s: %d reports of the storm SMS noted, want 1", id, n)
				}
				if v := h.incident(id); v.NextStepAt == nil || !v.NextStepAt.Equal(fixedNow.Add(10*time.Minute)) {
					t.Errorf("incident %s: next step at %v, want 10m", id, v.NextStepAt)
				}
			}
		})
	}
}

// stormSMSBundle is what Twilio got once ann's storm of five alerts went
// out (three SMS on their own and the storm's message, the last) and the
// bundle of that message, which carries two incidents.
func stormSMSBundle(t *testing.T, h *harness, fake *providertest.Twilio) ([]url.Values, *store.Bundle) {
	t.Helper()
	msgs := fake.Messages()
	if len(msgs) != 4 {
		t.Fatalf("Twilio got %d messages, want 3 on their own and one storm message", len(msgs))
	}
	cb, _ := url.Parse(msgs[3].Get("StatusCallback"))
	b, err := h.store.GetBundle(context.Background(), cb.Query().Get("incident"))
	if err != nil || len(b.Incidents) != 2 {
		t.Fatalf("the storm message's bundle: %+v %v", b, err)
	}
	return msgs, b
}
