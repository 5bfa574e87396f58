package policy

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"gopkg.in/yaml.v3"
)

// ConfigError lists every problem found in one config file. Each problem
// names the field it is about, as a path like
// services[aivo].rules[2].matchers[0].
type ConfigError struct {
	File     string
	Problems []string
	// Env are the environment variables (${NAME} values) that problems
	// are about, each once, in the order found; OnlyEnv is set when every
	// problem is about one: the file is sound, the environment is not
	// (pagerd import, whose config reads the variables it names, tells
	// the two apart).
	Env     []string
	OnlyEnv bool
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		b.WriteString(": ")
		b.WriteString(p)
	}
	return b.String()
}

// LoadFile reads, decodes and validates a config file. Secret _file paths are
// relative to the config's directory.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path, filepath.Dir(path))
}

// Parse decodes and validates a config. file names it in errors; baseDir is
// where relative secret files are looked up.
func Parse(data []byte, file, baseDir string) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ConfigError{File: file, Problems: []string{"config is empty"}}
		}
		return nil, &ConfigError{File: file, Problems: yamlProblems(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &ConfigError{File: file, Problems: []string{"more than one YAML document; put everything in one"}}
	}
	c.File = file
	sum := sha256.Sum256(data)
	c.Hash = hex.EncodeToString(sum[:])
	// The load time is the one clock reading of a load: from it on, a tier
	// nobody holds yet is worth a warning (gaps); none is ever an error.
	v := &validator{cfg: &c, baseDir: baseDir, now: time.Now()}
	v.validate()
	if len(v.problems) > 0 {
		return nil, &ConfigError{File: file, Problems: v.problems, Env: v.envNamed, OnlyEnv: v.envProblems == len(v.problems)}
	}
	return &c, nil
}

var yamlTypeNames = map[string]string{
	"policy.ServerConfig": "server", "policy.NotifiersConfig": "notifiers", "policy.RedisConfig": "server.redis", "policy.RateLimit": "server.rate_limit",
	"policy.Config": "the top level", "policy.APIConfig": "api", "policy.APIToken": "an api token",
	"policy.BusinessHours": "a business_hours calendar", "policy.Holiday": "a holiday",
	"policy.User": "a user", "policy.Contact": "a contact", "policy.BackupContact": "backup_contact",
	"policy.NotificationRules": "notification_rules", "policy.NotifyStep": "a notification step",
	"policy.Schedule": "a schedule", "policy.Handoff": "handoff", "policy.Tier": "a tier",
	"policy.Override": "an override", "policy.Layer": "a layer", "policy.RosterChange": "a roster change",
	"policy.Restriction": "a restriction", "policy.FairnessRule": "a fairness rule", "policy.EscalationPolicy": "an escalation policy",
	"policy.Level": "a level", "policy.Target": "a target", "policy.UnresolvedRule": "an unresolved rule",
	"policy.StatusUpdateRule": "a missing_status_update rule", "policy.Service": "a service",
	"policy.Integrations": "integrations", "policy.Rule": "a rule", "policy.PriorityTargets": "a priority's targets",
	"policy.TargetSet": "a targets variant", "policy.Compensation": "compensation", "policy.CompRule": "a comp_days rule",
	"policy.ReportsConfig": "reports", "policy.ReportWeek": "reports.week", "policy.NightWindow": "reports.night",
	"policy.ReportTargets": "reports.targets", "policy.Goal": "a report goal",
	"policy.Heartbeat": "a heartbeat", "policy.MaintenanceWindow": "a maintenance window",
	"policy.SilenceOnAcknowledge": "silence_on_acknowledge",
}

var unknownFieldRE = regexp.MustCompile(`(?s)field (.*) not found in type ([\w.]+)`)

// yamlProblems turns yaml.v3's errors into one line each, naming config
// sections instead of Go types.
func yamlProblems(err error) []string {
	var te *yaml.TypeError
	lines := []string{err.Error()}
	if errors.As(err, &te) {
		lines = te.Errors
	}
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		l = strings.TrimPrefix(l, "yaml: ")
		if m := unknownFieldRE.FindStringSubmatch(l); m != nil {
			where := yamlTypeNames[m[2]]
			if where == "" {
				where = m[2]
			}
			l = strings.Replace(l, m[0], fmt.Sprintf("unknown field %q in %s", m[1], where), 1)
		}
		// A value quoted in the message may span lines; a problem is one line.
		out = append(out, strings.ReplaceAll(l, "\n", `\n`))
	}
	return out
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// twilioAuthTokenRE is the shape of every Twilio auth token (primary or
// secondary): 32 hexadecimal characters (Twilio writes them in lower
// case). Twilio answers 401 to anything else, so every SMS and call would
// fail.
var twilioAuthTokenRE = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

// twilioAccountSIDRE is the shape of every Twilio account SID: AC and 32
// hexadecimal characters.
var twilioAccountSIDRE = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)

// e164RE is a phone number as Twilio takes it: +, country code, number.
var e164RE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// IsE164 reports whether s is a phone number as sms and voice contacts and
// notifiers.twilio.from take it: E.164, "+", the country code and the
// number, 7 to 15 digits, and for North America (+1) a number of the
// plan's shape (nanpProblem). It is the check the config's loader makes,
// given to pagerd import so that a number it writes always loads.
func IsE164(s string) bool { return e164RE.MatchString(s) && nanpProblem(s) == "" }

// nanpProblem says what is wrong with a North American number (+1, the
// numbering plan of the US, Canada and the Caribbean), "" when nothing is
// or s is not +1: every such number is ten digits after the +1, an area
// code and an exchange that start with 2 to 9, then four digits. Other
// lengths pass E.164's 7 to 15 digits, and Twilio refuses them as not a
// valid phone number at every page: a digit dropped or doubled in a
// person's number would leave them without SMS or calls, which the
// provider check at start never tries.
func nanpProblem(s string) string {
	rest, ok := strings.CutPrefix(s, "+1")
	if !ok || !e164RE.MatchString(s) {
		return ""
	}
	switch {
	case len(rest) != 10:
		return fmt.Sprintf("has %d digits after the +1, and North American numbers have 10 (area code, exchange, number)", len(rest))
	case rest[0] < '2':
		return fmt.Sprintf("has an area code starting with %c, and North American area codes start with 2 to 9", rest[0])
	case rest[3] < '2':
		return fmt.Sprintf("has an exchange (the three digits after the area code) starting with %c, and North American exchanges start with 2 to 9", rest[3])
	}
	return ""
}

// IsPlainEmail reports whether s is one plain email address (no display
// name, no list, no comment), as users[].email and email contacts take it.
// It is the check the config's loader makes, given to pagerd import so
// that an address it writes always loads.
func IsPlainEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// IsSlackMemberID reports whether s is a Slack member id (U... or W...), as
// users[].slack_user takes it; a slack contact takes one or a channel. It
// is the check the config's loader makes, given to pagerd import so that
// an id it writes always loads.
func IsSlackMemberID(s string) bool { return slackUserRE.MatchString(s) }

// vias are the transports a contact can name, in the order errors list
// them; knownVias is the same set to look a name up in, and viaChoices
// the list for an error text, both made from it so they cannot drift.
var vias = []string{"log", "webhook", "twilio", "pagerduty", "ntfy", "pushover", "slack", "email"}

var knownVias = func() map[string]bool {
	m := make(map[string]bool, len(vias))
	for _, v := range vias {
		m[v] = true
	}
	return m
}()

// viaChoices is "log, webhook, ... or email".
var viaChoices = series(vias, "or")

// defaultVia is the transport a contact uses when it names none.
var defaultVia = map[string]string{ChannelPush: "pagerduty", ChannelSMS: "twilio", ChannelVoice: "twilio",
	ChannelSlack: "slack", ChannelEmail: "email"}

// slackUserRE is a Slack member id; slackChannelRE a channel id or #name.
var (
	slackUserRE    = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	slackChannelRE = regexp.MustCompile(`^([CGD][A-Z0-9]{2,}|#[a-z0-9][a-z0-9._-]{0,79})$`)
	pushoverKeyRE  = regexp.MustCompile(`^[A-Za-z0-9]{30}$`)
	// slackBotTokenRE is a bot token: xoxb-, then letters, digits and
	// dashes (xoxb-<team>-<bot>-<secret>), with xoxe. before it when the
	// app rotates its tokens (each lasts 12 hours; the notifier reads the
	// token at every call, so one kept fresh in bot_token_file and
	// reloaded pages).
	slackBotTokenRE = regexp.MustCompile(`^(xoxe\.)?xoxb-[A-Za-z0-9][A-Za-z0-9-]*$`)
)

type validator struct {
	cfg *Config
	// now is when the config is loaded: the warnings about times nobody
	// holds a tier look from it on, never at times already past.
	now      time.Time
	baseDir  string
	problems []string
	// env are the fields whose value is read from the environment
	// (${NAME}), and the variable each reads: a problem with such a
	// value names the variable, which is where it must be fixed (the
	// file says only "${NAME}"). envNamed are the variables so named, and
	// envProblems how many problems name one (ConfigError.Env, OnlyEnv).
	env         map[string]string
	envNamed    []string
	envProblems int
	unusable    sameProblem
	// linksDeclared: server.link_secret is given (even if not there yet).
	linksDeclared bool
	// subjectFields are the users' oidc_subject fields that are set, in
	// order, for the console's check that a provider is configured.
	subjectFields []string
	// ladders are the users' ladders, as loaded, for logOnlyLadders,
	// which needs the services' urgencies.
	ladders []ladderOf
	// gapWeeks are the spans nobody holds a tier in, by tier and week,
	// as policyGap worked them out (emptySpans); gapWeeksWorked counts
	// them, for the test that each is worked out once.
	gapWeeks       map[gapWeek][]Shift
	gapWeeksWorked int
}

func (v *validator) errf(field, format string, args ...any) {
	if name := v.env[field]; name != "" {
		v.envProblems++
		if !slices.Contains(v.envNamed, name) {
			v.envNamed = append(v.envNamed, name)
		}
	}
	v.problems = append(v.problems, v.fromEnv(field)+": "+fmt.Sprintf(format, args...))
}

// fromEnv is field as a problem names it: with the environment variable
// its value was read from, when it was ("notifiers.email.smarthost, from
// environment variable PAGERD_SMTP_SMARTHOST").
func (v *validator) fromEnv(field string) string {
	if name := v.env[field]; name != "" {
		return field + ", from environment variable " + name
	}
	return field
}

// readsEnv notes that field's value is read from the environment when
// val is a ${NAME} reference.
func (v *validator) readsEnv(field, val string) {
	if name, ok := envRef(val); ok {
		if v.env == nil {
			v.env = map[string]string{}
		}
		v.env[field] = name
	}
}

// warnf records something that does not stop the config from loading but
// will not do what its author expects: check-config prints it, and
// `check-config --strict` fails on it.
func (v *validator) warnf(field, format string, args ...any) {
	v.cfg.warnings = append(v.cfg.warnings, v.fromEnv(field)+": "+fmt.Sprintf(format, args...))
}

// ladderWarnf is warnf on one of a user's ladders, kept for
// OnCallWarnings: whoever puts the user on call at run time is told it.
func (v *validator) ladderWarnf(l ladderOf, format string, args ...any) {
	v.warnf(l.field, format, args...)
	if v.cfg.ladderWarnings == nil {
		v.cfg.ladderWarnings = map[string][]string{}
	}
	v.cfg.ladderWarnings[l.user.ID] = append(v.cfg.ladderWarnings[l.user.ID], v.cfg.warnings[len(v.cfg.warnings)-1])
}

// secret resolves a secret field from its value, ${ENV} or _file twin. One
// that is not there yet is noted for `pagerd serve` (Config.CheckSecrets)
// rather than refused, so the read-only commands work without it.
func (v *validator) secret(field string, val Secret, file string) Secret {
	if file == "" {
		v.readsEnv(field, string(val))
	}
	s, err := resolveSecret(val, file, v.baseDir)
	v.resolved(field, err)
	return s
}

