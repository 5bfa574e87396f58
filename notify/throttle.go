package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
	// provider: the provider itself sent the page back (OverRateLimit),
	// not pagerd's own rate limit or connection cap.
	provider bool
}

func (e *overRateLimit) Error() string {
	return fmt.Sprintf("%v: %s; its turn comes in %s", ErrOverRateLimit, e.why, e.delay.Round(time.Millisecond))
}

func (e *overRateLimit) Is(target error) bool { return target == ErrOverRateLimit }

// OverRateLimit is ErrOverRateLimit for a page the provider itself sent
// back for delay (Slack's 429 with Retry-After): nothing went out, and its
// turn comes then. why says who said so.
func OverRateLimit(delay time.Duration, why string) error {
	return &overRateLimit{delay: delay, why: why, provider: true}
}

// SentBackByProvider reports whether err is ErrOverRateLimit said by the
// provider itself (OverRateLimit: its 429 with Retry-After), not by
// pagerd's own rate limit or connection cap. A turn pagerd gives comes;
// the provider's is its word, and it may send the page back again at it,
// for as long as it stays over its limit.
func SentBackByProvider(err error) bool {
	var o *overRateLimit
	return errors.As(err, &o) && o.provider
}

// MaxRetryAfter is the longest a provider's Retry-After may send a page
// back for (ProviderRetryAfter): nothing is recorded of a page sent back,
// and one held longer on the provider's word is better failed, in the
// timeline and the metrics, with the person's next step brought forward.
const MaxRetryAfter = time.Minute

// ProviderRetryAfter reads a provider's Retry-After header (seconds, or
// an HTTP date) on its 429: how long until it takes the page, when that
// is more than nothing and at most MaxRetryAfter.
func ProviderRetryAfter(header string, now time.Time) (time.Duration, bool) {
	if header == "" {
		return 0, false
	}
	var d time.Duration
	if s, err := strconv.Atoi(header); err == nil {
		d = time.Duration(s) * time.Second
	} else if at, err := http.ParseTime(header); err == nil {
		d = at.Sub(now)
	}
	return d, d > 0 && d <= MaxRetryAfter
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

// maxGiveWay is how many first pages (Message.FirstPage) a page waiting
// for its turn lets go ahead of it: each costs it one turn, so a later
// ladder step goes out at most maxGiveWay turns (maxGiveWay/perSecond
// seconds) after the turn it was given, however many new incidents keep
// coming. After that, first pages queue behind it like any other.
const maxGiveWay = 10

// Throttle holds pages to respect a provider's rate limit (Twilio's per
// number, say). A page waits for its turn when that leaves the provider
// call at least half of the send's time; a page whose turn is further off
// keeps it and gets ErrOverRateLimit with the delay until then, so pages
// are served in the order they came, none dropped, and no send waits out
// its deadline in the queue.
//
// But for a new incident's first page (Message.FirstPage): nobody has
// been told of its incident yet, so it takes the earliest turn of the
// pages waiting (or sent back) that are not first pages, or are first
// pages of a service with more than one more of them waiting than its
// own (a flooding service's do not queue a quiet one's behind them), and
// each of those moves one turn back, in the order they were in (the last
// one takes the turn the first page was given), up to maxGiveWay times
// each. A service's first pages keep their own order, and so do the
// other pages, so the steps of one incident never pass each other. A page sent back to its turn comes
// back at it, whatever took it since: once sent back for first pages that
// took its turn, it gives way only as far as it can wait when it comes
// back, so that it is not sent back for them again.
type Throttle struct {
	next Notifier
	lim  *rate.Limiter
	now  func() time.Time

	mu   sync.Mutex
	held map[string]*turn // turns kept for pages sent back, by turnKey
	// behind are the turns still to come of pages waiting or sent back,
	// in the order of their turns: the turns a first page may take.
	behind []*turn
}

// turn is a page's turn at the rate limit.
type turn struct {
	r *rate.Reservation
	// at is when the turn comes, as of when it was last given or kept.
	at time.Time
	// gaveWay is how many first pages took this page's turn.
	gaveWay int
	// back, once the page was sent back after first pages took its turn
	// (it came back for it, or could no longer wait for it), is when it
	// comes back now, and slack how long it may wait then: a first page
	// takes its turn only when the one it moves to is within slack of
	// back. Its step is put back at a time in the store: taken further,
	// it came back before its turn and was sent back again, a claim and
	// an incident write each, up to maxGiveWay times.
	back  time.Time
	slack time.Duration
	// behind is whether the turn is among Throttle.behind, and moved,
	// for one that is, is closed when a first page takes it (the page
	// has a later one now), for a page waiting for it to look again.
	behind bool
	moved  chan struct{}
	// first and service: whether the page is a first page
	// (Message.FirstPage), and its service.
	first   bool
	service string
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
	return &Throttle{next: next, lim: rate.NewLimiter(rate.Limit(perSecond), burst), now: now, held: map[string]*turn{}}
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
	waited := false
	t.mu.Lock()
	tn := t.held[key]
	delete(t.held, key)
	if tn == nil {
		tn = t.take(now, m.FirstPage, m.Service)
	}
	for {
		wait, moved := tn.r.DelayFrom(now), tn.moved
		if wait <= 0 {
			break
		}
		if d, ok := ctx.Deadline(); ok && wait > time.Until(d)/queueShare {
			if tn.gaveWay > 0 {
				tn.back, tn.slack = now.Add(wait), time.Until(d)/queueShare
			}
			t.keep(key, tn, now.Add(wait))
			t.mu.Unlock()
			return &overRateLimit{delay: wait, why: "its turn is past what the send's deadline allows to wait"}
		}
		t.mu.Unlock()
		waited = true
		tm := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			t.mu.Lock()
			tn.r.CancelAt(t.now())
			t.leave(tn)
			t.mu.Unlock()
			return Temporary(fmt.Errorf("rate limit: %w", ctx.Err()))
		case <-moved: // a first page took the turn: wait for the next one
			tm.Stop()
		case <-tm.C:
		}
		now = t.now()
		t.mu.Lock()
		if tn.moved == moved {
			break // its turn came, and no first page took it meanwhile
		}
	}
	t.leave(tn)
	t.mu.Unlock()
	if waited {
		if err := stillDue(ctx); err != nil {
			if len(m.Incidents) > 0 {
				// An alert-storm message called off because some of
				// its incidents, not all, were acknowledged while it
				// waited comes back at once, made again without them
				// (the dispatcher's sendHeld): its turn has come, and
				// one taken anew would be at the back of the queue.
				t.mu.Lock()
				t.keep(key, tn, now)
				t.mu.Unlock()
			}
			return err
		}
	}
	err := t.next.Notify(ctx, m)
	if delay, ok := OverRateLimitDelay(err); ok {
		// Sent back further down (the connection cap): the turn taken
		// here is still its turn when it comes back, not a new one at the
		// back of the queue, and one no first page takes: it has come.
		t.mu.Lock()
		t.keep(key, tn, t.now().Add(delay))
		t.mu.Unlock()
	}
	return err
}

