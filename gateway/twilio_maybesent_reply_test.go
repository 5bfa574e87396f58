package gateway

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/twilio"
)

// TestBareSMSReplyToAnSMSThatMayHaveBeenSentActsOnIt: an SMS whose send
// timed out after Twilio took it ("may have been sent") usually reached
// the person, who answers it with a bare "4". The reply must not pass
// over it and acknowledge the older incident paged to them before: that
// stopped the paging of an incident nobody had looked at, while the one
// they answered went on paging.
func TestBareSMSReplyToAnSMSThatMayHaveBeenSentActsOnIt(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioConfig)))
	a := fire(h)
	h.runUntil(fixedNow.Add(3 * time.Minute)) // a's SMS at +2m
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "second", map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	var res struct{ Incidents []string }
	r.json(t, &res)
	b := res.Incidents[0]
	h.rec.fail = func(m notify.Message) error {
		if m.Incident == b && m.Channel == "sms" {
			return notify.MaybeSent(errors.New("context deadline exceeded (Client.Timeout exceeded while awaiting headers)"))
		}
		return nil
	}
	h.runUntil(fixedNow.Add(6 * time.Minute)) // b's SMS at +5m: may have been sent
	h.rec.fail = nil
	found := false
	for _, e := range h.incident(b).Timeline {
		found = found || (e.Type == "notify_failed" && e.Channel == "sms" && strings.Contains(e.Detail, "may have been sent"))
	}
	if !found {
		t.Fatalf("b's SMS not recorded as may have been sent: %+v", h.incident(b).Timeline)
	}
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
	if v := h.incident(a); v.Status != "triggered" {
		t.Errorf("the bare 4 answering b's SMS acknowledged a, paged before it: %s; answer %s", v.Status, out)
	}
	if v := h.incident(b); v.Status != "acknowledged" || !strings.Contains(out, "Acknowledged") || !strings.Contains(out, twilio.ReplyCode(b)) {
		t.Errorf("b after the bare 4 answering its SMS: %s; answer %s", v.Status, out)
	}
}