// previousTwilioToken checks notifiers.twilio.previous_auth_token, the
// token Twilio signs callbacks with while the one pagerd pages with is
// its secondary, not yet promoted: it goes with an auth token (withToken:
// one is given, maybe as a variable not set here), has a Twilio token's
// shape (or every callback it was meant to let through is refused), and
// is not the auth token itself (a rotation half done: the new token was
// never pasted in).
func (v *validator) previousTwilioToken(withToken bool) {
	tw := &v.cfg.Notifiers.Twilio
	const field = "notifiers.twilio.previous_auth_token"
	tw.PreviousAuthToken = v.secret(field, tw.PreviousAuthToken, tw.PreviousAuthTokenFile)
	switch prev := tw.PreviousAuthToken; {
	case !withToken:
		v.errf(field, "is set without auth_token: it is the token Twilio still signs callbacks with while auth_token, the new one, awaits promotion in the Twilio Console")
	case prev == "":
	case !twilioAuthTokenRE.MatchString(string(prev)):
		v.errf(field, "is not a Twilio auth token (%d characters; Twilio's are 32 hexadecimal characters), so no callback signed with it would be taken", len(prev))
	case tw.AuthToken != "" && strings.EqualFold(string(prev), string(tw.AuthToken)):
		v.errf(field, "is auth_token itself: set auth_token to the new (secondary) token from the Twilio Console, and this to the primary one it replaces")
	}
}

// setting resolves a plain string field that may be ${ENV} (a Twilio
// account, a number, a contact's routing key), with the same leniency.
func (v *validator) setting(field, val string) string {
	v.readsEnv(field, val)
	s, err := expandEnv(val)
	v.resolved(field, err)
	return s
}

func (v *validator) resolved(field string, err error) {
	var m *missingError
	switch {
	case errors.As(err, &m):
		v.cfg.missing = append(v.cfg.missing, field+": "+m.msg)
	case err != nil:
		v.errf(field, "%v", err)
	}
}

// entry checks the name of entry i of a named list and returns the field
// path to report its problems under: section[name] once the name is good,
// section[i] otherwise.
func (v *validator) entry(section string, i int, key, name string, seen map[string]bool) (string, bool) {
	if v.name(fmt.Sprintf("%s[%d].%s", section, i, key), key, name, seen) {
		return fmt.Sprintf("%s[%s]", section, name), true
	}
	return fmt.Sprintf("%s[%d]", section, i), false
}

func (v *validator) name(field, kind, name string, seen map[string]bool) bool {
	switch {
	case name == "":
		v.errf(field, "%s is required", kind)
		return false
	case !idRE.MatchString(name):
		// Said whole: "." and ".." hold only allowed characters, and
		// "may hold only" alone left the reader wondering what was wrong.
		v.errf(field, "%s %q may hold only letters, digits, '.', '_' and '-', and must start with a letter or digit", kind, name)
		return false
	case seen[name]:
		v.errf(field, "duplicate %s %q", kind, name)
		return false
	}
	seen[name] = true
	return true
}

// fixedOffsetZones are names the zone database knows that read like a
// region's zone but never change for daylight saving time: "EST" is UTC-5
// in July too, an hour off New York. The city a user most likely means is
// suggested. (PST, CST and the like are not in the database at all.)
var fixedOffsetZones = map[string]string{
	"EST": "America/New_York (America/Panama if you mean no DST)",
	"MST": "America/Denver (America/Phoenix if you mean no DST)",
	"HST": "Pacific/Honolulu",
}

// LoadZone is the time zone a time_zone field names, as the config takes
// it: an IANA name the zone database knows ("" is UTC), never one of the
// fixed-offset names that read like a region's zone, nor "Local", the zone
// of whatever machine pagerd runs on (a laptop's where check-config ran,
// UTC in a container), which would move every shift and business hour when
// the config moves. The error says which name to use instead. pagerd import checks the zones it writes with it,
// so that they always load.
func LoadZone(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	if city, ok := fixedOffsetZones[tz]; ok {
		return nil, fmt.Errorf("%q is a fixed offset that ignores daylight saving time; use an IANA name like %s", tz, city)
	}
	if tz == "Local" {
		return nil, fmt.Errorf(`"Local" is the zone of the machine pagerd runs on, which differs between a laptop and a container; name the zone, like Europe/Rome`)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (use an IANA name like America/New_York)", tz)
	}
	return loc, nil
}

func (v *validator) location(field, tz string) *time.Location {
	loc, err := LoadZone(tz)
	if err != nil {
		v.errf(field, "%v", err)
		return time.UTC
	}
	if w := invertedSignZone(tz); w != "" {
		v.warnf(field, "%s", w)
	}
	return loc
}

// cityAtOffset is a city that keeps each whole-hour offset from UTC all
// year, to name instead of an Etc/GMT zone.
var cityAtOffset = map[int]string{
	-11: "Pacific/Pago_Pago", -10: "Pacific/Honolulu", -9: "Pacific/Gambier", -8: "Pacific/Pitcairn",
	-7: "America/Phoenix", -6: "America/Costa_Rica", -5: "America/Bogota", -4: "America/La_Paz",
	-3: "America/Sao_Paulo", -2: "America/Noronha", -1: "Atlantic/Cape_Verde",
	1: "Africa/Lagos", 2: "Africa/Johannesburg", 3: "Europe/Istanbul", 4: "Asia/Dubai",
	5: "Asia/Karachi", 6: "Asia/Dhaka", 7: "Asia/Bangkok", 8: "Asia/Singapore", 9: "Asia/Tokyo",
	10: "Australia/Brisbane", 11: "Pacific/Guadalcanal", 12: "Pacific/Tarawa", 13: "Pacific/Tongatapu",
	14: "Pacific/Kiritimati",
}

// invertedSignZone warns of an Etc/GMT+N or Etc/GMT-N zone, whose sign is
// POSIX's, the opposite of ISO 8601's: Etc/GMT+5 is five hours behind UTC,
// so someone five hours ahead who writes it gets every handoff and business
// hour ten hours off. The zone is valid and some mean it, so it is a
// warning, which names the zone for the offset they likely meant.
func invertedSignZone(tz string) string {
	rest, ok := strings.CutPrefix(tz, "Etc/GMT")
	if !ok || len(rest) < 2 || (rest[0] != '+' && rest[0] != '-') {
		return ""
	}
	n, err := strconv.Atoi(rest[1:])
	if err != nil || n == 0 {
		return ""
	}
	is, meant, other := -n, n, "-"
	if rest[0] == '-' {
		is, meant, other = n, -n, "+"
	}
	city := "name a city"
	if c, ok := cityAtOffset[meant]; ok {
		city += " (e.g. " + c + ")"
	}
	return fmt.Sprintf("time_zone %s is UTC%s (the POSIX sign is inverted); %s or use Etc/GMT%s%d for UTC%s",
		tz, utcOffset(is), city, other, n, utcOffset(meant))
}

// utcOffset writes a whole number of hours from UTC as ISO 8601 does, with
// a true minus sign: +05:00, −05:00.
func utcOffset(h int) string {
	if h < 0 {
		return fmt.Sprintf("−%02d:00", -h)
	}
	return fmt.Sprintf("+%02d:00", h)
}

func (v *validator) validate() {
	c := v.cfg
	c.users = map[string]*User{}
	c.schedules = map[string]*Schedule{}
	c.policies = map[string]*EscalationPolicy{}
	c.calendars = map[string]*BusinessHours{}
	c.services = map[string]int{}
	c.alwaysOpen = &BusinessHours{Name: "always", loc: time.UTC, End: TimeOfDay{Hour: 24, set: true}}
	for d := range c.alwaysOpen.open {
		c.alwaysOpen.open[d] = true
	}

	v.server()
	v.notifiers()
	v.api()
	v.calendars()
	v.users()
	v.publicURLReach()
	v.schedules()
	v.policies()
	v.compensation()
	v.services()
	if len(v.problems) == 0 {
		// Only over a config whose references and rotations are sound.
		v.policyGaps()
	}
	v.logOnlyLadders()
	v.lateFirstSteps()
	v.logOnlyUsers()
	v.maintenance()
	v.reports()
	v.console()
}

func (v *validator) compensation() {
	v.cfg.comp = map[string]*Compensation{}
	seen := map[string]bool{}
	for i := range v.cfg.Compensation {
		cp := &v.cfg.Compensation[i]
		f, ok := v.entry("compensation", i, "name", cp.Name, seen)
		if ok {
			v.cfg.comp[cp.Name] = cp
		}
		if cp.BusinessHours == "" {
			v.errf(f+".business_hours", "name the business_hours calendar outside which time is billable")
		} else if v.cfg.calendars[cp.BusinessHours] == nil {
			v.errf(f+".business_hours", "no business_hours calendar %q is defined", cp.BusinessHours)
		}
		if cp.Minimum < 0 || cp.RoundTo < 0 {
			v.errf(f, "minimum and round_to must not be negative")
		}
		for j, r := range cp.CompDays {
			rf := fmt.Sprintf("%s.comp_days[%d]", f, j)
			if len(r.Priorities) == 0 {
				v.errf(rf+".priorities", "name the priorities the rule is for")
			}
			if r.Days < 1 {
				v.errf(rf+".days", "must be 1 or more")
			}
			if (r.LongerThan > 0) == r.Weekend {
				v.errf(rf, "set exactly one of longer_than or weekend: true")
			}
		}
	}
}

var redisSchemes = []string{"redis://", "rediss://", "redis-sentinel://", "redis-cluster://"}

