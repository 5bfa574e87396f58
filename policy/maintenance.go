package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
)

// MaintenanceWindow is a scheduled span in which the alerts of some
// services, or with some labels, are recorded but page nobody: a window
// that starts stops the pending pages of the incidents it covers, and
// when it ends, those still triggered are paged as new. Windows written
// in the config are these; windows made at run time (the API) are kept by
// the daemon and use the same Coverage.
type MaintenanceWindow struct {
	Name string `yaml:"name"`
	// Services and Matchers say what the window covers (see Coverage).
	Services []string `yaml:"services"`
	Matchers []string `yaml:"matchers"`
	// Start and End bound the window: RFC 3339 instants, or dates (whole
	// days in TimeZone, inclusive at both ends).
	Start    Moment `yaml:"start"`
	End      Moment `yaml:"end"`
	TimeZone string `yaml:"time_zone"`
	Reason   string `yaml:"reason"`
	coverage Coverage
	from, to time.Time
}

// ConfigWindowPrefix starts the id of every window written in the config,
// so an id says where a window lives (the API's windows have others).
const ConfigWindowPrefix = "config-"

// ID is the window's id: ConfigWindowPrefix and its name.
func (w *MaintenanceWindow) ID() string { return ConfigWindowPrefix + w.Name }

// From and Until are the instants the window starts and ends.
func (w *MaintenanceWindow) From() time.Time  { return w.from }
func (w *MaintenanceWindow) Until() time.Time { return w.to }

// Coverage is what the window covers.
func (w *MaintenanceWindow) Coverage() Coverage { return w.coverage }

// Active reports whether the window is in force at t: from its start, up
// to its end (the next window may start there).
func (w *MaintenanceWindow) Active(t time.Time) bool { return !t.Before(w.from) && t.Before(w.to) }

// Hold is the window as it holds an incident.
func (w *MaintenanceWindow) Hold() *Hold {
	return &Hold{ID: w.ID(), Name: w.Name, Until: w.to, From: w.from}
}

// MaintenanceHold is the config's window that holds an alert of the
// service with these label sets at t: of the windows in force that cover
// it, the one that ends last; nil when none does. The daemon asks the
// same of the config's windows and those made through the API together
// (gateway/maintenance); `pagerd simulate` knows only the config's.
func (c *Config) MaintenanceHold(service string, sets []map[string]string, at time.Time) *Hold {
	var best *MaintenanceWindow
	for i := range c.Maintenance {
		w := &c.Maintenance[i]
		if w.Active(at) && w.coverage.Covers(service, sets) && (best == nil || w.to.After(best.to)) {
			best = w
		}
	}
	if best == nil {
		return nil
	}
	return best.Hold()
}

// Coverage is what a maintenance window covers: alerts of the listed
// services (of every service when none is listed) whose labels match
// every matcher. An incident made of several alerts (an Alertmanager
// group) is covered only when every one of its alerts is: an alert
// outside the window in the same group still pages.
type Coverage struct {
	services []string
	matchers labels.Matchers
}

// NewCoverage parses the services and matchers of a window (Alertmanager
// matcher syntax, as in rules). It needs at least one of them: a window
// that covers everything is written alertname=~".*" (".+" would leave out
// the alerts with no alertname: PagerDuty events, Opsgenie alerts).
func NewCoverage(services, matchers []string) (Coverage, error) {
	cv := Coverage{services: slices.Clone(services)}
	if len(services) == 0 && len(matchers) == 0 {
		return cv, errors.New(`name the services it covers, or matchers (alertname=~".*" covers everything)`)
	}
	for i, m := range matchers {
		ms, err := labels.ParseMatchers(m)
		if err == nil && len(ms) == 0 {
			err = errors.New("it is empty")
		}
		if err != nil {
			return cv, fmt.Errorf("matchers[%d]: bad matcher %q: %v", i, m, err)
		}
		cv.matchers = append(cv.matchers, ms...)
	}
	return cv, nil
}

