package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

func runSimulate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("simulate", stdout, stderr)
	cfgPath := configFlag(fs)
	svcName := fs.String("service", "", "the `NAME` of the service the alert arrives at (default: the only one)")
	at := fs.String("at", "", "the `TIME` the alert fires, RFC 3339 (default now)")
	forS := fs.String("for", "", "how much of the timeline to run, a `DUR` like 90m (default 24h)")
	ackAfter := fs.String("ack-after", "", "acknowledge this `DUR` after the alert (default never)")
	ackBy := fs.String("ack-by", "", "the `USER` id who acknowledges (default the first person paged at the current level)")
	resolveAfter := fs.String("resolve-after", "", "resolve this `DUR` after the alert (default never)")
	updateEvery := fs.String("update-every", "", "post a status update every `DUR` after the acknowledgement")
	out := outputFlag(fs)
	// Who is on call, and so whom each step pages, is decided by the
	// overrides made at run time too: with --server, those of that
	// pagerd count, as for route and oncall.
	sf := addServerFlags(fs, mergeServerUsage, tokenFileUsage)
	pos, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	c, err := loadConfig(*cfgPath)
	if err == nil {
		c, err = mergeServer(sf, c, "simulate", stderr)
	}
	if err != nil {
		return fail(stderr, "simulate", err)
	}
	o := policy.SimOptions{Service: *svcName, AckBy: *ackBy}
	o.At, err = parseAt(*at, now())
	for _, d := range []struct {
		name string
		val  string
		dst  *time.Duration
	}{{"for", *forS, &o.For}, {"ack-after", *ackAfter, &o.AckAfter}, {"resolve-after", *resolveAfter, &o.ResolveAfter}, {"update-every", *updateEvery, &o.UpdateEvery}} {
		if err == nil {
			*d.dst, err = parseDurationFlag(d.name, d.val)
		}
	}
	if err == nil {
		err = checkOutput(*out)
	}
	if err == nil {
		o.Labels, err = parseLabels(pos)
	}
	if err == nil {
		// The flags' names in the errors: policy knows only the options.
		_, err = pickService(c, o.Service)
	}
	if err == nil && o.AckBy != "" && c.User(o.AckBy) == nil {
		err = fmt.Errorf("--ack-by: no user %q is defined", o.AckBy)
	}
	var res *policy.SimResult
	if err == nil {
		res, err = c.Simulate(o)
	}
	if err != nil {
		return fail(stderr, "simulate", err)
	}
	loc := c.Calendar(c.Service(res.Service)).Location()
	for i := range res.Events {
		res.Events[i].At = res.Events[i].At.In(loc)
	}
	if *out == "json" {
		return jsonOut(stdout, stderr, "simulate", newSimulateJSON(res))
	}
	hours := "off-hours"
	if res.Route.BusinessHours {
		hours = "business hours"
	}
	fmt.Fprintf(stdout, "%s at %s: %s, %s urgency (%s), rule %s, policy %s\n\n",
		res.Service, o.At.In(loc).Format(time.RFC3339), res.Priority, res.Urgency, hours, res.Rule, res.Policy)
	tw := newTable(stdout)
	for _, e := range res.Events {
		who := ""
		if e.User != "" {
			who = fmt.Sprintf("%s (%s)", e.Name, e.User)
		}
		what := e.Channel
		if e.Detail != "" {
			what = strings.TrimSpace(what + " " + e.Detail)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\tL%d %s\t%s\t%s\n", fmtOffset(time.Duration(e.OffsetSeconds)*time.Second),
			e.At.Format("Mon 2006-01-02 15:04:05 MST"), e.Type, e.Level, e.LevelName, who, what)
	}
	tw.Flush()
	if p := res.Compensation; p != nil {
		fmt.Fprintf(stdout, "\ncompensation for %s (%s): billable %s (weekend %s, after hours %s), %d comp day(s)\n",
			c.User(p.User).DisplayName(), p.User, policy.Duration(p.Billable),
			policy.Duration(time.Duration(p.WeekendMinutes)*time.Minute), policy.Duration(time.Duration(p.AfterHoursMinutes)*time.Minute), p.CompDays)
		for _, r := range p.Reasons {
			fmt.Fprintf(stdout, "  - %s\n", r)
		}
	}
	return 0
}

// simulateJSON is simulate's -o json. Its events are of the types the
// product contract names (notify, escalate, ack, resolve, status_update,
// sla_breach); what maintenance windows did (an alert held, a hand-over to
// the next window, the release at the end), which explains pages that did
// not come, is apart from them in maintenance, in the same shape; so are
// the people an unresolved rule left out because they had acknowledged
// the incident, in already_acknowledged, and the incident beginning to
// wait for someone on call (no level had anyone), in wait_on_call.
type simulateJSON struct {
	*policy.SimResult
	Events              []policy.SimEvent `json:"events"`
	Maintenance         []policy.SimEvent `json:"maintenance,omitempty"`
	AlreadyAcknowledged []policy.SimEvent `json:"already_acknowledged,omitempty"`
	WaitOnCall          []policy.SimEvent `json:"wait_on_call,omitempty"`
}

func newSimulateJSON(res *policy.SimResult) simulateJSON {
	out := simulateJSON{SimResult: res, Events: []policy.SimEvent{}}
	for _, e := range res.Events {
		switch e.Type {
		case string(policy.ActionMaintenance):
			out.Maintenance = append(out.Maintenance, e)
		case string(policy.ActionAlreadyAcknowledged):
			out.AlreadyAcknowledged = append(out.AlreadyAcknowledged, e)
		case string(policy.ActionWaitOnCall):
			out.WaitOnCall = append(out.WaitOnCall, e)
		default:
			out.Events = append(out.Events, e)
		}
	}
	return out
}

