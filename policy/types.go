package policy

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written the Prometheus way in config ("90s",
// "15m", "4h", "1d", "2w"). Zero is written "0s".
type Duration time.Duration

// UnmarshalYAML parses a Prometheus-style duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error { return atLine(n, d.decode(n)) }

func (d *Duration) decode(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back in the form it was read.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String formats the duration the way config writes it.
func (d Duration) String() string { return model.Duration(d).String() }

// ParseDuration reads a duration the way config writes it: Prometheus form
// ("30s", "15m", "4h", "1d", "2w"), or "0".
func ParseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	v, err := model.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use forms like 30s, 15m, 4h, 1d)", s)
	}
	return time.Duration(v), nil
}

// TimeoutKind says how a Timeout turns into a deadline.
type TimeoutKind int

const (
	// TimeoutFixed is a plain duration after the reference instant.
	TimeoutFixed TimeoutKind = iota
	// TimeoutNextBusinessDay is the opening of the first business day after
	// the reference instant's local date.
	TimeoutNextBusinessDay
	// TimeoutAckTarget takes the priority's acknowledge target in force at the
	// reference instant (business-hours or off-hours variant). Only escalation
	// level timeouts may use it.
	TimeoutAckTarget
)

// Timeout is a duration, "next_business_day", or "ack_target". It is how
// the seeds write targets ("SEV-4: next business day") and level timeouts
// ("P2 and P3 escalate on their own ack targets").
type Timeout struct {
	Kind     TimeoutKind
	Duration time.Duration
	set      bool
}

// IsSet reports whether the config gave a value.
func (t Timeout) IsSet() bool { return t.set }

// FixedTimeout returns a set Timeout of a plain duration.
func FixedTimeout(d time.Duration) Timeout {
	return Timeout{Kind: TimeoutFixed, Duration: d, set: true}
}

// UnmarshalYAML parses a duration or one of the keywords.
func (t *Timeout) UnmarshalYAML(n *yaml.Node) error { return atLine(n, t.decode(n)) }

func (t *Timeout) decode(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	switch strings.TrimSpace(s) {
	case "next_business_day":
		*t = Timeout{Kind: TimeoutNextBusinessDay, set: true}
	case "ack_target":
		*t = Timeout{Kind: TimeoutAckTarget, set: true}
	default:
		d, err := ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid timeout %q (a duration like 15m, or next_business_day, or ack_target)", s)
		}
		*t = Timeout{Kind: TimeoutFixed, Duration: d, set: true}
	}
	return nil
}

// String formats the timeout the way config writes it.
func (t Timeout) String() string {
	switch {
	case !t.set:
		return ""
	case t.Kind == TimeoutNextBusinessDay:
		return "next_business_day"
	case t.Kind == TimeoutAckTarget:
		return "ack_target"
	default:
		return Duration(t.Duration).String()
	}
}

// MarshalYAML writes the timeout back in config form.
func (t Timeout) MarshalYAML() (any, error) { return t.String(), nil }

// TimeOfDay is a wall-clock time "HH:MM" in some time zone.
type TimeOfDay struct {
	Hour, Minute int
	set          bool
}

// UnmarshalYAML parses "HH:MM" (24-hour clock; "24:00" means end of day).
func (t *TimeOfDay) UnmarshalYAML(n *yaml.Node) error { return atLine(n, t.decode(n)) }

func (t *TimeOfDay) decode(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || len(s) != 5 || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return fmt.Errorf("invalid time of day %q (use HH:MM, 24-hour clock)", s)
	}
	*t = TimeOfDay{Hour: h, Minute: m, set: true}
	return nil
}

// IsSet reports whether the config gave a value.
func (t TimeOfDay) IsSet() bool { return t.set }

// Minutes is the time of day as minutes after midnight.
func (t TimeOfDay) Minutes() int { return t.Hour*60 + t.Minute }

