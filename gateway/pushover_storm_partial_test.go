package gateway

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
)

// TestPushoverStormReceiptStoredInPartIsAnswered5xx: ann acknowledges in
// the Pushover app the emergency of a storm message, and the store takes
// the acknowledgement of some of its incidents but fails one (its Redis
// Cluster node down). The receipt callback was answered 204, and the
// incident whose write failed went on paging though ann had acknowledged
// it, with only an error log line to say so. It is answered 503 now (as
// one stored not at all), and a callback delivered again acts on the rest
// once: no incident's timeline holds the app's acknowledgement, or its
// delivery note, twice, and no incident's emergency is cancelled twice.
func TestPushoverStormReceiptStoredInPartIsAnswered5xx(t *testing.T) {
	po := providertest.NewPushover(t)
	st := &refusingUpdatesOf{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(pushoverConfig(po.URL, "http://127.0.0.1:1")))
	ms, held := pushoverStormHeld(t, h, po)
	h.clock.Set(fixedNow.Add(time.Minute))
	st.set(held[1])
	code := po.Acknowledge(t, 3, "iphone")
	st.set()
	if code < 500 {
		t.Fatalf("the storm message's receipt callback, stored for %d of its %d incidents: %d, want 5xx", len(held)-1, len(held), code)
	}
	if v := h.incident(held[1]); v.Status != "triggered" {
		t.Fatalf("the incident whose write failed: %s", v.Status)
	}
	if n, err := metricValue(h.reg, "pagerd_pushover_receipts_not_stored_total"); err != nil || n != 1 {
		t.Fatalf("pagerd_pushover_receipts_not_stored_total %v %v, want 1", n, err)
	}
	if code := providertest.PushoverCallback(t, ms[3].Callback, ms[3].Receipt, ms[3].User, "iphone"); code != 204 {
		t.Fatalf("delivered again: %d", code)
	}
	h.step(h.clock.Now())
	for _, id := range held {
		v := h.incident(id)
		if v.Status != "acknowledged" || v.AcknowledgedBy != "ann" {
			t.Fatalf("%s after the callback was delivered again: %s by %s", id, v.Status, v.AcknowledgedBy)
		}
		count := map[string]int{}
		for _, e := range v.Timeline {
			count[e.Type]++
		}
		if count["ack"] != 1 || count["delivery"] != 1 || count["forwarded"] != 1 {
			var tl []string
			for _, e := range v.Timeline {
				tl = append(tl, e.Type+" "+e.Detail)
			}
			t.Fatalf("%s: %d ack, %d delivery and %d forwarded entries, want one each: %s", id, count["ack"], count["delivery"], count["forwarded"], strings.Join(tl, "; "))
		}
	}
	// One cancel of the message's emergency per incident acknowledged, as
	// when the store takes it at once.
	if c := po.Cancels(); len(c) != len(held) {
		t.Fatalf("cancels %v, want %d", c, len(held))
	}
	if n, _ := metricValue(h.reg, "pagerd_pushover_receipts_not_stored_total"); n != 1 {
		t.Fatalf("pagerd_pushover_receipts_not_stored_total %v after the callback delivered again was stored, want 1", n)
	}
}

// TestPushoverStormReceiptReadsOneTimeline: the receipt callback of a storm
// message notes the app's acknowledgement once in each incident, also when
// Pushover delivers it again after a 503 (TestPushoverStormReceiptStoredInPartIsAnswered5xx).
// It read every carried incident's timeline to find out, one after
// another inside the callback: thousands of reads for a flood's message.
// The first incident's tells whether the acknowledgement was noted
// before; only a callback delivered again reads the others.
func TestPushoverStormReceiptReadsOneTimeline(t *testing.T) {
	po := providertest.NewPushover(t)
	st := &countedTimelines{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(pushoverConfig(po.URL, "http://127.0.0.1:1")))
	storm(h, 23, "g")
	h.step(fixedNow)
	h.step(fixedNow.Add(10 * time.Second))
	ms := po.Messages()
	if len(ms) != 4 {
		t.Fatalf("Pushover got %d messages, want 3 and one storm message", len(ms))
	}
	h.clock.Set(fixedNow.Add(time.Minute))
	before := st.n.Load()
	if code := po.Acknowledge(t, 3, "iphone"); code != 204 {
		t.Fatalf("the storm message's receipt callback: %d", code)
	}
	if n := st.n.Load() - before; n > 3 {
		t.Fatalf("the receipt callback of a storm message of 20 incidents read %d timelines, want at most 3", n)
	}
}

// pushoverStormHeld fires six P0s at ann through Pushover (storm
// bundling: three pushed at once, three held) and flushes the storm:
// Pushover's messages, the storm message last, and the incidents it held.
func pushoverStormHeld(t *testing.T, h *harness, po *providertest.Pushover) ([]providertest.PushoverMessage, []string) {
	t.Helper()
	ids := storm(h, 6, "g")
	h.step(fixedNow)
	h.step(fixedNow.Add(10 * time.Second))
	ms := po.Messages()
	if len(ms) != 4 {
		t.Fatalf("Pushover got %d messages, want 3 and one storm message", len(ms))
	}
	var held []string
	for _, id := range ids {
		if !slices.ContainsFunc(ms[:3], func(m providertest.PushoverMessage) bool { return m.Tags == id }) {
			held = append(held, id)
		}
	}
	if len(held) != 3 {
		t.Fatalf("held %v", held)
	}
	return ms, held
}