func (v *validator) server() {
	sv := &v.cfg.Server
	if sv.Listen == "" {
		sv.Listen = ":8080"
	}
	if _, port, err := net.SplitHostPort(sv.Listen); err != nil || port == "" {
		v.errf("server.listen", "%q is not host:port (like :8080 or 127.0.0.1:8080)", sv.Listen)
	}
	if sv.PublicURL != "" {
		u, err := url.Parse(sv.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errf("server.public_url", "%q is not an absolute http(s) URL", sv.PublicURL)
		} else if p := portProblem(u.Port()); p != "" {
			v.errf("server.public_url", "%s, so nobody could reach pagerd on it: not Twilio for a call's script, nor a person opening an ack link", p)
		} else if u.RawQuery != "" || u.ForceQuery || strings.Contains(sv.PublicURL, "#") {
			// pagerd appends its paths to public_url as text: behind a
			// query or a fragment they are no path, and each link and
			// callback would reach pagerd's root.
			v.errf("server.public_url", "%q has a query or a fragment (?... or #...): pagerd adds its paths after public_url (<public_url>/ack/<token>, <public_url>/api/v1/twilio/voice), which would then be part of it, so every ack link, Twilio call script and Pushover acknowledgement would reach pagerd's root and fail; remove it, keeping only the scheme, host and any path prefix", sv.PublicURL)
		}
	}
	u := v.secret("server.redis.url", sv.Redis.URL, sv.Redis.URLFile)
	sv.Redis.URL = u
	if u != "" {
		ok := false
		for _, s := range redisSchemes {
			ok = ok || strings.HasPrefix(string(u), s)
		}
		if !ok {
			// Never echo the URL: it may carry a password.
			v.errf("server.redis.url", "use a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL")
		}
	}
	for i, c := range sv.TrustedProxies {
		if _, _, err := net.ParseCIDR(c); err != nil {
			hint := ""
			if ip := net.ParseIP(c); ip != nil {
				bits := 128
				if ip.To4() != nil {
					bits = 32
				}
				hint = fmt.Sprintf(" (one address is %s/%d)", c, bits)
			}
			v.errf(fmt.Sprintf("server.trusted_proxies[%d]", i), "%q is not a CIDR like 10.0.0.0/8 or fd00::/8%s: list the addresses of the proxies in front of pagerd, whose X-Forwarded-For and X-Forwarded-Proto it believes", c, hint)
		}
	}
	v.linksDeclared = sv.LinkSecret != "" || sv.LinkSecretFile != ""
	ls := v.secret("server.link_secret", sv.LinkSecret, sv.LinkSecretFile)
	if ls != "" && len(ls) < 16 {
		v.errf("server.link_secret", "must be at least 16 bytes (a random string: openssl rand -hex 32)")
	}
	sv.LinkSecret = ls
	if ad := &sv.Admission; ad.MaxInflight < 0 || ad.MaxInflight > 100000 {
		v.errf("server.admission.max_inflight", "must be from 1 to 100000 (0: the default, 64 on Redis, 256 on the embedded store)")
	}
	if ad := &sv.Admission; ad.MaxQueue < 0 || ad.MaxQueue > 100000 {
		v.errf("server.admission.max_queue", "must be from 1 to 100000 (0: the default, twice max_inflight)")
	}
	if ad := &sv.Admission; ad.QueueTimeout < 0 || ad.QueueTimeout > Duration(10*time.Second) {
		v.errf("server.admission.queue_timeout", "must be from 0s (the default, 20ms) to 10s")
	}
	if ad := &sv.Admission; ad.BrakeBehind != 0 && (ad.BrakeBehind < Duration(100*time.Millisecond) || ad.BrakeBehind > Duration(time.Hour)) {
		v.errf("server.admission.brake_behind", "must be from 100ms to 1h (0: the default, 500ms; 1h in effect never brakes)")
	}
	if sv.LinkTTL < 0 {
		v.errf("server.link_ttl", "must not be negative")
	}
	if sv.LinkTTL == 0 {
		sv.LinkTTL = Duration(24 * time.Hour)
	}
	if sv.Lease < 0 || (sv.Lease > 0 && sv.Lease < Duration(time.Second)) {
		v.errf("server.lease", "must be at least 1s")
	}
	if sv.Lease == 0 {
		sv.Lease = Duration(30 * time.Second)
	}
	if sv.Lease < Duration(PageSendTimeout) {
		v.warnf("server.lease", "%s is shorter than a page may take to send (up to %s, retries included): a slow page's claim is then kept by a store call every half lease while it is sent, and a replica held up for half a lease meanwhile (a freeze, a store that does not answer) has the incident claimed again and the page sent twice; keep it at least that (the default is 30s)",
			sv.Lease, Duration(PageSendTimeout))
	}
	v.retention()
	if sv.RateLimit == nil {
		rl := DefaultIngestRateLimit
		sv.RateLimit = &rl
	}
	if sv.RateLimit.PerSecond < 0 || sv.RateLimit.Burst < 0 {
		v.errf("server.rate_limit", "per_second and burst must not be negative (per_second 0 turns the limit off)")
	}
	if p := sv.RateLimit.PerSecond; p > 0 && p < MinRatePerSecond {
		v.errf("server.rate_limit.per_second", "%s is one request every %s per integration key: the requests over it are refused, and Alertmanager retries a refused one for only about a group_interval, so past the burst an alert gets in at a later notification of its group, as the limit lets, hours late; set it to at least %s (one a minute), or leave it out for the default, 100 (per_second: 0 turns the limit off)",
			strconv.FormatFloat(p, 'g', -1, 64), oneEvery(p), minRateText)
	}
	if sv.RateLimit.Concurrency != 0 {
		v.errf("server.rate_limit.concurrency", "is for transports (notifiers.rate_limits); the intake's is server.admission.max_inflight")
	}
	if sv.RateLimit.PerSecond > 0 && sv.RateLimit.Burst == 0 {
		sv.RateLimit.Burst = int(sv.RateLimit.PerSecond) + 1
	}
}

func (v *validator) notifiers() {
	w := &v.cfg.Notifiers.Webhook
	if w.Timeout < 0 {
		v.errf("notifiers.webhook.timeout", "must not be negative")
	}
	if w.MaxAttempts < 0 || w.MaxAttempts > 10 {
		v.errf("notifiers.webhook.max_attempts", "must be from 1 to 10")
	}
	pd := &v.cfg.Notifiers.PagerDuty
	// The providers' URLs and timeouts left unset take the defaults of
	// their transports (notify/pagerduty, notify/twilio), set there once.
	v.httpURL("notifiers.pagerduty.events_url", pd.EventsURL)
	// Declared counts: a secret given as ${ENV} or a _file is configured
	// even while it is not there (check-config on a laptop).
	v.cfg.transports = map[string]bool{"links": v.linksDeclared}
	v.cfg.transports["pagerduty"] = pd.WebhookSecret != "" || pd.WebhookSecretFile != ""
	pd.WebhookSecret = v.secret("notifiers.pagerduty.webhook_secret", pd.WebhookSecret, pd.WebhookSecretFile)
	tw := &v.cfg.Notifiers.Twilio
	declared := tw.AccountSID != "" || tw.AuthToken != "" || tw.AuthTokenFile != "" || tw.From != ""
	complete := tw.AccountSID != "" && (tw.AuthToken != "" || tw.AuthTokenFile != "") && tw.From != ""
	v.cfg.transports["twilio"] = complete
	if declared && !complete {
		v.errf("notifiers.twilio", "account_sid, auth_token (or auth_token_file) and from go together")
	}
	tw.AccountSID = v.setting("notifiers.twilio.account_sid", tw.AccountSID)
	tokenDeclared := tw.AuthToken != "" || tw.AuthTokenFile != ""
	tw.AuthToken = v.secret("notifiers.twilio.auth_token", tw.AuthToken, tw.AuthTokenFile)
	if tw.AuthToken != "" && !twilioAuthTokenRE.MatchString(string(tw.AuthToken)) {
		// Never echo it: say only what is wrong with its shape.
		v.errf("notifiers.twilio.auth_token", "is not a Twilio auth token (%d characters; Twilio's are 32 hexadecimal characters, shown in the Twilio Console's Account Info), so Twilio would refuse every page", len(tw.AuthToken))
	}
	if tw.PreviousAuthToken != "" || tw.PreviousAuthTokenFile != "" {
		v.previousTwilioToken(tokenDeclared)
	}
	v.httpURL("notifiers.twilio.api_url", tw.APIURL)
	tw.From = v.setting("notifiers.twilio.from", tw.From)
	if tw.From != "" && !e164RE.MatchString(tw.From) {
		v.errf("notifiers.twilio.from", "%q is not a phone number in E.164 form, like +15555550100", tw.From)
	} else if p := nanpProblem(tw.From); p != "" {
		v.errf("notifiers.twilio.from", "%q %s, so Twilio would refuse every SMS and call from it: check the number in the Twilio Console", tw.From, p)
	}
	switch {
	case tw.AccountSID == "":
	case !strings.HasPrefix(tw.AccountSID, "AC"):
		v.errf("notifiers.twilio.account_sid", "a Twilio account SID starts with AC")
	case !twilioAccountSIDRE.MatchString(tw.AccountSID):
		// The SID is in the path of every request (/Accounts/<SID>/...),
		// and Twilio answers 401 to one that is no account's.
		v.errf("notifiers.twilio.account_sid", "is not a Twilio account SID (%d characters; Twilio's are AC and 32 hexadecimal characters, shown in the Twilio Console's Account Info), so Twilio would refuse every SMS and call", len(tw.AccountSID))
	}
	v.slack()
	v.emailSettings()
	v.pushover()
	st := &v.cfg.Notifiers.Storm
	if st.Window == nil {
		w := Duration(10 * time.Second)
		st.Window = &w
	}
	if *st.Window < 0 || *st.Window > Duration(10*time.Minute) {
		v.errf("notifiers.storm.window", "must be from 0s (off) to 10m")
	}
	if st.Immediate < 0 {
		v.errf("notifiers.storm.immediate", "must not be negative")
	}
	if st.Immediate == 0 {
		st.Immediate = 3
	}
	br := &v.cfg.Notifiers.Breaker
	if br.Failures == nil {
		f := 5
		br.Failures = &f
	}
	if *br.Failures < 0 || *br.Failures > 1000 {
		v.errf("notifiers.breaker.failures", "must be from 0 (off) to 1000")
	}
	if br.Cooldown == 0 {
		br.Cooldown = Duration(30 * time.Second)
	}
	if br.Cooldown < Duration(time.Second) || br.Cooldown > Duration(time.Hour) {
		v.errf("notifiers.breaker.cooldown", "must be from 1s to 1h")
	}
	for via, rl := range v.cfg.Notifiers.RateLimits {
		f := "notifiers.rate_limits." + via
		if !knownVias[via] {
			v.errf(f, "unknown transport %q (use %s)", via, viaChoices)
		}
		if rl.PerSecond < 0 || rl.Burst < 0 || rl.Concurrency < 0 || (rl.PerSecond == 0 && rl.Concurrency == 0) {
			v.errf(f, "set per_second (more than zero), concurrency (more than zero) or both; none negative")
		}
		if p := rl.PerSecond; p > 0 && p < MinRatePerSecond {
			v.errf(f+".per_second", "%s is one page every %s: pages over the rate wait their turn, so one incident's pages to a level, or a handful at once, go out hours late; set it to at least %s (one a minute), well under the lowest rate a provider documents (Twilio: 1 SMS a second per number; ntfy.sh: one request every 5 seconds), or leave per_second out and cap the provider with concurrency",
				strconv.FormatFloat(p, 'g', -1, 64), oneEvery(p), minRateText)
		}
	}
}

// MinRatePerSecond is the lowest rate_limit per_second the config takes
// (server.rate_limit and notifiers.rate_limits): one a minute. Every
// provider documents a rate far above it (Twilio 1 SMS a second per
// number, PagerDuty's Events API 120 events a minute, ntfy.sh one
// request every 5 seconds; a daily or monthly quota is no rate: the
// provider refuses what is over it, and a refused page brings the next
// channel forward), and at it a person's ladder, minutes apart (push,
// SMS at 2m, voice at 5m), still goes out at about its pace; a first
// page, which gives way to at most 10 turns, at most 10 minutes late.
// Below it a few pages at once wait for hours: 0.0001 a second is one
// page every 2h46m40s.
const MinRatePerSecond = 1.0 / 60

// minRateText is MinRatePerSecond as the errors say it, rounded up, so
// that the value they name passes.
const minRateText = "0.0167"

// oneEvery is the time between two requests at p a second, to the second.
func oneEvery(p float64) Duration {
	return Duration(time.Duration(float64(time.Second) / p).Round(time.Second))
}

// MinAPITokenLength is the shortest API token the config accepts: the
// same floor as server.link_secret's. A token is the whole API
// (acknowledge, resolve, overrides that decide who is paged), and a short
// one is found by trying.
const MinAPITokenLength = 16

func (v *validator) api() {
	seen := map[string]bool{}
	values := map[Secret]bool{}
	for i := range v.cfg.API.Tokens {
		t := &v.cfg.API.Tokens[i]
		f := fmt.Sprintf("api.tokens[%d]", i)
		v.name(f+".name", "name", t.Name, seen)
		declared := t.Token != "" || t.TokenFile != ""
		s := v.secret(f+".token", t.Token, t.TokenFile)
		switch {
		case !declared:
			v.errf(f+".token", "token or token_file is required")
		case s != "" && values[s]:
			v.errf(f+".token", "the same token is given twice")
		case s != "" && len(s) < MinAPITokenLength:
			v.errf(f+".token", "is too short (length %d): an API token must be at least %d characters, or it can be guessed (a random string: openssl rand -hex 32)",
				len(s), MinAPITokenLength)
		}
		values[s] = true
		t.Token = s
		switch t.Role {
		case "", RoleViewer, RoleResponder, RoleAdmin:
		default:
			v.errf(f+".role", "%q is not a role: use viewer (reads), responder (also acts on incidents) or admin (also reload and backup); without a role a token acts like a responder", t.Role)
		}
	}
}

