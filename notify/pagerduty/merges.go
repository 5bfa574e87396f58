package pagerduty

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pagerd/pagerd/internal/textcut"
	"github.com/pagerd/pagerd/notify"
)

// Moved is one of pagerd's alerts that PagerDuty moved into another of
// its incidents by a merge: its dedup key, and the PagerDuty incident its
// merge went into as the alert's MergedNote names it (a later merge of
// that incident carries the alert on, and Into stays the note's).
type Moved struct {
	Key  string `json:"key"`
	Into string `json:"into"`
}

// MergeIndex keeps, for each PagerDuty incident, pagerd's alerts that
// PagerDuty merged into it, for as long as that incident is open: its
// webhooks name it by its own alert's key only, so without this nothing
// leads from it back to the pagerd incidents whose alerts it holds. Kept
// in the store (the daemon's is on store.Docs), every replica sees it.
type MergeIndex interface {
	// Merge records that PagerDuty merged its incident from into its
	// incident into, alert among what moved: into now holds alert and
	// every alert recorded for from. An alert with no key adds nothing:
	// only what was recorded for from moves (nothing to do when none
	// was). It returns what moved and what is recorded of into: its
	// resolve or a person's acknowledgement, whose webhooks PagerDuty
	// may deliver before the merge's; resolved, what moved is kept with
	// the resolve only (for an acknowledgement made before it).
	// at is when the merge was made (its occurred_at; zero unknown).
	// A merge into an incident merged away since (its webhook came
	// first) goes on to the one it went into.
	Merge(ctx context.Context, from, into string, at time.Time, alert Moved) (MergeTarget, error)
	// Moved is what is recorded for PagerDuty's incident pd, none when
	// nothing is.
	Moved(ctx context.Context, pd string) ([]Moved, error)
	// Resolved records that pd was resolved by by (its alerts are
	// resolved with it), for a merge into it delivered after, with what
	// it held, for a person's acknowledgement made before it delivered
	// after; Moved no longer names them. noted are the alerts whose
	// merge the caller noted over. When pd holds others (merged into it since
	// they were read), it records nothing and returns them, to be noted
	// first.
	Resolved(ctx context.Context, pd, by string, noted []Moved) ([]Moved, error)
	// Acknowledged records that a person, by, acknowledged pd at at (its
	// webhook's occurred_at), or merged it into another then, which is
	// their acknowledgement of what it held, for a merge into it
	// delivered after, and
	// returns what is recorded for pd as of that record, read in the
	// same write (a merge into pd kept beside it is either among them
	// or finds the acknowledgement: Merge's AckedAt), but the alerts a
	// merge made at or after at brought there: the person did not see
	// them.
	Acknowledged(ctx context.Context, pd, by string, at time.Time) ([]Moved, error)
}

// MergeTarget is what a merge recorded found of the incident it went into.
type MergeTarget struct {
	// Moved is what moved into it, Into: the incident merged into, or
	// the one it went into since.
	Moved []Moved
	Into  string
	// Arrived is when they reached Into (the latest merge on the way),
	// zero when not known.
	Arrived time.Time
	// Resolved says its resolve was recorded first: the merge of each
	// alert moved is over already (an acknowledgement of it recorded,
	// AckedAt, was made before the resolve). ResolvedBy resolved it.
	Resolved   bool
	ResolvedBy string
	// AckedAt is when a person, AckedBy, last acknowledged it as
	// recorded (its webhook's occurred_at), zero when none was; or
	// acknowledged, after the alerts got there, an incident on the way
	// merged away since (Arrived is then when they got there). AckedOf
	// is the incident acknowledged, AckedInto the one they merged it
	// into when their acknowledgement was that merge ("" otherwise):
	// the timeline says why (ackedNote).
	AckedAt   time.Time
	AckedBy   string
	AckedOf   string
	AckedInto string
}

// mergedID is the id of the PagerDuty incident a merge went into, as
// resolve_reason names it, "" when it names none of PagerDuty's form.
func (e *webhookEvent) mergedID() string {
	if rr := e.Data.ResolveReason; rr != nil && rr.Type == mergeResolveReason && serviceIDRE.MatchString(rr.Incident.ID) {
		return rr.Incident.ID
	}
	return ""
}

