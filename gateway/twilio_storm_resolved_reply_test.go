package gateway

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
)

// TestBareSMSReplyToAStormMessageWithOneIncidentResolvedActs: a storm's
// SMS names many incidents; one of them resolved since (its alert
// cleared) must not make a bare "4" to the message read as a reply to
// that one: it was answered "your latest page, [that incident], was
// already resolved; nothing was done", and the message's other incidents
// went on paging while the person believed the storm's page was over.
func TestBareSMSReplyToAStormMessageWithOneIncidentResolvedActs(t *testing.T) {
	fake := providertest.NewTwilio(t)
	cfgText := annSMSByTwilio(stormConfig, fake.URL, false)
	h := newHarness(t, withConfig(cfgText), realTransport("twilio"))
	ids := storm(h, 10, "s")
	h.runUntil(fixedNow.Add(2*time.Minute + 10*time.Second))
	if len(fake.Messages()) != 4 {
		t.Fatalf("Twilio got %d SMS, want 3 and one bundle", len(fake.Messages()))
	}
	var atOnce []string
	for _, m := range fake.Messages()[:3] {
		cb, _ := url.Parse(m.Get("StatusCallback"))
		atOnce = append(atOnce, cb.Query().Get("incident"))
	}
	var held []string
	for _, id := range ids {
		if !strings.Contains(strings.Join(atOnce, " "), id) {
			held = append(held, id)
		}
	}
	if len(held) != 7 {
		t.Fatalf("%d incidents held for the message", len(held))
	}
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+held[0]+"/resolve", ""); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	_, out := fake.Callback(t, h.url+"/api/v1/twilio/sms", form)
	acked := 0
	for _, id := range held[1:] {
		if v := h.incident(id); v.Status == "acknowledged" {
			acked++
		}
	}
	if acked != 6 || !strings.Contains(out, "Acknowledged 6 of 7 incidents") {
		t.Fatalf("a bare 4 to the storm message with one of its 7 incidents resolved acknowledged %d of the 6 open: %s", acked, out)
	}
}
