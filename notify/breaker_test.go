package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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
	b.stalled = func(time.Duration) time.Duration {
		if stalled {
			return 4 * time.Second
		}
		return 0
	}
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
// after a mark, and for how long, when two of its ticks were a stallGap or
// more apart after it, and, before it has ticked again, when its last tick
// is a stallGap or more old; not otherwise. It counts each stall once.
func TestStallWatchNoticesAStall(t *testing.T) {
	var w stallWatch
	s := time.Second
	for at := 100 * time.Millisecond; at <= 3*s; at += 100 * time.Millisecond {
		w.ticked(at-100*time.Millisecond, at)
	}
	if d := w.since(s, 3*s+50*time.Millisecond); d != 0 {
		t.Fatalf("a stall of %v said with ticks every 100 ms", d)
	}
	// Stopped from 3 s to 7 s: the page's goroutine asks before the
	// watch ticks again.
	if d := w.since(2*s, 7*s); d != 4*s {
		t.Fatalf("the watch 4 s without a tick: stall of %v said, want 4s", d)
	}
	w.ticked(3*s, 7*s)
	if d := w.since(2*s, 7*s+10*time.Millisecond); d != 4*s {
		t.Fatalf("a 4 s stall that ended after the mark: %v said", d)
	}
	if d := w.since(7*s+time.Millisecond, 7*s+50*time.Millisecond); d != 0 {
		t.Fatalf("a stall that ended before the mark: %v said", d)
	}
	for at := 7*s + 100*time.Millisecond; at <= 8*s; at += 100 * time.Millisecond {
		w.ticked(at-100*time.Millisecond, at)
	}
	if d := w.since(7*s+500*time.Millisecond, 8*s+50*time.Millisecond); d != 0 {
		t.Fatalf("a stall of %v said with none since the mark", d)
	}
	w.ticked(8*s, 9*s+500*time.Millisecond)
	if n, total := w.count.Load(), time.Duration(w.total.Load()); n != 2 || total != 5300*time.Millisecond {
		t.Fatalf("%d stalls of %v in all counted, want 2 of 5.3s (gaps of 4s and 1.5s, less a tick each)", n, total)
	}
}

// watchLog is a BreakerWatch that writes down what it is told.
type watchLog []string

func (w *watchLog) Opened(circuit string, failures int, test bool, err error) {
	if test {
		*w = append(*w, fmt.Sprintf("opened %s again, its test failed: %v", circuit, err))
		return
	}
	*w = append(*w, fmt.Sprintf("opened %s after %d: %v", circuit, failures, err))
}
func (w *watchLog) Closed(circuit string) { *w = append(*w, "closed "+circuit) }
func (w *watchLog) StallFailure(circuit string, stall time.Duration, err error) {
	*w = append(*w, fmt.Sprintf("stall %s %v: %v", circuit, stall, err))
}

// gatedFailure fails every page with a 503 once its gate is opened.
type gatedFailure struct {
	gate    chan struct{}
	started chan struct{}
}

func (g *gatedFailure) Notify(context.Context, Message) error {
	g.started <- struct{}{}
	<-g.gate
	return Temporary(errors.New("503"))
}

