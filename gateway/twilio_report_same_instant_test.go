package gateway

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
)

// firstUpdateHeld holds the first Update of each incident it is armed
// for until a second Update of that incident has been made: two writes
// that read the incident before either wrote, made second one first.
type firstUpdateHeld struct {
	store.Store
	mu    sync.Mutex
	held  map[string]*heldUpdates
	vain  bool // a first write was let go with no second one made
	limit time.Duration
}

type heldUpdates struct {
	calls  int
	second chan struct{}
}

func (s *firstUpdateHeld) arm(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = map[string]*heldUpdates{}
	for _, id := range ids {
		s.held[id] = &heldUpdates{second: make(chan struct{})}
	}
}

func (s *firstUpdateHeld) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	s.mu.Lock()
	h := s.held[inc.ID]
	n := 0
	if h != nil {
		h.calls++
		n = h.calls
	}
	s.mu.Unlock()
	switch n {
	case 1:
		// A failsafe, not the test's timing: with or without the fix,
		// the second copy's write comes.
		select {
		case <-h.second:
		case <-time.After(s.limit):
			s.mu.Lock()
			s.vain = true
			s.mu.Unlock()
		}
	case 2:
		defer close(h.second)
	}
	return s.Store.Update(ctx, inc, tl)
}

// reportTwiceAtOnce delivers report to callback twice at the same
// instant, as two replicas (or two of one replica's requests) take
// Twilio's callback sent twice, and wants both answered 204.
func reportTwiceAtOnce(t *testing.T, fake *providertest.Twilio, callback string, report url.Values) {
	t.Helper()
	var wg sync.WaitGroup
	codes, bodies := make([]int, 2), make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], bodies[i] = fake.Callback(t, callback, report)
		}()
	}
	wg.Wait()
	for i := range 2 {
		if codes[i] != 204 {
			t.Fatalf("report copy %d: %d %s", i, codes[i], bodies[i])
		}
	}
}

// callsAt are the times of the voice pages in incident id's timeline,
// from fixedNow.
func callsAt(h *harness, id string) string {
	var calls []string
	for _, e := range entriesOf(timeline(h, id), "notify", "voice") {
		calls = append(calls, e.At.Sub(fixedNow).String())
	}
	return strings.Join(calls, ",")
}

// TestSMSReportedUndeliveredTwiceAtTheSameInstantBringsOneStepForward:
// dan's ladder is an SMS at once, a call at 2m and a second call at 10m.
// Twilio's report that the SMS was undelivered comes twice at the same
// instant (two replicas each taking a copy), the second copy's write
// made while the first's is on its way. Each copy read the timeline
// before the other's write, found no report applied, and applied its
// own: the call came forward to 10s, and so did the 10m one, two calls
// seconds apart and none at 10m. The write that applies a copy checks,
// on the incident as written, whether another copy applied already: one
// call at 10s, the next at 10m; both stores.
func TestSMSReportedUndeliveredTwiceAtTheSameInstantBringsOneStepForward(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			cfg := strings.Replace(twilioConfig, `{channel: voice, via: log}]}`,
				`{channel: voice, via: log}], notification_rules: {high: [{after: 0s, channel: sms}, {after: 2m, channel: voice}, {after: 10m, channel: voice}]}}`, 1)
			st := &firstUpdateHeld{Store: mk(t), limit: 10 * time.Second}
			h := newHarness(t, withStore(st), withConfig(twilioAt(fake, cfg)), realTransport("twilio"))
			id := fire(h)
			h.runUntil(fixedNow.Add(5 * time.Second))
			ms := fake.Messages()
			if len(ms) != 1 {
				t.Fatalf("Twilio got %d messages", len(ms))
			}
			report := url.Values{"MessageSid": {providertest.MessageSID(0)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
			h.clock.Set(fixedNow.Add(10 * time.Second))
			st.arm(id)
			reportTwiceAtOnce(t, fake, ms[0].Get("StatusCallback"), report)
			st.arm()
			if st.vain {
				t.Fatal("the first copy's write was let go with no second write made: the test did not hold what it means to")
			}
			h.runUntil(fixedNow.Add(9 * time.Minute))
			if got := callsAt(h, id); got != "10s" {
				t.Fatalf("calls at %s, want one at 10s (the next at 10m)", got)
			}
			if v := h.incident(id); v.NextStepAt == nil || !v.NextStepAt.Equal(fixedNow.Add(10*time.Minute)) {
				t.Fatalf("next step at %v, want 10m", v.NextStepAt)
			}
			h.runUntil(fixedNow.Add(11 * time.Minute))
			if got := callsAt(h, id); got != "10s,10m0s" {
				t.Fatalf("calls at %s, want 10s and 10m", got)
			}
		})
	}
}

