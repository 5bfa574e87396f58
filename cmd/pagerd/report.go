package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/pagerd/pagerd/gateway/history"
	"github.com/pagerd/pagerd/gateway/overrides"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
	"github.com/pagerd/pagerd/report"
)

// historyFlags are where pagerd report and pagerd handoff read incident
// history: a running pagerd (--server, with a token), or the embedded
// store's data dir of a pagerd that is not running.
type historyFlags struct {
	serverFlags
	dataDir *string
}

func addHistoryFlags(fs *flagSet) historyFlags {
	return historyFlags{
		serverFlags: addServerFlags(fs, "`URL` of a running pagerd to read the incident history from (its API)",
			"`FILE` holding an API token for --server, any role (default $PAGERD_API_TOKEN)"),
		dataDir: fs.String("data-dir", "", "data `DIR` of a pagerd that is not running, read directly (default server.data_dir, or data)"),
	}
}

// remote is the history on --server, read through its API.
func (f historyFlags) remote() (history.Remote, error) {
	if *f.dataDir != "" {
		return history.Remote{}, errors.New("--server and --data-dir: read from one or the other")
	}
	token, err := f.token()
	if err != nil {
		return history.Remote{}, err
	}
	return history.Remote{URL: *f.server, Token: token}, nil
}

// source opens the history: the API of --server, or the data dir
// read-only. Close what it returns when done.
func (f historyFlags) source(cfg *policy.Config) (history.Source, func(), error) {
	if *f.server != "" {
		r, err := f.remote()
		if err != nil {
			return nil, nil, err
		}
		return r, func() {}, nil
	}
	dir := *f.dataDir
	if dir == "" {
		if cfg.Server.Redis.URL.Reveal() != "" || cfg.Server.Redis.URLFile != "" {
			return nil, nil, errors.New("the config keeps incidents in Redis (server.redis): read them through a running pagerd with --server URL")
		}
		dir = cfg.Server.DataDir
		if dir == "" {
			dir = "data"
		}
	}
	st, err := boltstore.OpenReadOnly(dir)
	switch {
	case errors.Is(err, boltstore.ErrInUse):
		return nil, nil, fmt.Errorf("%w: read the history through it with --server URL", err)
	case err != nil:
		return nil, nil, fmt.Errorf("%w (a pagerd on Redis, or on another machine: use --server URL)", err)
	}
	return history.Store{Store: st, Now: now}, func() { _ = st.Close() }, nil
}

// reportWriters are the report's -o formats.
var reportWriters = map[string]func(*report.Report, io.Writer) error{
	"text":     (*report.Report).WriteText,
	"json":     (*report.Report).WriteJSON,
	"csv":      (*report.Report).WriteCSV,
	"markdown": (*report.Report).WriteMarkdown,
}

// runReport is pagerd report: the on-call report of a period from real
// incident history, held to the config's goals (report.Build, on the
// history that history.Report streams into it).
func runReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("report", stdout, stderr)
	cfgPath := configFlag(fs)
	fromS := fs.String("from", "", "the period's start, a `DATE` (at the time report weeks begin) or an RFC 3339 time (required)")
	toS := fs.String("to", "", "the period's end, not included, a `DATE` or an RFC 3339 time (required)")
	out := fs.String("o", "text", "output `FORMAT`: text, json, csv or markdown (with SVG charts)")
	payroll := fs.Bool("payroll", false, "write the on-call pay as the payroll CSV instead (billable time, split into weekend and after hours, comp days and time on call per person and week)")
	src := addHistoryFlags(fs)
	if _, code := parse(fs, args); code >= 0 {
		return code
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return fail(stderr, "report", err)
	}
	write, ok := reportWriters[*out]
	switch {
	case !ok:
		return fail(stderr, "report", fmt.Errorf("-o %q: use text, json, csv or markdown", *out))
	case *payroll && *out != "text" && *out != "csv":
		return fail(stderr, "report", errors.New("--payroll writes CSV: leave -o out"))
	case *payroll:
		write = (*report.Report).WritePayrollCSV
	}
	var from, to time.Time
	for _, b := range []struct {
		name, val string
		to        *time.Time
	}{{"from", *fromS, &from}, {"to", *toS, &to}} {
		if b.val == "" {
			return fail(stderr, "report", fmt.Errorf("--%s is required: a date (YYYY-MM-DD) or an RFC 3339 time", b.name))
		}
		if *b.to, err = history.ParseTime(cfg, b.val); err != nil {
			return fail(stderr, "report", fmt.Errorf("--%s: %w", b.name, err))
		}
	}
	// A period no report covers is the mistake to name, before the
	// history is opened: its errors (no store in the data dir, a server
	// that does not answer) would hide it.
	switch {
	case !to.After(from):
		return fail(stderr, "report", fmt.Errorf("--to must be after --from (from %s, to %s)", from.Format(time.RFC3339), to.Format(time.RFC3339)))
	case to.Sub(from) > report.MaxPeriod:
		return fail(stderr, "report", fmt.Errorf("--from %s to --to %s is longer than %d weeks: report it in parts", from.Format(time.RFC3339), to.Format(time.RFC3339), report.MaxPeriod/(7*24*time.Hour)))
	}
	s, closeSrc, err := src.source(cfg)
	if err != nil {
		return fail(stderr, "report", err)
	}
	defer closeSrc()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// Time on call (the pay weeks' stipend) goes by who really held the
	// shifts: with the overrides made at run time, as the daemon's own
	// report has them.
	if cfg, err = withRunTimeOverrides(ctx, src, s, cfg, "report", stderr); err != nil {
		return fail(stderr, "report", err)
	}
	asOf := now()
	r, err := history.Report(ctx, s, cfg, report.Options{From: from, To: to, AsOf: asOf, OverridesKeptFrom: asOf.Add(-overrides.KeepEnded)})
	if err == nil {
		err = write(r, stdout)
	}
	if err != nil {
		return fail(stderr, "report", err)
	}
	if *payroll {
		// The CSV has no room for the notes either: whose clock is a
		// guess, run-time overrides that may be gone.
		for _, n := range r.Notes {
			fmt.Fprintf(stderr, "pagerd report: note: %s\n", n)
		}
	}
	if t := r.Pay.UnknownText(); *payroll && t != "" {
		// Work someone did that the CSV pays nobody for.
		fmt.Fprintf(stderr, "pagerd report: %s\n", t)
	}
	if *payroll && r.Pay != nil && r.Pay.Open > 0 {
		// The CSV has no room to say so, and payroll run now would leave
		// their time out.
		fmt.Fprintf(stderr, "pagerd report: %d incident(s) of paid services still open earn nothing yet: once resolved, they are paid in the week they were created: run this report again then, and pay only the incidents it adds (pay.incidents in -o json names each)\n", r.Pay.Open)
	}
	return 0
}

