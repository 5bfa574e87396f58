package notify

import (
	"context"
	"errors"
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
