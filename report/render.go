package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// table is a block of a report that every renderer lays out its own way:
// aligned columns, a markdown table, CSV rows.
type table struct {
	title  string
	header []string
	rows   [][]string
	// notes are lines under the table.
	notes []string
}

// loc is the zone of the report's weeks, in which it writes times.
func (r *Report) loc() *time.Location {
	if l, err := time.LoadLocation(r.TimeZone); err == nil && r.TimeZone != "" {
		return l
	}
	return time.UTC
}

func (r *Report) stamp(t time.Time) string { return t.In(r.loc()).Format("Mon 2006-01-02 15:04") }
func (r *Report) day(t time.Time) string   { return t.In(r.loc()).Format("2006-01-02") }

// verdict appends a check's status to a cell: "85.7%, missed".
func verdict(cell string, checks []Check, figure string) string {
	for _, c := range checks {
		if c.Figure == figure {
			return cell + ", " + c.Status
		}
	}
	return cell
}

func ratioCell(x Ratio) string {
	if x.Of == 0 {
		return "-"
	}
	return fmt.Sprintf("%d of %d (%s)", x.Count, x.Of, formatPercent(x.Percent))
}

func statsCell(s Stats) string {
	if s.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("%s / %s / %s", FormatDuration(time.Duration(s.Mean)), FormatDuration(time.Duration(s.Median)), FormatDuration(time.Duration(s.P90)))
}

func channelsCell(cs []ChannelCount) string {
	if len(cs) == 0 {
		return "-"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s %d", c.Channel, c.Pages)
	}
	return strings.Join(parts, ", ")
}

func prioCell(f *Figures, p string) string {
	for _, c := range f.ByPriority {
		if c.Priority == p {
			return fmt.Sprintf("%d (%d %s)", c.Incidents, c.Alerts, plural(c.Alerts, "alert", "alerts"))
		}
	}
	return "0"
}

// targetOf is the goal written for a figure, from any set's checks.
func targetOf(sets []*Figures, figure string) string {
	for _, f := range sets {
		for _, c := range f.Checks {
			if c.Figure == figure {
				return c.Target
			}
		}
	}
	return ""
}

// sameAsAll reports whether a set's figures are those of all services (a
// lone service, a schedule every service pages): its column would repeat
// the first.
func (r *Report) sameAsAll(f *Figures) bool {
	a, b := r.Total, *f
	a.Name, b.Name = "", ""
	a.Checks, b.Checks = nil, nil
	return reflect.DeepEqual(a, b)
}

