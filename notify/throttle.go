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