func (v *validator) calendars() {
	seen := map[string]bool{}
	for i := range v.cfg.BusinessHours {
		b := &v.cfg.BusinessHours[i]
		f, ok := v.entry("business_hours", i, "name", b.Name, seen)
		if ok {
			v.cfg.calendars[b.Name] = b
		}
		b.loc = v.location(f+".time_zone", b.TimeZone)
		if len(b.Days) == 0 {
			b.Days = []Weekday{Weekday(time.Monday), Weekday(time.Tuesday), Weekday(time.Wednesday), Weekday(time.Thursday), Weekday(time.Friday)}
		}
		for _, d := range b.Days {
			b.open[d] = true
		}
		if !b.Start.IsSet() || !b.End.IsSet() {
			v.errf(f, "start and end are required (HH:MM)")
		} else if b.Start.Minutes() >= b.End.Minutes() {
			v.errf(f+".end", "end %s must be after start %s", b.End, b.Start)
		}
		for j, h := range b.Holidays {
			if h.Date.IsZero() {
				v.errf(fmt.Sprintf("%s.holidays[%d].date", f, j), "date is required")
			}
		}
	}
}

func (v *validator) users() {
	seen := map[string]bool{}
	emails := map[string]string{}
	slackIDs := map[string]slackOwner{}
	subjects := map[string]string{}
	for i := range v.cfg.Users {
		u := &v.cfg.Users[i]
		f, ok := v.entry("users", i, "id", u.ID, seen)
		if ok {
			v.cfg.users[u.ID] = u
		}
		u.loc = v.location(f+".time_zone", u.TimeZone)
		v.email(f+".email", u, emails)
		v.userLogin(f, u, subjects)
		if len(u.Contacts) == 0 {
			v.errf(f+".contacts", "a user needs at least one contact, or nobody can page them")
		}
		v.slackUser(f+".slack_user", u, slackIDs)
		has := map[string]bool{}
		for j := range u.Contacts {
			ct := &u.Contacts[j]
			cf := fmt.Sprintf("%s.contacts[%d]", f, j)
			switch ct.Channel {
			case ChannelPush, ChannelSMS, ChannelVoice, ChannelSlack, ChannelEmail:
			default:
				v.errf(cf+".channel", "unknown channel %q (use push, sms, voice, slack or email)", ct.Channel)
				continue
			}
			// A Slack or email contact without an address reaches the
			// person's own Slack user or email address, whether it names
			// its transport (via: slack, via: email) or takes the default.
			if ct.Address == "" && ct.Channel == ChannelSlack && (ct.Via == "" || ct.Via == "slack") {
				ct.Address = u.SlackUser
			}
			if ct.Address == "" && ct.Channel == ChannelEmail && (ct.Via == "" || ct.Via == "email") {
				ct.Address = u.Email
			}
			if has[ct.Channel] {
				v.errf(cf+".channel", "a second %s contact; give each channel one contact", ct.Channel)
			}
			has[ct.Channel] = true
			if ct.Via == "" {
				ct.Via = defaultVia[ct.Channel]
			}
			if !knownVias[ct.Via] {
				v.errf(cf+".via", "unknown transport %q (use %s)", ct.Via, viaChoices)
				continue
			}
			v.contact(cf, ct)
			if ct.Via == "pagerduty" && len(u.ID) > maxPagerDutyUserID {
				// The dedup key pagerd:<incident>:<user>:<n> must fit
				// PagerDuty's 255 characters, or it refuses every event.
				v.errf(cf+".via", "the user's id is %d characters; pages via pagerduty carry it in PagerDuty's dedup key (pagerd:<incident>:<user>), which PagerDuty takes up to 255 characters, so every page to it would be refused: use an id of at most %d characters",
					len(u.ID), maxPagerDutyUserID)
			}
			if ct.Channel == ChannelSlack && IsSlackMemberID(ct.Address) {
				v.slackMember(cf+".address", u.ID, ct.Address, "slack contact", slackIDs)
			}
		}
		v.pagerDutyServicesNamed(f, u)
		v.ladders = append(v.ladders,
			ladderOf{f + ".notification_rules.high", UrgencyHigh, u, len(u.NotificationRules.High) == 0},
			ladderOf{f + ".notification_rules.low", UrgencyLow, u, len(u.NotificationRules.Low) == 0})
		v.steps(f+".notification_rules.high", &u.NotificationRules.High, has, defaultHigh)
		v.steps(f+".notification_rules.low", &u.NotificationRules.Low, has, defaultLow)
		if u.NoticeChannel == ChannelVoice {
			v.errf(f+".notice_channel", "a shift notice is not a call: use push, sms, slack or email")
		} else if u.NoticeChannel != "" && !has[u.NoticeChannel] {
			v.errf(f+".notice_channel", "the user has no %q contact", u.NoticeChannel)
		}
	}
	v.unusable.report(v)
}

// pagerDutyServicesNamed warns of a person whose contacts via pagerduty
// go through routing keys of their own (two PagerDuty services) and name
// the service (pagerduty_service) of some only. A merge in PagerDuty in a
// service none of them names may be the unnamed one's, and the named
// ones are told of acknowledgements: when one of those is misnamed (a
// typo passes the check of its form) and the merge was in its real
// service, telling it acknowledged the PagerDuty incident its alert was
// merged into, someone else's outage, and nothing said so. Each named,
// a merge in a service none names is a misname: none is told, and a WARN
// says so.
func (v *validator) pagerDutyServicesNamed(f string, u *User) {
	named, unnamed := map[string]bool{}, ""
	for _, ct := range u.Contacts {
		if ct.Via != "pagerduty" || ct.Address == "" {
			continue
		}
		if ct.PagerDutyService != "" {
			named[ct.Address] = true
		} else if unnamed == "" {
			unnamed = ct.Channel
		}
	}
	if len(named) == 0 || unnamed == "" {
		return
	}
	for _, ct := range u.Contacts {
		if ct.Via == "pagerduty" && ct.PagerDutyService == "" && ct.Address != "" && !named[ct.Address] {
			v.warnf(f+".contacts", "the %s contact via pagerduty names no pagerduty_service, and another names one: a merge in PagerDuty in a service no contact names is taken for the unnamed one's, and the named contacts are told of acknowledgements, so a misnamed pagerduty_service would acknowledge the PagerDuty incident its alert was merged into (someone else's outage) unnoticed; name the service of each contact via pagerduty", ct.Channel)
			return
		}
	}
}

// pagerDutyIDRE is the form of a PagerDuty object id (a service's:
// PF9KMXH), as its REST API and webhooks give them.
var pagerDutyIDRE = regexp.MustCompile(`^[A-Z0-9]{2,20}$`)

// email checks a user's address: one plain address (no display name, no
// list), unique across users regardless of case, since a login or an
// imported record that matches two people would act as either.
func (v *validator) email(field string, u *User, seen map[string]string) {
	if u.Email == "" {
		return
	}
	if !IsPlainEmail(u.Email) {
		v.errf(field, "%q is not an email address like jane@example.com", u.Email)
		return
	}
	key := strings.ToLower(u.Email)
	if other, ok := seen[key]; ok {
		v.errf(field, "user %q has the same email; each person needs their own", other)
		return
	}
	seen[key] = u.ID
}

// contact checks that a contact can be paged: its transport is configured
// (a Twilio contact with no Twilio account would fail at 3 a.m. with
// "transport not available") and its address has the transport's form. The
// address may be ${ENV} (a PagerDuty routing key is a credential).
// sameProblem collects one problem that many fields share (every contact on
// an unconfigured transport), to report it once, at the first field, with
// how many more have it.
type sameProblem struct {
	order []string
	first map[string]string
	count map[string]int
}

func (p *sameProblem) add(key, field, format string, args ...any) {
	if p.first == nil {
		p.first, p.count = map[string]string{}, map[string]int{}
	}
	if _, ok := p.first[key]; !ok {
		p.order = append(p.order, key)
		p.first[key] = field + ": " + fmt.Sprintf(format, args...)
	}
	p.count[key]++
}

func (p *sameProblem) report(v *validator) {
	for _, k := range p.order {
		msg := p.first[k]
		if n := p.count[k] - 1; n == 1 {
			msg += " (and 1 more contact)"
		} else if n > 1 {
			msg += fmt.Sprintf(" (and %d more contacts)", n)
		}
		v.problems = append(v.problems, msg)
	}
}

// PagerDutyRoutingKeyProblem says what is wrong with a routing key that
// PagerDuty itself would refuse (its length), "" when nothing is; never
// the key, a credential.
func PagerDutyRoutingKeyProblem(key string) string {
	if n := len(key); n != pagerDutyRoutingKeyLen {
		return fmt.Sprintf("is not a PagerDuty Events API v2 routing key (%d characters; PagerDuty's are %d, the Integration Key of an Events API V2 integration of a PagerDuty service, not a REST API key), so PagerDuty would refuse every page to it", n, pagerDutyRoutingKeyLen)
	}
	return ""
}

// maxPagerDutyUserID is the longest user id a contact via pagerduty may
// have: its dedup key, pagerd:<incident>:<user>:<reopens>, must fit the
// 255 characters PagerDuty takes, with room for the longest id pagerd
// sends there (an alert-storm message's: b and an incident id's 19
// characters) and a count of reopens up to 999999. No more is refused: a
// config refused is a pagerd that does not start, and pages nobody.
const maxPagerDutyUserID = 255 - len("pagerd:") - len("b") - 19 - len(":") - len(":999999")

// pagerDutyRoutingKeyLen is the length of every routing key PagerDuty's
// Events API v2 takes: it answers any other with a 400 ("Length of
// 'routing_key' is incorrect (should be 32 characters)"). Only the length
// is checked: Event Orchestration keys have capitals, services' keys not.
const pagerDutyRoutingKeyLen = 32

// toPagerDuty reports whether pages via pagerduty go to PagerDuty itself
// (notifiers.pagerduty.events_url unset, or a pagerduty.com host such as a
// regional edge) rather than to a stand-in, which may take any key.
func (v *validator) toPagerDuty() bool { return SendsToPagerDuty(v.cfg.Notifiers.PagerDuty.EventsURL) }

// SendsToPagerDuty reports whether pages via pagerduty sent to eventsURL
// (notifiers.pagerduty.events_url) go to PagerDuty itself: unset, or a
// pagerduty.com host. The daemon reads it at start, and a reload checks
// routing keys against the URL it started with.
func SendsToPagerDuty(u string) bool {
	if u == "" {
		return true
	}
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := strings.ToLower(p.Hostname())
	return h == "pagerduty.com" || strings.HasSuffix(h, ".pagerduty.com")
}

