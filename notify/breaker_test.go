package notify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type switchable struct {
	down  bool
	calls int
}

func (s *switchable) Notify(context.Context, Message) error {
	s.calls++
	if s.down {
		return Temporary(errors.New("503"))
	}
	return nil
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	p := &switchable{down: true}
	b := NewBreaker(p, 3, time.Minute)
	now := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	b.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if err := b.Notify(context.Background(), Message{}); err == nil || errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("try %d: %v", i, err)
		}
	}
	// Open: fail fast without calling the provider.
	if err := b.Notify(context.Background(), Message{}); !errors.Is(err, ErrCircuitOpen) || p.calls != 3 {
		t.Fatalf("open circuit: %v after %d calls", err, p.calls)
	}
	// After the cooldown one page probes; the provider is still down: open again.
	now = now.Add(time.Minute)
	if err := b.Notify(context.Background(), Message{}); err == nil || errors.Is(err, ErrCircuitOpen) || p.calls != 4 {
		t.Fatalf("probe: %v after %d calls", err, p.calls)
	}
	if err := b.Notify(context.Background(), Message{}); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("after a failed probe: %v", err)
	}
	// The provider recovers: the next probe closes the circuit.
	p.down = false
	now = now.Add(time.Minute)
	for i := 0; i < 3; i++ {
		if err := b.Notify(context.Background(), Message{}); err != nil {
			t.Fatalf("after recovery, page %d: %v", i, err)
		}
	}
	if p.calls != 7 { // 3 failures, 1 failed probe, 3 after recovery
		t.Fatalf("%d calls", p.calls)
	}
}

func TestBreakerOff(t *testing.T) {
	p := &switchable{down: true}
	b := NewBreaker(p, 0, time.Minute)
	for i := 0; i < 10; i++ {
		_ = b.Notify(context.Background(), Message{})
	}
	if p.calls != 10 {
		t.Fatalf("%d calls", p.calls)
	}
}

type refusing struct{ calls int }

func (r *refusing) Notify(_ context.Context, m Message) error {
	r.calls++
	if strings.Contains(m.Address, "broken") {
		return Temporary(errors.New("503"))
	}
	if m.Address == "+1bad" {
		return errors.New("not a valid number")
	}
	return nil
}

// TestBreakerCircuitsAreNarrow: one person's broken webhook host opens only
// that host's circuit, and refusals that are about the page itself (a bad
// number) never open a circuit.
func TestBreakerCircuitsAreNarrow(t *testing.T) {
	p := &refusing{}
	b := NewBreaker(p, 2, time.Minute)
	for i := 0; i < 3; i++ {
		_ = b.Notify(context.Background(), Message{Address: "https://broken.example/hook"})
	}
	if err := b.Notify(context.Background(), Message{Address: "https://broken.example/hook"}); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("the broken host's circuit did not open: %v", err)
	}
	if err := b.Notify(context.Background(), Message{Address: "https://fine.example/hook"}); err != nil {
		t.Fatalf("another host's page failed: %v", err)
	}
	for i := 0; i < 5; i++ {
		_ = b.Notify(context.Background(), Message{Address: "+1bad"})
	}
	if err := b.Notify(context.Background(), Message{Address: "+15555550100"}); err != nil {
		t.Fatalf("bad numbers opened the provider's circuit: %v", err)
	}
}

// lateAnswer takes every page and answers after the client gave up: each
// page may have been sent.
type lateAnswer struct{ calls int }

func (l *lateAnswer) Notify(context.Context, Message) error {
	l.calls++
	return MaybeSent(errors.New("timeout awaiting the answer"))
}

// TestBreakerCountsPagesThatMayHaveBeenSent: a provider that takes pages
// and never answers in time is failing, though the pages are not retried
// (they may have gone out): its circuit opens like that of one answering
// 503, so later pages move on to the next step at once instead of each
// waiting out the timeout.
func TestBreakerCountsPagesThatMayHaveBeenSent(t *testing.T) {
	p := &lateAnswer{}
	b := NewBreaker(p, 3, time.Minute)
	for i := 0; i < 3; i++ {
		if err := b.Notify(context.Background(), Message{}); !errors.Is(err, ErrMaybeSent) {
			t.Fatalf("page %d: %v, want may have been sent", i, err)
		}
	}
	if err := b.Notify(context.Background(), Message{}); !errors.Is(err, ErrCircuitOpen) || p.calls != 3 {
		t.Fatalf("after 3 late answers: %v after %d calls, want the circuit open after 3", err, p.calls)
	}
}

