package notify

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ErrCircuitOpen is returned while a provider's circuit is open: it failed
// too often in a row, so pages to it fail at once (the ladder moves on to
// the next step) instead of each waiting out timeouts and retries.
var ErrCircuitOpen = errors.New("circuit open: the provider failed too many times in a row; not trying it for now")

// Breaker wraps a provider with a circuit breaker: after Failures
// consecutive failures it opens for Cooldown, then lets one page through to
// test the provider; success closes it, failure opens it again. Only
// failures worth retrying count (timeouts, 5xx, 429), and pages that may
// have been sent (ErrMaybeSent: the answer did not come): a page refused for its
// own sake (a bad number, a 404) says nothing about the provider, nor
// does one that failed while this process stalled (stall.go). There is
// one circuit per destination host for URL addresses (webhooks), one per
// address where each is an account of its own (PagerDuty's routing keys,
// rate limited each on its own), and one per channel of the transport
// otherwise (Twilio's SMS, Twilio's calls), so one person's broken
// endpoint, or one team's PagerDuty service throttled in its storm, does
// not stop everyone else's pages, and an outage of a provider's SMS does
// not stop its calls, the step that reaches someone whose SMS failed.
type Breaker struct {
	next     Notifier
	failures int
	cooldown time.Duration
	now      func() time.Time
	// byAddress gives each address a circuit (ChainOptions.BreakerByAddress).
	byAddress bool
	// mark and stalled are the stall watch's (stall.go): a failure of a
	// page during which this process stalled (stalled says for how long;
	// 0: it did not) is not counted.
	mark    func() time.Duration
	stalled func(mark time.Duration) time.Duration
	// watch is told of circuits opening and closing, and of failures not
	// counted for a stall (nil: nobody).
	watch BreakerWatch

	mu       sync.Mutex
	circuits map[string]*circuit
}

type circuit struct {
	streak    int
	openUntil time.Time
	probing   bool
}

var _ Notifier = (*Breaker)(nil)

// BreakerWatch is told what a breaker does, for the daemon's log and
// metrics: a circuit that opens stops a provider's pages for its cooldown,
// and nobody saw it but in each page's failure. circuit names it as a log
// may (a host, a channel; an address by its last four characters only,
// since PagerDuty's are routing keys). Its methods are called with no lock
// held, on the page's goroutine.
type BreakerWatch interface {
	// Opened: the circuit opened, after failures pages in a row failed,
	// or (test) opened again because its test page, after a cooldown,
	// failed (failures is then 1); err is the last failure.
	Opened(circuit string, failures int, test bool, err error)
	// Closed: a page of an open circuit went out, its test or one let
	// in before it opened.
	Closed(circuit string)
	// StallFailure: a page failed while this process stalled for stall
	// (stopped, its VM paused, starved of CPU), and is not counted.
	StallFailure(circuit string, stall time.Duration, err error)
}

// NewBreaker wraps next. failures <= 0 turns the breaker off.
func NewBreaker(next Notifier, failures int, cooldown time.Duration) *Breaker {
	watchStalls()
	return &Breaker{next: next, failures: failures, cooldown: cooldown, now: time.Now, circuits: map[string]*circuit{},
		mark: stallMark, stalled: stalledSince}
}

// Notify sends unless the circuit is open.
func (b *Breaker) Notify(ctx context.Context, m Message) error {
	if b.failures <= 0 {
		return b.next.Notify(ctx, m)
	}
	key := "channel:" + m.Channel
	if b.byAddress {
		key = "address:" + m.Address
	} else if u, err := url.Parse(m.Address); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		key = u.Host
	}
	b.mu.Lock()
	c := b.circuits[key]
	if c == nil {
		c = &circuit{}
		b.circuits[key] = c
	}
	now := b.now()
	test := false // this page is the circuit's test (half open)
	if c.streak >= b.failures {
		if now.Before(c.openUntil) || c.probing {
			b.mu.Unlock()
			return ErrCircuitOpen
		}
		c.probing, test = true, true // half open: this page tests the provider
	}
	b.mu.Unlock()

	// A transport that panics (the dispatcher recovers it) ends the page
	// as a failure all the same: left "testing", the circuit stayed open
	// for good.
	completed := false
	defer func() {
		if !completed {
			b.mu.Lock()
			opened := b.failed(c, test)
			b.mu.Unlock()
			if opened > 0 && b.watch != nil {
				b.watch.Opened(circuitName(key), opened, test, errors.New("the transport panicked"))
			}
		}
	}()
	mark := b.mark()
	err := b.next.Notify(ctx, m)
	completed = true
	counted := err != nil && (IsTemporary(err) || errors.Is(err, ErrMaybeSent))
	if counted {
		if stall := b.stalled(mark); stall > 0 {
			// This process stalled while the page was on its way
			// (stopped, a VM paused): its timeout is the stall's, not
			// the provider's, which may well have answered in time.
			counted = false
			if b.watch != nil {
				b.watch.StallFailure(circuitName(key), stall, err)
			}
		}
	}

	b.mu.Lock()
	opened, closed := 0, false
	switch {
	case err == nil:
		// Any page that went out closes an open circuit, its test or
		// one let in before it opened that ended after.
		closed = c.streak >= b.failures
		c.probing = false
		c.streak = 0
	case counted:
		opened = b.failed(c, test)
	case test:
		c.probing = false
	}
	b.mu.Unlock()
	if b.watch != nil {
		if opened > 0 {
			b.watch.Opened(circuitName(key), opened, test, err)
		} else if closed {
			b.watch.Closed(circuitName(key))
		}
	}
	return err
}

// failed ends a page of circuit c that failed in a way worth counting:
// the test, if it was one (test), is over, and the circuit opens for a
// cooldown at failures in a row. It says how many failures opened it: the
// streak as it reached failures, 1 for a failed test, 0 when it did not
// open. A page let in before the circuit opened and failing while its
// test is on its way is not the test: the test goes on, and its end says
// whether the circuit closes; failing during the cooldown, it leaves the
// cooldown's end where the failures that opened it set it. b.mu is held.
func (b *Breaker) failed(c *circuit, test bool) int {
	if test {
		c.probing = false
	}
	c.streak++
	if c.streak < b.failures {
		return 0
	}
	switch {
	case test:
		c.openUntil = b.now().Add(b.cooldown)
		return 1
	case c.streak == b.failures:
		c.openUntil = b.now().Add(b.cooldown)
		return c.streak
	}
	// Failed as the circuit opened beside it, open already: its end
	// stays. Set a cooldown from this failure, the provider's test came
	// that much later, and every page meanwhile failed untried.
	return 0
}

// circuitName is a circuit's key as a log may show it: its host, channel,
// or the last four characters of its address (a PagerDuty routing key).
func circuitName(key string) string {
	if a, ok := strings.CutPrefix(key, "address:"); ok {
		if len(a) > 4 {
			a = a[len(a)-4:]
		}
		return "address …" + a
	}
	if ch, ok := strings.CutPrefix(key, "channel:"); ok {
		return ch
	}
	return key
}
