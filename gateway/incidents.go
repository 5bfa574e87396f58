package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// alert is one incident's worth of an arriving alert, whatever sent it.
type alert struct {
	service  *policy.Service
	dedupKey string
	source   string // alertmanager, pagerduty, api
	actor    string
	labels   []map[string]string
	// titles name the alerts of labels, in order (ingest.AlertGroup.Titles);
	// they may be missing.
	titles  []string
	summary string
	details json.RawMessage
	// cuts say how the alert was truncated to fit pagerd's limits: the
	// incident's timeline says so (a "truncated" entry).
	cuts []ingest.Cut
}

// raisedBy names the alert that decided the priority, and says how many
// alerts are firing, for a page about an incident whose priority it raised.
func (a alert) raisedBy(i int) (title, firing string) {
	title = a.summary
	if i >= 0 && i < len(a.titles) && a.titles[i] != "" {
		title = a.titles[i]
	}
	firing = "1 alert firing"
	if n := len(a.labels); n > 1 {
		firing = fmt.Sprintf("%d alerts firing", n)
	}
	return title, firing
}

// trigger opens an incident for the alert, or records a repeat on the open
// one with the same dedup key: one store round trip either way.
func (s *Server) trigger(ctx context.Context, cfg *policy.Config, a alert) (string, store.Outcome, error) {
	now := s.clock()
	rt, decided := cfg.RouteGroup(a.service, a.labels, now)
	id := store.NewID(store.ShardOf(a.service.Name, a.dedupKey), now)
	eng := policy.Engine{Config: cfg}
	st, acts, err := eng.Apply(policy.Incident{ID: id}, policy.Event{Kind: policy.EventTrigger, Route: &rt}, now)
	if err != nil {
		return "", 0, err
	}
	inc := &store.Incident{ID: id, Service: a.service.Name, DedupKey: a.dedupKey, Source: a.source, Summary: a.summary,
		CreatedAt: now, UpdatedAt: now, LastSeen: now, Details: a.details, State: st}
	tl := []store.Entry{{At: now, Type: "trigger", Actor: a.actor,
		Detail: fmt.Sprintf("%s, %s urgency, rule %s", st.Priority, st.Urgency, st.Rule)}}
	var cut []store.Entry
	if len(a.cuts) > 0 {
		cut = []store.Entry{{At: now, Type: "truncated", Actor: "pagerd", Detail: ingest.CutDetails(a.cuts)}}
		tl = append(tl, cut...)
	}
	tl = append(tl, toEntries(acts, a.actor)...)
	gotID, out, err := s.store.Trigger(ctx, inc, tl)
	if err != nil {
		return "", 0, err
	}
	if len(a.cuts) > 0 {
		s.recordCuts(ctx, a, gotID, out, cut)
	}
	outcome := "created"
	if out == store.Created {
		s.wakeIfDue(inc, now)
	}
	if out == store.Repeated {
		title, firing := a.raisedBy(decided)
		if err := s.raiseIfWorse(ctx, gotID, rt, a.actor, title, firing); err != nil {
			return "", 0, err
		}
		outcome = "repeated"
	} else {
		s.log.Info("incident opened", "incident", gotID, "service", a.service.Name, "priority", st.Priority,
			"urgency", st.Urgency, "source", a.source)
	}
	s.m.alerts.WithLabelValues(a.source, a.service.Name, outcome).Inc()
	return gotID, out, nil
}

// recordCuts makes a truncated alert visible: a new incident already has
// the "truncated" entry in its timeline; a repeat gets one too (the
// details it replaced were cut as well), and both count in
// pagerd_alerts_truncated_total and are logged at warn. The repeat's note
// is best effort: the alert is stored whatever becomes of it.
func (s *Server) recordCuts(ctx context.Context, a alert, id string, out store.Outcome, cut []store.Entry) {
	if out == store.Repeated {
		if err := s.store.Note(ctx, map[string][]store.Entry{id: cut}); err != nil {
			s.log.Warn("truncation not noted in the timeline", "incident", id, "err", err)
		}
	}
	limits := make([]string, 0, len(a.cuts))
	for _, c := range a.cuts {
		s.m.truncated.WithLabelValues(a.source, a.service.Name, c.Limit).Inc()
		limits = append(limits, c.Limit)
	}
	s.log.Warn("alert truncated to fit pagerd's limits", "incident", id, "service", a.service.Name, "source", a.source,
		"limits", strings.Join(limits, ","), "detail", cut[0].Detail)
}

