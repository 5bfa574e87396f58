package report

import (
	"sort"
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
	weeks  map[payKey]*PayWeek
	items  []PayItem
	unpaid int
}

// add pays a resolved incident of a service with a compensation policy to
// the person who worked it: its acknowledger, or when nobody acknowledged
// it, the person who resolved it. Incident time runs from creation to
// resolution on the wall clock, as `pagerd simulate` counts it: the time a
// maintenance window held the incident, which MTTR leaves out, is paid.
func (p *payAcc) add(cfg *policy.Config, svc *policy.Service, inc *Incident, f *facts) {
	cp := cfg.CompensationFor(svc)
	if cp == nil || !f.resolved {
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
		return
	}
	end := f.resolvedAt
	pay := cfg.Pay(cp, inc.Priority, who, inc.CreatedAt, end)
	if pay.Billable <= 0 && pay.CompDays == 0 {
		return
	}
	name := cfg.UserName(who)
	p.items = append(p.items, PayItem{Incident: inc.ID, Service: inc.Service, Priority: inc.Priority, Summary: inc.Summary,
		User: who, Name: name, Week: f.week, Start: inc.CreatedAt, End: end,
		BillableMinutes: pay.BillableMinutes, CompDays: pay.CompDays, Reasons: pay.Reasons})
	k := payKey{f.week.Unix(), who}
	w := p.weeks[k]
	if w == nil {
		w = &PayWeek{Week: f.week, User: who, Name: name}
		p.weeks[k] = w
	}
	w.Incidents = append(w.Incidents, inc.ID)
	w.BillableMinutes += pay.BillableMinutes
	w.CompDays += pay.CompDays
}

// finish orders the pay: weeks in time order and people in config order
// within a week; incidents by start, then id.
func (p *payAcc) finish(cfg *policy.Config) *Pay {
	order := map[string]int{}
	for i := range cfg.Users {
		order[cfg.Users[i].ID] = i
	}
	out := &Pay{Weeks: []PayWeek{}, Incidents: p.items, Unpaid: p.unpaid}
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
	for _, w := range p.weeks {
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
