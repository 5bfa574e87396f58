package gateway

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// TestPagerDutyWebhookNotAppliedIsNotedOnce: PagerDuty delivers a webhook
// at least once, and again after a 5xx. A merge, or a service's
// auto-resolve, delivered again was noted again: the timeline said twice
// (three times, ...) that carol merged the incident, as if she had done so
// more than once. What was not applied is noted once; the merge delivered
// again still changes nothing more.
func TestPagerDutyWebhookNotAppliedIsNotedOnce(t *testing.T) {
	for name, body := range map[string]func(key string) string{
		"merged":        func(key string) string { return pdMerged(key, pdAgentCarol, "Q7") },
		"auto-resolved": func(key string) string { return pdResolved(key, pdAgentService) },
	} {
		t.Run(name, func(t *testing.T) {
			fake, h, id := pushedToCarol(t, boltStore(t))
			key := pagerduty.DedupKey(id, "carol", 0)
			h.runUntil(fixedNow.Add(time.Minute))
			for range 3 {
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body(key)); code != 204 {
					t.Fatalf("webhook: %d %s", code, out)
				}
			}
			var notes []string
			for _, e := range h.incident(id).Timeline {
				if e.Type == "resolve_ignored" {
					notes = append(notes, e.Detail)
				}
			}
			if len(notes) != 1 {
				t.Fatalf("the webhook delivered three times is noted %d times:\n%s", len(notes), strings.Join(notes, "\n"))
			}
		})
	}
}

// countedTimelines is a store that counts the timelines read.
type countedTimelines struct {
	store.Store
	n atomic.Int64
}

func (s *countedTimelines) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	s.n.Add(1)
	return s.Store.Timeline(ctx, id)
}

// TestPagerDutyStormWebhookNotAppliedIsNotedOnceWithOneRead: a storm
// message's alert auto-resolved by its PagerDuty service is noted in
// each of its open incidents, once however often PagerDuty delivers it.
// Whether it was noted read the timeline of every incident the message
// carried, one round trip each (thousands in a flood, for one webhook);
// the note goes to all of them in one write, so the first one's tells.
func TestPagerDutyStormWebhookNotAppliedIsNotedOnceWithOneRead(t *testing.T) {
	fake := providertest.NewPagerDuty(t)
	st := &countedTimelines{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"))
	ids := storm(h, 20, "g")
	h.step(fixedNow)
	h.step(fixedNow.Add(10 * time.Second))
	events := fake.Events()
	key := events[len(events)-1].DedupKey
	if _, _, _, ok := pagerduty.ParseDedupKey(key); !ok || !store.IsBundleID(strings.Split(key, ":")[1]) {
		t.Fatalf("PagerDuty's last event %q is not the storm message's", key)
	}
	held := 0
	for _, id := range ids {
		if !slices.Contains(ids3(fake), id) {
			held++
		}
	}
	for i := range 2 {
		before := st.n.Load()
		if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, pdResolved(key, pdAgentService)); code != 204 {
			t.Fatalf("webhook: %d %s", code, out)
		}
		if reads := st.n.Load() - before; reads > 3 {
			t.Errorf("delivery %d of the storm message's webhook read %d timelines for its %d incidents, want at most 3", i+1, reads, held)
		}
	}
	noted := 0
	for _, id := range ids {
		n := 0
		for _, e := range h.incident(id).Timeline {
			if e.Type == "resolve_ignored" {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("incident %s noted %d times, want once", id, n)
		}
		noted += n
	}
	if noted != held {
		t.Fatalf("%d of the message's %d incidents noted, want each", noted, held)
	}
}
