package policy

import (
	"slices"
	"time"
)

// RoutePreview is what an alert would get, without an incident: the route
// (service, priority, urgency, rule, escalation policy), when each of its
// response targets falls due, and who each level of the escalation policy
// pages, on which urgency, and when it escalates, all from the instant the
// alert arrives.
// `pagerd route` prints it; the JSON names are part of its stable output.
type RoutePreview struct {
	Service          string               `json:"service"`
	Priority         string               `json:"priority"`
	Urgency          string               `json:"urgency"`
	Rule             string               `json:"rule"`
	BusinessHours    bool                 `json:"business_hours"`
	EscalationPolicy string               `json:"escalation_policy"`
	PageImmediately  []string             `json:"page_immediately,omitempty"`
	Targets          map[string]TargetDue `json:"targets"`
	Levels           []LevelPreview       `json:"levels"`
	// Repeat is the policy's repeat: how many times more the levels are
	// paged again from level 1 while nobody acknowledges.
	Repeat int `json:"repeat,omitempty"`
	// WaitsForOnCall: no level pages anyone when the alert comes, so
	// once the policy's rounds of repeat have run out the incident waits
	// for the next person on call and pages them then (DeadlineOnCall):
	// a page delayed, not lost. An unresolved rule that pages someone
	// meanwhile (Unresolved) does not end the wait, unless someone it
	// pages is on call at a level of the policy (EndsWait); an
	// acknowledgement does.
	WaitsForOnCall bool `json:"waits_for_on_call,omitempty"`
	// Unresolved are the policy's unresolved rules for the alert's
	// priority: whom each pages, and when, should the incident still be
	// open then.
	Unresolved []UnresolvedPreview `json:"unresolved,omitempty"`
}

// UnresolvedPreview is one unresolved rule as the alert would meet it.
type UnresolvedPreview struct {
	After string    `json:"after"`
	At    time.Time `json:"at"`
	// Users are the people the rule pages at At (none when its targets
	// are tiers nobody holds then).
	Users []string `json:"users"`
	// EndsWait, for an alert that waits for someone on call
	// (WaitsForOnCall), says someone the rule pages is on call at a
	// level of the policy at At: the team is paged, and the wait ends.
	// Without it, the rule's page (a manager's) is one more, and the
	// next person on call is still paged when they come.
	EndsWait bool `json:"ends_wait,omitempty"`
	// WaitOver, for an alert that waits for someone on call, says the
	// wait is over before At: someone came on call at a level, and a
	// look paged them (the engine's looks, at each shift boundary and
	// every 15 minutes). The rule's page is one more, with no wait left
	// to go on or end.
	WaitOver bool `json:"wait_over,omitempty"`
}

// TargetDue is one response target: its timeout and when it falls due.
type TargetDue struct {
	Timeout string    `json:"timeout"`
	Due     time.Time `json:"due"`
}

// LevelPreview is one level of the escalation policy as the alert would
// meet it: who it pages and when it escalates: unless it is the last, or,
// while the policy's repeat allows, back to level 1 after the last.
type LevelPreview struct {
	Level   int       `json:"level"`
	Name    string    `json:"name"`
	Users   []string  `json:"users"`
	Timeout string    `json:"timeout,omitempty"`
	Next    time.Time `json:"escalates_at,omitzero"`
	// Urgency is the urgency in force when the level is reached, by the
	// service's calendar then: the ladder its people get, which is not the
	// route's when the level is reached across a business-hours boundary.
	// Empty when the level pages nobody.
	Urgency string `json:"urgency,omitempty"`
	// PagesNobody: nobody is on call for the level when it is reached (its
	// tiers are in a gap), so the engine does not wait on it: the next
	// level (after the last, level 1 again while repeat allows) is paged
	// at once (Next is when the level is reached). When no level pages
	// anyone, the last keeps its timeout, so that the next round tries
	// again, as the engine does.
	PagesNobody bool `json:"pages_nobody,omitempty"`
	// StartsOver: the last level, after which the policy's repeat pages
	// level 1 again, at Next.
	StartsOver bool `json:"starts_over,omitempty"`
}

