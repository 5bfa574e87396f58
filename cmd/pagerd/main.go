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
	run func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"serve":        {runServe},
	"check-config": {runCheckConfig},
	"oncall":       {runOncall},
	"route":        {runRoute},
	"simulate":     {runSimulate},
	"schedule":     {runSchedule},
	"version":      {runVersion},
	"backup":       {runBackup},
	"restore":      {runRestore},
	"import":       {runImport},
	"override":     {runOverride},
	"report":       {runReport},
	"handoff":      {runHandoff},
	"maintenance":  {runMaintenance},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole CLI. Help that was asked for goes to stdout with exit 0;
// usage printed because of a mistake goes to stderr with exit 2.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "-version", "--version":
		return runVersion(nil, stdout, stderr)
	case "help":
		return runHelp(args[1:], stdout, stderr)
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
	fmt.Fprintln(w, "usage: pagerd COMMAND [flags] [arguments]\n\ncommands:")
	names := make([]string, 0, len(helps))
	for n := range helps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, helps[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'pagerd help COMMAND' (or 'pagerd COMMAND -h') for a command's flags and arguments;")
	fmt.Fprintln(w, "'pagerd --version' for the version. The configuration is described in docs/CONFIG.md.")
}

// runHelp is `pagerd help [COMMAND]`: the command's own -h, on stdout.
func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return 0
	}
	// `pagerd help -h` is help's own help, as `CMD -h` is every command's:
	// its flags list -h, so it must not be taken for a command's name.
	if args[0] == "help" || (len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help")) {
		printUsage(stdout, "help", newFlags("help", stdout, stderr).FlagSet)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok || len(args) > 1 {
		fmt.Fprintf(stderr, "pagerd help: no command %q\n\n", strings.Join(args, " "))
		usage(stderr)
		return 2
	}
	return cmd.run([]string{"-h"}, stdout, stderr)
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", stdout, stderr)
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
