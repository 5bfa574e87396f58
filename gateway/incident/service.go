// Package incident is the one place that changes incidents. Every front
// door (the HTTP API, Alertmanager and PagerDuty intake, ack links, and the
// providers' callbacks through notify.Receiver) calls a Service: to open an
// incident from an alert or repeat it, to acknowledge, resolve, escalate or
// update it, to act on one by its dedup key or on every incident of an
// alert-storm message, and to note what happened in its timeline. Each
// change runs the policy state machine on the stored incident and writes
// the result in one compare-and-swap loop (update), which also stores what
// the change owes other systems (the outbox) with it.
//
// It knows nothing of HTTP: refusals are the errors below, which the HTTP
// layer turns into status codes. The dispatcher, which fires deadlines,
// writes through the store's claim and Finish instead, on its own hot path.
package incident

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// The refusals of a Service. The store's errors come through as they are
// (ErrNotFound, ErrUnavailable and ErrOutcomeUnknown are the store's).
var (
	// ErrNotFound: no such incident or storm message.
	ErrNotFound = store.ErrNotFound
	// ErrUnavailable: the store could not be reached; nothing changed.
	ErrUnavailable = store.ErrUnavailable
	// ErrOutcomeUnknown: the store did not confirm a write in time; it
	// may or may not have happened (it also matches ErrUnavailable).
	ErrOutcomeUnknown = store.ErrOutcomeUnknown
	// ErrAlreadyResolved: an action on a resolved incident.
	ErrAlreadyResolved = errors.New("the incident is already resolved")
	// ErrAlreadyEscalated: an escalation from a level the incident has
	// left (policy.ErrAlreadyEscalated): it was escalated from it already,
	// and nothing changed.
	ErrAlreadyEscalated = errors.New("the incident was already escalated from that level")
	// ErrReopenedSince: an acknowledgement of a page sent before the
	// incident's latest reopen (policy.ErrReopenedSince); nothing changed.
	ErrReopenedSince = errors.New("the incident was reopened after the page acknowledged")
	// ErrRaisedSince: a resolve of an incident raised to another
	// priority after the person saw it (policy.ErrRaisedSince); nothing
	// changed.
	ErrRaisedSince = errors.New("the incident was raised after the person saw it")
	// ErrAcknowledgedSince: an escalation of an incident acknowledged
	// after the person saw it (policy.ErrAcknowledgedSince); nothing
	// changed.
	ErrAcknowledgedSince = errors.New("the incident was acknowledged after the person saw it")
	// ErrNotYours: acting on a storm message sent to someone else.
	ErrNotYours = errors.New("this was sent to someone else")
	// ErrConflict: the incident cannot take the action as things stand
	// (its service is no longer in the config). The error says why.
	ErrConflict = errors.New("conflict")
	// ErrBadInput: an event the state machine refuses (a level that does
	// not exist, say). The error says why.
	ErrBadInput = errors.New("bad input")
)

// refusal is an error of one of the kinds above with a message of its own.
type refusal struct {
	kind error
	msg  string
}

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == r.kind }

// Options configure a Service.
type Options struct {
	Store store.Store
	// Config is the config in force (it changes on reload).
	Config func() *policy.Config
	Logger *slog.Logger
	// Registry receives the service's metrics.
	Registry prometheus.Registerer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Wake, when set, is called when a write leaves a step due at once,
	// so the dispatchers send it now rather than at their next look.
	Wake func()
	// CapSummary cuts a summary the service writes itself (a raised
	// incident's) to what the intake keeps (ingest.CapSummary).
	CapSummary func(string) string
	// Maintenance, when set, says which maintenance window, if any, holds
	// a new incident of the service with these label sets at a time: it
	// is recorded and pages nobody until the window ends. Asked for an
	// open incident, held is its state: the windows a person escalated it
	// past hold it no more (policy.Incident.MayHold), though another
	// window that covers it may.
	Maintenance func(ctx context.Context, service string, labels []map[string]string, held *policy.Incident, at time.Time) *policy.Hold
	// Acted, when set, is told of what a write made the escalation
	// machine do (dispatch.Dispatcher.Acted counts the escalations, and
	// logs and counts those that paged nobody); unset, those that paged
	// nobody are logged (LogPagedNobody).
	Acted func(inc *store.Incident, acts []policy.Action)
}

// Service changes incidents. It is safe for concurrent use.
type Service struct {
	o     Options
	log   *slog.Logger
	m     *metrics
	leads leadBudget // which new incidents' first pages are queued ahead
}

