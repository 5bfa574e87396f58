package policy

import (
	"fmt"
	"time"
)

// OnCallEntry is who holds one tier of one schedule at an instant: what
// `pagerd oncall` prints and GET /api/v1/oncall answers.
type OnCallEntry struct {
	Schedule string         `json:"schedule"`
	Tier     string         `json:"tier"`
	User     string         `json:"user"`
	Name     string         `json:"name"`
	From     time.Time      `json:"from"`
	Until    time.Time      `json:"until"`
	Override bool           `json:"override"`
	Reason   string         `json:"reason,omitempty"`
	Backup   *BackupContact `json:"backup_contact,omitempty"`
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
			e := OnCallEntry{Schedule: s.Name, Tier: sh.Tier, User: sh.User, From: sh.From.In(s.Location()),
				Until: sh.Until.In(s.Location()), Override: sh.Override != "", Reason: sh.Override}
			if u := c.User(sh.User); u != nil {
				e.Name, e.Backup = u.DisplayName(), u.Backup
			}
			rows = append(rows, e)
		}
	}
	return rows, nil
}