type weekJSON struct {
	Schedule string              `json:"schedule"`
	Week     string              `json:"week"`
	From     time.Time           `json:"from"`
	Until    time.Time           `json:"until"`
	Tiers    map[string]string   `json:"tiers"`
	Holders  map[string][]string `json:"holders"`
	// Shifts are who holds each tier through the week, overrides applied
	// (override: true), gaps included: who is paged, as `pagerd oncall`
	// says. Tiers and Holders are the rotation's alone.
	Shifts []policy.OnCallEntry `json:"shifts"`
}

func runSchedule(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("schedule", stdout, stderr)
	cfgPath := configFlag(fs)
	sched := fs.String("schedule", "", "only the schedule with this `NAME`")
	from := fs.String("from", "", "the first week: a `DATE` YYYY-MM-DD or an RFC 3339 instant (default this week)")
	weeks := fs.Int("weeks", 4, "how many weeks (`N`)")
	out := fs.String("o", "text", "output `FORMAT`: text (markdown), json or ics (iCalendar)")
	user := fs.String("user", "", "with -o ics, only the shifts of the user with this `USER` id")
	sf := addServerFlags(fs, mergeServerUsage, tokenFileUsage)
	if _, code := parse(fs, args); code >= 0 {
		return code
	}
	c, err := loadConfig(*cfgPath)
	if err == nil {
		c, err = mergeServer(sf, c, "schedule", stderr)
	}
	if err != nil {
		return fail(stderr, "schedule", err)
	}
	switch {
	case *out != "text" && *out != "json" && *out != "ics":
		err = fmt.Errorf("-o %q: use text, json or ics", *out)
	case *weeks < 1:
		err = fmt.Errorf("--weeks %d: must be 1 or more", *weeks)
	case *sched != "" && c.Schedule(*sched) == nil:
		err = fmt.Errorf("no schedule %q is defined", *sched)
	case *user != "" && *out != "ics":
		err = errors.New("--user works with -o ics")
	case *user != "" && c.User(*user) == nil:
		err = fmt.Errorf("no user %q is defined", *user)
	}
	if err != nil {
		return fail(stderr, "schedule", err)
	}
	var rows []weekJSON
	var rangeFrom, rangeUntil time.Time
	first := true
	name := func(id string) string { return c.User(id).DisplayName() }
	for i := range c.Schedules {
		s := &c.Schedules[i]
		if *sched != "" && s.Name != *sched {
			continue
		}
		start, err := parseFrom(*from, s)
		if err != nil {
			return fail(stderr, "schedule", err)
		}
		ws := s.Weeks(start, *weeks)
		if rangeFrom.IsZero() || ws[0].Start.Before(rangeFrom) {
			rangeFrom = ws[0].Start
		}
		if end := ws[len(ws)-1].End; end.After(rangeUntil) {
			rangeUntil = end
		}
		switch *out {
		case "ics":
			continue
		case "json":
			for _, w := range ws {
				row := weekJSON{Schedule: s.Name, Week: s.WeekLabel(w), From: w.Start, Until: w.End, Tiers: map[string]string{}, Holders: map[string][]string{},
					Shifts: c.ShiftsBetween(s, w.Start, w.End)}
				for j, u := range w.Holders {
					row.Tiers[s.Tiers[j].Name] = u
					row.Holders[s.Tiers[j].Name] = w.During[j]
				}
				rows = append(rows, row)
			}
			// The fairness problems and tier clashes a markdown table lists
			// below it.
			for _, p := range s.FairnessProblems(ws[0].Start, ws[len(ws)-1].End) {
				fmt.Fprintf(stderr, "pagerd schedule: warning: schedules[%s].fairness[%d]: %s\n", s.Name, p.Rule, p.Describe(s, name))
			}
			for _, c := range s.TierClashes(ws[0].Start, ws[len(ws)-1].End) {
				fmt.Fprintf(stderr, "pagerd schedule: warning: schedules[%s]: %s\n", s.Name, c.Describe(s, name))
			}
			continue
		}
		if !first {
			fmt.Fprintln(stdout)
		}
		first = false
		fmt.Fprintf(stdout, "### %s (handoff %s %s %s)\n\n", s.Name, s.Handoff.Day(), s.Handoff.Time, s.Location())
		fmt.Fprint(stdout, s.MarkdownTable(start, *weeks, name))
	}
	switch *out {
	case "json":
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].Schedule < rows[j].Schedule })
		return jsonOut(stdout, stderr, "schedule", rows)
	case "ics":
		feed, err := c.ICalendar(policy.Feed{Schedule: *sched, User: *user, From: rangeFrom, Until: rangeUntil, Stamp: now()})
		if err != nil {
			return fail(stderr, "schedule", err)
		}
		fmt.Fprint(stdout, feed)
	}
	return 0
}

// parseFrom reads --from: a date means the shift week that starts (or is
// running) at that day's handoff time; an RFC 3339 instant, the week holding
// it; nothing, this week.
func parseFrom(v string, s *policy.Schedule) (time.Time, error) {
	if v == "" {
		return now(), nil
	}
	if d, err := policy.ParseDate(v); err == nil {
		return d.At(s.Handoff.Time, s.Location()), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--from %q: use a date YYYY-MM-DD or RFC 3339", v)
	}
	return t, nil
}
