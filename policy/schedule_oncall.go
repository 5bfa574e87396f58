package policy

import (
	"fmt"
	"time"
)

// OnCallEntry is who holds one tier of one schedule at an instant: what
// `pagerd oncall` prints and GET /api/v1/oncall answers.
type OnCallEntry struct {
	Schedule string `json:"schedule"`
	Tier     string `json:"tier"`
	Layer    string `json:"layer,omitempty"`
	User     string `json:"user"`
	Name     string `json:"name"`
	// From and Until bound the shift. Either is zero, and left out of
	// JSON, when it is no instant: a gap before any layer has begun began
	// at none (the rotation's "forever" is not a time to show anyone).
	From     time.Time `json:"from,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	Override bool      `json:"override"`
	Reason   string    `json:"reason,omitempty"`
	// OverrideID names the run-time override that holds the tier (made
	// through the API), for `pagerd override rm`.
	OverrideID string         `json:"override_id,omitempty"`
	Backup     *BackupContact `json:"backup_contact,omitempty"`
}

// WhoIsOnCallOn lists, for every tier of every schedule (or only the named
// one), each shift that covers part of the date in the schedule's own time
// zone, in order: "who is on call on Labor Day" has two answers for a tier
// that hands off at 08:00 that day.
func (c *Config) WhoIsOnCallOn(d Date, schedule string) ([]OnCallEntry, error) {
	if schedule != "" && c.Schedule(schedule) == nil {
		return nil, fmt.Errorf("no schedule %q is defined", schedule)
	}
	rows := []OnCallEntry{}
	for i := range c.Schedules {
		s := &c.Schedules[i]
		if schedule != "" && s.Name != schedule {
			continue
		}
		start, end := d.In(s.Location()), d.AddDays(1).In(s.Location())
		for _, tier := range s.Tiers {
			for t := start; t.Before(end); {
				sh, ok := s.OnCallTier(tier.Name, t)
				if !ok {
					rows = append(rows, OnCallEntry{Schedule: s.Name, Tier: tier.Name})
					break
				}
				rows = append(rows, c.onCallEntry(s, sh))
				if !sh.Until.After(t) {
					break // never loop on a shift that does not move forward
				}
				t = sh.Until
			}
		}
	}
	return rows, nil
}

func (c *Config) onCallEntry(s *Schedule, sh Shift) OnCallEntry {
	e := OnCallEntry{Schedule: s.Name, Tier: sh.Tier, Layer: sh.Layer, User: sh.User, From: InstantIn(sh.From, s.Location()),
		Until: InstantIn(sh.Until, s.Location()), Override: sh.Override != "", Reason: sh.Override, OverrideID: sh.OverrideID}
	if u := c.User(sh.User); u != nil {
		e.Name, e.Backup = u.DisplayName(), u.Backup
	}
	return e
}

// WhoIsOnCall lists every tier of every schedule (or only the named one) at
// t, with times in the schedule's zone.
func (c *Config) WhoIsOnCall(t time.Time, schedule string) ([]OnCallEntry, error) {
	if schedule != "" && c.Schedule(schedule) == nil {
		return nil, fmt.Errorf("no schedule %q is defined", schedule)
	}
	rows := []OnCallEntry{}
	for i := range c.Schedules {
		s := &c.Schedules[i]
		if schedule != "" && s.Name != schedule {
			continue
		}
		for _, sh := range s.OnCall(t) {
			rows = append(rows, c.onCallEntry(s, sh))
		}
	}
	return rows, nil
}

// ShiftsBetween lists who holds each tier of s from a to b, tier by tier
// in order, overrides applied, as consecutive entries cut to [a, b), gaps
// included (User ""): what pages go by over the span, as WhoIsOnCall says
// at every instant of it. `pagerd schedule -o json` gives each week's.
func (c *Config) ShiftsBetween(s *Schedule, a, b time.Time) []OnCallEntry {
	out := []OnCallEntry{}
	for i := range s.Tiers {
		for _, sh := range s.tierSpans(&s.Tiers[i], a, b, true) {
			out = append(out, c.onCallEntry(s, sh))
		}
	}
	return out
}

// InstantIn is t in loc, or the zero time when t stands for "forever"
// (farPast, farFuture: the bounds of a gap no layer has begun or ends),
// which no on-call view should show as a date.
func InstantIn(t time.Time, loc *time.Location) time.Time {
	if !t.After(farPast) || !t.Before(farFuture) {
		return time.Time{}
	}
	return t.In(loc)
}
