package store

import "context"

// Lister lists incidents (a Store, or the incident service in front of
// one).
type Lister interface {
	List(ctx context.Context, f Filter) ([]*Incident, error)
}

// EachOpen calls f with every open incident of the service (of every
// service when it is ""), newest first, a page at a time: however many
// there are, none is left out. Triggered and acknowledged ones are read
// in one order (Filter.Open), so an incident open from the start of the
// scan to its end is seen exactly once, even if it is acknowledged or
// reopened meanwhile; one resolved or opened meanwhile at most once.
func EachOpen(ctx context.Context, l Lister, service string, f func(*Incident) error) error {
	return EachOpenPaged(ctx, l, service, 1000, f)
}

// EachOpenPaged is EachOpen reading page incidents at a time.
func EachOpenPaged(ctx context.Context, l Lister, service string, page int, f func(*Incident) error) error {
	filter := Filter{Service: service, Open: true, Limit: page}
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
			return nil
		}
		cur := CursorOf(incs[len(incs)-1])
		filter.After = &cur
	}
}
