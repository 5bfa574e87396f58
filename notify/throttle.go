package notify

import (
	"context"
	"fmt"

	"golang.org/x/time/rate"
)

// Throttle holds pages to respect a provider's rate limit (Twilio's per
// number, say). It waits for a token rather than dropping the page.
type Throttle struct {
	next Notifier
	lim  *rate.Limiter
}

var _ Notifier = (*Throttle)(nil)

// NewThrottle wraps next with perSecond pages a second and a burst.
func NewThrottle(next Notifier, perSecond float64, burst int) *Throttle {
	if burst < 1 {
		burst = 1
	}
	return &Throttle{next: next, lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// Notify waits for a token, then sends.
func (t *Throttle) Notify(ctx context.Context, m Message) error {
	if err := t.lim.Wait(ctx); err != nil {
		return Temporary(fmt.Errorf("rate limit: %w", err))
	}
	return t.next.Notify(ctx, m)
}

// Concurrency caps the pages in flight to a provider (Twilio's concurrent
// requests, say); the others wait for a slot, within their deadline.
type Concurrency struct {
	next  Notifier
	slots chan struct{}
}

var _ Notifier = (*Concurrency)(nil)

// NewConcurrency wraps next with at most n pages in flight.
func NewConcurrency(next Notifier, n int) *Concurrency {
	return &Concurrency{next: next, slots: make(chan struct{}, max(n, 1))}
}

// Notify waits for a slot, then sends.
func (c *Concurrency) Notify(ctx context.Context, m Message) error {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return Temporary(fmt.Errorf("waiting for one of the provider's %d connections: %w", cap(c.slots), ctx.Err()))
	}
	defer func() { <-c.slots }()
	return c.next.Notify(ctx, m)
}
