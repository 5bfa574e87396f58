package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// payKey is one person's week.
type payKey struct {
	week int64 // the week start's Unix time
	user string
}

// payAcc gathers what incidents earned under policy's compensation rules
// (policy.Config.Pay: billable time outside business hours in the
// responder's zone, the minimum, the rounding, the comp days).
type payAcc struct {
	weeks     map[payKey]*PayWeek
	items     []PayItem
	unpaid    int
	unknown   []UnpaidIncident
	open      int
	onCall    map[payKey]time.Duration
	rotations []string
}

// week is the person's row of the week, made when it is their first.
func (p *payAcc) week(cfg *policy.Config, week time.Time, user string) *PayWeek {
	k := payKey{week.Unix(), user}
	w := p.weeks[k]
	if w == nil {
		w = &PayWeek{Week: week, User: user, Name: cfg.UserName(user), Incidents: []string{}}
		p.weeks[k] = w
	}
	return w
}

// span is [from, until).
type span struct{ from, until time.Time }

// addOnCall counts the time each person was on call from `from` to
// `until` in the rotations the paid services page: the schedule tiers
// their escalation policies name (levels and "unresolved after" rules;
// a target naming a person is no rotation), with the schedules' overrides
// applied as `pagerd oncall` applies them (policy.Schedule.Shifts). A
// person holding two such tiers at once is on call once; the time is
// split at the report weeks' starts.
func (p *payAcc) addOnCall(cfg *policy.Config, week *policy.ReportWeek, from, until time.Time) {
	paid := map[string]bool{} // "schedule/tier"
	for i := range cfg.Services {
		svc := &cfg.Services[i]
		if pol := cfg.Policy(svc.EscalationPolicy); pol != nil && cfg.CompensationFor(svc) != nil {
			for _, t := range pagedTargets(pol) {
				if t.Schedule != "" {
					paid[t.Schedule+"/"+t.Tier] = true
				}
			}
		}
	}
	held := map[string][]span{}
	var users []string
	for i := range cfg.Schedules {
		s := &cfg.Schedules[i]
		for _, t := range s.Tiers {
			if paid[s.Name+"/"+t.Name] {
				p.rotations = append(p.rotations, s.Name+"/"+t.Name)
			}
		}
		if !until.After(from) {
			continue
		}
		for _, sh := range s.Shifts(from, until) {
			if !paid[s.Name+"/"+sh.Tier] || cfg.User(sh.User) == nil {
				continue
			}
			if held[sh.User] == nil {
				users = append(users, sh.User)
			}
			held[sh.User] = append(held[sh.User], span{sh.From, sh.Until})
		}
	}
	for _, u := range users {
		for _, sp := range union(held[u]) {
			for ws := week.Start(sp.from); ws.Before(sp.until); ws = week.Next(ws) {
				a, b := sp.from, week.Next(ws)
				if ws.After(a) {
					a = ws
				}
				if sp.until.Before(b) {
					b = sp.until
				}
				p.week(cfg, ws, u)
				p.onCall[payKey{ws.Unix(), u}] += b.Sub(a)
			}
		}
	}
}

