package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// now is the clock the query commands read when --at is not given.
var now = time.Now

// stringsFlag is a flag that may be given more than once.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check-config", stdout, stderr)
	var configs stringsFlag
	fs.Var(&configs, "config", "a config `FILE` to check, like the arguments (repeatable)")
	strict := fs.Bool("strict", false, "treat warnings (missing secrets included) as errors: exit 1")
	at := fs.String("at", "", "check fairness rules over the 12 weeks from the week holding this `TIME`, RFC 3339 (default now)")
	files, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	files = append(configs, files...)
	if len(files) == 0 {
		fmt.Fprintln(stderr, "pagerd check-config: name at least one config FILE (or --config FILE)")
		return 2
	}
	from, err := parseAt(*at, now())
	if err != nil {
		return fail(stderr, "check-config", err)
	}
	status := 0
	for _, f := range files {
		c, err := policy.LoadFile(f)
		if err != nil {
			fmt.Fprintln(stderr, err)
			status = 1
			continue
		}
		warns := append(c.Warnings(), c.FairnessWarnings(from)...)
		for _, w := range warns {
			fmt.Fprintf(stderr, "%s: warning: %s\n", f, w)
		}
		if *strict && len(warns) > 0 {
			fmt.Fprintf(stderr, "%s: %d warning(s), and --strict makes them errors\n", f, len(warns))
			status = 1
			continue
		}
		note := ""
		if len(warns) > 0 {
			note = fmt.Sprintf(", %d warning(s)", len(warns))
		}
		fmt.Fprintf(stdout, "%s: ok (%d services, %d users, %d schedules, %d escalation policies%s)\n",
			f, len(c.Services), len(c.Users), len(c.Schedules), len(c.EscalationPolicies), note)
		notes := append(append(append(c.ShadowNotes(), c.LogOnlyNotes()...), c.UncheckedNotes()...), c.AutoResolveNotes()...)
		for _, n := range notes {
			fmt.Fprintf(stdout, "%s: note: %s\n", f, n)
		}
	}
	return status
}

func runOncall(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("oncall", stdout, stderr)
	cfgPath := configFlag(fs)
	at := fs.String("at", "", "the `TIME` to ask about, RFC 3339, or a DATE (YYYY-MM-DD: every shift of that day) (default now)")
	sched := fs.String("schedule", "", "only the schedule with this `NAME`")
	out := outputFlag(fs)
	sf := addServerFlags(fs, mergeServerUsage, tokenFileUsage)
	if _, code := parse(fs, args); code >= 0 {
		return code
	}
	c, err := loadConfig(*cfgPath)
	if err == nil {
		c, err = mergeServer(sf, c, "oncall", stderr)
	}
	if err != nil {
		return fail(stderr, "oncall", err)
	}
	err = checkOutput(*out)
	var rows []policy.OnCallEntry
	if d, derr := policy.ParseDate(*at); err == nil && derr == nil {
		rows, err = c.WhoIsOnCallOn(d, *sched)
	} else if err == nil {
		var t time.Time
		if t, err = parseAt(*at, now()); err == nil {
			rows, err = c.WhoIsOnCall(t, *sched)
		}
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
		tier := r.Tier
		if r.Layer != "" {
			tier += " (" + r.Layer + ")"
		}
		from, until := r.From.Format(time.RFC3339), r.Until.Format(time.RFC3339)
		if r.From.IsZero() {
			from = "-" // a tier nobody has held yet: its layers have not begun
		}
		if r.Until.IsZero() {
			until = "-"
		}
		user, name := r.User, r.Name
		if user == "" {
			// A gap: levels that page the tier page nobody now. Said in
			// words, as the schedule table and the console say it.
			user, name = "-", "nobody"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Schedule, tier, user, name,
			from, until, r.Reason)
	}
	tw.Flush()
	return 0
}

