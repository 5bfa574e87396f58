package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// help is what `pagerd help COMMAND` and `pagerd COMMAND -h` print: the
// synopsis, what the command answers, its positional arguments and flags.
type help struct {
	summary  string
	synopsis string
	about    string
	args     [][2]string
}

var helps = map[string]help{
	"serve": {
		summary:  "run the daemon",
		synopsis: "--config FILE [--listen ADDR] [--redis-url URL | --redis-url-file FILE] [--data-dir DIR]\n         [--log-level LEVEL] [--log-per-second N] [--shutdown-delay DURATION] [--debug-listen ADDR]",
		about: `Runs the paging daemon: receives Alertmanager webhooks and PagerDuty
events, pages people on their ladders, serves the incident API, health and
metrics. Logs JSON to stderr; the log transport's pages go to stdout.
Refuses to start while a secret the config reads from the environment or a
file is missing. SIGHUP reloads the config; SIGTERM turns /-/ready red,
serves on for --shutdown-delay, then drains and stops.`,
	},
	"check-config": {
		summary:  "validate config files strictly",
		synopsis: "[--strict] [--at TIME] [--config FILE]... FILE...",
		about: `Validates config files: unknown keys, bad values and broken references
are errors, each naming the file and the field. A config that passes can
page every contact it names. Warnings (printed, exit 0) are what loads but
will not behave as written, anyone on call longer than a schedule's
fairness rules allow in the 12 weeks ahead, and the secrets pagerd serve
will need that are not set here; --strict makes them errors.`,
		args: [][2]string{{"FILE", "a config file; as many as you like, like --config"}},
	},
	"oncall": {
		summary:  "who is on call at an instant, or on a date",
		synopsis: "--config FILE [--at TIME|DATE] [--schedule NAME] [--server URL [--token-file FILE]] [-o text|json]",
		about: `Who holds each tier of each schedule, from when until when, and whether an
override put them there. With a date, every shift that covers part of that
day in the schedule's time zone. With --server, the overrides made at run
time on that pagerd count too.`,
	},
	"route": {
		summary:  "which priority, urgency, targets and policy an alert gets",
		synopsis: "--config FILE [--service NAME] [--at TIME] [--server URL [--token-file FILE]] [-o text|json] LABEL=VALUE...",
		about: `Which rule matches an alert with these labels, its priority and urgency,
the SLA targets with their due times, each escalation level with its
people and timeout, and whom the unresolved rules page and when. When no
level has anyone on call, it says the alert waits for the next person on
call, and whether a rule's page meanwhile ends the wait (only one that
reaches someone on call at a level does). Without --server, only the
config file's overrides count; with it, those made at run time on that
pagerd count too, as they do for its pages.`,
		args: [][2]string{{"LABEL=VALUE", "the alert's labels, like severity=critical category=data_loss"}},
	},
	"simulate": {
		summary:  "the timeline of pages and escalations an alert would cause",
		synopsis: "--config FILE [--service NAME] [--at TIME] [--for DUR] [--ack-after DUR] [--ack-by USER]\n         [--resolve-after DUR] [--update-every DUR] [--server URL [--token-file FILE]] [-o text|json] LABEL=VALUE...",
		about: `Every page, escalation, acknowledgement, status update and SLA breach an
alert would cause, to the second, on a virtual clock, with the state
machine the daemon runs. Without --server, only the config file's
overrides count; with it, those made at run time on that pagerd count
too, as they do for its pages.`,
		args: [][2]string{{"LABEL=VALUE", "the alert's labels, like severity=critical"}},
	},
	"schedule": {
		summary:  "the rotation table for the coming weeks",
		synopsis: "--config FILE [--schedule NAME] [--from DATE] [--weeks N] [-o text|json|ics] [--user USER]\n         [--server URL [--token-file FILE]]",
		about: `The rotation table to publish weeks ahead, as markdown (or JSON), with the
overrides, roster changes, fairness problems and people on two tiers at
once that fall in it. With -o ics, the shifts of those weeks as an
iCalendar feed, one event per shift, overrides applied; --user keeps one
person's. With --server, the overrides made at run time on that pagerd
are listed and applied too.`,
	},
	"version": {
		summary:  "print the version",
		synopsis: "",
		about:    "Prints the version (also: pagerd --version).",
	},
	"backup": {
		summary:  "copy the embedded store, from a running pagerd or a stopped one's data dir",
		synopsis: "(--server URL [--token-file FILE] | --data-dir DIR) OUT",
		about: `Writes a consistent copy of the embedded store to OUT (- for stdout). With
--server it is taken from the running pagerd while it serves (GET /-/backup);
--data-dir reads the store of a pagerd that is not running. The copy is
checked before it replaces OUT. Redis is backed up with Redis itself
(docs/OPERATIONS.md).`,
		args: [][2]string{{"OUT", "the backup file to write, or - for stdout"}},
	},
	"restore": {
		summary:  "restore a backup into a new data dir",
		synopsis: "--data-dir DIR BACKUP",
		about: `Restores a backup made by pagerd backup into a new (or empty) data dir; then
run pagerd serve --data-dir DIR. Steps that came due meanwhile are sent when
it starts, each person once a channel; incidents acknowledged or resolved
since the backup was taken are open again and page: resolve them by hand.`,
		args: [][2]string{{"BACKUP", "the backup file to read, or - for stdin"}},
	},
	"import": {
		summary:  "turn an Opsgenie, PagerDuty or Grafana OnCall export into a pagerd config",
		synopsis: "opsgenie|pagerduty|grafana-oncall [-o FILE] [--report FILE] [--scheme SCHEME] [--public-url URL] FILE...",
		about: `Reads the vendor's own JSON as its REST API returns it (files, directories
of them, zip archives; for Opsgenie also the opsgenie-configuration-backup
layout) and writes a pagerd config that check-config accepts, plus a report
of everything it could not carry over: what pagerd cannot express, and
what behaves differently. Daily, N-day and hourly turns, layers and
time-of-day or weekday restrictions carry over as pagerd rotations. Secrets
are read from the environment (${PAGERD_...}); check-config lists them.
Opsgenie's P1-P5 map onto the scheme by the table in docs/MIGRATING.md.`,
		args: [][2]string{{"FILE", "a JSON file, a directory of them, or a zip archive of either; as many as you like"}},
	},
	"override": {
		summary: "make, list and delete overrides on a running pagerd",
		synopsis: "add|list|rm --server URL [--token-file FILE] --schedule NAME ...\n" +
			"       add: --tier TIER --user USER [--start TIME] (--end TIME | --for DUR) [--reason TEXT]\n" +
			"            [--swap-start TIME --swap-end TIME] [-o text|json]\n" +
			"       list: [--ended] [-o text|json]    rm: ID...",
		about: `Overrides made at run time, through a running pagerd's API (a responder
token to change them, from --token-file or $PAGERD_API_TOKEN): every replica
pages by them at once, and the config file is left alone. "add" puts USER
on the tier from --start (default now) until --end or for --for ("take the
shift now for 4 hours" is --for 4h); with --swap-start and --swap-end it is
a swap: whoever holds the tier at --start takes USER's shift between them,
in the same call. An override that overlaps another on the same tier is
refused, naming it. "rm" deletes overrides by id (both halves of a swap);
one under way ends now instead, so who held the tier until now stays on
record, and one that has ended is kept. pagerd oncall and pagerd schedule
show them with --server.`,
	},
	"report": {
		summary:  "the on-call report of a period, from the incident history",
		synopsis: "--config FILE --from DATE --to DATE [--server URL [--token-file FILE] | --data-dir DIR]\n         [-o text|json|csv|markdown] [--payroll]",
		about: `The figures both reference organisations run their on-call by, for the
incidents created from --from up to (not including) --to: per service,
schedule, engineer and week, alerts and incidents by priority, MTTA and
MTTR, acknowledged and resolved within target, escalations, pages by
channel, off hours and at night, alerts per engineer per week,
false-positive candidates, fairness, each held to the config's reports
goals; with a compensation policy, the pay history earned and each
person's time on call per week in the rotations the paid services page,
run-time overrides applied (--payroll: the CSV for payroll). A DATE is
taken at the time report weeks begin (reports.week), so dates on week
starts cover whole weeks. The history, and the overrides made at run
time, are read from a running pagerd (--server, any API token) or from
the data dir of one that is not running; the figures are computed here,
with --config. The daemon answers the same at GET /api/v1/reports.`,
	},
	"handoff": {
		summary:  "a schedule's handoff document, filled from the outgoing week",
		synopsis: "[--config FILE] [--schedule NAME] [--at TIME] [--server URL [--token-file FILE] | --data-dir DIR] [-o text|json]",
		about: `The handoff document of the handoff nearest to --at (default now), in the
schedule's template (handoff_template: AIVO's text or AION-R's markdown):
the outgoing week's incidents by priority, the major ones, escalations,
recurring alerts, false-positive candidates, and every incident still
open with its last status update; what pagerd cannot know stays as the
template's prompts. The history is read as pagerd report reads it; with
--server and no --config, the running pagerd makes the document with the
config it runs (GET /api/v1/reports/handoff).`,
	},
	"maintenance": {
		summary:  "add, list and remove maintenance windows of a running pagerd",
		synopsis: "add|list|rm --server URL [--token-file FILE] [flags] [ID]",
		about: `Maintenance windows through a running pagerd's API (/api/v1/maintenance).
add makes one: of --service and/or --matcher, now --for DUR, or from --start
to --end. Alerts it covers open incidents that page nobody until it ends;
a window that starts stops the pending pages of the open incidents it
covers, and when it ends those still triggered are paged as new. list
shows every window, the config's too; rm ID ends one now. The API token
comes from --token-file or $PAGERD_API_TOKEN (never a flag); add and rm
need the responder or admin role.`,
		args: [][2]string{{"ID", "rm: the window's id, as add and list show it"}},
	},
	"help": {
		summary:  "show a command's flags and arguments",
		synopsis: "[COMMAND]",
		about:    "Shows the commands, or one command's flags and arguments.",
		args:     [][2]string{{"COMMAND", "the command to describe"}},
	},
}

