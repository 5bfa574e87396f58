package gateway

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// refusingUpdatesOf is a store whose writes of the incidents named in
// refuse fail as a Redis Cluster node that is down fails them, while the
// other incidents' writes (on other nodes) are stored.
type refusingUpdatesOf struct {
	store.Store
	mu     sync.Mutex
	refuse map[string]bool
}

func (s *refusingUpdatesOf) set(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = map[string]bool{}
	for _, id := range ids {
		s.refuse[id] = true
	}
}

func (s *refusingUpdatesOf) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	s.mu.Lock()
	refused := s.refuse[inc.ID]
	s.mu.Unlock()
	if refused {
		return fmt.Errorf("%w: dial tcp 10.0.0.3:6379: connect: connection refused", store.ErrUnavailable)
	}
	return s.Store.Update(ctx, inc, tl)
}

// TestPagerDutyStormWebhookStoredInPartIsDeliveredAgain: carol
// acknowledges (resolves, merges away) the alert of a storm message in
// PagerDuty, and the store takes the writes of some of its incidents but
// fails one (its Redis Cluster node down). The webhook was answered 204:
// PagerDuty never delivered it again, and the incident whose write
// failed went on paging and escalating though carol had acted on it in
// PagerDuty, with only a log line to say so. A PagerDuty webhook stored
// in part is answered 503, as one stored not at all, so that PagerDuty
// delivers it again; delivered again, it acts on the rest (the others
// already took it, and change no more).
func TestPagerDutyStormWebhookStoredInPartIsDeliveredAgain(t *testing.T) {
	for name, body := range map[string]func(key string) string{
		"acknowledged": func(key string) string { return pdAcknowledged(key, pdAgentCarol) },
		"resolved":     func(key string) string { return pdResolved(key, pdAgentCarol) },
		"merged":       func(key string) string { return pdMerged(key, pdAgentCarol, "Q7") },
	} {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			st := &refusingUpdatesOf{Store: boltStore(t)}
			h := newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"))
			ids := storm(h, 6, "g")
			h.step(fixedNow)
			h.step(fixedNow.Add(10 * time.Second))
			if len(fake.Events()) != 4 {
				t.Fatalf("PagerDuty got %d events, want 3 and one bundle", len(fake.Events()))
			}
			key := fake.Events()[3].DedupKey
			var held []string
			for _, id := range ids {
				if !slices.Contains(ids3(fake), id) {
					held = append(held, id)
				}
			}
			want := "acknowledged"
			if name == "resolved" {
				want = "resolved"
			}

			st.set(held[1])
			code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body(key))
			st.set()
			if code < 500 {
				t.Fatalf("the storm message's webhook, stored for %d of its %d incidents: %d %s, want 5xx so that PagerDuty delivers it again",
					len(held)-1, len(held), code, out)
			}
			if v := h.incident(held[1]); v.Status != "triggered" {
				t.Fatalf("the incident whose write failed: %s", v.Status)
			}
			if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body(key)); code != 204 {
				t.Fatalf("delivered again: %d %s", code, out)
			}
			for _, id := range held {
				if v := h.incident(id); string(v.Status) != want {
					t.Fatalf("%s after the webhook was delivered again: %s, want %s", id, v.Status, want)
				}
			}
		})
	}
}