// TestBreakerTellsItsWatch: a circuit opening stops a provider's pages for
// its cooldown, and a failure not counted for a stall leaves a provider
// that did fail trusted; neither was told anywhere but in each page's
// failure. The watch (the daemon's log and metrics) is told each opening
// once (not again by a page that failed beside it), a failed test, a
// test that closes it, and each failure left out for a stall, with its
// length; a PagerDuty routing key is named by its last four characters.
func TestBreakerTellsItsWatch(t *testing.T) {
	p := &switchable{down: true}
	var w watchLog
	b := Chain(p, ChainOptions{BreakerFailures: 2, BreakerCooldown: time.Minute, BreakerByAddress: true, BreakerWatch: &w}).(*Breaker)
	now := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	b.now = func() time.Time { return now }
	stall := time.Duration(0)
	b.stalled = func(time.Duration) time.Duration { return stall }
	const key = "R0SERVICE0KEY000000000000000A1B2"
	page := func() error { return b.Notify(context.Background(), Message{Address: key}) }

	stall = 3700 * time.Millisecond
	_ = page()
	stall = 0
	_ = page()
	_ = page()
	if err := page(); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("after two counted failures: %v, want the circuit open", err)
	}
	now = now.Add(time.Minute)
	_ = page() // the test fails: open again
	now = now.Add(time.Minute)
	p.down = false
	if err := page(); err != nil {
		t.Fatalf("test page to a provider fixed: %v", err)
	}
	_ = page()

	// Three pages on their way when the circuit was closed, all failing:
	// the one that opens it is told, the two after it are not.
	g := &gatedFailure{gate: make(chan struct{}), started: make(chan struct{}, 3)}
	var w2 watchLog
	b2 := Chain(g, ChainOptions{BreakerFailures: 2, BreakerCooldown: time.Minute, BreakerWatch: &w2}).(*Breaker)
	b2.stalled = func(time.Duration) time.Duration { return 0 }
	done := make(chan error, 3)
	for range 3 {
		go func() { done <- b2.Notify(context.Background(), Message{Channel: "sms"}) }()
		<-g.started
	}
	close(g.gate)
	for range 3 {
		<-done
	}
	if len(w2) != 1 || w2[0] != "opened sms after 2: 503" {
		t.Fatalf("three pages failing at once: the watch was told %q, want one opening", w2)
	}

	want := []string{
		"stall address …A1B2 3.7s: 503",
		"opened address …A1B2 after 2: 503",
		"opened address …A1B2 again, its test failed: 503",
		"closed address …A1B2",
	}
	if strings.Join(w, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the watch was told:\n%s\nwant:\n%s", strings.Join(w, "\n"), strings.Join(want, "\n"))
	}
}

// answerWhenTold holds the pages of the incidents in waits until their
// answer is sent there; every other page fails at once with a 503.
type answerWhenTold struct {
	mu      sync.Mutex
	waits   map[string]chan error
	started chan string
}

func (a *answerWhenTold) Notify(_ context.Context, m Message) error {
	a.mu.Lock()
	ch := a.waits[m.Incident]
	a.mu.Unlock()
	if ch == nil {
		return Temporary(errors.New("503"))
	}
	a.started <- m.Incident
	return <-ch
}

