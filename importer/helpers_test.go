package importer

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// fixtureNow is when the tests run the imports: before every fixture's
// rotations start to matter, after their start dates.
var fixtureNow = time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC)

// importFixture imports testdata paths, writes the config where
// check-config would read it, and loads it strictly.
func importFixture(t *testing.T, vendor string, opt Options, paths ...string) (*Result, *policy.Config) {
	t.Helper()
	var full []string
	for _, p := range paths {
		full = append(full, filepath.Join("testdata", p))
	}
	docs, err := ReadInputs(full)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Now.IsZero() {
		opt.Now = fixtureNow
	}
	res, err := Import(vendor, docs, opt)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "imported.yaml")
	if err := os.WriteFile(file, res.Config, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.LoadFile(file)
	if err != nil {
		t.Fatalf("the imported config does not load: %v\n%s", err, res.Config)
	}
	if testing.Verbose() {
		var b strings.Builder
		res.Report.WriteText(&b)
		t.Logf("config:\n%s\nreport:\n%s", res.Config, b.String())
	}
	return res, cfg
}

// onCallUsers is everyone on call at t in the config's schedules, sorted.
func onCallUsers(t *testing.T, cfg *policy.Config, at time.Time) []string {
	t.Helper()
	rows, err := cfg.WhoIsOnCall(at, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		if r.User != "" && !seen[r.User] {
			seen[r.User] = true
			out = append(out, r.User)
		}
	}
	sort.Strings(out)
	return out
}

// issueWith returns the first issue of the kind whose source and detail
// contain every string, or nil.
func issueWith(rep *Report, kind IssueKind, want ...string) *Issue {
	for i := range rep.Issues {
		is := &rep.Issues[i]
		if is.Kind != kind {
			continue
		}
		text := is.Source + ": " + is.Detail
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(text, w)
		}
		if ok {
			return is
		}
	}
	return nil
}
