package incident

import (
	"testing"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
)

// TestPagedViaNamesTheTransportWhole: a page is through a transport when
// its entry names that transport whole, on its own or before a colon or
// a comma, as the dispatcher writes it, and went out or may have; the
// dispatcher (forwarding an acknowledgement) and a PagerDuty webhook's
// check share this one reading.
func TestPagedViaNamesTheTransportWhole(t *testing.T) {
	maybe := "via pagerduty: " + notify.ErrMaybeSent.Error()
	for _, c := range []struct {
		typ, detail string
		want        bool
	}{
		{"notify", "via pagerduty", true},
		{"notify", "via pagerduty, dedup key x", true},
		{"notify", "via pagerduty, in one message for 3 incidents (alert storm)", true},
		{"notify_failed", maybe, true},
		{"notify_failed", "via pagerduty: 400 Bad Request", false},
		{"notify", "via pagerduty2", false},
		{"notify", "via twilio", false},
		{"notify_held", "via pagerduty", false},
	} {
		if got := PagedVia(store.Entry{Type: c.typ, Detail: c.detail}, "pagerduty"); got != c.want {
			t.Errorf("%s %q: PagedVia %v, want %v", c.typ, c.detail, got, c.want)
		}
	}
}
