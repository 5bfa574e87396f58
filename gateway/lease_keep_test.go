package gateway

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
)

// slowFirst is a provider whose first page (of those match takes, if
// set) takes hold to answer (and then is sent); the rest go at once. Every
// page is recorded in rec.
type slowFirst struct {
	rec     *recorder
	hold    time.Duration
	match   func(notify.Message) bool
	once    sync.Once
	started chan struct{}
	calls   atomic.Int32
}

func (s *slowFirst) Notify(ctx context.Context, m notify.Message) error {
	s.calls.Add(1)
	first := false
	if s.match == nil || s.match(m) {
		s.once.Do(func() { first = true })
	}
	if first {
		close(s.started)
		select {
		case <-time.After(s.hold):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.rec.Notify(ctx, m)
}

// A page whose provider answers after its claim's lease would have ended
// is sent once. Replica a claims the incident and pushes ann; the provider
// takes 3 s to answer, past a's 2 s lease, while replica b looks for
// due work every 20 ms. Before a kept its claim's lease while the page was
// on its way, b took the incident over at 2 s and pushed ann a second
// time: a duplicate with no crash, only a slow provider.
func TestSlowPageKeepsItsClaimFromATakeover(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			slow := &slowFirst{rec: rec, hold: 3 * time.Second, started: make(chan struct{})}
			h := newHarness(t, withStore(mk(t)), withNow(time.Now), withNotifier("log", slow))
			a, aReg, b, bReg := scaledReplicas(h, 2*time.Second, 5*time.Second)
			id := fire(h)

			aDone := runOnceAside(t, a)
			select {
			case <-slow.started:
			case <-time.After(10 * time.Second):
				t.Fatal("a never pushed")
			}
			lookWhile(t, b, aDone)
			if got := rec.sentTo("ann", "push"); len(got) != 1 || got[0].Incident != id {
				t.Fatalf("ann was pushed %d times (%v), want once: b took the claim over while a's push was on its way", len(got), rec.lines(fixedNow))
			}
			if n := metric(t, bReg, "pagerd_dispatch_takeovers_total"); n != 0 {
				t.Errorf("b took %v claims over", n)
			}
			if n := metric(t, aReg, "pagerd_dispatch_lease_keeps_total", "result", "kept"); n < 1 {
				t.Errorf("a kept its claim's lease %v times, want at least once", n)
			}
			pushedOnceInTimeline(t, h, id, "")
		})
	}
}

// The same for an alert-storm message: ann's storm (a 1 s window, 3 pages
// at once) holds the fourth of four P0s; at the window's end replica a
// claims the storm and sends its message, which the provider takes 3 s
// to answer, past a's 2 s lease. Before, b took the storm over and sent
// the message again: ann got the held incident twice.
func TestSlowStormMessageKeepsItsClaimFromATakeover(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			slow := &slowFirst{rec: rec, hold: 3 * time.Second, started: make(chan struct{}),
				match: func(m notify.Message) bool { return len(m.Incidents) > 0 }}
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig+"notifiers:\n  storm: {window: 1s, immediate: 3}\n"),
				withNow(time.Now), withNotifier("log", slow), replicas(0))
			a, aReg, b, bReg := scaledReplicas(h, 2*time.Second, 5*time.Second)
			storm(h, 4, "p")

			aDone := make(chan struct{})
			go func() {
				defer close(aDone)
				for sending := false; !sending; {
					if _, err := a.RunOnce(context.Background()); err != nil {
						t.Error(err)
						return
					}
					select {
					case <-slow.started:
						sending = true // its RunOnce waited for the message
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()
			select {
			case <-slow.started:
			case <-aDone:
				t.Fatal("a stopped before it sent the storm's message")
			case <-time.After(10 * time.Second):
				t.Fatal("a never sent the storm's message")
			}
			lookWhile(t, b, aDone)
			var messages []notify.Message
			for _, m := range rec.sentTo("ann", "push") {
				if len(m.Incidents) > 0 {
					messages = append(messages, m)
				}
			}
			if len(messages) != 1 || len(rec.sentTo("ann", "push")) != 4 {
				t.Fatalf("ann got %d storm messages and %d pushes in all (%v), want one message after 3 pushes: b took the storm over while a's message was on its way",
					len(messages), len(rec.sentTo("ann", "push")), rec.lines(fixedNow))
			}
			if n := metric(t, bReg, "pagerd_dispatch_takeovers_total"); n != 0 {
				t.Errorf("b took %v claims over", n)
			}
			if n := metric(t, aReg, "pagerd_dispatch_lease_keeps_total", "result", "kept"); n < 1 {
				t.Errorf("a kept its claim's lease %v times, want at least once", n)
			}
		})
	}
}

// hungFirst is a provider whose first page hangs, its context ignored (a
// transport without context support whose own timeout failed, a bug),
// until release is closed; the rest go at once, recorded in rec.
type hungFirst struct {
	rec     *recorder
	once    sync.Once
	started chan struct{}
	release chan struct{}
}

func (s *hungFirst) Notify(ctx context.Context, m notify.Message) error {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.started)
		<-s.release
		return context.DeadlineExceeded
	}
	return s.rec.Notify(ctx, m)
}

