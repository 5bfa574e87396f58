package gateway

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/twilio"
)

// TestKeypressOnACallPlacedBeforeAReopenSparesTheReopenedIncident: dan's
// call goes out at 5m; he acknowledges (here through the API), then
// escalates, which reopens the incident and pages its one level, him,
// again. A 4 pressed on the call placed before the reopen answers a page
// the reopen superseded: it changes nothing, dan hears so, the timeline
// says so (ack_ignored), and the pages of the reopen go on. As a late
// acknowledgement of an old PagerDuty alert, a Slack button or a Pushover
// emergency. (Before: it acknowledged the reopened incident, and the pages
// of the escalation stopped.) A 4 on the call placed after the reopen
// acknowledges.
func TestKeypressOnACallPlacedBeforeAReopenSparesTheReopenedIncident(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioOneLevelConfig)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if len(fake.Calls()) != 1 {
		t.Fatalf("%d calls placed, want dan's one", len(fake.Calls()))
	}
	old := gatherURL(h, fake, 0)
	h.clock.Set(fixedNow.Add(5*time.Minute + 10*time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"dan"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.clock.Set(fixedNow.Add(6 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"dan"}`); r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	h.clock.Set(fixedNow.Add(6*time.Minute + 30*time.Second))
	_, body := fake.Callback(t, old, url.Values{"Digits": {"4"}})
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("a 4 on the call placed before the reopen: %s by %s (%s); the pages of the reopen stop", v.Status, v.AcknowledgedBy, body)
	}
	if !strings.Contains(body, "not applied") || strings.Contains(body, "Acknowledged.") {
		t.Errorf("dan is not told his key was not applied: %s", body)
	}
	if !h.timelineHas(id, "ack_ignored", "not applied") {
		t.Errorf("the timeline does not say the acknowledgement was not applied: %+v", h.incident(id).Timeline)
	}
	// The reopen's own call, placed 5 minutes after it: its 4 acknowledges.
	h.runUntil(fixedNow.Add(12 * time.Minute))
	if len(fake.Calls()) != 2 {
		t.Fatalf("%d calls placed, want 2 (one before the reopen, one after)", len(fake.Calls()))
	}
	if _, body := fake.Callback(t, gatherURL(h, fake, 1), url.Values{"Digits": {"4"}}); !strings.Contains(body, "Acknowledged.") {
		t.Fatalf("a 4 on the call placed after the reopen: %s", body)
	}
	if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "dan" {
		t.Fatalf("after a 4 on the call placed after the reopen: %s by %s", v.Status, v.AcknowledgedBy)
	}
}

// TestSMSReplyToAPageSentBeforeAReopenSparesTheReopenedIncident: dan's SMS
// goes out at 2m; he acknowledges (here through the API), then escalates,
// which reopens the incident and pages its one level, him, again: push at
// once, SMS two minutes later. A "4" (bare, or with the incident's code)
// that comes before the new SMS answers the SMS sent before the reopen,
// which the reopen superseded: it changes nothing, dan is told so, the
// timeline says so (ack_ignored), and the pages of the reopen go on.
// (Before: it acknowledged the reopened incident, and they stopped.) A
// "4" to the SMS sent after the reopen acknowledges. Both stores: the
// reopen count of a page is kept with its timeline entry.
func TestSMSReplyToAPageSentBeforeAReopenSparesTheReopenedIncident(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			h := newHarness(t, withConfig(twilioAt(fake, twilioOneLevelConfig)), realTransport("twilio"), withStore(st(t)))
			id := fire(h)
			h.runUntil(fixedNow.Add(2 * time.Minute))
			if len(fake.Messages()) != 1 {
				t.Fatalf("Twilio got %d SMS, want dan's one", len(fake.Messages()))
			}
			reopenAt3m(t, h, id) // the reopen's push; its SMS is two minutes away
			if len(fake.Messages()) != 1 {
				t.Fatalf("Twilio got %d SMS before the reopen's, want 1", len(fake.Messages()))
			}
			text := func(body string) string {
				form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {body}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
				_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
				return out
			}
			for _, body := range []string{"4", "4 " + twilio.ReplyCode(id)} {
				out := text(body)
				if v := h.incident(id); v.Status != "triggered" {
					t.Fatalf("%q to the SMS sent before the reopen: %s by %s (%s); the pages of the reopen stop", body, v.Status, v.AcknowledgedBy, out)
				}
				if !strings.Contains(out, "NOT applied") || strings.Contains(out, "Acknowledged") {
					t.Errorf("%q: dan is not told his reply was not applied: %s", body, out)
				}
			}
			if !h.timelineHas(id, "ack_ignored", "not applied") {
				t.Errorf("the timeline does not say the acknowledgement was not applied: %+v", h.incident(id).Timeline)
			}
			h.runUntil(fixedNow.Add(5*time.Minute + 30*time.Second))
			if len(fake.Messages()) != 2 {
				t.Fatalf("Twilio got %d SMS, want 2 (one before the reopen, one after): %+v", len(fake.Messages()), h.incident(id).Timeline)
			}
			if out := text("4"); !strings.Contains(out, "pagerd: Acknowledged [P0] api") {
				t.Fatalf("a 4 to the SMS sent after the reopen: %s", out)
			}
			if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "dan" {
				t.Fatalf("after a 4 to the SMS sent after the reopen: %s by %s", v.Status, v.AcknowledgedBy)
			}
		})
	}
}

// TestSMSReplyToAPageRecordedWithoutItsReopenCountAcknowledges: a page's
// timeline entry recorded before entries kept the reopen count (by a
// replica not yet upgraded in a rolling upgrade, or before the upgrade)
// says nothing of it, which reads as 0. dan's incident was reopened
// (count 1) and such a replica sent him the reopen's SMS; his "4" to it
// answers the latest page. It must acknowledge, as a call placed before
// calls carried the count does, not be refused as the answer to a page
// from before the reopen while the pages go on.
func TestSMSReplyToAPageRecordedWithoutItsReopenCountAcknowledges(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			h := newHarness(t, withConfig(twilioAt(fake, twilioOneLevelConfig)), realTransport("twilio"), withStore(st(t)))
			id := fire(h)
			h.runUntil(fixedNow.Add(2 * time.Minute))
			reopenAt3m(t, h, id)
			// The reopen's SMS, as a replica that does not keep the
			// count records it.
			ctx := context.Background()
			inc, err := h.store.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if inc.State.Reopened != 1 {
				t.Fatalf("reopened %d times, want 1", inc.State.Reopened)
			}
			legacy := store.Entry{At: fixedNow.Add(3*time.Minute + 20*time.Second), Type: "notify", Level: 1, User: "dan", Channel: "sms", Detail: "via twilio"}
			if err := h.store.Update(ctx, inc, []store.Entry{legacy}); err != nil {
				t.Fatal(err)
			}
			h.clock.Set(fixedNow.Add(3*time.Minute + 30*time.Second))
			form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
			_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
			if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "dan" {
				t.Fatalf("a 4 to the latest SMS, recorded without its reopen count: %s by %s (%s); the pages go on", v.Status, v.AcknowledgedBy, out)
			}
		})
	}
}

// reopenAt3m has dan acknowledge the incident, then escalate it at 3m,
// which reopens it and pages its one level, him, again: the push goes out
// at 3m10s, the SMS two minutes after the reopen.
func reopenAt3m(t *testing.T, h *harness, id string) {
	t.Helper()
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"dan"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"dan"}`); r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	h.step(fixedNow.Add(3*time.Minute + 10*time.Second))
}
