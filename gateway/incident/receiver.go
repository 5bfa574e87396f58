package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/textcut"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

// The Service is what the providers' callbacks act through.
var _ notify.Receiver = (*Service)(nil)

// actionEvents are the state machine's events for what a person does from
// a provider.
var actionEvents = map[notify.Action]policy.EventKind{
	notify.Acknowledge: policy.EventAcknowledge,
	notify.Resolve:     policy.EventResolve,
	notify.Escalate:    policy.EventEscalate,
}

// Classify marks an error with the notify error of its class, for a
// provider's callback (or the console) to tell the person what is true,
// as every channel words it (notify.NotRecorded): a store's
// not-found as notify.ErrNotFound, a write that may have happened as
// notify.ErrOutcomeUnknown, a store that could not be reached as
// notify.ErrUnavailable, a write that lost to other writers past the
// retries as notify.ErrConflict and a refusal of the Service's as
// notify.ErrRefused. The HTTP layer still sees the store's errors.
func Classify(err error) error {
	var class []error
	switch {
	case err == nil:
		return nil
	case isNotFound(err):
		class = []error{notify.ErrNotFound}
	case errors.Is(err, store.ErrOutcomeUnknown):
		class = []error{notify.ErrOutcomeUnknown, notify.ErrUnavailable}
	case errors.Is(err, store.ErrUnavailable):
		class = []error{notify.ErrUnavailable}
	case errors.Is(err, store.ErrConflict):
		class = []error{notify.ErrConflict}
	case errors.Is(err, ErrConflict), errors.Is(err, ErrBadInput), errors.Is(err, ErrNotYours):
		class = []error{notify.ErrRefused}
	default:
		return err
	}
	return &classed{err, class}
}

// classed is an error that also matches the notify errors of its class,
// its message unchanged (a refusal's says why, and a person may hear it).
type classed struct {
	err   error
	class []error
}

func (c *classed) Error() string   { return c.err.Error() }
func (c *classed) Unwrap() []error { return append([]error{c.err}, c.class...) }

// stormGone is Classify for a storm bundle: notify.ErrStormGone too.
func stormGone(err error) error {
	if isNotFound(err) {
		return &classed{err, []error{notify.ErrNotFound, notify.ErrStormGone}}
	}
	return Classify(err)
}

// Act has user act on an incident, or on every incident of a storm bundle
// sent to them (notify.Receiver).
func (s *Service) Act(ctx context.Context, target, user string, a notify.Action) (notify.Acted, error) {
	kind, ok := actionEvents[a]
	if !ok {
		return notify.Acted{}, &refusal{ErrBadInput, fmt.Sprintf("unknown action %q", a)}
	}
	if store.IsBundleID(target) {
		out, err := s.ActOnBundle(ctx, target, user, policy.Event{Kind: kind})
		return s.actedOnBundle(kind, out, err)
	}
	if err := s.viewerPaged(ctx, target, user); err != nil {
		return notify.Acted{}, Classify(err)
	}
	return s.act(ctx, target, policy.Event{Kind: kind, Actor: user})
}

// actedOnBundle is the answer to an action on a storm bundle: what it did,
// incident by incident. When the store failed some of the writes after
// others were stored, the answer says both, which incidents took the
// action and how many did not: "NOT recorded" for the whole message would
// leave the person believing that the incidents acknowledged still page.
func (s *Service) actedOnBundle(kind policy.EventKind, out *BundleOutcome, err error) (notify.Acted, error) {
	if err != nil && (out == nil || len(out.Done) == 0) {
		return notify.Acted{}, stormGone(err)
	}
	if err != nil {
		s.log.Error("storm message acted on in part: the store failed some of the writes; the person was told which", "bundle", out.Bundle.ID,
			"event", kind, "done", len(out.Done), "failed", len(out.Failed), "err", err)
	}
	return notify.Acted{Storm: out.Describe(kind, s.o.Config().UserName), NotStored: len(out.Failed)}, nil
}

// viewerPaged refuses a viewer (role: viewer) acting on an incident that
// was never paged to them: a viewer reads, but a page asks its person to
// answer it, so acknowledging, escalating or resolving what was paged to
// them stays theirs. A Slack channel message's buttons are there for
// anyone in the channel; the other ways in (a reply, a key, a link) only
// reach the person paged.
func (s *Service) viewerPaged(ctx context.Context, id, user string) error {
	u := s.o.Config().User(user)
	if u == nil || u.Role != policy.RoleViewer {
		return nil
	}
	tl, err := s.o.Store.Timeline(ctx, id)
	if err != nil {
		return err
	}
	for _, e := range tl {
		if (e.Type == "notify" || e.Type == "notify_failed") && e.User == user {
			return nil
		}
	}
	return &refusal{ErrNotYours, fmt.Sprintf("%s is a viewer, and pagerd acts for a viewer only on incidents paged to them", u.Name)}
}

// act applies ev to one incident and says what it did.
func (s *Service) act(ctx context.Context, target string, ev policy.Event) (notify.Acted, error) {
	inc, acts, err := s.Apply(ctx, target, ev)
	already := errors.Is(err, ErrAlreadyEscalated)
	since := errors.Is(err, ErrReopenedSince)
	if err != nil && !isResolved(err) && !already && !since {
		return notify.Acted{}, Classify(err)
	}
	st := inc.State
	// A resolve of a resolved incident is no error to the state machine
	// (resolving is idempotent: a resolved alert sent again), but to the
	// person it must not read as "Resolved" by them: it was so already.
	resolved := isResolved(err) || (ev.Kind == policy.EventResolve && len(acts) == 0 && st.Status == policy.StatusResolved)
	// Who acted is named as a person hears it: a configured user's
	// display name (as "already escalated by" names them), any other
	// actor (an API key, "api:ops") by its id.
	cfg := s.o.Config()
	out := notify.Acted{Changed: len(acts) > 0, AlreadyResolved: resolved, AlreadyEscalated: already, ReopenedSince: since,
		Incident: inc.ID, Service: inc.Service, Priority: st.Priority, Summary: inc.Summary,
		AcknowledgedBy: cfg.UserName(st.AcknowledgedBy), AcknowledgedAt: st.AcknowledgedByAt(),
		ResolvedBy: cfg.UserName(st.ResolvedBy), ResolvedAt: st.ResolvedAt,
		Level: st.Level + 1, LevelName: cfg.IncidentLevelName(&st), EscalatedAt: st.LevelStartedAt}
	if already {
		out.EscalatedBy = s.escalatedBy(ctx, inc)
	}
	return out, nil
}

// EscalateFrom has user escalate an incident from the level of the page
// they answer, once (notify.Receiver): when it has left that level
// already, or an escalation started it again after the page went out,
// nothing changes and the answer says where it is and who took it there.
// A level not known, or a storm message, escalates as Act does.
func (s *Service) EscalateFrom(ctx context.Context, user string, page notify.Page) (notify.Acted, error) {
	if page.Level < 1 || store.IsBundleID(page.Target) {
		return s.Act(ctx, page.Target, user, notify.Escalate)
	}
	if err := s.viewerPaged(ctx, page.Target, user); err != nil {
		return notify.Acted{}, Classify(err)
	}
	return s.act(ctx, page.Target, policy.Event{Kind: policy.EventEscalate, Actor: user,
		FromLevel: page.Level - 1, FromLevelSet: true, FromLevelAt: page.At})
}

// AcknowledgePage has user acknowledge an incident as the answer to a page
// sent when it had been reopened page.Reopened times (notify.Receiver):
// when it has been reopened since, nothing changes, the timeline says so
// (ack_ignored) and the answer does (ReopenedSince). The check is the
// state machine's, on the incident as it is written. A storm message's
// page acknowledges each of its incidents with the count kept in its
// bundle (store.Bundle.Reopened): those reopened since are left alone,
// the others acknowledged. Made in another system (page.Source), its
// note, page.Note, goes with the acknowledgement into the timeline.
func (s *Service) AcknowledgePage(ctx context.Context, user string, page notify.Page) (notify.Acted, error) {
	actor := s.pageActor(user, page)
	if store.IsBundleID(page.Target) {
		out, err := s.acknowledgeBundle(ctx, page.Target, user, actor)
		return s.actedOnBundle(policy.EventAcknowledge, out, err)
	}
	if err := s.viewerPaged(ctx, page.Target, user); err != nil {
		return notify.Acted{}, Classify(err)
	}
	note := ""
	if page.Source != "" {
		note = textcut.Line(page.Note, policy.MaxNoteBytes)
	}
	if page.ReopenedUnknown {
		// Recorded without its count: it may be the latest page.
		return s.act(ctx, page.Target, policy.Event{Kind: policy.EventAcknowledge, Actor: actor, Note: note})
	}
	out, err := s.act(ctx, page.Target, policy.Event{Kind: policy.EventAcknowledge, Actor: actor, Note: note,
		AckReopened: page.Reopened, AckReopenedSet: true})
	if err == nil && out.ReopenedSince {
		s.NoteAckIgnored(ctx, page.Target, actor, page.Reopened)
	}
	return out, err
}

