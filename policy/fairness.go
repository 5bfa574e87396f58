package policy

import (
	"fmt"
	"sort"
	"time"
)

// FairnessHorizonWeeks is how far ahead check-config looks for stretches on
// call that break a schedule's fairness rules: the 12 handoff weeks (a
// quarter, the span of AIVO's published table) that begin with the week
// holding the instant it is asked about.
const FairnessHorizonWeeks = 12

// minRest is the shortest break that ends a stretch on call: someone who
// hands a shift over for a two-hour dentist visit has not had a rest.
const minRest = 24 * time.Hour

// FairnessProblem is one stretch during which a person holds the tiers a
// fairness rule counts, overrides included, for longer than it allows.
type FairnessProblem struct {
	Schedule string
	// Rule is the index of the rule in the schedule's Fairness.
	Rule int
	User string
	// From and Until bound the stretch: the person holds one of the
	// rule's tiers throughout, but for breaks shorter than a day.
	From, Until time.Time
	// Limit is the most consecutive weeks the rule allows (1 for
	// no_back_to_back).
	Limit int
}

// weeks is the most consecutive weeks the rule allows, 0 if it sets none.
func (r *FairnessRule) weeks() int {
	if r.NoBackToBack {
		return 1
	}
	return r.MaxConsecutiveWeeks
}

// tiers are the tiers the rule counts: those it names, or all.
func (s *Schedule) fairnessTiers(r *FairnessRule) []*Tier {
	var out []*Tier
	for i := range s.Tiers {
		t := &s.Tiers[i]
		named := len(r.Tiers) == 0
		for _, n := range r.Tiers {
			named = named || n == t.Name
		}
		if named {
			out = append(out, t)
		}
	}
	return out
}

// FairnessProblems lists the stretches on call that break the schedule's
// fairness rules and overlap [from, until), overrides included, in rule
// order and then by start. A stretch is a span in which a person holds at
// least one of a rule's tiers, with breaks shorter than a day ignored; it
// breaks a rule of N weeks when it lasts longer than N weeks on the
// schedule's wall clock (a handoff week holding a DST change counts as
// one). Stretches that began before from are measured from their real
// start, up to N+1 weeks back.
func (s *Schedule) FairnessProblems(from, until time.Time) []FairnessProblem {
	var out []FairnessProblem
	loc := s.Location()
	for ri := range s.Fairness {
		rule := &s.Fairness[ri]
		n := rule.weeks()
		if n < 1 {
			continue
		}
		pad := time.Duration(n+1)*7*24*time.Hour + minRest
		a, b := from.Add(-pad), until.Add(pad)
		byUser := map[string][]Shift{}
		var users []string
		for _, t := range s.fairnessTiers(rule) {
			for _, sh := range s.tierSpans(t, a, b, true) {
				if sh.User == "" {
					continue
				}
				if _, ok := byUser[sh.User]; !ok {
					users = append(users, sh.User)
				}
				byUser[sh.User] = append(byUser[sh.User], sh)
			}
		}
		var found []FairnessProblem
		for _, u := range users {
			spans := byUser[u]
			sort.Slice(spans, func(i, j int) bool { return spans[i].From.Before(spans[j].From) })
			for i := 0; i < len(spans); {
				st, en := spans[i].From, spans[i].Until
				j := i + 1
				for ; j < len(spans) && spans[j].From.Before(en.Add(minRest)); j++ {
					en = maxTime(en, spans[j].Until)
				}
				i = j
				if !st.Before(until) || !en.After(from) {
					continue
				}
				if en.After(st.In(loc).AddDate(0, 0, 7*n)) {
					found = append(found, FairnessProblem{Schedule: s.Name, Rule: ri, User: u, From: st, Until: en, Limit: n})
				}
			}
		}
		sort.SliceStable(found, func(i, j int) bool {
			if !found[i].From.Equal(found[j].From) {
				return found[i].From.Before(found[j].From)
			}
			return found[i].User < found[j].User
		})
		out = append(out, found...)
	}
	return out
}

// Describe says what is wrong, naming the person with name (nil: the id):
// "Marcus Rodriguez is on call for 3 weeks without a break, Mon 2025-09-08
// 08:00 to Mon 2025-09-29 08:00 (America/New_York); the limit is 2
// consecutive weeks".
func (p FairnessProblem) Describe(s *Schedule, name func(string) string) string {
	who := p.User
	if name != nil {
		who = name(p.User)
	}
	loc := s.Location()
	limit := fmt.Sprintf("the limit is %d consecutive weeks", p.Limit)
	if p.Limit == 1 {
		limit = "the schedule allows no back-to-back weeks"
	}
	return fmt.Sprintf("%s is on call for %s without a break, %s to %s (%s); %s",
		who, wallLength(p.From, p.Until, loc), p.From.In(loc).Format(stampLayout), p.Until.In(loc).Format(stampLayout), loc, limit)
}

// stampLayout is how schedule notes write an instant on the local clock.
const stampLayout = "Mon 2006-01-02 15:04"

// wallLength is the length of [from, until) on the wall clock of loc, in
// weeks, days and hours: "3 weeks", "2 weeks and 4 days".
func wallLength(from, until time.Time, loc *time.Location) string {
	m := civilMinute(until, loc) - civilMinute(from, loc)
	var parts []string
	for _, u := range []struct {
		n    int64
		name string
	}{{m / minutesPerWeek, "week"}, {m % minutesPerWeek / minutesPerDay, "day"}, {m % minutesPerDay / 60, "hour"}} {
		switch {
		case u.n == 1:
			parts = append(parts, "1 "+u.name)
		case u.n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", u.n, u.name))
		}
	}
	switch len(parts) {
	case 0:
		return "less than an hour"
	case 1:
		return parts[0]
	}
	return series(parts, "and")
}

// FairnessWarnings are check-config's warnings for every schedule's
// fairness rules over the FairnessHorizonWeeks handoff weeks that begin
// with the week holding from, each naming the rule's field.
func (c *Config) FairnessWarnings(from time.Time) []string {
	var out []string
	name := func(id string) string {
		if u := c.User(id); u != nil {
			return u.DisplayName() + " (" + id + ")"
		}
		return id
	}
	for i := range c.Schedules {
		s := &c.Schedules[i]
		if len(s.Fairness) == 0 {
			continue
		}
		d := s.handoffDateAtOrBefore(from)
		start, end := s.handoffAt(d), s.handoffAt(d.AddDays(7*FairnessHorizonWeeks))
		for _, p := range s.FairnessProblems(start, end) {
			out = append(out, fmt.Sprintf("schedules[%s].fairness[%d]: %s", s.Name, p.Rule, p.Describe(s, name)))
		}
	}
	return out
}
