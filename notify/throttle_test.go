package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

type sink struct {
	mu   sync.Mutex
	msgs []Message
}

func (s *sink) Notify(_ context.Context, m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	return nil
}

func TestThrottleWaitsForItsTurn(t *testing.T) {
	out := &sink{}
	th := NewThrottle(out, 20, 1) // one page every 50ms
	start := time.Now()
	for i := 0; i < 5; i++ {
		if err := th.Notify(context.Background(), Message{}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 180*time.Millisecond {
		t.Fatalf("5 pages at 20/s took %v; the limit was not respected", d)
	}
}

// TestConcurrencyCapsPagesInFlight: with a cap of 2, a third page waits for
// one of the first two to finish, for half of what it has left (the rest
// is the provider call's), then is sent back (ErrOverRateLimit) rather
// than failed: it was never sent.
func TestConcurrencyCapsPagesInFlight(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	inflight, most := 0, 0
	slow := notifierFunc(func(ctx context.Context, m Message) error {
		mu.Lock()
		inflight++
		most = max(most, inflight)
		mu.Unlock()
		<-release
		mu.Lock()
		inflight--
		mu.Unlock()
		return nil
	})
	c := NewConcurrency(slow, 2)
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Notify(context.Background(), Message{}) }()
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		n := inflight
		mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pages in flight, want 2 waiting on the provider", n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Notify(ctx, Message{})
	if delay, over := OverRateLimitDelay(err); !over || IsTemporary(err) || delay != concurrencyRetry || ctx.Err() != nil {
		t.Fatalf("a page with no slot free within half its deadline: %v after %v, want ErrOverRateLimit before the deadline, back in %v",
			err, time.Since(start), concurrencyRetry)
	}
	close(release)
	wg.Wait()
	if most != 2 {
		t.Fatalf("%d pages in flight at once, want at most 2", most)
	}
}

type notifierFunc func(ctx context.Context, m Message) error

func (f notifierFunc) Notify(ctx context.Context, m Message) error { return f(ctx, m) }

// TestThrottleLetsGoOfTurnsNobodyCameBackFor: a page sent back for its
// turn and then acknowledged (or taken by another replica) never comes
// back; its kept turn is let go of within heldTurnGrace of its time, so
// the throttle does not keep one for every such page forever, while a
// turn still to come is kept.
func TestThrottleLetsGoOfTurnsNobodyCameBackFor(t *testing.T) {
	now := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	th := newThrottle(&sink{}, 1, 1, func() time.Time { return now })
	send := func(inc string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return th.Notify(ctx, Message{Incident: inc, User: "ann", Channel: "sms", Level: 1})
	}
	if err := send("first"); err != nil {
		t.Fatal(err)
	}
	if _, over := OverRateLimitDelay(send("gone")); !over {
		t.Fatal("second page at once: want it sent back for its turn")
	}
	if len(th.held) != 1 {
		t.Fatalf("%d turns kept, want the sent-back page's", len(th.held))
	}
	// Its turn (at 1s) passed a grace ago: the next page sent back lets it go.
	now = now.Add(time.Second + heldTurnGrace + time.Millisecond)
	if err := send("later"); err != nil {
		t.Fatal(err)
	}
	if _, over := OverRateLimitDelay(send("next")); !over {
		t.Fatal("page right after: want it sent back for its turn")
	}
	if _, ok := th.held["gone\x00ann\x00sms\x001"]; ok || len(th.held) != 1 {
		t.Fatalf("turns kept: %v; want only the page just sent back", th.held)
	}
}

// TestThrottleFirstPageTakesTheTurnOfLaterStepsUpToABound: one page a
// second, burst 1. Two later steps are sent back to their turns, 1s and
// 2s. Each new incident's first page after them takes the earliest turn
// of theirs, and they move one turn back each, in their order: the first
// ten first pages go at 1s to 10s. A later step gives way to at most
// maxGiveWay first pages, so the eleventh queues behind them (13s), and
// they go at 11s and 12s, in the order they came.
func TestThrottleFirstPageTakesTheTurnOfLaterStepsUpToABound(t *testing.T) {
	now := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	th := newThrottle(&sink{}, 1, 1, func() time.Time { return now })
	send := func(inc string, first bool) time.Duration {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := th.Notify(ctx, Message{Incident: inc, User: "ann", Channel: "sms", Level: 1, FirstPage: first})
		if err == nil {
			return 0
		}
		d, over := OverRateLimitDelay(err)
		if !over {
			t.Fatalf("%s: %v, want sent or sent back", inc, err)
		}
		return d
	}
	if d := send("now", false); d != 0 {
		t.Fatalf("first page of the burst sent back for %v", d)
	}
	for i, inc := range []string{"sms-1", "sms-2"} {
		if d := send(inc, false); d != time.Duration(i+1)*time.Second {
			t.Fatalf("%s sent back for %v, want its turn at %ds", inc, d, i+1)
		}
	}
	for i := range maxGiveWay {
		inc := fmt.Sprintf("new-%d", i)
		if d := send(inc, true); d != time.Duration(i+1)*time.Second {
			t.Fatalf("%s sent back for %v, want the turn at %ds, ahead of the later steps", inc, d, i+1)
		}
	}
	if d := send("new-late", true); d != maxGiveWay*time.Second+3*time.Second {
		t.Fatalf("first page after the later steps gave way %d times: sent back for %v, want behind them, %v", maxGiveWay, d, maxGiveWay*time.Second+3*time.Second)
	}
	for i, inc := range []string{"sms-1", "sms-2"} {
		if d := send(inc, false); d != maxGiveWay*time.Second+time.Duration(i+1)*time.Second {
			t.Fatalf("%s back: sent back for %v, want its turn %d turns later, at %v", inc, d, maxGiveWay, maxGiveWay*time.Second+time.Duration(i+1)*time.Second)
		}
	}
}

// TestThrottleFirstPageGoesBeforeAPageWaitingForItsTurn: twenty pages a
// second, burst 1; a later step waits in the throttle for its turn (50
// ms). A new incident's first page that comes meanwhile takes that turn,
// and the later step waits for the next one: it goes out right after.
func TestThrottleFirstPageGoesBeforeAPageWaitingForItsTurn(t *testing.T) {
	out := &sink{}
	th := NewThrottle(out, 20, 1)
	if err := th.Notify(context.Background(), Message{Incident: "burst"}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- th.Notify(context.Background(), Message{Incident: "later"}) }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		th.mu.Lock()
		waiting := len(th.behind)
		th.mu.Unlock()
		if waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the later step never waited for its turn")
		}
	}
	if err := th.Notify(context.Background(), Message{Incident: "first", FirstPage: true}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range out.msgs {
		got = append(got, m.Incident)
	}
	if fmt.Sprint(got) != "[burst first later]" {
		t.Fatalf("sent %v, want the first page before the later step that waited", got)
	}
}

