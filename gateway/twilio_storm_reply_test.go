package gateway

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/twilio"
)

// slowTimelines is a store whose timeline reads take a while once armed:
// Redis a millisecond or two away, read once per open incident.
type slowTimelines struct {
	store.Store
	armed atomic.Bool
}

func (s *slowTimelines) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	if s.armed.Load() {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Store.Timeline(ctx, id)
}

// TestSMSReplyDuringAStormOfOpenIncidentsActs: a reply looks for the page
// it answers through the timelines of every open incident. Read one after
// the other, 300 of them at 10 ms each (Redis a few milliseconds away, in
// the storm people answer, with a 1 s request deadline here) took past the
// request's time, and every "4" was answered "NOT recorded" for as long as
// the storm lasted.
func TestSMSReplyDuringAStormOfOpenIncidentsActs(t *testing.T) {
	old := requestTimeout
	requestTimeout = time.Second
	t.Cleanup(func() { requestTimeout = old })
	const noiseKey = "noise-key-0123456789abcdef0123456"
	fake := providertest.NewTwilio(t)
	cfg := strings.Replace(twilioAt(fake, twilioConfig), "server: {", "server: {rate_limit: {per_second: 0}, ", 1)
	cfg = strings.Replace(cfg, "    tiers: [{name: primary, start: 2025-01-06, members: [dan]}]",
		"    tiers: [{name: primary, start: 2025-01-06, members: [dan]}, {name: noise, start: 2025-01-06, members: [bob]}]", 1)
	cfg = strings.Replace(cfg, "schedules:", "  - {id: bob, name: Bob, contacts: [{channel: push, via: log}]}\nschedules:", 1)
	cfg = strings.Replace(cfg, "services:", "  - name: q\n    levels: [{name: noise, targets: [{schedule: s, tier: noise}]}]\nservices:", 1)
	cfg = strings.Replace(cfg, "notifiers:", "  - name: noise\n    priority_scheme: P0-P3\n    escalation_policy: q\n    integrations: {alertmanager_key: "+noiseKey+"}\nnotifiers:", 1)
	st := &slowTimelines{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(cfg), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if len(fake.Messages()) != 1 {
		t.Fatalf("Twilio got %d messages", len(fake.Messages()))
	}
	for i := range 300 {
		if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", fmt.Sprintf("n%d", i), map[string]string{"alertname": fmt.Sprintf("N%d", i), "severity": "critical"}),
			"Authorization", "Bearer "+noiseKey); r.code != 200 {
			t.Fatalf("noise %d: %d %s", i, r.code, r.body)
		}
	}
	st.armed.Store(true)
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	code, body := fake.Callback(t, h.url+twilio.SMSPath, form)
	st.armed.Store(false)
	if code != 200 || !strings.Contains(body, "pagerd: Acknowledged [P0] api: disk almost full (code "+twilio.ReplyCode(id)+").") {
		t.Fatalf("a 4 among 301 open incidents: %d %s", code, body)
	}
	if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "dan" {
		t.Fatalf("after the reply: %s by %s", v.Status, v.AcknowledgedBy)
	}
}
