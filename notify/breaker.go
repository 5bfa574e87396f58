package notify

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrCircuitOpen is returned while a provider's circuit is open: it failed
// too often in a row, so pages to it fail at once (the ladder moves on to
// the next step) instead of each waiting out timeouts and retries.
var ErrCircuitOpen = errors.New("circuit open: the provider failed too many times in a row; not trying it for now")

// Breaker wraps a provider with a circuit breaker: after Failures
// consecutive failures it opens for Cooldown, then lets one page through to
// test the provider; success closes it, failure opens it again.
type Breaker struct {
	next     Notifier
	failures int
	cooldown time.Duration
	now      func() time.Time

	mu        sync.Mutex
	streak    int
	openUntil time.Time
	probing   bool
}

var _ Notifier = (*Breaker)(nil)

// NewBreaker wraps next. failures <= 0 turns the breaker off.
func NewBreaker(next Notifier, failures int, cooldown time.Duration) *Breaker {
	return &Breaker{next: next, failures: failures, cooldown: cooldown, now: time.Now}
}

// Notify sends unless the circuit is open.
func (b *Breaker) Notify(ctx context.Context, m Message) (bool, error) {
	if b.failures <= 0 {
		return b.next.Notify(ctx, m)
	}
	b.mu.Lock()
	now := b.now()
	if b.streak >= b.failures {
		if now.Before(b.openUntil) || b.probing {
			b.mu.Unlock()
			return false, ErrCircuitOpen
		}
		b.probing = true // half open: this page tests the provider
	}
	b.mu.Unlock()

	retry, err := b.next.Notify(ctx, m)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if err == nil {
		b.streak = 0
		return retry, nil
	}
	b.streak++
	if b.streak >= b.failures {
		b.openUntil = b.now().Add(b.cooldown)
	}
	return retry, err
}
