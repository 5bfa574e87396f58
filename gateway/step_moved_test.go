package gateway

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify"
)

// TestStepBroughtForwardWhileItIsSentPagesOnce: ann's call (due at 5m) is
// being placed when Twilio reports her SMS undelivered, to a replica whose
// clock is a second behind: the report brings her next step, the very
// call being placed, forward to 4m59s. It is still the one step: the call
// is placed once and recorded once, and nothing of hers comes due again.
func TestStepBroughtForwardWhileItIsSentPagesOnce(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			h := newHarness(t, withStore(open(t)), withNotifier("log", rec))
			var id string
			var once sync.Once
			var reportErr error
			rec.fail = func(m notify.Message) error {
				if m.Channel == "voice" {
					once.Do(func() { reportErr = reportSMSUndeliveredSecondBehind(h, id) })
				}
				return nil
			}
			id = fire(h)
			h.runUntil(fixedNow.Add(2 * time.Minute))
			h.step(fixedNow.Add(5 * time.Minute))
			if reportErr != nil {
				t.Fatalf("delivery report: %v", reportErr)
			}
			h.runUntil(fixedNow.Add(14 * time.Minute)) // before the secondary level
			if got := delivered(rec); strings.Join(got, ",") != "ann push,ann sms,ann voice" {
				t.Fatalf("delivered %v; want push, SMS and one call", got)
			}
			if got := pageEntries(timeline(h, id)); strings.Join(got, ",") != "notify:push,notify:sms,notify:voice" {
				t.Fatalf("timeline pages %v, want notify:push,notify:sms,notify:voice", got)
			}
		})
	}
}

// TestStepBroughtForwardWhileItsRecordIsLostPagesOnce: ann's call goes out
// at 5m and its record is lost (the store times out, nothing written);
// before the dispatcher writes again, Twilio reports her SMS undelivered
// to a replica whose clock is a second behind, which brings the call
// forward to 4m59s. The journal knows the call by its step, still
// pending: it is recorded, not placed again.
func TestStepBroughtForwardWhileItsRecordIsLostPagesOnce(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			lf := &lostFinish{Store: open(t)}
			h := newHarness(t, withStore(lf), withNotifier("log", rec))
			var reportErr error
			lf.ack = func(id string) { reportErr = reportSMSUndeliveredSecondBehind(h, id) }
			id := fire(h)
			h.runUntil(fixedNow.Add(2 * time.Minute))
			lf.armed.Store(true)
			h.step(fixedNow.Add(5 * time.Minute))
			if lf.armed.Load() || reportErr != nil {
				t.Fatalf("the record was not lost (armed %v), or the report failed: %v", lf.armed.Load(), reportErr)
			}
			h.runUntil(fixedNow.Add(14 * time.Minute)) // before the secondary level
			if got := delivered(rec); strings.Join(got, ",") != "ann push,ann sms,ann voice" {
				t.Fatalf("delivered %v; want push, SMS and one call", got)
			}
			if got := pageEntries(timeline(h, id)); strings.Join(got, ",") != "notify:push,notify:sms,notify:voice" {
				t.Fatalf("timeline pages %v, want notify:push,notify:sms,notify:voice", got)
			}
		})
	}
}

// reportSMSUndeliveredSecondBehind has Twilio's report that ann's SMS was
// not delivered taken by a replica whose clock is a second behind the
// call's due time (5m): it brings her call forward across that time.
func reportSMSUndeliveredSecondBehind(h *harness, id string) error {
	now := h.clock.Now()
	h.clock.Set(fixedNow.Add(5*time.Minute - time.Second))
	defer h.clock.Set(now)
	return h.d.Incidents().Delivered(context.Background(), id,
		notify.Delivery{User: "ann", Channel: "sms", Detail: "undelivered (Twilio error 30003)", Failed: true})
}
