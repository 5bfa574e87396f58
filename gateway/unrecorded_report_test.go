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

// refusedFinish is a store that refuses the claims' writes (Finish) while
// refuse is set: the dispatcher's record of a page, and not a delivery
// report's.
type refusedFinish struct {
	store.Store
	refuse atomic.Bool
}

func (s *refusedFinish) Finish(ctx context.Context, c store.Claim, inc *store.Incident, tl []store.Entry) error {
	if s.refuse.Load() {
		return errDiskFull
	}
	return s.Store.Finish(ctx, c, inc, tl)
}

// TestJournaledPageIsCountedByItsReport: Ann's SMS, alone on her ladder,
// goes out and the store refuses its record; the step comes back to the
// replica at the lease's end and the SMS is recorded from its journal,
// not sent again. Twilio reports it undelivered, before that record (the
// report finds no page, and the record applies it) or after it (the
// report finds the page and its step): either way nothing of the primary
// level reached anyone, and Bob is paged when both have happened, as for
// a page recorded when it went out. Both stores.
func TestJournaledPageIsCountedByItsReport(t *testing.T) {
	for name, mk := range stores(t) {
		for _, when := range []string{"before", "after"} {
			t.Run(name+" report "+when+" the record", func(t *testing.T) {
				fake := providertest.NewTwilio(t)
				cfg := strings.Replace(unreachedTwilioConfig(fake), "{after: 0s, channel: sms}, {after: 5m, channel: voice}", "{after: 0s, channel: sms}", 1)
				st := &refusedFinish{Store: mk(t)}
				h := newHarness(t, withStore(st), withConfig(cfg), realTransport("twilio"), replicas(0))
				a, reg := h.dispatcher(func(o *dispatch.Options) { o.Lease, o.RecordRetry = 5*time.Second, 30*time.Millisecond })
				h.disp = []*dispatch.Dispatcher{a}
				id := fire(h)
				st.refuse.Store(true)
				h.step(fixedNow)
				if got := metric(t, reg, "pagerd_dispatch_unrecorded"); got != 1 {
					t.Fatalf("journal holds %v, want the unrecorded SMS: the test tests nothing", got)
				}
				report := func() {
					t.Helper()
					code, _ := fake.Callback(t, fake.Messages()[0].Get("StatusCallback"),
						url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}})
					if code != 204 {
						t.Fatalf("the SMS's report was answered %d", code)
					}
				}
				if when == "before" {
					report()
				}
				st.refuse.Store(false)
				h.step(fixedNow.Add(5 * time.Second)) // the lease's end: the step comes back
				if got := metric(t, reg, "pagerd_dispatch_unrecorded"); got != 0 {
					t.Fatalf("journal holds %v after the store took the record, want 0", got)
				}
				if n := len(entriesOf(timeline(h, id), "notify", "sms")); n != 1 {
					t.Fatalf("timeline records the SMS %d times, want once: %+v", n, timeline(h, id))
				}
				if when == "after" {
					report()
				} else if got := metric(t, reg, "pagerd_delivery_reports_applied_late_total", "channel", "sms"); got != 1 {
					t.Errorf("pagerd_delivery_reports_applied_late_total{channel=sms} %v, want 1", got)
				}
				h.runUntil(fixedNow.Add(25 * time.Minute))
				if n := len(fake.Messages()); n != 1 {
					t.Fatalf("Twilio got %d messages, want the SMS once", n)
				}
				if got, want := strings.Join(h.rec.lines(fixedNow), ","), "5s L2 bob push,2m5s L2 bob sms,5m5s L2 bob voice"; got != want {
					t.Fatalf("pages sent: %s\nwant: %s", got, want)
				}
			})
		}
	}
}

// TestJournaledPageAfterATakeoverLeavesItsStepToTheTakeoversPage: Ann's
// SMS, alone on her ladder, goes out from replica a and the store refuses
// its record; at the lease's end replica b takes the step over, sends the
// SMS again and records it, and a then records its own SMS from its
// journal. The level counts the step once, by b's SMS, which names it:
// Twilio reporting b's SMS undelivered pages Bob at once; reporting only
// a's counts it as gone out (b's may have reached Ann), and the primary
// keeps its 15 minutes. Both stores.
func TestJournaledPageAfterATakeoverLeavesItsStepToTheTakeoversPage(t *testing.T) {
	for name, mk := range stores(t) {
		for _, reported := range []string{"journal's", "takeover's", "both"} {
			t.Run(name+" "+reported, func(t *testing.T) {
				fake := providertest.NewTwilio(t)
				cfg := strings.Replace(unreachedTwilioConfig(fake), "{after: 0s, channel: sms}, {after: 5m, channel: voice}", "{after: 0s, channel: sms}", 1)
				fs := &faultyStore{Store: mk(t)}
				h := newHarness(t, withStore(fs), withConfig(cfg), realTransport("twilio"), replicas(0))
				opts := func(o *dispatch.Options) { o.Lease, o.RecordRetry = 5*time.Second, 30*time.Millisecond }
				a, aReg := h.dispatcher(opts)
				b, _ := h.dispatcher(opts)
				run := func(d *dispatch.Dispatcher, at time.Time) {
					t.Helper()
					h.clock.Set(at)
					if _, err := d.RunOnce(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				id := fire(h)
				fs.refuseRecords.Store(true)
				run(a, fixedNow)
				fs.refuseRecords.Store(false)
				run(b, fixedNow.Add(5*time.Second)) // the lease's end: b takes the step over
				run(a, fixedNow.Add(5*time.Second)) // a's journal looks
				if got := metric(t, aReg, "pagerd_dispatch_unrecorded"); got != 0 {
					t.Fatalf("a's journal holds %v, want 0", got)
				}
				if n := len(fake.Messages()); n != 2 {
					t.Fatalf("Twilio got %d messages, want a's and b's: the test tests nothing", n)
				}
				steps := map[string]string{}
				for _, e := range entriesOf(timeline(h, id), "notify", "sms") {
					steps[e.Ref] = e.Step
				}
				journals, takeovers := providertest.MessageSID(0), providertest.MessageSID(1)
				if len(steps) != 2 || steps[journals] != "" || steps[takeovers] == "" {
					t.Fatalf("SMS recorded with steps %v, want a's (%s) without, b's (%s) with", steps, journals, takeovers)
				}
				report := func(i int) {
					t.Helper()
					code, _ := fake.Callback(t, fake.Messages()[i].Get("StatusCallback"),
						url.Values{"MessageSid": {providertest.MessageSID(i)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}})
					if code != 204 {
						t.Fatalf("report answered %d", code)
					}
				}
				want := "5s L2 bob push,2m5s L2 bob sms,5m5s L2 bob voice"
				switch reported {
				case "journal's":
					report(0)
					want = "15m L2 bob push,17m L2 bob sms,20m L2 bob voice"
				case "takeover's":
					report(1)
				case "both":
					report(0)
					report(1)
				}
				h.disp = []*dispatch.Dispatcher{a, b}
				h.runUntil(fixedNow.Add(25 * time.Minute))
				if got := strings.Join(h.rec.lines(fixedNow), ","); got != want {
					t.Fatalf("pages sent: %s\nwant: %s", got, want)
				}
			})
		}
	}
}
