package gateway

import (
	"context"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/twilio"
)

// unconfirmedJobs is a store whose job writes (the memory of an SMS
// reply's MessageSid among them) fail with err while it is set.
type unconfirmedJobs struct {
	store.Store
	err atomic.Pointer[error]
}

func (s *unconfirmedJobs) AddJob(ctx context.Context, j store.Job) (bool, error) {
	if err := s.err.Load(); err != nil {
		return false, *err
	}
	return s.Store.AddJob(ctx, j)
}

// TestSMSReplyWhoseMemoryIsNotConfirmedSaysNotRecorded: a reply is
// remembered by its MessageSid before it is acted on. When the store does
// not confirm that memory (a Redis timeout), the reply was not acted on
// at all: the answer must say it was NOT recorded and to reply again, not
// "may not have been recorded ... until it is", which leaves the person
// who texted "4" waiting for an acknowledgement that never comes while
// the pages go on.
func TestSMSReplyWhoseMemoryIsNotConfirmedSaysNotRecorded(t *testing.T) {
	fake := providertest.NewTwilio(t)
	st := &unconfirmedJobs{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(twilioAt(fake, twilioConfig)), realTransport("twilio"))
	id := fire(h)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	unconfirmed := store.PartlyStored(errDiskFull)
	st.err.Store(&unconfirmed)
	form := url.Values{"From": {"+15555550111"}, "To": {twFrom}, "Body": {"4"}, "MessageSid": {providertest.ReplySID()}, "AccountSid": {twSID}}
	code, out := fake.Callback(t, h.url+twilio.SMSPath, form)
	st.err.Store(nil)
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("the reply acted: %s", v.Status)
	}
	if code != 200 || !strings.Contains(out, "was NOT recorded") || !strings.Contains(out, "reply again") {
		t.Fatalf("answer to a reply not acted on: %d %s", code, out)
	}
	// Replied again, as told: a new message acts.
	form.Set("MessageSid", providertest.ReplySID())
	if code, out := fake.Callback(t, h.url+twilio.SMSPath, form); code != 200 || !strings.Contains(out, "Acknowledged") {
		t.Fatalf("the reply sent again: %d %s", code, out)
	}
}
