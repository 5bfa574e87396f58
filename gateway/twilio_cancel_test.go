package gateway

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
)

// callFirstConfig calls dan (primary, 15 minutes) and then eve
// (secondary) through Twilio at once, with the fake's API and the
// harness's public URL; storm is the storm bundling setting.
func callFirstConfig(fake *providertest.Twilio, storm string) string {
	return twilioAt(fake, `
api:
  tokens: [{name: ops, token: `+apiToken+`}]
users:
  - {id: dan, name: Dan, contacts: [{channel: voice, via: twilio, address: "+15555550111"}], notification_rules: {high: [{after: 0s, channel: voice}]}}
  - {id: eve, name: Eve, contacts: [{channel: voice, via: twilio, address: "+15555550122"}], notification_rules: {high: [{after: 0s, channel: voice}]}}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [dan]}
      - {name: secondary, start: 2025-01-06, members: [eve]}
escalation_policies:
  - name: p
    levels:
      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}
      - {name: secondary, targets: [{schedule: s, tier: secondary}]}
services:
  - name: api
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: `+amKey+`}
notifiers:
  storm: `+storm+`
  twilio: {account_sid: `+twSID+`, auth_token: `+twToken+`, from: "`+twFrom+`"}
`)
}

// callRefs are the call SIDs the timeline of an incident records on its
// voice pages to user, in order.
func callRefs(h *harness, id, user string) []string {
	h.t.Helper()
	var refs []string
	for _, e := range h.incident(id).Timeline {
		if e.Type == "notify" && e.Channel == "voice" && e.User == user {
			refs = append(refs, e.Ref)
		}
	}
	return refs
}

// forwardedCalls are the "forwarded" entries of an incident's timeline that
// speak of Twilio's calls.
func forwardedCalls(h *harness, id string) []store.Entry {
	h.t.Helper()
	var out []store.Entry
	for _, e := range h.incident(id).Timeline {
		if e.Type == "forwarded" && strings.HasPrefix(e.Detail, "Twilio calls") {
			out = append(out, e)
		}
	}
	return out
}

// danCallRinging is callFirstConfig on the embedded store, Dan's call
// for a new incident placed at fixedNow and ringing at Twilio.
func danCallRinging(t *testing.T) (fake *providertest.Twilio, h *harness, id, sid string) {
	t.Helper()
	fake = providertest.NewTwilio(t)
	h = newHarness(t, withConfig(callFirstConfig(fake, "{window: 0s}")), realTransport("twilio"))
	id = fire(h)
	h.step(fixedNow)
	sid = providertest.CallSID(0)
	fake.SetCallStatus(sid, "ringing")
	return fake, h, id, sid
}