// TestBreakerPageOnItsWayAcrossTheCooldownIsNotItsTest: a page that went
// into the breaker while its circuit was closed (waiting its turn at the
// provider's concurrency cap, retried: up to the dispatcher's 20 s send
// timeout, past a cooldown set shorter) failed after the circuit had
// opened and its cooldown ended, while the test page was on its way. It
// was taken for the failed test: the watch logged "circuit open again:
// its test page failed" and pagerd_breaker_opened_total counted an
// opening that did not happen, and when the test page then went out the
// circuit closed with nothing said: the log showed the circuit open, and
// open again, never closed, while pages went out through it. Likewise a
// page on its way that went out during the cooldown closed the circuit
// unsaid. Only the test's own end is the test's; any page that goes out
// closes an open circuit, and says so.
func TestBreakerPageOnItsWayAcrossTheCooldownIsNotItsTest(t *testing.T) {
	for _, c := range []struct {
		name      string
		stale     error // what the page let in while closed is answered
		afterTest bool  // answered while the test is on its way, not in the cooldown
		want      []string
	}{
		{"failed during the test", Temporary(errors.New("503")), true, []string{"opened sms after 2: 503", "closed sms"}},
		{"went out during the cooldown", nil, false, []string{"opened sms after 2: 503", "closed sms"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &answerWhenTold{waits: map[string]chan error{"stale": make(chan error), "test": make(chan error)}, started: make(chan string, 2)}
			var w watchLog
			b := Chain(p, ChainOptions{BreakerFailures: 2, BreakerCooldown: 10 * time.Second, BreakerWatch: &w}).(*Breaker)
			var mu sync.Mutex
			now := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
			b.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			b.stalled = func(time.Duration) time.Duration { return 0 }
			page := func(inc string) error { return b.Notify(context.Background(), Message{Channel: "sms", Incident: inc}) }

			staleDone := make(chan error, 1)
			go func() { staleDone <- page("stale") }() // let in while closed
			<-p.started
			_ = page("a")
			_ = page("b") // opens it
			if err := page("c"); !errors.Is(err, ErrCircuitOpen) {
				t.Fatalf("after two failures: %v, want the circuit open", err)
			}
			if !c.afterTest {
				p.waits["stale"] <- c.stale
				<-staleDone
			}
			mu.Lock()
			now = now.Add(10 * time.Second)
			mu.Unlock()
			testDone := make(chan error, 1)
			go func() { testDone <- page("test") }()
			if c.afterTest {
				<-p.started
				p.waits["stale"] <- c.stale
				<-staleDone
				p.waits["test"] <- nil
				if err := <-testDone; err != nil {
					t.Fatal(err)
				}
			} else {
				<-p.started // closed: a page like any other
				p.waits["test"] <- nil
				if err := <-testDone; err != nil {
					t.Fatal(err)
				}
			}
			if err := page("after"); errors.Is(err, ErrCircuitOpen) {
				t.Fatalf("after a page went out: %v, want the circuit closed", err)
			}
			if strings.Join(w, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("the watch was told:\n%s\nwant:\n%s", strings.Join(w, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestBreakerPageOnItsWayFailingInTheCooldownDoesNotLengthenIt: a page let
// in while its circuit was closed (waiting at the provider's concurrency
// cap, retried) failed 5 s into the cooldown the failures beside it had
// opened. Its failure set the circuit's end a whole cooldown from then:
// the provider's test came 5 s late, and for those 5 s every page to it
// failed at once, never tried, the ladder's next channel paged in its
// place. That page says nothing the failures that opened the circuit did
// not: the cooldown ends when it was set to, and the test goes then.
func TestBreakerPageOnItsWayFailingInTheCooldownDoesNotLengthenIt(t *testing.T) {
	p := &answerWhenTold{waits: map[string]chan error{"stale": make(chan error), "test": make(chan error)}, started: make(chan string, 2)}
	var w watchLog
	b := Chain(p, ChainOptions{BreakerFailures: 2, BreakerCooldown: 10 * time.Second, BreakerWatch: &w}).(*Breaker)
	var mu sync.Mutex
	now := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	b.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	b.stalled = func(time.Duration) time.Duration { return 0 }
	page := func(inc string) error { return b.Notify(context.Background(), Message{Channel: "sms", Incident: inc}) }
	later := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	staleDone := make(chan error, 1)
	go func() { staleDone <- page("stale") }() // let in while closed
	<-p.started
	_ = page("a")
	_ = page("b") // opens it until 06:00:10
	later(5 * time.Second)
	p.waits["stale"] <- Temporary(errors.New("503"))
	<-staleDone
	if err := page("c"); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("in the cooldown: %v, want the circuit open", err)
	}
	later(5 * time.Second) // the cooldown's end as the failures set it
	testDone := make(chan error, 1)
	go func() { testDone <- page("test") }()
	select {
	case inc := <-p.started:
		if inc != "test" {
			t.Fatalf("%s started, want the test", inc)
		}
	case err := <-testDone:
		t.Fatalf("the page at the cooldown's end: %v, want it tried as the circuit's test (the failure of a page let in before the circuit opened lengthened the cooldown)", err)
	}
	p.waits["test"] <- nil
	if err := <-testDone; err != nil {
		t.Fatal(err)
	}
	if want := "opened sms after 2: 503\nclosed sms"; strings.Join(w, "\n") != want {
		t.Fatalf("the watch was told:\n%s\nwant:\n%s", strings.Join(w, "\n"), want)
	}
}
