package console

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/pagerd/pagerd/report"
)

// funcs are the templates' helpers: times on the viewer's clock or in
// their own zone, and figures as people read them.
var funcs = template.FuncMap{
	"at": at,
	// tf formats t in its own zone.
	"tf": func(layout string, t time.Time) string { return t.Format(layout) },
	// iso is t in RFC 3339, for <time datetime>.
	"iso": func(t time.Time) string { return t.Format(time.RFC3339) },
	"dur": func(s report.Seconds) string {
		if s == 0 {
			return "–"
		}
		return age(time.Duration(s))
	},
	"pct": func(r report.Ratio) string {
		if r.Of == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f%% (%d of %d)", r.Percent, r.Count, r.Of)
	},
	"lower": strings.ToLower,
	"list":  func(s ...string) []string { return s },
	"add1":  func(i int) int { return i + 1 },
}

// at is t on the viewer's clock ("" for no time), as pages show times.
func at(v *viewer, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	loc := time.UTC
	if v != nil {
		loc = v.loc()
	}
	return t.In(loc).Format("Mon 2 Jan 15:04 MST")
}
