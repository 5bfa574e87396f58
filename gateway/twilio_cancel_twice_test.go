package gateway

import (
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
)

// TestTwilioCallCancelledOnceInTheTimeline: acknowledged, then resolved a
// minute later, the incident owes Twilio two cancels of the same call.
// Twilio answers the second with the call as it is, canceled already:
// the timeline said twice that the call was cancelled, once after the
// acknowledge and again after the resolve, as if it had rung on.
func TestTwilioCallCancelledOnceInTheTimeline(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(callFirstConfig(fake, "{window: 0s}")), realTransport("twilio"))
	id := fire(h)
	h.step(fixedNow)
	sid := providertest.CallSID(0)
	fake.SetCallStatus(sid, "ringing")
	h.clock.Set(fixedNow.Add(20 * time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", ""); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	if st := fake.CallStatus(sid); st != "canceled" {
		t.Fatalf("call %s after the acknowledgement, want canceled", st)
	}
	h.clock.Set(fixedNow.Add(80 * time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", ""); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	if fw := forwardedCalls(h, id); len(fw) != 1 {
		t.Fatalf("the timeline says %d times that the call was cancelled: %+v", len(fw), fw)
	}
}
