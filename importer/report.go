package importer

import (
	"fmt"
	"io"
	"strings"
)

// IssueKind says how the config differs from the source on one point.
type IssueKind int

const (
	// NotMapped is something pagerd cannot express; it is not in the config.
	NotMapped IssueKind = iota
	// Changed is something in the config that behaves differently from the
	// source, or a placeholder that needs a person's decision.
	Changed
)

// Issue is one point on which the config does not carry the source as it
// was: the source entity (vendor, kind, name and id), what was done and why.
type Issue struct {
	Kind   IssueKind
	Source string
	Detail string
}

// Report is everything an import did not carry over as it was, plus what it
// did carry over, so a person can review the result before using it.
type Report struct {
	// Vendor is "opsgenie", "pagerduty" or "grafana-oncall".
	Vendor string
	// Imported lists, one line each, how source entities became pagerd
	// ones ("schedule "Platform" → schedule platform, tiers a, b").
	Imported []string
	// Issues are the differences, in the order they were found.
	Issues []Issue
	// Warnings are what check-config says about the imported config: the
	// secrets it reads from the environment that are not set here, policies
	// that stop paging.
	Warnings []string
	// Summary counts what the config holds.
	Summary string
}

func (r *Report) add(kind IssueKind, source ref, format string, args ...any) {
	r.Issues = append(r.Issues, Issue{Kind: kind, Source: source.String(), Detail: fmt.Sprintf(format, args...)})
}

// Count returns how many issues of a kind the report holds.
func (r *Report) Count(kind IssueKind) int {
	n := 0
	for _, is := range r.Issues {
		if is.Kind == kind {
			n++
		}
	}
	return n
}

var sectionTitles = []struct {
	kind  IssueKind
	title string
}{
	{NotMapped, "Not imported: pagerd cannot express these"},
	{Changed, "Imported with a difference: check these"},
}

// WriteText writes the report as plain text (markdown lists): the summary,
// each kind of issue under its heading, what check-config warns about, and
// how each source entity was imported.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# pagerd import %s\n\n%s\n", r.Vendor, r.Summary)
	for _, s := range sectionTitles {
		n := r.Count(s.kind)
		if n == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s (%d)\n\n", s.title, n)
		for _, is := range r.Issues {
			if is.Kind == s.kind {
				fmt.Fprintf(&b, "- %s: %s\n", is.Source, is.Detail)
			}
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(&b, "\n## To do before pagerd serve: what check-config says (%d)\n\n", len(r.Warnings))
		for _, wn := range r.Warnings {
			fmt.Fprintf(&b, "- %s\n", wn)
		}
	}
	if len(r.Imported) > 0 {
		fmt.Fprintf(&b, "\n## Imported (%d)\n\n", len(r.Imported))
		for _, l := range r.Imported {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