// scorecard is the incident figures of every set side by side, with the
// goals. A service or schedule whose figures are those of all services
// gets no column of its own; sameNote says which.
func (r *Report) scorecard() table {
	sets := []*Figures{&r.Total}
	header := []string{"Figure", "All services"}
	for i := range r.Services {
		if !r.sameAsAll(&r.Services[i]) {
			sets = append(sets, &r.Services[i])
			header = append(header, "Service "+r.Services[i].Name)
		}
	}
	for i := range r.Schedules {
		if !r.sameAsAll(&r.Schedules[i]) {
			sets = append(sets, &r.Schedules[i])
			header = append(header, "Schedule "+r.Schedules[i].Name)
		}
	}
	header = append(header, "Target")
	t := table{title: "Figures", header: header}
	if n := r.sameNote(); n != "" {
		t.notes = append(t.notes, n)
	}
	row := func(name, figure string, cell func(f *Figures) string) {
		cells := []string{name}
		for _, f := range sets {
			c := cell(f)
			if figure != "" {
				c = verdict(c, f.Checks, figure)
			}
			cells = append(cells, c)
		}
		t.rows = append(t.rows, append(cells, targetOf(sets, figure)))
	}
	row("Incidents", "", func(f *Figures) string { return strconv.Itoa(f.Incidents) })
	row("Alerts", "", func(f *Figures) string { return strconv.Itoa(f.Alerts) })
	for _, pc := range r.Total.ByPriority {
		p := pc.Priority
		row("  "+p, "", func(f *Figures) string { return prioCell(f, p) })
	}
	row("Acknowledged", "", func(f *Figures) string { return strconv.Itoa(f.Acknowledged) })
	row("Resolved", "", func(f *Figures) string { return strconv.Itoa(f.Resolved) })
	row("MTTA mean / median / p90", "mtta", func(f *Figures) string { return statsCell(f.MTTA) })
	row("MTTR mean / median / p90", "mttr", func(f *Figures) string { return statsCell(f.MTTR) })
	row("Acknowledged within target", "ack_within_target", func(f *Figures) string { return ratioCell(f.AckWithinTarget) })
	row("Resolved within target", "resolved_within_target", func(f *Figures) string { return ratioCell(f.ResolvedWithinTarget) })
	row("Escalated", "escalation_rate", func(f *Figures) string { return ratioCell(f.Escalated) })
	row("False-positive candidates", "false_positive_rate", func(f *Figures) string { return ratioCell(f.FalsePositives) })
	row("Pages", "", func(f *Figures) string { return strconv.Itoa(f.Pages.Total) })
	row("  by channel", "", func(f *Figures) string { return channelsCell(f.Pages.ByChannel) })
	row("  outside business hours", "", func(f *Figures) string { return strconv.Itoa(f.Pages.OffHours) })
	row("  at night", "", func(f *Figures) string { return strconv.Itoa(f.Pages.Night) })
	row("  failed (not sent)", "", func(f *Figures) string { return strconv.Itoa(f.Pages.Failed) })
	for _, c := range r.Total.Checks {
		switch c.Figure {
		case "alerts_per_engineer_week":
			t.rows = append(t.rows, blankRow(len(sets), "Most alerts to one engineer in a week", c.Value+", "+c.Status, c.Target))
		case "consecutive_weeks":
			t.rows = append(t.rows, blankRow(len(sets), "Stretches on call over the fairness rules", c.Value+", "+c.Status, c.Target))
		}
	}
	return t
}

// sameNote names the services and schedules whose figures are those of
// all services, or is "".
func (r *Report) sameNote() string {
	var same []string
	for i := range r.Services {
		if r.sameAsAll(&r.Services[i]) {
			same = append(same, "service "+r.Services[i].Name)
		}
	}
	for i := range r.Schedules {
		if r.sameAsAll(&r.Schedules[i]) {
			same = append(same, "schedule "+r.Schedules[i].Name)
		}
	}
	switch len(same) {
	case 0:
		return ""
	case 1:
		return "The figures of " + same[0] + " are those of all services."
	}
	return "The figures of " + strings.Join(same[:len(same)-1], ", ") + " and " + same[len(same)-1] + " are those of all services."
}

// blankRow is a row with a value for all services only.
func blankRow(sets int, name, all, target string) []string {
	cells := []string{name, all}
	for i := 1; i < sets; i++ {
		cells = append(cells, "")
	}
	return append(cells, target)
}