// take gives a page of service that has none its turn: the next at the
// rate limit, or, for a first page when that is not now, the earliest of
// the turns behind that it may take (mayTake; their pages each move one
// turn back, the last to the turn reserved here). t.mu is held.
func (t *Throttle) take(now time.Time, first bool, service string) *turn {
	r := t.lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	tn := &turn{r: r, at: now.Add(wait), first: first, service: service}
	if wait <= 0 {
		return tn
	}
	if !first {
		t.queue(tn)
		return tn
	}
	// The turns taken are a tail of those behind: moving only a tail
	// keeps them in their order. It ends after the last turn that may
	// not give way (mayGiveWay: a turn before it, moved, would pass it),
	// or is a first page of a service with no more than one more first
	// page waiting than this one's (a service's first pages keep their
	// order, and one service's flood does not queue another's few behind
	// it), and after every turn whose time has come: its page is on its
	// way, and a first page sent now in its place, late, would go out
	// closer to the next turn than the rate allows.
	firsts := map[string]int{}
	for _, b := range t.behind {
		if b.first {
			firsts[b.service]++
		}
	}
	i, to := len(t.behind), now.Add(wait) // to: the turn behind[i-1] would move to
	for i > 0 {
		b := t.behind[i-1]
		if !b.mayGiveWay(to) || !b.at.After(now) || (b.first && firsts[b.service] <= firsts[service]+1) {
			break
		}
		i--
		to = b.at
	}
	if i == len(t.behind) {
		t.queue(tn)
		return tn
	}
	tn.r, tn.at = t.behind[i].r, t.behind[i].at
	for j := i; j < len(t.behind); j++ {
		b := t.behind[j]
		if j+1 < len(t.behind) {
			b.r, b.at = t.behind[j+1].r, t.behind[j+1].at
		} else {
			b.r, b.at = r, now.Add(wait)
		}
		b.gaveWay++
		close(b.moved)
		b.moved = make(chan struct{})
	}
	t.queue(tn)
	return tn
}

// queue puts tn among the turns behind, in the order of the turns: one
// the limiter gave back (a page that gave up waiting) may be given again
// ahead of others. t.mu is held.
func (t *Throttle) queue(tn *turn) {
	i := len(t.behind)
	for i > 0 && t.behind[i-1].at.After(tn.at) {
		i--
	}
	tn.moved, tn.behind = make(chan struct{}), true
	t.behind = slices.Insert(t.behind, i, tn)
}

// mayGiveWay reports whether a first page may take the turn, its page
// moving to the turn at to: it gave way fewer than maxGiveWay times, and,
// sent back already for first pages that took its turn, it can wait for
// that one when it comes back.
func (tn *turn) mayGiveWay(to time.Time) bool {
	return tn.gaveWay < maxGiveWay && (tn.back.IsZero() || to.Sub(tn.back) <= tn.slack)
}

// leave takes tn out of the turns behind, once its page goes (or gives
// up): no first page may take it then. t.mu is held.
func (t *Throttle) leave(tn *turn) {
	if !tn.behind {
		return
	}
	tn.behind = false
	if i := slices.Index(t.behind, tn); i >= 0 {
		t.behind = slices.Delete(t.behind, i, i+1)
	}
}

// keep holds a page's turn, at at, for when it comes back, and lets go
// of turns kept for pages that did not come back within heldTurnGrace of
// theirs. t.mu is held.
func (t *Throttle) keep(key string, tn *turn, at time.Time) {
	now := t.now()
	for k, h := range t.held {
		if now.Sub(h.at) > heldTurnGrace {
			delete(t.held, k)
			t.leave(h)
		}
	}
	if old := t.held[key]; old != nil && old != tn {
		t.leave(old) // nobody comes back for it: this page holds tn
	}
	tn.at = at
	t.held[key] = tn
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