// runHandoff is pagerd handoff: a schedule's handoff document, in its
// template, from the outgoing week's real incidents. With --server and no
// --config, the daemon makes it with the config it runs.
func runHandoff(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("handoff", stdout, stderr)
	cfgPath := fs.String("config", "", "the config `FILE` (default with --server: the one the daemon runs)")
	sched := fs.String("schedule", "", "the schedule's `NAME` (default: the only one)")
	at := fs.String("at", "", "when the document is made, RFC 3339: it is for the handoff nearest to this `TIME` (default now)")
	out := fs.String("o", "text", "output `FORMAT`: text (the schedule's handoff_template) or json")
	src := addHistoryFlags(fs)
	if _, code := parse(fs, args); code >= 0 {
		return code
	}
	if err := checkOutput(*out); err != nil {
		return fail(stderr, "handoff", err)
	}
	if *cfgPath == "" && *src.server != "" {
		return remoteHandoff(src, *sched, *at, *out, stdout, stderr)
	}
	if *cfgPath == "" {
		return fail(stderr, "handoff", errors.New("--config FILE is required, unless --server URL makes the document with the config it runs"))
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return fail(stderr, "handoff", err)
	}
	t, err := parseAt(*at, now())
	name := *sched
	if err == nil && name == "" {
		if len(cfg.Schedules) != 1 {
			err = fmt.Errorf("the config has %d schedules: name one with --schedule", len(cfg.Schedules))
		} else {
			name = cfg.Schedules[0].Name
		}
	}
	if err == nil && cfg.Schedule(name) == nil {
		err = fmt.Errorf("--schedule: no schedule %q is defined", name)
	}
	if err != nil {
		return fail(stderr, "handoff", err)
	}
	s, closeSrc, err := src.source(cfg)
	if err != nil {
		return fail(stderr, "handoff", err)
	}
	defer closeSrc()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// The document names who hands over and who takes over: with the
	// overrides made at run time, as the daemon's own document has them.
	if cfg, err = withRunTimeOverrides(ctx, src, s, cfg, "handoff", stderr); err != nil {
		return fail(stderr, "handoff", err)
	}
	doc, err := history.Handoff(ctx, s, cfg, name, t)
	if err != nil {
		return fail(stderr, "handoff", err)
	}
	if *out == "json" {
		return jsonOut(stdout, stderr, "handoff", doc)
	}
	if err := doc.Render(stdout); err != nil {
		return fail(stderr, "handoff", err)
	}
	return 0
}

// withRunTimeOverrides merges into cfg the overrides made at run time
// where the history comes from: the running pagerd's (its API), or those
// stored in the data dir.
func withRunTimeOverrides(ctx context.Context, f historyFlags, src history.Source, cfg *policy.Config, cmd string, stderr io.Writer) (*policy.Config, error) {
	if *f.server != "" {
		c, err := f.client()
		if err != nil {
			return nil, err
		}
		merged, skipped, err := c.Merge(ctx, cfg)
		warnAll(stderr, cmd, skipped)
		return merged, err
	}
	// A source that cannot say which overrides were made would pay and
	// hand off by the rotation, not by who held the shifts: an error,
	// not a silent fallback.
	hs, ok := src.(history.Store)
	if !ok {
		return nil, fmt.Errorf("the history source %T keeps no run-time overrides", src)
	}
	docs, ok := hs.Store.(store.Docs)
	if !ok {
		return nil, fmt.Errorf("the store %T keeps no run-time overrides", hs.Store)
	}
	ov := overrides.New(overrides.Options{Store: docs, Config: func() *policy.Config { return cfg }})
	if err := ov.Refresh(ctx); err != nil {
		return nil, err
	}
	return ov.Config(), nil
}

// remoteHandoff asks a running pagerd for the document, made with its
// config (GET /api/v1/reports/handoff).
func remoteHandoff(src historyFlags, schedule, at, format string, stdout, stderr io.Writer) int {
	var t time.Time
	if at != "" {
		var err error
		if t, err = parseAt(at, now()); err != nil {
			return fail(stderr, "handoff", err)
		}
	}
	r, err := src.remote()
	if err != nil {
		return fail(stderr, "handoff", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := r.Handoff(ctx, stdout, schedule, t, format); err != nil {
		return fail(stderr, "handoff", err)
	}
	return 0
}