// pageActor is who answered page, sent to user: user, or, made in another
// system (page.Source), whoever it names: the timeline, the reports and
// the Slack card must not say the person paged did it when someone else
// did.
func (s *Service) pageActor(user string, page notify.Page) string {
	if page.Source == "" {
		return user
	}
	return s.o.Config().ExternalActor(page.Source, page.By)
}

// ResolvePage has user, or whoever another system names (page.Source,
// page.By), resolve page.Target, paged to user (notify.Receiver).
func (s *Service) ResolvePage(ctx context.Context, user string, page notify.Page) (notify.Acted, error) {
	actor := s.pageActor(user, page)
	if store.IsBundleID(page.Target) {
		out, err := s.ActOnBundle(ctx, page.Target, user, policy.Event{Kind: policy.EventResolve, Actor: actor})
		return s.actedOnBundle(policy.EventResolve, out, err)
	}
	if err := s.viewerPaged(ctx, page.Target, user); err != nil {
		return notify.Acted{}, Classify(err)
	}
	return s.act(ctx, page.Target, policy.Event{Kind: policy.EventResolve, Actor: actor})
}

// AcknowledgeBundle has user acknowledge the incidents of a storm bundle
// as the answer to its message: each with the reopen count its page in
// the message was held with (store.Bundle.Reopened), so those reopened
// since are left alone, each noted ack_ignored, and the others
// acknowledged.
func (s *Service) AcknowledgeBundle(ctx context.Context, id, user string) (*BundleOutcome, error) {
	return s.acknowledgeBundle(ctx, id, user, user)
}

// acknowledgeBundle is AcknowledgeBundle for a message sent to user that
// actor acknowledged: user, or whoever another system says did
// (AcknowledgePage).
func (s *Service) acknowledgeBundle(ctx context.Context, id, user, actor string) (*BundleOutcome, error) {
	out, err := s.ActOnBundle(ctx, id, user, policy.Event{Kind: policy.EventAcknowledge, Actor: actor, AckReopenedSet: true})
	if out == nil {
		return nil, err
	}
	for _, inc := range out.ReopenedSince {
		s.NoteAckIgnored(ctx, inc.ID, actor, out.Bundle.Reopened[slices.Index(out.Bundle.Incidents, inc.ID)])
	}
	return out, err
}

// NoteAckIgnored says in an incident's timeline that user's
// acknowledgement of a page sent when it had been reopened reopened times
// was not applied: whoever wonders why pages go on after it finds it
// there. The answer does not hang on it: nothing was changed.
func (s *Service) NoteAckIgnored(ctx context.Context, id, user string, reopened int) {
	e := store.Entry{At: s.clock(), Type: "ack_ignored", Actor: user, User: user,
		Detail: fmt.Sprintf("acknowledgement of a page sent before the incident's latest reopen (it had been reopened %d times then): not applied, the pages since go on", reopened)}
	if err := s.Note(ctx, id, e); err != nil {
		s.log.Warn("recording an acknowledgement not applied", "incident", id, "user", user, "err", err)
	}
}

// ignoredEntries are the timeline entry types of an action made in another
// system and not applied (NotApplied).
var ignoredEntries = map[notify.Action]string{
	notify.Acknowledge: "ack_ignored",
	notify.Resolve:     "resolve_ignored",
	notify.Escalate:    "escalate_ignored",
}

// NotApplied notes in the timeline of page.Target, or of each incident of
// a storm message still open, that action a made in another system on the
// page pushed there to user was not applied, and why (notify.Receiver).
// An incident resolved is not noted (checked with the write, for one
// incident): the resolve pagerd passed on to that system comes back as
// that system's, and the note would say an incident stays open that is
// not. The entry names whoever that system says did it (page.By, as
// AcknowledgePage records them) and the person the page was pushed to.
// A note an incident's timeline holds already, but for its time, is not
// written again (notedAlready): the other system delivers its callbacks at
// least once.
func (s *Service) NotApplied(ctx context.Context, user string, page notify.Page, a notify.Action, why string) (notify.Acted, error) {
	e := store.Entry{At: s.clock(), Type: ignoredEntries[a], Actor: s.pageActor(user, page), User: user, Detail: why}
	if e.Type == "" {
		e.Type = string(a) + "_ignored"
	}
	if store.IsBundleID(page.Target) {
		b, err := s.o.Store.GetBundle(ctx, page.Target)
		if err != nil {
			return notify.Acted{}, stormGone(err)
		}
		statuses, err := s.o.Store.Statuses(ctx, b.Incidents)
		if err != nil {
			return notify.Acted{}, Classify(err)
		}
		e.Bundle = b.ID
		notes := map[string][]store.Entry{}
		for _, id := range b.Incidents {
			if st, ok := statuses[id]; ok && st != policy.StatusResolved {
				notes[id] = []store.Entry{e}
			}
		}
		if len(notes) == 0 {
			return notify.Acted{Incident: page.Target, AlreadyResolved: true}, nil
		}
		// The note goes to all of them in one write, so the first open
		// one's timeline tells whether this was noted: one read, not one
		// for each of the message's incidents (thousands, in a flood),
		// each of them its own round trip.
		first := b.Incidents[slices.IndexFunc(b.Incidents, func(id string) bool { return notes[id] != nil })]
		if s.notedAlready(ctx, first, e) {
			return notify.Acted{Incident: page.Target}, nil
		}
		return notify.Acted{Incident: page.Target}, Classify(s.o.Store.Note(ctx, notes))
	}
	if s.notedAlready(ctx, page.Target, e) {
		inc, err := s.o.Store.Get(ctx, page.Target)
		if err != nil {
			return notify.Acted{}, Classify(err)
		}
		return notify.Acted{Incident: inc.ID, Service: inc.Service, Priority: inc.State.Priority, Summary: inc.Summary,
			AlreadyResolved: inc.State.Status == policy.StatusResolved}, nil
	}
	resolved := false
	inc, err := s.update(ctx, page.Target, nil, func(inc *store.Incident) ([]store.Entry, bool, error) {
		resolved = inc.State.Status == policy.StatusResolved
		return []store.Entry{e}, !resolved, nil
	})
	if err != nil {
		return notify.Acted{}, Classify(err)
	}
	return notify.Acted{Incident: inc.ID, Service: inc.Service, Priority: inc.State.Priority, Summary: inc.Summary, AlreadyResolved: resolved}, nil
}

// notedAlready reports whether the timeline of incident id holds the note
// e already, but for its time: the other system delivers its callback at
// least once, and again after a 5xx (PagerDuty's webhooks), and what it
// did that was not applied is noted once, not once per delivery. A
// timeline that cannot be read says no: noted twice rather than not at
// all.
func (s *Service) notedAlready(ctx context.Context, id string, e store.Entry) bool {
	tl, err := s.o.Store.Timeline(ctx, id)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(tl, func(x store.Entry) bool {
		return x.Type == e.Type && x.Detail == e.Detail && x.User == e.User && x.Actor == e.Actor && x.Bundle == e.Bundle &&
			x.Channel == e.Channel && x.Ref == e.Ref
	})
}

// escalatedBy is who escalated the incident to where it is: the name of
// the actor of the newest escalation in its timeline; "" for a level's
// timeout (the dispatcher's, actor "pagerd"), or when the timeline cannot
// be read (the answer only leaves out the name).
func (s *Service) escalatedBy(ctx context.Context, inc *store.Incident) string {
	tl, err := s.o.Store.Timeline(ctx, inc.ID)
	if err != nil {
		return ""
	}
	for i := len(tl) - 1; i >= 0; i-- {
		if tl[i].Type == string(policy.ActionEscalate) {
			if a := tl[i].Actor; a != "" && a != "pagerd" {
				return s.o.Config().UserName(a)
			}
			return ""
		}
	}
	return ""
}

