package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Route is what the config decides for one alert at one instant: its
// priority, why, how urgent it is, and the targets it is held to.
type Route struct {
	Service         *Service
	Priority        string
	Rule            string // the matching rule's name, "severity=<word>" for the default mapping, or "default_priority"
	PageImmediately []string
	// PageImmediatelyBy names, for each level of PageImmediately (same
	// index), the rule that pages it at once: a group's route pages at
	// once the levels of every alert's rule, and Rule is the deciding
	// alert's only. Of another length (a Route built by hand), Rule
	// names them all (RuleOfLevel).
	PageImmediatelyBy []string
	Urgency           string
	BusinessHours     bool
	EscalationPolicy  string
	Targets           TargetSet
}

// Route decides the priority and targets of an alert with these labels,
// arriving at the given instant.
func (c *Config) Route(s *Service, lbls map[string]string, at time.Time) Route {
	r := Route{Service: s, EscalationPolicy: s.EscalationPolicy}
	ls := make(model.LabelSet, len(lbls))
	for k, v := range lbls {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	for i := range s.Rules {
		rule := &s.Rules[i]
		if !rule.matchers.Matches(ls) {
			continue
		}
		r.Rule = rule.Name
		if r.Rule == "" {
			r.Rule = fmt.Sprintf("rules[%d]", i)
		}
		r.Priority = rule.Priority
		r.PageImmediately = rule.PageImmediately
		r.PageImmediatelyBy = ruleOfEach(rule.PageImmediately, r.Rule)
		break
	}
	if r.Priority == "" {
		r.Priority, r.Rule = c.severityPriority(s, lbls[s.SeverityLabel], r.Rule)
	}
	r.BusinessHours = c.Calendar(s).IsOpen(at)
	r.Targets = c.TargetsAt(s, r.Priority, at)
	r.Urgency = r.Targets.Urgency
	return r
}

// RouteGroup routes the alerts of one incident (an Alertmanager group):
// each label set is routed and the most urgent result wins, so a group
// with one critical alert among warnings is critical. Among equally
// urgent ones, the first whose rule pages levels at once wins (its rule
// names the auto-escalation). The levels any alert's rule pages at once
// are all paged at once: an auto-escalation trigger (a security breach)
// in a group must reach the executives whichever alert came first. It
// also returns the index of the label set that decided, -1 when there are
// none (the route of an alert without labels).
func (c *Config) RouteGroup(s *Service, sets []map[string]string, at time.Time) (Route, int) {
	if len(sets) == 0 {
		return c.Route(s, nil, at), -1
	}
	best, decided := c.Route(s, sets[0], at), 0
	immediately := append([]string(nil), best.PageImmediately...)
	by := make([]string, 0, len(immediately))
	for k := range immediately {
		by = append(by, best.RuleOfLevel(k))
	}
	for i, ls := range sets[1:] {
		r := c.Route(s, ls, at)
		for k, name := range r.PageImmediately {
			if !slices.Contains(immediately, name) {
				immediately, by = append(immediately, name), append(by, r.RuleOfLevel(k))
			}
		}
		rank, bestRank := s.Scheme().Rank(r.Priority), s.Scheme().Rank(best.Priority)
		if rank < bestRank || (rank == bestRank && len(best.PageImmediately) == 0 && len(r.PageImmediately) > 0) {
			best, decided = r, i+1
		}
	}
	best.PageImmediately, best.PageImmediatelyBy = immediately, by
	return best, decided
}

// RuleOfLevel is the rule that pages the k-th level of PageImmediately at
// once (PageImmediatelyBy), Rule when that is not kept.
func (rt *Route) RuleOfLevel(k int) string {
	if len(rt.PageImmediatelyBy) == len(rt.PageImmediately) && rt.PageImmediatelyBy[k] != "" {
		return rt.PageImmediatelyBy[k]
	}
	return rt.Rule
}

// severityPriority maps the severity label: the service's own table first,
// then the default one, then a priority of the service's scheme by name
// (severity="P0", "sev-1"), then the service's default priority. A rule
// that matched without setting a priority keeps its name in the answer.
// A priority's own name fell to the default priority: an alert labelled
// severity="P0" was paged as P1, its acknowledgement awaited three times
// as long, and one labelled "P3" rang a phone at night.
func (c *Config) severityPriority(s *Service, sev, rule string) (string, string) {
	why := func(w string) string {
		if rule != "" {
			return rule + " (" + w + ")"
		}
		return w
	}
	for _, word := range []string{sev, strings.ToLower(sev)} {
		if p, ok := s.Severities[word]; ok {
			return p, why("severity=" + sev)
		}
		if p, ok := s.scheme.DefaultSeverity(word); ok {
			return p, why("severity=" + sev)
		}
	}
	for _, p := range s.scheme.Priorities {
		if strings.EqualFold(p, sev) {
			return p, why("severity=" + sev)
		}
	}
	return s.DefaultPriority, why("default_priority")
}

// TargetsAt is the priority's targets in force at t: the base set with the
// business-hours or off-hours variant laid over it. Urgency defaults to high.
func (c *Config) TargetsAt(s *Service, priority string, t time.Time) TargetSet {
	pt := s.Targets[priority]
	ts := pt.TargetSet
	variant := pt.OffHours
	if c.Calendar(s).IsOpen(t) {
		variant = pt.BusinessHours
	}
	if variant != nil {
		if variant.Urgency != "" {
			ts.Urgency = variant.Urgency
		}
		for _, f := range []struct{ dst, src *Timeout }{
			{&ts.Acknowledge, &variant.Acknowledge},
			{&ts.InitialResponse, &variant.InitialResponse},
			{&ts.Resolution, &variant.Resolution},
			{&ts.StatusUpdate, &variant.StatusUpdate},
		} {
			if f.src.IsSet() {
				*f.dst = *f.src
			}
		}
	}
	if ts.Urgency == "" {
		ts.Urgency = UrgencyHigh
	}
	return ts
}

// LevelTimeout is how long level i of the service's policy has to
// acknowledge a priority, starting at t. ok is false when the level has no
// timeout for it (a final level that never escalates).
func (c *Config) LevelTimeout(s *Service, level int, priority string, t time.Time) (time.Time, bool) {
	p := c.policies[s.EscalationPolicy]
	if p == nil || level < 0 || level >= len(p.Levels) {
		return time.Time{}, false
	}
	l := &p.Levels[level]
	to, ok := l.Timeouts[priority]
	if !ok {
		to = l.Timeout
	}
	if !to.IsSet() {
		return time.Time{}, false
	}
	if to.Kind == TimeoutAckTarget && !c.TargetsAt(s, priority, t).Acknowledge.IsSet() {
		return time.Time{}, false
	}
	return c.DueAt(s, priority, to, t), true
}

// DueAt is when a timeout of the service's priority runs out, its clock
// started at start: a duration after start; ack_target, when the priority's
// acknowledge target falls due (TargetDueAt: the business-hours or
// off-hours variant in force at start, or a stricter one that comes into
// force before it runs out); next_business_day, the first opening of the service's
// calendar strictly after start, or, when the priority has an acknowledge
// target in force at start, the first at or after start plus that target. A
// "next business day" maximum is never sooner than the target it is the
// maximum of: an AION-R SEV-4 (acknowledge 2h) paged on a Wednesday at
// 08:59 is due Thursday at 09:00, not a minute later at Wednesday's
// opening. Level timeouts, the engine's response targets and reports all
// count through here, so they agree.
func (c *Config) DueAt(s *Service, priority string, to Timeout, start time.Time) time.Time {
	cal := c.Calendar(s)
	if to.Kind == TimeoutFixed {
		return cal.Resolve(to, start)
	}
	ack := c.TargetsAt(s, priority, start).Acknowledge
	switch to.Kind {
	case TimeoutAckTarget:
		at, _ := c.TargetDueAt(s, priority, "acknowledge", start)
		return at
	case TimeoutNextBusinessDay:
		if ack.IsSet() && ack.Kind == TimeoutFixed {
			// At or after the target's end: a SEV-4 paged at 07:00 is
			// due at 09:00, when its 2 hours end, not a day later.
			return cal.NextBusinessDay(start.Add(ack.Duration - time.Nanosecond))
		}
	}
	return cal.Resolve(to, start)
}

// TargetDueAt is when the priority's target (one of TargetNames) falls due
// for a clock started at start, and whether the priority has one then. It
// is the target in force at start (DueAt), unless business hours open or
// close before that and the variant in force from then, counted from then,
// falls due sooner: AIVO's P3 opened at 17:59 has 4 hours by the
// business-hours table, but from 18:00 the off-hours rule "acknowledge
// P2/P3 alerts within 1 hour" holds, so it is due at 19:00, not at 21:59,
// as it would be had it come a minute later. A target never moves later
// for crossing the edge: a P3 opened at 07:00 is due at 08:00 still.
// The engine's level timeouts (ack_target) and SLA targets, route and
// reports all count through here.
func (c *Config) TargetDueAt(s *Service, priority, target string, start time.Time) (time.Time, bool) {
	to := c.targetAt(s, priority, target, start)
	if !to.IsSet() {
		return time.Time{}, false
	}
	return c.targetDueFrom(s, priority, target, to, start), true
}

// targetAt is the priority's target (one of TargetNames) in force at t.
func (c *Config) targetAt(s *Service, priority, target string, t time.Time) Timeout {
	ts := c.TargetsAt(s, priority, t)
	switch target {
	case "acknowledge":
		return ts.Acknowledge
	case "initial_response":
		return ts.InitialResponse
	case "resolution":
		return ts.Resolution
	case "status_update":
		return ts.StatusUpdate
	}
	return Timeout{}
}

// targetDueFrom is when the target, to for a clock started at start, falls
// due: to counted from start, or, for each opening or closing of business
// hours before that, the variant in force from then, counted from then,
// if that is sooner (TargetDueAt). The status-update clock restarts at
// each update with the variant in force at the incident's creation, and
// counts across business hours the same way from there.
func (c *Config) targetDueFrom(s *Service, priority, target string, to Timeout, start time.Time) time.Time {
	due := c.DueAt(s, priority, to, start)
	pt := s.Targets[priority]
	if pt.BusinessHours == nil && pt.OffHours == nil {
		return due // the same target at every hour
	}
	if to.Kind == TimeoutFixed && !pt.BusinessHours.setsTarget(target) && !pt.OffHours.setsTarget(target) {
		// No variant changes it: counted from any later edge, the same
		// duration ends later. AIVO's P3 resolution (72h) walked nine
		// edges at every trigger for nothing.
		return due
	}
	cal := c.Calendar(s)
	for edge := cal.nextEdge(start); edge.Before(due); edge = cal.nextEdge(edge) {
		if to := c.targetAt(s, priority, target, edge); to.IsSet() {
			if d := c.DueAt(s, priority, to, edge); d.Before(due) {
				due = d
			}
		}
	}
	return due
}

// setsTarget reports whether the variant v (nil: none) sets the target,
// one of TargetNames.
func (v *TargetSet) setsTarget(target string) bool {
	if v == nil {
		return false
	}
	switch target {
	case "acknowledge":
		return v.Acknowledge.IsSet()
	case "initial_response":
		return v.InitialResponse.IsSet()
	case "resolution":
		return v.Resolution.IsSet()
	case "status_update":
		return v.StatusUpdate.IsSet()
	}
	return false
}