// TestTwilioCallRingingCancelledByAcknowledgement: the call Twilio was
// asked to place keeps its SID in the page's timeline entry; acknowledged
// by someone else while it rings, the call is cancelled (Twilio hangs it
// up before the phone is answered), and the timeline says so. Another
// incident's call to the same person rings on: it is another page. An
// answered call is left alone (the person may be listening), and nothing
// claims it was cancelled. On both stores: the SID must survive the
// store's encoding of the timeline.
func TestTwilioCallRingingCancelledByAcknowledgement(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			h := newHarness(t, withStore(open(t)), withConfig(callFirstConfig(fake, "{window: 0s}")), realTransport("twilio"))
			id := fire(h)
			other := fireAs(h, amKey, "g2", "critical")
			h.step(fixedNow)
			if n := len(fake.Calls()); n != 2 {
				t.Fatalf("%d calls placed, want dan's two", n)
			}
			sid, otherSID := providertest.CallSID(0), providertest.CallSID(1)
			if fake.Calls()[0].Get("To") != "+15555550111" || !strings.Contains(fake.Calls()[0].Get("Url"), "incident="+id) {
				sid, otherSID = otherSID, sid
			}
			if got := callRefs(h, id, "dan"); !slices.Equal(got, []string{sid}) {
				t.Fatalf("dan's call SIDs in the timeline: %q, want [%s]", got, sid)
			}
			fake.SetCallStatus(sid, "ringing")
			fake.SetCallStatus(otherSID, "ringing")

			h.clock.Set(fixedNow.Add(40 * time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", ""); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			h.step(h.clock.Now())
			if st := fake.CallStatus(sid); st != "canceled" {
				t.Fatalf("the acknowledged incident's call is %s, want canceled", st)
			}
			if st := fake.CallStatus(otherSID); st != "ringing" {
				t.Fatalf("another incident's call to dan is %s after the acknowledgement, want ringing", st)
			}
			fw := forwardedCalls(h, id)
			if len(fw) != 1 || fw[0].Detail != "Twilio calls still ringing cancelled after the acknowledge: dan ("+sid+")" {
				t.Fatalf("timeline's word of the cancel: %+v", fw)
			}
			// Twilio reports the call canceled, as a call that did not
			// reach the person: on an acknowledged incident that pages
			// nobody.
			placed := fake.Calls()[0]
			if placed.Get("To") != "+15555550111" || !strings.Contains(placed.Get("Url"), "incident="+id) {
				placed = fake.Calls()[1]
			}
			cb, err := url.Parse(placed.Get("StatusCallback"))
			if err != nil {
				t.Fatal(err)
			}
			report := url.Values{"CallSid": {sid}, "CallStatus": {"canceled"}, "AccountSid": {twSID}}
			if code, body := fake.Callback(t, h.url+cb.RequestURI(), report); code != 204 {
				t.Fatalf("status callback: %d %s", code, body)
			}
			h.step(h.clock.Now())
			if n := len(fake.Calls()); n != 2 {
				t.Fatalf("%d calls placed after the cancelled call's report, want none more", n-2)
			}
			if st := h.incident(id).Status; st != "acknowledged" {
				t.Fatalf("after the cancelled call's report: %s", st)
			}

			// The other incident's call was answered: its
			// acknowledgement (from the call, say) leaves it be.
			fake.SetCallStatus(otherSID, "in-progress")
			if r := h.api("POST", "/api/v1/incidents/"+other+"/acknowledge", ""); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			h.step(h.clock.Now())
			if st := fake.CallStatus(otherSID); st != "in-progress" {
				t.Fatalf("an answered call is %s after the acknowledgement, want in-progress", st)
			}
			if fw := forwardedCalls(h, other); len(fw) != 0 {
				t.Fatalf("an answered call said cancelled: %+v", fw)
			}
			h.runUntil(fixedNow.Add(30 * time.Minute))
			if n := len(fake.Calls()); n != 2 {
				t.Fatalf("%d calls placed after both incidents were acknowledged and a call reported canceled", n-2)
			}
		})
	}
}

// TestTwilioCallCancelledOnResolveOnlyRecentCalls: dan did not answer;
// eve is called at the escalation, and the incident is resolved while
// her phone rings: her call is cancelled, and only calls placed in the
// last few minutes are asked about (dan's, 16 minutes old, is not).
func TestTwilioCallCancelledOnResolveOnlyRecentCalls(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(callFirstConfig(fake, "{window: 0s}")), realTransport("twilio"))
	id := fire(h)
	h.step(fixedNow)
	h.runUntil(fixedNow.Add(15 * time.Minute))
	if n := len(fake.Calls()); n != 2 {
		t.Fatalf("%d calls placed, want dan's and eve's", n)
	}
	dan, eve := providertest.CallSID(0), providertest.CallSID(1)
	fake.SetCallStatus(dan, "ringing") // long since given up, as the network says
	fake.SetCallStatus(eve, "ringing")
	h.clock.Set(fixedNow.Add(16 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", ""); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	if st := fake.CallStatus(eve); st != "canceled" {
		t.Fatalf("eve's call is %s after the resolve, want canceled", st)
	}
	for _, u := range fake.CallUpdates() {
		if u.SID == dan {
			t.Fatalf("a call placed 16 minutes before was asked about: %+v", u)
		}
	}
	if fw := forwardedCalls(h, id); len(fw) != 1 || fw[0].Detail != "Twilio calls still ringing cancelled after the resolve: eve ("+eve+")" {
		t.Fatalf("timeline's word of the cancel: %+v", fw)
	}
}

// TestTwilioCallCancelTriedAgain: Twilio down when the acknowledgement is
// told, the cancel is tried again by the outbox, and the call is
// cancelled while it still rings.
func TestTwilioCallCancelTriedAgain(t *testing.T) {
	fake, h, id, sid := danCallRinging(t)
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", ""); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	fake.FailFirst(10) // every try of this step: the transport retries in itself too
	h.step(h.clock.Now())
	if st := fake.CallStatus(sid); st != "ringing" {
		t.Fatalf("call %s with Twilio down", st)
	}
	fake.FailFirst(0)
	h.runUntil(fixedNow.Add(time.Minute))
	if st := fake.CallStatus(sid); st != "canceled" {
		t.Fatalf("the call is %s after the outbox tried again, want canceled", st)
	}
}

