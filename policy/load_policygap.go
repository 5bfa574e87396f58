package policy

import (
	"fmt"
	"slices"
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
// worked out once per load. Policies share tiers (a policy per service
// over the same schedules) and, begun before the load, the same weeks:
// worked out for each policy, a config of 10 policies over the same 251
// tiers of weekly shifts took 9 s to load, at every start and reload.
func (v *validator) emptySpans(s *Schedule, t *Tier, a, b time.Time) []Shift {
	key := gapWeek{s.Name, t.Name, a.UnixNano(), b.UnixNano()}
	if spans, ok := v.gapWeeks[key]; ok {
		return spans
	}
	v.gapWeeksWorked++
	spans := s.uncoveredSpans(t, a, b)
	if v.gapWeeks == nil {
		v.gapWeeks = map[gapWeek][]Shift{}
	}
	v.gapWeeks[key] = spans
	return spans
}

// uncoveredSpans is the spans from a to b in which nobody holds tier t of
// s, overrides applied: those of tierSpans(t, a, b, true) with no User,
// the same instants, worked out from what covers the tier rather than
// shift by shift. Nobody holds it exactly where none of its rotations is
// inside a restriction window (a layer only from its first shift on) and
// no override of it holds, since every rotation's holder is someone (load
// refuses a rotation without members); the shifts themselves never make a
// gap. The walk asked who is on call at every shift: 60 tiers of hourly
// shifts, a year ahead, took 2.5 to 5 s of CPU at every start, reload and
// check-config; this looks at each layer's windows once per span.
func (s *Schedule) uncoveredSpans(t *Tier, a, b time.Time) []Shift {
	if !t.hasRotation() {
		return nil
	}
	tr := s.Tier(t.Name) // the tier OnCallTier looks up, as tierSpans asks it
	if tr == nil || !tr.hasRotation() {
		return nil
	}
	rots := s.rotations(tr)
	for i := range rots {
		if !rots[i].holdsSomeone() {
			return emptyByWalk(s, t, a, b)
		}
	}
	var covered [][2]time.Time
	for i := range rots {
		r := &rots[i]
		lo := farPast
		if r.layer {
			lo = r.boundary(0)
		}
		spans, always := r.windowsBetween(a, b)
		if always {
			covered = append(covered, [2]time.Time{lo, farFuture})
			continue
		}
		for _, sp := range spans {
			from, until := maxTime(civilInstant(sp[0], r.loc), lo), civilInstant(sp[1], r.loc)
			if from.Before(until) {
				covered = append(covered, [2]time.Time{from, until})
			}
		}
	}
	for i := range s.Overrides {
		o := &s.Overrides[i]
		if _, ok := overrideUser(o, tr.Name); !ok {
			continue
		}
		if of, ou := s.OverrideSpan(o); of.Before(ou) {
			covered = append(covered, [2]time.Time{of, ou})
		}
	}
	slices.SortFunc(covered, func(x, y [2]time.Time) int { return x[0].Compare(y[0]) })
	var out []Shift
	at := a // covered up to here, or the start
	for _, c := range covered {
		if !at.Before(b) {
			break
		}
		if c[0].After(at) {
			out = append(out, Shift{Schedule: s.Name, Tier: tr.Name, From: at, Until: minTime(c[0], b)})
		}
		at = maxTime(at, c[1])
	}
	if at.Before(b) {
		out = append(out, Shift{Schedule: s.Name, Tier: tr.Name, From: at, Until: b})
	}
	return out
}

// holdsSomeone reports whether every shift of the rotation has a holder:
// it has members, and neither they nor a roster change's are "".
func (r *rotation) holdsSomeone() bool {
	if len(r.members) == 0 || slices.Contains(r.members, "") {
		return false
	}
	for _, c := range r.changes {
		if slices.Contains(c.Members, "") {
			return false
		}
	}
	return true
}

// windowsBetween are the rotation's restriction windows, merged, as
// wall-clock minute spans, that windowsNear gives for any instant from a
// to b: those that start on the dates from 8 days before a's to 8 days
// after b's. always is true when they cover a whole week.
func (r *rotation) windowsBetween(a, b time.Time) (spans [][2]int64, always bool) {
	if !r.restricted() {
		return nil, true
	}
	return r.windowsOnDays(floorDiv64(civilMinute(a, r.loc), minutesPerDay)-8, floorDiv64(civilMinute(b, r.loc), minutesPerDay)+8)
}

// emptyByWalk is the spans from a to b in which nobody holds tier t of s,
// by asking who holds it at the start of each span in turn: what
// uncoveredSpans gives, the slow way, for a rotation it cannot read a gap
// off (one with a shift nobody holds).
func emptyByWalk(s *Schedule, t *Tier, a, b time.Time) []Shift {
	var spans []Shift
	for _, sh := range s.tierSpans(t, a, b, true) {
		if sh.User == "" {
			spans = append(spans, sh)
		}
	}
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
