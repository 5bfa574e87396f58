// Package history reads the incident history that reports and handoff
// documents are made of, from the store or from a running pagerd's API,
// and keeps it to server.retention.
//
// A Source gives incidents in the report package's form, oldest first;
// Report and Handoff feed them to the report package, which is pure. The
// daemon's GET /api/v1/reports, pagerd report on a data dir and pagerd
// report --server all go through Report, so they give the same figures.
//
// Reading is cheap because the store reads history by its creation index,
// a thousand incidents with their timelines in a few round trips
// (store.History), never a round trip per incident; and history stays the
// size retention allows because a daily store job expires what is older
// (Retention).
package history

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/pagerd/pagerd/gateway/changes"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
	"github.com/pagerd/pagerd/report"
)

// Source is where history comes from: a store (Store) or a running
// pagerd's API (Remote).
type Source interface {
	// Incidents calls fn with every incident created in [since, until),
	// oldest first; with open, first with every incident created before
	// since that is still open (a handoff document lists them). An error
	// from fn stops it and is returned.
	Incidents(ctx context.Context, since, until time.Time, open bool, fn func(*report.Incident) error) error
}

// Incident is a stored incident and its timeline as reports read them:
// one field each (the escalation state carries status, priority,
// acknowledgement and resolution), one conversion per timeline entry.
func Incident(inc *store.Incident, timeline []store.Entry) report.Incident {
	st := &inc.State
	out := report.Incident{ID: inc.ID, Service: inc.Service, Status: string(st.Status), Priority: st.Priority,
		Summary: inc.Summary, CreatedAt: inc.CreatedAt, AcknowledgedAt: st.AcknowledgedAt, AcknowledgedBy: st.AcknowledgedBy,
		ResolvedAt: st.ResolvedAt, ResolvedBy: st.ResolvedBy, Held: st.Held, Details: inc.Details, Timeline: make([]report.Entry, len(timeline))}
	for i, e := range timeline {
		out.Timeline[i] = report.Entry(e)
	}
	return out
}

// Report makes the report of the incidents created in [o.From, o.To),
// streaming them from src into the report one at a time.
func Report(ctx context.Context, src Source, cfg *policy.Config, o report.Options) (*report.Report, error) {
	b, err := report.New(cfg, o)
	if err != nil {
		return nil, err
	}
	err = src.Incidents(ctx, o.From, o.To, false, func(inc *report.Incident) error {
		b.Add(inc)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read incident history: %w", err)
	}
	return b.Report(), nil
}

// HandoffLookback is how far before a handoff document's week Handoff
// reads, for incidents of earlier weeks that were still open at the
// document's time. Those still open now are read whatever their age;
// this covers the ones resolved since, for a document made after the fact.
const HandoffLookback = 28 * 24 * time.Hour

// Handoff makes a schedule's handoff document at `at`: the outgoing week's
// incidents, and every incident open at `at`.
func Handoff(ctx context.Context, src Source, cfg *policy.Config, schedule string, at time.Time) (*report.HandoffDoc, error) {
	_, from, to, err := report.HandoffWindow(cfg, schedule, at)
	if err != nil {
		return nil, err
	}
	// The week, and from its end to at when the document is made after
	// the handoff: what opened since is open at at.
	until := to
	if at.After(until) {
		until = at.Add(time.Millisecond)
	}
	var incs []report.Incident
	seen := map[string]bool{}
	err = src.Incidents(ctx, from.Add(-HandoffLookback), until, true, func(inc *report.Incident) error {
		if !seen[inc.ID] {
			seen[inc.ID] = true
			incs = append(incs, *inc)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read incident history: %w", err)
	}
	doc, err := report.Handoff(cfg, schedule, at, incs)
	if err != nil {
		return nil, err
	}
	if cs, ok := src.(ChangeSource); ok {
		list, err := cs.Changes(ctx, report.HandoffServices(cfg, schedule), from, until)
		if err != nil {
			return nil, fmt.Errorf("read the change events: %w", err)
		}
		doc.SetChanges(list)
	}
	return doc, nil
}

// ChangeSource is a Source that also has the change events deploy tools
// sent (POST /v2/change/enqueue), which a handoff document lists.
type ChangeSource interface {
	// Changes returns the changes of the services made in [since,
	// until), in any order.
	Changes(ctx context.Context, services []string, since, until time.Time) ([]report.Change, error)
}

// maxChanges bounds the changes a handoff document reads: a week of the
// busiest services' deploys.
const maxChanges = 1000

// Changes reads the changes from the store (changes.Log).
func (s Store) Changes(ctx context.Context, services []string, since, until time.Time) ([]report.Change, error) {
	docs, ok := s.Store.(store.Docs)
	if !ok {
		return nil, nil // a store without documents keeps no changes
	}
	list, err := (&changes.Log{Store: docs, Now: s.Now}).List(ctx, services, since, until, maxChanges)
	if err != nil {
		return nil, err
	}
	return ReportChanges(list), nil
}

// ReportChanges are stored changes as a handoff document lists them.
func ReportChanges(list []changes.Change) []report.Change {
	out := make([]report.Change, 0, len(list))
	for _, c := range list {
		rc := report.Change{At: c.At, Service: c.Service, Summary: c.Summary, Source: c.Source}
		if len(c.Links) > 0 {
			rc.Link = c.Links[0].Href
		}
		out = append(out, rc)
	}
	return out
}

// Reader is the part of a store a Store source reads: history, and the
// open incidents a handoff document lists.
type Reader interface {
	store.History
	List(ctx context.Context, f store.Filter) ([]*store.Incident, error)
	Timeline(ctx context.Context, id string) ([]store.Entry, error)
}

// Store is a Source on a store: the daemon's, or a data dir opened
// read-only.
type Store struct {
	Store Reader
	// Now is the clock the changes' retention is read by (default
	// time.Now).
	Now func() time.Time
}

var _ Source = Store{}

// maxOpen bounds how many open incidents older than a handoff's lookback
// are read (each with a round trip for its timeline): more than any team
// leaves open for a month.
const maxOpen = 2000

// Incidents reads the store's history (store.History); open incidents
// older than since come from the open index, each with its timeline.
func (s Store) Incidents(ctx context.Context, since, until time.Time, open bool, fn func(*report.Incident) error) error {
	if open {
		// One read of both statuses (Filter.Open): read one status after
		// the other, an incident reopened in between would be in neither.
		older, err := s.Store.List(ctx, store.Filter{Open: true, Until: since, Limit: maxOpen})
		if err != nil {
			return err
		}
		sort.Slice(older, func(i, j int) bool {
			a, b := store.CursorOf(older[i]), store.CursorOf(older[j])
			return a.CreatedAt.Before(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID < b.ID)
		})
		for _, inc := range older {
			tl, err := s.Store.Timeline(ctx, inc.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			ri := Incident(inc, tl)
			if err := fn(&ri); err != nil {
				return err
			}
		}
	}
	return s.Store.History(ctx, since, until, func(inc *store.Incident, tl []store.Entry) error {
		ri := Incident(inc, tl)
		return fn(&ri)
	})
}
