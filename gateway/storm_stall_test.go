package gateway

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
)

// A replica stalls (a freeze, a Redis paused past its timeouts) or dies
// right after its storm held a page of its claim, across the storm
// window's end: another replica sends the storm's message, naming the
// incident, and the step is paged again, by the takeover or, when the
// stalled claim put its step back due, by the next claim.

// stalledAdmit is a store whose storm admissions of one storm (user/
// channel) stall once the store has answered them (the page is held, and
// its claim does not hear it), and of another before the question
// reaches the store (the storm never hears of the page), until release is
// closed. Each stalled admission sends its storm's key on reached.
type stalledAdmit struct {
	store.Store
	after, before string
	reached       chan string
	release       chan struct{}
}

func newStalledAdmit(st store.Store, after, before string) *stalledAdmit {
	return &stalledAdmit{Store: st, after: after, before: before, reached: make(chan string, 8), release: make(chan struct{})}
}

func (s *stalledAdmit) Admit(ctx context.Context, key string, hp store.HeldPage, now time.Time, r store.StormRules) (store.Admission, error) {
	if key == s.before {
		s.reached <- key
		<-s.release
	}
	adm, err := s.Store.Admit(ctx, key, hp, now, r)
	if key == s.after {
		s.reached <- key
		<-s.release
	}
	return adm, err
}

// wait waits until n admissions stalled.
func (s *stalledAdmit) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-s.reached:
		case <-time.After(10 * time.Second):
			t.Fatal("the replica's storm admissions never stalled")
		}
	}
}

// timelineReads is a store that counts the timelines read, and refuses
// them with err if set.
type timelineReads struct {
	store.Store
	reads atomic.Int32
	err   error
}

func (s *timelineReads) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	s.reads.Add(1)
	if s.err != nil {
		return nil, s.err
	}
	return s.Store.Timeline(ctx, id)
}

// namedTo says when (from fixedNow) user was pushed anything naming
// incident id, on its own or in a storm's message.
func namedTo(h *harness, user, id string) []string {
	var paged []string
	for _, m := range h.rec.sentTo(user, "push") {
		if m.Incident == id || slices.Contains(m.Incidents, id) {
			paged = append(paged, m.At.Sub(fixedNow).String())
		}
	}
	return paged
}

// stormStall runs the soak's storm duplicate: ann's storm (a 5 m window,
// 3 pages at once) let out three pages at 0 s; at 4m50s replica a claims
// a fourth incident's push, and its storm's answer stalls (st wraps a's
// store). At 5m b sends the storm's message. It returns the incident;
// a is still stalled, to be released by the caller, whose wait for it
// aDone closes.
func stormStall(t *testing.T, h *harness, a, b *dispatch.Dispatcher, st *stalledAdmit, stalls int) (id string, aDone chan struct{}) {
	t.Helper()
	storm(h, 3, "g")
	if _, err := b.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(h.rec.sentTo("ann", "push")); got != 3 {
		t.Fatalf("ann got %d pushes at once, want 3", got)
	}
	h.clock.Set(fixedNow.Add(4*time.Minute + 50*time.Second))
	if _, err := b.RunOnce(context.Background()); err != nil { // the SMS steps due at 2m
		t.Fatal(err)
	}
	id = fireAs(h, amKey, "x", "critical")
	aDone = make(chan struct{})
	go func() { defer close(aDone); _, _ = a.RunOnce(context.Background()) }()
	st.wait(t, stalls)
	h.clock.Set(fixedNow.Add(5 * time.Minute)) // the window's end
	if _, err := b.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	return id, aDone
}

