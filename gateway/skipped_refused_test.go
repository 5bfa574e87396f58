package gateway

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify"
)

// TestSkippedStepsPageRefusedEscalatesAtOnce: Ann's ladder sends an SMS
// at once and again a minute later, and nothing else; the dispatcher
// first works the incident five minutes in (a restart, an outage), so
// both steps come due together, the first is skipped (notify_skipped) and
// the second pages in its place. The provider refuses that SMS for good:
// nothing of the primary level reached anyone, and Bob is paged at once,
// not when the primary's 15 minutes run out; both stores. (Before: the
// skipped step was fired, and the level counted it as a page gone out,
// so it waited out its timeout.)
func TestSkippedStepsPageRefusedEscalatesAtOnce(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cfg := strings.Replace(dispatchConfig,
				`{id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}`,
				`{id: ann, name: Ann, contacts: [{channel: sms, via: log}], notification_rules: {high: [{after: 0s, channel: sms}, {after: 1m, channel: sms}]}}`, 1)
			h := newHarness(t, withStore(mk(t)), withConfig(cfg))
			h.rec.fail = func(m notify.Message) error {
				if m.User != "ann" {
					return nil
				}
				return errors.New("twilio: 400 The 'To' number is not a valid phone number (code 21211)")
			}
			id := fire(h)
			h.step(fixedNow.Add(5 * time.Minute))
			h.runUntil(fixedNow.Add(25 * time.Minute))
			var skipped, esc []string
			for _, e := range timeline(h, id) {
				switch e.Type {
				case "notify_skipped":
					skipped = append(skipped, e.User+" "+e.Channel)
				case "escalate":
					esc = append(esc, fmt.Sprintf("%s L%d %s", e.At.Sub(fixedNow), e.Level, e.Detail))
				}
			}
			if got := strings.Join(skipped, ","); got != "ann sms" {
				t.Fatalf("skipped: %q, want Ann's first SMS", got)
			}
			if got, want := strings.Join(esc, ","), "5m0s L2 every page at level primary failed, nobody was reached: escalated at once"; got != want {
				t.Fatalf("escalations in the timeline: %s\nwant: %s", got, want)
			}
		})
	}
}
