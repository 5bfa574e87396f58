package policy

import (
	"sort"
	"time"
)

// nobody is how tables show a span of a tier that nothing covers.
const nobody = "nobody"

// tierSpans lists who holds the tier from a to b as consecutive spans cut
// to [a, b), gaps included (User ""): with overrides applied when overrides
// is true, else by the rotation and layers alone. A new span starts
// wherever the holder or what sets them changes (a handoff, a restriction
// window, a layer, an override), so a span is one shift, or the part of
// one that an override or a layer leaves.
func (s *Schedule) tierSpans(tier *Tier, a, b time.Time, overrides bool) []Shift {
	var out []Shift
	if !tier.hasRotation() {
		return nil
	}
	for t := a; t.Before(b); {
		var sh Shift
		if overrides {
			sh, _ = s.OnCallTier(tier.Name, t)
		} else {
			sh = s.regular(tier, t)
		}
		if !sh.Until.After(t) {
			break // never loop on a span that does not move forward
		}
		sh.From, sh.Until = maxTime(sh.From, a), minTime(sh.Until, b)
		out = append(out, sh)
		t = sh.Until
	}
	return out
}

// Shifts lists every shift of every tier that overlaps [from, until),
// overrides applied, cut to the range, in order of start and then of tier.
// A shift is a span of one holder from one source: a rotation's turn (cut
// by restriction windows, layers above and overrides), or an override.
// Spans that nothing covers are left out.
func (s *Schedule) Shifts(from, until time.Time) []Shift {
	var out []Shift
	for i := range s.Tiers {
		for _, sh := range s.tierSpans(&s.Tiers[i], from, until, true) {
			if sh.User != "" {
				out = append(out, sh)
			}
		}
	}
	order := map[string]int{}
	for i := range s.Tiers {
		order[s.Tiers[i].Name] = i
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].From.Equal(out[j].From) {
			return out[i].From.Before(out[j].From)
		}
		return order[out[i].Tier] < order[out[j].Tier]
	})
	return out
}

// WithOverrides is a copy of the schedule with more overrides after its
// own, as the ones made at run time are: later-listed overrides win where
// they overlap. The schedule itself is not changed.
func (s *Schedule) WithOverrides(extra ...Override) *Schedule {
	c := *s
	c.Overrides = append(append([]Override(nil), s.Overrides...), extra...)
	return &c
}