// New makes a Service.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.CapSummary == nil {
		o.CapSummary = func(s string) string { return s }
	}
	return &Service{o: o, log: o.Logger, m: newMetrics(o.Registry)}
}

// conflictRetries is how many times a change is tried again when another
// writer changed the incident first.
const conflictRetries = 10

// update is the read-modify-write of one incident, the one loop every
// change goes through: it reads the incident, lets change edit it and say
// what to append to its timeline, and writes both, comparing the version
// read (store.Update); when another writer got there first it starts over
// from a fresh read. change returns write false to write nothing.
func (s *Service) update(ctx context.Context, id string, first *store.Incident, change func(inc *store.Incident) (tl []store.Entry, write bool, err error)) (*store.Incident, error) {
	for attempt := 0; ; attempt++ {
		inc := first
		if attempt > 0 || inc == nil {
			var err error
			if inc, err = s.o.Store.Get(ctx, id); err != nil {
				return nil, err
			}
		}
		var before []policy.Deadline // kept only when a write may take back a storm's count
		if slices.ContainsFunc(inc.State.Pending, policy.Deadline.CountedByStorm) {
			before = slices.Clone(inc.State.Pending)
		}
		tl, write, err := change(inc)
		if err != nil || !write {
			return inc, err
		}
		err = s.o.Store.Update(ctx, inc, tl)
		if errors.Is(err, store.ErrConflict) && attempt < conflictRetries {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.unsentSteps(ctx, inc.ID, before, inc.State.Pending)
		return inc, nil
	}
}

// unsentSteps takes back, from their alert storms' windows, the pages of
// the steps a write took out (an acknowledgement, a resolve, a maintenance
// hold) that a storm had let out at once and the provider's rate limit had
// sent back to their turn (policy.Deadline.StormEnd): they never went out,
// as a page called off while it is sent, and counted, they held a more
// urgent page after them to the window's end. A write that fails is
// logged: the page counts.
func (s *Service) unsentSteps(ctx context.Context, id string, before, after []policy.Deadline) {
	for _, d := range before {
		if !d.CountedByStorm() || slices.ContainsFunc(after, func(a policy.Deadline) bool { return a.ID == d.ID }) {
			continue
		}
		if err := s.o.Store.Unsent(ctx, store.StormKey(d.User, d.Channel), d.StormRank, d.StormEnd, d.StormAfter); err != nil {
			s.log.Warn("a page taken out before its turn at the rate limit still counts as sent in its alert storm's window: a page after it may be held to the window's end",
				"incident", id, "user", d.User, "channel", d.Channel, "err", err)
		}
	}
}

// Apply runs an event through the escalation machine against the stored
// incident and writes the result. An event that changes nothing writes
// nothing (and returns no actions). An action on a resolved incident is
// ErrAlreadyResolved, and an escalation from a level the incident has left
// ErrAlreadyEscalated, and an acknowledgement of a page sent before the
// latest reopen ErrReopenedSince (a resolve of an incident raised since
// the person saw it ErrRaisedSince, an escalation of one acknowledged
// since ErrAcknowledgedSince), each with the incident; so is a refusal
// (ErrConflict, ErrBadInput: a service gone from the config).
func (s *Service) Apply(ctx context.Context, id string, ev policy.Event) (*store.Incident, []policy.Action, error) {
	return s.applyWith(ctx, id, nil, ev, nil)
}

// HoldIfCovered holds the incident id for a maintenance window (ev, an
// EventHold), if covers says the window covers the incident as it is read
// for the write: a caller that decided from an older read (a window's
// start, sweeping every open incident) would hold one an alert outside the
// window joined since, and that alert's repeat, which looked for a hold
// before there was one, released nothing: it paged nobody until the
// window's end. A repeat does not change the version, so the write also
// checks that none came since its read (a conflict reads it again).
func (s *Service) HoldIfCovered(ctx context.Context, id string, ev policy.Event, covers func(*store.Incident) bool) ([]policy.Action, error) {
	g := func(inc *store.Incident) ([]store.Entry, bool, error) {
		if !covers(inc) {
			return nil, false, nil
		}
		inc.CheckRepeats = true
		return nil, true, nil
	}
	_, acts, err := s.applyGuarded(ctx, id, nil, ev, nil, g)
	return acts, err
}

// applyWith is Apply that also edits the stored incident (its summary) in
// the same write, when the event changed something. first, when the caller
// has just read the incident, is used instead of reading it again; a write
// that finds it changed since reads it afresh.
func (s *Service) applyWith(ctx context.Context, id string, first *store.Incident, ev policy.Event, edit func(*store.Incident)) (*store.Incident, []policy.Action, error) {
	return s.applyGuarded(ctx, id, first, ev, edit, nil)
}

// guard is a condition an event needs, checked on the incident as it is
// written (again after every conflict): a refusal, or no write (write
// false), and the entries that go before the event's in its timeline,
// written even when the event changes nothing.
type guard func(inc *store.Incident) (before []store.Entry, write bool, err error)

// applyGuarded is applyWith with a guard (nil: none).
func (s *Service) applyGuarded(ctx context.Context, id string, first *store.Incident, ev policy.Event, edit func(*store.Incident), g guard) (*store.Incident, []policy.Action, error) {
	var acts []policy.Action
	var now time.Time
	wrote := false
	var seen *policy.Incident // the state the event was first applied to
	inc, err := s.update(ctx, id, first, func(inc *store.Incident) ([]store.Entry, bool, error) {
		wrote = false
		cfg := s.o.Config()
		if cfg.Service(inc.Service) == nil && ev.Kind != policy.EventResolve {
			// A resolve goes through, so that such an incident can
			// be closed.
			return nil, false, &refusal{ErrConflict, fmt.Sprintf("service %q is no longer in the config: it can only be resolved", inc.Service)}
		}
		var before []store.Entry
		if g != nil {
			var write bool
			var err error
			if before, write, err = g(inc); err != nil || !write {
				return nil, false, err
			}
		}
		if ev.Kind == policy.EventTrigger && !inc.Open() {
			// A trigger through here raises an open incident; on a
			// resolved one the engine would reopen it as new, undoing
			// whoever resolved it since it was read.
			return nil, false, ErrAlreadyResolved
		}
		if ev.Kind == policy.EventEscalate {
			if seen == nil {
				st := inc.State
				seen = &st
			} else if inc.State.Level != seen.Level || !inc.State.LevelEscalatedAt.Equal(seen.LevelEscalatedAt) {
				// Escalated since it was read (the ladder's timeout,
				// another person; LevelEscalatedAt is set by every
				// escalation, the last level's restart too):
				// escalating again would page the new level twice, or
				// skip one. A priority raise or an auto-escalation
				// also restarts the level, but re-pages it and
				// escalates nothing: the person's escalation still
				// stands.
				if ev.FromLevelSet {
					// Said so, so the person is not told they
					// escalated it.
					return nil, false, ErrAlreadyEscalated
				}
				return nil, false, nil
			}
		}
		now = s.clock()
		eng := policy.Engine{Config: cfg}
		var st policy.Incident
		var err error
		st, acts, err = eng.Apply(inc.State, ev, now)
		if errors.Is(err, policy.ErrResolved) {
			return nil, false, ErrAlreadyResolved
		}
		if errors.Is(err, policy.ErrAlreadyEscalated) {
			return nil, false, ErrAlreadyEscalated
		}
		if errors.Is(err, policy.ErrReopenedSince) {
			return nil, false, ErrReopenedSince
		}
		if errors.Is(err, policy.ErrRaisedSince) {
			return nil, false, ErrRaisedSince
		}
		if errors.Is(err, policy.ErrAcknowledgedSince) {
			return nil, false, ErrAcknowledgedSince
		}
		if err != nil {
			return nil, false, &refusal{ErrBadInput, err.Error()}
		}
		if len(acts) == 0 && reflect.DeepEqual(st, inc.State) && len(before) == 0 {
			// The guard's entries are written all the same: a
			// record that the event was applied (applyReport's).
			return nil, false, nil
		}
		inc.Outbox = append(inc.Outbox, Reopened(inc, st, now)...)
		inc.State, inc.UpdatedAt = st, now
		if edit != nil && len(acts) > 0 {
			edit(inc)
		}
		// Telling PagerDuty of an acknowledgement or resolve is stored
		// with it, as work the dispatcher does (and retries), when a page
		// of the incident went there (or the record is too old to say).
		if !inc.NotPushedToPagerDuty {
			inc.Outbox = append(inc.Outbox, forwards(acts, inc.Version, now)...)
		}
		inc.Outbox = append(inc.Outbox, ChatItems(cfg, inc.Service, acts, now)...)
		inc.Outbox = append(inc.Outbox, pushoverItems(cfg, acts, inc.Version, now)...)
		inc.Outbox = append(inc.Outbox, twilioItems(cfg, acts, inc.Version, now)...)
		// silences may take items out of inc.Outbox: called first, as
		// Go leaves open whether an operand is read before or after a
		// call in the same expression.
		owed := silences(cfg, inc, acts, now)
		inc.Outbox = append(inc.Outbox, owed...)
		wrote = true
		return append(before, actionEntries(acts, ev)...), true, nil
	})
	switch {
	case errors.Is(err, ErrAlreadyResolved), errors.Is(err, ErrAlreadyEscalated), errors.Is(err, ErrReopenedSince), errors.Is(err, ErrRaisedSince),
		errors.Is(err, ErrAcknowledgedSince):
		return inc, nil, err
	case errors.As(err, new(*refusal)):
		// As read: a storm bundle's answer names the incident refused.
		return inc, nil, err
	case err != nil:
		return nil, nil, err
	case !wrote:
		return inc, nil, nil
	}
	for _, a := range acts {
		if a.Kind == policy.ActionAck && inc.State.AcknowledgedAt.Equal(now) {
			s.m.timeToAck.Observe(now.Sub(inc.State.TriggeredAt).Seconds())
		}
	}
	s.logAction(inc, ev, acts)
	s.acted(inc, acts)
	s.wakeIfDue(inc, now)
	return inc, acts, nil
}

// actionEntries are the timeline entries of acts, done on ev: the resolve
// of one its sender sent says when pagerd received it (policy.Event.Received).
func actionEntries(acts []policy.Action, ev policy.Event) []store.Entry {
	tl := store.ActionEntries(acts, ev.Actor)
	if !ev.Received.IsZero() {
		for i := range tl {
			if tl[i].Type == string(policy.ActionResolve) {
				tl[i].Received = ev.Received
			}
		}
	}
	return tl
}

// Note appends entries to an incident's timeline without changing it.
func (s *Service) Note(ctx context.Context, id string, entries ...store.Entry) error {
	_, err := s.update(ctx, id, nil, func(*store.Incident) ([]store.Entry, bool, error) { return entries, true, nil })
	return err
}

// actionLogs are the log messages of what people do to incidents.
var actionLogs = map[policy.EventKind]string{
	policy.EventAcknowledge:  "incident acknowledged",
	policy.EventResolve:      "incident resolved",
	policy.EventEscalate:     "incident escalated",
	policy.EventStatusUpdate: "incident status update",
}

// acted reports what a write made the escalation machine do (Options.Acted).
func (s *Service) acted(inc *store.Incident, acts []policy.Action) {
	if s.o.Acted != nil {
		s.o.Acted(inc, acts)
		return
	}
	LogPagedNobody(s.log, inc, acts)
}

// LogPagedNobody warns about every escalation among acts that reached
// nobody (policy.Action.PagedNobody): the tiers it pages are in a gap, so
// a page was missed, and whoever runs pagerd must hear of it, not only
// whoever reads the incident's timeline.
func LogPagedNobody(log *slog.Logger, inc *store.Incident, acts []policy.Action) {
	for _, a := range acts {
		if a.PagedNobody {
			log.Warn("escalation paged nobody: nobody is on call for it", "incident", inc.ID, "service", inc.Service,
				"priority", inc.State.Priority, "escalation_level", a.Level+1, "level", a.LevelName, "detail", a.Detail)
		}
	}
}

// logAction says who acknowledged, resolved, escalated or updated an
// incident, once it is stored: the log must answer "who acked that?".
func (s *Service) logAction(inc *store.Incident, ev policy.Event, acts []policy.Action) {
	msg, ok := actionLogs[ev.Kind]
	if !ok || len(acts) == 0 {
		return
	}
	st := inc.State
	s.log.Info(msg, "incident", inc.ID, "service", inc.Service, "actor", ev.Actor, "status", st.Status,
		"priority", st.Priority, "escalation_level", st.Level+1)
}

// wakeIfDue wakes the dispatchers when a write left a step due already (a
// new incident's first page, an escalation's first page).
func (s *Service) wakeIfDue(inc *store.Incident, now time.Time) {
	if s.o.Wake == nil {
		return
	}
	if at, ok := store.DueAt(inc); ok && !at.After(now) {
		s.o.Wake()
	}
}

// clock is now in UTC to the millisecond: what the stores keep, and shorter
// to store than nanoseconds in a local zone.
func (s *Service) clock() time.Time { return s.o.Now().UTC().Truncate(time.Millisecond) }
