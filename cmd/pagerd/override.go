package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pagerd/pagerd/gateway/overrides"
	"github.com/pagerd/pagerd/policy"
)

// runOverride is `pagerd override add|list|rm`: overrides made at run time
// on a running pagerd, through its API.
func runOverride(args []string, stdout, stderr io.Writer) int {
	// The help shows add's flags, which include list's and rm's.
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		return runOverrideAdd([]string{"-h"}, stdout, stderr)
	}
	if len(args) == 0 {
		runOverrideAdd([]string{"-h"}, stderr, stderr)
		return 2
	}
	switch args[0] {
	case "add":
		return runOverrideAdd(args[1:], stdout, stderr)
	case "list", "ls":
		return runOverrideList(args[1:], stdout, stderr)
	case "rm", "delete":
		return runOverrideRm(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "pagerd override: unknown subcommand %q: use add, list or rm\n", args[0])
	return 2
}

// --server's help for the commands on overrides: those that need it, and
// oncall and schedule, which merge what it holds into the config.
const (
	overrideServerUsage = "`URL` of a running pagerd"
	mergeServerUsage    = "`URL` of a running pagerd: merge the overrides made there at run time"
)

// client is the overrides API of --server.
func (f serverFlags) client() (*overrides.Client, error) {
	if *f.server == "" {
		return nil, errors.New("--server URL is required")
	}
	token, err := f.token()
	if err != nil {
		return nil, err
	}
	return &overrides.Client{Server: *f.server, Token: token}, nil
}

// mergeServer merges a running pagerd's run-time overrides into cfg when
// --server is given, warning on stderr of each one the server pages by
// that cfg cannot show (warnAll).
func mergeServer(f serverFlags, cfg *policy.Config, cmd string, stderr io.Writer) (*policy.Config, error) {
	if *f.server == "" {
		return cfg, nil
	}
	c, err := f.client()
	if err != nil {
		return nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	merged, skipped, err := c.Merge(ctx, cfg)
	warnAll(stderr, cmd, skipped)
	return merged, err
}

// warnAll says each warning on stderr: the overrides the server pages by
// that the local config cannot show (the answer names someone else for
// their spans), the people an override puts on call who would not be
// woken for real.
func warnAll(stderr io.Writer, cmd string, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(stderr, "pagerd %s: warning: %s\n", cmd, w)
	}
}

