package incident

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// A storm bundle's id stands where an incident id would in the ack link,
// the SMS reply code, the call and the PagerDuty dedup key of its message,
// so that acting on it acts on every incident it carried, as the person it
// was sent to.

// BundleOutcome says what acting on a bundle did, incident by incident.
type BundleOutcome struct {
	Bundle *store.Bundle
	// Done changed; Already were acknowledged before (for an
	// acknowledgement); Escalated had left the level their page in the
	// message was for, or were escalated again since it went out (for an
	// escalation); Resolved were resolved before; ReopenedSince were
	// reopened after their page in the message went out (for an
	// acknowledgement of it as a page, ev.AckReopenedSet: PagerDuty's),
	// and were left alone; Missing are gone.
	Done, Already, Escalated, Resolved, ReopenedSince []*store.Incident
	Missing                                           int
}

// bundleWorkers bounds how many incidents of a bundle are acted on at once.
const bundleWorkers = 16

// ActOnBundle applies ev to every incident of the bundle, as user (who must
// be the person it was sent to: ErrNotYours otherwise).
func (s *Service) ActOnBundle(ctx context.Context, id, user string, ev policy.Event) (*BundleOutcome, error) {
	b, err := s.o.Store.GetBundle(ctx, id)
	if err != nil {
		return nil, err
	}
	if user != b.User {
		return nil, ErrNotYours
	}
	ev.Actor = user
	out := &BundleOutcome{Bundle: b}
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, bundleWorkers)
	var wg sync.WaitGroup
	for i, incID := range b.Incidents {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ev := ev
			if ev.Kind == policy.EventEscalate && len(b.Levels) == len(b.Incidents) && b.Levels[i] >= 1 {
				// From the level of its page in the message, as an
				// SMS reply to one incident's page: the same 5 sent
				// again escalates none of them twice.
				ev.FromLevel, ev.FromLevelSet, ev.FromLevelAt = b.Levels[i]-1, true, b.SentAt
			}
			if ev.AckReopenedSet {
				// As the answer to its page in the message: not an
				// incident reopened since. A bundle kept without the
				// counts acknowledges as before.
				ev.AckReopenedSet = len(b.Reopened) == len(b.Incidents)
				if ev.AckReopenedSet {
					ev.AckReopened = b.Reopened[i]
				}
			}
			inc, acts, err := s.Apply(ctx, incID, ev)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrAlreadyResolved):
				out.Resolved = append(out.Resolved, inc)
			case errors.Is(err, ErrAlreadyEscalated):
				out.Escalated = append(out.Escalated, inc)
			case errors.Is(err, ErrReopenedSince):
				out.ReopenedSince = append(out.ReopenedSince, inc)
			case errors.Is(err, store.ErrNotFound):
				out.Missing++
			case err != nil:
				if firstErr == nil {
					firstErr = err
				}
			case len(acts) == 0 && inc.State.Status == policy.StatusResolved:
				out.Resolved = append(out.Resolved, inc)
			case len(acts) == 0:
				out.Already = append(out.Already, inc)
			default:
				out.Done = append(out.Done, inc)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		// Some of the incidents took the action before another's write
		// failed: a 503 must not say nothing was stored.
		if len(out.Done) > 0 {
			firstErr = store.PartlyStored(firstErr)
		}
		return out, firstErr
	}
	s.log.Info("storm bundle acted on", "bundle", id, "user", user, "event", ev.Kind, "incidents", len(out.Done),
		"already", len(out.Already)+len(out.Escalated), "resolved_before", len(out.Resolved), "reopened_since", len(out.ReopenedSince))
	return out, nil
}

// Describe says what an action on the bundle did, in a sentence without
// its full stop; name is how it names who acted first (a user's display
// name, Config.UserName).
func (o *BundleOutcome) Describe(kind policy.EventKind, name func(actor string) string) string {
	verb := map[policy.EventKind]string{policy.EventAcknowledge: "Acknowledged", policy.EventResolve: "Resolved",
		policy.EventEscalate: "Escalated"}[kind]
	parts := []string{fmt.Sprintf("%s %d of %d incidents", verb, len(o.Done), len(o.Bundle.Incidents))}
	if n := len(o.Already); n > 0 {
		parts = append(parts, fmt.Sprintf("%d already acknowledged%s", n, byWhom(o.Already, name, func(i *store.Incident) string { return i.State.AcknowledgedBy })))
	}
	if n := len(o.Escalated); n > 0 {
		parts = append(parts, fmt.Sprintf("%d already escalated", n))
	}
	if n := len(o.Resolved); n > 0 {
		parts = append(parts, fmt.Sprintf("%d already resolved%s", n, byWhom(o.Resolved, name, func(i *store.Incident) string { return i.State.ResolvedBy })))
	}
	if n := len(o.ReopenedSince); n > 0 {
		parts = append(parts, fmt.Sprintf("%d reopened since the message, left as they are", n))
	}
	if o.Missing > 0 {
		parts = append(parts, fmt.Sprintf("%d no longer exist", o.Missing))
	}
	return strings.Join(parts, "; ")
}

// byWhom names who acted first, when it was one person, by name.
func byWhom(incs []*store.Incident, name func(string) string, who func(*store.Incident) string) string {
	first := ""
	for _, i := range incs {
		switch w := who(i); {
		case first == "":
			first = w
		case w != first:
			return ""
		}
	}
	if first == "" {
		return ""
	}
	return By(name(first))
}

// By is " by <actor>", or nothing without one: "Already acknowledged by
// ann".
func By(actor string) string {
	if actor == "" {
		return ""
	}
	return fmt.Sprintf(" by %s", actor)
}

// NoteBundle records an entry (a delivery report) in the timeline of every
// incident of a bundle, naming the bundle.
func (s *Service) NoteBundle(ctx context.Context, id string, e store.Entry) (*store.Bundle, error) {
	b, err := s.o.Store.GetBundle(ctx, id)
	if err != nil {
		return nil, err
	}
	e.Bundle = b.ID
	notes := make(map[string][]store.Entry, len(b.Incidents))
	for _, inc := range b.Incidents {
		notes[inc] = []store.Entry{e}
	}
	return b, s.o.Store.Note(ctx, notes)
}