// raiseIfWorse looks at an open incident whose alert fired again: if the
// alert is now more urgent (a critical alert joined a warning group), the
// incident takes the higher priority and its current level is paged again.
// The pages must say why the incident got worse, so its summary becomes
// the alert that raised it (title) and how many alerts are firing. This read
// is the price of a repeat; a new incident costs one round trip.
func (s *Server) raiseIfWorse(ctx context.Context, id string, rt policy.Route, actor, title, firing string) error {
	inc, err := s.store.Get(ctx, id)
	if err != nil {
		return err
	}
	sc := rt.Service.Scheme()
	if !inc.Open() || sc.Rank(rt.Priority) >= sc.Rank(inc.State.Priority) {
		return nil
	}
	from := inc.State.Priority
	why := title + "; " + firing
	summary := ingest.CapSummary(fmt.Sprintf("%s (raised from %s to %s; %s)", title, from, rt.Priority, firing))
	_, acts, err := s.applyWith(ctx, id, policy.Event{Kind: policy.EventTrigger, Route: &rt, Actor: actor, Message: why},
		func(inc *store.Incident) { inc.Summary = summary })
	if err == nil && len(acts) > 0 {
		s.log.Info("incident priority raised", "incident", id, "from", from, "to", rt.Priority, "by", why)
	}
	return err
}

// errAlreadyResolved is an action on a resolved incident: 409.
var errAlreadyResolved = &inputError{http.StatusConflict, "the incident is already resolved"}

// apply runs an event through the escalation machine against the stored
// incident and writes the result, retrying when another writer got there
// first. An event that changes nothing writes nothing.
func (s *Server) apply(ctx context.Context, id string, ev policy.Event) (*store.Incident, []policy.Action, error) {
	return s.applyWith(ctx, id, ev, nil)
}

