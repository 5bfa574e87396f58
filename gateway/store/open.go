package store

import (
	"context"

	"github.com/pagerd/pagerd/policy"
)

// Lister lists incidents (a Store, or the incident service in front of
// one).
type Lister interface {
	List(ctx context.Context, f Filter) ([]*Incident, error)
}

// EachOpen calls f with every open incident of the service (of every
// service when it is ""), triggered ones first, each status newest
// first, a page at a time: however many there are, none is left out.
func EachOpen(ctx context.Context, l Lister, service string, f func(*Incident) error) error {
	for _, st := range []policy.Status{policy.StatusTriggered, policy.StatusAcknowledged} {
		filter := Filter{Service: service, Status: st, Limit: 1000}
		for {
			incs, err := l.List(ctx, filter)
			if err != nil {
				return err
			}
			for _, inc := range incs {
				if err := f(inc); err != nil {
					return err
				}
			}
			if len(incs) < filter.Limit {
				break
			}
			cur := CursorOf(incs[len(incs)-1])
			filter.After = &cur
		}
	}
	return nil
}