// A replica whose worker hangs in a call that ignores the claim's context
// does not keep its claim for good: its lease is kept only while the
// claim's time (a lease and the send timeout) lasts, and then another
// replica takes the incident over and pages. Before, the hung worker's
// keeper moved the lease a lease ahead every half lease for as long as
// the call hung, and nobody was paged: the takeover the lease is there
// for never came.
func TestHungWorkerDoesNotKeepItsClaimForGood(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			hung := &hungFirst{rec: rec, started: make(chan struct{}), release: make(chan struct{})}
			h := newHarness(t, withStore(mk(t)), withNow(time.Now), withNotifier("log", hung))
			a, aReg, b, _ := scaledReplicas(h, 400*time.Millisecond, 600*time.Millisecond)
			id := fire(h)

			aDone := runOnceAside(t, a)
			defer func() { close(hung.release); <-aDone }()
			select {
			case <-hung.started:
			case <-time.After(10 * time.Second):
				t.Fatal("a never pushed")
			}
			start := time.Now()
			// a's claim ends 1 s in (lease and send timeout); a takeover
			// then is due at once. 5 s is ten leases past it.
			for len(rec.sentTo("ann", "push")) == 0 {
				if time.Since(start) > 5*time.Second {
					t.Fatalf("nobody pushed ann in %v while a's worker hung (a kept its claim's lease %v times)",
						time.Since(start).Round(time.Millisecond), metric(t, aReg, "pagerd_dispatch_lease_keeps_total", "result", "kept"))
				}
				time.Sleep(20 * time.Millisecond)
				if _, err := b.RunOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if got := rec.sentTo("ann", "push"); got[0].Incident != id {
				t.Fatalf("pushed %+v", got)
			}
		})
	}
}

// failingFinish refuses the first Finish with an error that is not the
// store being away (a bug, a record the store will not take).
type failingFinish struct {
	store.Store
	failed atomic.Bool
}

func (f *failingFinish) Finish(ctx context.Context, c store.Claim, inc *store.Incident, tl []store.Entry) error {
	if f.failed.CompareAndSwap(false, true) {
		return errors.New("a record the store will not take")
	}
	return f.Store.Finish(ctx, c, inc, tl)
}

// A claim whose work fails after its lease was kept comes due again when
// the lease it was claimed with ends, as the log line says ("it comes due
// again when the lease ends") and as it did before there were keeps, not a
// lease after its last keep: its step, and the rest of its incident's
// ladder, were up to a lease later than before. Here the first claim's
// page takes 900 ms of a 400 ms lease and its record fails: the claim is
// due at once, and a's same run claims it again and records the page
// (sent once). Before, it was due 300 ms after the run, which ended with
// the page unrecorded.
func TestFailedClaimKeptComesDueWhenItsClaimedLeaseEnds(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			slow := &slowFirst{rec: rec, hold: 900 * time.Millisecond, started: make(chan struct{})}
			st := &failingFinish{Store: mk(t)}
			h := newHarness(t, withStore(st), withNow(time.Now), withNotifier("log", slow))
			a, aReg := h.dispatcher(func(o *dispatch.Options) {
				o.Lease, o.SendTimeout, o.Now = 400*time.Millisecond, 1500*time.Millisecond, time.Now
			})
			id := fire(h)
			if _, err := a.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := metric(t, aReg, "pagerd_dispatch_lease_keeps_total", "result", "kept"); n < 1 {
				t.Fatalf("a kept its claim's lease %v times, want at least once", n)
			}
			if n := metric(t, aReg, "pagerd_dispatch_errors_total", "reason", "failed"); n != 1 {
				t.Fatalf("pagerd_dispatch_errors_total{reason=\"failed\"} = %v, want 1", n)
			}
			if n := metric(t, aReg, "pagerd_dispatch_claims_total"); n != 2 {
				at, _, _ := st.NextDue(context.Background())
				t.Fatalf("a claimed %v times in its run, want 2: the failed claim was not due again at once, but %v from now (its last keep's lease end)",
					n, time.Until(at).Round(time.Millisecond))
			}
			if got := rec.sentTo("ann", "push"); len(got) != 1 || got[0].Incident != id {
				t.Fatalf("ann was pushed %d times, want once", len(got))
			}
			pushedOnceInTimeline(t, h, id, "")
		})
	}
}

// scaledReplicas builds two replicas' dispatchers on h, a and b, with
// their registries, on the real clock with a lease and a send timeout
// scaled down.
func scaledReplicas(h *harness, lease, send time.Duration) (*dispatch.Dispatcher, *prometheus.Registry, *dispatch.Dispatcher, *prometheus.Registry) {
	scaled := func(o *dispatch.Options) { o.Lease, o.SendTimeout, o.Now = lease, send, time.Now }
	a, aReg := h.dispatcher(scaled)
	b, bReg := h.dispatcher(scaled)
	return a, aReg, b, bReg
}

// runOnceAside runs d.RunOnce on a goroutine of its own; the channel
// closes when it returns.
func runOnceAside(t *testing.T, d *dispatch.Dispatcher) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := d.RunOnce(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	return done
}

// lookWhile has replica b look for due work every 20 ms until running
// closes.
func lookWhile(t *testing.T, b *dispatch.Dispatcher, running <-chan struct{}) {
	t.Helper()
	for {
		select {
		case <-running:
			return
		case <-time.After(20 * time.Millisecond):
			if _, err := b.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// pushedOnceInTimeline fails t unless the incident's timeline has one
// page (notify) in it; why says which one, when it matters.
func pushedOnceInTimeline(t *testing.T, h *harness, id, why string) {
	t.Helper()
	tl := timeline(h, id)
	if n := len(slices.DeleteFunc(slices.Clone(tl), func(e store.Entry) bool { return e.Type != "notify" })); n != 1 {
		t.Errorf("the push is in the timeline %d times, want once%s: %+v", n, why, tl)
	}
}
