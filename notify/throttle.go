package notify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ErrOverRateLimit ends a send whose turn at the provider's rate limit (or
// at one of its connections) comes too late for the send's deadline. It is
// neither a success nor a failure: nothing went out and the provider was
// not asked, so the circuit breaker does not count it and the retrier does
// not retry it; the dispatcher leaves the page due again when its turn
// comes (OverRateLimitDelay), without recording it as failed.
var ErrOverRateLimit = errors.New("over the provider's rate limit")

// overRateLimit is ErrOverRateLimit with how long until the page's turn.
type overRateLimit struct {
	delay time.Duration
	why   string
}

func (e *overRateLimit) Error() string {
	return fmt.Sprintf("%v: %s; its turn comes in %s", ErrOverRateLimit, e.why, e.delay.Round(time.Millisecond))
}

func (e *overRateLimit) Is(target error) bool { return target == ErrOverRateLimit }

// OverRateLimit is ErrOverRateLimit for a page the provider itself sent
// back for delay (Slack's 429 with Retry-After): nothing went out, and its
// turn comes then. why says who said so.
func OverRateLimit(delay time.Duration, why string) error {
	return &overRateLimit{delay: delay, why: why}
}

// OverRateLimitDelay reports whether err is ErrOverRateLimit, and how long
// from now the page's turn comes: when to send it again.
func OverRateLimitDelay(err error) (time.Duration, bool) {
	var o *overRateLimit
	if !errors.As(err, &o) {
		return 0, false
	}
	return o.delay, true
}

// queueShare is how much of what a send has left (its deadline) it may
// spend waiting for its turn: the rest is the provider call's. The send
// timeout bounds the call, not the queue: a page whose turn is further
// off gets ErrOverRateLimit and comes back for it.
const queueShare = 2 // wait at most 1/queueShare of the time left

// heldTurnGrace is how long past its time a turn kept for a page that was
// sent back (ErrOverRateLimit) stays kept: a page acknowledged meanwhile,
// or taken by another replica, never comes back for it.
const heldTurnGrace = time.Minute

// Throttle holds pages to respect a provider's rate limit (Twilio's per
// number, say). A page waits for its turn when that leaves the provider
// call at least half of the send's time; a page whose turn is further off
// keeps it and gets ErrOverRateLimit with the delay until then, so pages
// are served in the order they came, none dropped, and no send waits out
// its deadline in the queue.
type Throttle struct {
	next Notifier
	lim  *rate.Limiter
	now  func() time.Time

	mu   sync.Mutex
	held map[string]heldTurn // turns kept for pages sent back, by turnKey
}

// heldTurn is a page's turn at the rate limit, at at, kept while the page
// was sent back.
type heldTurn struct {
	r  *rate.Reservation
	at time.Time
}

var _ Notifier = (*Throttle)(nil)

// NewThrottle wraps next with perSecond pages a second and a burst.
func NewThrottle(next Notifier, perSecond float64, burst int) *Throttle {
	return newThrottle(next, perSecond, burst, time.Now)
}

func newThrottle(next Notifier, perSecond float64, burst int, now func() time.Time) *Throttle {
	if burst < 1 {
		burst = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Throttle{next: next, lim: rate.NewLimiter(rate.Limit(perSecond), burst), now: now, held: map[string]heldTurn{}}
}

// turnKey names a page across its sends: the same step of the same
// incident to the same person on the same channel; or, for an alert-storm
// message (whose bundle id is new at each send), the storm of the person
// on the channel.
func turnKey(m Message) string {
	if len(m.Incidents) > 0 {
		return "storm\x00" + m.User + "\x00" + m.Channel
	}
	return m.Incident + "\x00" + m.User + "\x00" + m.Channel + "\x00" + strconv.Itoa(m.Level)
}

// Notify waits for the page's turn, then sends. A page that had to wait
// asks whether it is still due (WithStillDue) before it goes; one whose
// turn is too far off for its deadline gets ErrOverRateLimit.
func (t *Throttle) Notify(ctx context.Context, m Message) error {
	now := t.now()
	key := turnKey(m)
	t.mu.Lock()
	r := t.held[key].r
	delete(t.held, key)
	t.mu.Unlock()
	if r == nil {
		r = t.lim.ReserveN(now, 1)
	}
	if wait := r.DelayFrom(now); wait > 0 {
		if d, ok := ctx.Deadline(); ok && wait > time.Until(d)/queueShare {
			t.keep(key, r, now.Add(wait))
			return &overRateLimit{delay: wait, why: "its turn is past what the send's deadline allows to wait"}
		}
		tm := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			r.CancelAt(t.now())
			return Temporary(fmt.Errorf("rate limit: %w", ctx.Err()))
		case <-tm.C:
		}
		if err := stillDue(ctx); err != nil {
			return err
		}
	}
	err := t.next.Notify(ctx, m)
	if delay, ok := OverRateLimitDelay(err); ok {
		// Sent back further down (the connection cap): the turn taken
		// here is still its turn when it comes back, not a new one at the
		// back of the queue.
		t.keep(key, r, t.now().Add(delay))
	}
	return err
}

// keep holds a page's turn, at at, for when it comes back, and lets go
// of turns kept for pages that did not come back within heldTurnGrace of
// theirs.
func (t *Throttle) keep(key string, r *rate.Reservation, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for k, h := range t.held {
		if now.Sub(h.at) > heldTurnGrace {
			delete(t.held, k)
		}
	}
	t.held[key] = heldTurn{r, at}
}

// Concurrency caps the pages in flight to a provider (Twilio's concurrent
// requests, say); the others wait for a slot, for at most half of what
// their send has left (the rest is the provider call's), then get
// ErrOverRateLimit to come back in concurrencyRetry.
type Concurrency struct {
	next  Notifier
	slots chan struct{}
}

var _ Notifier = (*Concurrency)(nil)

// concurrencyRetry is when a page that found no free connection within
// its share of the send's time comes back: the provider answers slowly,
// and when a connection frees up is not known.
const concurrencyRetry = time.Second

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
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if d, ok := ctx.Deadline(); ok {
			wctx, cancel = context.WithTimeout(ctx, time.Until(d)/queueShare)
		}
		select {
		case c.slots <- struct{}{}:
			cancel()
		case <-wctx.Done():
			cancel()
			if ctx.Err() != nil {
				return Temporary(fmt.Errorf("waiting for one of the provider's %d connections: %w", cap(c.slots), ctx.Err()))
			}
			return &overRateLimit{delay: concurrencyRetry, why: fmt.Sprintf("none of the provider's %d connections came free in time", cap(c.slots))}
		}
		if err := stillDue(ctx); err != nil {
			<-c.slots
			return err
		}
	}
	defer func() { <-c.slots }()
	return c.next.Notify(ctx, m)
}
