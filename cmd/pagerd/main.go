// Command pagerd is the paging gateway: it runs the daemon (serve), validates
// configs, and answers who is on call and what an alert would cause. Each
// subcommand is a thin layer over packages gateway and policy.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	_ "time/tzdata" // time zones work in minimal containers without zoneinfo
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"serve":        {"run the daemon", runServe},
	"check-config": {"validate config files strictly", runCheckConfig},
	"oncall":       {"who is on call at an instant", runOncall},
	"route":        {"which priority, urgency, targets and policy an alert gets", runRoute},
	"simulate":     {"the timeline of pages and escalations an alert would cause", runSimulate},
	"schedule":     {"the rotation table for the coming weeks", runSchedule},
	"version":      {"print the version", runVersion},
	"backup":       {"copy the embedded store, from a running pagerd or a stopped one's data dir", runBackup},
	"restore":      {"restore a backup into a new data dir", runRestore},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "pagerd: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pagerd COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'pagerd COMMAND -h' for a command's flags.")
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", stderr)
	if _, code := parse(fs, args); code >= 0 {
		return code
	}
	fmt.Fprintln(stdout, currentBuild())
	return 0
}

// fail prints an error the way every subcommand does and returns exit code 1.
func fail(stderr io.Writer, cmd string, err error) int {
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		fmt.Fprintf(stderr, "pagerd %s:\n%s\n", cmd, msg)
	} else {
		fmt.Fprintf(stderr, "pagerd %s: %s\n", cmd, msg)
	}
	return 1
}