// String formats as HH:MM.
func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", t.Hour, t.Minute) }

// MarshalYAML writes HH:MM.
func (t TimeOfDay) MarshalYAML() (any, error) { return t.String(), nil }

// Date is a calendar date with no time zone of its own; the schedule or
// calendar it belongs to gives it one.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	if err != nil {
		return Date{}, fmt.Errorf("invalid date %q (use YYYY-MM-DD)", s)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// DateOf is the calendar date of t in t's location.
func DateOf(t time.Time) Date { y, m, d := t.Date(); return Date{y, m, d} }

// UnmarshalYAML parses YYYY-MM-DD.
func (d *Date) UnmarshalYAML(n *yaml.Node) error { return atLine(n, d.decode(n)) }

func (d *Date) decode(n *yaml.Node) error {
	v, err := ParseDate(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// IsZero reports whether the date is unset.
func (d Date) IsZero() bool { return d.Year == 0 }

// In is the first instant of the date in loc: its midnight, or where the
// clocks skip midnight (Santiago goes from 23:59 to 01:00 when DST starts)
// the first instant after the jump. time.Date alone would give 23:00 of the
// day before, so a day's span would take in the last hour of the one before.
func (d Date) In(loc *time.Location) time.Time {
	return wallClock(d, TimeOfDay{set: true}, loc)
}

// At is the instant the wall clock in loc shows tod on the date, or where
// the clocks jump forward over that time the first instant after the jump
// (wallClock).
func (d Date) At(tod TimeOfDay, loc *time.Location) time.Time { return wallClock(d, tod, loc) }

// AddDays moves the date by n calendar days.
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC))
}

// Weekday is the day of the week of the date.
func (d Date) Weekday() time.Weekday { return d.utcMidnight().Weekday() }

// utcMidnight is d.In(time.UTC) made at once: UTC has no gap for
// wallClock to look for, so its checks of the wall clock (three readings
// of the date) found nothing on every day number and weekday the
// rotations work out.
func (d Date) utcMidnight() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// String formats as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// MarshalYAML writes YYYY-MM-DD.
func (d Date) MarshalYAML() (any, error) { return d.String(), nil }

// Moment is either a whole date or an exact instant. Overrides use it: a
// holiday written as dates covers whole days in the schedule's time zone, a
// swap written as RFC 3339 instants covers exactly that span.
type Moment struct {
	Date    Date
	Instant time.Time
	IsDate  bool
	set     bool
}

// UnmarshalYAML parses YYYY-MM-DD or RFC 3339.
func (m *Moment) UnmarshalYAML(n *yaml.Node) error { return atLine(n, m.decode(n)) }

func (m *Moment) decode(n *yaml.Node) error {
	s := strings.TrimSpace(n.Value)
	if d, err := ParseDate(s); err == nil {
		*m = Moment{Date: d, IsDate: true, set: true}
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("invalid time %q (use a date YYYY-MM-DD or RFC 3339 like 2025-10-13T00:00:00Z)", s)
	}
	*m = Moment{Instant: t, set: true}
	return nil
}

// IsSet reports whether the config gave a value.
func (m Moment) IsSet() bool { return m.set }

// InstantMoment is the moment of an exact instant, as an override made at
// run time gives its start and end.
func InstantMoment(t time.Time) Moment { return Moment{Instant: t, set: true} }

// Start is the instant the moment begins: a date begins at its first
// instant in loc (Date.In).
func (m Moment) Start(loc *time.Location) time.Time {
	if m.IsDate {
		return m.Date.In(loc)
	}
	return m.Instant
}

// EndInclusive is the instant a span ending at this moment ends: a date
// covers its whole day, so it ends when the next day begins in loc.
func (m Moment) EndInclusive(loc *time.Location) time.Time {
	if m.IsDate {
		return m.Date.AddDays(1).In(loc)
	}
	return m.Instant
}

