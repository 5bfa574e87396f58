package notify

import (
	"context"
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
