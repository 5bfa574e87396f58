package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pagerd/pagerd/gateway/maintenance"
)

// runMaintenance is pagerd maintenance add|list|rm: the maintenance
// windows of a running pagerd, through its API (--server, an API token
// from --token-file or $PAGERD_API_TOKEN).
func runMaintenance(args []string, stdout, stderr io.Writer) int {
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := newFlags("maintenance", stdout, stderr)
	sf := addServerFlags(fs, "`URL` of the running pagerd (required)",
		"`FILE` holding an API token (default $PAGERD_API_TOKEN); add and rm need the responder or admin role")
	var services, matchers stringsFlag
	fs.Var(&services, "service", "add: a `SERVICE` the window covers (repeatable)")
	fs.Var(&matchers, "matcher", "add: a label `MATCHER` the covered alerts match, like 'team=\"db\"' (repeatable; all must match)")
	dur := fs.String("for", "", "add: the window starts now (or at --start) and lasts `DUR`, like 90m")
	start := fs.String("start", "", "add: when the window starts, RFC 3339 `TIME` (default now)")
	end := fs.String("end", "", "add: when the window ends, RFC 3339 `TIME`")
	name := fs.String("name", "", "add: a short `NAME` for the window, shown in incident timelines")
	reason := fs.String("reason", "", "add: why, for people (`TEXT`)")
	state := fs.String("state", "", "list: only windows in this `STATE`: scheduled, active or ended")
	out := outputFlag(fs)
	pos, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	if err := checkOutput(*out); err != nil {
		return fail(stderr, "maintenance", err)
	}
	wantArgs := map[string]int{"add": 0, "list": 0, "rm": 1}
	n, ok := wantArgs[sub]
	if !ok || len(pos) != n || *sf.server == "" {
		if !ok && sub != "" {
			fmt.Fprintf(stderr, "pagerd maintenance: unknown subcommand %q (add, list or rm)\n\n", sub)
		}
		printUsage(stderr, fs.name, fs.FlagSet)
		return 2
	}
	token, err := sf.token()
	if err != nil {
		return fail(stderr, "maintenance", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	c := &maintenance.Client{Server: *sf.server, Token: token}
	var ws []maintenance.Listed
	switch sub {
	case "add":
		var w *maintenance.Listed
		w, err = c.Add(ctx, maintenance.Request{Name: *name, Services: services, Matchers: matchers, Start: *start, End: *end,
			Duration: *dur, Reason: *reason})
		if w != nil {
			ws = []maintenance.Listed{*w}
		}
	case "list":
		ws, err = c.List(ctx, *state)
	case "rm":
		var w *maintenance.Listed
		w, err = c.Delete(ctx, pos[0])
		if w != nil {
			ws = []maintenance.Listed{*w}
		}
	}
	if err != nil {
		return fail(stderr, "maintenance "+sub, err)
	}
	if *out == "json" {
		if sub == "list" {
			return jsonOut(stdout, stderr, "maintenance "+sub, ws)
		}
		return jsonOut(stdout, stderr, "maintenance "+sub, ws[0])
	}
	writeWindows(stdout, ws)
	return 0
}

// writeWindows writes windows as a table: id, state, start, end, what
// they cover, who made them why.
func writeWindows(w io.Writer, ws []maintenance.Listed) {
	if len(ws) == 0 {
		fmt.Fprintln(w, "no maintenance windows")
		return
	}
	t := newTable(w)
	fmt.Fprintln(t, "ID\tSTATE\tSTART\tEND\tCOVERS\tBY\tREASON")
	for _, x := range ws {
		var covers []string
		if len(x.Services) > 0 {
			covers = append(covers, "services "+strings.Join(x.Services, ","))
		}
		if len(x.Matchers) > 0 {
			covers = append(covers, "{"+strings.Join(x.Matchers, ", ")+"}")
		}
		by := x.CreatedBy
		if x.Source == "config" {
			by = "config"
		}
		why := x.Reason
		if x.Name != "" {
			why = strings.TrimSpace(x.Name + ": " + why)
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.State, x.Start.UTC().Format(time.RFC3339), x.End.UTC().Format(time.RFC3339),
			strings.Join(covers, " and "), by, why)
	}
	_ = t.Flush()
}
