package gateway

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
)

// reportNotesTogether holds the first note of a delivery report that a
// page reached nobody (a storm message's, which the store notes in each
// incident at once) until a second one is made, once armed: two copies
// of the report that each read the timelines before either was noted.
// A storm message's notes are no versioned write that firstUpdateHeld
// holds, and a copy that read after the other's note names no step and
// moves nothing where the person has no step left: no second write.
type reportNotesTogether struct {
	store.Store
	mu     sync.Mutex
	calls  int
	second chan struct{}
	vain   bool
	limit  time.Duration
}

func (s *reportNotesTogether) arm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.second = 0, make(chan struct{})
}

func (s *reportNotesTogether) Note(ctx context.Context, entries map[string][]store.Entry) error {
	report := false
	for _, es := range entries {
		report = report || slices.ContainsFunc(es, func(e store.Entry) bool { return e.Type == incident.DeliveryFailed })
	}
	s.mu.Lock()
	second, n := s.second, 0
	if report && second != nil {
		s.calls++
		n = s.calls
	}
	s.mu.Unlock()
	switch n {
	case 1:
		// A failsafe, not the test's timing.
		select {
		case <-second:
		case <-time.After(s.limit):
			s.mu.Lock()
			s.vain = true
			s.mu.Unlock()
		}
	case 2:
		defer close(second)
	}
	return s.Store.Note(ctx, entries)
}

// reportEscalatesConfig is unreachedTwilioConfig (Ann: an SMS at once, a
// call at 5m, both through Twilio; the primary waits 15m) with Ann paged
// at the secondary level too, beside Bob: a level whose pages reach
// nobody escalates to one that starts her ladder over.
func reportEscalatesConfig(fake *providertest.Twilio) string {
	return strings.Replace(unreachedTwilioConfig(fake),
		"      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n",
		"      - {name: secondary, targets: [{schedule: s, tier: secondary}, {schedule: s, tier: primary}]}\n", 1)
}

// annCallsAt are the times of Ann's calls in incident id's timeline, from
// fixedNow.
func annCallsAt(h *harness, id string) string {
	var calls []string
	for _, e := range entriesOf(timeline(h, id), "notify", "voice") {
		if e.User == "ann" {
			calls = append(calls, e.At.Sub(fixedNow).String())
		}
	}
	return strings.Join(calls, ",")
}

// escalations counts the escalate entries in incident id's timeline.
func escalations(h *harness, id string) int {
	n := 0
	for _, e := range timeline(h, id) {
		if e.Type == "escalate" {
			n++
		}
	}
	return n
}

