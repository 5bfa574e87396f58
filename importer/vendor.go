package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// Helpers the vendor readers share.

// flexTime is a timestamp as vendors write it: RFC 3339 (with or without
// fractional seconds), epoch milliseconds (Jackson's default, which an
// opsgenie-configuration-backup file may hold), or "2006-01-02 15:04" in UTC.
type flexTime struct{ time.Time }

// UnmarshalJSON reads any of the forms; null leaves the time zero.
func (t *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" || len(b) == 0 {
		return nil
	}
	if b[0] != '"' {
		ms, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return fmt.Errorf("invalid time %s", b)
		}
		t.Time = time.UnixMilli(ms).UTC()
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v
			return nil
		}
	}
	return fmt.Errorf("invalid time %q", s)
}

// phone normalises a phone number to E.164 from the forms vendors store:
// "+1 555 555 0100", "1-5555550100" (Opsgenie: country code, dash,
// number; countryCode is empty), or a country code and a national number
// given apart (PagerDuty). A national number is never checked for the
// country code already being there: Italian mobiles start with 3, so
// "3931234567" under 39 is the national number, and guessing otherwise
// dials someone else. A number written with "+" is taken as complete.
// ok is false when the result is not a number pagerd's config takes
// (policy.IsE164).
func phone(countryCode, number string) (string, bool) {
	var digits strings.Builder
	plus := strings.HasPrefix(strings.TrimSpace(number), "+")
	for _, r := range number {
		if r >= '0' && r <= '9' {
			digits.WriteRune(r)
		}
	}
	d := digits.String()
	if countryCode != "" && !plus {
		d = countryCode + d
	}
	out := "+" + d
	return out, policy.IsE164(out)
}

// weekdayNames are full and short English weekday names, lower case.
var weekdayNames = map[string]time.Weekday{}

func init() {
	for d := time.Sunday; d <= time.Saturday; d++ {
		n := strings.ToLower(d.String())
		weekdayNames[n] = d
		weekdayNames[n[:3]] = d
		weekdayNames[strings.ToUpper(n[:2])] = d // iCal: MO, TU...
	}
}

func hhmm(h, m int) string { return fmt.Sprintf("%02d:%02d", h, m) }

// timeUnits are the units vendors give durations in (Opsgenie's timeUnit
// and intervalUnit), singular and plural.
var timeUnits = map[string]time.Duration{
	"second": time.Second, "minute": time.Minute, "hour": time.Hour,
	"day": 24 * time.Hour, "week": 7 * 24 * time.Hour,
}

// vendorDuration reads a vendor duration, an amount and a unit. ok is
// false for a unit it does not know, which the caller reports: reading
// one as minutes would turn a two-week delay into two minutes.
func vendorDuration(amount int, unit string) (time.Duration, bool) {
	u := strings.TrimSuffix(strings.ToLower(unit), "s")
	d, ok := timeUnits[u]
	return time.Duration(amount) * d, ok
}

// localPart is an email's part before the '@' (the whole string without one).
func localPart(email string) string {
	if i := strings.IndexByte(email, '@'); i > 0 {
		return email[:i]
	}
	return email
}

// looksLikeEmail is a loose check, for picking a vendor username as email.
func looksLikeEmail(s string) bool {
	i := strings.IndexByte(s, '@')
	return i > 0 && i < len(s)-1 && !strings.ContainsAny(s, " <>")
}