// TestThrottleAPageSentBackComesBackOnceForTheFirstPagesThatTookItsTurn:
// one page a second, burst 1. A later step is sent back to its turn, 1s;
// a new incident's first page takes it, and the later step, back at 1s,
// is sent back to its new turn, 2s: once. It then keeps that turn, which
// it could not wait for, and goes at 2s: the next first page takes the
// turn after it, 3s. (Each first page took its turn again, a second
// before it came back: it came back and was sent back 10 times more, a
// claim and a write each.)
func TestThrottleAPageSentBackComesBackOnceForTheFirstPagesThatTookItsTurn(t *testing.T) {
	now := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	th := newThrottle(&sink{}, 1, 1, func() time.Time { return now })
	send := func(inc string, first bool) time.Duration {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := th.Notify(ctx, Message{Incident: inc, User: "ann", Channel: "sms", Level: 1, FirstPage: first})
		if err == nil {
			return 0
		}
		d, over := OverRateLimitDelay(err)
		if !over {
			t.Fatalf("%s: %v, want sent or sent back", inc, err)
		}
		return d
	}
	start := now
	if d := send("now", false); d != 0 {
		t.Fatalf("first page of the burst sent back for %v", d)
	}
	back := now.Add(send("sms-1", false))
	sentBack := 1
	var firsts []time.Duration
	for i := 0; ; i++ {
		if i > 2*maxGiveWay {
			t.Fatal("the later step never went out")
		}
		firsts = append(firsts, now.Add(send(fmt.Sprintf("new-%d", i), true)).Sub(start))
		now = back
		d := send("sms-1", false)
		if d == 0 {
			break
		}
		sentBack++
		back = now.Add(d)
	}
	if got := fmt.Sprint(sentBack, now.Sub(start), firsts); got != "2 2s [1s 3s]" {
		t.Fatalf("the later step sent back, went, and the first pages' turns: %s; want 2 2s [1s 3s]: sent back once for the first page that took its turn, then kept its new one", got)
	}
}

