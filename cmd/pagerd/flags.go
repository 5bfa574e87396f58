package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// flagSet is a command's flags, with where its help goes when asked for.
type flagSet struct {
	*flag.FlagSet
	name   string
	stdout io.Writer
}

// newFlags makes a command's flag set. Flag errors go to stderr; help is
// printed by parse, to stdout when asked for and to stderr after a mistake.
func newFlags(name string, stdout, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet("pagerd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, name: name, stdout: stdout}
}

// parse parses flags that may come before, between or after positional
// arguments ("pagerd route severity=critical --config x.yaml" works). It
// returns the positional arguments, and an exit code >= 0 when the command
// must stop (help, exit 0, or a flag error, exit 2).
func parse(fs *flagSet, args []string) ([]string, int) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printUsage(fs.stdout, fs.name, fs.FlagSet)
				return nil, 0
			}
			fmt.Fprintln(fs.Output())
			printUsage(fs.Output(), fs.name, fs.FlagSet)
			return nil, 2
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, -1
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), -1
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// configFlag adds the --config flag every query command takes.
func configFlag(fs *flagSet) *string {
	return fs.String("config", "", "the config `FILE` (required)")
}

func outputFlag(fs *flagSet) *string {
	o := fs.String("o", "text", "output `FORMAT`: text or json")
	return o
}

// errNoConfig is the answer to a command run without --config.
var errNoConfig = errors.New("--config FILE is required")

// loadConfig reads the config of a read-only command: secrets that are not
// there are not its concern (gateway.LoadConfig is the daemon's).
func loadConfig(path string) (*policy.Config, error) {
	if path == "" {
		return nil, errNoConfig
	}
	return policy.LoadFile(path)
}

// parseAt reads --at: RFC 3339, or now when empty.
func parseAt(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %q: use RFC 3339, like 2025-09-10T02:00:00-04:00 (oncall also takes a date, 2025-09-10)", s)
	}
	return t, nil
}

// parseDurationFlag reads a duration flag in config form (15m, 1h, 2d).
func parseDurationFlag(name, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := policy.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", name, err)
	}
	return d, nil
}

// parseLabels reads LABEL=VALUE arguments.
func parseLabels(args []string) (map[string]string, error) {
	ls := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("argument %q: labels are written LABEL=VALUE", a)
		}
		ls[k] = v
	}
	return ls, nil
}

// serverFlags are --server and --token-file: every command that talks to a
// running pagerd takes them.
type serverFlags struct{ server, tokenFile *string }

// tokenFileUsage is --token-file's help where the command has nothing to
// add about the token's role.
const tokenFileUsage = "`FILE` holding an API token for --server (default $PAGERD_API_TOKEN)"

// addServerFlags declares --server and --token-file with the command's own
// help for them: what the server is for, and what role the token needs.
func addServerFlags(fs *flagSet, serverUsage, tokenUsage string) serverFlags {
	return serverFlags{fs.String("server", "", serverUsage), fs.String("token-file", "", tokenUsage)}
}

// token is the API token for --server: from --token-file, or
// $PAGERD_API_TOKEN.
func (f serverFlags) token() (string, error) { return apiToken(*f.tokenFile) }

// apiToken reads the API token from a file, or $PAGERD_API_TOKEN. Never a
// flag: command lines are visible to every user of the machine.
func apiToken(file string) (string, error) {
	if file == "" {
		if t := os.Getenv("PAGERD_API_TOKEN"); t != "" {
			return t, nil
		}
		return "", errors.New("--server needs an API token: --token-file FILE or $PAGERD_API_TOKEN")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("--token-file %s is empty", file)
	}
	return t, nil
}

func checkOutput(o string) error {
	if o != "text" && o != "json" {
		return fmt.Errorf("-o %q: use text or json", o)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table aligns columns like tabwriter, without the trailing blanks an empty
// last column would leave.
type table struct {
	out io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newTable(w io.Writer) *table {
	t := &table{out: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 0, 2, ' ', 0)
	return t
}

func (t *table) Write(p []byte) (int, error) { return t.tw.Write(p) }

// Flush writes the aligned rows with trailing blanks trimmed.
func (t *table) Flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	for _, l := range strings.SplitAfter(t.buf.String(), "\n") {
		if l == "" {
			continue
		}
		if _, err := io.WriteString(t.out, strings.TrimRight(l, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// fmtOffset writes a duration as +HH:MM:SS, the way timelines read.
func fmtOffset(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	s := int64(d / time.Second)
	return fmt.Sprintf("%s%02d:%02d:%02d", sign, s/3600, s/60%60, s%60)
}
