package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// now is the clock the query commands read when --at is not given.
var now = time.Now

func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check-config", stderr)
	files, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "pagerd check-config: name at least one config FILE")
		return 2
	}
	status := 0
	for _, f := range files {
		c, err := policy.LoadFile(f)
		if err != nil {
			fmt.Fprintln(stderr, err)
			status = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%d services, %d users, %d schedules, %d escalation policies)\n",
			f, len(c.Services), len(c.Users), len(c.Schedules), len(c.EscalationPolicies))
	}
	return status
}

func runOncall(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("oncall", stderr)
	cfgPath := configFlag(fs)
	at := fs.String("at", "", "instant to ask about, RFC 3339 (default now)")
	sched := fs.String("schedule", "", "only this schedule")
	out := outputFlag(fs)
	if _, code := parse(fs, args); code >= 0 {
		return code
	}
	c, err := loadConfig(*cfgPath)
	if err != nil {
		return fail(stderr, "oncall", err)
	}
	t, err := parseAt(*at, now())
	if err == nil {
		err = checkOutput(*out)
	}
	var rows []policy.OnCallEntry
	if err == nil {
		rows, err = c.WhoIsOnCall(t, *sched)
	}
	if err != nil {
		return fail(stderr, "oncall", err)
	}
	if *out == "json" {
		return jsonOut(stdout, stderr, "oncall", rows)
	}
	tw := newTable(stdout)
	fmt.Fprintln(tw, "SCHEDULE\tTIER\tUSER\tNAME\tFROM\tUNTIL\tOVERRIDE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Schedule, r.Tier, r.User, r.Name,
			r.From.Format(time.RFC3339), r.Until.Format(time.RFC3339), r.Reason)
	}
	tw.Flush()
	return 0
}

type targetJSON struct {
	Timeout string    `json:"timeout"`
	Due     time.Time `json:"due"`
}

type levelJSON struct {
	Level   int       `json:"level"`
	Name    string    `json:"name"`
	Users   []string  `json:"users"`
	Timeout string    `json:"timeout,omitempty"`
	Next    time.Time `json:"escalates_at,omitzero"`
}

type routeJSON struct {
	Service          string                `json:"service"`
	Priority         string                `json:"priority"`
	Urgency          string                `json:"urgency"`
	Rule             string                `json:"rule"`
	BusinessHours    bool                  `json:"business_hours"`
	EscalationPolicy string                `json:"escalation_policy"`
	PageImmediately  []string              `json:"page_immediately,omitempty"`
	Targets          map[string]targetJSON `json:"targets"`
	Levels           []levelJSON           `json:"levels"`
}

func runRoute(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("route", stderr)
	cfgPath := configFlag(fs)
	svcName := fs.String("service", "", "service the alert arrives at (default: the only one)")
	at := fs.String("at", "", "arrival instant, RFC 3339 (default now)")
	out := outputFlag(fs)
	pos, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	c, err := loadConfig(*cfgPath)
	if err != nil {
		return fail(stderr, "route", err)
	}
	t, err := parseAt(*at, now())
	if err == nil {
		err = checkOutput(*out)
	}
	var lbls map[string]string
	if err == nil {
		lbls, err = parseLabels(pos)
	}
	var svc *policy.Service
	if err == nil {
		svc, err = c.PickService(*svcName)
	}
	if err != nil {
		return fail(stderr, "route", err)
	}
	r := c.Route(svc, lbls, t)
	loc := c.Calendar(svc).Location()
	res := routeJSON{
		Service: svc.Name, Priority: r.Priority, Urgency: r.Urgency, Rule: r.Rule, BusinessHours: r.BusinessHours,
		EscalationPolicy: r.EscalationPolicy, PageImmediately: r.PageImmediately, Targets: map[string]targetJSON{},
	}
	cal := c.Calendar(svc)
	for _, tg := range []struct {
		name string
		to   policy.Timeout
	}{{"acknowledge", r.Targets.Acknowledge}, {"initial_response", r.Targets.InitialResponse}, {"resolution", r.Targets.Resolution}, {"status_update", r.Targets.StatusUpdate}} {
		if tg.to.IsSet() {
			res.Targets[tg.name] = targetJSON{Timeout: tg.to.String(), Due: cal.Resolve(tg.to, t).In(loc)}
		}
	}
	levelStart := t
	for i, l := range c.Policy(svc.EscalationPolicy).Levels {
		lj := levelJSON{Level: i + 1, Name: l.Name, Users: c.LevelUsers(svc, i, levelStart)}
		if next, ok := c.LevelTimeout(svc, i, r.Priority, levelStart); ok && i < len(c.Policy(svc.EscalationPolicy).Levels)-1 {
			lj.Timeout = policy.Duration(next.Sub(levelStart)).String()
			lj.Next = next.In(loc)
			levelStart = next
		}
		res.Levels = append(res.Levels, lj)
	}
	if *out == "json" {
		return jsonOut(stdout, stderr, "route", res)
	}
	hours := "off-hours"
	if r.BusinessHours {
		hours = "business hours"
	}
	fmt.Fprintf(stdout, "service:    %s\npriority:   %s\nurgency:    %s (%s)\nrule:       %s\npolicy:     %s\n",
		res.Service, res.Priority, res.Urgency, hours, res.Rule, res.EscalationPolicy)
	if len(r.PageImmediately) > 0 {
		fmt.Fprintf(stdout, "at once:    %s\n", strings.Join(r.PageImmediately, ", "))
	}
	fmt.Fprintln(stdout, "targets:")
	for _, n := range []string{"acknowledge", "initial_response", "resolution", "status_update"} {
		if tg, ok := res.Targets[n]; ok {
			fmt.Fprintf(stdout, "  %-17s %-18s due %s\n", n, tg.Timeout, tg.Due.Format(time.RFC3339))
		}
	}
	fmt.Fprintln(stdout, "levels:")
	for _, l := range res.Levels {
		names := make([]string, len(l.Users))
		for i, u := range l.Users {
			names[i] = c.User(u).DisplayName()
		}
		fmt.Fprintf(stdout, "  %d %-12s %s", l.Level, l.Name, strings.Join(names, ", "))
		if l.Timeout != "" {
			fmt.Fprintf(stdout, " (escalates after %s, at %s)", l.Timeout, l.Next.Format(time.RFC3339))
		}
		fmt.Fprintln(stdout)
	}
	return 0
}

func jsonOut(stdout, stderr io.Writer, cmd string, v any) int {
	if err := writeJSON(stdout, v); err != nil {
		return fail(stderr, cmd, err)
	}
	return 0
}