// Delivered records a provider's delivery report, and a page that did not
// arrive brings the person's next step forward (notify.Receiver).
func (s *Service) Delivered(ctx context.Context, target string, d notify.Delivery) error {
	// The provider took the page, so it counts as sent; that it never
	// arrived shows here or nowhere outside the timeline.
	result := "delivered"
	if d.Failed {
		result = "failed"
		s.log.Warn("page not delivered, the provider reports", "incident", target, "user", d.User, "channel", d.Channel, "report", d.Detail)
	}
	s.m.deliveries.WithLabelValues(d.Channel, result).Inc()
	// The report names its page by the provider's id of it (Twilio's
	// SID, as its page's ref has it), which whoever reads the timeline
	// matches to the page, or looks up at the provider, and by when it
	// went out, for a page recorded without one (by an older version).
	e := store.Entry{At: s.clock(), Type: "delivery", User: d.User, Channel: d.Channel, Detail: d.Detail, PageAt: d.PageAt, Ref: d.Ref}
	if d.Failed {
		e.Type, e.Unreached = DeliveryFailed, d.Unreached
	}
	// It did not reach them: their next step (the call) comes now.
	ev := reportEvent(e, "")
	var unmatched bool       // its page not found in its wait (reportedStep)
	var waited time.Duration // how long that wait was
	var again bool           // its page (in every incident: its storm message) reported reaching nobody already, and applied
	var seen bool            // its page reported reaching nobody already, applied or not
	if d.Failed && d.Unreached && !store.IsBundleID(target) {
		// It reached nobody: it counts toward a level nobody at which
		// was reached, as a page refused at once does, by its step.
		// Found before the report is noted: a report that comes while
		// the dispatcher is still recording its page waits for that
		// record (reportedStep), and noted first, it made that record
		// a write the incident changed under.
		ev.Step, unmatched, again, waited = s.reportedStep(ctx, target, d)
		// Sent again after a 503 (the store refused to bring the step
		// forward), it must still do what the first could not.
		seen, again = again, again && s.reportApplied(ctx, target, "", d)
	}
	var steps map[string]string
	var appliedIn map[string]bool // incidents of the storm message that applied its report already
	var seenIn map[string]bool    // incidents of the storm message that held its report already, applied or not
	if d.Failed && d.Unreached && store.IsBundleID(target) {
		// A storm message that reached nobody: each incident it carried
		// counts its page in it toward its own level, by the step the
		// message was sent for in that incident. The same report again
		// moves nothing in an incident that applied the first, as for
		// a page sent on its own; again in every one, nothing at all.
		steps, appliedIn, seenIn, again = s.bundleSteps(ctx, target, d)
	}
	var err error
	switch {
	case again || len(appliedIn) > 0:
		// The same report again (a callback sent twice, a signed report
		// replayed), the first applied: the first brought the person's
		// next step forward; applied again, it brought the step after
		// that forward too (a second call seconds after the first, the
		// one meant for ten minutes later). Noted once, it moves nothing.
		err = s.noteOnce(ctx, target, e)
	case d.Again && !d.Failed && d.Ref != "":
		// A report the provider delivers at least once, and again after
		// a 5xx (Pushover's receipt callback of a storm message stored in
		// part), named by its id: noted once in each timeline.
		err = s.noteOnce(ctx, target, e)
	case store.IsBundleID(target):
		_, err = s.NoteBundle(ctx, target, e)
	default:
		err = s.Note(ctx, target, e)
	}
	var readErr error
	if unmatched && err == nil {
		// Its page may have been recorded since the wait's last look:
		// the write that recorded it, not finding this report, left it
		// to the report (recordedBefore).
		ev.Step, unmatched, readErr = s.recordedBefore(ctx, target, d)
	}
	if unmatched {
		s.m.unmatched.WithLabelValues(d.Channel).Inc()
		if readErr != nil {
			s.log.Warn("a page reported reaching nobody could not be looked for in its incident's timeline (the store refused the read): it counts as gone out until the dispatcher records it, and the level keeps its timeout until then",
				"incident", target, "user", d.User, "channel", d.Channel, "waited", waited.String(), "err", readErr)
		} else {
			s.log.Warn("a page reported reaching nobody is not in its incident's timeline (not recorded yet, or lost): it counts as gone out until the dispatcher records it, and the level keeps its timeout until then",
				"incident", target, "user", d.User, "channel", d.Channel, "waited", waited.String())
		}
	}
	if err == nil && d.Failed && !again {
		if store.IsBundleID(target) {
			_, err = s.actOnBundle(ctx, target, d.User, ev, func(id string, ev policy.Event) (*store.Incident, []policy.Action, error) {
				if appliedIn[id] {
					// Applied by the first: nothing to write, nor read.
					return &store.Incident{ID: id}, nil, nil
				}
				ev.Step = steps[id]
				return s.applyReport(ctx, id, target, d, seenIn[id], ev)
			})
		} else {
			_, _, err = s.applyReport(ctx, target, "", d, seen, ev)
		}
		// The report is in the timeline: a 503 must not say nothing was
		// stored.
		err = store.PartlyStored(err)
	}
	if isNotFound(err) || isResolved(err) {
		return nil
	}
	return err
}

// noteOnce notes e in the timeline of target, or of each incident of the
// storm bundle target, that does not hold it already, but for its time
// (notedAlready). Of a bundle, the first incident's timeline is read, and
// the others' only when it holds e: a first delivery whose note of the
// first incident the store refused, and took for others, notes those
// twice when delivered again.
func (s *Service) noteOnce(ctx context.Context, target string, e store.Entry) error {
	if !store.IsBundleID(target) {
		if s.notedAlready(ctx, target, e) {
			return nil
		}
		return s.Note(ctx, target, e)
	}
	b, err := s.o.Store.GetBundle(ctx, target)
	if err != nil {
		return err
	}
	e.Bundle = b.ID
	// The first incident's timeline tells a report delivered before from
	// one delivered now for the first time, which notes every incident
	// without reading the others' timelines: one read each, one after
	// another in the provider's callback, was thousands for a flood's
	// message. A report delivered again reads each, to note the rest
	// (the first delivery's notes the store took for some only).
	again := len(b.Incidents) > 0 && s.notedAlready(ctx, b.Incidents[0], e)
	notes := make(map[string][]store.Entry, len(b.Incidents))
	for i, id := range b.Incidents {
		if !again || i > 0 && !s.notedAlready(ctx, id, e) {
			notes[id] = []store.Entry{e}
		}
	}
	if len(notes) == 0 {
		return nil
	}
	return s.o.Store.Note(ctx, notes)
}

// applyReport applies ev, a delivery report's, to the incident id.
// Twilio does not send a delivery report again, whatever the answer: if
// bringing the step forward fails here, the call comes only at its own
// time. So a store that refuses it is asked again, within the request's
// time, before giving up; for a storm message, each incident whose write
// failed, not the message: the others' stood, and applied again the event
// brought a second step forward in them. A write that may have been
// stored (store.ErrOutcomeUnknown) is tried again only on the incident as
// that write read it (its version): stored, it changed the version, and
// applied again the event would bring a second step forward too. d is the
// report, whose page is the incident's in the storm message bundle, or
// with none, one sent on its own: a report that it reached nobody is not
// applied where another copy of it was, as the write reads the incident
// (appliedByAnother; seen: Delivered found a report of the page in the
// incident's timeline before noting this one), and the write that
// applies one that names its page's step records so with the change
// (ReportApplied), in the same atomic write.
func (s *Service) applyReport(ctx context.Context, id, bundle string, d notify.Delivery, seen bool, ev policy.Event) (inc *store.Incident, acts []policy.Action, err error) {
	var based int64  // the version the last try's write was made on
	var unsure error // a try's write that may have been stored
	changed := false // the incident changed since that write's read: not tried again
	g := func(inc *store.Incident) ([]store.Entry, bool, error) {
		if changed = unsure != nil && inc.Version != based; changed {
			return nil, false, nil
		}
		based = inc.Version
		if !d.Unreached {
			return nil, true, nil
		}
		// Checked on the incident as written: another copy of the
		// report, at the same instant, may have applied it since
		// Delivered looked (appliedByAnother).
		applied, err := s.appliedByAnother(ctx, inc, bundle, d, seen)
		if err != nil || applied {
			return nil, false, err
		}
		// Applied, a report that names its page's step says so in the
		// same write, even when it changes nothing else: a copy of it,
		// now or later, finds that and applies nothing, whatever this
		// one brought forward. One that names none (it found another
		// copy's report in the timeline, and left the step to that
		// one) records nothing: recorded, it kept the copy that names
		// the step from counting it, and a level nothing of which
		// reached anyone waited out its timeout.
		if e, ok := appliedEntry(bundle, d, s.clock()); ok && ev.Step != "" {
			return []store.Entry{e}, true, nil
		}
		return nil, true, nil
	}
	for wait := deliveredRetry; ; wait *= 3 {
		inc, acts, err = s.applyGuarded(ctx, id, nil, ev, nil, g)
		if errors.Is(err, store.ErrOutcomeUnknown) {
			unsure = err
		}
		if !errors.Is(err, store.ErrUnavailable) || wait > deliveredRetryMax || !sleepCtx(ctx, wait) {
			break
		}
	}
	if changed {
		// Stored by that write, or written by another since: the
		// answer says it may not have been.
		s.log.Warn("a page reported not delivered: the write that brings the person's next step forward may or may not have been stored, and the incident changed since; not applied again, which would bring a second step forward",
			"incident", id, "user", ev.Actor, "channel", ev.Channel, "err", unsure)
		return nil, nil, unsure
	}
	return inc, acts, err
}