// TestStormSMSReportedUndeliveredTwiceAtTheSameInstantBringsOneStepForward:
// as TestSMSReportedUndeliveredTwiceAtTheSameInstantBringsOneStepForward,
// for an alert-storm SMS that carried two incidents' pages to Ann: each
// copy of its report found the other's not applied in either incident
// (bundleSteps), and both brought her 10m call forward too in each. One
// call at 40s in each, the next at 10m; both stores.
func TestStormSMSReportedUndeliveredTwiceAtTheSameInstantBringsOneStepForward(t *testing.T) {
	undelivered := url.Values{"MessageSid": {providertest.MessageSID(3)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			st := &firstUpdateHeld{Store: mk(t), limit: 10 * time.Second}
			h := newHarness(t, withStore(st), withConfig(stormReportAgainConfig(fake)), realTransport("twilio"))
			storm(h, 5, "u")
			h.runUntil(fixedNow.Add(30 * time.Second))
			msgs, b := stormSMSBundle(t, h, fake)
			h.clock.Set(fixedNow.Add(40 * time.Second))
			st.arm(b.Incidents...)
			reportTwiceAtOnce(t, fake, msgs[3].Get("StatusCallback"), undelivered)
			st.arm()
			if st.vain {
				t.Fatal("a first copy's write was let go with no second write made: the test did not hold what it means to")
			}
			h.runUntil(fixedNow.Add(9 * time.Minute))
			for _, id := range b.Incidents {
				if got := callsAt(h, id); got != "40s" {
					t.Errorf("incident %s: calls at %s, want one at 40s (the next at 10m)", id, got)
				}
				if v := h.incident(id); v.NextStepAt == nil || !v.NextStepAt.Equal(fixedNow.Add(10*time.Minute)) {
					t.Errorf("incident %s: next step at %v, want 10m", id, v.NextStepAt)
				}
			}
			// The 10m calls of the storm's five incidents go out in
			// the storm's turn: at 10m or the dispatcher's next look.
			h.runUntil(fixedNow.Add(11 * time.Minute))
			for _, id := range b.Incidents {
				if got := callsAt(h, id); !strings.HasPrefix(got, "40s,10m") || strings.Count(got, ",") != 1 {
					t.Errorf("incident %s: calls at %s, want 40s and 10m", id, got)
				}
			}
		})
	}
}

// TestStormSMSReportAgainTwiceAtTheSameInstantAppliesOnceWhereTheStoreRefusedTheFirst:
// the storm SMS's undelivered report brought Ann's call forward in one
// incident it carried, and the store refused the write in the other
// (answered 503, as in TestStormSMSReportAgainAppliesWhereTheStoreRefusedTheFirst).
// Then the report comes again, twice at the same instant. Each copy
// found the first's report in the refused incident, not applied there,
// and noted nothing more in it (once in each timeline): neither copy's
// own report was there for the other's write to find, and both brought
// the call forward there, and the call after it. One call there, at the
// copies' time, the next at 10m; nothing more in the other; both stores.
func TestStormSMSReportAgainTwiceAtTheSameInstantAppliesOnceWhereTheStoreRefusedTheFirst(t *testing.T) {
	undelivered := url.Values{"MessageSid": {providertest.MessageSID(3)}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {twSID}}
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewTwilio(t)
			held := &firstUpdateHeld{Store: mk(t), limit: 10 * time.Second}
			st := &refusingUpdatesOf{Store: held}
			h := newHarness(t, withStore(st), withConfig(stormReportAgainConfig(fake)), realTransport("twilio"))
			storm(h, 5, "u")
			h.runUntil(fixedNow.Add(30 * time.Second))
			msgs, b := stormSMSBundle(t, h, fake)
			took, refused := b.Incidents[0], b.Incidents[1]
			h.clock.Set(fixedNow.Add(40 * time.Second))
			st.set(refused)
			code, body := fake.Callback(t, msgs[3].Get("StatusCallback"), undelivered)
			st.set()
			if code != 503 {
				t.Fatalf("report while the store refuses %s: %d %s, want 503", refused, code, body)
			}
			h.runUntil(fixedNow.Add(50 * time.Second))
			h.clock.Set(fixedNow.Add(60 * time.Second))
			held.arm(refused)
			reportTwiceAtOnce(t, fake, msgs[3].Get("StatusCallback"), undelivered)
			held.arm()
			if held.vain {
				t.Fatal("a first copy's write was let go with no second write made: the test did not hold what it means to")
			}
			h.runUntil(fixedNow.Add(9 * time.Minute))
			for id, want := range map[string]string{took: "40s", refused: "1m0s"} {
				if got := callsAt(h, id); got != want {
					t.Errorf("incident %s: calls at %s, want one at %s (the next at 10m)", id, got, want)
				}
				if v := h.incident(id); v.NextStepAt == nil || !v.NextStepAt.Equal(fixedNow.Add(10*time.Minute)) {
					t.Errorf("incident %s: next step at %v, want 10m", id, v.NextStepAt)
				}
			}
		})
	}
}