// runAt runs d at each time (from fixedNow).
func runAt(t *testing.T, h *harness, d *dispatch.Dispatcher, at ...time.Duration) {
	t.Helper()
	for _, at := range at {
		h.clock.Set(fixedNow.Add(at))
		if _, err := d.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStormHeldAcrossItsMessageIsNotPagedAgain: the soak's "documented
// storm duplicate". Replica a's claim of an incident's push at 4m50s has
// it held in ann's storm, and a stalls before it hears the answer (the
// store does not take its keep); b sends the storm's message, naming the
// incident, at the window's end. a resumes at 5m15s, past its claim's
// send window: it takes the hold back and puts the step back due, and b's
// next claim pushed ann the incident again, on its own, 16 s after the
// message. Now that claim finds the message in the incident's timeline,
// sent to ann on push for that step after it came due, and records the
// step as paged by it, counted in
// pagerd_pages_total{result="in_storm_message"} (before, only an info
// line of the log said so).
func TestStormHeldAcrossItsMessageIsNotPagedAgain(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig+"notifiers:\n  storm: {window: 5m, immediate: 3}\n"), replicas(0))
			var st *stalledAdmit
			a, aReg := h.dispatcher(func(o *dispatch.Options) {
				o.Lease = 30 * time.Second
				st = newStalledAdmit(o.Store, "ann/push", "")
				o.Store = noKeeps{st}
			})
			b, bReg := h.dispatcher(func(o *dispatch.Options) { o.Lease = 30 * time.Second })
			id, aDone := stormStall(t, h, a, b, st, 1)
			if got := namedTo(h, "ann", id); len(got) != 1 {
				t.Fatalf("ann was pushed %s at %v by the window's end: want once, in the storm's message", id, got)
			}
			h.clock.Set(fixedNow.Add(5*time.Minute + 15*time.Second)) // past a's send window, within its lease
			close(st.release)
			<-aDone
			if got := metric(t, aReg, "pagerd_dispatch_errors_total", "reason", "lease_ran_out"); got != 1 || !strings.Contains(h.logs.String(), "its step is due again") {
				t.Fatalf("a did not put the step back due past its send window (lease_ran_out %v): the test does not test what it says", got)
			}
			runAt(t, h, b, 5*time.Minute+16*time.Second, 10*time.Minute+30*time.Second, 16*time.Minute)
			if got := namedTo(h, "ann", id); len(got) != 1 {
				t.Errorf("ann was pushed %s at %v: want once, in the storm's message at 5m0s", id, got)
			}
			v := h.incident(id)
			if got := entriesOf(v.Timeline, "notify", "push"); len(got) != 2 || got[0].Bundle == "" || got[1].Bundle != got[0].Bundle ||
				!got[1].At.Equal(got[0].At) || !strings.Contains(got[1].Detail, "not sent again") {
				t.Errorf("the timeline's pushes %+v: want the message's note and the step recorded as paged by it", got)
			}
			// Summed over the replicas, as a dashboard does: the claim
			// of the step put back due may be either's.
			if got := inStormMessage(t, aReg) + inStormMessage(t, bReg); got != 1 {
				t.Errorf("pagerd_pages_total{channel=push,via=log,result=in_storm_message} = %v over a and b, want 1 (the step recorded as paged by the message)", got)
			}
		})
	}
}

// TestStormHeldAcrossItsMessageIsNotPagedAgainByTheTakeover: as
// TestStormHeldAcrossItsMessageIsNotPagedAgain, but a stays stopped (a
// kill, a long freeze) past its lease: b, taking the incident over at
// 5m21s, had the push held in ann's storm again, and the next window's
// message named the incident to her a second time. The takeover finds
// the message in the timeline and records the step as paged by it. The
// timeline is read for the takeover only: b's ordinary claims before it
// (the storm's pages, their SMS and calls, the message) read none. The
// step is counted pagerd_pages_total{result="in_storm_message"}, once.
func TestStormHeldAcrossItsMessageIsNotPagedAgainByTheTakeover(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h, id, aDone, release, bReads, bReg := stormTakeoverAfterItsMessage(t, mk(t), nil)
			defer func() { release(); <-aDone }() // a resumes only now, as if it had died
			if got := namedTo(h, "ann", id); len(got) != 1 {
				t.Errorf("ann was pushed %s at %v: want once, in the storm's message at 5m0s", id, got)
			}
			if got := bReads.reads.Load(); got != 1 {
				t.Errorf("b read %d timelines, want 1 (the takeover's)", got)
			}
			if got := inStormMessage(t, bReg); got != 1 {
				t.Errorf("pagerd_pages_total{channel=push,via=log,result=in_storm_message} = %v, want 1 (the takeover's step recorded as paged by the message)", got)
			}
		})
	}
}

// TestStormHeldAcrossItsMessageIsPagedWhenTheTimelineCannotBeRead: as
// TestStormHeldAcrossItsMessageIsNotPagedAgainByTheTakeover, but the store
// refuses b's read of the timeline: the takeover pages the step (ann gets
// the incident twice), rather than risk a page nobody sent, and counts
// it sent, not in_storm_message.
func TestStormHeldAcrossItsMessageIsPagedWhenTheTimelineCannotBeRead(t *testing.T) {
	h, id, aDone, release, _, bReg := stormTakeoverAfterItsMessage(t, boltStore(t), errors.New("disk read error"))
	defer func() { release(); <-aDone }()
	if got := namedTo(h, "ann", id); len(got) != 2 {
		t.Errorf("ann was pushed %s at %v: want twice, in the storm's message at 5m0s and by the takeover", id, got)
	}
	if !strings.Contains(h.logs.String(), "could not tell whether an alert storm's message already paged") {
		t.Error("the refused read is not logged")
	}
	if got := inStormMessage(t, bReg); got != 0 {
		t.Errorf("pagerd_pages_total{result=in_storm_message} = %v, want 0: the takeover sent the page", got)
	}
}

