package gateway

import (
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
)

// TestTwilioCallCancelRateLimitedIsTriedAgain: Twilio answers the cancel
// 429 with a Retry-After (its word for when it takes requests again), as
// it does in a burst of calls. The cancel was refused for good, logged at
// error and the call left ringing; it is tried again, and the call
// cancelled while it still rings.
func TestTwilioCallCancelRateLimitedIsTriedAgain(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(callFirstConfig(fake, "{window: 0s}")), realTransport("twilio"))
	id := fire(h)
	h.step(fixedNow)
	sid := providertest.CallSID(0)
	fake.SetCallStatus(sid, "ringing")
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", ""); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	fake.RateLimitFirst(1, "2")
	h.step(h.clock.Now())
	if st := fake.CallStatus(sid); st != "ringing" {
		t.Fatalf("call %s with Twilio rate limiting", st)
	}
	h.runUntil(fixedNow.Add(time.Minute))
	if st := fake.CallStatus(sid); st != "canceled" {
		t.Fatalf("the call is %s a minute after Twilio's 429 with Retry-After 2, want canceled", st)
	}
}
