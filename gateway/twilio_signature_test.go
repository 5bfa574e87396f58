package gateway

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/twilio"
)

// An SMS reply Twilio signed for another URL than server.public_url's (the
// number's webhook set to another host name, or to http behind a proxy
// that speaks https) is refused, and Twilio drops the 403 silently: the
// person who texted "4" hears nothing. The log says so at warn, naming the
// URL Twilio called and the one pagerd checks against.
func TestSMSReplySignedForAnotherURLIsLogged(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfg := strings.Replace(twilioAt(fake, twilioConfig), "public_url: "+harnessURL, "public_url: https://pagerd.example.com", 1)
	h := newHarness(t, withConfig(cfg), realTransport("twilio"))
	fire(h)
	u := h.url + twilio.SMSPath // where Twilio called: not the public URL
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {"SMx"}, "AccountSid": {twSID}}
	if code, body := fake.Callback(t, u, form); code != 403 {
		t.Fatalf("a reply signed for %s, not the public URL: %d %s", u, code, body)
	}
	if got := h.logLines("WARN", "signed for another URL", "Twilio called "+u, "https://pagerd.example.com/api/v1/twilio/sms"); len(got) != 1 {
		t.Fatalf("the refused reply was not logged at warn naming both URLs; logs:\n%s", h.logs.String())
	}
	// A wrong signature (not Twilio's token) says what to check too.
	if code, _ := providertest.TwilioPost(t, u, form, providertest.TwilioSign("not-the-token", u, form)); code != 403 {
		t.Fatalf("a forged reply: %d", code)
	}
	if got := h.logLines("WARN", "X-Twilio-Signature is wrong", "https://pagerd.example.com/api/v1/twilio/sms"); len(got) != 1 {
		t.Fatalf("the forged reply was not logged at warn; logs:\n%s", h.logs.String())
	}
	// Anyone who finds the URL can send forged requests: each kind is
	// logged at warn once a minute, the next line saying how many more.
	for range 20 {
		if code, _ := providertest.TwilioPost(t, u, form, providertest.TwilioSign("not-the-token", u, form)); code != 403 {
			t.Fatalf("a forged reply: %d", code)
		}
	}
	if got := h.logLines("WARN", "X-Twilio-Signature is wrong"); len(got) != 1 {
		t.Fatalf("21 forged replies in a minute: %d WARN lines, want 1", len(got))
	}
	h.clock.Set(h.clock.Now().Add(time.Minute))
	if code, _ := providertest.TwilioPost(t, u, form, providertest.TwilioSign("not-the-token", u, form)); code != 403 {
		t.Fatalf("a forged reply: %d", code)
	}
	if got := h.logLines("WARN", "X-Twilio-Signature is wrong", `"refused_since_last_warning":20`); len(got) != 1 {
		t.Fatalf("a minute later: no WARN line saying 20 more were refused; logs:\n%s", h.logs.String())
	}
	if got := h.logLines("WARN", "signed for another URL"); len(got) != 1 {
		t.Fatalf("the other kind's line: %d, want still 1", len(got))
	}
}
