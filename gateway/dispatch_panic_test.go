package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
)

// twoPeopleConfig is dispatchConfig with ann and bob both on the first
// level, so that its first step sends two pages at once.
var twoPeopleConfig = strings.Replace(dispatchConfig, "{name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}",
	"{name: primary, targets: [{user: ann}, {user: bob}], timeout: 15m}", 1)

// TestTransportPanicFailsItsPageOnly: a transport panics sending bob's page
// (a bug, an answer it cannot parse) while ann's goes out in the same
// step. The pages of a step with two or more went out on goroutines that
// nothing recovered, and the panic ended the process; with one page, the
// step failed at every lease and the ladder went no further. Now the page
// fails as one that may have been sent: recorded, and the step goes on.
func TestTransportPanicFailsItsPageOnly(t *testing.T) {
	h := newHarness(t, withConfig(twoPeopleConfig))
	h.rec.fail = func(m notify.Message) error {
		if m.User == "bob" {
			var bug map[string]int
			bug["a transport's bug"]++
		}
		return nil
	}
	id := fire(h)
	h.step(fixedNow)
	if got := h.rec.lines(fixedNow); strings.Join(got, ",") != "0s L1 ann push" {
		t.Fatalf("pages: %v, want ann's push", got)
	}
	bobsPageFailed(t, h, id, "may have been sent: the transport panicked")
}

// panickingAdmit is a store whose storm admission panics for bob's pages:
// a bug in a page's work outside its transport.
type panickingAdmit struct{ store.Store }

func (p panickingAdmit) Admit(ctx context.Context, key string, hp store.HeldPage, now time.Time, r store.StormRules) (store.Admission, error) {
	if strings.HasPrefix(key, "bob/") {
		var bug map[string]int
		bug["a bug"]++
	}
	return p.Store.Admit(ctx, key, hp, now, r)
}

// TestPanicInOneOfAStepsPagesFailsItOnly: a bug panics in the work of
// bob's page of a two-page step, outside its transport. It ended the
// process, and every other replica's that took the step over after it;
// raised on the claim's goroutine instead, the step would fail at every
// lease and ann be paged again each time. Now bob's page fails (counted,
// recorded), and the step is recorded with ann's: she is paged once.
func TestPanicInOneOfAStepsPagesFailsItOnly(t *testing.T) {
	h := newHarness(t, withStore(panickingAdmit{boltStore(t)}), withConfig(twoPeopleConfig))
	id := fire(h)
	h.step(fixedNow)
	// Each of bob's channels panics in turn (push, then the SMS and the
	// call its failure brings forward), and each is counted.
	if got := metric(t, h.reg, "pagerd_dispatch_errors_total", "reason", "failed"); got != 3 {
		t.Fatalf("pagerd_dispatch_errors_total{reason=\"failed\"} = %v, want 3", got)
	}
	h.step(fixedNow.Add(time.Minute)) // past the lease: a failed claim would come back
	if got := h.rec.lines(fixedNow); strings.Join(got, ",") != "0s L1 ann push" {
		t.Fatalf("pages: %v, want ann's push once", got)
	}
	bobsPageFailed(t, h, id, "panicked")
}

// bobsPageFailed fails unless the incident's timeline records a page to
// bob as failed, saying text.
func bobsPageFailed(t *testing.T, h *harness, id, text string) {
	t.Helper()
	v := h.incident(id)
	for _, e := range v.Timeline {
		if e.Type == "notify_failed" && e.User == "bob" && strings.Contains(e.Detail, text) {
			return
		}
	}
	t.Fatalf("bob's page is not recorded as failed (%q): %+v", text, v.Timeline)
}