// reportEvent is the state machine's event for a provider's report (e)
// that a page did not reach its person: their next step comes forward to
// now, and with step, the page's step counts as reaching nobody
// (policy.Event.Step), so a level nothing of which reached anyone pages
// the next level at once. Delivered applies it when the report comes; the
// dispatcher, through EarlyReports, when it records a page the report
// named before it was recorded.
func reportEvent(e store.Entry, step string) policy.Event {
	return policy.Event{Kind: policy.EventChannelFailed, Actor: e.User, Channel: e.Channel, Step: step}
}

// EarlyReports are the events of the delivery reports in tl, an incident's
// timeline, that a page among pages (entries about to be recorded) reached
// nobody, each of which came before its page was recorded: a claim held
// up by a slow send beside the page (an email server's 30 s) past the 2 s
// the report waits for its page (reportedStep). Such a report found no
// page: it brought the person's next step forward, and its page counted
// as gone out. The write that records the page applies the rest, as if
// the report had come after it: the page's step counts as reaching
// nobody (reportEvent, with policy.Event.BroughtForward, as the next step
// came forward already). A page is named by its provider's id (Ref), by
// the person's report on its channel that says it reached nobody
// (Entry.Unreached); a page already in tl (recorded twice) is not: its
// report, if it came after it, was applied then. Pages of a storm
// message are left out: a storm message's page is recorded in each of
// its incidents by notes, not by a claim's write (EarlyBundleReport).
// Each page counts once
// however often it was reported. channels are the pages' channels, one
// for each event, for the count of reports applied late.
func EarlyReports(tl, pages []store.Entry) (events []policy.Event, channels []string) {
	for _, p := range pages {
		if !EarlyReportable(p) {
			continue
		}
		reported, recorded := false, false
		for _, e := range tl {
			page, unreached := ownPageEntry(e, p.User, p.Channel, p.Ref)
			recorded, reported = recorded || page, reported || unreached
		}
		if reported && !recorded {
			ev := reportEvent(p, p.Step)
			ev.BroughtForward = true
			events, channels = append(events, ev), append(channels, p.Channel)
		}
	}
	return events, channels
}

// EarlyReportable reports whether p, a page about to be recorded, is one
// that a delivery report noted before it can name (EarlyReports): a page
// sent on its own that went out, recorded with the provider's id of it
// (Entry.Ref) and its step. The write that records pages reads the
// incident's timeline for such reports only when one of its pages is one.
func EarlyReportable(p store.Entry) bool {
	return p.Bundle == "" && p.Type == "notify" && p.Ref != "" && p.Step != ""
}

// ownPageEntry says what e is of the page sent on its own to user on
// channel that the provider knows by ref (Twilio's SID): its record, gone
// out or failed (page: notify, notify_failed), or a delivery report that
// it reached nobody (unreached); neither when e is about anything else:
// another page, or a storm message, whose entries carry its bundle and
// whose reports are matched by it (EarlyBundleReport, bundlePageStep). It
// is the one test of which entries are a page's that a delivery report's
// look (pageStep, recordedBefore) and the write that records the page
// (EarlyReports) make.
func ownPageEntry(e store.Entry, user, channel, ref string) (page, unreached bool) {
	if e.Bundle != "" || e.User != user || e.Channel != channel || e.Ref != ref {
		return false, false
	}
	return e.Type == "notify" || e.Type == "notify_failed", e.Type == DeliveryFailed && e.Unreached
}

// EarlyBundleReport is the event of the delivery report in tl, an
// incident's timeline, that the storm message bundle reached nobody, when
// the report was noted before the incident's page in the message (the
// message's notes held up past the report's wait, which found no page in
// the incident): the incident's page in it counts as reaching nobody, by
// its step, the person's next step having come forward already
// (EarlyReports). The flush that wrote the notes applies it, once; a
// report noted after the page found it, and counted it then. ok is false
// when there is none such, or the page has no step.
func EarlyBundleReport(tl []store.Entry, bundle string) (ev policy.Event, ok bool) {
	reported := false
	for _, e := range tl {
		if e.Bundle != bundle {
			continue
		}
		switch {
		case e.Type == DeliveryFailed && e.Unreached:
			reported = true
		case e.Type == "notify" && reported && e.Step != "":
			ev = reportEvent(e, e.Step)
			ev.BroughtForward = true
			return ev, true
		case e.Type == "notify" || e.Type == "notify_failed":
			return policy.Event{}, false
		}
	}
	return policy.Event{}, false
}

// reportedStep is the step of the page a delivery report is about, as
// recorded with the page (store.Entry.Step): the page Twilio created with
// the report's SID (an SMS's or a call's, kept as Entry.Ref), else the person's page
// on the channel sent at the time the callback carries. "" when the page
// is not found or was recorded without its step (by an older replica, or
// from an earlier write), or when the timeline cannot be read: the page
// then counts as gone out and the level keeps its timeout, the safe side.
// A report about a page of an earlier level, or of the same level before
// a repeat or a reopen, names a step the state machine no longer counts
// (policy.Incident.LevelPages), so it moves no level. The same report
// delivered again (Twilio calling back twice, a signed report replayed:
// the timeline has its page's report already) names none: the state
// machine counts a step once among the level's pages, but takes its
// channel out of the person's later steps each time it is named
// (policy.Event.Step), and after an escalation those are no longer the
// level's, so a second report took out the channel of a page that
// reached them.
//
// The dispatcher records a page once the provider took it, with the
// claim's other pages, and Twilio may report a failure (a landline, a
// busy line) within that moment: a page not found yet is looked for
// again, for up to recordWait. Twilio does not send the report again
// for a 5xx (a status callback is retried only when it cannot connect),
// so the wait is pagerd's, within the request's time; a page still not
// found then counts as gone out until the dispatcher records it, and the
// log says so: the report's entry (Entry.Unreached, with the page's Ref)
// has the write that records the page count its step (EarlyReports).
//
// again is whether the timeline holds a report of the page's SID that it
// reached nobody already: this is the same report again, which moves
// nothing once the first was applied (Delivered, reportApplied).
func (s *Service) reportedStep(ctx context.Context, id string, d notify.Delivery) (step string, unmatched, again bool, waited time.Duration) {
	if d.Ref == "" && d.PageAt.IsZero() {
		return "", false, false, 0 // nothing to find it by (a callback URL older than at)
	}
	step, found, waited := s.recordedStep(ctx, id, d, time.Now().Add(recordWait), func(tl []store.Entry) (string, bool) {
		again = d.Ref != "" && reportsOf(tl, d) > 0
		return pageStep(tl, d)
	})
	return step, !found, again, waited
}

// recordedBefore is the step of the page a delivery report that found no
// page in its wait (reportedStep) is about, looked for once more after
// the report's entry is noted: a page whose record got in between the
// wait's last look and that note. The write that recorded it found no
// report to apply (incident.EarlyReports), so the report counts its step,
// unless the page's record came after a report of it that said it reached
// nobody (one noted before, Twilio's callback twice): that write counted
// it, nor when another report of it came after its record (Twilio's
// callback twice, the other one finding the page): that report counted
// it, or will (pageStep). unmatched: the page is still not recorded (the dispatcher applies
// the report when it records it) or is found by no SID (the report names
// none; a page recorded without one), or the timeline cannot be read
// (err says why, for the warning to say so).
func (s *Service) recordedBefore(ctx context.Context, id string, d notify.Delivery) (step string, unmatched bool, err error) {
	if d.Ref == "" {
		return "", true, nil
	}
	tl, err := s.o.Store.Timeline(ctx, id)
	if err != nil {
		if isNotFound(err) {
			return "", false, nil
		}
		return "", true, err
	}
	reported := false
	for i, e := range tl {
		page, unreached := ownPageEntry(e, d.User, d.Channel, d.Ref)
		switch {
		case unreached:
			reported = true
		case page && e.Type == "notify" && !reported && reportsOf(tl[i+1:], d) <= 1: // this report's alone
			return e.Step, false, nil
		case page:
			return "", false, nil // recorded after a report of it, which that write applied, or reported again
		}
	}
	return "", true, nil
}

