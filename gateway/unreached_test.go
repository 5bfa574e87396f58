package gateway

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify"
)

// TestLevelNobodyCanBeReachedEscalatesAtOnce: the provider refuses every
// page to Ann, the primary (her number is unknown to Twilio: the push, the
// SMS and the call alike). Each refusal brings her next step forward, and
// when her call is refused too nobody at the primary level has been
// reached: Bob, the secondary, is paged at once, not 15 minutes in, and
// the timeline says why. The primary's timeout is gone: Bob is paged once
// (each of his steps once), on two replicas, on both stores. A refusal
// that may have reached Ann (the request went out and timed out) counts as
// a page that went out: the primary keeps its 15 minutes.
func TestLevelNobodyCanBeReachedEscalatesAtOnce(t *testing.T) {
	for name, mk := range stores(t) {
		for _, maybe := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s maybe-sent=%v", name, maybe), func(t *testing.T) {
				h := newHarness(t, withStore(mk(t)), withConfig(dispatchConfig), replicas(2))
				h.rec.fail = func(m notify.Message) error {
					if m.User != "ann" {
						return nil
					}
					if maybe {
						return fmt.Errorf("twilio: %w: read timed out", notify.ErrMaybeSent)
					}
					return errors.New("twilio: 400 The 'To' number is not a valid phone number (code 21211)")
				}
				id := fire(h)
				h.runUntil(fixedNow.Add(25 * time.Minute))
				want := "0s L2 bob push,2m L2 bob sms,5m L2 bob voice"
				if maybe {
					want = "15m L2 bob push,17m L2 bob sms,20m L2 bob voice"
				}
				if got := strings.Join(h.rec.lines(fixedNow), ","); got != want {
					t.Fatalf("pages sent: %s\nwant: %s", got, want)
				}
				var esc []string
				for _, e := range timeline(h, id) {
					if e.Type == "escalate" {
						esc = append(esc, fmt.Sprintf("%s L%d %s", e.At.Sub(fixedNow), e.Level, e.Detail))
					}
				}
				wantEsc := "0s L2 every page at level primary failed, nobody was reached: escalated at once"
				if maybe {
					wantEsc = "15m0s L2 not acknowledged within 15m"
				}
				if got := strings.Join(esc, ","); got != wantEsc {
					t.Fatalf("escalations in the timeline: %s\nwant: %s", got, wantEsc)
				}
				if v := h.incident(id); v.Level != 2 {
					t.Fatalf("incident at level %d, want 2", v.Level)
				}
			})
		}
	}
}

// TestLevelNobodyCanBeReachedRacingAnUpdateEscalatesOnce: Ann's push is
// refused while a status update changes the incident, so the write of the
// step is worked again on the fresh incident; her SMS and call are refused
// too. Bob is paged at once, each of his steps once, and the timeline
// holds one escalation.
func TestLevelNobodyCanBeReachedRacingAnUpdateEscalatesOnce(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(dispatchConfig))
			var id string
			var once sync.Once
			var upd response
			h.rec.fail = func(m notify.Message) error {
				if m.User != "ann" {
					return nil
				}
				once.Do(func() { upd = h.api("POST", "/api/v1/incidents/"+id+"/status", `{"user":"ann","message":"looking"}`) })
				return errors.New("twilio: 400 The 'To' number is not a valid phone number (code 21211)")
			}
			id = fire(h)
			h.runUntil(fixedNow.Add(25 * time.Minute))
			if upd.code != 200 {
				t.Fatalf("status update: %d %s", upd.code, upd.body)
			}
			if got, want := strings.Join(h.rec.lines(fixedNow), ","), "0s L2 bob push,2m L2 bob sms,5m L2 bob voice"; got != want {
				t.Fatalf("pages sent: %s\nwant: %s", got, want)
			}
			tl := timeline(h, id)
			if n := len(entriesOf(tl, "escalate", "")); n != 1 {
				t.Fatalf("%d escalations in the timeline, want 1: %+v", n, tl)
			}
			if got := pageEntries(tl); strings.Join(got, ",") != "notify_failed:push,notify_failed:sms,notify_failed:voice,notify:push,notify:sms,notify:voice" {
				t.Fatalf("timeline pages %v", got)
			}
		})
	}
}