// printUsage writes a command's help: synopsis, description, arguments and
// flags (with their defaults), in the order people read them.
func printUsage(w io.Writer, name string, fs *flag.FlagSet) {
	h := helps[name]
	fmt.Fprintf(w, "usage: %s\n", strings.TrimSpace("pagerd "+name+" "+h.synopsis))
	if h.about != "" {
		fmt.Fprintf(w, "\n%s\n", h.about)
	}
	if len(h.args) > 0 {
		fmt.Fprintln(w, "\narguments:")
		tw := newTable(w)
		for _, a := range h.args {
			fmt.Fprintf(tw, "  %s\t%s\n", a[0], a[1])
		}
		tw.Flush()
	}
	var rows [][2]string
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		left := dash + f.Name
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); !isBool && arg != "" {
			left += " " + strings.ToUpper(arg)
		}
		if d := f.DefValue; d != "" && d != "false" && d != "[]" && !strings.Contains(text, "(default") {
			text += " (default " + d + ")"
		}
		rows = append(rows, [2]string{left, text})
	})
	rows = append(rows, [2]string{"-h, --help", "show this help"})
	sort.SliceStable(rows, func(i, j int) bool {
		return strings.TrimLeft(rows[i][0], "-") < strings.TrimLeft(rows[j][0], "-")
	})
	fmt.Fprintln(w, "\nflags:")
	tw := newTable(w)
	for _, r := range rows {
		fmt.Fprintf(tw, "  %s\t%s\n", r[0], r[1])
	}
	tw.Flush()
}
