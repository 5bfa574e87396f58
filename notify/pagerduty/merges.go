package pagerduty

import (
	"context"
	"errors"
	"fmt"

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
	// was).
	Merge(ctx context.Context, from, into string, alert Moved) error
	// Moved is what is recorded for PagerDuty's incident pd, none when
	// nothing is.
	Moved(ctx context.Context, pd string) ([]Moved, error)
	// Forget drops what is recorded for pd, once it is resolved: its
	// alerts are resolved with it.
	Forget(ctx context.Context, pd string) error
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
	if err := wh.Merges.Merge(ctx, ev.Data.ID, into, m); err != nil {
		return fmt.Errorf("keep the PagerDuty merge of %s into %s: %w", ev.Data.ID, into, err)
	}
	return nil
}

// ackMoved answers a person's incident.acknowledged for the alerts
// PagerDuty merged into that incident from pagerd's other incidents: its
// webhook is keyed by the incident's own alert, but PagerDuty stopped
// notifying for every alert in it, so each is acknowledged as that
// person, the answer to the page its alert was (an alert from before
// its incident's latest reopen acknowledges nothing). An alert pushed to
// a person no longer in the config, or an incident gone, is passed over.
func (wh *Webhook) ackMoved(ctx context.Context, ev *webhookEvent) error {
	if wh.Merges == nil || !ev.byPerson() || !serviceIDRE.MatchString(ev.Data.ID) {
		return nil
	}
	moved, err := wh.Merges.Moved(ctx, ev.Data.ID)
	if err != nil {
		return err
	}
	for _, m := range moved {
		id, user, reopened, ok := ParseDedupKey(m.Key)
		if !ok || m.Key == ev.Data.IncidentKey || !wh.Receiver.KnowsUser(user) {
			continue
		}
		acted, err := wh.Receiver.AcknowledgePage(ctx, user, notify.Page{Target: id, Reopened: reopened, Source: notify.SourcePagerDuty, By: ev.agentName()})
		switch {
		case errors.Is(err, notify.ErrNotFound), err == nil && acted.AlreadyResolved:
			continue
		case err != nil:
			return err
		case acted.NotStored > 0:
			return storedInPart(acted)
		}
		wh.log().Info("PagerDuty webhook: the PagerDuty incident an alert of this incident was merged into was acknowledged by a person; acknowledged as theirs",
			"incident", id, "user", user, "pagerduty_incident", ev.Data.ID, "agent", textcut.Line(ev.agentName(), 100), "reopened_since", acted.ReopenedSince)
	}
	return nil
}

// forgetMerges drops what is kept for a PagerDuty incident once it is
// resolved: its alerts are resolved with it.
func (wh *Webhook) forgetMerges(ctx context.Context, ev *webhookEvent) error {
	if wh.Merges == nil || !serviceIDRE.MatchString(ev.Data.ID) {
		return nil
	}
	return wh.Merges.Forget(ctx, ev.Data.ID)
}
