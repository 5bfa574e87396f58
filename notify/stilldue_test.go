package notify

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// dueCheck is a WithStillDue check that answers due and counts its calls.
type dueCheck struct {
	due   atomic.Bool
	calls atomic.Int32
}

func newDueCheck(due bool) *dueCheck {
	c := &dueCheck{}
	c.due.Store(due)
	return c
}

func (c *dueCheck) ctx() context.Context {
	return WithStillDue(context.Background(), func(context.Context) bool {
		c.calls.Add(1)
		return c.due.Load()
	})
}

// TestChainStopsARetryNoLongerDue: the chain as the daemon builds it,
// around a provider that answers 503. The first try does not ask (no store
// read on the hot path); before the second, the check says the page was
// acknowledged: the send ends with ErrNoLongerDue after one provider call,
// and the breaker does not count it, so five such pages open no circuit.
// While the page is still due, every try is made.
func TestChainStopsARetryNoLongerDue(t *testing.T) {
	p := &switchable{down: true}
	n := Chain(p, ChainOptions{Attempts: 3, RetryBase: time.Millisecond, BreakerFailures: 5, BreakerCooldown: time.Minute})
	gone := newDueCheck(false)
	for i := 0; i < 6; i++ {
		err := n.Notify(gone.ctx(), Message{})
		if !errors.Is(err, ErrNoLongerDue) || IsTemporary(err) {
			t.Fatalf("page %d: %v, want ErrNoLongerDue, not temporary", i, err)
		}
	}
	if p.calls != 6 || gone.calls.Load() != 6 {
		t.Fatalf("%d provider calls, %d checks; want 6 and 6 (one try, one check a page)", p.calls, gone.calls.Load())
	}
	p.calls = 0
	due := newDueCheck(true)
	if err := n.Notify(due.ctx(), Message{}); errors.Is(err, ErrNoLongerDue) || !IsTemporary(err) {
		t.Fatalf("still due: %v, want the provider's failure", err)
	}
	if p.calls != 3 || due.calls.Load() != 2 {
		t.Fatalf("still due: %d provider calls, %d checks; want 3 tries and 2 checks", p.calls, due.calls.Load())
	}
	p.down = false
	first := newDueCheck(false)
	if err := n.Notify(first.ctx(), Message{}); err != nil || first.calls.Load() != 0 {
		t.Fatalf("a first try that works: %v, %d checks; want it sent without a check", err, first.calls.Load())
	}
}

// TestThrottleAsksAfterWaiting: a page that waited for the rate limit asks
// whether it is still due, and is not sent when it is not; one that did
// not wait does not ask.
func TestThrottleAsksAfterWaiting(t *testing.T) {
	out := &sink{}
	th := NewThrottle(out, 20, 1) // one page every 50ms
	c := newDueCheck(false)
	if err := th.Notify(c.ctx(), Message{User: "first"}); err != nil || c.calls.Load() != 0 {
		t.Fatalf("first page: %v, %d checks; want sent unasked", err, c.calls.Load())
	}
	if err := th.Notify(c.ctx(), Message{User: "waited"}); !errors.Is(err, ErrNoLongerDue) || c.calls.Load() != 1 {
		t.Fatalf("page that waited: %v, %d checks; want ErrNoLongerDue after one check", err, c.calls.Load())
	}
	c.due.Store(true)
	if err := th.Notify(c.ctx(), Message{User: "due"}); err != nil {
		t.Fatal(err)
	}
	if len(out.msgs) != 2 || out.msgs[1].User != "due" {
		t.Fatalf("sent %v, want first and due", out.msgs)
	}
}

// TestThrottleSendsBackATurnPastItsDeadline: a page whose turn is further
// off than half of what it has left (the other half is the provider
// call's) ends at once with ErrOverRateLimit and the delay until its turn,
// not temporary (rate.Limiter.Wait failed it, temporary, and it was
// retried the same way and recorded failed). A page with no deadline
// waits.
func TestThrottleSendsBackATurnPastItsDeadline(t *testing.T) {
	th := NewThrottle(&sink{}, 0.001, 1)
	_ = th.Notify(context.Background(), Message{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := th.Notify(ctx, Message{})
	delay, over := OverRateLimitDelay(err)
	if !over || IsTemporary(err) || delay < 999*time.Second || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("%v (turn in %v) after %v, want ErrOverRateLimit at once, in about 1000s", err, delay, time.Since(start))
	}
	fast := NewThrottle(&sink{}, 20, 1) // one page every 50ms
	_ = fast.Notify(context.Background(), Message{})
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fast.Notify(ctx, Message{}); err != nil {
		t.Fatalf("a turn 50ms off with 10s left: %v, want it waited for and sent", err)
	}
}

// TestConcurrencyAsksAfterWaiting: a page that waited for a connection
// asks whether it is still due and gives the slot back when it is not.
func TestConcurrencyAsksAfterWaiting(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	var sent atomic.Int32
	prov := notifierFunc(func(ctx context.Context, m Message) error {
		sent.Add(1)
		entered <- struct{}{}
		if m.User == "slow" {
			<-release
		}
		return nil
	})
	cc := NewConcurrency(prov, 1)
	c := newDueCheck(false)
	slow := make(chan error, 1)
	go func() { slow <- cc.Notify(c.ctx(), Message{User: "slow"}) }()
	<-entered
	waited := make(chan error, 1)
	blocked := &doneWatch{Context: c.ctx(), asked: make(chan struct{})}
	go func() { waited <- cc.Notify(blocked, Message{User: "waited"}) }()
	<-blocked.asked // the second page waits for the only slot
	close(release)
	if err := <-waited; !errors.Is(err, ErrNoLongerDue) {
		t.Fatalf("page that waited: %v, want ErrNoLongerDue", err)
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	if sent.Load() != 1 || c.calls.Load() != 1 {
		t.Fatalf("%d sent, %d checks; want only the first sent, and one check", sent.Load(), c.calls.Load())
	}
	if err := cc.Notify(c.ctx(), Message{}); err != nil || len(cc.slots) != 0 {
		t.Fatalf("after: %v, %d slots taken; want the slot given back", err, len(cc.slots))
	}
}

// doneWatch is a context that says when a select first asks for Done: the
// caller is then waiting.
type doneWatch struct {
	context.Context
	once  sync.Once
	asked chan struct{}
}

func (w *doneWatch) Done() <-chan struct{} {
	w.once.Do(func() { close(w.asked) })
	return w.Context.Done()
}