// smsUndelivered is Twilio's report that the nth SMS it took was
// undelivered.
func smsUndelivered(n int) url.Values {
	return url.Values{"MessageSid": {providertest.MessageSID(n)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
}

// ladderSpentAtThePrimary fires an incident on reportEscalatesConfig and
// runs it to 6m: Ann's SMS went out at 0 and her call at 5m, and the call
// is reported not answered (at 6m). She has no step left at the primary,
// whose SMS Twilio has not reported on yet: the level still counts it as
// gone out and keeps its timeout.
func ladderSpentAtThePrimary(t *testing.T, h *harness, fake *providertest.Twilio) string {
	t.Helper()
	id := fire(h)
	h.runUntil(fixedNow.Add(6 * time.Minute))
	if n, m := len(fake.Messages()), len(fake.Calls()); n != 1 || m != 1 {
		t.Fatalf("Twilio took %d messages and %d calls by 6m, want 1 and 1", n, m)
	}
	code, body := fake.Callback(t, fake.Calls()[0].Get("StatusCallback"),
		url.Values{"CallSid": {providertest.CallSID(0)}, "CallStatus": {"no-answer"}, "AccountSid": {twSID}})
	if code != 204 {
		t.Fatalf("call report: %d %s", code, body)
	}
	if n := escalations(h, id); n != 0 {
		t.Fatalf("%d escalations after the call's report, want none (the SMS counts as gone out)", n)
	}
	return id
}

// wantOneEscalationAt7m checks what a report that Ann's SMS reached
// nobody, applied once at 7m, does: the primary escalated once, and the
// secondary started her ladder over, her SMS at 7m and her call at 12m;
// applied a second time, it brought that call forward to 7m.
func wantOneEscalationAt7m(t *testing.T, h *harness, id string) {
	t.Helper()
	h.runUntil(fixedNow.Add(11 * time.Minute))
	if n := escalations(h, id); n != 1 {
		t.Fatalf("%d escalations, want 1", n)
	}
	if got := annCallsAt(h, id); got != "5m0s" {
		t.Fatalf("Ann called at %s by 11m, want once, at 5m (the next at 12m)", got)
	}
	h.runUntil(fixedNow.Add(13 * time.Minute))
	if got := annCallsAt(h, id); got != "5m0s,12m0s" {
		t.Fatalf("Ann called at %s, want at 5m and 12m", got)
	}
}

// TestReportThatEscalatedTwiceAtTheSameInstantActsOnce: Ann's SMS and call
// went out at the primary, and the call was reported not answered; she
// has nothing left there. Twilio's report that the SMS was undelivered
// then comes twice at the same instant (two replicas each taking a copy):
// nothing of the primary reached anyone, and it pages the secondary, Bob
// and Ann again, at once. The first copy's write brought no step of Ann's
// forward (she had none), so the second copy, checking on the incident as
// written for the first's effect (a step of hers brought forward, a page
// of hers recorded since), found none and applied again, at the
// secondary: her call of 12m came forward to 7m, a second call two
// minutes after the first. The write that applies a report records so
// with it (a report_applied entry of the SMS's SID, in the same atomic
// write), and a copy finding that record writes nothing: one escalation,
// her call at 12m; both stores.
func TestReportThatEscalatedTwiceAtTheSameInstantActsOnce(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			st := &firstUpdateHeld{Store: mk(t), limit: 10 * time.Second}
			h := newHarness(t, withStore(st), withConfig(reportEscalatesConfig(fake)), realTransport("twilio"))
			id := ladderSpentAtThePrimary(t, h, fake)
			h.clock.Set(fixedNow.Add(7 * time.Minute))
			st.arm(id)
			reportTwiceAtOnce(t, fake, fake.Messages()[0].Get("StatusCallback"), smsUndelivered(0))
			st.arm()
			if st.vain {
				t.Fatal("the first copy's write was let go with no second write made: the test did not hold what it means to")
			}
			wantOneEscalationAt7m(t, h, id)
		})
	}
}

// TestReportThatEscalatedDeliveredAgainLaterActsOnce: as
// TestReportThatEscalatedTwiceAtTheSameInstantActsOnce, with one copy of
// the report at 7m, which pages the secondary, and the same report again
// a minute later (Twilio calling back again, a replayed signed report).
// The first brought no step of Ann's forward and nothing of hers on
// another channel went out since (her SMS of the secondary is on the
// report's channel): the copy again took the first for not applied
// (a 503's), and brought her 12m call forward to 8m. It finds the
// first's record, is noted once, and moves nothing; both stores.
func TestReportThatEscalatedDeliveredAgainLaterActsOnce(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			h := newHarness(t, withStore(mk(t)), withConfig(reportEscalatesConfig(fake)), realTransport("twilio"))
			id := ladderSpentAtThePrimary(t, h, fake)
			h.clock.Set(fixedNow.Add(7 * time.Minute))
			cb := fake.Messages()[0].Get("StatusCallback")
			if code, body := fake.Callback(t, cb, smsUndelivered(0)); code != 204 {
				t.Fatalf("report: %d %s", code, body)
			}
			h.runUntil(fixedNow.Add(8 * time.Minute))
			if n := escalations(h, id); n != 1 {
				t.Fatalf("%d escalations after the report, want 1", n)
			}
			if code, body := fake.Callback(t, cb, smsUndelivered(0)); code != 204 {
				t.Fatalf("report again: %d %s", code, body)
			}
			wantOneEscalationAt7m(t, h, id)
		})
	}
}