// stormTakeoverAfterItsMessage runs stormStall with a stopped for good:
// b, whose store counts (and with readErr refuses) its timeline reads,
// takes the incident over at 5m21s and runs at the next windows' ends.
// release lets a resume, and aDone is closed when it is done; bReg is
// b's registry.
func stormTakeoverAfterItsMessage(t *testing.T, s store.Store, readErr error) (h *harness, id string, aDone chan struct{}, release func(), bReads *timelineReads, bReg *prometheus.Registry) {
	t.Helper()
	h = newHarness(t, withStore(s), withConfig(stormConfig+"notifiers:\n  storm: {window: 5m, immediate: 3}\n"), replicas(0))
	var st *stalledAdmit
	a, _ := h.dispatcher(func(o *dispatch.Options) {
		o.Lease = 30 * time.Second
		st = newStalledAdmit(o.Store, "ann/push", "")
		o.Store = st
	})
	var b *dispatch.Dispatcher
	b, bReg = h.dispatcher(func(o *dispatch.Options) {
		o.Lease = 30 * time.Second
		bReads = &timelineReads{Store: o.Store, err: readErr}
		o.Store = bReads
	})
	id, aDone = stormStall(t, h, a, b, st, 1)
	release = sync.OnceFunc(func() { close(st.release) })
	if got := bReads.reads.Load(); got != 0 {
		t.Errorf("b read %d timelines in its ordinary claims, want none", got)
	}
	runAt(t, h, b, 5*time.Minute+21*time.Second) // past a's lease
	if got := metric(t, bReg, "pagerd_dispatch_takeovers_total"); got != 1 {
		release()
		<-aDone
		t.Fatalf("b took %v claims over, want 1: the test does not test what it says", got)
	}
	runAt(t, h, b, 10*time.Minute+30*time.Second, 16*time.Minute)
	return h, id, aDone, release, bReads, bReg
}

// inStormMessage is reg's count of ann's push steps recorded as paged by
// an alert storm's message.
func inStormMessage(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	return metric(t, reg, "pagerd_pages_total", "channel", "push", "via", "log", "result", "in_storm_message")
}

// TestStormMessageToSomeoneElseDoesNotStandForAPage: the incident pages
// ann and bob. a's claim has bob's push held in his storm and stalls,
// while ann's push never reached her storm; b sends bob's storm's message
// at the window's end and takes the incident over at 5m21s. Bob's message
// named the incident after ann's step came due, but to bob: ann is pushed
// (once), and bob is not pushed again.
func TestStormMessageToSomeoneElseDoesNotStandForAPage(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cfg := strings.Replace(stormConfig, "levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]",
				"levels: [{name: primary, targets: [{schedule: s, tier: primary}, {schedule: s, tier: web}]}]", 1)
			if cfg == stormConfig {
				t.Fatal("the config's policy was not changed to page ann and bob")
			}
			h := newHarness(t, withStore(mk(t)), withConfig(cfg+"notifiers:\n  storm: {window: 5m, immediate: 3}\n"), replicas(0))
			var st *stalledAdmit
			a, _ := h.dispatcher(func(o *dispatch.Options) {
				o.Lease = 30 * time.Second
				st = newStalledAdmit(o.Store, "bob/push", "ann/push")
				o.Store = st
			})
			b, _ := h.dispatcher(func(o *dispatch.Options) { o.Lease = 30 * time.Second })
			id, aDone := stormStall(t, h, a, b, st, 2)
			if got := namedTo(h, "bob", id); len(got) != 1 {
				t.Fatalf("bob was pushed %s at %v by the window's end: want once, in his storm's message", id, got)
			}
			runAt(t, h, b, 5*time.Minute+21*time.Second, 10*time.Minute+30*time.Second, 16*time.Minute) // past a's lease, and the windows' ends
			if got := namedTo(h, "ann", id); len(got) != 1 {
				t.Errorf("ann was pushed %s at %v: want once, by the takeover (bob's message does not page her)", id, got)
			}
			if got := namedTo(h, "bob", id); len(got) != 1 {
				t.Errorf("bob was pushed %s at %v: want once, in his storm's message at 5m0s", id, got)
			}
			close(st.release) // a resumes only now, as if it had died
			<-aDone
		})
	}
}

