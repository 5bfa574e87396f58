package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrNoLongerDue ends a send whose page is no longer wanted: between its
// tries, while it waited for the provider's rate limit or a connection,
// or while the process did not run before its request went out (stopped,
// its VM paused), the page's step left its incident (an acknowledgement,
// a resolve). It is neither a success nor a failure: nothing went out,
// the step is not recorded as paged, and the circuit breaker does not
// count it.
var ErrNoLongerDue = errors.New("no longer due: the step was taken out of its incident (acknowledged or resolved) before the page went out")

type stillDueKey struct{}

// stillDueCheck is a send's WithStillDue: the question, when it was
// last asked (on the stall watch's count of time not run), and whether it
// was answered no.
type stillDueCheck struct {
	due func(context.Context) bool
	mu  sync.Mutex
	// asked is notRunning() when the question was last asked, or when
	// the send started: a stall since then is one nobody asked after.
	asked time.Duration
	off   bool
}

// WithStillDue gives a send the question to ask before it tries again or
// after it waited, and before its request goes out when the process did
// not run for a second or more since the send started, or since its
// claim looked at the incident (WithStallMark) (NewTransport): is
// the page still due? The dispatcher sets it to one store read. The first
// try never asks otherwise (it costs nothing to the hot path), and a check
// that cannot tell (its store read failed) must answer true: a page sent
// after an acknowledgement is better than a page missed.
//
// A stall counts from ctx's WithStallMark, when it has one (the claim that
// looked at the incident), and otherwise from now.
func WithStillDue(ctx context.Context, due func(context.Context) bool) context.Context {
	asked := TimeNotRunning()
	if mark, ok := ctx.Value(stallMarkKey{}).(time.Duration); ok {
		asked = min(asked, mark)
	}
	return context.WithValue(ctx, stillDueKey{}, &stillDueCheck{due: due, asked: asked})
}

type stallMarkKey struct{}

// TimeNotRunning is how long this process has not run (stopped, its VM
// paused, starved of CPU for a second or more at a time) since its stall
// watch started, which it starts: a mark for WithStallMark.
func TimeNotRunning() time.Duration {
	watchStalls()
	return notRunning()
}

// WithStallMark says when, on TimeNotRunning, the sends made with ctx
// last looked at what they page for: the dispatcher's claim, which read
// the incident. A page whose process stalled since then asks whether it
// is still due before its request goes out (WithStillDue), though the
// stall came before its send started: an acknowledgement during it is not
// in what the claim read.
func WithStallMark(ctx context.Context, lost time.Duration) context.Context {
	return context.WithValue(ctx, stallMarkKey{}, lost)
}

// stillDue asks ctx's check (WithStillDue), if it has one, and returns
// ErrNoLongerDue when the page is no longer wanted.
func stillDue(ctx context.Context) error {
	c := checkOf(ctx)
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ask(ctx)
}

// checkOf is ctx's WithStillDue, or nil.
func checkOf(ctx context.Context) *stillDueCheck {
	c, _ := ctx.Value(stillDueKey{}).(*stillDueCheck)
	return c
}

// StillDueAfterStall is stillDue when the process stalled a second or
// more since the question was last asked, or since the page's claim
// looked at the incident (WithStallMark), and nil otherwise, without a
// store read: what NewTransport's requests ask before their body goes
// out, and email before its message. Once answered no, it stays no: a
// request the transport sends again (on a new connection, its first
// failed before a byte went out) is not sent.
func StillDueAfterStall(ctx context.Context) error {
	c := checkOf(ctx)
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off {
		return ErrNoLongerDue
	}
	if notRunning() <= c.asked {
		return nil
	}
	defer holdTimeout(ctx)()
	return c.ask(ctx)
}

// ask asks c's question, c.mu held.
func (c *stillDueCheck) ask(ctx context.Context) error {
	c.asked = notRunning()
	if c.due(ctx) {
		return nil
	}
	c.off = true
	return ErrNoLongerDue
}

// CalledOff says, for a send whose request failed before it was written
// whole, whether it was called off (ErrNoLongerDue, wrapped with what):
// the process stalled before the request went out, and its page was no
// longer due when it ran again (NewTransport). The transports answer that
// rather than a failure: nothing went out, and the breaker does not count
// it.
func CalledOff(ctx context.Context, what string) error {
	c := checkOf(ctx)
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.off {
		return nil
	}
	return fmt.Errorf("%s: %w (the process had stalled before the request went out)", what, ErrNoLongerDue)
}