// TargetNames are the response targets in the order people read them.
var TargetNames = []string{"acknowledge", "initial_response", "resolution", "status_update"}

// Preview routes an alert with these labels arriving at at, and lays out
// its targets and levels in the service's time zone.
func (c *Config) Preview(s *Service, lbls map[string]string, at time.Time) RoutePreview {
	r := c.Route(s, lbls, at)
	cal := c.Calendar(s)
	loc := cal.Location()
	p := RoutePreview{Service: s.Name, Priority: r.Priority, Urgency: r.Urgency, Rule: r.Rule, BusinessHours: r.BusinessHours,
		EscalationPolicy: r.EscalationPolicy, PageImmediately: r.PageImmediately, Targets: map[string]TargetDue{}}
	for i, to := range []Timeout{r.Targets.Acknowledge, r.Targets.InitialResponse, r.Targets.Resolution, r.Targets.StatusUpdate} {
		if to.IsSet() {
			due, _ := c.TargetDueAt(s, r.Priority, TargetNames[i], at)
			p.Targets[TargetNames[i]] = TargetDue{Timeout: to.String(), Due: due.In(loc)}
		}
	}
	pol := c.Policy(s.EscalationPolicy)
	levels := pol.Levels
	p.Repeat = pol.Repeat
	start := at
	paged := false // a level before this one pages someone
	for i, l := range levels {
		lp := LevelPreview{Level: i + 1, Name: l.Name, Users: c.LevelUsers(s, i, start)}
		last := i == len(levels)-1
		// After the last level comes level 1 again while repeat allows
		// (the engine's Round starts at 0: the first round is never the
		// last when repeat is above 0).
		startsOver := last && pol.Repeat > 0
		if len(lp.Users) == 0 && (!last || (startsOver && paged)) {
			// As the engine does (startLevel): a level that pages nobody
			// is not waited on; the next one (after the last, level 1
			// of the next round) is paged at once.
			lp.PagesNobody, lp.Next, lp.StartsOver = true, start.In(loc), startsOver
			p.Levels = append(p.Levels, lp)
			continue
		}
		lp.PagesNobody = len(lp.Users) == 0
		paged = paged || !lp.PagesNobody
		if !lp.PagesNobody {
			lp.Urgency = c.TargetsAt(s, r.Priority, start).Urgency
		}
		if next, ok := c.LevelTimeout(s, i, r.Priority, start); ok && (!last || startsOver) {
			lp.Timeout = Duration(next.Sub(start)).String()
			lp.Next = next.In(loc)
			lp.StartsOver = startsOver
			start = next
		}
		p.Levels = append(p.Levels, lp)
	}
	p.WaitsForOnCall = len(p.Levels) > 0 && !paged
	r2 := &run{c: c, svc: s, pol: pol}
	inForce, _ := s.PriorityInForce(r.Priority)
	for _, u := range pol.Unresolved {
		if !slices.Contains(u.Priorities, inForce) {
			continue
		}
		t := at.Add(time.Duration(u.After))
		users := r2.resolveTargets(u.Notify, t)
		users = slices.DeleteFunc(users, func(id string) bool { return c.User(id) == nil })
		up := UnresolvedPreview{After: u.After.String(), At: t.In(loc), Users: users}
		up.WaitOver = p.WaitsForOnCall && r2.onCallBefore(at, t)
		up.EndsWait = p.WaitsForOnCall && !up.WaitOver && len(users) > 0 && r2.onCallAtALevel([][]string{users}, t)
		if up.Users == nil {
			up.Users = []string{}
		}
		p.Unresolved = append(p.Unresolved, up)
	}
	return p
}

// onCallBefore reports whether a look of an incident that waits for
// someone on call from `from` (DeadlineOnCall, at nextOnCallLook's times)
// finds someone on call at a level before t: the wait is over by then. A
// look due at t itself comes after a rule due then (armed later, it
// fires later), and is not counted.
func (r *run) onCallBefore(from, t time.Time) bool {
	for at := r.nextOnCallLook(from); at.Before(t); at = r.nextOnCallLook(at) {
		if r.firstLevelOnCall(at) >= 0 {
			return true
		}
	}
	return false
}