// stalledHeld is a store whose first read of one storm's held pages
// stalls once the store has answered it (a flush that read the list and
// has not sent its message yet), until release is closed. The stalled
// read closes reached; from then on it claims nothing (the replica's
// other claims would race the takeover the test makes elsewhere).
type stalledHeld struct {
	store.Store
	storm            string
	once             sync.Once
	stalled          atomic.Bool
	reached, release chan struct{}
}

func (s *stalledHeld) Held(ctx context.Context, key string) ([]store.HeldPage, error) {
	ps, err := s.Store.Held(ctx, key)
	if key == s.storm {
		s.once.Do(func() {
			s.stalled.Store(true)
			close(s.reached)
			<-s.release
		})
	}
	return ps, err
}

func (s *stalledHeld) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	if s.stalled.Load() {
		return nil, nil
	}
	return s.Store.ClaimDue(ctx, now, lease, max)
}

// TestStormHeldAgainBehindItsMessageIsDroppedByItsFlush: the storm soak's
// duplicate (seed 809410433). a's claim of an incident's push at 4m50s has
// it held in ann's storm, and a dies before recording the hold. b claims
// the storm at the window's end and reads its held pages; before it sends
// the message (naming the incident, from a's hold) and notes it, c takes
// the incident over at 5m21s, past a's lease, finds no note in the
// timeline and has the push held again, behind the part b read. b's
// Flushed dropped only that part, and the next window's message pushed ann
// the incident a second time. Now Flushed drops the step held again.
func TestStormHeldAgainBehindItsMessageIsDroppedByItsFlush(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig+"notifiers:\n  storm: {window: 5m, immediate: 3}\n"), replicas(0))
			var st *stalledAdmit
			a, _ := h.dispatcher(func(o *dispatch.Options) {
				o.Lease = 30 * time.Second
				st = newStalledAdmit(o.Store, "ann/push", "")
				o.Store = st
			})
			var sh *stalledHeld
			b, _ := h.dispatcher(func(o *dispatch.Options) {
				o.Lease = 2 * time.Minute // its storm's claim outlasts c's takeover
				sh = &stalledHeld{Store: o.Store, storm: store.StormKey("ann", "push"), reached: make(chan struct{}), release: make(chan struct{})}
				o.Store = sh
			})
			c, cReg := h.dispatcher(func(o *dispatch.Options) { o.Lease = 30 * time.Second })

			storm(h, 3, "g")
			runAt(t, h, c, 0, 4*time.Minute+50*time.Second) // the three pushes at once, their SMS
			if got := len(h.rec.sentTo("ann", "push")); got != 3 {
				t.Fatalf("ann got %d pushes at once, want 3", got)
			}
			id := fireAs(h, amKey, "x", "critical")
			aDone := make(chan struct{})
			go func() { defer close(aDone); _, _ = a.RunOnce(context.Background()) }()
			st.wait(t, 1)                                 // held in ann's storm; a hears nothing more
			defer func() { close(st.release); <-aDone }() // a resumes only now, as if it had died

			h.clock.Set(fixedNow.Add(5 * time.Minute)) // the window's end
			bDone := make(chan struct{})
			go func() { defer close(bDone); _, _ = b.RunOnce(context.Background()) }()
			select {
			case <-sh.reached:
			case <-time.After(10 * time.Second):
				t.Fatal("b's flush never read ann's storm")
			}
			runAt(t, h, c, 5*time.Minute+21*time.Second) // past a's lease: c takes the incident over
			if got := metric(t, cReg, "pagerd_dispatch_takeovers_total"); got != 1 {
				close(sh.release)
				<-bDone
				t.Fatalf("c took %v claims over, want 1: the test does not test what it says", got)
			}
			held, err := h.store.Held(context.Background(), store.StormKey("ann", "push"))
			if err != nil || len(held) != 2 || held[0].Incident != id || held[1].Incident != id {
				close(sh.release)
				<-bDone
				t.Fatalf("ann's storm holds %+v %v, want a's and c's holds of %s: the test does not test what it says", held, err, id)
			}
			close(sh.release) // b sends the message it read, notes it and flushes
			<-bDone
			if got := namedTo(h, "ann", id); len(got) != 1 {
				t.Fatalf("ann was pushed %s at %v by b's message: want once", id, got)
			}
			runAt(t, h, c, 10*time.Minute+30*time.Second, 16*time.Minute) // the next windows' ends
			if got := namedTo(h, "ann", id); len(got) != 1 {
				t.Errorf("ann was pushed %s at %v: want once, in b's message", id, got)
			}
			if held, err := h.store.Held(context.Background(), store.StormKey("ann", "push")); err != nil || len(held) != 0 {
				t.Errorf("ann's storm still holds %+v %v", held, err)
			}
		})
	}
}
