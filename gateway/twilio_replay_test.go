package gateway

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/twilio"
)

// TestSMSReplyReplayedActsOnNothing: Twilio's signature carries no time,
// so a signed SMS reply, captured once (a proxy's or a WAF's request log,
// a debugging dump), verifies for ever. A bare "6" acts on the number's
// latest page: sent again a day later, it resolved whatever incident had
// been paged to that person since, and paging stopped for an incident
// nobody had seen. A reply is remembered by its MessageSid, and the same
// one again acts on nothing.
func TestSMSReplyReplayedActsOnNothing(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	a := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	u := h.url + twilio.SMSPath
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"6"}, "MessageSid": {"SM" + strings.Repeat("a", 32)}, "AccountSid": {twSID}}
	sig := providertest.TwilioSign(twToken, u, form)
	if code, out := providertest.TwilioPost(t, u, form, sig); code != 200 || !strings.Contains(out, "Resolved") {
		t.Fatalf("dan's 6: %d %s", code, out)
	}
	if v := h.incident(a); v.Status != "resolved" || v.ResolvedBy != "dan" {
		t.Fatalf("after dan's 6: %s by %q", v.Status, v.ResolvedBy)
	}

	// A day later another incident pages dan by SMS.
	later := fixedNow.Add(24 * time.Hour)
	h.clock.Set(later)
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "second", map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	var res struct{ Incidents []string }
	r.json(t, &res)
	b := res.Incidents[0]
	h.runUntil(later.Add(2 * time.Minute))

	// The captured request, sent again as it was.
	code, out := providertest.TwilioPost(t, u, form, sig)
	if v := h.incident(b); v.Status != "triggered" {
		t.Fatalf("yesterday's 6 sent again left %s %s by %q; answer %d %s", b, v.Status, v.ResolvedBy, code, out)
	}
	if code != 200 || !strings.Contains(out, "nothing was done") {
		t.Fatalf("the replayed reply's answer: %d %s", code, out)
	}
	if got := h.logLines("WARN", "SMS reply", "already answered"); len(got) != 1 {
		t.Fatalf("the replayed reply was not logged at warn once:\n%s", h.logs.String())
	}
	// dan's own new reply (a new message, a new SID) still acts.
	form.Set("MessageSid", "SM"+strings.Repeat("b", 32))
	if code, out := fake.Callback(t, u, form); code != 200 || !strings.Contains(out, "Resolved") {
		t.Fatalf("dan's new 6: %d %s", code, out)
	}
	if v := h.incident(b); v.Status != "resolved" {
		t.Fatalf("dan's new 6 left %s %s", b, v.Status)
	}
}
