package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	// Refused are those pagerd refused the action on (an incident whose
	// service is gone from the config can only be resolved), left as
	// they were, each with why: the others still take it, as each would
	// one by one.
	Refused []Refused
	// Failed are the ids of those whose write the store did not take,
	// and Err the first such error (ActOnBundle returns it too): not
	// changed, or, when Err says the outcome is unknown, maybe.
	Failed []string
	Err    error
}

// Refused is an incident of a bundle that pagerd refused an action on, as
// it was read, and why.
type Refused struct {
	Incident *store.Incident
	Why      string
}

// bundleWorkers bounds how many incidents of a bundle are acted on at once.
const bundleWorkers = 16

// ActOnBundle applies ev to every incident of the bundle, as user (who must
// be the person it was sent to: ErrNotYours otherwise), or as ev.Actor when
// set. An incident pagerd
// refuses it on is in the outcome's Refused, not an error: the others take
// it. A write the store failed is returned as the error (store.PartlyStored
// when others were stored) together with the outcome, which says what the
// other writes did.
func (s *Service) ActOnBundle(ctx context.Context, id, user string, ev policy.Event) (*BundleOutcome, error) {
	return s.actOnBundle(ctx, id, user, ev, nil)
}

// actOnBundle is ActOnBundle, with apply (when set) applying each
// incident's event in Apply's place: a delivery report names the step of
// each incident's page in the message, and asks a store that refuses it
// again, incident by incident (Delivered).
func (s *Service) actOnBundle(ctx context.Context, id, user string, ev policy.Event,
	apply func(inc string, ev policy.Event) (*store.Incident, []policy.Action, error)) (*BundleOutcome, error) {
	b, err := s.o.Store.GetBundle(ctx, id)
	if err != nil {
		return nil, err
	}
	if user != b.User {
		return nil, ErrNotYours
	}
	if ev.Actor == "" {
		// Another system may say someone else acted on the message
		// sent to user (AcknowledgePage).
		ev.Actor = user
	}
	if apply == nil {
		apply = func(id string, ev policy.Event) (*store.Incident, []policy.Action, error) {
			return s.Apply(ctx, id, ev)
		}
	}
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
			inc, acts, err := apply(incID, ev)
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
			case inc != nil && errors.As(err, new(*refusal)):
				// A refusal of this incident's (its service gone):
				// the rest of the bundle still takes the action, and
				// the answer names it.
				out.Refused = append(out.Refused, Refused{inc, err.Error()})
			case err != nil:
				out.Failed = append(out.Failed, incID)
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
	// In the bundle's order, so that the answer names them as the
	// message did, whichever write came back first.
	order := func(x, y string) int { return slices.Index(b.Incidents, x) - slices.Index(b.Incidents, y) }
	slices.SortFunc(out.Refused, func(x, y Refused) int { return order(x.Incident.ID, y.Incident.ID) })
	slices.SortFunc(out.Failed, order)
	if len(out.Refused) > 0 {
		s.log.Warn("storm bundle: pagerd refused the action on some of its incidents; the others took it", "bundle", id, "user", user,
			"event", ev.Kind, "refused", len(out.Refused), "first", out.Refused[0].Incident.ID, "why", out.Refused[0].Why)
	}
	if firstErr != nil {
		out.Err = firstErr
		// Some of the incidents took the action before another's write
		// failed: a 503 must not say nothing was stored.
		if len(out.Done) > 0 {
			firstErr = store.PartlyStored(firstErr)
		}
		return out, firstErr
	}
	s.log.Info("storm bundle acted on", "bundle", id, "user", user, "event", ev.Kind, "incidents", len(out.Done),
		"already", len(out.Already)+len(out.Escalated), "resolved_before", len(out.Resolved), "reopened_since", len(out.ReopenedSince),
		"refused", len(out.Refused))
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
	past := strings.ToLower(verb)
	// Refused as a single incident's action is ("NOT recorded: pagerd
	// refused it (why)"), each reason once, with the incidents it
	// refused by name: the person must know which are still paging.
	var whys []string
	named := map[string][]string{}
	for _, r := range o.Refused {
		if _, seen := named[r.Why]; !seen {
			whys = append(whys, r.Why)
		}
		named[r.Why] = append(named[r.Why], fmt.Sprintf("%s (incident %s)", r.Incident.Summary, r.Incident.ID))
	}
	for _, why := range whys {
		names := named[why]
		if len(names) > refusedNamed {
			names = append(names[:refusedNamed:refusedNamed], fmt.Sprintf("and %d more", len(names)-refusedNamed))
		}
		parts = append(parts, fmt.Sprintf("%d NOT %s, refused (%s): %s", len(named[why]), past, why, strings.Join(names, ", ")))
	}
	if n := len(o.Failed); n > 0 {
		// By id only: the store that failed their writes may not
		// read them either.
		var names []string
		for _, id := range o.Failed[:min(n, refusedNamed)] {
			names = append(names, "incident "+id)
		}
		if n > refusedNamed {
			names = append(names, fmt.Sprintf("and %d more", n-refusedNamed))
		}
		not, why := failedText(past, o.Err)
		parts = append(parts, fmt.Sprintf("%d %s (%s): %s", n, not, strings.Join(names, ", "), why))
	}
	return strings.Join(parts, "; ")
}

// refusedNamed is how many incidents refused for one reason an answer
// names, as a storm message names its most urgent.
const refusedNamed = 5

// failedText says that incidents of a bundle did not take an action
// ("NOT acknowledged"), and why, in the words every channel uses for one
// incident (notify.NotRecorded).
func failedText(past string, err error) (not, why string) {
	switch {
	case errors.Is(err, store.ErrOutcomeUnknown):
		return "may not be " + past, "the incident store did not confirm it, and until it does their paging goes on"
	case errors.Is(err, store.ErrUnavailable):
		return "NOT " + past, "the incident store is unavailable, and their paging goes on; try again in a minute"
	case errors.Is(err, store.ErrConflict):
		return "NOT " + past, "others changed them at the same time, again and again; try again in a minute"
	}
	return "NOT " + past, "pagerd failed to store it (its logs say why), and their paging goes on; try again in a minute"
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