// reportApplied reports whether the first report that d's page reached
// nobody was applied in incident id: its write recorded so
// (ReportApplied), or, for one applied without that record (by an older
// version, or by a copy that named no step), it brought the person's next
// step forward: since it was noted, a page of theirs on another channel
// was recorded, or a step of theirs on another channel is due and not
// sent yet. The page is the
// incident's in the storm message bundle, or with none, one sent on its
// own. The same report again then moves nothing (Delivered); one whose
// first delivery the store refused to apply (answered 503) applies as the
// first would have. A store that cannot say is taken as yes: a step
// brought forward twice pages the person twice, one not brought forward
// comes at its own time.
func (s *Service) reportApplied(ctx context.Context, id, bundle string, d notify.Delivery) bool {
	cannotSay := func(err error) bool {
		s.log.Warn("a delivery report that came again could not be checked against the first (the store refused the read): taken as applied, so it brings no step forward; the person's next step comes at its own time",
			"incident", id, "user", d.User, "channel", d.Channel, "err", err)
		return true
	}
	tl, err := s.o.Store.Timeline(ctx, id)
	if err != nil {
		return cannotSay(err)
	}
	if appliedRecord(tl, bundle, d) {
		return true
	}
	first, _, paged := firstReport(tl, bundle, d)
	if first.IsZero() || paged {
		return paged
	}
	inc, err := s.o.Store.Get(ctx, id)
	if err != nil {
		return cannotSay(err)
	}
	return broughtForward(inc, d, first, s.clock())
}

// firstReport is when the first report in tl, an incident's timeline,
// that d's page reached nobody was noted (zero: none), how many such
// reports tl holds, and whether a page of the person's on another channel
// was recorded since that first one (the step it brought forward went out
// already). The page is the incident's in the storm message bundle, or
// with none, one sent on its own (reportApplied).
func firstReport(tl []store.Entry, bundle string, d notify.Delivery) (first time.Time, reports int, paged bool) {
	for _, e := range tl {
		unreached := bundleReport(e, bundle, d)
		if bundle == "" {
			_, unreached = ownPageEntry(e, d.User, d.Channel, d.Ref)
		}
		if unreached {
			if reports++; first.IsZero() {
				first = e.At
			}
		}
		if !first.IsZero() && (e.Type == "notify" || e.Type == "notify_failed") && e.User == d.User && e.Channel != d.Channel && !e.At.Before(first) {
			paged = true
		}
	}
	return first, reports, paged
}

// broughtForward reports whether inc holds a step of d's person on
// another channel brought forward since first (a report that d's page
// reached nobody, noted then): due by now and not sent yet.
func broughtForward(inc *store.Incident, d notify.Delivery, first, now time.Time) bool {
	return slices.ContainsFunc(inc.State.Pending, func(p policy.Deadline) bool {
		return p.Kind == policy.DeadlineNotify && p.User == d.User && p.Channel != d.Channel && !p.At.Before(first) && !p.At.After(now)
	})
}

// appliedByAnother reports whether another copy of d's report, a report
// that its page reached nobody, brought the person's next step forward in
// inc already, as inc is read for the write that would apply this one
// (applyReport's guard, again after every conflict). Two copies of one
// report that come at the same instant (Twilio's callback twice, to two
// replicas) each read the timeline before the other noted or applied
// anything (reportedStep, reportApplied), and both applied: the person's
// next step came forward, and the step after it too (two calls seconds
// apart, none at the step after's time). Each copy is noted before it is
// applied, and a copy's write brings the step forward on the version it
// read, so the one whose write comes second conflicts, reads the incident
// again, and finds here, in the timeline read after it, both reports and
// the step the first brought forward. When the first brought nothing
// forward (the person had no later step, and the level, reaching nobody,
// paged the next one), that is not there to find: the record the first's
// write made with it (ReportApplied) is, and says yes. A timeline with
// this report alone says no without looking further: the first copy
// applies, whatever the person's other steps. seen says a report of the page was in the
// timeline before this one was noted (Delivered found it): this one may
// not be noted at all (a storm message's report again is noted only where
// it is not yet, noteOnce), and the one there is another's, so one is
// enough to look further. bundle is the storm message the page was in, ""
// for a page sent on its own (named by its SID, d.Ref: without one, none
// is told from another report of the person's, and it says no).
func (s *Service) appliedByAnother(ctx context.Context, inc *store.Incident, bundle string, d notify.Delivery, seen bool) (bool, error) {
	if bundle == "" && d.Ref == "" {
		return false, nil
	}
	tl, err := s.o.Store.Timeline(ctx, inc.ID)
	if err != nil {
		return false, err
	}
	if appliedRecord(tl, bundle, d) {
		return true, nil
	}
	first, reports, paged := firstReport(tl, bundle, d)
	if reports < 2 && !(seen && reports == 1) {
		return false, nil
	}
	return paged || broughtForward(inc, d, first, s.clock()), nil
}

// reportsOf counts the reports in tl that d's page, a page sent on its own,
// reached nobody (ownPageEntry).
func reportsOf(tl []store.Entry, d notify.Delivery) int {
	n := 0
	for _, e := range tl {
		if _, unreached := ownPageEntry(e, d.User, d.Channel, d.Ref); unreached {
			n++
		}
	}
	return n
}

// recordedStep reads the incident's timeline until find finds the page a
// delivery report is about in it, or until, and says its step (found:
// whether find found it; waited: how long it waited for it). An incident
// gone, or a timeline that cannot be read (logged), counts as found
// without a step: waiting would not find it.
func (s *Service) recordedStep(ctx context.Context, id string, d notify.Delivery, until time.Time,
	find func(tl []store.Entry) (string, bool)) (step string, found bool, waited time.Duration) {
	start := time.Now()
	for wait := recordPoll; ; wait = min(wait*2, recordPollMax) {
		tl, err := s.o.Store.Timeline(ctx, id)
		if isNotFound(err) {
			return "", true, time.Since(start) // the incident is gone: noting the report finds so
		}
		if err != nil {
			s.m.unmatched.WithLabelValues(d.Channel).Inc()
			s.log.Warn("reading the timeline for a page reported not delivered; it counts as gone out", "incident", id, "user", d.User, "err", err)
			return "", true, time.Since(start)
		}
		if step, found := find(tl); found {
			return step, true, time.Since(start)
		}
		if time.Now().Add(wait).After(until) || !sleepCtx(ctx, wait) {
			return "", false, time.Since(start)
		}
	}
}

// bundleReport reports whether e is a report that the storm message
// bundle, to d's person on d's channel, reached nobody.
func bundleReport(e store.Entry, bundle string, d notify.Delivery) bool {
	return bundle != "" && e.Type == DeliveryFailed && e.Unreached && e.Bundle == bundle && e.User == d.User && e.Channel == d.Channel
}