// engineersTable is each person's load.
func (r *Report) engineersTable() table {
	limit := ""
	for _, c := range r.Total.Checks {
		if c.Figure == "alerts_per_engineer_week" {
			limit = " (" + c.Target + ")"
		}
	}
	t := table{title: "Engineers", header: []string{"Engineer", "Time zone", "Incidents", "Acknowledged", "MTTA mean",
		"Pages", "Off hours", "At night", "Nights broken", "Share of pages (at night)",
		"Most alerts in a week" + limit, "Fairness"},
		notes: []string{"An engineer's MTTA counts the incidents they acknowledged; their other figures, the incidents they were paged for or acknowledged."}}
	for _, e := range r.Engineers {
		zoneCell := e.TimeZone
		if e.ZoneFrom != "user" {
			zoneCell += " (" + e.ZoneFrom + ")"
		}
		mtta := "-"
		if e.MTTA.Count > 0 {
			mtta = FormatDuration(time.Duration(e.MTTA.Mean))
		}
		pages := strconv.Itoa(e.Pages.Total)
		if e.Pages.Total > 0 {
			pages += " (" + channelsCell(e.Pages.ByChannel) + ")"
		}
		if e.Pages.Failed > 0 {
			pages += fmt.Sprintf(", %d failed", e.Pages.Failed)
		}
		most := verdict(strconv.Itoa(e.MaxAlertsInWeek), e.Checks, "alerts_per_engineer_week")
		fair := "-"
		for _, c := range e.Checks {
			if c.Figure == "consecutive_weeks" {
				fair = c.Value + ", " + c.Status
			}
		}
		t.rows = append(t.rows, []string{fmt.Sprintf("%s (%s)", e.Name, e.User), zoneCell, strconv.Itoa(e.Incidents),
			strconv.Itoa(e.AcknowledgedByThem), mtta, pages, strconv.Itoa(e.Pages.OffHours), strconv.Itoa(e.Pages.Night),
			strconv.Itoa(e.NightsInterrupted), fmt.Sprintf("%s (%s)", formatPercent(e.ShareOfPages), formatPercent(e.ShareOfNightPages)),
			most, fair})
	}
	return t
}

// weeksTable is the week-by-week series the charts draw.
func (r *Report) weeksTable() table {
	t := table{title: "Weeks", header: []string{"Week", "Incidents", "Alerts", "MTTA mean", "Escalated", "False-positive candidates", "Pages", "Pages at night"}}
	for _, w := range r.Weeks {
		mtta := "-"
		if w.MTTA.Count > 0 {
			mtta = FormatDuration(time.Duration(w.MTTA.Mean))
		}
		t.rows = append(t.rows, []string{r.stamp(w.Start), strconv.Itoa(w.Incidents), strconv.Itoa(w.Alerts), mtta,
			strconv.Itoa(w.Escalated), strconv.Itoa(w.FalsePositives), strconv.Itoa(w.Pages), strconv.Itoa(w.NightPages)})
	}
	return t
}