// applyWith is apply that also edits the stored incident (its summary) in
// the same write, when the event changed something.
func (s *Server) applyWith(ctx context.Context, id string, ev policy.Event, edit func(*store.Incident)) (*store.Incident, []policy.Action, error) {
	for attempt := 0; ; attempt++ {
		inc, err := s.store.Get(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		cfg := s.Config()
		if cfg.Service(inc.Service) == nil {
			return nil, nil, &inputError{http.StatusConflict, fmt.Sprintf("service %q is no longer in the config", inc.Service)}
		}
		now := s.clock()
		eng := policy.Engine{Config: cfg}
		st, acts, err := eng.Apply(inc.State, ev, now)
		if errors.Is(err, policy.ErrResolved) {
			return inc, nil, errAlreadyResolved
		}
		if err != nil {
			return nil, nil, &inputError{http.StatusBadRequest, err.Error()}
		}
		if len(acts) == 0 && reflect.DeepEqual(st, inc.State) {
			return inc, nil, nil
		}
		inc.State, inc.UpdatedAt = st, now
		if edit != nil && len(acts) > 0 {
			edit(inc)
		}
		if s.pd != nil {
			// PagerDuty is told in the same write, as work the dispatcher
			// does (and retries): a crash cannot lose it.
			for _, a := range acts {
				switch a.Kind {
				case policy.ActionAck:
					inc.Outbox = append(inc.Outbox, forwardItem("acknowledge", inc.Version, now))
				case policy.ActionResolve:
					inc.Outbox = append(inc.Outbox, forwardItem("resolve", inc.Version, now))
				}
			}
		}
		err = s.store.Update(ctx, inc, toEntries(acts, ev.Actor))
		if errors.Is(err, store.ErrConflict) && attempt < 10 {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		for _, a := range acts {
			if a.Kind == policy.ActionAck && st.AcknowledgedAt.Equal(now) {
				s.m.timeToAck.Observe(now.Sub(st.TriggeredAt).Seconds())
			}
		}
		s.logAction(inc, ev, acts)
		s.wakeIfDue(inc, now)
		return inc, acts, nil
	}
}

// actionLogs are the log messages of what people do to incidents.
var actionLogs = map[policy.EventKind]string{
	policy.EventAcknowledge:  "incident acknowledged",
	policy.EventResolve:      "incident resolved",
	policy.EventEscalate:     "incident escalated",
	policy.EventStatusUpdate: "incident status update",
}

// logAction says who acknowledged, resolved, escalated or updated an
// incident, once it is stored: the log must answer "who acked that?".
func (s *Server) logAction(inc *store.Incident, ev policy.Event, acts []policy.Action) {
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
func (s *Server) wakeIfDue(inc *store.Incident, now time.Time) {
	if s.wake == nil {
		return
	}
	if at, ok := store.DueAt(inc); ok && !at.After(now) {
		s.wake()
	}
}

// resolveByDedup resolves the open incident with the dedup key, if any, and
// returns its id ("" when there was none). A resolve for an alert pagerd
// never opened, or already resolved, is done: there is nothing to store.
func (s *Server) resolveByDedup(ctx context.Context, svc *policy.Service, dedupKey, source, actor string) (string, error) {
	return s.actByDedup(ctx, svc, dedupKey, source, policy.Event{Kind: policy.EventResolve, Actor: actor}, "resolved")
}

// actByDedup applies ev to the open incident with the dedup key and returns
// its id, or "" when no open incident has the key.
func (s *Server) actByDedup(ctx context.Context, svc *policy.Service, dedupKey, source string, ev policy.Event, outcome string) (string, error) {
	inc, err := s.store.FindByDedup(ctx, svc.Name, dedupKey)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !inc.Open()) {
		s.m.alerts.WithLabelValues(source, svc.Name, "ignored").Inc()
		return "", nil
	}
	if err != nil {
		return "", err
	}
	_, _, err = s.apply(ctx, inc.ID, ev)
	if errors.Is(err, errAlreadyResolved) {
		err = nil
	}
	if err != nil {
		return "", err
	}
	s.m.alerts.WithLabelValues(source, svc.Name, outcome).Inc()
	return inc.ID, nil
}

// clock is now in UTC to the millisecond: what the stores keep, and shorter
// to store than nanoseconds in a local zone.
func (s *Server) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// toEntries turns the machine's actions into timeline entries. Levels are
// written 1-based, as people count them.
func toEntries(acts []policy.Action, actor string) []store.Entry {
	out := make([]store.Entry, 0, len(acts))
	for _, a := range acts {
		e := store.Entry{At: a.At, Type: string(a.Kind), Level: a.Level + 1, User: a.User, Channel: a.Channel, Detail: a.Detail}
		if a.Kind != policy.ActionNotify {
			e.Actor = actor
		}
		if a.LevelName != "" && e.Detail == "" {
			e.Detail = "level " + a.LevelName
		}
		out = append(out, e)
	}
	return out
}

// incidentView is an incident as the API shows it.
type incidentView struct {
	ID             string          `json:"id"`
	Service        string          `json:"service"`
	Status         policy.Status   `json:"status"`
	Priority       string          `json:"priority"`
	Urgency        string          `json:"urgency"`
	Summary        string          `json:"summary"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	AcknowledgedAt *time.Time      `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string          `json:"acknowledged_by,omitempty"`
	ResolvedAt     *time.Time      `json:"resolved_at,omitempty"`
	ResolvedBy     string          `json:"resolved_by,omitempty"`
	Level          int             `json:"level"`
	LevelName      string          `json:"level_name,omitempty"`
	Rule           string          `json:"rule,omitempty"`
	Source         string          `json:"source"`
	DedupKey       string          `json:"dedup_key"`
	Repeats        int             `json:"repeats"`
	LastSeen       time.Time       `json:"last_seen"`
	StatusUpdates  int             `json:"status_updates"`
	NextStepAt     *time.Time      `json:"next_step_at,omitempty"`
	Details        json.RawMessage `json:"details,omitempty"`
	Timeline       []store.Entry   `json:"timeline,omitempty"`
}

func view(cfg *policy.Config, inc *store.Incident) incidentView {
	st := inc.State
	v := incidentView{ID: inc.ID, Service: inc.Service, Status: st.Status, Priority: st.Priority, Urgency: st.Urgency,
		Summary: inc.Summary, CreatedAt: inc.CreatedAt, UpdatedAt: inc.UpdatedAt, AcknowledgedBy: st.AcknowledgedBy,
		ResolvedBy: st.ResolvedBy, Level: st.Level + 1, Rule: st.Rule, Source: inc.Source, DedupKey: inc.DedupKey,
		Repeats: inc.Repeats, LastSeen: inc.LastSeen, StatusUpdates: st.StatusUpdates, Details: inc.Details}
	if !st.AcknowledgedAt.IsZero() {
		t := st.AcknowledgedAt
		v.AcknowledgedAt = &t
	}
	if !st.ResolvedAt.IsZero() {
		t := st.ResolvedAt
		v.ResolvedAt = &t
	}
	if d, ok := st.Next(); ok {
		v.NextStepAt = &d.At
	}
	if svc := cfg.Service(inc.Service); svc != nil {
		if p := cfg.Policy(svc.EscalationPolicy); p != nil && st.Level < len(p.Levels) {
			v.LevelName = p.Levels[st.Level].Name
		}
	}
	return v
}
