package report

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// WriteMarkdown writes the report as markdown: tables, and the weekly
// charts as SVG inline (GitHub strips inline SVG; Charts gives them as
// files to link instead).
func (r *Report) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "# On-call report")
	fmt.Fprintln(bw)
	for _, l := range r.preamble() {
		fmt.Fprintln(bw, mdText(l))
	}
	writeMD := func(t table) {
		fmt.Fprintf(bw, "\n## %s\n\n", t.title)
		if len(t.rows) == 0 {
			fmt.Fprintln(bw, "None.")
			return
		}
		mdRow(bw, t.header)
		seps := make([]string, len(t.header))
		for i := range seps {
			seps[i] = "---"
		}
		mdRow(bw, seps)
		for _, row := range t.rows {
			mdRow(bw, row)
		}
		if len(t.notes) > 0 {
			fmt.Fprintln(bw)
			for _, n := range t.notes {
				fmt.Fprintln(bw, mdText(n))
			}
		}
	}
	writeMD(r.scorecard())
	fmt.Fprintf(bw, "\n## Charts\n")
	for _, c := range r.Charts() {
		fmt.Fprintf(bw, "\n%s", c.SVG)
	}
	writeMD(r.engineersTable())
	writeMD(r.alertsTable())
	writeMD(r.weeksTable())
	for _, t := range r.payTables() {
		writeMD(t)
	}
	r.writeLists(bw, true)
	return bw.Flush()
}

// mdRow writes one table row; leading spaces (sub-rows) become a dash.
func mdRow(w io.Writer, cells []string) {
	out := make([]string, len(cells))
	for i, c := range cells {
		if strings.HasPrefix(c, "  ") {
			c = "… " + strings.TrimSpace(c)
		}
		out[i] = mdText(c)
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(out, " | "))
}