// rememberMerge records, for a merge of PagerDuty's incident, that
// pagerd's alerts PagerDuty had moved into it now live in the incident it
// was merged into, and so does its own alert when alert is set (pagerd
// pushed it: PagedVia), so that a person's acknowledgement of that
// incident acknowledges pagerd's incidents too (ackMoved), and its
// resolve ends their merge (mergeOver). Not kept (the store down):
// answered 5xx, and PagerDuty delivers the webhook again.
func (wh *Webhook) rememberMerge(ctx context.Context, ev *webhookEvent, alert bool) error {
	into := ev.mergedID()
	if wh.Merges == nil || into == "" || !serviceIDRE.MatchString(ev.Data.ID) {
		return nil
	}
	m := Moved{}
	if alert {
		m = Moved{Key: ev.Data.IncidentKey, Into: into}
	}
	got, err := wh.Merges.Merge(ctx, ev.Data.ID, into, ev.occurredAt(), m)
	if err != nil {
		return fmt.Errorf("keep the PagerDuty merge of %s into %s: %w", ev.Data.ID, into, err)
	}
	// A person's acknowledgement of into (or of an incident on the way)
	// that came first, made after the merge: they acknowledged the
	// incident holding these alerts, and PagerDuty stopped notifying for
	// them (ackMoved). One made before the merge did not see them: their
	// ladders go on.
	if !got.AckedAt.IsZero() && !got.Arrived.IsZero() && got.AckedAt.After(got.Arrived) {
		if err := wh.ackEach(ctx, got.Moved, "", got.AckedBy, ackedNote(cmp.Or(got.AckedOf, got.Into), got.AckedInto)); err != nil {
			return err
		}
	}
	// into's resolve came first: the merge is over already, else the
	// dispatcher would read the alerts merged for good, and pagerd's
	// acknowledgements would never reach the PagerDuty incident a page
	// under their keys opens.
	if got.Resolved {
		return wh.notedOver(ctx, got.Moved, got.Into, got.ResolvedBy)
	}
	return nil
}

// ackMoved answers a person's incident.acknowledged, or their merge of
// the incident into another (incident.resolved, resolve_reason a merge:
// they said the other covers it), for the alerts PagerDuty merged into
// that incident from pagerd's other incidents: its
// webhook is keyed by the incident's own alert, but PagerDuty stopped
// notifying for every alert in it, so each is acknowledged as that
// person, the answer to the page its alert was (an alert from before
// its incident's latest reopen acknowledges nothing). An alert pushed to
// a person no longer in the config, or an incident gone, is passed over.
func (wh *Webhook) ackMoved(ctx context.Context, ev *webhookEvent) error {
	if wh.Merges == nil || !ev.byPerson() || !serviceIDRE.MatchString(ev.Data.ID) {
		return nil
	}
	// Recorded for a merge into it whose webhook comes after this one,
	// and what it covers read in the same write: read before, a merge
	// kept between the read and the record (its webhook on another
	// replica) was in neither, and its alerts went on paging. Only the
	// alerts there before it was made (occurred_at): one merged after
	// (its webhook delivered first) was not seen, and its ladder goes
	// on. Without occurred_at (every real webhook v3 carries it), none:
	// whether the person saw an alert merged in is not known, and taken
	// as seen, one merged after the acknowledgement, its webhook
	// delivered first, was acknowledged though nobody had (rev34); left,
	// its ladder goes on.
	at := ev.occurredAt()
	if at.IsZero() {
		return nil
	}
	moved, err := wh.Merges.Acknowledged(ctx, ev.Data.ID, ev.agentName(), at)
	if err != nil {
		return err
	}
	return wh.ackEach(ctx, moved, ev.Data.IncidentKey, ev.agentName(), ackedNote(ev.Data.ID, ev.mergedID()))
}

// ackedNote is why a person's act on PagerDuty's incident pd
// acknowledges the pagerd incidents whose alerts it held: they
// acknowledged it, or, into set, merged it into into. The timeline's
// ack entry carries it (notify.Page.Note).
func ackedNote(pd, into string) string {
	if into != "" {
		return "in PagerDuty, merged incident " + pd + ", which held this incident's alert, into incident " + into +
			": a person's merge acknowledges what the incident held"
	}
	return "in PagerDuty, acknowledged incident " + pd + ", which held this incident's alert"
}

// ackEach acknowledges, as by, the incident of each alert moved (but the
// one under own, acted on by itself), why saying how (ackedNote).
func (wh *Webhook) ackEach(ctx context.Context, moved []Moved, own, by, why string) error {
	for _, m := range moved {
		id, user, reopened, ok := ParseDedupKey(m.Key)
		if !ok || m.Key == own || !wh.Receiver.KnowsUser(user) {
			continue
		}
		acted, err := wh.Receiver.AcknowledgePage(ctx, user, notify.Page{Target: id, Reopened: reopened, Source: notify.SourcePagerDuty, By: by, Note: why})
		switch {
		case errors.Is(err, notify.ErrNotFound), err == nil && acted.AlreadyResolved:
			continue
		case err != nil:
			return err
		case acted.NotStored > 0:
			return storedInPart(acted)
		case acted.ReopenedSince:
			wh.log().Info("PagerDuty webhook not applied: the PagerDuty incident an alert of this incident was merged into was acknowledged (or merged away) by a person, but the incident was reopened after that alert's page; the pages since go on",
				"incident", id, "user", user, "why", why, "agent", textcut.Line(by, 100), "dedup_key", m.Key)
			continue
		}
		wh.log().Info("PagerDuty webhook: the PagerDuty incident an alert of this incident was merged into was acknowledged (or merged away) by a person; acknowledged as theirs",
			"incident", id, "user", user, "why", why, "agent", textcut.Line(by, 100))
	}
	return nil
}

