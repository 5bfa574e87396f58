package policy

import (
	"fmt"
	"strings"
	"time"
)

// policyGapWeeks is how far ahead policyGaps looks for a time no level of
// a policy pages anyone: a year and a week, so that every change of
// daylight saving time of every schedule's zone is in it (a gap two zones
// leave only while their offsets differ by an hour more or less).
const policyGapWeeks = 53

// policyGaps warns of an escalation policy that a service uses and that,
// once every rotation it pages through has begun, has times no level of
// it pages anyone: every target of every level is a tier nobody holds
// then (restricted layers with nothing under them). An alert of the
// service at such a time pages nobody when it comes: each level is
// skipped as paging nobody, the last keeps its timeout, and when the
// rounds of repeat run out the incident waits for the next person on
// call (DeadlineOnCall): its page is delayed to the gap's end. One
// tier's gap (gaps) may be covered by another level or target; a gap of
// the whole policy is every alert of that time paged late. A warning,
// not an error: a team staffed only in office hours is a choice some make
// (their night alerts wait for the morning's first person on call).
// Times before all the rotations have begun are left to the tiers'
// warnings (a config written ahead of its first shift).
func (v *validator) policyGaps() {
	users := map[string][]string{}
	for i := range v.cfg.Services {
		s := &v.cfg.Services[i]
		if v.cfg.policies[s.EscalationPolicy] != nil {
			users[s.EscalationPolicy] = append(users[s.EscalationPolicy], s.Name)
		}
	}
	for i := range v.cfg.EscalationPolicies {
		p := &v.cfg.EscalationPolicies[i]
		if len(users[p.Name]) == 0 || v.cfg.policies[p.Name] != p {
			continue
		}
		gap, loc, tiers, ok := v.policyGap(p)
		if !ok {
			continue
		}
		which := "service"
		if len(users[p.Name]) > 1 {
			which = "services"
		}
		stamp := func(x time.Time) string { return x.In(loc).Format("Mon 2006-01-02 15:04") }
		v.warnf(fmt.Sprintf("escalation_policies[%s].levels", p.Name),
			"no level pages anyone from %s to %s (%s), the first such time from now: every target of every level is a tier nobody holds then (%s), so an alert of %s %s then pages nobody at once: once the policy's rounds of repeat have run out it waits for the next person on call, and is paged when the gap ends (a page delayed, not lost); add a level (or a target) that pages a user, or a tier someone holds then, or close the tiers' gaps with members of their own or a layer without restrictions",
			stamp(gap.From), stamp(gap.Until), loc, strings.Join(tiers, ", "), which, strings.Join(quoteAll(users[p.Name]), ", "))
	}
}

// quoteAll is each string quoted, for a list in a message.
func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// policyGap is the first time, from the load time or the start of the
// last of the policy's rotations to begin (whichever is later), that no
// level of p pages anyone, with the zone of the first tier it pages and
// the tiers it pages, as fields; ok is false when there is none: some
// level pages a user, or a tier that is held whenever it has begun (a
// rotation without restrictions), or every gap is covered.
func (v *validator) policyGap(p *EscalationPolicy) (gap Shift, loc *time.Location, tiers []string, ok bool) {
	type tierOf struct {
		s *Schedule
		t *Tier
	}
	var targets []tierOf
	seen := map[[2]string]bool{}
	start := v.now
	for _, l := range p.Levels {
		for _, tg := range l.Targets {
			if tg.User != "" {
				return Shift{}, nil, nil, false
			}
			s := v.cfg.schedules[tg.Schedule]
			if s == nil {
				return Shift{}, nil, nil, false
			}
			t := s.Tier(tg.Tier)
			if t == nil || !t.hasRotation() {
				return Shift{}, nil, nil, false
			}
			restricted := false
			for _, r := range s.rotations(t) {
				restricted = restricted || r.restricted()
				if r.layer {
					start = maxTime(start, r.boundary(0))
				}
			}
			if !restricted {
				return Shift{}, nil, nil, false
			}
			if key := [2]string{s.Name, t.Name}; !seen[key] {
				seen[key] = true
				targets = append(targets, tierOf{s, t})
				tiers = append(tiers, fmt.Sprintf("schedules[%s].tiers[%s]", s.Name, t.Name))
			}
		}
	}
	if len(targets) == 0 || start.IsZero() {
		return Shift{}, nil, nil, false
	}
	// Nobody is paged where every target is empty: the intersection of
	// the tiers' empty spans.
	empty := func(a, b time.Time) []Shift {
		var out []Shift
		for i, tg := range targets {
			mine := v.emptySpans(tg.s, tg.t, a, b)
			if i == 0 {
				out = mine
			} else {
				out = intersectSpans(out, mine)
			}
			if len(out) == 0 {
				return nil
			}
		}
		return out
	}
	var cut *Shift // a gap the scan's start cut, named only if no whole one is found
	for w := 0; w < policyGapWeeks; w++ {
		a, b := start.AddDate(0, 0, 7*w), start.AddDate(0, 0, 7*(w+1))
		gaps := empty(a, b)
		if len(gaps) > 0 && gaps[0].From.Equal(start) {
			if cut == nil {
				cut = &gaps[0]
			}
			gaps = gaps[1:]
		}
		if len(gaps) == 0 {
			continue
		}
		g := gaps[0]
		// A gap cut by the week's end may go on into the next.
		for n := 0; n < 2 && g.Until.Equal(b); n++ {
			a, b = b, b.AddDate(0, 0, 7)
			more := empty(a, b)
			if len(more) == 0 || !more[0].From.Equal(a) {
				break
			}
			g.Until = more[0].Until
		}
		return g, targets[0].s.Location(), tiers, true
	}
	if cut != nil {
		return *cut, targets[0].s.Location(), tiers, true
	}
	return Shift{}, nil, nil, false
}

// gapWeek is a tier and a span of time policyGap looked at.
type gapWeek struct {
	schedule, tier string
	from, until    int64 // Unix nanoseconds
}

// emptySpans is the spans from a to b in which nobody holds tier t of s,
// worked out once per load. Each is a walk over every shift of every
// layer of the tier, and policies share tiers (a policy per service over
// the same schedules) and, begun before the load, the same weeks: worked
// out for each policy, a config of 10 policies over the same 251 tiers of
// weekly shifts took 9 s to load, at every start and reload.
func (v *validator) emptySpans(s *Schedule, t *Tier, a, b time.Time) []Shift {
	key := gapWeek{s.Name, t.Name, a.UnixNano(), b.UnixNano()}
	if spans, ok := v.gapWeeks[key]; ok {
		return spans
	}
	v.gapWeeksWorked++
	var spans []Shift
	for _, sh := range s.tierSpans(t, a, b, true) {
		if sh.User == "" {
			spans = append(spans, sh)
		}
	}
	if v.gapWeeks == nil {
		v.gapWeeks = map[gapWeek][]Shift{}
	}
	v.gapWeeks[key] = spans
	return spans
}

// intersectSpans is the spans both lists cover, each list in order and
// without overlaps of its own.
func intersectSpans(x, y []Shift) []Shift {
	var out []Shift
	i, j := 0, 0
	for i < len(x) && j < len(y) {
		from, until := maxTime(x[i].From, y[j].From), minTime(x[i].Until, y[j].Until)
		if from.Before(until) {
			out = append(out, Shift{From: from, Until: until})
		}
		if x[i].Until.Before(y[j].Until) {
			i++
		} else {
			j++
		}
	}
	return out
}