// String formats the moment as config writes it: an instant to the
// fraction of a second it has (an import writes a piece of a vendor's
// override inside one second so), whole seconds as RFC 3339 has them.
func (m Moment) String() string {
	if m.IsDate {
		return m.Date.String()
	}
	return m.Instant.Format(time.RFC3339Nano)
}

// MarshalYAML writes the moment back in config form.
func (m Moment) MarshalYAML() (any, error) { return m.String(), nil }

// Secret is a credential. It never prints: String, YAML and JSON all show
// "<secret>". Values of the form ${NAME} are read from the environment at load.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<secret>"
}

// GoString hides the value from %#v too.
func (s Secret) GoString() string { return s.String() }

// Format hides the value from every fmt verb, including the ones (%d, %x, %q)
// that would otherwise print a string's bytes.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalYAML hides the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON hides the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// Reveal returns the credential itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// missingError is a secret (or setting) that the config reads from the
// environment or a file that is not there now: the variable is unset or
// empty, or the file cannot be read. It is not a load error, so that
// check-config and the query commands work on a config whose secrets only
// the daemon's machine has; `pagerd serve` refuses to start with one
// (Config.CheckSecrets). The message names the variable or file, never a
// value.
type missingError struct{ msg string }

func (e *missingError) Error() string { return e.msg }

// envRef reports whether s is an environment reference, ${NAME}, and the
// name. Only the whole value is substituted: prefix-${X} is a literal.
func envRef(s string) (string, bool) {
	if len(s) > 3 && strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") {
		return s[2 : len(s)-1], true
	}
	return "", false
}

