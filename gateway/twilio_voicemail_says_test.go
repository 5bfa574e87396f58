package gateway

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/twilio"
)

// TestCallTakenForAVoicemailSaysWhatItWas: answering-machine detection
// takes a person who answers with more than a word ("Hello? Who is
// this?", half awake at 3 a.m.) for a voicemail. pagerd hung up on them
// in silence: they heard nothing of the page and did not know it was
// counted not answered. The call now says what it pages for (priority,
// service, code, from its URL: no store read) and that it counts as not
// answered, then hangs up, takes no key, and acknowledges nothing.
func TestCallTakenForAVoicemailSaysWhatItWas(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioCallConfig)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if len(fake.Calls()) != 1 {
		t.Fatalf("%d calls placed", len(fake.Calls()))
	}
	code, body := fake.Callback(t, fake.Calls()[0].Get("Url"), url.Values{"CallSid": {providertest.CallSID(0)}, "AnsweredBy": {"machine_start"}})
	spelled := strings.Join(strings.Split(twilio.ReplyCode(id), ""), " ")
	if code != 200 || !strings.Contains(body, "<Say>This is pagerd. You are being paged for a P 0 incident on api, code "+spelled+".") ||
		!strings.Contains(body, "counts as not answered") || !strings.Contains(body, "<Hangup") || strings.Contains(body, "<Gather") {
		t.Fatalf("a call taken for a voicemail: %d %s", code, body)
	}
	// The report, then the record that it was applied (report_applied).
	if v := h.incident(id); v.Status != "triggered" || len(v.Timeline) < 2 || !strings.Contains(v.Timeline[len(v.Timeline)-2].Detail, "voicemail pickup") ||
		v.Timeline[len(v.Timeline)-1].Type != incident.ReportApplied {
		t.Fatalf("after the voicemail pickup: %s %+v", v.Status, v.Timeline[max(0, len(v.Timeline)-2):])
	}
}
