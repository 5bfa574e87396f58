package policy

import (
	"fmt"
	"sort"
	"time"
)

// TierClash is a span in which one person holds two tiers of a schedule at
// once, overrides included. Rotations of different lengths drift against
// each other (AIVO's five escalation leads against four engineers put one
// person on two tiers in some weeks past the seed's table): an escalation
// from a level that pages one of the tiers to a level that pages the other
// pages that person again, and nobody new.
type TierClash struct {
	Schedule string
	User     string
	// Tiers are the two tiers' names, in the schedule's order.
	Tiers [2]string
	// From and Until bound the span (Until exclusive).
	From, Until time.Time
}

// TierClashes lists the spans in [from, until) in which one person holds
// two of the schedule's tiers, overrides applied, in order of start and
// then of the tiers; a span is as long as the person holds both, across
// the handoffs of either.
func (s *Schedule) TierClashes(from, until time.Time) []TierClash {
	spans := make([][]Shift, len(s.Tiers))
	for i := range s.Tiers {
		spans[i] = s.tierSpans(&s.Tiers[i], from, until, true)
	}
	var out []TierClash
	for i := range s.Tiers {
		for j := i + 1; j < len(s.Tiers); j++ {
			var last *TierClash
			for a, b := 0, 0; a < len(spans[i]) && b < len(spans[j]); {
				x, y := spans[i][a], spans[j][b]
				st, en := maxTime(x.From, y.From), minTime(x.Until, y.Until)
				if x.User != "" && x.User == y.User && st.Before(en) {
					if last != nil && last.User == x.User && !last.Until.Before(st) {
						last.Until = maxTime(last.Until, en)
					} else {
						out = append(out, TierClash{Schedule: s.Name, User: x.User, Tiers: [2]string{s.Tiers[i].Name, s.Tiers[j].Name}, From: st, Until: en})
						last = &out[len(out)-1]
					}
				}
				if x.Until.Before(y.Until) {
					a++
				} else {
					b++
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	return out
}

// Describe says who holds which two tiers when, naming the person with name
// (nil: the id) and the tiers by their titles: "Marcus Rodriguez holds
// Secondary On-Call and Escalation Lead at once, Mon 2025-10-06 08:00 to
// Mon 2025-10-13 08:00 (America/New_York): an escalation from one to the
// other pages them again, nobody new".
func (c TierClash) Describe(s *Schedule, name func(string) string) string {
	who := c.User
	if name != nil {
		who = name(c.User)
	}
	title := func(tier string) string {
		for i := range s.Tiers {
			if s.Tiers[i].Name == tier {
				return s.Tiers[i].DisplayTitle()
			}
		}
		return tier
	}
	loc := s.Location()
	return fmt.Sprintf("%s holds %s and %s at once, %s to %s (%s): an escalation from one to the other pages them again, nobody new",
		who, title(c.Tiers[0]), title(c.Tiers[1]), c.From.In(loc).Format(stampLayout), c.Until.In(loc).Format(stampLayout), loc)
}
