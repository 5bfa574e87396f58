package policy

import (
	"fmt"
	"sort"
	"time"
)

// Overrides made at run time live in the daemon's store, not in the file:
// the daemon merges them into the config in force with WithOverrides, so
// the escalation machine, `pagerd oncall` and the calendar feeds see them
// exactly as they see the file's own overrides, after which they are
// listed (so where they overlap one, they win).

// WithOverrides is a copy of the config in which each named schedule has
// the extra overrides after its own (Schedule.WithOverrides). The config
// itself is not changed, and the copy shares everything else with it, so
// it is cheap and must be treated as read-only like the original. Extra
// overrides of a schedule the config does not have are left out.
func (c *Config) WithOverrides(extra map[string][]Override) *Config {
	if len(extra) == 0 {
		return c
	}
	cp := *c
	cp.Schedules = make([]Schedule, len(c.Schedules))
	cp.schedules = make(map[string]*Schedule, len(c.Schedules))
	for i := range c.Schedules {
		s := &c.Schedules[i]
		cp.Schedules[i] = *s
		if ov := extra[s.Name]; len(ov) > 0 {
			cp.Schedules[i] = *s.WithOverrides(ov...)
		}
		if c.schedules[s.Name] == s {
			cp.schedules[s.Name] = &cp.Schedules[i]
		}
	}
	return &cp
}

// ConfigOverrides is the copy of the schedule without its run-time
// overrides (those with an ID): who holds a tier by the file alone.
func (s *Schedule) ConfigOverrides() *Schedule {
	c := *s
	c.Overrides = nil
	for _, o := range s.Overrides {
		if o.ID == "" {
			c.Overrides = append(c.Overrides, o)
		}
	}
	return &c
}

// overrideNote says, for an incident's timeline, that a run-time override
// put user on the tier at t: which override, who made it and why, and who
// the file alone would have paged.
func (s *Schedule) overrideNote(sh Shift, t time.Time) string {
	var o *Override
	for i := range s.Overrides {
		if s.Overrides[i].ID == sh.OverrideID {
			o = &s.Overrides[i]
		}
	}
	note := fmt.Sprintf("%s %s held by override %s", s.Name, sh.Tier, sh.OverrideID)
	if o != nil {
		if o.Reason != "" {
			note += " (" + o.Reason + ")"
		}
		if o.CreatedBy != "" {
			note += ", made by " + o.CreatedBy
		}
	}
	if reg, ok := s.ConfigOverrides().OnCallTier(sh.Tier, t); ok && reg.User != "" && reg.User != sh.User {
		note += ", instead of " + reg.User
	}
	return note
}

// SortOverrides orders run-time overrides the way they are applied and
// listed: by start, then by ID, so every replica merges them alike.
func SortOverrides(loc *time.Location, os []Override) {
	sort.SliceStable(os, func(i, j int) bool {
		a, b := os[i].From.Start(loc), os[j].From.Start(loc)
		if !a.Equal(b) {
			return a.Before(b)
		}
		return os[i].ID < os[j].ID
	})
}
