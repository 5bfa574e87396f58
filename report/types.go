package report

import (
	"encoding/json"
	"strconv"
	"time"
)

// Report is an on-call report for one period: the figures of all services
// together, of each service, each schedule and each engineer, week by week,
// compared with the config's targets, and the pay the history earned.
type Report struct {
	// From and To bound the period, [From, To).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// AsOf is when the report was made: an open incident whose target
	// deadline is still ahead of it has neither met nor missed it.
	AsOf time.Time `json:"as_of"`
	// Week says when report weeks begin ("Monday 08:00 America/New_York"),
	// and TimeZone is their zone, in which the report writes times.
	Week     string `json:"week"`
	TimeZone string `json:"time_zone"`
	// Night is the night window on each person's clock ("22:00-07:00").
	Night string `json:"night"`
	// FalsePositiveWithin is reports.false_positive_within ("5m").
	FalsePositiveWithin string `json:"false_positive_within"`
	// Total is every incident in the period.
	Total Figures `json:"total"`
	// Services and Schedules are the figures of each service, and of the
	// services whose escalation policy pages each schedule, in config
	// order; only those with incidents.
	Services  []Figures `json:"services"`
	Schedules []Figures `json:"schedules"`
	// Engineers are the people paged or acknowledging, in config order.
	Engineers []Engineer `json:"engineers"`
	// Weeks are the report weeks that overlap the period.
	Weeks []Week `json:"weeks"`
	// Fairness lists the stretches on call that break a schedule's
	// fairness rules and overlap the period.
	Fairness []Fairness `json:"fairness"`
	// Pay is what the incidents of services with a compensation policy
	// earned; nil when no service has one.
	Pay *Pay `json:"pay,omitempty"`
	// Goals are the config's reports.targets, for readers of the JSON
	// (the charts draw the MTTA goal from it).
	Goals []GoalValue `json:"goals"`
	// Notes say what the figures assumed: a person's time zone taken from
	// their schedule, incidents of services the config no longer has.
	Notes []string `json:"notes,omitempty"`
}