// innerEnvRefRE finds a ${NAME} inside a longer value.
var innerEnvRefRE = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}`)

// expandEnv reads a ${NAME} value from the environment; other values are
// returned as they are. An unset or empty variable is a *missingError,
// which says which of the two it is.
// A ${NAME} inside a longer value is an error: it is not substituted, so
// the value would go out as written (an ntfy topic "${TOPIC}", a smarthost
// "${SMTP_HOST}:587", a token "tok-${X}") and every page or login with it
// would fail while the config loads and the daemon starts. The error names
// the variable, never the value (it may be a secret); a secret that really
// holds "${" goes in a _file, which is read as it is.
func expandEnv(s string) (string, error) {
	name, ok := envRef(s)
	if !ok {
		if ref := innerEnvRefRE.FindString(s); ref != "" {
			return "", fmt.Errorf("%s is inside a longer value, and only a whole value is read from the environment (\"${NAME}\"): put the whole value in the variable", ref)
		}
		return s, nil
	}
	raw, ok := os.LookupEnv(name)
	// Surrounding whitespace is trimmed, as a _file's is: a Kubernetes
	// secret made from a file ends with its newline, and a token or key
	// with it kept was refused at every call ("xoxb-…\n" is no header
	// value) or never matched (a webhook secret's signatures, an
	// integration key), while the config loaded and the daemon started.
	v := strings.TrimSpace(raw)
	switch {
	case !ok:
		return "", &missingError{fmt.Sprintf("environment variable %s is not set", name)}
	case raw == "":
		// "not set" would send whoever checks `env` (it is there) the
		// wrong way: an empty CI variable, an `export NAME=`.
		return "", &missingError{fmt.Sprintf("environment variable %s is set but empty", name)}
	case v == "":
		return "", &missingError{fmt.Sprintf("environment variable %s holds only whitespace", name)}
	}
	return v, nil
}

// resolveSecret fills a secret from its _file twin or the environment.
// Errors name the file but never the value. A file that cannot be read or
// an unset variable is a *missingError; an empty file, or both the value
// and the file, are plain errors.
func resolveSecret(val Secret, file string, baseDir string) (Secret, error) {
	if file != "" {
		if val != "" {
			return "", fmt.Errorf("set either the value or the _file, not both")
		}
		if !strings.HasPrefix(file, "/") && baseDir != "" {
			file = baseDir + "/" + file
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", &missingError{fmt.Sprintf("read secret file: %v", explainUnreadable(file, err))}
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", file)
		}
		return Secret(v), nil
	}
	v, err := expandEnv(string(val))
	return Secret(v), err
}

// Weekday is a day of the week in config ("monday" or "mon").
type Weekday time.Weekday

// ParseWeekday reads a weekday name, full or three letters, any case.
func ParseWeekday(s string) (time.Weekday, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if s == name || s == name[:3] {
			return d, nil
		}
	}
	return 0, fmt.Errorf("invalid weekday %q (use monday..sunday or mon..sun)", s)
}

// UnmarshalYAML parses a weekday name.
func (w *Weekday) UnmarshalYAML(n *yaml.Node) error { return atLine(n, w.decode(n)) }

func (w *Weekday) decode(n *yaml.Node) error {
	d, err := ParseWeekday(n.Value)
	if err != nil {
		return err
	}
	*w = Weekday(d)
	return nil
}

// MarshalYAML writes the weekday in lower case.
func (w Weekday) MarshalYAML() (any, error) { return strings.ToLower(time.Weekday(w).String()), nil }

// atLine prefixes a value's decoding error with its line, so a bad duration
// deep in a config says where it is.
func atLine(n *yaml.Node, err error) error {
	if err == nil {
		return nil
	}
	// A *yaml.TypeError lets the decoder carry on and report every bad
	// value in the file at once, not just the first.
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
}

// wallClock is the instant a wall clock in loc shows tod on date d, the
// first time it does when the clocks go back over it (firstPass). When
// that time does not exist because the clocks jump forward over it (Santiago
// skips Sunday 00:00 when DST starts, Berlin 02:00-02:59 on the last Sunday
// of March), it is the first instant after the jump. time.Date alone gives
// an instant in the zone before the jump west of UTC (Santiago's 00:30 on
// the day before), in the zone after it east of UTC; either way the jump is
// the bound of t's zone nearest t (the other is months away).
func wallClock(d Date, tod TimeOfDay, loc *time.Location) time.Time {
	t := time.Date(d.Year, d.Month, d.Day, tod.Hour, tod.Minute, 0, 0, loc)
	if tod.Hour == 24 {
		return t
	}
	y, m, day := t.Date()
	if y == d.Year && m == d.Month && day == d.Day && t.Hour() == tod.Hour && t.Minute() == tod.Minute {
		return firstPass(t)
	}
	// In a gap: the zone in force at t ends at the jump, or begins at it.
	start, end := t.ZoneBounds()
	switch {
	case !end.IsZero() && (start.IsZero() || end.Sub(t) < t.Sub(start)):
		return end
	case !start.IsZero():
		return start
	}
	return t
}

// firstPass is the first instant the wall clock in t's zone shows what it
// shows at t. When clocks go back they show an hour (Lord Howe: half an
// hour) twice, and time.Date picks the first pass west of UTC (New York's
// 01:30 EDT) but the second at or east of it (Berlin's 02:30 CET, not
// CEST): a handoff, a window's edge or a date's first instant there came an
// hour after the clock first showed it, and the outgoing person was paged
// for an hour they were told was the next person's. Here it is the first
// pass on either side: the one before the change, when t is after it and
// the zone before showed the same wall time then.
func firstPass(t time.Time) time.Time {
	start, _ := t.ZoneBounds()
	if start.IsZero() || t.Sub(start) >= 24*time.Hour {
		return t // no change just before t (UTC, or months after one)
	}
	_, off := t.Zone()
	_, before := start.Add(-time.Nanosecond).Zone()
	if before <= off {
		return t // the clocks went forward at start: nothing is shown twice
	}
	e := t.Add(-time.Duration(before-off) * time.Second)
	if !e.Before(start) {
		return t
	}
	return e
}