// Covers reports whether an alert of the service with these label sets
// (one per alert of the incident) is in the window's scope.
func (c Coverage) Covers(service string, sets []map[string]string) bool {
	if len(c.services) > 0 && !slices.Contains(c.services, service) {
		return false
	}
	if len(c.matchers) == 0 {
		return true
	}
	if len(sets) == 0 {
		sets = []map[string]string{{}}
	}
	for _, ls := range sets {
		for _, m := range c.matchers {
			if !m.Matches(ls[m.Name]) {
				return false
			}
		}
	}
	return true
}

// String says what the coverage is, for people.
func (c Coverage) String() string {
	var parts []string
	if len(c.services) > 0 {
		parts = append(parts, "services "+strings.Join(c.services, ", "))
	}
	if len(c.matchers) > 0 {
		parts = append(parts, c.matchers.String())
	}
	return strings.Join(parts, " and ")
}

// MaxMaintenance is the longest a maintenance window may last: long enough
// for a migration, short enough that a window forgotten cannot mute a
// service for good.
const MaxMaintenance = 31 * 24 * time.Hour

func (v *validator) maintenance() {
	seen := map[string]bool{}
	for i := range v.cfg.Maintenance {
		w := &v.cfg.Maintenance[i]
		f, _ := v.entry("maintenance", i, "name", w.Name, seen)
		loc := v.location(f+".time_zone", w.TimeZone)
		for j, s := range w.Services {
			if v.cfg.Service(s) == nil {
				v.errf(fmt.Sprintf("%s.services[%d]", f, j), "no service %q is defined", s)
			}
		}
		cv, err := NewCoverage(w.Services, w.Matchers)
		if err != nil {
			v.errf(f, "%v", err)
		}
		w.coverage = cv
		if !w.Start.IsSet() || !w.End.IsSet() {
			v.errf(f, "start and end are required (RFC 3339 like 2025-10-13T22:00:00Z, or dates)")
			continue
		}
		w.from, w.to = w.Start.Start(loc), w.End.EndInclusive(loc)
		switch {
		case !w.to.After(w.from):
			v.errf(f+".end", "must be after start")
		case w.to.Sub(w.from) > MaxMaintenance:
			v.errf(f+".end", "a window may last at most %s; split a longer one", Duration(MaxMaintenance))
		case w.TimeZone == "" && (w.Start.IsDate || w.End.IsDate):
			v.utcDays(f, w)
		}
	}
}

// utcDays warns about a window written in dates without a time_zone when
// the schedules keep another zone: its days are UTC's, so where the people
// are (New York, say) it mutes alerts from the evening before its first
// day and pages again in the evening of its last, hours early; east of
// UTC, it begins and ends hours late.
func (v *validator) utcDays(f string, w *MaintenanceWindow) {
	for i := range v.cfg.Schedules {
		s := &v.cfg.Schedules[i]
		loc := s.Location()
		if loc == time.UTC || loc.String() == "UTC" {
			continue
		}
		const wall = "2006-01-02 15:04"
		v.warnf(f+".time_zone", "is not set, so the window's dates are whole days in UTC: it runs from %s to %s, which is "+
			"%s to %s in %s (schedule %s's time zone), not midnight to midnight there: it mutes alerts, and pages again, hours "+
			"away from the days meant; set time_zone to the zone its days are meant in",
			w.from.Format(time.RFC3339), w.to.Format(time.RFC3339), w.from.In(loc).Format(wall), w.to.In(loc).Format(wall), loc, s.Name)
		return
	}
}

// MaintenanceWindow returns the config's window with the id (ID), or nil.
func (c *Config) MaintenanceWindow(id string) *MaintenanceWindow {
	for i := range c.Maintenance {
		if c.Maintenance[i].ID() == id {
			return &c.Maintenance[i]
		}
	}
	return nil
}