// TestThrottleAPageSentBackForFirstPagesStillGivesWayAsFarAsItCanWait: ten
// pages a second, burst 1. A later step sent back to its turn, 100 ms,
// gives way to three first pages and comes back at 100 ms with 250 ms to
// wait: its turn, 400 ms, is further, and it is sent back to it. First
// pages still take its turn while the one it moves to is one it can wait
// for when it comes back (two more: 600 ms); the next goes after it.
func TestThrottleAPageSentBackForFirstPagesStillGivesWayAsFarAsItCanWait(t *testing.T) {
	start := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	now := start
	th := newThrottle(&sink{}, 10, 1, func() time.Time { return now })
	send := func(inc string, first bool, timeout time.Duration) time.Duration {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err := th.Notify(ctx, Message{Incident: inc, User: "ann", Channel: "sms", Level: 1, FirstPage: first})
		if err == nil {
			return 0
		}
		d, over := OverRateLimitDelay(err)
		if !over {
			t.Fatalf("%s: %v, want sent or sent back", inc, err)
		}
		return d
	}
	const short, long = 20 * time.Millisecond, 500 * time.Millisecond
	if d := send("now", false, short); d != 0 {
		t.Fatalf("first page of the burst sent back for %v", d)
	}
	back := now.Add(send("sms-1", false, short))
	var firsts []time.Duration
	first := func(n int) {
		for range n {
			firsts = append(firsts, now.Add(send(fmt.Sprintf("new-%d", len(firsts)), true, short)).Sub(start))
		}
	}
	first(3)
	now = back
	if d := send("sms-1", false, long); d != 300*time.Millisecond {
		t.Fatalf("the later step back at its old turn: sent back for %v, want 300ms, to its turn after the three first pages", d)
	}
	back = now.Add(300 * time.Millisecond)
	first(3)
	now = back
	if d := send("sms-1", false, long); d != 0 {
		t.Fatalf("the later step back at 400ms: sent back again for %v, want it to wait for its turn, 600ms", d)
	}
	if got := fmt.Sprint(firsts); got != "[100ms 200ms 300ms 400ms 500ms 700ms]" {
		t.Fatalf("first pages' turns %s, want [100ms 200ms 300ms 400ms 500ms 700ms]: two more ahead of the later step, sent back once, the third after it", got)
	}
}