func (v *validator) contact(cf string, ct *Contact) {
	if ct.PagerDutyService != "" && ct.Via != "pagerduty" {
		v.errf(cf+".pagerduty_service", "pagerduty_service names the PagerDuty service of a contact via pagerduty, not via %s", ct.Via)
	}
	declared := ct.Address != ""
	ct.Address = v.setting(cf+".address", ct.Address)
	if !declared && ct.Via != "log" {
		v.errf(cf+".address", "address is required for %s via %s", ct.Channel, ct.Via)
	}
	switch ct.Via {
	case "twilio":
		if !v.cfg.transports["twilio"] {
			v.unusable.add("twilio", cf+".via", "%s via twilio, but notifiers.twilio is not configured (account_sid, auth_token, from): every page on it would fail", ct.Channel)
		}
		if ct.Channel == ChannelPush {
			v.errf(cf+".channel", "twilio sends sms and voice, not push")
		}
		if ct.Channel == ChannelVoice && v.cfg.Server.PublicURL == "" {
			v.unusable.add("voice", cf+".via", "voice via twilio needs server.public_url: Twilio fetches the call's script from it")
		}
		if ct.Address != "" && !e164RE.MatchString(ct.Address) {
			v.errf(cf+".address", "%q is not a phone number in E.164 form, like +15555550123", ct.Address)
		} else if p := nanpProblem(ct.Address); p != "" {
			v.errf(cf+".address", "%q %s, so Twilio would refuse every %s to it: check the person's number", ct.Address, p, ct.Channel)
		} else if ct.Address != "" && ct.Address == v.cfg.Notifiers.Twilio.From {
			// Twilio refuses an SMS to the number it is sent from, and a
			// call to it rings pagerd's own number's voice webhook.
			v.errf(cf+".address", "%q is notifiers.twilio.from, the Twilio number pagerd pages from, not the person's phone: Twilio refuses an SMS to the number it comes from, and a call to it never rings them; give their own number", ct.Address)
		}
	case "pagerduty":
		if !v.cfg.transports["pagerduty"] {
			v.unusable.add("pagerduty", cf+".via", "%s via pagerduty, but notifiers.pagerduty.webhook_secret is not set: an acknowledgement in the PagerDuty app would never reach pagerd, which would go on paging and escalating", ct.Channel)
		}
		if p := PagerDutyRoutingKeyProblem(ct.Address); ct.Address != "" && p != "" && v.toPagerDuty() {
			// Never echo it (a credential): say only what is wrong with
			// its shape.
			v.errf(cf+".address", "%s", p)
		}
		if ct.PagerDutyService != "" && !pagerDutyIDRE.MatchString(ct.PagerDutyService) {
			v.errf(cf+".pagerduty_service", "%q is not a PagerDuty service id (capital letters and digits, like PF9KMXH: the end of the service's URL in PagerDuty)", ct.PagerDutyService)
		}
	case "webhook", "ntfy":
		if ct.Address != "" {
			if u, err := url.Parse(ct.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.errf(cf+".address", "%s via %s needs an absolute http(s) URL", ct.Channel, ct.Via)
			} else if p := portProblem(u.Port()); p != "" {
				v.errf(cf+".address", "%s, so every page to it would fail", p)
			} else if ct.Via == "ntfy" && strings.Trim(u.Path, "/") == "" {
				// ntfy's root is its JSON publish endpoint: a page's
				// plain-text body there is refused with a 400.
				v.errf(cf+".address", "names no ntfy topic: use the topic's URL, like https://ntfy.sh/oncall-ann")
			} else if ct.Via == "ntfy" {
				v.ntfyTopic(cf+".address", u)
			}
		}
	case "slack":
		if ct.Channel != ChannelSlack {
			v.errf(cf+".channel", "slack sends slack messages: use channel: slack")
		}
		if !v.cfg.transports["slack"] {
			v.unusable.add("slack", cf+".via", "%s via slack, but notifiers.slack is not configured (bot_token, signing_secret): every page on it would fail", ct.Channel)
		}
		if ct.Address != "" && !IsSlackMemberID(ct.Address) && !slackChannelRE.MatchString(ct.Address) {
			v.errf(cf+".address", "%q is not a Slack member id (U...) or channel (C... or #name)", ct.Address)
		}
	case "email":
		if ct.Channel != ChannelEmail {
			v.errf(cf+".channel", "email sends email: use channel: email")
		}
		if !v.cfg.transports["email"] {
			v.unusable.add("email", cf+".via", "%s via email, but notifiers.email is not configured (smarthost, from): every page on it would fail", ct.Channel)
		}
		if ct.Address != "" && !IsPlainEmail(ct.Address) {
			v.errf(cf+".address", "%q is not an email address like jane@example.com", ct.Address)
		}
	case "pushover":
		if ct.Channel != ChannelPush {
			v.errf(cf+".channel", "pushover sends push: use channel: push")
		}
		if !v.cfg.transports["pushover"] {
			v.unusable.add("pushover", cf+".via", "%s via pushover, but notifiers.pushover.token is not set: every page on it would fail", ct.Channel)
		}
		if v.cfg.Server.PublicURL == "" || !v.cfg.transports["links"] {
			v.unusable.add("pushover-links", cf+".via", "push via pushover needs server.public_url and server.link_secret: an acknowledgement in the Pushover app comes back to pagerd on a signed link, and without it the app would stop alerting while pagerd went on paging")
		}
		if ct.Address != "" && !pushoverKeyRE.MatchString(ct.Address) {
			v.errf(cf+".address", "is not a Pushover user or group key (30 letters and digits)")
		}
	}
	if ct.Channel == ChannelSlack && ct.Via != "slack" && ct.Via != "log" && ct.Via != "webhook" {
		v.errf(cf+".via", "a slack contact goes via slack (or log or webhook)")
	}
	if ct.Channel == ChannelEmail && ct.Via != "email" && ct.Via != "log" && ct.Via != "webhook" {
		v.errf(cf+".via", "an email contact goes via email (or log or webhook)")
	}
}

// ntfyTopicRE is an ntfy topic name as the ntfy server takes one: up to
// 64 letters, digits, dashes and underscores. ntfy routes a POST to a
// path that is not one such name (a space, a dot, a second segment) to
// nothing, and answers it 404: every page to it would fail.
var ntfyTopicRE = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)

// ntfySubscribePaths are the ends of the URLs ntfy subscribes on (a
// topic's /json, /sse, /raw and /ws streams, its /auth check): copied
// from a subscription for a contact, a POST there is answered 404.
var ntfySubscribePaths = map[string]bool{"json": true, "sse": true, "raw": true, "ws": true, "auth": true}

// ntfyTopic checks the topic at the end of an ntfy contact's URL. Only
// the last segment is judged as a topic: a reverse proxy may serve ntfy
// under a prefix (https://example.com/ntfy/oncall-ann) and strip it.
func (v *validator) ntfyTopic(field string, u *url.URL) {
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	topic := segs[len(segs)-1]
	switch {
	case !ntfyTopicRE.MatchString(topic):
		v.errf(field, "ntfy topic %q is not one ntfy takes (1 to 64 letters, digits, - and _), so ntfy would answer every page to it 404: use the topic's URL, like https://ntfy.sh/oncall-ann", topic)
	case len(segs) > 1 && ntfySubscribePaths[topic]:
		v.errf(field, "ends in /%s, the URL ntfy subscribes on, where it answers every page posted 404: use the topic's URL without it, like https://ntfy.sh/%s", topic, segs[len(segs)-2])
	case strings.HasSuffix(u.Path, "/"):
		v.errf(field, "ends in a slash after the ntfy topic %q, and ntfy answers every page posted there 404: use the topic's URL without it, like https://ntfy.sh/%s", topic, topic)
	}
}

// slackUser checks a user's Slack member id: its form, and that no other
// user claims it (slackMember).
func (v *validator) slackUser(field string, u *User, seen map[string]slackOwner) {
	if u.SlackUser == "" {
		return
	}
	if !IsSlackMemberID(u.SlackUser) {
		v.errf(field, "%q is not a Slack member id (U... or W...; in Slack: the person's profile, More, Copy member ID)", u.SlackUser)
		return
	}
	v.slackMember(field, u.ID, u.SlackUser, "slack_user", seen)
}

// slackOwner is the user who first claimed a Slack member id, and where
// (their slack_user or a slack contact).
type slackOwner struct{ user, what string }

// slackMember refuses a Slack member id that two users claim, as a
// slack_user or as a slack contact's address: a button pressed in Slack
// acts as the one person its presser maps to, and a member id two users
// hold would make someone's press act as somebody else (refused as a
// viewer, or an acknowledgement recorded under the wrong name). A user's
// own slack_user and slack contact naming the same id is one person.
func (v *validator) slackMember(field, user, id, what string, seen map[string]slackOwner) {
	other, ok := seen[id]
	if !ok {
		seen[id] = slackOwner{user, what}
		return
	}
	if other.user != user {
		v.errf(field, "Slack member id %q is also user %q's %s: a button that member pressed would act as %q or %q; each person needs their own member id",
			id, other.user, other.what, other.user, user)
	}
}

// slack checks notifiers.slack: the bot token and the signing secret go
// together (buttons and /oncall are verified with the secret), and they
// are secrets.
func (v *validator) slack() {
	sl := &v.cfg.Notifiers.Slack
	token := sl.BotToken != "" || sl.BotTokenFile != ""
	signing := sl.SigningSecret != "" || sl.SigningSecretFile != ""
	v.cfg.transports["slack"] = token && signing
	if token != signing {
		v.errf("notifiers.slack", "bot_token and signing_secret go together (Slack's buttons and /oncall are verified with the signing secret)")
	}
	sl.BotToken = v.secret("notifiers.slack.bot_token", sl.BotToken, sl.BotTokenFile)
	sl.SigningSecret = v.secret("notifiers.slack.signing_secret", sl.SigningSecret, sl.SigningSecretFile)
	if t := string(sl.BotToken); t != "" && !slackBotTokenRE.MatchString(t) {
		// Never echo it: say only what is wrong with its shape. Slack
		// answers invalid_auth to every call with anything else.
		v.errf("notifiers.slack.bot_token", "is not a Slack bot token (they are xoxb- and then letters, digits and dashes, with nothing else in them, or xoxe.xoxb-... when the app rotates its tokens; the app's OAuth & Permissions page shows it), so Slack would refuse every page")
	}
	v.httpURL("notifiers.slack.api_url", sl.APIURL)
	if sl.Timeout < 0 {
		v.errf("notifiers.slack.timeout", "must not be negative")
	}
}

// emailSettings checks notifiers.email.
func (v *validator) emailSettings() {
	em := &v.cfg.Notifiers.Email
	declared := em.Smarthost != "" || em.From != "" || em.Username != "" || em.Password != "" || em.PasswordFile != ""
	v.cfg.transports["email"] = em.Smarthost != "" && em.From != ""
	if declared && (em.Smarthost == "" || em.From == "") {
		v.errf("notifiers.email", "smarthost and from are required")
	}
	em.Smarthost = v.setting("notifiers.email.smarthost", em.Smarthost)
	if em.Smarthost != "" {
		if _, port, err := net.SplitHostPort(em.Smarthost); err != nil || port == "" {
			v.errf("notifiers.email.smarthost", "%q is not host:port, like smtp.example.com:587", em.Smarthost)
		} else if p := portProblem(port); p != "" {
			v.errf("notifiers.email.smarthost", "%s, so every email would fail", p)
		}
	}
	em.From = v.setting("notifiers.email.from", em.From)
	if em.From != "" {
		if _, err := mail.ParseAddress(em.From); err != nil {
			v.errf("notifiers.email.from", "%q is not an email address like pagerd@example.com or \"pagerd <pagerd@example.com>\"", em.From)
		}
	}
	if (em.Username != "") != (em.Password != "" || em.PasswordFile != "") {
		v.errf("notifiers.email", "username and password (or password_file) go together: pagerd logs in with both, or with neither")
	}
	em.Username = v.setting("notifiers.email.username", em.Username)
	em.Password = v.secret("notifiers.email.password", em.Password, em.PasswordFile)
	switch em.TLS {
	case "":
		if declared {
			em.TLS = EmailSTARTTLS
		}
	case EmailSTARTTLS, EmailTLS:
	case EmailNoTLS:
		if em.Username != "" {
			v.errf("notifiers.email.tls", "none would send the password in the clear: use starttls or tls with a username")
		}
	default:
		v.errf("notifiers.email.tls", "unknown mode %q (use starttls, tls or none)", em.TLS)
	}
	v.smtpPort(em)
	if em.CAFile != "" && !strings.HasPrefix(em.CAFile, "/") && v.baseDir != "" {
		em.CAFile = v.baseDir + "/" + em.CAFile
	}
	v.caFile("notifiers.email.ca_file", em.CAFile)
	if em.Timeout < 0 {
		v.errf("notifiers.email.timeout", "must not be negative")
	}
}