// WriteCSV writes the report's figures one per row, for spreadsheets:
// scope (total, service, schedule, engineer, week), name (an engineer's
// user id), week (the week's
// start date, for per-week rows), figure, value, and the goal and its
// status where the config sets one. Durations are in seconds, shares in
// percent (two decimals).
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"scope", "name", "week", "figure", "value", "target", "status"})
	put := func(scope, name, week, figure, value string, checks []Check, check string) {
		target, status := "", ""
		for _, c := range checks {
			if c.Figure == check && check != "" {
				target, status = c.Target, c.Status
			}
		}
		_ = cw.Write([]string{scope, name, week, figure, value, target, status})
	}
	figures := func(scope string, f *Figures) {
		n := f.Name
		i := func(fig string, v int) { put(scope, n, "", fig, strconv.Itoa(v), nil, "") }
		i("incidents", f.Incidents)
		i("alerts", f.Alerts)
		for _, p := range f.ByPriority {
			i("incidents_"+p.Priority, p.Incidents)
			i("alerts_"+p.Priority, p.Alerts)
		}
		i("acknowledged", f.Acknowledged)
		i("resolved", f.Resolved)
		for _, s := range []struct {
			name, check string
			st          Stats
		}{{"mtta", "mtta", f.MTTA}, {"mttr", "mttr", f.MTTR}} {
			if s.st.Count == 0 {
				continue
			}
			put(scope, n, "", s.name+"_mean_seconds", secs(s.st.Mean), f.Checks, s.check)
			put(scope, n, "", s.name+"_median_seconds", secs(s.st.Median), nil, "")
			put(scope, n, "", s.name+"_p90_seconds", secs(s.st.P90), nil, "")
		}
		for _, x := range []struct {
			name, check string
			r           Ratio
		}{
			{"ack_within_target", "ack_within_target", f.AckWithinTarget},
			{"resolved_within_target", "resolved_within_target", f.ResolvedWithinTarget},
			{"escalated", "escalation_rate", f.Escalated},
			{"false_positive_candidates", "false_positive_rate", f.FalsePositives},
		} {
			i(x.name+"_count", x.r.Count)
			i(x.name+"_of", x.r.Of)
			if x.r.Of > 0 {
				put(scope, n, "", x.name+"_percent", pct(x.r.Percent), f.Checks, x.check)
			}
		}
		i("pages", f.Pages.Total)
		for _, c := range f.Pages.ByChannel {
			i("pages_"+c.Channel, c.Pages)
		}
		i("pages_off_hours", f.Pages.OffHours)
		i("pages_night", f.Pages.Night)
		i("pages_failed", f.Pages.Failed)
	}
	figures("total", &r.Total)
	for _, c := range r.Total.Checks {
		switch c.Figure {
		case "alerts_per_engineer_week":
			put("total", "", "", "max_alerts_per_engineer_week", strings.Fields(c.Value)[0], r.Total.Checks, c.Figure)
		case "consecutive_weeks":
			put("total", "", "", "fairness_problems", strconv.Itoa(len(r.Fairness)), r.Total.Checks, c.Figure)
		}
	}
	for i := range r.Services {
		figures("service", &r.Services[i])
	}
	for i := range r.Schedules {
		figures("schedule", &r.Schedules[i])
	}
	for i := range r.Engineers {
		e := &r.Engineers[i]
		ef := e.Figures
		ef.Name = e.User
		figures("engineer", &ef)
		n := e.User
		put("engineer", n, "", "display_name", e.Name, nil, "")
		put("engineer", n, "", "time_zone", e.TimeZone, nil, "")
		put("engineer", n, "", "acknowledged_by_them", strconv.Itoa(e.AcknowledgedByThem), nil, "")
		put("engineer", n, "", "nights_interrupted", strconv.Itoa(e.NightsInterrupted), nil, "")
		put("engineer", n, "", "share_of_pages_percent", pct(e.ShareOfPages), nil, "")
		put("engineer", n, "", "share_of_night_pages_percent", pct(e.ShareOfNightPages), nil, "")
		put("engineer", n, "", "max_alerts_in_week", strconv.Itoa(e.MaxAlertsInWeek), e.Checks, "alerts_per_engineer_week")
		put("engineer", n, "", "weeks_over_limit", strconv.Itoa(e.WeeksOverLimit), nil, "")
		put("engineer", n, "", "fairness_problems", strconv.Itoa(e.FairnessProblems), e.Checks, "consecutive_weeks")
		for _, wc := range e.AlertsPerWeek {
			put("engineer", n, r.day(wc.Week), "alerts", strconv.Itoa(wc.Alerts), nil, "")
		}
	}
	for _, wk := range r.Weeks {
		d := r.day(wk.Start)
		i := func(fig string, v int) { put("week", "", d, fig, strconv.Itoa(v), nil, "") }
		i("incidents", wk.Incidents)
		i("alerts", wk.Alerts)
		if wk.MTTA.Count > 0 {
			put("week", "", d, "mtta_mean_seconds", secs(wk.MTTA.Mean), nil, "")
		}
		i("escalated", wk.Escalated)
		i("false_positive_candidates", wk.FalsePositives)
		i("pages", wk.Pages)
		i("pages_night", wk.NightPages)
	}
	cw.Flush()
	return cw.Error()
}

// WritePayrollCSV writes the pay per person and week, ready for payroll:
// week (its start date), user, name, billable minutes and hours (decimal,
// quarter hours), comp days, the incidents that earned them, and the time
// on call in minutes and hours (what the weekly stipend is paid from), and
// the billable time split between the weekend and the after-hours rate, in
// minutes and hours (new columns go last, so a reader by position keeps
// working). Nothing but the header when no service has a compensation
// policy.
func (r *Report) WritePayrollCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"week", "user", "name", "billable_minutes", "billable_hours", "comp_days", "incidents", "on_call_minutes", "on_call_hours",
		"weekend_minutes", "weekend_hours", "after_hours_minutes", "after_hours_hours"})
	hours := func(m int) string { return strconv.FormatFloat(float64(m)/60, 'f', 2, 64) }
	if r.Pay != nil {
		for _, p := range r.Pay.Weeks {
			_ = cw.Write([]string{r.day(p.Week), p.User, p.Name, strconv.Itoa(p.BillableMinutes), hours(p.BillableMinutes),
				strconv.Itoa(p.CompDays), strings.Join(p.Incidents, " "), strconv.Itoa(p.OnCallMinutes), hours(p.OnCallMinutes),
				strconv.Itoa(p.WeekendMinutes), hours(p.WeekendMinutes), strconv.Itoa(p.AfterHoursMinutes), hours(p.AfterHoursMinutes)})
		}
	}
	cw.Flush()
	return cw.Error()
}

func secs(s Seconds) string {
	return strconv.FormatFloat(time.Duration(s).Seconds(), 'f', -1, 64)
}

func pct(p float64) string { return strconv.FormatFloat(math.Round(p*100)/100, 'f', -1, 64) }