// TestThrottleAQuietServicesFirstPageGoesAheadOfAFloodsFirstPages: one
// page a second, burst 1. A flooding service's five new incidents' first
// pages are sent back to their turns, 1s to 5s. Another service's first
// page takes the first of them, 1s, and its second the next, 2s: a service
// with fewer first pages waiting goes first; the flood's move back a turn
// each, in their order. The flood's next first page queues behind them
// all (8s), and the quiet service's pages keep their order. (They queued
// behind the flood's, at 6s and 7s.)
func TestThrottleAQuietServicesFirstPageGoesAheadOfAFloodsFirstPages(t *testing.T) {
	start := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	now := start
	th := newThrottle(&sink{}, 1, 1, func() time.Time { return now })
	send := func(service, inc string) time.Duration {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := th.Notify(ctx, Message{Service: service, Incident: inc, User: "ann", Channel: "sms", Level: 1, FirstPage: true})
		if err == nil {
			return 0
		}
		d, over := OverRateLimitDelay(err)
		if !over {
			t.Fatalf("%s: %v, want sent or sent back", inc, err)
		}
		return d
	}
	var got []string
	for i := range 6 {
		svc, inc := "flood", fmt.Sprintf("flood-%d", i)
		if i == 0 {
			inc = "now"
		}
		got = append(got, fmt.Sprint(inc, "@", send(svc, inc)))
	}
	got = append(got, fmt.Sprint("quiet-1@", send("quiet", "quiet-1")), fmt.Sprint("quiet-2@", send("quiet", "quiet-2")),
		fmt.Sprint("flood-6@", send("flood", "flood-6")))
	want := "[now@0s flood-1@1s flood-2@2s flood-3@3s flood-4@4s flood-5@5s quiet-1@1s quiet-2@2s flood-6@8s]"
	if fmt.Sprint(got) != want {
		t.Fatalf("turns %v, want %s", got, want)
	}
	// The flood's pages come back at their old turns and are sent back to
	// their new ones, two turns on, in their order.
	for i := 1; i <= 5; i++ {
		now = start.Add(time.Duration(i) * time.Second)
		if d := send("flood", fmt.Sprintf("flood-%d", i)); d != 2*time.Second {
			t.Fatalf("flood-%d back at %ds: sent back for %v, want 2s", i, i, d)
		}
	}
}

// TestThrottleStormMessageCalledOffKeepsItsTurn: an alert-storm message
// waits for its turn behind a page, three pages queue behind it, and when
// its turn comes its question says no (some of its incidents were
// acknowledged meanwhile): the dispatcher makes it again without them at
// once, and the new message takes the turn that came, not a new one
// behind the three.
func TestThrottleStormMessageCalledOffKeepsItsTurn(t *testing.T) {
	out := &sink{}
	th := NewThrottle(out, 10, 1) // a turn every 100 ms
	queued := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			th.mu.Lock()
			got := len(th.behind)
			th.mu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d pages waiting for their turns, want %d", got, n)
			}
		}
	}
	if err := th.Notify(context.Background(), Message{Incident: "p0", User: "bob", Channel: "sms", Level: 1}); err != nil {
		t.Fatal(err)
	}
	storm := Message{Incident: "b1", Incidents: []string{"i1", "i2"}, User: "ann", Channel: "sms", Level: 1}
	calledOff := make(chan error, 1)
	go func() {
		calledOff <- th.Notify(WithStillDue(context.Background(), func(context.Context) bool { return false }), storm)
	}()
	queued(1)
	var wg sync.WaitGroup
	for i := 1; i <= 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := th.Notify(context.Background(), Message{Incident: fmt.Sprintf("q%d", i), User: "bob", Channel: "sms", Level: 1}); err != nil {
				t.Error(err)
			}
		}()
		queued(1 + i)
	}
	if err := <-calledOff; !errors.Is(err, ErrNoLongerDue) {
		t.Fatalf("the storm message's question said no: %v, want ErrNoLongerDue", err)
	}
	again := storm
	again.Incident, again.Incidents = "b2", []string{"i2"}
	if err := th.Notify(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	out.mu.Lock()
	defer out.mu.Unlock()
	var order []string
	for _, m := range out.msgs {
		order = append(order, m.Incident)
	}
	if i := slices.Index(order, "b2"); i < 0 || slices.Index(order, "q3") < i {
		t.Fatalf("sent in the order %v; want the storm message made again (b2) before the last page queued behind it (q3)", order)
	}
}