// alertsTable is alerts per engineer per week.
func (r *Report) alertsTable() table {
	t := table{title: "Alerts per engineer per week", header: []string{"Engineer"}}
	for _, w := range r.Weeks {
		t.header = append(t.header, r.day(w.Start))
	}
	for _, e := range r.Engineers {
		row := []string{e.Name}
		for _, w := range e.AlertsPerWeek {
			row = append(row, strconv.Itoa(w.Alerts))
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// payTables are the pay per person and week, and the incidents behind it.
func (r *Report) payTables() []table {
	if r.Pay == nil {
		return nil
	}
	wk := table{title: "On-call pay per engineer and week", header: []string{"Week", "Engineer", "On call", "Billable", "Weekend", "After hours", "Comp days", "Incidents"}}
	for _, w := range r.Pay.Weeks {
		wk.rows = append(wk.rows, []string{r.day(w.Week), fmt.Sprintf("%s (%s)", w.Name, w.User), hoursMinutes(w.OnCallMinutes),
			hoursMinutes(w.BillableMinutes), hoursMinutes(w.WeekendMinutes), hoursMinutes(w.AfterHoursMinutes),
			strconv.Itoa(w.CompDays), strings.Join(w.Incidents, " ")})
	}
	rot := "no rotation (the paid services' policies page no schedule)"
	if len(r.Pay.OnCallRotations) > 0 {
		rot = strings.Join(r.Pay.OnCallRotations, ", ")
	}
	until := r.To
	if r.AsOf.Before(until) {
		until = r.AsOf
	}
	wk.notes = append(wk.notes, fmt.Sprintf("On call: the time scheduled in %s, overrides applied, up to %s; each minute once.", rot, r.stamp(until)))
	it := table{title: "Incidents that earned pay", header: []string{"Incident", "Priority", "Engineer", "Start", "End", "Billable", "Weekend", "After hours", "Comp days", "Why"}}
	for _, p := range r.Pay.Incidents {
		it.rows = append(it.rows, []string{p.Incident, p.Priority, p.Name, r.stamp(p.Start), r.stamp(p.End),
			hoursMinutes(p.BillableMinutes), hoursMinutes(p.WeekendMinutes), hoursMinutes(p.AfterHoursMinutes),
			strconv.Itoa(p.CompDays), strings.Join(p.Reasons, "; ")})
	}
	return []table{wk, it}
}

// hoursMinutes writes minutes as h:mm.
func hoursMinutes(m int) string { return fmt.Sprintf("%d:%02d", m/60, m%60) }

// preamble says what the report covers and how it counts.
func (r *Report) preamble() []string {
	return []string{
		fmt.Sprintf("Period: %s to %s (%s), as of %s.", r.stamp(r.From), r.stamp(r.To), r.loc(), r.stamp(r.AsOf)),
		fmt.Sprintf("Weeks begin %s. Night is %s on each person's own clock.", r.Week, r.Night),
		fmt.Sprintf("False-positive candidates are resolved within %s without an acknowledgement.", r.FalsePositiveWithin),
		"MTTA and MTTR run from creation to acknowledgement and resolution, less any time a maintenance window held the incident; median and p90 by nearest rank.",
	}
}

// WriteText writes the report as aligned plain text.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "On-call report")
	for _, l := range r.preamble() {
		fmt.Fprintln(bw, l)
	}
	tables := []table{r.scorecard(), r.engineersTable(), r.alertsTable(), r.weeksTable()}
	tables = append(tables, r.payTables()...)
	for _, t := range tables {
		fmt.Fprintf(bw, "\n%s\n", strings.ToUpper(t.title))
		if len(t.rows) == 0 {
			fmt.Fprintln(bw, "(none)")
			continue
		}
		var cols strings.Builder
		tw := tabwriter.NewWriter(&cols, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(t.header, "\t"))
		for _, row := range t.rows {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		// Empty last cells pad lines with blanks: trim them.
		for _, l := range strings.SplitAfter(cols.String(), "\n") {
			if l != "" {
				fmt.Fprintln(bw, strings.TrimRight(l, " \n"))
			}
		}
		for _, n := range t.notes {
			fmt.Fprintln(bw, n)
		}
	}
	r.writeLists(bw, false)
	return bw.Flush()
}

// writeLists writes the fairness problems, unpaid incidents and notes,
// as markdown (with headings and bullets) or plain text.
func (r *Report) writeLists(w io.Writer, markdown bool) {
	heading, bullet, text := strings.ToUpper, "", func(s string) string { return s }
	if markdown {
		heading, bullet, text = func(s string) string { return "## " + s }, "- ", mdText
	}
	fmt.Fprintf(w, "\n%s\n", heading("Fairness"))
	if markdown {
		fmt.Fprintln(w)
	}
	if len(r.Fairness) == 0 {
		fmt.Fprintln(w, "No stretch on call over a schedule's fairness rules.")
	}
	for _, f := range r.Fairness {
		fmt.Fprintf(w, "%s%s: %s\n", bullet, text(f.Rule), text(f.Text))
	}
	if r.Pay != nil && r.Pay.Unpaid > 0 {
		fmt.Fprintf(w, "\n%d resolved incident(s) of paid services had nobody in the config to pay (nobody in it acknowledged or resolved them).\n", r.Pay.Unpaid)
		if t := r.Pay.UnknownText(); t != "" {
			fmt.Fprintf(w, "%s.\n", text(t))
		}
	}
	if r.Pay != nil && r.Pay.Open > 0 {
		fmt.Fprintf(w, "\n%d incident(s) of paid services still open when the report was made earn nothing yet: once resolved, they are paid in the week they were created; make this report again then.\n", r.Pay.Open)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "\n%s\n", heading("Notes"))
		if markdown {
			fmt.Fprintln(w)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "%s%s\n", bullet, text(n))
		}
	}
}

// WriteJSON writes the report as indented JSON: the same fields the API
// answers, durations in seconds, shares in percent.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