func runOverrideAdd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("override", stdout, stderr)
	sf := addServerFlags(fs, overrideServerUsage, tokenFileUsage)
	sched := fs.String("schedule", "", "the schedule's `NAME` (required)")
	tier := fs.String("tier", "", "the `TIER` to take (required)")
	user := fs.String("user", "", "the `USER` id who takes it (required)")
	start := fs.String("start", "", "from this `TIME`, RFC 3339 (default now)")
	end := fs.String("end", "", "until this `TIME`, RFC 3339")
	dur := fs.String("for", "", "for this long from --start (`DUR`, like 4h), instead of --end")
	reason := fs.String("reason", "", "why, for the audit trail and the timeline (`TEXT`)")
	swapStart := fs.String("swap-start", "", "a swap: whoever holds the tier at --start takes --user's shift from this `TIME`...")
	swapEnd := fs.String("swap-end", "", "... until this `TIME`")
	fs.Bool("ended", false, "list: also the overrides that ended in the last 30 days")
	out := outputFlag(fs)
	if _, code := parse(fs, args); code >= 0 {
		return code
	}
	body := overrides.CreateBody{Tier: *tier, User: *user, Duration: *dur, Reason: *reason}
	var err error
	for _, p := range []struct {
		flag, v string
		to      *time.Time
	}{{"start", *start, &body.Start}, {"end", *end, &body.End}, {"swap-start", *swapStart, &body.SwapStart}, {"swap-end", *swapEnd, &body.SwapEnd}} {
		if p.v != "" && err == nil {
			if *p.to, err = time.Parse(time.RFC3339, p.v); err != nil {
				err = fmt.Errorf("--%s %q: use RFC 3339, like 2025-09-10T02:00:00-04:00", p.flag, p.v)
			}
		}
	}
	switch {
	case err != nil:
	case *sched == "" || *tier == "" || *user == "":
		err = errors.New("--schedule, --tier and --user are required")
	case (*end == "") == (*dur == ""):
		err = errors.New("give --end TIME or --for DUR")
	}
	if err == nil {
		err = checkOutput(*out)
	}
	c, cerr := sf.client()
	if err == nil {
		err = cerr
	}
	if err != nil {
		return fail(stderr, "override add", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	m, err := c.Create(ctx, *sched, body)
	if err != nil {
		return fail(stderr, "override add", err)
	}
	warnAll(stderr, "override add", m.Warnings)
	if *out == "json" {
		return jsonOut(stdout, stderr, "override add", m)
	}
	printMade(stdout, m)
	if m.SwapOverride != nil {
		printMade(stdout, m.SwapOverride)
	}
	return 0
}

func printMade(w io.Writer, m *overrides.Made) {
	who := m.User
	if m.Name != "" && m.Name != m.User {
		who = fmt.Sprintf("%s (%s)", m.Name, m.User)
	}
	fmt.Fprintf(w, "%s: %s holds %s of %s from %s until %s", m.ID, who, m.Tier, m.Schedule,
		m.Start.Format(time.RFC3339), m.End.Format(time.RFC3339))
	if m.Replaces != "" {
		fmt.Fprintf(w, ", instead of %s", m.Replaces)
	}
	fmt.Fprintln(w)
}

func runOverrideList(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("override", stdout, stderr)
	sf := addServerFlags(fs, overrideServerUsage, tokenFileUsage)
	sched := fs.String("schedule", "", "the schedule's `NAME` (required)")
	ended := fs.Bool("ended", false, "also the overrides that ended in the last 30 days")
	out := outputFlag(fs)
	if _, code := parse(fs, args); code >= 0 {
		return code
	}
	err := checkOutput(*out)
	if err == nil && *sched == "" {
		err = errors.New("--schedule is required")
	}
	c, cerr := sf.client()
	if err == nil {
		err = cerr
	}
	if err != nil {
		return fail(stderr, "override list", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	list, err := c.List(ctx, *sched, *ended)
	if err != nil {
		return fail(stderr, "override list", err)
	}
	if *out == "json" {
		return jsonOut(stdout, stderr, "override list", list)
	}
	if len(list) == 0 {
		// A header alone reads as an answer cut short.
		what := "no overrides made at run time in force or to come"
		if *ended {
			what = "no overrides made at run time"
		}
		fmt.Fprintf(stdout, "%s in schedule %s (the config file's are not listed here: pagerd oncall shows them)\n", what, *sched)
		return 0
	}
	tw := newTable(stdout)
	fmt.Fprintln(tw, "ID\tTIER\tUSER\tSTART\tEND\tREPLACES\tMADE BY\tREASON")
	for _, o := range list {
		reason := o.Reason
		if o.LeftOut != "" {
			// A reload took its user or tier away: it pages nobody.
			reason = strings.TrimSuffix("NOT APPLIED: "+o.LeftOut+"; "+reason, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.ID, o.Tier, o.User, o.Start.Format(time.RFC3339),
			o.End.Format(time.RFC3339), o.Replaces, o.CreatedBy, reason)
	}
	tw.Flush()
	return 0
}

func runOverrideRm(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("override", stdout, stderr)
	sf := addServerFlags(fs, overrideServerUsage, tokenFileUsage)
	sched := fs.String("schedule", "", "the schedule's `NAME` (required)")
	ids, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	var err error
	if *sched == "" || len(ids) == 0 {
		err = errors.New("--schedule NAME and at least one override ID are required")
	}
	c, cerr := sf.client()
	if err == nil {
		err = cerr
	}
	if err != nil {
		return fail(stderr, "override rm", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	status := 0
	for _, id := range ids {
		gone, err := c.Delete(ctx, *sched, id)
		if err != nil {
			fmt.Fprintf(stderr, "pagerd override rm: %s: %v\n", id, err)
			status = 1
			continue
		}
		for _, o := range gone {
			if o.EndedBy != "" {
				// It was under way: ended now, its past kept.
				fmt.Fprintf(stdout, "ended %s at %s (%s held %s from %s; that stays on record)\n", o.ID, o.End.Format(time.RFC3339),
					o.User, o.Tier, o.Start.Format(time.RFC3339))
				continue
			}
			fmt.Fprintf(stdout, "deleted %s (%s held %s from %s until %s)\n", o.ID, o.User, o.Tier,
				o.Start.Format(time.RFC3339), o.End.Format(time.RFC3339))
		}
	}
	return status
}
