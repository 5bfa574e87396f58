package notify

import (
	"context"
	"errors"
)

// ErrNoLongerDue ends a send whose page is no longer wanted: between its
// tries, or while it waited for the provider's rate limit or a connection,
// the page's step left its incident (an acknowledgement, a resolve). It is
// neither a success nor a failure: nothing went out, the step is not
// recorded as paged, and the circuit breaker does not count it.
var ErrNoLongerDue = errors.New("no longer due: the step was taken out of its incident (acknowledged or resolved) before the page went out")

type stillDueKey struct{}

// WithStillDue gives a send the question to ask before it tries again or
// after it waited: is the page still due? The dispatcher sets it to one
// store read. The first try never asks (it costs nothing to the hot path),
// and a check that cannot tell (its store read failed) must answer true: a
// page sent after an acknowledgement is better than a page missed.
func WithStillDue(ctx context.Context, due func(context.Context) bool) context.Context {
	return context.WithValue(ctx, stillDueKey{}, due)
}

// stillDue asks ctx's check (WithStillDue), if it has one, and returns
// ErrNoLongerDue when the page is no longer wanted.
func stillDue(ctx context.Context) error {
	due, _ := ctx.Value(stillDueKey{}).(func(context.Context) bool)
	if due == nil || due(ctx) {
		return nil
	}
	return ErrNoLongerDue
}