// TestTwilioStormCallCancelledWhenAllItsIncidentsAreSettled: a call that
// went out for a storm bundle pages for all its incidents: acknowledging
// one of them leaves it ringing, the last one cancels it.
func TestTwilioStormCallCancelledWhenAllItsIncidentsAreSettled(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			h := newHarness(t, withStore(open(t)), withConfig(callFirstConfig(fake, "{window: 10s, immediate: 1}")), realTransport("twilio"))
			ids := []string{fire(h), fireAs(h, amKey, "g2", "critical"), fireAs(h, amKey, "g3", "critical")}
			h.runUntil(fixedNow.Add(11 * time.Second))
			if n := len(fake.Calls()); n != 2 {
				t.Fatalf("%d calls placed, want dan's first and the storm's one", n)
			}
			bundleCall := providertest.CallSID(1)
			var held []string
			for _, id := range ids {
				if refs := callRefs(h, id, "dan"); slices.Equal(refs, []string{bundleCall}) {
					held = append(held, id)
				}
			}
			if len(held) != 2 {
				t.Fatalf("incidents whose timeline records the storm call %s: %v", bundleCall, held)
			}
			fake.SetCallStatus(bundleCall, "ringing")
			h.clock.Set(fixedNow.Add(30 * time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+held[0]+"/acknowledge", ""); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			h.step(h.clock.Now())
			if st := fake.CallStatus(bundleCall); st != "ringing" {
				t.Fatalf("the storm call is %s with one of its incidents still triggered, want ringing", st)
			}
			if r := h.api("POST", "/api/v1/incidents/"+held[1]+"/resolve", ""); r.code != 200 {
				t.Fatalf("resolve: %d %s", r.code, r.body)
			}
			h.step(h.clock.Now())
			if st := fake.CallStatus(bundleCall); st != "canceled" {
				t.Fatalf("the storm call is %s with all its incidents settled, want canceled", st)
			}
			if fw := forwardedCalls(h, held[1]); len(fw) != 1 || !strings.Contains(fw[0].Detail, fmt.Sprintf("dan (%s)", bundleCall)) {
				t.Fatalf("timeline's word of the cancel: %+v", fw)
			}
		})
	}
}

// TestTwilioCallOfAReopenRingsOn: an incident acknowledged and reopened
// (escalated) before the acknowledgement's cancel went out pages again:
// the call the reopen placed is not cancelled by the old acknowledgement.
func TestTwilioCallOfAReopenRingsOn(t *testing.T) {
	fake := providertest.NewTwilio(t)
	h := newHarness(t, withConfig(callFirstConfig(fake, "{window: 0s}")), realTransport("twilio"))
	id := fire(h)
	h.step(fixedNow)
	h.clock.Set(fixedNow.Add(20 * time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"dan"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.clock.Set(fixedNow.Add(30 * time.Second))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"dan"}`); r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(31 * time.Second))
	if n := len(fake.Calls()); n != 2 {
		t.Fatalf("%d calls placed, want dan's and, after the reopen, eve's", n)
	}
	eve := providertest.CallSID(1)
	if got := callRefs(h, id, "eve"); !slices.Equal(got, []string{eve}) {
		t.Fatalf("eve's call SIDs in the timeline: %q", got)
	}
	if st := fake.CallStatus(eve); st != "queued" {
		t.Fatalf("the reopen's call is %s, want queued: cancelled by the acknowledgement before the reopen", st)
	}
	if u := fake.CallUpdates(); len(u) != 0 {
		t.Fatalf("calls updated: %+v", u)
	}
}

// TestTwilioCallCancelRateLimitedIsTriedAgain: Twilio answers the cancel
// 429 with a Retry-After (its word for when it takes requests again), as
// it does in a burst of calls. The cancel was refused for good, logged at
// error and the call left ringing; it is tried again, and the call
// cancelled while it still rings.
func TestTwilioCallCancelRateLimitedIsTriedAgain(t *testing.T) {
	fake, h, id, sid := danCallRinging(t)
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

// TestTwilioCallCancelledOnceInTheTimeline: acknowledged, then resolved a
// minute later, the incident owes Twilio two cancels of the same call.
// Twilio answers the second with the call as it is, canceled already:
// the timeline said twice that the call was cancelled, once after the
// acknowledge and again after the resolve, as if it had rung on.
func TestTwilioCallCancelledOnceInTheTimeline(t *testing.T) {
	fake, h, id, sid := danCallRinging(t)
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