// bundleSteps are the steps of the pages a storm message reported as
// reaching nobody carried, by incident: each incident's page in the
// message (its entry with the message's bundle) as recorded with its
// step, which the state machine counts among the level's pages as it
// counts a page sent on its own. An incident whose page is not found
// (its note not written yet, waited for up to recordWait as reportedStep
// does, all of them at once), or was recorded without its step (by an
// older replica), has none: its page counts as gone out. A bundle that
// cannot be read has none either; noting the report says why.
//
// applied are the incidents whose timeline holds a report that the
// message reached nobody already, which brought the person's next step
// forward (reportApplied): this is the same report again, which moves
// nothing there (Delivered); every is whether that is all of them. seen
// are the incidents whose timeline holds such a report, applied or not
// (appliedByAnother).
func (s *Service) bundleSteps(ctx context.Context, bundle string, d notify.Delivery) (steps map[string]string, applied, seen map[string]bool, every bool) {
	b, err := s.o.Store.GetBundle(ctx, bundle)
	if err != nil {
		if !isNotFound(err) {
			// Not silent: its incidents' pages in it count as gone out,
			// their levels keep their timeouts.
			s.log.Warn("a storm message reported reaching nobody could not be read; its incidents' pages in it count as gone out, and their levels keep their timeouts",
				"bundle", bundle, "user", d.User, "channel", d.Channel, "err", err)
		}
		return nil, nil, nil, false
	}
	until := time.Now().Add(recordWait)
	steps, applied, seen = make(map[string]string, len(b.Incidents)), map[string]bool{}, map[string]bool{}
	var mu sync.Mutex
	var missing []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, timelineWorkers)
	for _, id := range b.Incidents {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var again bool
			step, found, _ := s.recordedStep(ctx, id, d, until, func(tl []store.Entry) (string, bool) {
				again = slices.ContainsFunc(tl, func(e store.Entry) bool { return bundleReport(e, bundle, d) })
				return bundlePageStep(tl, bundle, d)
			})
			// Sent again after a 503 (the store refused to bring the
			// step forward here), it must still do what the first
			// could not.
			reported := again
			again = again && s.reportApplied(ctx, id, bundle, d)
			mu.Lock()
			defer mu.Unlock()
			if reported {
				seen[id] = true
			}
			if again {
				applied[id] = true
			}
			if !found {
				missing = append(missing, id)
			}
			if step != "" {
				steps[id] = step
			}
		}()
	}
	wg.Wait()
	if len(missing) > 0 {
		s.m.unmatched.WithLabelValues(d.Channel).Add(float64(len(missing)))
		slices.Sort(missing)
		s.log.Warn("a storm message reported reaching nobody is not in some of its incidents' timelines (not recorded yet, or lost): it counts as gone out for them, and their levels keep their timeouts",
			"bundle", bundle, "user", d.User, "channel", d.Channel, "incidents", len(missing), "first", missing[0])
	}
	return steps, applied, seen, len(b.Incidents) > 0 && len(applied) == len(b.Incidents)
}

// bundlePageStep finds in tl the incident's page in the storm message
// bundle, to the user on the channel, and says its step (pageStep): none
// when the message was reported reaching nobody before that page's
// record, as pageStep does.
func bundlePageStep(tl []store.Entry, bundle string, d notify.Delivery) (step string, found bool) {
	var page *store.Entry // the latest record of the incident's page in the message
	for i, e := range tl {
		if bundleReport(e, bundle, d) && page == nil {
			return "", true // reported before its record: that record counted it
		}
		if (e.Type == "notify" || e.Type == "notify_failed") && e.Bundle == bundle && e.User == d.User && e.Channel == d.Channel {
			page = &tl[i]
		}
	}
	switch {
	case page == nil:
		return "", false
	case page.Type != "notify":
		return "", true
	}
	return page.Step, true
}

// pageStep finds in tl the page a delivery report is about (reportedStep)
// and says its step; found is false when no page of the person's on the
// channel is the report's. A page recorded as failed (a send that timed
// out after Twilio took it) is found, without a step: it is recorded, and
// waiting for it again would wait for nothing.
//
// A page reported reaching nobody before its record (a report of its
// SID in tl ahead of it) is found without a step: the write that recorded
// the page counted it (EarlyReports). One reported after its record is
// found with its step, however many copies of the report came: the first
// write that applies one records so (ReportApplied), and every other copy
// finds that as it writes and applies nothing (appliedByAnother,
// reportApplied). Found without a step, a copy that came at the same
// instant as the first, and wrote first, brought the person's next step
// forward without counting the page, and the first, finding that step
// brought forward, applied nothing: the level, every page of which
// reached nobody, waited out its timeout (Twilio's callback twice,
// TestLevelWhosePagesAreReportedNotDeliveredEscalatesAtOnce, 1 run in
// 40).
func pageStep(tl []store.Entry, d notify.Delivery) (step string, found bool) {
	stepOf := func(e store.Entry) string {
		if e.Type != "notify" {
			return ""
		}
		return e.Step
	}
	if d.Ref != "" {
		for _, e := range tl {
			page, unreached := ownPageEntry(e, d.User, d.Channel, d.Ref)
			if unreached && !found {
				return "", true // reported before its record: that write counted it (EarlyReports)
			}
			if page {
				found, step = true, stepOf(e)
			}
		}
		if found {
			return step, true
		}
	}
	if d.PageAt.IsZero() {
		return "", false
	}
	// By when it went out, whatever its SID: a page recorded without
	// one, or a report that names none. A page sent on its own, to the
	// person on the channel (ownPageEntry, whatever its ref).
	for _, e := range slices.Backward(tl) {
		if e.Bundle == "" && e.User == d.User && e.Channel == d.Channel && (e.Type == "notify" || e.Type == "notify_failed") &&
			(e.Ref == "" || d.Ref == "") && e.At.UnixMilli() == d.PageAt.UnixMilli() {
			return stepOf(e), true
		}
	}
	return "", false
}

// ReportWait is how long a delivery report waits for its page's record
// (recordWait): a storm message whose notes took longer than a part of it
// to write may have been reported on before them (EarlyBundleReport).
const ReportWait = 2 * time.Second

// recordWait is how long a delivery report waits for its page's record
// (reportedStep), looking again after recordPoll, then twice as long each
// time up to recordPollMax: a claim records its pages within moments of
// sending them, and the request's 5 s leave the rest for the report's own
// writes (deliveredRetry).
const (
	recordWait    = ReportWait
	recordPoll    = 20 * time.Millisecond
	recordPollMax = 250 * time.Millisecond
)

// deliveredRetry is the first wait before bringing a person's next step
// forward again after the store refused it (then three times longer each
// time, up to deliveredRetryMax: 0.1, 0.3, 0.9 s, within a request's 5 s).
const (
	deliveredRetry    = 100 * time.Millisecond
	deliveredRetryMax = time.Second
)

// sleepCtx waits d, or until ctx ends, and says whether it waited it all.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// LastPaged finds what was most recently paged to the user on the channel
// among open incidents (the newest 2,000, triggered or acknowledged): an
// incident, or the storm bundle its page went out in, that
// match accepts, and the level the page was for (notify.Receiver). match
// is asked about every such page, and for a page in a storm message about
// the message and the incident both: a page in a storm message that match
// accepts is the message's, else, when match accepts the incident, the
// incident's own. It reads no bundle, so an incident's page in a message
// no longer kept is still found. It lists open incidents only, so resolved
// incidents, however many and however new, never push an open one out.
// With bare, pages reported undelivered are passed over (undeliveredPages).
// A page whose send failed after the provider may have taken it counts
// (MayHavePaged): it most likely reached the person, who answers it.
func (s *Service) LastPaged(ctx context.Context, user, channel string, bare bool, match func(target string) bool) (notify.Page, error) {
	// One read of both statuses (Filter.Open): read one status after the
	// other, an incident reopened in between would be in neither.
	open, err := s.o.Store.List(ctx, store.Filter{Open: true, Limit: 2000})
	if err != nil {
		return notify.Page{}, Classify(err)
	}
	tls, err := s.timelines(ctx, open)
	if err != nil {
		return notify.Page{}, Classify(err)
	}
	// The latest page of each target match accepts.
	latest := map[string]time.Time{}
	pages := map[string]notify.Page{}
	for i, inc := range open {
		tl := tls[i]
		if tl == nil {
			// Gone since it was listed (retention): it was paged
			// to nobody any more, and the others still were.
			continue
		}
		var undelivered map[int]bool
		if bare {
			undelivered = undeliveredPages(tl, user, channel)
		}
		for i, e := range tl {
			// A page whose send failed after the provider may have
			// taken it (MayHavePaged) most likely reached the person,
			// who answers it: passed over, a bare "4" to it
			// acknowledged the incident paged before it.
			if !MayHavePaged(e) || e.User != user || e.Channel != channel || undelivered[i] {
				continue
			}
			p := notify.Page{Target: inc.ID, Level: e.Level, At: e.At, Reopened: e.Reopened, ReopenedUnknown: !e.ReopenedKnown}
			// match is asked about every page, the older ones too, so a
			// caller can tell when it accepts more than one target.
			if e.Bundle != "" {
				// One message for many incidents, each at its own
				// level. It named this one too: a reply may mean the
				// incident (its code, which the message shows, is the
				// way to act on it once the message is no longer
				// kept). The message wins when match accepts both; it
				// is asked about both all the same, so a code that
				// names both is seen to name more than one.
				byMessage, byIncident := match(e.Bundle), match(inc.ID)
				switch {
				case byMessage:
					// Acknowledged by its bundle's counts.
					p = notify.Page{Target: e.Bundle, At: e.At}
				case !byIncident:
					continue
				}
			} else if !match(p.Target) {
				continue
			}
			if at, seen := latest[p.Target]; !seen || e.At.After(at) {
				latest[p.Target], pages[p.Target] = e.At, p
			}
		}
	}
	var best notify.Page
	var bestAt time.Time
	for t, at := range latest {
		if best.Target == "" || at.After(bestAt) || (at.Equal(bestAt) && t > best.Target) {
			best, bestAt = pages[t], at
		}
	}
	for t, at := range latest {
		if t != best.Target && bestAt.Sub(at) < notify.SameMoment {
			best.Tied = append(best.Tied, t)
		}
	}
	sort.Strings(best.Tied)
	return best, nil
}

