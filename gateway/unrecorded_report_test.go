package gateway

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
)

// writtenButUnconfirmed is a store whose next Finish, once armed, is
// written and then answered as a write whose reply was lost (a Redis
// timeout after the script ran, a commit the disk finished late): the
// dispatcher cannot know it went through. With thenRefuse, the records
// after it (Finish, Update) are refused until refuse is cleared, for
// longer than the dispatcher retries.
type writtenButUnconfirmed struct {
	store.Store
	armed, thenRefuse, refuse atomic.Bool
}

func (s *writtenButUnconfirmed) Finish(ctx context.Context, c store.Claim, inc *store.Incident, tl []store.Entry) error {
	if s.refuse.Load() {
		return errDiskFull
	}
	if err := s.Store.Finish(ctx, c, inc, tl); err != nil || !s.armed.CompareAndSwap(true, false) {
		return err
	}
	s.refuse.Store(s.thenRefuse.Load())
	return fmt.Errorf("%w: %w: redis: i/o timeout", store.ErrUnavailable, store.ErrOutcomeUnknown)
}

func (s *writtenButUnconfirmed) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	if s.refuse.Load() {
		return errDiskFull
	}
	return s.Store.Update(ctx, inc, tl)
}

// TestPageWhoseRecordWasUnconfirmedIsCountedByItsReport: Ann's SMS, alone
// on her ladder, is recorded, but the store's answer is lost (a Redis
// timeout after the script ran): the page is settled from the replica's
// journal, by the claim's next read or, when the store refuses records
// for longer than the claim retries, by the journal's own look at the
// lease's end. Each compared the journal's page, kept as it went out,
// without its step, with the record, which has it: the page looked
// unrecorded and was recorded a second time, without its step. Twilio's
// report that the SMS was undelivered found that second record (the
// latest with its SID) and counted the SMS as gone out: Bob was paged at
// the primary's 15 minutes. Now the page is recorded once, and Bob is
// paged as the report comes, on both stores.
func TestPageWhoseRecordWasUnconfirmedIsCountedByItsReport(t *testing.T) {
	for name, mk := range stores(t) {
		for _, settled := range []string{"by the claim", "by the journal's look"} {
			t.Run(name+" "+settled, func(t *testing.T) {
				fake := providertest.NewTwilio(t)
				cfg := strings.Replace(unreachedTwilioConfig(fake), "{after: 0s, channel: sms}, {after: 5m, channel: voice}", "{after: 0s, channel: sms}", 1)
				st := &writtenButUnconfirmed{Store: mk(t)}
				h := newHarness(t, withStore(st), withConfig(cfg), realTransport("twilio"), replicas(0))
				a, _ := h.dispatcher(func(o *dispatch.Options) { o.Lease, o.RecordRetry = 5*time.Second, 30*time.Millisecond })
				h.disp = []*dispatch.Dispatcher{a}
				id := fire(h)
				st.armed.Store(true)
				st.thenRefuse.Store(settled != "by the claim")
				h.step(fixedNow)
				if st.armed.Load() {
					t.Fatal("no Finish was attempted: the test tests nothing")
				}
				st.refuse.Store(false)
				h.step(fixedNow.Add(5 * time.Second)) // the lease's end: the journal looks
				if n := len(fake.Messages()); n != 1 {
					t.Fatalf("Twilio got %d messages, want 1", n)
				}
				if got := pageEntries(timeline(h, id)); strings.Join(got, ",") != "notify:sms" {
					t.Fatalf("timeline pages %v, want the SMS once", got)
				}
				h.runUntil(fixedNow.Add(time.Minute))
				twice(t, fake, fake.Messages()[0].Get("StatusCallback"),
					url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}})
				h.runUntil(fixedNow.Add(25 * time.Minute))
				if got, want := strings.Join(h.rec.lines(fixedNow), ","), "1m L2 bob push,3m L2 bob sms,6m L2 bob voice"; got != want {
					t.Fatalf("pages sent: %s\nwant: %s", got, want)
				}
			})
		}
	}
}
