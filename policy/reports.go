package policy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ReportsConfig is how on-call reports and handoff documents count (the
// report's week, what "at night" means, when a quick self-resolving
// incident is a false-positive candidate, when an alert is recurring) and
// the goals each figure is held to (AIVO's "> 95% acknowledged within SLA",
// "MTTA < 10 min", "at most 50 alerts per engineer per week"...).
// Stretches on call are held to the schedules' own fairness rules, not to a
// goal here, so the two can never disagree.
type ReportsConfig struct {
	// Week is when a report's weeks begin. Unset, it is the first
	// schedule's handoff (the on-call week), or Monday 00:00 UTC.
	Week ReportWeek `yaml:"week"`
	// Night is the span of the night in each person's own time zone
	// (default 22:00 to 07:00): a page in it interrupted their sleep.
	Night NightWindow `yaml:"night"`
	// FalsePositiveWithin: an incident resolved within this long of its
	// creation without anyone acknowledging it is a false-positive
	// candidate (default 5m).
	FalsePositiveWithin Duration `yaml:"false_positive_within"`
	// RecurringAfter: an alert (by alertname) that opened more than this
	// many incidents in a handoff week is listed as recurring (default 3).
	RecurringAfter int `yaml:"recurring_after"`
	// Targets are the goals reports compare each figure with.
	Targets ReportTargets `yaml:"targets"`
}

// ReportWeek is when a report's weeks begin: a weekday and a wall-clock
// time in a time zone.
type ReportWeek struct {
	TimeZone string    `yaml:"time_zone"`
	Weekday  *Weekday  `yaml:"weekday"`
	Time     TimeOfDay `yaml:"time"`
	// From says where the values came from when the config set none
	// ("schedules[aivo-oncall].handoff"), for the report to say so.
	From string `yaml:"-"`
	loc  *time.Location
}

// NightWindow is a span of the night on the local clock, Start to End
// across midnight.
type NightWindow struct {
	Start TimeOfDay `yaml:"start"`
	End   TimeOfDay `yaml:"end"`
}

// ReportTargets are the goals of a report. Each is optional; a figure with
// no goal is reported without a verdict.
type ReportTargets struct {
	// AckWithinTarget is the share of incidents acknowledged within their
	// priority's acknowledge target ("above: 95%").
	AckWithinTarget *Goal `yaml:"ack_within_target"`
	// ResolvedWithinTarget is the share resolved within their resolution
	// target ("above: 90%").
	ResolvedWithinTarget *Goal `yaml:"resolved_within_target"`
	// MTTA is the mean time to acknowledge ("below: 10m").
	MTTA *Goal `yaml:"mtta"`
	// MTTR is the mean time to resolve.
	MTTR *Goal `yaml:"mttr"`
	// AlertsPerEngineerWeek is how many incidents may page one person in
	// one week ("at_most: 50").
	AlertsPerEngineerWeek *Goal `yaml:"alerts_per_engineer_week"`
	// FalsePositiveRate is the share of incidents that are false-positive
	// candidates ("below: 5%").
	FalsePositiveRate *Goal `yaml:"false_positive_rate"`
	// EscalationRate is the share of incidents that escalated ("below: 20%").
	EscalationRate *Goal `yaml:"escalation_rate"`
}

// GoalKind is what a goal's value measures.
type GoalKind int

// Goal kinds.
const (
	// GoalPercent is a share, written "95%"; its value is in percent.
	GoalPercent GoalKind = iota + 1
	// GoalDuration is a time, written "10m"; its value is in seconds.
	GoalDuration
	// GoalCount is a whole number, written "50".
	GoalCount
)

// Goal is a bound a figure must keep: exactly one of above (more than),
// at_least, below (less than) or at_most, written the way the seeds write
// them ("> 95%" is above: 95%, "< 10 min" is below: 10m, "maximum 50" is
// at_most: 50).
type Goal struct {
	Above   string `yaml:"above,omitempty"`
	AtLeast string `yaml:"at_least,omitempty"`
	Below   string `yaml:"below,omitempty"`
	AtMost  string `yaml:"at_most,omitempty"`
	op      string
	value   float64
	kind    GoalKind
}

// Op is the comparison: ">", ">=", "<" or "<=".
func (g *Goal) Op() string { return g.op }

// Value is the bound: percent, seconds or a count, by Kind.
func (g *Goal) Value() float64 { return g.value }

// Kind is what the bound measures.
func (g *Goal) Kind() GoalKind { return g.kind }

// Met reports whether v (in the goal's unit) keeps the goal.
func (g *Goal) Met(v float64) bool {
	switch g.op {
	case ">":
		return v > g.value
	case ">=":
		return v >= g.value
	case "<":
		return v < g.value
	case "<=":
		return v <= g.value
	}
	return false
}

// String writes the goal as a comparison: "> 95%", "< 10m", "<= 50".
func (g *Goal) String() string {
	if g == nil || g.op == "" {
		return ""
	}
	return g.op + " " + formatGoalValue(g.value, g.kind)
}

func formatGoalValue(v float64, k GoalKind) string {
	switch k {
	case GoalPercent:
		return strconv.FormatFloat(v, 'f', -1, 64) + "%"
	case GoalDuration:
		return Duration(time.Duration(v * float64(time.Second))).String()
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// parse checks the goal holds one bound of the kind and reads it.
func (g *Goal) parse(kind GoalKind) error {
	var set []string
	for _, b := range []struct{ op, val string }{{">", g.Above}, {">=", g.AtLeast}, {"<", g.Below}, {"<=", g.AtMost}} {
		if b.val != "" {
			set = append(set, b.op)
			g.op = b.op
			var err error
			if g.value, err = parseGoalValue(b.val, kind); err != nil {
				return err
			}
		}
	}
	if len(set) != 1 {
		g.op = ""
		return fmt.Errorf("set exactly one of above, at_least, below or at_most")
	}
	g.kind = kind
	return nil
}

func parseGoalValue(s string, kind GoalKind) (float64, error) {
	s = strings.TrimSpace(s)
	switch kind {
	case GoalPercent:
		num, ok := strings.CutSuffix(s, "%")
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if !ok || err != nil || v < 0 || v > 100 || math.IsNaN(v) {
			return 0, fmt.Errorf("%q is not a share like 95%%", s)
		}
		return v, nil
	case GoalDuration:
		d, err := ParseDuration(s)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("%q is not a duration like 10m", s)
		}
		return d.Seconds(), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a whole number like 50", s)
	}
	return float64(n), nil
}

// Location is the time zone of the report's weeks.
func (w *ReportWeek) Location() *time.Location {
	if w.loc == nil {
		return time.UTC
	}
	return w.loc
}

// Day is the weekday the report's weeks begin on.
func (w *ReportWeek) Day() time.Weekday {
	if w.Weekday == nil {
		return time.Monday
	}
	return time.Weekday(*w.Weekday)
}

// begins is the weekday and time of day weeks begin at, 24:00 read as the
// next day's 00:00: weeks that default to a schedule's handoff at Monday
// 24:00 begin on Tuesdays at midnight, so that Start and Next, which
// place the time on a date, agree on the day.
func (w *ReportWeek) begins() (time.Weekday, TimeOfDay) {
	if w.Time.Hour == 24 {
		return (w.Day() + 1) % 7, TimeOfDay{set: true}
	}
	return w.Day(), w.Time
}

// Start is the beginning of the report week holding t: the latest instant
// at or before t that the week's weekday and time show on the local clock.
func (w *ReportWeek) Start(t time.Time) time.Time {
	loc := w.Location()
	local := t.In(loc)
	day, tod := w.begins()
	back := floorMod(int(local.Weekday())-int(day), 7)
	d := DateOf(local).AddDays(-back)
	s := wallClock(d, tod, loc)
	if s.After(t) {
		s = wallClock(d.AddDays(-7), tod, loc)
	}
	return s
}

// Next is the beginning of the report week after the one starting at
// start (start must be a week's start).
func (w *ReportWeek) Next(start time.Time) time.Time {
	_, tod := w.begins()
	return wallClock(DateOf(start.In(w.Location())).AddDays(7), tod, w.Location())
}

// String describes the week: "Monday 08:00 America/New_York".
func (w *ReportWeek) String() string {
	return fmt.Sprintf("%s %s %s", w.Day(), w.Time, w.Location())
}

// Contains reports whether a local wall-clock time falls in the night.
func (n NightWindow) Contains(local time.Time) bool {
	m := local.Hour()*60 + local.Minute()
	s, e := n.Start.Minutes(), n.End.Minutes()
	if s < e {
		return m >= s && m < e
	}
	return m >= s || m < e
}

// NightOf is the date of the evening a night began on, for a local time in
// the night: 02:00 on Tuesday belongs to Monday's night. Counting distinct
// nights says how many nights someone's sleep was broken.
func (n NightWindow) NightOf(local time.Time) Date {
	d := DateOf(local)
	if s, e := n.Start.Minutes(), n.End.Minutes(); s > e && local.Hour()*60+local.Minute() < e {
		return d.AddDays(-1)
	}
	return d
}

// String writes the window: "22:00-07:00".
func (n NightWindow) String() string { return n.Start.String() + "-" + n.End.String() }

// DefaultRetention is how long resolved incidents are kept when
// server.retention is not set: a year and a month, so a report on last year
// and the same month a year ago both still have their history.
const DefaultRetention = 400 * 24 * time.Hour

// ExpiresAt is when a resolved incident may be expired: its resolution
// plus server.retention. Open incidents never expire.
func (s *ServerConfig) ExpiresAt(resolvedAt time.Time) time.Time {
	r := time.Duration(s.Retention)
	if r <= 0 {
		r = DefaultRetention
	}
	return resolvedAt.Add(r)
}

// MinRetention is the shortest server.retention allowed: a handoff document
// reads the week before it, and a weekly report its week.
const MinRetention = 7 * 24 * time.Hour

// Report defaults.
const (
	DefaultFalsePositiveWithin = 5 * time.Minute
	DefaultRecurringAfter      = 3
)

// DefaultNight is the night when reports.night is not set: 22:00 to 07:00.
var DefaultNight = NightWindow{Start: TimeOfDay{Hour: 22, set: true}, End: TimeOfDay{Hour: 7, set: true}}

// Handoff document templates (schedules[].handoff_template).
const (
	// HandoffText is AIVO's "=== ON-CALL HANDOFF ===" plain-text form.
	HandoffText = "text"
	// HandoffMarkdown is AION-R's "# On-Call Handoff - [Date]" form.
	HandoffMarkdown = "markdown"
)

func (v *validator) reports() {
	r := &v.cfg.Reports
	w := &r.Week
	if w.TimeZone == "" && w.Weekday == nil && !w.Time.IsSet() {
		if len(v.cfg.Schedules) > 0 {
			s := &v.cfg.Schedules[0]
			w.TimeZone, w.Weekday, w.Time, w.loc = s.TimeZone, s.Handoff.Weekday, s.Handoff.Time, s.Location()
			w.From = fmt.Sprintf("schedules[%s].handoff", s.Name)
		}
		if w.Weekday == nil {
			mon := Weekday(time.Monday)
			w.Weekday = &mon
		}
		if !w.Time.IsSet() {
			w.Time = TimeOfDay{set: true}
		}
		if w.loc == nil {
			w.loc = time.UTC
		}
	} else {
		w.loc = v.location("reports.week.time_zone", w.TimeZone)
		if w.Weekday == nil {
			mon := Weekday(time.Monday)
			w.Weekday = &mon
		}
		if !w.Time.IsSet() {
			w.Time = TimeOfDay{set: true}
		}
		if w.Time.Hour == 24 {
			v.errf("reports.week.time", "24:00 is not a time a week can begin; use 00:00")
		}
	}
	n := &r.Night
	switch {
	case !n.Start.IsSet() && !n.End.IsSet():
		*n = DefaultNight
	case !n.Start.IsSet() || !n.End.IsSet():
		v.errf("reports.night", "set both start and end (like 22:00 and 07:00), or neither for 22:00 to 07:00")
	case n.Start.Minutes()%(24*60) == n.End.Minutes()%(24*60):
		v.errf("reports.night.end", "the night from %s to %s is empty", n.Start, n.End)
	}
	switch {
	case r.FalsePositiveWithin == 0:
		r.FalsePositiveWithin = Duration(DefaultFalsePositiveWithin)
	case r.FalsePositiveWithin < 0 || r.FalsePositiveWithin > Duration(24*time.Hour):
		v.errf("reports.false_positive_within", "must be more than 0s and at most 1d")
	}
	switch {
	case r.RecurringAfter == 0:
		r.RecurringAfter = DefaultRecurringAfter
	case r.RecurringAfter < 0 || r.RecurringAfter > 1000:
		v.errf("reports.recurring_after", "must be from 1 to 1000 (an alert is recurring when it opens more incidents than this in a week)")
	}
	t := &r.Targets
	for _, g := range []struct {
		name string
		goal *Goal
		kind GoalKind
	}{
		{"ack_within_target", t.AckWithinTarget, GoalPercent},
		{"resolved_within_target", t.ResolvedWithinTarget, GoalPercent},
		{"mtta", t.MTTA, GoalDuration},
		{"mttr", t.MTTR, GoalDuration},
		{"alerts_per_engineer_week", t.AlertsPerEngineerWeek, GoalCount},
		{"false_positive_rate", t.FalsePositiveRate, GoalPercent},
		{"escalation_rate", t.EscalationRate, GoalPercent},
	} {
		if g.goal == nil {
			continue
		}
		if err := g.goal.parse(g.kind); err != nil {
			v.errf("reports.targets."+g.name, "%v", err)
		}
	}
}

// retention checks server.retention and fills its default.
func (v *validator) retention() {
	sv := &v.cfg.Server
	switch {
	case sv.Retention == 0:
		sv.Retention = Duration(DefaultRetention)
	case sv.Retention < Duration(MinRetention):
		v.errf("server.retention", "must be at least 7d: handoff documents read the week before them, reports whole weeks")
	}
}

// handoffTemplate checks a schedule's handoff_template and fills its
// default.
func (v *validator) handoffTemplate(f string, s *Schedule) {
	switch s.HandoffTemplate {
	case "":
		s.HandoffTemplate = HandoffMarkdown
	case HandoffText, HandoffMarkdown:
	default:
		v.errf(f+".handoff_template", "unknown template %q (use text, AIVO's \"=== ON-CALL HANDOFF ===\" form, or markdown, AION-R's \"# On-Call Handoff\" form)", s.HandoffTemplate)
	}
}