func runRoute(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("route", stdout, stderr)
	cfgPath := configFlag(fs)
	svcName := fs.String("service", "", "the `NAME` of the service the alert arrives at (default: the only one)")
	at := fs.String("at", "", "the `TIME` the alert arrives, RFC 3339 (default now)")
	out := outputFlag(fs)
	// Whom each level and unresolved rule pages, and so whether a rule's
	// page ends a wait for someone on call, is decided by the overrides
	// made at run time too: with --server, those of that pagerd count.
	sf := addServerFlags(fs, mergeServerUsage, tokenFileUsage)
	pos, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	c, err := loadConfig(*cfgPath)
	if err == nil {
		c, err = mergeServer(sf, c, "route", stderr)
	}
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
		svc, err = pickService(c, *svcName)
	}
	if err != nil {
		return fail(stderr, "route", err)
	}
	res := c.Preview(svc, lbls, t)
	if *out == "json" {
		return jsonOut(stdout, stderr, "route", res)
	}
	hours := "off-hours"
	if res.BusinessHours {
		hours = "business hours"
	}
	fmt.Fprintf(stdout, "service:    %s\npriority:   %s\nurgency:    %s (%s)\nrule:       %s\npolicy:     %s\n",
		res.Service, res.Priority, res.Urgency, hours, res.Rule, res.EscalationPolicy)
	if len(res.PageImmediately) > 0 {
		fmt.Fprintf(stdout, "at once:    %s\n", strings.Join(res.PageImmediately, ", "))
	}
	fmt.Fprintln(stdout, "targets:")
	for _, n := range policy.TargetNames {
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
		if l.Urgency != "" && l.Urgency != res.Urgency {
			// Reached across a business-hours boundary: its people get
			// the other ladder.
			fmt.Fprintf(stdout, " [%s urgency]", l.Urgency)
		}
		switch {
		case l.PagesNobody && l.StartsOver && l.Timeout != "":
			// No level pages anyone: the last waits out its timeout, and
			// the next round tries them again.
			fmt.Fprintf(stdout, "nobody (nobody is on call for any level: starts over at level 1 after %s, at %s; repeat: %d)",
				l.Timeout, l.Next.Format(time.RFC3339), res.Repeat)
		case l.PagesNobody && l.StartsOver:
			fmt.Fprintf(stdout, "nobody (nobody is on call for it: starts over at level 1 at once, at %s; repeat: %d)", l.Next.Format(time.RFC3339), res.Repeat)
		case l.PagesNobody && l.Level < len(res.Levels):
			fmt.Fprintf(stdout, "nobody (nobody is on call for it: escalates at once, at %s)", l.Next.Format(time.RFC3339))
		case l.PagesNobody:
			fmt.Fprint(stdout, "nobody (nobody is on call for it)")
		case l.Timeout != "" && l.StartsOver:
			fmt.Fprintf(stdout, " (starts over at level 1 after %s, at %s; repeat: %d)", l.Timeout, l.Next.Format(time.RFC3339), res.Repeat)
		case l.Timeout != "":
			fmt.Fprintf(stdout, " (escalates after %s, at %s)", l.Timeout, l.Next.Format(time.RFC3339))
		}
		fmt.Fprintln(stdout)
	}
	if len(res.Unresolved) > 0 {
		fmt.Fprintln(stdout, "unresolved:")
	}
	for _, u := range res.Unresolved {
		names := make([]string, len(u.Users))
		for i, id := range u.Users {
			names[i] = c.User(id).DisplayName()
		}
		who := strings.Join(names, ", ")
		if who == "" {
			who = "nobody (nobody is on call for it)"
		}
		fmt.Fprintf(stdout, "  after %-11s %s, at %s", u.After, who, u.At.Format(time.RFC3339))
		switch {
		case u.EndsWait:
			fmt.Fprint(stdout, " (on call at a level: ends the wait)")
		case u.WaitOver:
			fmt.Fprint(stdout, " (after the wait: someone came on call at a level before it and was paged)")
		case res.WaitsForOnCall && len(u.Users) > 0:
			fmt.Fprint(stdout, " (the wait goes on)")
		}
		fmt.Fprintln(stdout)
	}
	if res.WaitsForOnCall {
		fmt.Fprintln(stdout, "then:       waits for the next person on call and pages them from level 1 when they come on call")
		fmt.Fprintln(stdout, "            (until someone acknowledges; an unresolved rule's page ends the wait only if it reaches someone on call at a level)")
	}
	return 0
}

// pickService is policy's PickService, saying which flag names a service.
func pickService(c *policy.Config, name string) (*policy.Service, error) {
	s, err := c.PickService(name)
	if errors.Is(err, policy.ErrServiceNotNamed) {
		err = fmt.Errorf("%w with --service", err)
	}
	return s, err
}

func jsonOut(stdout, stderr io.Writer, cmd string, v any) int {
	if err := writeJSON(stdout, v); err != nil {
		return fail(stderr, cmd, err)
	}
	return 0
}
