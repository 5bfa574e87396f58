package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestChainBreakerCountsRetriedPages: the chain as the daemon builds it
// around a provider that keeps failing with 503s. Each page is tried three
// times; after five such pages the circuit opens and the next pages fail
// at once without calling the provider. (The retrier used to report every
// failure as final, so the breaker around it counted none: 30 provider
// calls for 10 pages, no circuit.)
func TestChainBreakerCountsRetriedPages(t *testing.T) {
	p := &switchable{down: true}
	n := Chain(p, ChainOptions{Attempts: 3, RetryBase: time.Millisecond, BreakerFailures: 5, BreakerCooldown: time.Minute})
	open := 0
	for i := 0; i < 10; i++ {
		err := n.Notify(context.Background(), Message{})
		switch {
		case errors.Is(err, ErrCircuitOpen):
			open++
		case err == nil || !IsTemporary(err):
			t.Fatalf("page %d: %v, want the provider's temporary error", i, err)
		}
	}
	if p.calls != 15 || open != 5 {
		t.Fatalf("%d provider calls, %d pages failed fast; want 15 calls (5 pages, 3 tries each) and 5 failed fast", p.calls, open)
	}
}

// TestChainOptionsOff: no retries and no breaker when the options say so.
func TestChainOptionsOff(t *testing.T) {
	p := &switchable{down: true}
	n := Chain(p, ChainOptions{Attempts: 1})
	for i := 0; i < 10; i++ {
		_ = n.Notify(context.Background(), Message{})
	}
	if p.calls != 10 {
		t.Fatalf("%d calls, want 10", p.calls)
	}
}

// TestChainSendsABurstBackForItsTurn: the chain as the daemon builds it,
// at Twilio's 1 SMS a second, and a burst of 12 pages, each with a send
// timeout too short to wait a second. The first goes; each of the others
// ends at once with ErrOverRateLimit (not temporary: not retried, not
// counted by the breaker, which stays closed) and the delay until its
// turn, one second after the one before. A page arriving later queues
// behind them. Sent again when their turns come, every page goes, in the
// order they came. (The throttle used to fail them, temporary: retried
// the same way, recorded failed by the dispatcher, never sent.)
func TestChainSendsABurstBackForItsTurn(t *testing.T) {
	start := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	now := start // the test's clock: every send is on this goroutine
	out := &sink{}
	n := Chain(out, ChainOptions{Attempts: 3, RetryBase: time.Millisecond, PerSecond: 1, Burst: 1,
		BreakerFailures: 5, BreakerCooldown: time.Minute, Now: func() time.Time { return now }})
	send := func(user string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return n.Notify(ctx, Message{Incident: "01INC" + user, User: user, Channel: "sms", Level: 1})
	}
	turns := map[string]time.Time{}
	var users []string
	for i := 0; i < 12; i++ {
		user := fmt.Sprintf("u%02d", i)
		users = append(users, user)
		err := send(user)
		delay, over := OverRateLimitDelay(err)
		switch {
		case i == 0 && err != nil:
			t.Fatalf("first page: %v", err)
		case i == 0:
		case !over || !errors.Is(err, ErrOverRateLimit) || IsTemporary(err) || errors.Is(err, ErrCircuitOpen):
			t.Fatalf("page %d: %v, want ErrOverRateLimit, not temporary", i, err)
		case delay != time.Duration(i)*time.Second:
			t.Fatalf("page %d: its turn in %v, want %ds", i, delay, i)
		}
		turns[user] = start.Add(delay)
	}
	now = start.Add(5 * time.Second)
	if delay, _ := OverRateLimitDelay(send("late")); delay != 7*time.Second {
		t.Fatalf("a page at 5s: its turn in %v, want 7s (at 12s, behind the burst)", delay)
	}
	turns["late"] = start.Add(12 * time.Second)
	users = append(users, "late")
	for _, u := range users[1:] {
		now = turns[u]
		if err := send(u); err != nil {
			t.Fatalf("%s at its turn (%v): %v", u, turns[u].Sub(start), err)
		}
	}
	var got []string
	for _, m := range out.msgs {
		got = append(got, m.User)
	}
	if !slices.Equal(got, users) {
		t.Fatalf("sent %v, want all of %v in that order", got, users)
	}
}