// smtpPort warns of a smarthost port whose TLS is the other mode's: 465
// is SMTP over TLS from the first byte (RFC 8314), where a STARTTLS client
// (or one without TLS, tls: none) waits for a greeting the server never sends until a TLS handshake, so
// every email times out; 587 and 25 greet in the clear and offer
// STARTTLS, where a TLS client's handshake fails. The provider check at
// start finds it too, but only once pagerd runs. A warning: a server may
// listen otherwise.
func (v *validator) smtpPort(em *EmailConfig) {
	_, port, err := net.SplitHostPort(em.Smarthost)
	if err != nil {
		return
	}
	switch {
	case port == "465" && em.TLS == EmailSTARTTLS:
		v.warnf("notifiers.email.tls", "is starttls (the default), but port 465 of %s is SMTP over TLS from the first byte, which never greets a client that has not started TLS: every email would time out; set tls: tls, or use the server's STARTTLS port (587)", em.Smarthost)
	case port == "465" && em.TLS == EmailNoTLS:
		v.warnf("notifiers.email.tls", "is none, but port 465 of %s is SMTP over TLS from the first byte, which never greets a client that has not started TLS: every email would time out; set tls: tls, or use the server's plain port (25) for a relay without TLS", em.Smarthost)
	case (port == "587" || port == "25") && em.TLS == EmailTLS:
		v.warnf("notifiers.email.tls", "is tls, but port %s of %s greets in the clear and offers STARTTLS, so a TLS handshake there fails: every email would fail; set tls: starttls, or use the server's TLS port (465)", port, em.Smarthost)
	}
}

// caFile reads a CA file as the daemon will when it starts, so that
// check-config does not pass a file serve refuses: one that is not there
// now is reported like a missing secret file (check-config on a laptop),
// one without a PEM certificate is an error.
func (v *validator) caFile(field, path string) {
	if path == "" {
		return
	}
	_, err := LoadCAFile(path)
	var read *fs.PathError
	switch {
	case errors.As(err, &read):
		v.resolved(field, &missingError{fmt.Sprintf("read CA file: %v", err)})
	case err != nil:
		v.errf(field, "%v", err)
	}
}

// LoadCAFile reads a file of PEM CA certificates (notifiers.email.ca_file),
// for check-config and the daemon alike. An error reading it is an
// *fs.PathError; a file with no certificate in it is an error that says so.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s has no PEM certificate in it (-----BEGIN CERTIFICATE-----)", path)
	}
	return pool, nil
}

// pushover checks notifiers.pushover.
func (v *validator) pushover() {
	po := &v.cfg.Notifiers.Pushover
	v.cfg.transports["pushover"] = po.Token != "" || po.TokenFile != ""
	po.Token = v.secret("notifiers.pushover.token", po.Token, po.TokenFile)
	if po.Token != "" && !pushoverKeyRE.MatchString(string(po.Token)) {
		v.errf("notifiers.pushover.token", "is not a Pushover application token (30 letters and digits)")
	}
	v.httpURL("notifiers.pushover.api_url", po.APIURL)
	if po.Retry == 0 {
		po.Retry = Duration(time.Minute)
	}
	if po.Retry < Duration(30*time.Second) {
		v.errf("notifiers.pushover.retry", "Pushover repeats emergency alerts at most every 30s")
	}
	if po.Expire == 0 {
		po.Expire = Duration(time.Hour)
	}
	if po.Expire > Duration(3*time.Hour) || po.Expire < po.Retry {
		v.errf("notifiers.pushover.expire", "must be from retry to 3h (Pushover's limit)")
	}
	if po.Timeout < 0 {
		v.errf("notifiers.pushover.timeout", "must not be negative")
	}
}

// httpURL checks an optional absolute http(s) URL setting.
func (v *validator) httpURL(field, s string) {
	if s == "" {
		return
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errf(field, "%q is not an absolute http(s) URL", s)
	} else if p := portProblem(u.Port()); p != "" {
		v.errf(field, "%s, so every call to it would fail", p)
	}
}

// portProblem says what is wrong with the port of a URL or a host:port,
// "" when nothing is or none is given. url.Parse and net.SplitHostPort
// take any digits as a port, and a connection to port 0 or one past
// 65535 is refused before anything is sent ("invalid port"), at every
// page. A name (smtp) is a port when the system knows it, as a dial
// would look it up. Never the URL itself: it may hold a credential.
func portProblem(port string) string {
	if port == "" {
		return ""
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		if _, lerr := net.LookupPort("tcp", port); lerr != nil {
			return fmt.Sprintf("port %q is neither a number from 1 to 65535 nor a service name this system knows", port)
		}
		return ""
	}
	if n < 1 || n > 65535 {
		return fmt.Sprintf("port %d is not one a connection can use (1 to 65535)", n)
	}
	return ""
}

var (
	defaultHigh = []NotifyStep{{0, ChannelPush}, {Duration(2 * time.Minute), ChannelSMS}, {Duration(5 * time.Minute), ChannelVoice}}
	defaultLow  = []NotifyStep{{0, ChannelPush}}
)

// steps checks a user's ladder, or fills in the default one restricted to
// the channels the user has. A user with no push contact still gets SMS and
// voice, so the default never leaves someone unreachable; and their first
// channel comes at once, as push would have, so the default never leaves
// them unpaged for the first minutes either (SMS and voice only: SMS at
// once, voice at 5m; voice only: a call at once).
func (v *validator) steps(field string, steps *[]NotifyStep, has map[string]bool, def []NotifyStep) {
	if len(*steps) == 0 {
		for _, s := range def {
			if has[s.Channel] {
				*steps = append(*steps, s)
			}
		}
		if len(*steps) > 0 {
			(*steps)[0].After = 0
		}
		if len(*steps) == 0 && len(has) > 0 {
			// Low urgency defaults to push only; someone without push gets
			// their first channel at once rather than nothing.
			for _, ch := range []string{ChannelPush, ChannelSMS, ChannelVoice, ChannelSlack, ChannelEmail} {
				if has[ch] {
					*steps = append(*steps, NotifyStep{0, ch})
					break
				}
			}
		}
		return
	}
	for j, s := range *steps {
		sf := fmt.Sprintf("%s[%d]", field, j)
		if !has[s.Channel] {
			v.errf(sf+".channel", "the user has no %q contact", s.Channel)
		}
		if s.After < 0 {
			v.errf(sf+".after", "must not be negative")
		}
	}
	sort.SliceStable(*steps, func(a, b int) bool { return (*steps)[a].After < (*steps)[b].After })
}

func (v *validator) userRef(field, id string) {
	if id == "" {
		v.errf(field, "user is required")
	} else if v.cfg.users[id] == nil {
		v.errf(field, "no user %q is defined", id)
	}
}

func (v *validator) schedules() {
	seen := map[string]bool{}
	for i := range v.cfg.Schedules {
		s := &v.cfg.Schedules[i]
		f, ok := v.entry("schedules", i, "name", s.Name, seen)
		if ok {
			v.cfg.schedules[s.Name] = s
		}
		s.loc = v.location(f+".time_zone", s.TimeZone)
		if s.Handoff.Weekday == nil {
			v.errf(f+".handoff.weekday", "handoff weekday is required (monday..sunday)")
		}
		if !s.Handoff.Time.IsSet() {
			v.errf(f+".handoff.time", "handoff time is required (HH:MM in the schedule's time zone)")
		}
		if len(s.Tiers) == 0 {
			v.errf(f+".tiers", "a schedule needs at least one tier")
		}
		tiers := map[string]bool{}
		for j := range s.Tiers {
			t := &s.Tiers[j]
			tf := fmt.Sprintf("%s.tiers[%d]", f, j)
			if v.name(tf+".name", "name", t.Name, tiers) {
				tf = fmt.Sprintf("%s.tiers[%s]", f, t.Name)
			}
			v.tier(tf, s, t)
		}
		v.overrides(f, s, tiers)
		v.notices(f, s, tiers)
		if s.Notices != nil {
			v.noticeUnreachable(f, s)
		}
		v.fairness(f, s, tiers)
		v.handoffTemplate(f, s)
	}
}

// notices checks a schedule's shift notices.
func (v *validator) notices(f string, s *Schedule, tiers map[string]bool) {
	n := s.Notices
	if n == nil {
		return
	}
	if n.Before < 0 || n.Before > Duration(14*24*time.Hour) {
		v.errf(f+".notices.before", "must be from 0s (only at the handoff) to 14d")
	}
	for j, t := range n.Tiers {
		if !tiers[t] {
			v.errf(fmt.Sprintf("%s.notices.tiers[%d]", f, j), "no tier %q in schedule %q", t, s.Name)
		}
	}
	if n.SlackChannel != "" {
		if !slackChannelRE.MatchString(n.SlackChannel) {
			v.errf(f+".notices.slack_channel", "%q is not a Slack channel (C... or #name)", n.SlackChannel)
		}
		if !v.cfg.transports["slack"] {
			v.errf(f+".notices.slack_channel", "notifiers.slack is not configured (bot_token, signing_secret)")
		}
	}
}

// noticeUnreachable warns about the people of a schedule's notified tiers
// who have no contact a shift notice can go to: a notice is never a call,
// so someone reachable only by voice would have every notice fail when it
// is sent (gateway/notices NoticeContact). A notice_channel, when set, is
// a contact of theirs that is not voice (users checks it), so it suffices.
func (v *validator) noticeUnreachable(f string, s *Schedule) {
	warned := map[string]bool{}
	check := func(ids []string) {
		for _, id := range ids {
			u := v.cfg.users[id]
			if u == nil || warned[id] {
				continue
			}
			warned[id] = true
			reachable := false
			for _, ct := range u.Contacts {
				if ct.Channel != ChannelVoice {
					reachable = true
					break
				}
			}
			if !reachable {
				v.warnf(f+".notices", "user %q is on a notified tier but has only a voice contact, and a notice is never a call: their shift notices would fail (give them a push, sms, slack or email contact)", id)
			}
		}
	}
	for _, t := range s.noticeTiers() {
		check(t.Members)
		for _, rc := range t.RosterChanges {
			check(rc.Members)
		}
		for _, l := range t.Layers {
			check(l.Members)
			for _, rc := range l.RosterChanges {
				check(rc.Members)
			}
		}
		for _, o := range s.Overrides {
			if id, ok := o.Tiers[t.Name]; ok {
				check([]string{id})
			}
		}
	}
}

func (v *validator) overrides(f string, s *Schedule, tiers map[string]bool) {
	type span struct {
		idx         int
		from, until time.Time
	}
	byTier := map[string][]span{}
	for j := range s.Overrides {
		o := &s.Overrides[j]
		of := fmt.Sprintf("%s.overrides[%d]", f, j)
		if !o.From.IsSet() || !o.Until.IsSet() {
			v.errf(of, "from and until are required")
			continue
		}
		from, until := o.From.Start(s.Location()), o.Until.EndInclusive(s.Location())
		if !until.After(from) {
			v.errf(of+".until", "until %s is not after from %s", o.Until, o.From)
			continue
		}
		if len(o.Tiers) == 0 {
			v.errf(of+".tiers", "name at least one tier and who holds it")
		}
		names := make([]string, 0, len(o.Tiers))
		for t := range o.Tiers {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			if !tiers[t] {
				v.errf(of+".tiers."+t, "schedule %q has no tier %q", s.Name, t)
			}
			v.userRef(of+".tiers."+t, o.Tiers[t])
			for _, p := range byTier[t] {
				if from.Before(p.until) && p.from.Before(until) {
					v.errf(of, "overlaps overrides[%d] on tier %q (%s to %s); overrides of one tier must not overlap",
						p.idx, t, s.Overrides[p.idx].From, s.Overrides[p.idx].Until)
				}
			}
			byTier[t] = append(byTier[t], span{j, from, until})
		}
	}
}

