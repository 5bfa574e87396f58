package policy

import (
	"slices"
	"sort"
	"time"
)

// Shift notices: at each handoff of a schedule with notices, the incoming
// person is told their shift starts (and, Before it, that it will), and the
// team's channel hears of the handoff. The daemon sends them from a job in
// the store; what is due when is worked out here, from the shifts as they
// stand (overrides applied, run-time ones included when the daemon merged
// them in).

// Notice kinds.
const (
	// NoticeHandoff: the shift starts now.
	NoticeHandoff = "handoff"
	// NoticeBefore: the shift starts in Notices.Before.
	NoticeBefore = "before"
)

// ShiftNotice is one notice due: of Kind, At an instant, about the shift
// that starts at Shift.From (its holder, Shift.User, is the incoming
// person), which takes the tier over from Outgoing ("" when nobody held
// it).
type ShiftNotice struct {
	Kind     string
	At       time.Time
	Shift    Shift
	Outgoing string
}

// noticeTiers are the tiers a schedule's notices are about.
func (s *Schedule) noticeTiers() []*Tier {
	var out []*Tier
	for i := range s.Tiers {
		t := &s.Tiers[i]
		if s.Notices == nil || !t.hasRotation() {
			continue
		}
		if len(s.Notices.Tiers) == 0 || slices.Contains(s.Notices.Tiers, t.Name) {
			out = append(out, t)
		}
	}
	return out
}

// ShiftNotices lists the notices due in (from, until], in time order (and
// tier order at one instant): one per change of holder of a tier, at the
// change and Before it. A span of the same holder that only changes how
// they hold the tier (an override that keeps them on) is no change.
func (s *Schedule) ShiftNotices(from, until time.Time) []ShiftNotice {
	if s.Notices == nil || !until.After(from) {
		return nil
	}
	before := time.Duration(s.Notices.Before)
	var out []ShiftNotice
	order := map[string]int{}
	for i, t := range s.noticeTiers() {
		order[t.Name] = i
		spans, starts := heldSpans(s.tierSpans(t, from, until.Add(before).Add(time.Nanosecond), true))
		for k := 1; k < len(spans); k++ {
			sh, prev := spans[k], spans[k-1]
			if sh.User == "" || sh.User == prev.User {
				continue
			}
			// The whole shift, not the part of it in range.
			if whole, ok := s.OnCallTier(t.Name, starts[k]); ok {
				sh.Until = whole.Until
			}
			if at := sh.From; at.After(from) && !at.After(until) {
				out = append(out, ShiftNotice{Kind: NoticeHandoff, At: at, Shift: sh, Outgoing: prev.User})
			}
			if at := sh.From.Add(-before); before > 0 && at.After(from) && !at.After(until) {
				out = append(out, ShiftNotice{Kind: NoticeBefore, At: at, Shift: sh, Outgoing: prev.User})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return order[out[i].Shift.Tier] < order[out[j].Shift.Tier]
	})
	return out
}

// heldSpans are spans without those shorter than a second: a piece of an
// override inside one second (pagerd import writes a vendor's instants
// exactly) is no shift anyone works, and told, it was "on call from 12:00
// until 12:00" to its holder and the week's person told again. Each
// piece left out goes to the span after it, which starts where the piece
// did; starts are the spans' own starts, where their holder holds them.
// The first and the last span, which the range cuts, are kept whatever
// their length: a handoff at the range's end is in a span of a
// nanosecond.
func heldSpans(spans []Shift) (out []Shift, starts []time.Time) {
	var from time.Time // of pieces left out before the next span
	for i, sh := range spans {
		if i > 0 && i < len(spans)-1 && sh.Until.Sub(sh.From) < time.Second {
			if from.IsZero() {
				from = sh.From
			}
			continue
		}
		start := sh.From
		if !from.IsZero() {
			sh.From, from = from, time.Time{}
		}
		out = append(out, sh)
		starts = append(starts, start)
	}
	return out, starts
}

// NextNotice is the first instant after t at which a notice is due, looking
// at most horizon ahead; ok is false when none is.
func (s *Schedule) NextNotice(t time.Time, horizon time.Duration) (time.Time, bool) {
	// Look a week at a time: the notices of a daily or hourly rotation
	// are many, and the first is usually near.
	for start := t; start.Before(t.Add(horizon)); start = start.Add(7 * 24 * time.Hour) {
		end := minTime(start.Add(7*24*time.Hour), t.Add(horizon))
		if ns := s.ShiftNotices(start, end); len(ns) > 0 {
			return ns[0].At, true
		}
	}
	return time.Time{}, false
}
