package gateway

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/twilio"
)

// TestSMSReplyFromANumberPagedByCallOnly: dan's number is his voice
// contact alone (he wants calls, not texts). He misses the call at 3 a.m.
// and texts "4" back to the number that called him. pagerd answered
// "this number is not on call here", which is false, and nothing was
// acknowledged: the ladder went on to the next level. The reply acts on
// the call's incident as a reply to an SMS page does, named in the
// answer; a number that is nobody's contact is still told it is not on
// call.
func TestSMSReplyFromANumberPagedByCallOnly(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfg := strings.Replace(twilioConfig,
		`{channel: sms, via: twilio, address: "+15555550111"}, {channel: voice, via: log}]}`,
		`{channel: voice, via: twilio, address: "+15555550111"}], notification_rules: {high: [{after: 0s, channel: voice}]}}`, 1)
	h := newHarness(t, withConfig(twilioAt(fake, cfg)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(time.Minute))
	if n := len(fake.Calls()); n != 1 {
		t.Fatalf("%d calls placed, want 1", n)
	}
	// The call rang out: Twilio reports no-answer.
	if code, body := fake.Callback(t, fake.Calls()[0].Get("StatusCallback"),
		url.Values{"CallSid": {providertest.CallSID(0)}, "CallStatus": {"no-answer"}, "AccountSid": {twSID}}); code != 204 {
		t.Fatalf("status: %d %s", code, body)
	}
	text := func(from, body string) string {
		_, answer := fake.Callback(t, h.url+twilio.SMSPath,
			url.Values{"From": {from}, "To": {twFrom}, "Body": {body}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}})
		return answer
	}
	if answer := text("+15555550999", "4"); !strings.Contains(answer, "not on call") {
		t.Fatalf("a stranger's 4: %s", answer)
	}
	answer := text("+15555550111", "4")
	if !strings.Contains(answer, "pagerd: Acknowledged [P0] api") || !strings.Contains(answer, twilio.ReplyCode(id)) {
		t.Fatalf("dan's 4 after a missed call: %s", answer)
	}
	if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "dan" {
		t.Fatalf("after dan's 4: %s by %q", v.Status, v.AcknowledgedBy)
	}
}