// DeliveryFailed is the type of the timeline entry of a provider's report
// that a page did not reach the person ("delivery" for the others).
const DeliveryFailed = "delivery_failed"

// ReportApplied is the type of the timeline entry that records, in the
// write that applied it (applyReport), that a report that a page reached
// nobody was applied: to the page Twilio (or another provider) knows by
// Ref, or of the storm message Bundle, to User on Channel. A copy of the
// report that finds it, at the same instant or later, applies nothing
// (appliedRecord): the first may have brought nothing forward (the person
// had no later step) and escalated, and a copy applied at the next level
// brought the person's step there forward, or a step of a level it named
// no longer counted.
const ReportApplied = "report_applied"

// appliedRecord reports whether tl, an incident's timeline, holds the
// record that a report that d's page reached nobody was applied
// (ReportApplied): the page's in the storm message bundle, or with none,
// the page sent on its own that its provider knows by d.Ref.
func appliedRecord(tl []store.Entry, bundle string, d notify.Delivery) bool {
	if bundle == "" && d.Ref == "" {
		return false
	}
	return slices.ContainsFunc(tl, func(e store.Entry) bool {
		return e.Type == ReportApplied && e.Bundle == bundle && e.User == d.User && e.Channel == d.Channel && (bundle != "" || e.Ref == d.Ref)
	})
}

// appliedEntry is the record (ReportApplied) the write that applies d's
// report, that its page reached nobody, writes with the change, at now;
// none (ok false) for a report that names its page by nothing a copy of
// it can be matched by (no storm message, no SID).
func appliedEntry(bundle string, d notify.Delivery, now time.Time) (e store.Entry, ok bool) {
	if bundle == "" && d.Ref == "" {
		return store.Entry{}, false
	}
	return store.Entry{At: now, Type: ReportApplied, Actor: "pagerd", User: d.User, Channel: d.Channel, Ref: d.Ref, Bundle: bundle,
		Detail: "the report that the page reached nobody was applied: the same report again moves nothing"}, true
}

// undeliveredPages are the indexes in tl of the pages to user on channel
// that a delivery report says did not reach them: each such report (of
// the incident, or of a storm message by its bundle) marks the page it
// names by the provider's SID (Entry.Ref, which the page keeps too), else
// by when it went out (Entry.PageAt, to the millisecond the callback
// carries) for a page recorded without its SID, else, for a report that
// names none (a callback URL given before pages carried it) or a page not
// found, the latest page before it not yet marked. A reply answers a page the person got: a bare
// "4" must not acknowledge an incident whose SMS they never saw, nor pass
// over the page they got because an older one was reported late.
func undeliveredPages(tl []store.Entry, user, channel string) map[int]bool {
	var out map[int]bool
	for i, e := range tl {
		if e.Type != DeliveryFailed || e.User != user || e.Channel != channel {
			continue
		}
		marked, found := -1, false
		if e.Ref != "" {
			// The page Twilio created with the report's SID, whatever
			// the callback URL's at says: the same report twice marks
			// the same page.
			for j := i - 1; j >= 0; j-- {
				p := tl[j]
				if MayHavePaged(p) && p.User == user && p.Channel == channel && p.Bundle == e.Bundle && p.Ref == e.Ref {
					marked, found = j, true
					break
				}
			}
		}
		for j := i - 1; j >= 0 && !found; j-- {
			p := tl[j]
			if !MayHavePaged(p) || p.User != user || p.Channel != channel || p.Bundle != e.Bundle || out[j] {
				continue
			}
			// A page with a SID other than the report's is another page,
			// whenever it went out.
			if (p.Ref == "" || e.Ref == "") && (e.PageAt.IsZero() || p.At.UnixMilli() == e.PageAt.UnixMilli()) {
				marked = j
				break
			}
			if marked < 0 {
				marked = j // the latest, should the page named not be found
			}
		}
		if marked >= 0 {
			if out == nil {
				out = map[int]bool{}
			}
			out[marked] = true
			if m := tl[marked]; m.Bundle != "" {
				// A storm message's note recorded again for its step (a
				// takeover or a step due again found the message had
				// paged it: the dispatcher's pagedInMessages) is the
				// same page: left unmarked, a bare reply answered the
				// message the person never got.
				for j := range i {
					if p := tl[j]; MayHavePaged(p) && p.User == user && p.Channel == channel && p.Bundle == m.Bundle && p.Ref == m.Ref && p.At.Equal(m.At) {
						out[j] = true
					}
				}
			}
		}
	}
	return out
}

// resolvedLookback is how far back ResolvedPaged looks: the incidents
// resolved in the last day, whenever they were created (an incident open
// for days, paged again by its unresolved rule, an escalation or a
// repeat, is the person's latest page all the same), which the stores
// list by resolve time without reading their whole history. A code is
// four characters: matched against every incident ever, it would name
// one the person never meant.
const resolvedLookback = 24 * time.Hour

// ResolvedPaged finds the resolved incidents, resolved or created in the
// last day (the newest 1,000 of each), whose id match accepts and that
// were paged to the user on the channel, on their own or in a storm
// message, each as an action on it would find it, with when it was last
// paged to them (notify.Receiver). It reads the timeline only of an
// incident match accepts, and acts on nothing. Those created in the last
// day are listed as well as those resolved in it: an incident resolved
// before the store kept its index of resolve times (an upgrade) is only
// in the first list.
func (s *Service) ResolvedPaged(ctx context.Context, user, channel string, match func(target string) bool) ([]notify.Acted, error) {
	since := s.clock().Add(-resolvedLookback)
	byResolve, err := s.o.Store.List(ctx, store.Filter{ResolvedSince: since, Limit: 1000})
	if err != nil {
		return nil, Classify(err)
	}
	byCreation, err := s.o.Store.List(ctx, store.Filter{Status: policy.StatusResolved, Since: since, Limit: 1000})
	if err != nil {
		return nil, Classify(err)
	}
	seen := make(map[string]bool, len(byResolve))
	incs := byResolve
	for _, inc := range byResolve {
		seen[inc.ID] = true
	}
	for _, inc := range byCreation {
		if !seen[inc.ID] {
			incs = append(incs, inc)
		}
	}
	cfg := s.o.Config()
	var matched []*store.Incident
	for _, inc := range incs {
		if match(inc.ID) {
			matched = append(matched, inc)
		}
	}
	tls, err := s.timelines(ctx, matched)
	if err != nil {
		return nil, Classify(err)
	}
	var out []notify.Acted
	for i, inc := range matched {
		tl := tls[i]
		if tl == nil {
			continue // gone since it was listed
		}
		// A page in a storm message counts: the message named the
		// incident, and its code acts on it as LastPaged finds it.
		var pagedAt time.Time
		var pagedIn string
		for _, e := range tl {
			if MayHavePaged(e) && e.User == user && e.Channel == channel && e.At.After(pagedAt) {
				pagedAt, pagedIn = e.At, e.Bundle
			}
		}
		if pagedAt.IsZero() {
			continue
		}
		st := inc.State
		out = append(out, notify.Acted{AlreadyResolved: true, Incident: inc.ID, Service: inc.Service, Priority: st.Priority,
			Summary: inc.Summary, AcknowledgedBy: cfg.UserName(st.AcknowledgedBy), AcknowledgedAt: st.AcknowledgedByAt(),
			ResolvedBy: cfg.UserName(st.ResolvedBy), ResolvedAt: st.ResolvedAt, Level: st.Level + 1, PagedAt: pagedAt, PagedIn: pagedIn})
	}
	return out, nil
}

