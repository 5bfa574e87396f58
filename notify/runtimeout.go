package notify

import (
	"context"
	"sync"
	"time"
)

// WithRunningTimeout is context.WithTimeout(ctx, d) for a provider's
// answer, but for the time this process did not run (stall.go): when d
// has passed and the process stalled meanwhile (stopped, its VM paused,
// starved of CPU for a second or more), the deadline is put off by the
// stall. When it does end, the context's cause is
// context.DeadlineExceeded, as WithTimeout's (net/http answers with the
// cause); it has no Deadline.
//
// A timeout counted on the wall clock ended as the process ran again,
// before a request on its way could go out: Go's transport wrote it as
// the deadline fired, told the trace it was written whole, and closed the
// connection, and the receiver never had it. Written, the page was
// recorded "may have been sent", not tried again, and nobody got it (the
// fault soak's one missed page: a replica stopped 1.4 s as its SMS
// started, on a 1 s timeout). Counting only the time the process ran,
// the request goes out when it runs again and the provider has its whole
// time to answer; the claim's own time (its lease and the send timeout)
// still bounds the page on the wall clock.
func WithRunningTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	watchStalls()
	return withRunningTimeout(ctx, d, notRunning)
}

// notRunning is stalledTotal; a test stands a stall in for it.
var notRunning = stalledTotal

// withRunningTimeout is WithRunningTimeout with lost, the time the process
// has not run since it started (cumulative, for a test to set).
func withRunningTimeout(ctx context.Context, d time.Duration, lost func() time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := &runningTimeout{d: d, start: time.Now(), lost: lost, lost0: lost(), cancel: cancel}
	t.mu.Lock()
	t.timer = time.AfterFunc(d, t.fire)
	t.mu.Unlock()
	ctx = context.WithValue(ctx, runningTimeoutKey{}, t)
	return ctx, func() {
		t.mu.Lock()
		t.done = true
		t.timer.Stop()
		t.mu.Unlock()
		cancel(context.Canceled)
	}
}

type runningTimeout struct {
	d      time.Duration
	start  time.Time
	lost   func() time.Duration
	lost0  time.Duration
	cancel context.CancelCauseFunc
	mu     sync.Mutex
	timer  *time.Timer
	done   bool
	// held is the running time the send's own question took
	// (holdTimeout), holding when one being asked began (zero: none is)
	// and holdLost lost's answer then.
	held     time.Duration
	holding  time.Time
	holdLost time.Duration
}

type runningTimeoutKey struct{}

// holdTimeout holds ctx's running timeout (WithRunningTimeout), if it has
// one, until the returned func is called: the time a page's request takes
// to ask whether it is still due (NewTransport, after a stall) is not the
// provider's. Counted, a store slow to answer ate the request's timeout,
// which ended before a byte went out, and the page failed untried (the
// fault soak's webhook timeout is 1 s, and a replica's questions after a
// stop took 2 s).
func holdTimeout(ctx context.Context) (release func()) {
	t, _ := ctx.Value(runningTimeoutKey{}).(*runningTimeout)
	if t == nil {
		return func() {}
	}
	t.mu.Lock()
	t.holding, t.holdLost = time.Now(), t.lost()
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		// A stall while the question was asked is taken off once, as
		// lost time: counted as held too, it put the timeout off twice.
		if q := time.Since(t.holding) - (t.lost() - t.holdLost); q > 0 {
			t.held += q
		}
		t.holding = time.Time{}
		if !t.done {
			t.timer.Reset(0) // fire works out what is left
		}
		t.mu.Unlock()
	}
}

// fire ends the context once d of running time has passed since start,
// and otherwise waits again for what is left of it.
func (t *runningTimeout) fire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return
	}
	if !t.holding.IsZero() {
		return // the question's release looks again
	}
	ran := time.Since(t.start) - (t.lost() - t.lost0) - t.held
	if left := t.d - ran; left > 0 {
		t.timer.Reset(left)
		return
	}
	t.done = true
	t.cancel(context.DeadlineExceeded)
}