// union merges spans that overlap or touch, in time order.
func union(spans []span) []span {
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	var out []span
	for _, s := range spans {
		if n := len(out); n > 0 && !s.from.After(out[n-1].until) {
			if s.until.After(out[n-1].until) {
				out[n-1].until = s.until
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// add pays a resolved incident of a service with a compensation policy to
// the person who worked it: its acknowledger, or when nobody acknowledged
// it, the person who resolved it. Incident time runs from creation to
// resolution on the wall clock, as `pagerd simulate` counts it: the time a
// maintenance window held the incident, which MTTR leaves out, is paid.
// One still open earns nothing yet and is counted as open, so that the
// report says its time is still to come.
func (p *payAcc) add(cfg *policy.Config, svc *policy.Service, inc *Incident, f *facts) {
	cp := cfg.CompensationFor(svc)
	if cp == nil {
		return
	}
	if !f.resolved {
		p.open++
		return
	}
	who := ""
	switch {
	case f.acked && cfg.User(f.ackBy) != nil:
		who = f.ackBy
	case cfg.User(f.resolvedBy) != nil:
		who = f.resolvedBy
	default:
		p.unpaid++
		if f.acked && f.ackBy != "" {
			p.unknown = append(p.unknown, UnpaidIncident{Incident: inc.ID, AcknowledgedBy: f.ackBy, ResolvedBy: f.resolvedBy})
		}
		return
	}
	end := f.resolvedAt
	pay := cfg.Pay(cp, inc.Priority, who, inc.CreatedAt, end)
	if pay.Billable <= 0 && pay.CompDays == 0 {
		return
	}
	p.items = append(p.items, PayItem{Incident: inc.ID, Service: inc.Service, Priority: inc.Priority, Summary: inc.Summary,
		User: who, Name: cfg.UserName(who), Week: f.week, Start: inc.CreatedAt, End: end,
		BillableMinutes: pay.BillableMinutes, WeekendMinutes: pay.WeekendMinutes, AfterHoursMinutes: pay.AfterHoursMinutes,
		CompDays: pay.CompDays, Reasons: pay.Reasons})
	w := p.week(cfg, f.week, who)
	w.Incidents = append(w.Incidents, inc.ID)
	w.BillableMinutes += pay.BillableMinutes
	w.WeekendMinutes += pay.WeekendMinutes
	w.AfterHoursMinutes += pay.AfterHoursMinutes
	w.CompDays += pay.CompDays
}

// finish orders the pay: weeks in time order and people in config order
// within a week; incidents by start, then id.
func (p *payAcc) finish(cfg *policy.Config) *Pay {
	order := map[string]int{}
	for i := range cfg.Users {
		order[cfg.Users[i].ID] = i
	}
	out := &Pay{Weeks: []PayWeek{}, Incidents: p.items, Unpaid: p.unpaid, UnknownAcknowledger: p.unknown, Open: p.open, OnCallRotations: p.rotations}
	if out.UnknownAcknowledger == nil {
		out.UnknownAcknowledger = []UnpaidIncident{}
	}
	sort.Slice(out.UnknownAcknowledger, func(i, j int) bool { return out.UnknownAcknowledger[i].Incident < out.UnknownAcknowledger[j].Incident })
	if out.OnCallRotations == nil {
		out.OnCallRotations = []string{}
	}
	if out.Incidents == nil {
		out.Incidents = []PayItem{}
	}
	sort.SliceStable(out.Incidents, func(i, j int) bool {
		a, b := out.Incidents[i], out.Incidents[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		return a.Incident < b.Incident
	})
	byIncident := map[string]time.Time{}
	for _, it := range out.Incidents {
		byIncident[it.Incident] = it.Start
	}
	for k, w := range p.weeks {
		w.OnCallMinutes = int(p.onCall[k] / time.Minute)
		sort.SliceStable(w.Incidents, func(i, j int) bool {
			a, b := byIncident[w.Incidents[i]], byIncident[w.Incidents[j]]
			if !a.Equal(b) {
				return a.Before(b)
			}
			return w.Incidents[i] < w.Incidents[j]
		})
		out.Weeks = append(out.Weeks, *w)
	}
	sort.Slice(out.Weeks, func(i, j int) bool {
		a, b := out.Weeks[i], out.Weeks[j]
		if !a.Week.Equal(b.Week) {
			return a.Week.Before(b.Week)
		}
		return order[a.User] < order[b.User]
	})
	return out
}

// UnknownText says which resolved incidents of paid services someone the
// config does not know acknowledged, so that the pay leaves them out, or
// "" when none: "1 resolved incident(s) of paid services were
// acknowledged by someone not in the config, so the CSV pays nobody for
// them: 01-p5 (acknowledged by pagerduty:Bee Engineer): pay them by hand".
func (p *Pay) UnknownText() string {
	if p == nil || len(p.UnknownAcknowledger) == 0 {
		return ""
	}
	what := make([]string, len(p.UnknownAcknowledger))
	for i, u := range p.UnknownAcknowledger {
		what[i] = u.Incident + " (acknowledged by " + u.AcknowledgedBy + ")"
	}
	return fmt.Sprintf("%d resolved incident(s) of paid services were acknowledged by someone not in the config, so the CSV pays nobody for them: %s: pay them by hand",
		len(what), strings.Join(what, ", "))
}