// GoalValue is one of reports.targets: a figure, the comparison and the
// bound, in percent, seconds or a count by Unit.
type GoalValue struct {
	Figure string  `json:"figure"`
	Op     string  `json:"op"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Text   string  `json:"text"`
}

// Figures are the numbers of one set of incidents: all of them, a
// service's, a schedule's, or those an engineer was paged for (whose pages
// are then only theirs).
type Figures struct {
	Name string `json:"name,omitempty"`
	// Incidents and Alerts count what was opened; ByPriority splits them.
	Incidents  int             `json:"incidents"`
	Alerts     int             `json:"alerts"`
	ByPriority []PriorityCount `json:"by_priority"`
	// Acknowledged and Resolved count the incidents that were.
	Acknowledged int `json:"acknowledged"`
	Resolved     int `json:"resolved"`
	// MTTA and MTTR are the times to acknowledge and to resolve.
	MTTA Stats `json:"mtta"`
	MTTR Stats `json:"mttr"`
	// AckWithinTarget and ResolvedWithinTarget: of the incidents whose
	// target fell due, how many kept it.
	AckWithinTarget      Ratio `json:"ack_within_target"`
	ResolvedWithinTarget Ratio `json:"resolved_within_target"`
	// Escalated and FalsePositives are shares of Incidents.
	Escalated      Ratio `json:"escalated"`
	FalsePositives Ratio `json:"false_positive_candidates"`
	// Pages are the pages sent.
	Pages Pages `json:"pages"`
	// Checks compare the figures with the config's reports.targets.
	Checks []Check `json:"checks,omitempty"`
}

// PriorityCount is how many incidents, and alerts, one priority had.
type PriorityCount struct {
	Priority  string `json:"priority"`
	Incidents int    `json:"incidents"`
	Alerts    int    `json:"alerts"`
}

// Pages counts pages sent, by channel and by when they reached people.
type Pages struct {
	Total     int            `json:"total"`
	ByChannel []ChannelCount `json:"by_channel"`
	// OffHours were sent while the service's business hours were closed.
	OffHours int `json:"off_hours"`
	// Night reached someone in the night on their own clock.
	Night int `json:"night"`
	// Failed pages did not go out (notify_failed); not in Total.
	Failed int `json:"failed"`
}

// ChannelCount is how many pages went out on one channel.
type ChannelCount struct {
	Channel string `json:"channel"`
	Pages   int    `json:"pages"`
}

// Ratio is Count of Of, with Percent when Of is not zero.
type Ratio struct {
	Count   int     `json:"count"`
	Of      int     `json:"of"`
	Percent float64 `json:"percent"`
}

func ratio(n, of int) Ratio {
	r := Ratio{Count: n, Of: of}
	if of > 0 {
		r.Percent = 100 * float64(n) / float64(of)
	}
	return r
}

// Stats summarises durations: how many, their mean, median and p90.
type Stats struct {
	Count  int     `json:"count"`
	Mean   Seconds `json:"mean_seconds"`
	Median Seconds `json:"median_seconds"`
	P90    Seconds `json:"p90_seconds"`
}

// Seconds is a duration that JSON writes as a number of seconds.
type Seconds time.Duration

// MarshalJSON writes the duration in seconds.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(time.Duration(s).Seconds(), 'f', -1, 64)), nil
}

// UnmarshalJSON reads a number of seconds.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = Seconds(time.Duration(f * float64(time.Second)))
	return nil
}

// Check is one figure held to its goal.
type Check struct {
	// Figure names it: ack_within_target, resolved_within_target, mtta,
	// mttr, false_positive_rate, escalation_rate, alerts_per_engineer_week,
	// consecutive_weeks.
	Figure string `json:"figure"`
	// Value is the figure as the goal reads it ("85.7%", "6m40s", "52").
	Value string `json:"value"`
	// Target is the goal ("> 95%") and where it is set.
	Target string `json:"target"`
	Source string `json:"source"`
	// Status is met, missed, or no data (nothing to measure yet).
	Status string `json:"status"`
}

// Check statuses.
const (
	StatusMet    = "met"
	StatusMissed = "missed"
	StatusNoData = "no data"
)

// Engineer is one person's figures. Its Figures are those of the incidents
// they were paged for or acknowledged, but for two: Pages are only the
// pages that reached them, and MTTA only counts the incidents they
// acknowledged themselves (their own response, from each incident's
// creation).
type Engineer struct {
	User string `json:"user"`
	Figures
	// TimeZone is the zone their nights are counted in, and ZoneFrom where
	// it comes from: "user", or "schedule NAME" when they have none.
	TimeZone string `json:"time_zone"`
	ZoneFrom string `json:"time_zone_from"`
	// AcknowledgedByThem counts the incidents they acknowledged.
	AcknowledgedByThem int `json:"acknowledged_by_them"`
	// NightsInterrupted counts the nights with at least one page to them.
	NightsInterrupted int `json:"nights_interrupted"`
	// ShareOfPages and ShareOfNightPages are their part of all pages and
	// of all night pages, in percent.
	ShareOfPages      float64 `json:"share_of_pages"`
	ShareOfNightPages float64 `json:"share_of_night_pages"`
	// AlertsPerWeek counts the incidents that paged them in each report
	// week of the period; MaxAlertsInWeek is the largest.
	AlertsPerWeek   []WeekCount `json:"alerts_per_week"`
	MaxAlertsInWeek int         `json:"max_alerts_in_week"`
	// WeeksOverLimit counts the weeks over reports.targets.alerts_per_engineer_week.
	WeeksOverLimit int `json:"weeks_over_limit"`
	// FairnessProblems counts their stretches over a fairness rule.
	FairnessProblems int `json:"fairness_problems"`
}

// WeekCount is a count in one report week.
type WeekCount struct {
	Week   time.Time `json:"week"`
	Alerts int       `json:"alerts"`
}

// Week is one report week: what the charts draw.
type Week struct {
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	Incidents      int       `json:"incidents"`
	Alerts         int       `json:"alerts"`
	MTTA           Stats     `json:"mtta"`
	Escalated      int       `json:"escalated"`
	FalsePositives int       `json:"false_positive_candidates"`
	Pages          int       `json:"pages"`
	NightPages     int       `json:"night_pages"`
}

// Fairness is one stretch on call over a schedule's fairness rule.
type Fairness struct {
	Schedule string    `json:"schedule"`
	Rule     string    `json:"rule"`
	User     string    `json:"user"`
	Name     string    `json:"name"`
	From     time.Time `json:"from"`
	Until    time.Time `json:"until"`
	Limit    int       `json:"limit_weeks"`
	Text     string    `json:"text"`
}

// Pay is what history earned under the services' compensation policies:
// per person and week (what payroll needs) and per incident (why).
type Pay struct {
	Weeks     []PayWeek `json:"weeks"`
	Incidents []PayItem `json:"incidents"`
	// Unpaid counts resolved incidents of paid services with no one in
	// the config to pay: nobody in it acknowledged them or resolved them.
	// UnknownAcknowledger are those of them that someone acknowledged,
	// someone the config does not know (a PagerDuty agent whose name
	// matches no user, an API token): work was done, and payroll must pay
	// it by hand.
	Unpaid              int              `json:"unpaid"`
	UnknownAcknowledger []UnpaidIncident `json:"unknown_acknowledger"`
	// Open counts incidents of paid services created in the period and
	// still open when the report was made: they earn nothing yet (their
	// time runs to their resolution) and are paid, once resolved, in the
	// week they were created, by a report made after that.
	Open int `json:"open"`
	// OnCallRotations are the rotations whose time PayWeek.OnCallMinutes
	// counts, as "schedule/tier": every tier that the escalation policy
	// of a service with a compensation policy pages, at any level or in
	// an "unresolved after" rule, in config order.
	OnCallRotations []string `json:"on_call_rotations"`
}

// UnpaidIncident is a resolved incident of a paid service that the report
// could pay to nobody although someone acknowledged it: who, as the
// timeline records them, and who resolved it.
type UnpaidIncident struct {
	Incident       string `json:"incident"`
	AcknowledgedBy string `json:"acknowledged_by"`
	ResolvedBy     string `json:"resolved_by,omitempty"`
}

// PayWeek is one person's time on call, billable time and comp days in
// one report week: a row for everyone on call in a paid rotation or paid
// for an incident that week.
type PayWeek struct {
	Week time.Time `json:"week"`
	User string    `json:"user"`
	Name string    `json:"name"`
	// OnCallMinutes is how long they were on call in the week (the part
	// of it in the report's period, up to the instant the report is as
	// of): scheduled in one of Pay.OnCallRotations, overrides applied,
	// each minute once when they hold two of them at once. The weekly
	// stipend is paid from it (docs/CONFIG.md, compensation).
	OnCallMinutes   int      `json:"on_call_minutes"`
	Incidents       []string `json:"incidents"`
	BillableMinutes int      `json:"billable_minutes"`
	// WeekendMinutes and AfterHoursMinutes split BillableMinutes between
	// the weekend and the after-hours rate: the sums of the incidents'.
	WeekendMinutes    int `json:"weekend_minutes"`
	AfterHoursMinutes int `json:"after_hours_minutes"`
	CompDays          int `json:"comp_days"`
}

// PayItem is what one incident earned the person who worked it.
type PayItem struct {
	Incident        string    `json:"incident"`
	Service         string    `json:"service"`
	Priority        string    `json:"priority"`
	Summary         string    `json:"summary"`
	User            string    `json:"user"`
	Name            string    `json:"name"`
	Week            time.Time `json:"week"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	BillableMinutes int       `json:"billable_minutes"`
	// WeekendMinutes and AfterHoursMinutes split BillableMinutes between
	// the weekend rate (Saturday, Sunday and the calendar's holidays on
	// the person's clock) and the after-hours rate (policy.Pay).
	WeekendMinutes    int      `json:"weekend_minutes"`
	AfterHoursMinutes int      `json:"after_hours_minutes"`
	CompDays          int      `json:"comp_days"`
	Reasons           []string `json:"reasons,omitempty"`
}
