package notify

import (
	"context"
	"fmt"
	"time"

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

// Notify waits for a token, then sends. A page that had to wait asks
// whether it is still due (WithStillDue) before it goes.
func (t *Throttle) Notify(ctx context.Context, m Message) error {
	r := t.lim.Reserve()
	if wait := r.Delay(); wait > 0 {
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			r.Cancel()
			return Temporary(fmt.Errorf("rate limit: waiting %s would outlast the page's deadline", wait.Round(time.Millisecond)))
		}
		tm := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			r.Cancel()
			return Temporary(fmt.Errorf("rate limit: %w", ctx.Err()))
		case <-tm.C:
		}
		if err := stillDue(ctx); err != nil {
			return err
		}
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

// Notify waits for a slot, then sends. A page that had to wait asks
// whether it is still due (WithStillDue) before it goes.
func (c *Concurrency) Notify(ctx context.Context, m Message) error {
	select {
	case c.slots <- struct{}{}:
	default:
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return Temporary(fmt.Errorf("waiting for one of the provider's %d connections: %w", cap(c.slots), ctx.Err()))
		}
		if err := stillDue(ctx); err != nil {
			<-c.slots
			return err
		}
	}
	defer func() { <-c.slots }()
	return c.next.Notify(ctx, m)
}
