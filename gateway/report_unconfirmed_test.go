package gateway

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
)

// updateUnconfirmed is a store whose next Update, once armed, is written
// and then answered as a write whose reply was lost (a Redis timeout after
// the script ran, a commit the disk finished late); the note of a delivery
// report is written as it is.
type updateUnconfirmed struct {
	store.Store
	armed    atomic.Bool
	unstored bool // the write is not made, though its answer says it may have been
}

func (s *updateUnconfirmed) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	noted := slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == incident.DeliveryFailed })
	if s.unstored && !noted && s.armed.CompareAndSwap(true, false) {
		return fmt.Errorf("%w: %w: redis: i/o timeout", store.ErrUnavailable, store.ErrOutcomeUnknown)
	}
	if err := s.Store.Update(ctx, inc, tl); err != nil || noted || !s.armed.CompareAndSwap(true, false) {
		return err
	}
	return fmt.Errorf("%w: %w: redis: i/o timeout", store.ErrUnavailable, store.ErrOutcomeUnknown)
}

// TestReportWhoseWriteWasUnconfirmedBringsOneStepForward: Ann's ladder is
// an SMS at once, a call at 5m and another at 10m. Twilio reports the SMS
// undelivered, and the write that brings her next step (the first call)
// forward is stored, but the store's answer is lost. The report asked
// again, on the incident as stored: the event, applied a second time,
// brought the second call forward too, and she was called twice at once.
// Now it is asked again only on the incident as the first write read it:
// that write changed it, so it is not applied again; one call now, the
// other at its time; both stores. A write answered so that was not made
// is made by the try again: the incident is as it read it.
func TestReportWhoseWriteWasUnconfirmedBringsOneStepForward(t *testing.T) {
	for name, mk := range stores(t) {
		for _, unstored := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s unstored=%v", name, unstored), func(t *testing.T) {
				fake := providertest.NewTwilio(t)
				cfg := strings.Replace(unreachedTwilioConfig(fake),
					"notification_rules: {high: [{after: 0s, channel: sms}, {after: 5m, channel: voice}]}",
					"notification_rules: {high: [{after: 0s, channel: sms}, {after: 5m, channel: voice}, {after: 10m, channel: voice}]}", 1)
				st := &updateUnconfirmed{Store: mk(t), unstored: unstored}
				h := newHarness(t, withStore(st), withConfig(cfg), realTransport("twilio"))
				fire(h)
				h.runUntil(fixedNow.Add(time.Minute))
				if n := len(fake.Messages()); n != 1 {
					t.Fatalf("Twilio took %d messages by 1m, want 1", n)
				}
				st.armed.Store(true)
				fake.Callback(t, fake.Messages()[0].Get("StatusCallback"),
					url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}})
				if st.armed.Load() {
					t.Fatal("the report wrote nothing")
				}
				h.runUntil(fixedNow.Add(2 * time.Minute))
				if n := len(fake.Calls()); n != 1 {
					t.Fatalf("Twilio placed %d calls by 2m, want 1: the report brought one step forward", n)
				}
				h.runUntil(fixedNow.Add(11 * time.Minute))
				if n := len(fake.Calls()); n != 2 {
					t.Fatalf("Twilio placed %d calls by 11m, want 2", n)
				}
			})
		}
	}
}

// updateRefusedOnce is a store that refuses, once armed, the first Update
// that is not a delivery report's note, writing nothing.
type updateRefusedOnce struct {
	store.Store
	armed atomic.Bool
}

func (s *updateRefusedOnce) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	noted := slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == incident.DeliveryFailed })
	if !noted && s.armed.CompareAndSwap(true, false) {
		return fmt.Errorf("%w: redis: connection refused", store.ErrUnavailable)
	}
	return s.Store.Update(ctx, inc, tl)
}

// TestStormReportRefusedInOneIncidentBringsOneStepForwardInEach: an
// alert-storm SMS carrying two incidents is reported undelivered; the
// store refuses the write in one of them (nothing written) and takes the
// other's. The report asked again for the whole message, and the
// incident whose write stood had the event applied twice: both its calls
// came at once. Now only the incident refused is asked again: one call
// each now, the second calls at their time; both stores.
func TestStormReportRefusedInOneIncidentBringsOneStepForwardInEach(t *testing.T) {
	undelivered := url.Values{"MessageSid": {providertest.MessageSID(3)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			cfg := strings.Replace(unreachedTwilioConfig(fake),
				"notification_rules: {high: [{after: 0s, channel: sms}, {after: 5m, channel: voice}]}",
				"notification_rules: {high: [{after: 0s, channel: sms}, {after: 5m, channel: voice}, {after: 10m, channel: voice}]}", 1)
			st := &updateRefusedOnce{Store: mk(t)}
			h := newHarness(t, withStore(st), withConfig(cfg), realTransport("twilio"))
			storm(h, 5, "u")
			h.runUntil(fixedNow.Add(30 * time.Second))
			msgs := fake.Messages()
			if len(msgs) != 4 {
				t.Fatalf("Twilio got %d messages, want 3 on their own and one storm message", len(msgs))
			}
			st.armed.Store(true)
			if code, body := fake.Callback(t, msgs[3].Get("StatusCallback"), undelivered); code != 204 {
				t.Fatalf("the storm SMS's report was answered %d %s", code, body)
			}
			if st.armed.Load() {
				t.Fatal("the report wrote nothing")
			}
			h.runUntil(fixedNow.Add(time.Minute))
			if n := len(fake.Calls()); n != 2 {
				t.Fatalf("Twilio placed %d calls by 1m, want one for each of the storm message's 2 incidents", n)
			}
		})
	}
}