// TestStormReportThatEscalatedTwiceAtTheSameInstantActsOnce: as
// TestReportThatEscalatedTwiceAtTheSameInstantActsOnce, for an
// alert-storm SMS that carried two of five incidents' pages to Ann
// (her ladder: an SMS at once, a call at 2m). Her calls went out and
// were reported not answered; then the storm SMS's report that it was
// undelivered comes twice at the same instant, at 4m: each incident it
// carried pages the secondary, Bob and Ann again, at once. The second
// copy applied again in each, at the secondary: Ann's call due at 6m
// came at 4m. The write that applies the report records it for the
// message, person and channel, and the copy finding that moves
// nothing: her next call in each at 6m; both stores, each copy's note
// held until the other's is made, and its write as well.
func TestStormReportThatEscalatedTwiceAtTheSameInstantActsOnce(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			cfg := strings.Replace(reportEscalatesConfig(fake),
				`notification_rules: {high: [{after: 0s, channel: sms}, {after: 5m, channel: voice}]}`,
				`notification_rules: {high: [{after: 0s, channel: sms}, {after: 2m, channel: voice}]}`, 1)
			st := &firstUpdateHeld{Store: mk(t), limit: 10 * time.Second}
			notes := &reportNotesTogether{Store: st, limit: 10 * time.Second}
			h := newHarness(t, withStore(notes), withConfig(cfg), realTransport("twilio"))
			storm(h, 5, "u")
			h.runUntil(fixedNow.Add(30 * time.Second))
			msgs, b := stormSMSBundle(t, h, fake)
			h.runUntil(fixedNow.Add(3 * time.Minute))
			for i, c := range fake.Calls() {
				code, body := fake.Callback(t, c.Get("StatusCallback"), url.Values{"CallSid": {providertest.CallSID(i)}, "CallStatus": {"no-answer"}, "AccountSid": {twSID}})
				if code != 204 {
					t.Fatalf("call %d report: %d %s", i, code, body)
				}
			}
			for _, id := range b.Incidents {
				if n, calls := escalations(h, id), annCallsAt(h, id); n != 0 || strings.Count(calls, ",") != 0 || calls == "" {
					t.Fatalf("incident %s: %d escalations and Ann called at %s by 3m, want none and one call", id, n, calls)
				}
			}
			h.clock.Set(fixedNow.Add(4 * time.Minute))
			st.arm(b.Incidents...)
			notes.arm()
			reportTwiceAtOnce(t, fake, msgs[3].Get("StatusCallback"), smsUndelivered(3))
			st.arm()
			if notes.calls < 2 || st.vain || notes.vain {
				t.Fatal("a first copy's write or note was let go with no second one made: the test did not hold what it means to")
			}
			h.runUntil(fixedNow.Add(5*time.Minute + 30*time.Second))
			for _, id := range b.Incidents {
				if n := escalations(h, id); n != 1 {
					t.Errorf("incident %s: %d escalations, want 1", id, n)
				}
				if calls := annCallsAt(h, id); strings.Count(calls, ",") != 0 {
					t.Errorf("incident %s: Ann called at %s by 5m30s, want once (the next at 6m)", id, calls)
				}
			}
			h.runUntil(fixedNow.Add(7 * time.Minute))
			for _, id := range b.Incidents {
				if calls := annCallsAt(h, id); !strings.HasSuffix(calls, ",6m0s") || strings.Count(calls, ",") != 1 {
					t.Errorf("incident %s: Ann called at %s, want twice, the second at 6m", id, calls)
				}
			}
		})
	}
}
