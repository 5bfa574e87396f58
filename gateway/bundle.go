package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// A storm bundle's id stands where an incident id would in the ack link,
// the SMS reply code, the call and the PagerDuty dedup key of its message,
// so that acting on it acts on every incident it carried, as the person it
// was sent to.

// bundleOutcome says what acting on a bundle did, incident by incident.
type bundleOutcome struct {
	bundle *store.Bundle
	// done changed; already were acknowledged before (for an
	// acknowledgement); resolved were resolved before; missing are gone.
	done, already, resolved []*store.Incident
	missing                 int
}

// errNotYours is acting on a bundle sent to someone else.
var errNotYours = &inputError{http.StatusForbidden, "this was sent to someone else"}

// bundleWorkers bounds how many incidents of a bundle are acted on at once.
const bundleWorkers = 16

// actOnBundle applies ev to every incident of the bundle, as user (who must
// be the person it was sent to).
func (s *Server) actOnBundle(ctx context.Context, id, user string, ev policy.Event) (*bundleOutcome, error) {
	b, err := s.store.GetBundle(ctx, id)
	if err != nil {
		return nil, err
	}
	if user != b.User {
		return nil, errNotYours
	}
	ev.Actor = user
	out := &bundleOutcome{bundle: b}
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, bundleWorkers)
	var wg sync.WaitGroup
	for _, incID := range b.Incidents {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			inc, acts, err := s.apply(ctx, incID, ev)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, errAlreadyResolved):
				out.resolved = append(out.resolved, inc)
			case errors.Is(err, store.ErrNotFound):
				out.missing++
			case err != nil:
				if firstErr == nil {
					firstErr = err
				}
			case len(acts) == 0 && inc.State.Status == policy.StatusResolved:
				out.resolved = append(out.resolved, inc)
			case len(acts) == 0:
				out.already = append(out.already, inc)
			default:
				out.done = append(out.done, inc)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return out, firstErr
	}
	s.log.Info("storm bundle acted on", "bundle", id, "user", user, "event", ev.Kind, "incidents", len(out.done),
		"already", len(out.already), "resolved_before", len(out.resolved))
	return out, nil
}

// describe says what an action on the bundle did, in a sentence without
// its full stop.
func (o *bundleOutcome) describe(kind policy.EventKind) string {
	verb := map[policy.EventKind]string{policy.EventAcknowledge: "Acknowledged", policy.EventResolve: "Resolved",
		policy.EventEscalate: "Escalated"}[kind]
	parts := []string{fmt.Sprintf("%s %d of %d incidents", verb, len(o.done), len(o.bundle.Incidents))}
	if n := len(o.already); n > 0 {
		parts = append(parts, fmt.Sprintf("%d already acknowledged%s", n, byWhom(o.already, func(i *store.Incident) string { return i.State.AcknowledgedBy })))
	}
	if n := len(o.resolved); n > 0 {
		parts = append(parts, fmt.Sprintf("%d already resolved%s", n, byWhom(o.resolved, func(i *store.Incident) string { return i.State.ResolvedBy })))
	}
	if o.missing > 0 {
		parts = append(parts, fmt.Sprintf("%d no longer exist", o.missing))
	}
	return strings.Join(parts, "; ")
}

// byWhom names who acted first, when it was one person.
func byWhom(incs []*store.Incident, who func(*store.Incident) string) string {
	first := ""
	for _, i := range incs {
		switch w := who(i); {
		case first == "":
			first = w
		case w != first:
			return ""
		}
	}
	return by(first)
}

// noteBundle records a delivery report for every incident of a bundle.
func (s *Server) noteBundle(ctx context.Context, id string, e store.Entry) (*store.Bundle, error) {
	b, err := s.store.GetBundle(ctx, id)
	if err != nil {
		return nil, err
	}
	e.Bundle = b.ID
	notes := make(map[string][]store.Entry, len(b.Incidents))
	for _, inc := range b.Incidents {
		notes[inc] = []store.Entry{e}
	}
	return b, s.store.Note(ctx, notes)
}