func (v *validator) target(field string, t Target, p *EscalationPolicy, allowLevel bool) {
	set := 0
	if t.User != "" {
		set++
		v.userRef(field+".user", t.User)
	}
	if t.Schedule != "" || t.Tier != "" {
		set++
		s := v.cfg.schedules[t.Schedule]
		switch {
		case t.Schedule == "":
			v.errf(field+".schedule", "a tier target needs its schedule")
		case s == nil:
			v.errf(field+".schedule", "no schedule %q is defined", t.Schedule)
		case t.Tier == "":
			v.errf(field+".tier", "name a tier of schedule %q", t.Schedule)
		case s.Tier(t.Tier) == nil:
			v.errf(field+".tier", "schedule %q has no tier %q", t.Schedule, t.Tier)
		}
	}
	if t.Level != "" {
		set++
		if !allowLevel {
			v.errf(field+".level", "a level target is allowed only in unresolved rules")
		} else if p.LevelIndex(t.Level) < 0 {
			v.errf(field+".level", "policy %q has no level %q", p.Name, t.Level)
		}
	}
	if set != 1 {
		v.errf(field, "a target is exactly one of: user, schedule with tier, or level")
	}
}

func (v *validator) policies() {
	seen := map[string]bool{}
	for i := range v.cfg.EscalationPolicies {
		p := &v.cfg.EscalationPolicies[i]
		f, ok := v.entry("escalation_policies", i, "name", p.Name, seen)
		if ok {
			v.cfg.policies[p.Name] = p
		}
		if p.Repeat < 0 {
			v.errf(f+".repeat", "must not be negative")
		}
		if len(p.Levels) == 0 {
			v.errf(f+".levels", "a policy needs at least one level")
		}
		p.levelIndex = map[string]int{}
		levels := map[string]bool{}
		for j := range p.Levels {
			l := &p.Levels[j]
			if l.Name == "" {
				l.Name = fmt.Sprintf("level-%d", j+1)
			}
			if v.name(fmt.Sprintf("%s.levels[%d].name", f, j), "name", l.Name, levels) {
				p.levelIndex[l.Name] = j
			}
		}
		for j := range p.Levels {
			l := &p.Levels[j]
			lf := fmt.Sprintf("%s.levels[%s]", f, l.Name)
			if len(l.Targets) == 0 {
				v.errf(lf+".targets", "a level needs at least one target")
			}
			for k, t := range l.Targets {
				v.target(fmt.Sprintf("%s.targets[%d]", lf, k), t, p, false)
			}
			if l.Timeout.IsSet() && l.Timeout.Kind == TimeoutFixed && l.Timeout.Duration <= 0 {
				v.errf(lf+".timeout", "must be more than zero")
			}
			for pr, t := range l.Timeouts {
				if t.Kind == TimeoutFixed && t.Duration <= 0 {
					v.errf(lf+".timeouts."+pr, "must be more than zero")
				}
			}
		}
		if n := len(p.Levels); n > 0 && p.Repeat == 0 {
			if l := p.Levels[n-1]; l.Timeout.IsSet() || len(l.Timeouts) > 0 {
				field := fmt.Sprintf("%s.levels[%s].timeout", f, l.Name)
				if !l.Timeout.IsSet() {
					field += "s"
				}
				v.warnf(field, "never fires: this is the last level and repeat is 0, so nothing comes after it; set repeat to start the policy over, or remove the timeout")
			}
		}
		v.ladderPastTimeout(f, p)
		for j, r := range p.Unresolved {
			rf := fmt.Sprintf("%s.unresolved[%d]", f, j)
			if len(r.Priorities) == 0 {
				v.errf(rf+".priorities", "name the priorities the rule is for")
			}
			if r.After <= 0 {
				v.errf(rf+".after", "must be more than zero")
			}
			if len(r.Notify) == 0 {
				v.errf(rf+".notify", "name who to page")
			}
			for k, t := range r.Notify {
				v.target(fmt.Sprintf("%s.notify[%d]", rf, k), t, p, true)
			}
		}
		for j, r := range p.MissingStatusUpdate {
			rf := fmt.Sprintf("%s.missing_status_update[%d]", f, j)
			if len(r.Priorities) == 0 {
				v.errf(rf+".priorities", "name the priorities the rule is for")
			}
			if r.After <= 0 {
				v.errf(rf+".after", "must be more than zero")
			}
		}
	}
}

// ladderPastTimeout warns about a level whose timeout comes before a step
// of the ladder of someone the level after it pages again (the same user,
// or the same schedule tier; with repeat, the first level after the last).
// A timeout does not cut the ladders of the people a level paged (the
// engine leaves them running when it escalates to others), but paging a
// person again starts their ladder over (run.page), so such a step does
// not come when their notification rules say: it is put off until the
// last time they are paged. Never an error: that last time comes (the last
// level of the last round does not time out), so nobody is unreachable.
// Only fixed timeouts are compared, the shortest of the level's.
func (v *validator) ladderPastTimeout(f string, p *EscalationPolicy) {
	n := len(p.Levels)
	for j := range p.Levels {
		l := &p.Levels[j]
		next, again := j+1, ""
		if next == n {
			if p.Repeat == 0 {
				continue // its timeout never fires; policies warns
			}
			next, again = 0, " (repeat starts the policy over)"
		}
		field, timeout := "", time.Duration(0)
		if l.Timeout.IsSet() && l.Timeout.Kind == TimeoutFixed {
			field, timeout = "timeout", time.Duration(l.Timeout.Duration)
		}
		for _, pr := range slices.Sorted(maps.Keys(l.Timeouts)) {
			if t := l.Timeouts[pr]; t.Kind == TimeoutFixed && t.Duration > 0 && (field == "" || time.Duration(t.Duration) < timeout) {
				field, timeout = "timeouts."+pr, time.Duration(t.Duration)
			}
		}
		if field == "" || timeout <= 0 {
			continue
		}
		seen := map[string]bool{}
		for _, id := range v.pagedAgain(l.Targets, p.Levels[next].Targets) {
			u := v.cfg.users[id]
			if u == nil || seen[id] {
				continue
			}
			seen[id] = true
			var late []string
			for _, ladder := range []struct {
				name  string
				steps []NotifyStep
			}{{"", u.NotificationRules.High}, {", notification_rules.low", u.NotificationRules.Low}} {
				for _, st := range ladder.steps {
					// A step due at the timeout itself goes out first: it
					// was scheduled before the escalation.
					if time.Duration(st.After) > timeout {
						late = append(late, fmt.Sprintf("%s at %s%s", st.Channel, st.After, ladder.name))
						break
					}
				}
			}
			if len(late) > 0 {
				v.warnf(fmt.Sprintf("%s.levels[%s].%s", f, l.Name, field),
					"%s is shorter than the ladder of user %q (%s): at the timeout level %s pages them again%s and their ladder starts over, so that step and the ones after it are put off until the last time they are paged; move the step before the timeout or lengthen the timeout",
					Duration(timeout), id, strings.Join(late, "; "), p.Levels[next].Name, again)
			}
		}
	}
}

// pagedAgain is who a level with targets next pages that a level with
// targets cur paged too, as far as the config says for certain: the users
// both name, and every member of a schedule tier both name (any of them
// may hold it then, overrides in the file included).
func (v *validator) pagedAgain(cur, next []Target) []string {
	var out []string
	for _, t := range cur {
		if !slices.Contains(next, t) {
			continue
		}
		switch {
		case t.User != "":
			out = append(out, t.User)
		case t.Schedule != "":
			s := v.cfg.schedules[t.Schedule]
			if s == nil {
				continue
			}
			tr := s.Tier(t.Tier)
			if tr == nil {
				continue
			}
			out = append(out, tr.Members...)
			for _, rc := range tr.RosterChanges {
				out = append(out, rc.Members...)
			}
			for _, ly := range tr.Layers {
				out = append(out, ly.Members...)
				for _, rc := range ly.RosterChanges {
					out = append(out, rc.Members...)
				}
			}
			for _, o := range s.Overrides {
				if id, ok := o.Tiers[t.Tier]; ok {
					out = append(out, id)
				}
			}
		}
	}
	return out
}

func (v *validator) services() {
	seen := map[string]bool{}
	keys := map[Secret]keyOwner{}
	for i := range v.cfg.Services {
		s := &v.cfg.Services[i]
		f, ok := v.entry("services", i, "name", s.Name, seen)
		if ok {
			v.cfg.services[s.Name] = i
		}
		sc, err := LookupScheme(s.PriorityScheme)
		if err != nil {
			v.errf(f+".priority_scheme", "%v", err)
			sc = SchemeP
		}
		s.scheme = sc
		if cp := v.cfg.comp[s.Compensation]; s.Compensation != "" && cp == nil {
			v.errf(f+".compensation", "no compensation %q is defined", s.Compensation)
		} else if cp != nil {
			for j, r := range cp.CompDays {
				for _, pr := range r.Priorities {
					if !sc.Has(pr) {
						v.errf(fmt.Sprintf("compensation[%s].comp_days[%d].priorities", cp.Name, j), "priority %q is not in scheme %s of service %q", pr, sc.Name, s.Name)
					}
				}
			}
		}
		if s.BusinessHours != "" && v.cfg.calendars[s.BusinessHours] == nil {
			v.errf(f+".business_hours", "no business_hours calendar %q is defined", s.BusinessHours)
		}
		if s.SlackChannel != "" {
			if !slackChannelRE.MatchString(s.SlackChannel) {
				v.errf(f+".slack_channel", "%q is not a Slack channel (C... or #name)", s.SlackChannel)
			}
			if !v.cfg.transports["slack"] {
				v.errf(f+".slack_channel", "notifiers.slack is not configured (bot_token, signing_secret)")
			}
		}
		given := v.integrations(f+".integrations", s, keys)
		if !given {
			// Every way in (Alertmanager, Events v2, Opsgenie, heartbeat
			// pings) presents one of the service's keys: without one the
			// service never gets an incident. A warning, not an error:
			// route and simulate work on it while it is being written.
			v.warnf(f+".integrations", "no integration key (alertmanager_key, pagerduty_routing_key or opsgenie_key): no alert can reach the service, so it pages nobody")
		}
		v.heartbeats(f, s, given)
		v.silences(f, s)
		switch s.IncidentKey {
		case "":
			s.IncidentKey = "group"
		case "group", "fingerprint":
		default:
			v.errf(f+".incident_key", "unknown incident key %q (use group or fingerprint)", s.IncidentKey)
		}
		if s.SeverityLabel == "" {
			s.SeverityLabel = "severity"
		}
		for sev, pr := range s.Severities {
			if !sc.Has(pr) {
				v.errf(f+".severities."+sev, "priority %q is not in scheme %s %v", pr, sc.Name, sc.Priorities)
			}
		}
		if s.DefaultPriority == "" {
			s.DefaultPriority = sc.Priorities[1]
		} else if !sc.Has(s.DefaultPriority) {
			v.errf(f+".default_priority", "priority %q is not in scheme %s %v", s.DefaultPriority, sc.Name, sc.Priorities)
		}
		for pr, t := range s.Targets {
			tf := f + ".targets." + pr
			if s.BusinessHours == "" && t.usesNextBusinessDay() {
				v.errf(tf, "next_business_day needs the service to name a business_hours calendar")
			}
			if !sc.Has(pr) {
				v.errf(tf, "priority %q is not in scheme %s %v", pr, sc.Name, sc.Priorities)
			}
			v.targetSet(tf, t.TargetSet)
			if t.BusinessHours != nil {
				v.targetSet(tf+".business_hours", *t.BusinessHours)
			}
			if t.OffHours != nil {
				v.targetSet(tf+".off_hours", *t.OffHours)
				if s.BusinessHours == "" {
					// Always in business hours: the nights and weekends it
					// was written for get the base targets, their urgency
					// and acknowledge timeout included.
					v.warnf(tf+".off_hours", "never applies: service %q names no business_hours calendar, so it is always in business hours, and %s incidents at night and on weekends get the base targets%s; name a calendar in services[%s].business_hours",
						s.Name, pr, urgencyOf(t.TargetSet), s.Name)
				}
			}
		}
		p := v.cfg.policies[s.EscalationPolicy]
		switch {
		case s.EscalationPolicy == "":
			v.errf(f+".escalation_policy", "escalation_policy is required")
		case p == nil:
			v.errf(f+".escalation_policy", "no escalation policy %q is defined", s.EscalationPolicy)
		default:
			v.servicePolicy(f, s, p)
		}
		v.rules(f, s, p)
	}
}

