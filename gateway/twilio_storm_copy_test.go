package gateway

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/twilio"
)

// TestBareReplyPassesOverAStormMessageUndeliveredRecordedAgain: Dan's SMS
// for A arrived at 2m. At 4m a storm message named B to him, and its note
// is in B's timeline twice: the step it was held for was taken over (its
// replica died before it recorded the hold) and the takeover recorded the
// step as paged by the message, a copy of its note. Twilio reports the
// message undelivered. His bare "4" answers the only page he has, A's.
// (Before: the report marked only the copy, the note before it still
// counted as the latest page he got, and the "4" acknowledged B, and
// every incident of the message, which he never saw.)
func TestBareReplyPassesOverAStormMessageUndeliveredRecordedAgain(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	a := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if got := len(fake.Messages()); got != 1 {
		t.Fatalf("Twilio got %d messages, want A's", got)
	}
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "second", map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	var res struct{ Incidents []string }
	r.json(t, &res)
	b := res.Incidents[0]
	ctx := context.Background()
	at := fixedNow.Add(4 * time.Minute)
	bundle := &store.Bundle{ID: store.NewBundleID(store.StormKey("dan", "sms"), at), User: "dan", Channel: "sms", SentAt: at,
		Incidents: []string{b}, Levels: []int{1}, Reopened: []int{0}, Priority: "P0", Top: "api: B"}
	if err := h.store.PutBundle(ctx, bundle, time.Hour); err != nil {
		t.Fatal(err)
	}
	note := store.Entry{At: at, Type: "notify", Level: 1, User: "dan", Channel: "sms", Bundle: bundle.ID, Ref: "SM" + strings.Repeat("9", 32),
		Detail: "via twilio, in one message for 1 incidents (alert storm)", Step: "1.4", ReopenedKnown: true}
	again := note // as the dispatcher's pagedInMessages records it
	again.Detail += "; recorded again for its step, taken over or due again: not sent again"
	report := store.Entry{At: at.Add(30 * time.Second), Type: incident.DeliveryFailed, User: "dan", Channel: "sms", Bundle: bundle.ID,
		Ref: note.Ref, Unreached: true, Detail: "undelivered (Twilio error 30003)"}
	for _, e := range []store.Entry{note, again, report} {
		if err := h.store.Note(ctx, map[string][]store.Entry{b: {e}}); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Set(fixedNow.Add(4*time.Minute + 40*time.Second))
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	_, out := fake.Callback(t, h.url+twilio.SMSPath, form)
	if v := h.incident(b); v.Status != "triggered" {
		t.Fatalf("a bare 4 acknowledged B, whose storm message was reported undelivered: B %s; reply %q", v.Status, out)
	}
	if v := h.incident(a); v.Status != "acknowledged" || !strings.Contains(out, twilio.ReplyCode(a)) {
		t.Fatalf("a bare 4 left A, the page Dan got, %s; reply %q", v.Status, out)
	}
}
