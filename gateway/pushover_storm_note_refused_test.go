package gateway

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
)

// refusingNodeOf refuses the writes and notes of some incidents, as a
// Redis Cluster whose node holding them is down: the notes of the others
// are stored (Store.Note writes in parts, and takes out what it stored).
type refusingNodeOf struct {
	refusingUpdatesOf
}

func (s *refusingNodeOf) Note(ctx context.Context, entries map[string][]store.Entry) error {
	s.mu.Lock()
	refused := map[string][]store.Entry{}
	for id, es := range entries {
		if s.refuse[id] {
			refused[id] = es
			delete(entries, id)
		}
	}
	s.mu.Unlock()
	err := s.refusingUpdatesOf.Store.Note(ctx, entries)
	for id, es := range refused {
		entries[id] = es
	}
	if err != nil {
		return err
	}
	if len(refused) > 0 {
		return fmt.Errorf("%w: dial tcp 10.0.0.3:6379: connect: connection refused", store.ErrUnavailable)
	}
	return nil
}

// TestPushoverStormReceiptWhoseNoteANodeRefusesAcknowledgesTheRest: ann
// acknowledges in the Pushover app the emergency of a storm message, and
// the node of one of its incidents is down, so the store refuses that
// incident's note of the app's acknowledgement and its write. The other
// incidents are acknowledged (Pushover documents no retry of a receipt
// callback: what is not done at this delivery may never be), and the
// callback is answered 5xx for the one refused, as for an acknowledgement
// stored in part (TestPushoverStormReceiptStoredInPartIsAnswered5xx), and
// delivered again acknowledges the rest once.
func TestPushoverStormReceiptWhoseNoteANodeRefusesAcknowledgesTheRest(t *testing.T) {
	for name, open := range stores(t) {
		for _, first := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s first incident refused %v", name, first), func(t *testing.T) {
				po := providertest.NewPushover(t)
				st := &refusingNodeOf{refusingUpdatesOf{Store: open(t)}}
				h := newHarness(t, withStore(st), withConfig(pushoverConfig(po.URL, "http://127.0.0.1:1")))
				ms, held := pushoverStormHeld(t, h, po)
				down := held[1]
				if first {
					down = held[0]
				}
				h.clock.Set(fixedNow.Add(time.Minute))
				st.set(down)
				code := po.Acknowledge(t, 3, "iphone")
				st.set()
				if code < 500 {
					t.Fatalf("the receipt callback, one incident's node down: %d, want 5xx", code)
				}
				for _, id := range held {
					v := h.incident(id)
					if id == down {
						if v.Status != "triggered" {
							t.Fatalf("the incident whose node is down: %s", v.Status)
						}
						continue
					}
					if v.Status != "acknowledged" || v.AcknowledgedBy != "ann" {
						t.Fatalf("%s, acknowledged in the app, its node up: %s by %q; the note refused for %s kept every incident of the message paging", id, v.Status, v.AcknowledgedBy, down)
					}
				}
				if n, err := metricValue(h.reg, "pagerd_pushover_receipts_not_stored_total"); err != nil || n != 1 {
					t.Fatalf("pagerd_pushover_receipts_not_stored_total %v %v, want 1", n, err)
				}
				// Delivered again, the node back: the rest acknowledged, each
				// incident once, each emergency cancelled once.
				if code := providertest.PushoverCallback(t, ms[3].Callback, ms[3].Receipt, ms[3].User, "iphone"); code != 204 {
					t.Fatalf("delivered again: %d", code)
				}
				h.step(h.clock.Now())
				for _, id := range held {
					v := h.incident(id)
					acks := 0
					for _, e := range v.Timeline {
						if e.Type == "ack" {
							acks++
						}
					}
					if v.Status != "acknowledged" || acks != 1 {
						t.Fatalf("%s after the callback was delivered again: %s, %d ack entries", id, v.Status, acks)
					}
				}
				if c := po.Cancels(); len(c) != len(held) {
					t.Fatalf("cancels %v, want %d", c, len(held))
				}
			})
		}
	}
}
