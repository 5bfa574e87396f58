package history

import (
	"fmt"
	"time"

	"github.com/pagerd/pagerd/policy"
	"github.com/pagerd/pagerd/report"
)

// ParseTime reads a bound of a report's period: an RFC 3339 time, or a
// date (YYYY-MM-DD), which is that date at the time report weeks begin
// (reports.week), in their zone. So whole weeks are dates: AIVO's weeks
// begin Monday 08:00 in New York, and --from 2025-09-29 --to 2025-10-13
// is its two weeks from Monday 2025-09-29 08:00 to Monday 2025-10-13 08:00.
func ParseTime(cfg *policy.Config, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := policy.ParseDate(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (YYYY-MM-DD) nor an RFC 3339 time (2025-10-06T08:00:00-04:00)", s)
	}
	w := &cfg.Reports.Week
	return d.At(w.Time, w.Location()), nil
}

// Period reads the period [from, to) a report is asked for, its bounds as
// ParseTime reads them, and holds it to what a report covers: both bounds
// given, to after from, at most report.MaxPeriod. The API and the
// console's reports page both ask through it, so that one refuses what the
// other refuses; the errors are the API's words, which the console shows
// as sentences.
func Period(cfg *policy.Config, from, to string) (f, t time.Time, err error) {
	for _, b := range []struct {
		name, val string
		dst       *time.Time
	}{{"from", from, &f}, {"to", to, &t}} {
		if b.val == "" {
			return f, t, fmt.Errorf("%s is required: an RFC 3339 time or a date (YYYY-MM-DD, at the time report weeks begin)", b.name)
		}
		if *b.dst, err = ParseTime(cfg, b.val); err != nil {
			return f, t, fmt.Errorf("%s: %w", b.name, err)
		}
	}
	if !t.After(f) {
		return f, t, fmt.Errorf("to must be after from (from %s, to %s)", f.Format(time.RFC3339), t.Format(time.RFC3339))
	}
	if t.Sub(f) > report.MaxPeriod {
		return f, t, fmt.Errorf("the period is longer than %d weeks: ask for it in parts", report.MaxPeriod/(7*24*time.Hour))
	}
	return f, t, nil
}