// panicky is a transport that panics while panics is set, and fails as
// temporary otherwise.
type panicky struct {
	panics bool
	calls  int
}

func (p *panicky) Notify(context.Context, Message) error {
	p.calls++
	if p.panics {
		panic("an answer it cannot parse")
	}
	return Temporary(errors.New("503"))
}

// TestBreakerTestPageThatPanicsEndsTheTest: the page that tests a
// provider after the cooldown panics (the dispatcher recovers it). The
// circuit stayed "testing" for good, and every page of the transport
// failed at once with the provider never asked again. Now the panic
// counts as a failure: the circuit opens for another cooldown, then
// tests again.
func TestBreakerTestPageThatPanicsEndsTheTest(t *testing.T) {
	p := &panicky{}
	b := NewBreaker(p, 2, time.Minute)
	now := time.Now()
	b.now = func() time.Time { return now }
	for range 2 {
		_ = b.Notify(context.Background(), Message{})
	}
	now = now.Add(2 * time.Minute)
	p.panics = true
	func() {
		defer func() { _ = recover() }() // as dispatch.send does
		_ = b.Notify(context.Background(), Message{})
	}()
	p.panics = false
	if err := b.Notify(context.Background(), Message{}); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("right after a test page that panicked: %v, want the circuit open for its cooldown", err)
	}
	now = now.Add(2 * time.Minute)
	calls := p.calls
	if err := b.Notify(context.Background(), Message{}); errors.Is(err, ErrCircuitOpen) || p.calls != calls+1 {
		t.Fatalf("a cooldown after a test page that panicked: %v, provider asked %d times; want it tested again", err, p.calls-calls)
	}
}

// TestBreakerDoesNotCountFailuresOfAStall: this process was stopped (a
// SIGSTOP, a VM paused) while pages were on their way; their answers came
// in time but waited in the socket while their deadlines passed, and
// they failed as may have been sent when it ran again. Counted, five of
// them opened the circuit of a healthy receiver, and every page to it for
// the cooldown failed at once, never tried (the fault soak). A failure
// during which the process stalled is not counted; one after is.
func TestBreakerDoesNotCountFailuresOfAStall(t *testing.T) {
	p := &lateAnswer{}
	b := NewBreaker(p, 3, time.Minute)
	stalled := true
	b.stalled = func(time.Duration) bool { return stalled }
	for i := 0; i < 5; i++ {
		if err := b.Notify(context.Background(), Message{}); !errors.Is(err, ErrMaybeSent) {
			t.Fatalf("page %d during a stall: %v, want it tried (may have been sent), the circuit closed", i, err)
		}
	}
	stalled = false
	for i := 0; i < 3; i++ {
		if err := b.Notify(context.Background(), Message{}); !errors.Is(err, ErrMaybeSent) {
			t.Fatalf("page %d after the stall: %v", i, err)
		}
	}
	if err := b.Notify(context.Background(), Message{}); !errors.Is(err, ErrCircuitOpen) || p.calls != 8 {
		t.Fatalf("after 3 late answers with no stall: %v after %d calls, want the circuit open", err, p.calls)
	}
}

// TestStallWatchNoticesAStall: the watch says the process stalled
// after a mark when two of its ticks were a stallGap or more apart after
// it, and, before it has ticked again, when its last tick is a stallGap or
// more old; not otherwise.
func TestStallWatchNoticesAStall(t *testing.T) {
	var w stallWatch
	s := time.Second
	for at := 100 * time.Millisecond; at <= 3*s; at += 100 * time.Millisecond {
		w.ticked(at-100*time.Millisecond, at)
	}
	if w.since(s, 3*s+50*time.Millisecond) {
		t.Fatal("a stall said with ticks every 100 ms")
	}
	// Stopped from 3 s to 7 s: the page's goroutine asks before the
	// watch ticks again.
	if !w.since(2*s, 7*s) {
		t.Fatal("the watch 4 s without a tick: no stall said")
	}
	w.ticked(3*s, 7*s)
	if !w.since(2*s, 7*s+10*time.Millisecond) {
		t.Fatal("a stall that ended after the mark: not said")
	}
	if w.since(7*s+time.Millisecond, 7*s+50*time.Millisecond) {
		t.Fatal("a stall that ended before the mark: said")
	}
	for at := 7*s + 100*time.Millisecond; at <= 8*s; at += 100 * time.Millisecond {
		w.ticked(at-100*time.Millisecond, at)
	}
	if w.since(7*s+500*time.Millisecond, 8*s+50*time.Millisecond) {
		t.Fatal("a stall said with none since the mark")
	}
}
