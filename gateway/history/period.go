package history

import (
	"fmt"
	"time"

	"github.com/pagerd/pagerd/policy"
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
	return time.Date(d.Year, d.Month, d.Day, w.Time.Hour, w.Time.Minute, 0, 0, w.Location()), nil
}