// mergeOver answers the incident.resolved of a PagerDuty incident that
// pagerd's alerts were merged into, whoever resolved it: PagerDuty
// resolved those alerts with it, so a page under their keys opens a new
// PagerDuty incident, which must be told of pagerd's acknowledgements
// again. Each alert's incident notes it (MergeOverNote, resolve_ignored:
// the resolve is not applied to it), which the dispatcher reads as the
// end of the merge the alert's MergedNote named; then the record is
// dropped, and the resolve kept (for a merge into the incident whose
// webhook comes after: rememberMerge). A note or record not stored is
// answered 5xx, and PagerDuty delivers the webhook again (noted once).
func (wh *Webhook) mergeOver(ctx context.Context, ev *webhookEvent) error {
	if wh.Merges == nil || !serviceIDRE.MatchString(ev.Data.ID) {
		return nil
	}
	moved, err := wh.Merges.Moved(ctx, ev.Data.ID)
	if err != nil {
		return err
	}
	by := textcut.Line(ev.agentName(), 100)
	// Recorded even when nothing was merged into it yet: a merge's
	// webhook may come after the resolve's. Only once all it drops is
	// noted: a merge kept since the read (its webhook on another
	// replica) would be dropped unnoted, its alert read as merged for
	// good, and pagerd's acknowledgements under its key never told to
	// the PagerDuty incident a page under it opens.
	noted := moved
	for range mergeOverRounds {
		if err := wh.notedOver(ctx, moved, ev.Data.ID, by); err != nil {
			return err
		}
		if moved, err = wh.Merges.Resolved(ctx, ev.Data.ID, by, noted); err != nil || len(moved) == 0 {
			return err
		}
		noted = append(slices.Clip(noted), moved...)
	}
	return fmt.Errorf("keep the resolve of PagerDuty's incident %s: merged into %d times over while it was noted", ev.Data.ID, mergeOverRounds)
}

// mergeOverRounds is how often mergeOver notes the merges kept into an
// incident it resolves since it read them before it answers 5xx:
// PagerDuty merges nothing into a resolved incident, so a second round
// is rare and a third is not expected.
const mergeOverRounds = 5

// notedOver notes in the incident of each alert moved that its merge is
// over (MergeOverNote): PagerDuty's incident resolved, which held it,
// was resolved by by.
func (wh *Webhook) notedOver(ctx context.Context, moved []Moved, resolved, by string) error {
	for _, m := range moved {
		id, user, _, ok := ParseDedupKey(m.Key)
		if !ok {
			continue
		}
		why := MergeOverNote(m.Key, m.Into, resolved, by)
		if _, err := wh.Receiver.NotApplied(ctx, user, notify.Page{Target: id, Source: notify.SourcePagerDuty, By: by}, notify.Resolve, why); err != nil &&
			!errors.Is(err, notify.ErrNotFound) {
			return err
		}
	}
	return nil
}

// mergeOverPrefix begins the timeline note of an alert whose merge in
// PagerDuty is over (MergeOverNote).
const mergeOverPrefix = "merge over in PagerDuty: alert "

// MergeOverNote is the timeline note (resolve_ignored) of the alert pagerd
// pushed under key, merged into PagerDuty's incident into (as its
// MergedNote says), once PagerDuty's incident resolved, the one it was in
// then (into, or one into was merged into), was resolved by by ("" for
// no agent). The dispatcher reads it back (MergeOver): from then on the
// alert is told of acknowledgements under its key again.
func MergeOverNote(key, into, resolved, by string) string {
	in := "incident " + resolved
	if resolved != into {
		in += " (which incident " + into + " was merged into)"
	}
	if by == "" {
		by = "no agent"
	}
	return mergeOverPrefix + key + " merged into incident " + into + ": PagerDuty's " + in + " was resolved by " + by +
		", and the alert with it; not applied here, pagerd's incident stays open. A page under the key opens a new PagerDuty incident, which is told of pagerd's acknowledgements"
}

// MergeOver is the dedup key of the alert a note written by MergeOverNote
// names and the PagerDuty incident its merge went into; false for any
// other note.
func MergeOver(note string) (key, into string, ok bool) {
	after, ok := strings.CutPrefix(note, mergeOverPrefix)
	if !ok {
		return "", "", false
	}
	key, rest, ok := strings.Cut(after, " merged into incident ")
	if _, _, _, valid := ParseDedupKey(key); !ok || !valid {
		return "", "", false
	}
	into, _, _ = strings.Cut(rest, ":")
	return key, into, true
}

// MergedInto is the PagerDuty incident a note written by MergedNote says
// the alert was merged into (its id, as resolve_reason named it), "" for
// any other note or one that names no id.
func MergedInto(note string) string {
	if _, _, ok := MergedAlert(note); !ok {
		return ""
	}
	_, after, ok := strings.Cut(note, " into incident ")
	if !ok {
		return ""
	}
	// "<id> (<summary>) by ..." or "<id> by ...": mergedInto's into.
	id, rest, _ := strings.Cut(after, " ")
	if !serviceIDRE.MatchString(id) || !strings.HasPrefix(rest, "(") && !strings.HasPrefix(rest, "by ") {
		return ""
	}
	return id
}