// About says what an incident, or a storm bundle, is (notify.Receiver).
func (s *Service) About(ctx context.Context, target string) (notify.About, error) {
	if store.IsBundleID(target) {
		b, err := s.o.Store.GetBundle(ctx, target)
		if err != nil {
			return notify.About{}, stormGone(err)
		}
		statuses, err := s.o.Store.Statuses(ctx, b.Incidents)
		if err != nil {
			return notify.About{}, Classify(err)
		}
		open, resolved := 0, 0
		for _, st := range statuses {
			switch st {
			case policy.StatusTriggered:
				open++
			case policy.StatusResolved:
				resolved++
			}
		}
		return notify.About{Storm: true, Incidents: len(b.Incidents), Unacknowledged: open, Resolved: resolved, Priority: b.Priority, Top: b.Top}, nil
	}
	inc, err := s.o.Store.Get(ctx, target)
	if err != nil {
		return notify.About{}, Classify(err)
	}
	st, cfg := inc.State, s.o.Config()
	return notify.About{Incidents: 1, Priority: st.Priority, Service: inc.Service, Summary: inc.Summary, Status: string(st.Status),
		AcknowledgedBy: cfg.UserName(st.AcknowledgedBy), AcknowledgedAt: st.AcknowledgedByAt(),
		ResolvedBy: cfg.UserName(st.ResolvedBy), ResolvedAt: st.ResolvedAt, Reopened: st.Reopened}, nil
}

// UserByAddress finds whose contact on the channel has the address
// (notify.Receiver). On Slack, the address is a Slack member id, and a
// user's slack_user counts as well as their contacts: a button pressed in
// Slack acts as the person it maps to. The user whose slack_user it is
// comes first; otherwise a contact decides only if exactly one user has
// it, so a press never acts as somebody else when the config is
// ambiguous (policy refuses such a config; this holds if one is ever in
// force anyway).
func (s *Service) UserByAddress(channel, address string) string {
	if address == "" {
		return ""
	}
	if channel == policy.ChannelSlack {
		for _, u := range s.o.Config().Users {
			if u.SlackUser == address {
				return u.ID
			}
		}
	}
	if users := s.UsersByAddress(channel, address); len(users) == 1 {
		return users[0]
	}
	return ""
}

// UsersByAddress finds everyone whose contact on the channel has the
// address (notify.Receiver).
func (s *Service) UsersByAddress(channel, address string) []string {
	var users []string
	if address == "" {
		return nil
	}
	for _, u := range s.o.Config().Users {
		for _, ct := range u.Contacts {
			if ct.Channel == channel && ct.Address == address {
				users = append(users, u.ID)
				break
			}
		}
	}
	return users
}

// PagedVia reports whether target was paged to user through via
// (notify.Receiver): an entry of its timeline (of a storm message's first
// incident still kept, for the message) records a page to user that went
// out through via, or failed after the provider may have taken it. A page
// of theirs through via being sent now, not recorded yet (a step of
// theirs due, a storm message stored for them), is notify.ErrNotRecordedYet.
func (s *Service) PagedVia(ctx context.Context, target, user, via string) (bool, error) {
	ids, bundle, channel := []string{target}, "", ""
	if store.IsBundleID(target) {
		b, err := s.o.Store.GetBundle(ctx, target)
		if isNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, Classify(err)
		}
		if b.User != user {
			return false, nil
		}
		ids, bundle, channel = b.Incidents, target, b.Channel
	}
	for _, id := range ids {
		tl, err := s.o.Store.Timeline(ctx, id)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return false, Classify(err)
		}
		// A storm message's page is in each of its incidents' timelines:
		// the first one kept says. An incident paged to the person in a
		// storm message only was paged to them all the same.
		if slices.ContainsFunc(tl, func(e store.Entry) bool {
			return e.User == user && (bundle == "" || e.Bundle == bundle) && PagedVia(e, via)
		}) {
			return true, nil
		}
		// A page is recorded once the step's every send is done: the
		// push went out, and the person acknowledged it in PagerDuty,
		// while an email of the same step still waited on its server
		// (a storm message: its notes are written after it is sent).
		// Its step is then still pending and due: the answer is asked
		// for again, not dropped. It is not acted on now: a forged one
		// (below) would stop the ladder before the push it names went
		// out.
		if bundle != "" {
			if s.contactVia(user, channel) == via {
				return false, notify.ErrNotRecordedYet
			}
			return false, nil
		}
		inc, err := s.o.Store.Get(ctx, id)
		if isNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, Classify(err)
		}
		now := s.clock()
		if slices.ContainsFunc(inc.State.Pending, func(d policy.Deadline) bool {
			return d.Kind == policy.DeadlineNotify && d.User == user && !d.At.After(now) && s.contactVia(user, d.Channel) == via
		}) {
			return false, notify.ErrNotRecordedYet
		}
		return false, nil
	}
	return false, nil
}

// contactVia is the transport user's page on channel goes through (the
// dispatcher's choice: their last contact of the channel), "" when they
// have none.
func (s *Service) contactVia(user, channel string) string {
	u := s.o.Config().User(user)
	if u == nil {
		return ""
	}
	via := ""
	for _, c := range u.Contacts {
		if c.Channel == channel {
			via = c.Via
		}
	}
	return via
}

// PagedVia reports whether e records a page through the transport via
// ("via pagerduty", "via pagerduty: …", "via pagerduty, in one message…";
// not "via pagerduty2") that went out, or that failed after the provider
// may have taken it (MayHavePaged), which the person may have all the
// same: what an acknowledgement must reach there (PagerDuty's alert,
// Pushover's emergency), and what a PagerDuty webhook may act on.
func PagedVia(e store.Entry, via string) bool {
	if e.Detail != "via "+via && !strings.HasPrefix(e.Detail, "via "+via+":") && !strings.HasPrefix(e.Detail, "via "+via+",") {
		return false
	}
	return MayHavePaged(e)
}

// MayHavePaged reports whether the entry records a page that went out, or
// failed after the provider may have taken it ("may have been sent").
func MayHavePaged(e store.Entry) bool {
	return e.Type == "notify" || (e.Type == "notify_failed" && strings.Contains(e.Detail, notify.ErrMaybeSent.Error()))
}

// AnswerKind is the kind of the store jobs that remember the answers
// FirstAnswer has seen: a job per answer, due when it is forgotten, whose
// run only ends it (the daemon's handler of the kind).
const AnswerKind = "answer"

// AnswerMemory is how long FirstAnswer remembers an answer. A replay
// after it acts again, so it is long: a reply is one small job, and
// people send a few a day.
const AnswerMemory = 400 * 24 * time.Hour

// FirstAnswer remembers a provider's answer by its id and reports whether
// it was seen for the first time (notify.Receiver), in one atomic step of
// the store, so two deliveries at once act once. An error means the
// answer was not acted on: a write of the memory that may have been
// stored (store.ErrOutcomeUnknown) is not one of the action's, which
// was not tried, so it is not told as one that may have been stored
// ("may not have been recorded ... until it is"): the person who texted
// "4" waited for an acknowledgement that never came.
func (s *Service) FirstAnswer(ctx context.Context, id string) (bool, error) {
	added, err := s.o.Store.AddJob(ctx, store.Job{Kind: AnswerKind, Key: id, Due: s.clock().Add(AnswerMemory)})
	if errors.Is(err, store.ErrOutcomeUnknown) {
		return false, &classed{err, []error{notify.ErrUnavailable}}
	}
	if err != nil {
		return false, Classify(err)
	}
	return added, nil
}

// KnowsUser reports whether the user is in the config in force
// (notify.Receiver).
func (s *Service) KnowsUser(user string) bool { return s.o.Config().User(user) != nil }

// timelineWorkers bounds how many timelines a reply's look for its page
// reads at once.
const timelineWorkers = 16

// timelines reads the timelines of incs, timelineWorkers at a time, in
// their order; an incident gone since it was listed has none (nil). Read
// one after the other, a reply's look through 2,000 open incidents was
// 2,000 round trips to Redis, seconds at a millisecond or two each: past
// the request's deadline in the very storm people answer, so that every
// reply was answered "NOT recorded" until the storm was over.
func (s *Service) timelines(ctx context.Context, incs []*store.Incident) ([][]store.Entry, error) {
	out := make([][]store.Entry, len(incs))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(timelineWorkers)
	for i, inc := range incs {
		g.Go(func() error {
			tl, err := s.o.Store.Timeline(ctx, inc.ID)
			switch {
			case isNotFound(err):
				return nil
			case err != nil:
				return err
			case tl == nil:
				tl = []store.Entry{} // kept, with nothing in it yet
			}
			out[i] = tl
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}