// urgencyOf says the urgency a target set gives, for a warning: ""
// when it sets none.
func urgencyOf(t TargetSet) string {
	if t.Urgency == "" {
		return " (high urgency, the default)"
	}
	return " (" + t.Urgency + " urgency)"
}

// keyOwner is the service and field that first gave an integration key.
type keyOwner struct{ service, field string }

// integrations resolves the service's integration keys and checks that no
// other service gives any of them, whatever its type: a heartbeat ping is
// matched against every key of every service (gateway
// serviceByIntegrationKey), so a key shared by two services, even as an
// Alertmanager key of one and an Opsgenie key of the other, would land one
// service's pings on the other and page a false HeartbeatMissing. One
// service may give the same key for several types (the quickstart does).
// It reports whether the service gives any key, resolved or not (a
// ${VAR} or a _file check-config cannot read still gives one).
func (v *validator) integrations(f string, s *Service, keys map[Secret]keyOwner) (given bool) {
	for _, k := range s.Integrations.Keys() {
		if *k.Key != "" || k.File != "" {
			given = true
		}
		key := v.secret(f+"."+k.Field, *k.Key, k.File)
		*k.Key = key
		if key == "" {
			continue
		}
		if other, ok := keys[key]; ok && other.service != s.Name {
			v.errf(f+"."+k.Field, "the same key is used by service %q (integrations.%s); each service needs its own", other.service, other.field)
			continue
		}
		if _, ok := keys[key]; !ok {
			keys[key] = keyOwner{s.Name, k.Field}
		}
	}
	return given
}

func (v *validator) targetSet(f string, t TargetSet) {
	switch t.Urgency {
	case "", UrgencyHigh, UrgencyLow:
	default:
		v.errf(f+".urgency", "unknown urgency %q (use high or low)", t.Urgency)
	}
	for name, to := range map[string]Timeout{"acknowledge": t.Acknowledge, "initial_response": t.InitialResponse, "resolution": t.Resolution, "status_update": t.StatusUpdate} {
		if to.Kind == TimeoutAckTarget {
			v.errf(f+"."+name, "ack_target is for escalation level timeouts only")
		}
		if to.IsSet() && to.Kind == TimeoutFixed && to.Duration <= 0 {
			v.errf(f+"."+name, "must be more than zero")
		}
	}
}

// servicePolicy checks what only makes sense for a service and its policy
// together: priorities named in the policy belong to the service's scheme,
// and every level but a final unrepeated one has a timeout for every priority.
func (v *validator) servicePolicy(f string, s *Service, p *EscalationPolicy) {
	sc := s.scheme
	pf := fmt.Sprintf("escalation_policies[%s]", p.Name)
	for j, l := range p.Levels {
		lf := fmt.Sprintf("%s.levels[%s]", pf, l.Name)
		for pr := range l.Timeouts {
			if !sc.Has(pr) {
				v.errf(lf+".timeouts."+pr, "priority %q is not in scheme %s of service %q", pr, sc.Name, s.Name)
			}
		}
		last := j == len(p.Levels)-1 && p.Repeat == 0
		for _, pr := range sc.Priorities {
			t, ok := l.Timeouts[pr]
			if !ok {
				t = l.Timeout
			}
			if !t.IsSet() {
				if !last {
					v.errf(lf+".timeout", "no timeout for %s (service %q): set timeout or timeouts.%s", pr, s.Name, pr)
				}
				continue
			}
			if t.Kind == TimeoutNextBusinessDay && s.BusinessHours == "" {
				v.errf(lf+".timeouts."+pr, "next_business_day, but service %q names no business_hours calendar", s.Name)
			}
			if t.Kind == TimeoutAckTarget && !s.Targets[pr].hasAck() {
				v.errf(lf+".timeouts."+pr, "ack_target, but service %q sets no acknowledge target for %s", s.Name, pr)
			}
		}
	}
	if p.Repeat == 0 && len(p.Levels) > 0 {
		v.warnf(pf+".repeat", "%s and %s incidents of service %q that nobody acknowledges stop paging once level %s has been paged%s: set repeat so the policy starts over",
			sc.Priorities[0], sc.Priorities[1], s.Name, p.Levels[len(p.Levels)-1].Name, lastLevelAt(p, sc.Priorities[0]))
	}
	for j, r := range p.Unresolved {
		for _, pr := range r.Priorities {
			if !sc.Has(pr) {
				v.errf(fmt.Sprintf("%s.unresolved[%d].priorities", pf, j), "priority %q is not in scheme %s of service %q", pr, sc.Name, s.Name)
			}
		}
	}
	for j, r := range p.MissingStatusUpdate {
		for _, pr := range r.Priorities {
			if !sc.Has(pr) {
				v.errf(fmt.Sprintf("%s.missing_status_update[%d].priorities", pf, j), "priority %q is not in scheme %s of service %q", pr, sc.Name, s.Name)
			}
		}
	}
}

// lastLevelAt says when a policy's last level is paged for a priority, as
// " (at +1h)", when every level before it has a fixed timeout; "" otherwise.
func lastLevelAt(p *EscalationPolicy, pr string) string {
	if len(p.Levels) < 2 {
		return ""
	}
	var at time.Duration
	for _, l := range p.Levels[:len(p.Levels)-1] {
		t, ok := l.Timeouts[pr]
		if !ok {
			t = l.Timeout
		}
		if t.Kind != TimeoutFixed || !t.IsSet() {
			return ""
		}
		at += t.Duration
	}
	return fmt.Sprintf(" (%s after the trigger)", Duration(at))
}

// hasAck reports whether an acknowledge target is in force at every hour:
// on the base set, or on both the business-hours and off-hours variants.
func (t PriorityTargets) hasAck() bool {
	return t.Acknowledge.IsSet() ||
		(t.BusinessHours != nil && t.BusinessHours.Acknowledge.IsSet() &&
			t.OffHours != nil && t.OffHours.Acknowledge.IsSet())
}

// usesNextBusinessDay reports whether any target, in any variant, counts to
// the next business day.
func (t PriorityTargets) usesNextBusinessDay() bool {
	for _, ts := range []*TargetSet{&t.TargetSet, t.BusinessHours, t.OffHours} {
		if ts == nil {
			continue
		}
		for _, to := range []Timeout{ts.Acknowledge, ts.InitialResponse, ts.Resolution, ts.StatusUpdate} {
			if to.Kind == TimeoutNextBusinessDay {
				return true
			}
		}
	}
	return false
}

func (v *validator) rules(f string, s *Service, p *EscalationPolicy) {
	names := map[string]bool{}
	// parsed: the rules whose every matcher parsed, the only ones whose
	// reach can be compared (shadowed).
	parsed := make([]bool, len(s.Rules))
	for j := range s.Rules {
		r := &s.Rules[j]
		rf := fmt.Sprintf("%s.rules[%d]", f, j)
		parsed[j] = len(r.Matchers) > 0
		if r.Name != "" {
			if names[r.Name] {
				v.errf(rf+".name", "duplicate rule name %q", r.Name)
			}
			names[r.Name] = true
		}
		if len(r.Matchers) == 0 {
			v.errf(rf+".matchers", "a rule needs at least one matcher (write `alertname=~\".*\"` to match every alert: PagerDuty and Opsgenie alerts have no alertname)")
		}
		r.matchers = r.matchers[:0]
		for k, m := range r.Matchers {
			ms, err := labels.ParseMatchers(m)
			if err == nil && len(ms) == 0 {
				// An empty string parses as no matchers, which would make the
				// rule match every alert.
				err = errors.New("it is empty")
			}
			if err != nil {
				v.errf(fmt.Sprintf("%s.matchers[%d]", rf, k), "bad matcher %q: %q", m, err.Error())
				parsed[j] = false
				continue
			}
			r.matchers = append(r.matchers, ms...)
		}
		if r.Priority != "" && !s.scheme.Has(r.Priority) {
			v.errf(rf+".priority", "priority %q is not in scheme %s %v", r.Priority, s.scheme.Name, s.scheme.Priorities)
		}
		for k, l := range r.PageImmediately {
			if p != nil && p.LevelIndex(l) < 0 {
				v.errf(fmt.Sprintf("%s.page_immediately[%d]", rf, k), "policy %q has no level %q", p.Name, l)
			}
		}
	}
	v.shadowed(f, s, parsed)
}

// shadowed reports the rules that can never match: rules are tried in
// order and the first match wins, so a rule that has every matcher of an
// earlier one (and maybe more) is reached by no alert. Its priority and
// page_immediately never apply: AIVO's executive trigger written below a
// rule on severity="critical" alone would never page the executives at
// once. Only matchers written alike are compared, so what is reported is
// certain; rules whose matchers overlap otherwise are not.
func (v *validator) shadowed(f string, s *Service, parsed []bool) {
	for j := range s.Rules {
		if !parsed[j] {
			continue
		}
		has := map[string]bool{}
		for _, m := range s.Rules[j].matchers {
			has[m.String()] = true
		}
		for i := 0; i < j; i++ {
			if !parsed[i] {
				continue
			}
			covers := true
			var ms []string
			for _, m := range s.Rules[i].matchers {
				covers = covers && has[m.String()]
				ms = append(ms, m.String())
			}
			if !covers {
				continue
			}
			earlier := fmt.Sprintf("rules[%d]", i)
			if n := s.Rules[i].Name; n != "" {
				earlier += fmt.Sprintf(" (%q)", n)
			}
			v.errf(fmt.Sprintf("%s.rules[%d]", f, j), "never matches: %s comes first and matches every alert this rule matches (%s), and the first match wins; move it above %s, or remove it",
				earlier, strings.Join(ms, ", "), fmt.Sprintf("rules[%d]", i))
			break
		}
	}
}

// publicURLReach warns when server.public_url is an address the providers
// that call it cannot reach (loopback, a private or link-local address)
// while contacts depend on it: Twilio fetches a voice call's script from
// it, and Pushover calls back on it when someone acknowledges in the app.
// A provider given a stand-in (api_url: an egress proxy, a test's fake)
// may reach it, so then it is not judged; nor is a host name.
func (v *validator) publicURLReach() {
	u, err := url.Parse(v.cfg.Server.PublicURL)
	if v.cfg.Server.PublicURL == "" || err != nil {
		return
	}
	host := u.Hostname()
	kind := ""
	ip := net.ParseIP(host)
	switch {
	case host == "localhost" || strings.HasSuffix(host, ".localhost") || (ip != nil && ip.IsLoopback()):
		kind = "a loopback address"
	case ip != nil && ip.IsUnspecified():
		kind = "an unspecified address"
	case ip != nil && (ip.IsPrivate() || ip.IsLinkLocalUnicast()):
		kind = "a private address"
	default:
		return
	}
	voice, pushover := false, false
	for _, usr := range v.cfg.Users {
		for _, ct := range usr.Contacts {
			voice = voice || (ct.Via == "twilio" && ct.Channel == ChannelVoice)
			pushover = pushover || ct.Via == "pushover"
		}
	}
	n := v.cfg.Notifiers
	if voice && n.Twilio.APIURL == "" {
		v.warnf("server.public_url", "%q is %s, which Twilio cannot reach: calls via twilio fetch their script from it, so every call would play Twilio's application error and no keypress would acknowledge; set the URL Twilio reaches pagerd at",
			v.cfg.Server.PublicURL, kind)
	}
	if pushover && n.Pushover.APIURL == "" {
		v.warnf("server.public_url", "%q is %s, which Pushover cannot reach: an acknowledgement in the Pushover app comes back on it, so it would never reach pagerd, which would go on paging; set the URL Pushover reaches pagerd at",
			v.cfg.Server.PublicURL, kind)
	}
}
