package policy

import (
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
)

// Config is a whole pagerd configuration: who exists, when they are on call,
// how alerts become incidents of a priority, and how incidents escalate.
// Load returns it validated, with every cross-reference resolved.
type Config struct {
	Server             ServerConfig       `yaml:"server"`
	Notifiers          NotifiersConfig    `yaml:"notifiers"`
	API                APIConfig          `yaml:"api"`
	BusinessHours      []BusinessHours    `yaml:"business_hours"`
	Users              []User             `yaml:"users"`
	Schedules          []Schedule         `yaml:"schedules"`
	EscalationPolicies []EscalationPolicy `yaml:"escalation_policies"`
	Services           []Service          `yaml:"services"`
	Compensation       []Compensation     `yaml:"compensation"`
	Reports            ReportsConfig      `yaml:"reports"`
	// Maintenance are the scheduled maintenance windows written in the
	// config; windows made at run time (the API, pagerd maintenance) live
	// in the store.
	Maintenance []MaintenanceWindow `yaml:"maintenance"`
	// Console turns on the web console and says how people sign in.
	Console ConsoleConfig `yaml:"console"`

	// File is the path the config was read from, for error messages.
	File string `yaml:"-"`
	// Hash is the SHA-256 of the file's bytes (hex), set by Parse: how
	// replicas tell, through the store, whether they run the same config
	// (gateway/replicaconfig). Empty for a config not parsed from a file.
	Hash string `yaml:"-"`

	users     map[string]*User
	schedules map[string]*Schedule
	policies  map[string]*EscalationPolicy
	calendars map[string]*BusinessHours
	// services indexes Services by name. It holds indexes, not pointers:
	// fmt prints unexported fields raw, and a *Service would show its keys.
	services   map[string]int
	comp       map[string]*Compensation
	alwaysOpen *BusinessHours
	// transports says which transports have their notifiers settings.
	transports map[string]bool
	// warnings are problems that do not stop the config from loading;
	// missing are secrets it reads from the environment or a file that
	// are not there now (field: what is missing).
	warnings []string
	missing  []string
	// ladderWarnings are, by user id, the warnings on the user's ladders
	// that their pages reach nobody for real (logOnlyLadders,
	// lateFirstSteps), for OnCallWarnings.
	ladderWarnings map[string][]string
}

// Warnings are what check-config prints about a config that loads but will
// not behave as its author expects (a timeout that can never fire, paging
// that stops while an urgent incident is unacknowledged), followed by every
// secret `pagerd serve` will need that is not set here. Each names the field.
// `pagerd check-config --strict` treats them as errors.
func (c *Config) Warnings() []string {
	out := append([]string(nil), c.warnings...)
	for _, m := range c.missing {
		out = append(out, m+" (pagerd serve needs it)")
	}
	return out
}

// CheckSecrets returns a *ConfigError naming every secret (or ${ENV}
// setting) the config reads from the environment or a file that is not
// there: the daemon must not start without one, or it would page through a
// transport it cannot authenticate to, or not at all. The read-only commands
// never call it.
func (c *Config) CheckSecrets() error {
	if len(c.missing) == 0 {
		return nil
	}
	return &ConfigError{File: c.File, Problems: append([]string(nil), c.missing...)}
}

// ServerConfig is the daemon's own settings; `pagerd serve` flags override
// them. The policy core only checks them; the gateway uses them.
type ServerConfig struct {
	// Listen is the HTTP address (default ":8080").
	Listen string `yaml:"listen"`
	// PublicURL is how people and providers reach pagerd (ack links,
	// Twilio callbacks). Default http://localhost plus the listen port.
	PublicURL string `yaml:"public_url"`
	// DataDir holds the embedded store when no Redis is configured.
	DataDir string `yaml:"data_dir"`
	// Redis, when its URL is set, is where incidents live instead.
	Redis RedisConfig `yaml:"redis"`
	// TrustedProxies are the CIDRs whose X-Forwarded-For is believed for
	// the client address; nobody else's is.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// RateLimit bounds requests per integration key; excess is refused
	// with an answer the sender retries (503 to Alertmanager, whose webhook
	// retries 5xx but not 429; 429 to PagerDuty clients, which retry it).
	// Unset, it is DefaultIngestRateLimit; per_second 0 turns it off.
	RateLimit *RateLimit `yaml:"rate_limit"`
	// Admission bounds the intake (read at start): at most MaxInflight
	// alerts are taken in at once and up to MaxQueue more wait for a slot;
	// one that finds the queue full, or no slot within QueueTimeout, is
	// refused with a 503 (429 on the PagerDuty and Opsgenie endpoints) so
	// the sender retries, and the alerts taken keep their latency.
	// While the dispatcher is more than BrakeBehind behind with due pages
	// (default 500ms), the intake takes fewer alerts at once (halving,
	// down to a sixteenth of MaxInflight), so the pages owed go out first.
	Admission struct {
		MaxInflight  int      `yaml:"max_inflight"`
		MaxQueue     int      `yaml:"max_queue"`
		QueueTimeout Duration `yaml:"queue_timeout"`
		BrakeBehind  Duration `yaml:"brake_behind"`
	} `yaml:"admission"`
	// LinkSecret signs the ack links in pages (HMAC-SHA256); with a
	// PublicURL, pages carry a link that acknowledges or resolves as the
	// person paged. At least 16 bytes; keep it in a file or the environment.
	LinkSecret     Secret `yaml:"link_secret"`
	LinkSecretFile string `yaml:"link_secret_file"`
	// LinkTTL is how long an ack link works (default 24h).
	LinkTTL Duration `yaml:"link_ttl"`
	// Lease is how long a replica's claim on an incident lasts before
	// another replica may take the incident over (default 30s): the most a
	// step is delayed when the replica working it dies.
	Lease Duration `yaml:"lease"`
	// Retention is how long a resolved incident is kept, counted from its
	// resolution, before the store expires it (DefaultRetention, 400 days,
	// when unset; at least MinRetention). Open incidents are never expired.
	// Reports and handoff documents read the history it keeps.
	Retention Duration `yaml:"retention"`
}

// PathPrefix is the path of PublicURL, escaped and without its trailing
// slash ("" when pagerd is at the root of its host): a reverse proxy that
// serves pagerd under it strips it, so pagerd's routes stay at the root
// while every URL it gives a browser (an ack link's buttons, the console's
// links, forms and redirects) must carry it.
func (s *ServerConfig) PathPrefix() string {
	u, err := url.Parse(s.PublicURL)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.EscapedPath(), "/")
}

// NotifiersConfig configures the transports pages go out on.
type NotifiersConfig struct {
	// Log writes one JSON line per page; Path "-" or "" is stdout.
	Log struct {
		Path   string `yaml:"path"`
		DryRun bool   `yaml:"dry_run"`
	} `yaml:"log"`
	// Webhook POSTs each page to the contact's address; ntfy shares its
	// settings. Unset, they are the transports' defaults (a 10s timeout, 3
	// tries), as are the URLs and timeouts of PagerDuty and Twilio below:
	// each transport sets its own, in one place.
	Webhook struct {
		Timeout     Duration `yaml:"timeout"`
		MaxAttempts int      `yaml:"max_attempts"`
		DryRun      bool     `yaml:"dry_run"`
	} `yaml:"webhook"`
	// Ntfy has only dry_run of its own: its timeout and tries are the
	// webhook's.
	Ntfy struct {
		DryRun bool `yaml:"dry_run"`
	} `yaml:"ntfy"`
	// Storm bundles pages to one person on one channel: the first
	// Immediate pages (default 3) in a Window (default 10s; 0s turns
	// bundling off) go out at once, the rest together as one message when
	// the window closes.
	Storm struct {
		Window    *Duration `yaml:"window"`
		Immediate int       `yaml:"immediate"`
	} `yaml:"storm"`
	// PagerDuty pushes through the PagerDuty app: a contact `via: pagerduty`
	// has the routing key of a PagerDuty service that notifies that person.
	// WebhookSecret verifies PagerDuty's v3 webhooks (acknowledged and
	// resolved in PagerDuty come back to pagerd).
	PagerDuty struct {
		EventsURL         string   `yaml:"events_url"`
		Timeout           Duration `yaml:"timeout"`
		WebhookSecret     Secret   `yaml:"webhook_secret"`
		WebhookSecretFile string   `yaml:"webhook_secret_file"`
		DryRun            bool     `yaml:"dry_run"`
	} `yaml:"pagerduty"`
	// Twilio sends SMS pages (contacts `via: twilio`, channel sms) from
	// From; delivery reports come back to the public URL, signed.
	// PreviousAuthToken is, while the auth token is being rotated, the
	// token Twilio still signs callbacks with (its primary, until the new
	// one is promoted): callbacks signed with either are taken, pages go
	// out with AuthToken.
	Twilio struct {
		AccountSID            string   `yaml:"account_sid"`
		AuthToken             Secret   `yaml:"auth_token"`
		AuthTokenFile         string   `yaml:"auth_token_file"`
		PreviousAuthToken     Secret   `yaml:"previous_auth_token"`
		PreviousAuthTokenFile string   `yaml:"previous_auth_token_file"`
		From                  string   `yaml:"from"`
		APIURL                string   `yaml:"api_url"`
		Timeout               Duration `yaml:"timeout"`
		DryRun                bool     `yaml:"dry_run"`
	} `yaml:"twilio"`
	// Slack posts each incident of a service with a slack_channel to that
	// channel, one message kept up to date, with buttons that act as the
	// Slack user who presses them (users[].slack_user); contacts `via:
	// slack` are paged by direct message; /oncall answers who is on call.
	// BotToken is the app's bot token (xoxb-...), SigningSecret verifies
	// what Slack sends (buttons, slash commands).
	Slack SlackConfig `yaml:"slack"`
	// Email sends pages and shift notices through an SMTP server
	// (contacts `via: email`).
	Email EmailConfig `yaml:"email"`
	// Pushover pushes pages to the Pushover app (contacts `via:
	// pushover`, the address a user key), high urgency at emergency
	// priority: repeated until acknowledged in the app, which
	// acknowledges in pagerd.
	Pushover PushoverConfig `yaml:"pushover"`
	// Breaker is the circuit breaker around every transport: after
	// Failures pages in a row fail in a way worth retrying (after their
	// retries), pages on that transport (or webhook host) fail at once for
	// Cooldown, then one page probes it. Failures 0 turns it off.
	Breaker struct {
		Failures *int     `yaml:"failures"`
		Cooldown Duration `yaml:"cooldown"`
	} `yaml:"breaker"`
	// RateLimits caps pages per transport ("twilio": its messages per
	// second); pages over the rate wait for their turn.
	RateLimits map[string]RateLimit `yaml:"rate_limits"`
	// CheckAtStart, unset or true, has pagerd serve ask each provider it
	// pages through whether it takes pagerd's credentials (Twilio, SMTP,
	// Slack, Pushover's user keys), in the background after start and
	// after reloads, sending nothing; false turns that off.
	CheckAtStart *bool `yaml:"check_at_start"`
}

// ChecksProviders reports whether pagerd serve checks the providers
// (check_at_start, default true).
func (n NotifiersConfig) ChecksProviders() bool { return n.CheckAtStart == nil || *n.CheckAtStart }

// SlackConfig is notifiers.slack.
type SlackConfig struct {
	BotToken          Secret   `yaml:"bot_token"`
	BotTokenFile      string   `yaml:"bot_token_file"`
	SigningSecret     Secret   `yaml:"signing_secret"`
	SigningSecretFile string   `yaml:"signing_secret_file"`
	APIURL            string   `yaml:"api_url"`
	Timeout           Duration `yaml:"timeout"`
	// DryRun records Slack pages and channel messages instead of sending
	// them (shadow mode for the transport).
	DryRun bool `yaml:"dry_run"`
}

// Configured reports whether Slack's token and signing secret are set
// (pagerd serve refuses a config whose secrets are missing).
func (s SlackConfig) Configured() bool { return s.BotToken != "" && s.SigningSecret != "" }

// EmailConfig is notifiers.email: the SMTP server (Smarthost, host:port)
// pages are sent through, From whom, the login, and how the connection is
// protected (TLS: starttls, the default, required; tls, implicit TLS as on
// port 465; none, for a relay on the same host or network).
type EmailConfig struct {
	Smarthost    string   `yaml:"smarthost"`
	From         string   `yaml:"from"`
	Username     string   `yaml:"username"`
	Password     Secret   `yaml:"password"`
	PasswordFile string   `yaml:"password_file"`
	TLS          string   `yaml:"tls"`
	CAFile       string   `yaml:"ca_file"`
	Timeout      Duration `yaml:"timeout"`
	// DryRun records email pages instead of sending them.
	DryRun bool `yaml:"dry_run"`
}

// Email TLS modes.
const (
	EmailSTARTTLS = "starttls"
	EmailTLS      = "tls"
	EmailNoTLS    = "none"
)

// PushoverConfig is notifiers.pushover: the application's API token, and
// how emergency-priority pages repeat (every Retry until acknowledged,
// for at most Expire).
type PushoverConfig struct {
	Token     Secret   `yaml:"token"`
	TokenFile string   `yaml:"token_file"`
	APIURL    string   `yaml:"api_url"`
	Retry     Duration `yaml:"retry"`
	Expire    Duration `yaml:"expire"`
	Timeout   Duration `yaml:"timeout"`
	// DryRun records Pushover pages instead of sending them.
	DryRun bool `yaml:"dry_run"`
}

// RedisConfig says where Redis is. URL forms: redis://[user:pass@]host:port[/db]
// and rediss:// (TLS) for one server, redis-sentinel://[user:pass@]h1:p1,h2:p2/MASTER[/db]
// for Sentinel, redis-cluster://[user:pass@]h1:p1,h2:p2 for Cluster. The URL
// is a secret (it may hold a password): url_file and ${ENV} work.
type RedisConfig struct {
	URL     Secret `yaml:"url"`
	URLFile string `yaml:"url_file"`
	// Prefix namespaces the keys (default "pagerd").
	Prefix string `yaml:"prefix"`
}

// RateLimit is a token bucket per integration key.
type RateLimit struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
	// Concurrency, for a transport (notifiers.rate_limits), caps the
	// pages sent to it at once (0: no cap); the others wait their turn.
	Concurrency int `yaml:"concurrency"`
}

// DefaultIngestRateLimit is server.rate_limit when the config does not set
// it: per integration key, a burst of 1,000 requests, then 100 a second. An
// Alertmanager sends one request per alert group per group_interval and
// retries a refused one with backoff for about a group_interval, so a storm
// of 10,000 one-alert groups is taken in about 90 seconds, well inside that
// retry window, while a sender stuck in a loop is held to 100 requests a
// second (each bounded by the per-request caps).
var DefaultIngestRateLimit = RateLimit{PerSecond: 100, Burst: 1000}

// PageSendTimeout bounds the sending of one page, its retries and rate
// limit waits included (the dispatcher's default): a lease shorter than it
// can run out mid-send.
const PageSendTimeout = 20 * time.Second

// APIConfig holds the bearer tokens that may use the incident API.
type APIConfig struct {
	Tokens []APIToken `yaml:"tokens"`
}

// APIToken is one named bearer token for the incident API.
type APIToken struct {
	Name      string `yaml:"name"`
	Token     Secret `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// Role is what the token may do: RoleViewer, RoleResponder, RoleAdmin,
	// or "" (no role: a responder's powers, kept for configs written
	// before roles existed).
	Role Role `yaml:"role"`
}

// Role is an API token's role. Each role may do what the one before it
// may, and more.
type Role string

// API token roles.
const (
	// RoleViewer reads: incidents, their timelines, who is on call.
	RoleViewer Role = "viewer"
	// RoleResponder also acts: acknowledges, resolves, escalates and
	// updates incidents, and manages overrides and maintenance windows.
	RoleResponder Role = "responder"
	// RoleAdmin also administers the daemon: POST /-/reload and
	// GET /-/backup.
	RoleAdmin Role = "admin"
)

// BusinessHours is a named calendar: working days, opening hours and holidays
// in one time zone. Targets and urgency switch on it; "next business day"
// deadlines are computed from it.
type BusinessHours struct {
	Name     string    `yaml:"name"`
	TimeZone string    `yaml:"time_zone"`
	Days     []Weekday `yaml:"days"`
	Start    TimeOfDay `yaml:"start"`
	End      TimeOfDay `yaml:"end"`
	Holidays []Holiday `yaml:"holidays"`
	loc      *time.Location
	open     [7]bool
}

// Holiday is a day the calendar treats as off-hours all day.
type Holiday struct {
	Date Date   `yaml:"date"`
	Name string `yaml:"name"`
}

// User is a person who can be paged.
type User struct {
	ID    string `yaml:"id"`
	Name  string `yaml:"name"`
	Title string `yaml:"title"`
	// Email is the person's address: what an imported user is matched on
	// (Opsgenie usernames, PagerDuty and Grafana OnCall emails) and what the
	// web console's login maps to. Unique across users, compared without
	// regard to case.
	Email string `yaml:"email"`
	// OIDCSubject is the subject (the ID token's sub claim) of the person
	// at the console's identity provider (console.oidc). A token with it
	// signs them in whatever email it carries, or with none: subjects are
	// never reassigned, where an email may be, and some providers send no
	// email. Unique across users, compared exactly (subjects are case
	// sensitive).
	OIDCSubject string `yaml:"oidc_subject"`
	// Role is what the person may do in the web console: RoleViewer,
	// RoleResponder (the default) or RoleAdmin, as API tokens have.
	Role Role `yaml:"role"`
	// PasswordHash, a bcrypt hash, lets the person sign in to the console
	// with a password (the fallback for teams without an identity
	// provider).
	PasswordHash      Secret            `yaml:"password_hash"`
	PasswordHashFile  string            `yaml:"password_hash_file"`
	TimeZone          string            `yaml:"time_zone"`
	Contacts          []Contact         `yaml:"contacts"`
	Backup            *BackupContact    `yaml:"backup_contact"`
	NotificationRules NotificationRules `yaml:"notification_rules"`
	// SlackUser is the person's Slack member id (U...): pressing a button
	// in Slack acts as them, and a `channel: slack` contact without an
	// address messages them.
	SlackUser string `yaml:"slack_user"`
	// NoticeChannel is the channel shift notices reach them on (default
	// the first step of their low-urgency ladder).
	NoticeChannel string `yaml:"notice_channel"`
	loc           *time.Location
}

// Channel kinds a person can be reached on.
const (
	ChannelPush  = "push"
	ChannelSMS   = "sms"
	ChannelVoice = "voice"
	// ChannelSlack is a Slack direct message; ChannelEmail an email.
	ChannelSlack = "slack"
	ChannelEmail = "email"
)

// Contact is one way to reach a user: a channel kind (push, sms, voice), the
// address on it, and the transport that carries it (log, webhook, twilio,
// pagerduty, ntfy).
type Contact struct {
	Channel string `yaml:"channel"`
	Address string `yaml:"address"`
	Via     string `yaml:"via"`
	// PagerDutyService is, for a contact via pagerduty, the id of the
	// PagerDuty service its routing key belongs to (PF9KMXH), as
	// PagerDuty's webhooks name it: a person whose pages go through two
	// PagerDuty services has an alert under one dedup key in each, and a
	// merge in one of them (which moves that alert into another incident)
	// must keep pagerd from acknowledging that one only. Optional: unset,
	// a merge under the key keeps every service's alert from being told.
	PagerDutyService string `yaml:"pagerduty_service,omitempty"`
}

// BackupContact is someone to call when the user cannot be reached; it is
// informational (shown by `oncall -o json`), never paged automatically.
type BackupContact struct {
	Name     string `yaml:"name" json:"name"`
	Relation string `yaml:"relation" json:"relation,omitempty"`
	Phone    string `yaml:"phone" json:"phone,omitempty"`
}

// NotificationRules are the user's personal ladder per urgency. Empty lists
// take the defaults: high is push at 0, SMS at 2m, voice at 5m; low is push
// at 0. Steps on channels the user has no contact for are left out of the
// defaults.
type NotificationRules struct {
	High []NotifyStep `yaml:"high"`
	Low  []NotifyStep `yaml:"low"`
}

// For is the ladder of an urgency: Low for low, High for any other.
func (n NotificationRules) For(urgency string) []NotifyStep {
	if urgency == UrgencyLow {
		return n.Low
	}
	return n.High
}

// NotifyStep sends on one channel a fixed time after the user is paged.
type NotifyStep struct {
	After   Duration `yaml:"after"`
	Channel string   `yaml:"channel"`
}

// Schedule is a set of tiers (primary, secondary, ...), each held by one
// person at a time, that hand off at wall-clock times in the schedule's time
// zone, plus overrides. The schedule's Handoff is its week: the weekly
// tables run from handoff to handoff, and weekly rotations hand off then.
type Schedule struct {
	Name      string         `yaml:"name"`
	TimeZone  string         `yaml:"time_zone"`
	Handoff   Handoff        `yaml:"handoff"`
	Tiers     []Tier         `yaml:"tiers"`
	Overrides []Override     `yaml:"overrides"`
	Fairness  []FairnessRule `yaml:"fairness"`
	// Notices, when set, tell each incoming person at their handoff (and
	// Before it) that their shift starts, and the team's Slack channel at
	// each handoff.
	Notices *Notices `yaml:"notices"`
	// HandoffTemplate is the form of the schedule's handoff document:
	// HandoffText (AIVO's) or HandoffMarkdown (AION-R's, the default).
	HandoffTemplate string `yaml:"handoff_template"`
	loc             *time.Location
}

// Notices are a schedule's shift notices: at each handoff, and Before a
// person's shift starts, the incoming person is told on their notice
// channel; the team's SlackChannel hears of every handoff too. Tiers
// limits them to some tiers (default all).
type Notices struct {
	Before       Duration `yaml:"before"`
	Tiers        []string `yaml:"tiers"`
	SlackChannel string   `yaml:"slack_channel"`
}

// Handoff is when shifts change: a weekday and a wall-clock time.
type Handoff struct {
	Weekday *Weekday  `yaml:"weekday"`
	Time    TimeOfDay `yaml:"time"`
}

// Day is the handoff weekday (Monday when unset, which load refuses).
func (h Handoff) Day() time.Weekday {
	if h.Weekday == nil {
		return time.Monday
	}
	return time.Weekday(*h.Weekday)
}

// Tier is one role inside a schedule (primary, secondary, escalation
// lead...), held by one person at a time. Its own rotation (Start, the shift
// length, Members) is its base; Layers sit above it, each a rotation of its
// own, and the last layer covering an instant holds the tier then, as
// PagerDuty's schedule layers do. With no layer, members take turns of
// ShiftWeeks weeks each, starting with the first member at the handoff on
// the Start date.
type Tier struct {
	Name  string `yaml:"name"`
	Title string `yaml:"title"`
	Start Date   `yaml:"start"`
	// Exactly one shift length may be set; none means one week.
	ShiftWeeks int `yaml:"shift_weeks"`
	ShiftDays  int `yaml:"shift_days"`
	ShiftHours int `yaml:"shift_hours"`
	// HandoffTime is when shifts change (default the schedule's
	// handoff time).
	HandoffTime   TimeOfDay      `yaml:"handoff_time"`
	Members       []string       `yaml:"members"`
	RosterChanges []RosterChange `yaml:"roster_changes"`
	Restrictions  []Restriction  `yaml:"restrictions"`
	Layers        []Layer        `yaml:"layers"`
}

// Layer is a rotation stacked on a tier: it holds the tier from its Start
// on, only inside its Restrictions when it has some, and leaves the rest to
// the layers listed before it and to the tier's own rotation.
type Layer struct {
	Name          string         `yaml:"name"`
	Start         Date           `yaml:"start"`
	ShiftWeeks    int            `yaml:"shift_weeks"`
	ShiftDays     int            `yaml:"shift_days"`
	ShiftHours    int            `yaml:"shift_hours"`
	HandoffTime   TimeOfDay      `yaml:"handoff_time"`
	Members       []string       `yaml:"members"`
	RosterChanges []RosterChange `yaml:"roster_changes"`
	Restrictions  []Restriction  `yaml:"restrictions"`
}

// RosterChange replaces a rotation's members from a shift boundary on,
// without moving anyone's turn before it: the rotation goes on from the
// member whose turn it would have been (or, if they left, the next one of
// the old order still on the roster), in the new order.
type RosterChange struct {
	EffectiveFrom Date     `yaml:"effective_from"`
	Members       []string `yaml:"members"`
}

// Restriction is a window of the week in which a rotation holds its tier:
// the same hours on each of Days (Start to End; an End at or before Start
// runs past midnight), or one span from StartDay at Start to EndDay at End.
// Times are wall-clock times in the schedule's time zone.
type Restriction struct {
	Days     []Weekday `yaml:"days"`
	StartDay *Weekday  `yaml:"start_day"`
	EndDay   *Weekday  `yaml:"end_day"`
	Start    TimeOfDay `yaml:"start"`
	End      TimeOfDay `yaml:"end"`
}

// FairnessRule is a limit on how long anyone holds the schedule's Tiers (all
// of them when none are named) without a break, overrides included:
// AIVO's "no more than 2 consecutive weeks" is MaxConsecutiveWeeks 2,
// AION-R's "no back-to-back weeks" is NoBackToBack (the same as 1).
// check-config and `pagerd schedule` warn about every stretch over it.
type FairnessRule struct {
	Tiers               []string `yaml:"tiers"`
	MaxConsecutiveWeeks int      `yaml:"max_consecutive_weeks"`
	NoBackToBack        bool     `yaml:"no_back_to_back"`
}

// Override replaces who holds some tiers between two moments: holiday
// coverage (written as dates, whole days inclusive) or a swap (dates or
// exact instants). Tiers maps tier name to user id.
type Override struct {
	Reason string            `yaml:"reason"`
	From   Moment            `yaml:"from"`
	Until  Moment            `yaml:"until"`
	Tiers  map[string]string `yaml:"tiers"`
	// ID is set on overrides made at run time (through the API, kept in
	// the daemon's store, never in the file), with who made them: the
	// escalation machine names them in an incident's timeline when they
	// change who is paged (ActionOverride). Config overrides have none.
	ID        string `yaml:"-"`
	CreatedBy string `yaml:"-"`
}

// EscalationPolicy is the ordered list of levels an incident walks until
// someone acknowledges, plus the escalations that fire on acknowledged
// incidents left unresolved or without status updates.
type EscalationPolicy struct {
	Name                string             `yaml:"name"`
	Repeat              int                `yaml:"repeat"`
	Levels              []Level            `yaml:"levels"`
	Unresolved          []UnresolvedRule   `yaml:"unresolved"`
	MissingStatusUpdate []StatusUpdateRule `yaml:"missing_status_update"`
	levelIndex          map[string]int
}

// Level is one step of an escalation policy: who is paged, and how long they
// have to acknowledge before the next level is paged. Timeouts per priority
// override Timeout.
type Level struct {
	Name     string             `yaml:"name"`
	Targets  []Target           `yaml:"targets"`
	Timeout  Timeout            `yaml:"timeout"`
	Timeouts map[string]Timeout `yaml:"timeouts"`
}

// Target names who to page: a schedule tier (whoever holds it at the time),
// a user, or (in unresolved rules only) every target of a level.
type Target struct {
	Schedule string `yaml:"schedule"`
	Tier     string `yaml:"tier"`
	User     string `yaml:"user"`
	Level    string `yaml:"level"`
}

// UnresolvedRule pages more people when an incident of these priorities is
// still open After its creation ("SEV-1 unresolved after 1h pages secondary
// and management"). It fires once per incident.
type UnresolvedRule struct {
	Priorities []string `yaml:"priorities"`
	After      Duration `yaml:"after"`
	Notify     []Target `yaml:"notify"`
}

// StatusUpdateRule escalates an acknowledged incident of these priorities one
// level when no status update arrived for After ("SEV-1/2 with no status
// update for 30 min escalate one level"). The clock restarts at every status
// update, acknowledgement and escalation.
type StatusUpdateRule struct {
	Priorities []string `yaml:"priorities"`
	After      Duration `yaml:"after"`
}

// Service is where alerts arrive: its integration keys, priority scheme,
// routing rules, per-priority targets and the policy that escalates them.
type Service struct {
	Name             string                     `yaml:"name"`
	Description      string                     `yaml:"description"`
	PriorityScheme   string                     `yaml:"priority_scheme"`
	EscalationPolicy string                     `yaml:"escalation_policy"`
	BusinessHours    string                     `yaml:"business_hours"`
	Integrations     Integrations               `yaml:"integrations"`
	IncidentKey      string                     `yaml:"incident_key"`
	SeverityLabel    string                     `yaml:"severity_label"`
	Severities       map[string]string          `yaml:"severities"`
	DefaultPriority  string                     `yaml:"default_priority"`
	Rules            []Rule                     `yaml:"rules"`
	Targets          map[string]PriorityTargets `yaml:"targets"`
	Compensation     string                     `yaml:"compensation"`
	// SlackChannel is where the service's incidents are posted (a Slack
	// channel id, C..., or #name): one message each, updated as it is
	// acknowledged, escalated, updated and resolved.
	SlackChannel string `yaml:"slack_channel"`
	// Heartbeats are the dead-man's switches of the service: each must be
	// pinged within its interval (and grace), or an incident is raised
	// through the service's rules.
	Heartbeats []Heartbeat `yaml:"heartbeats"`
	// Shadow makes the service compute its pages and record them
	// (notify_shadow) without sending any, to run pagerd side by side
	// with another pager.
	Shadow bool `yaml:"shadow"`
	// SilenceOnAcknowledge, when set, silences an acknowledged incident's
	// alerts in Alertmanager, and expires the silence when it is resolved.
	SilenceOnAcknowledge *SilenceOnAcknowledge `yaml:"silence_on_acknowledge"`
	// AlertmanagerURL is the base URL of the Alertmanager that sends the
	// service's alerts, as pagerd reaches it. With it (or with
	// silence_on_acknowledge's), pagerd asks Alertmanager whether a group
	// whose resolve it withheld (cut by the receiver's max_alerts) still
	// fires, and resolves the incident when none of it does; in
	// fingerprint mode, which of a cut group's open incidents' alerts
	// fire no more, and resolves those.
	AlertmanagerURL string `yaml:"alertmanager_url"`
	scheme          *Scheme
}

// AlertmanagerAPI is the URL of the Alertmanager pagerd may ask about the
// service's alerts: alertmanager_url, else silence_on_acknowledge's, else
// "" (pagerd cannot ask).
func (s *Service) AlertmanagerAPI() string {
	if s.AlertmanagerURL != "" {
		return s.AlertmanagerURL
	}
	if s.SilenceOnAcknowledge != nil {
		return s.SilenceOnAcknowledge.AlertmanagerURL
	}
	return ""
}

// AutoResolveNotes say, for every service that takes Alertmanager's
// webhook without an Alertmanager URL to ask, what its receiver's
// max_alerts keeps from resolving on its own: in group mode a group
// larger than it, in fingerprint mode an alert it leaves out of its
// group's notifications that resolves meanwhile. check-config prints them
// and pagerd serve logs them at start. They are not warnings
// (check-config --strict passes): most receivers never cut.
func (c *Config) AutoResolveNotes() []string {
	var out []string
	for i := range c.Services {
		s := &c.Services[i]
		if s.Integrations.AlertmanagerKey.Reveal() == "" && s.Integrations.AlertmanagerKeyFile == "" {
			continue
		}
		if s.AlertmanagerAPI() != "" {
			continue
		}
		if s.IncidentKey == "fingerprint" {
			out = append(out, "services["+s.Name+"].alertmanager_url: not set, so an alert that its Alertmanager receiver's "+
				"max_alerts leaves out of its group's notifications, and that resolves meanwhile, keeps its incident open until "+
				"resolved by hand: Alertmanager never says it resolved; so does the group's overflow incident, which holds the alerts "+
				"max_alerts leaves out, once the group resolves. Set alertmanager_url so pagerd asks Alertmanager")
			continue
		}
		out = append(out, "services["+s.Name+"].alertmanager_url: not set, so an alert group larger than its Alertmanager receiver's "+
			"max_alerts cannot resolve on its own: Alertmanager's resolved notification of it leaves alerts out, pagerd withholds "+
			"that resolve, and the incident stays open until resolved by hand. Set alertmanager_url so pagerd asks Alertmanager")
	}
	return out
}

// Integrations are the keys senders present: the Alertmanager integration key
// (bearer token or URL path), the PagerDuty Events v2 routing key and the
// Opsgenie API key (Authorization: GenieKey) of the Opsgenie-compatible
// intake.
type Integrations struct {
	AlertmanagerKey         Secret `yaml:"alertmanager_key"`
	AlertmanagerKeyFile     string `yaml:"alertmanager_key_file"`
	PagerDutyRoutingKey     Secret `yaml:"pagerduty_routing_key"`
	PagerDutyRoutingKeyFile string `yaml:"pagerduty_routing_key_file"`
	OpsgenieKey             Secret `yaml:"opsgenie_key"`
	OpsgenieKeyFile         string `yaml:"opsgenie_key_file"`
}

// IntegrationKey is one of a service's integration keys: its config field,
// the key, and the file it is read from, if any.
type IntegrationKey struct {
	Field string
	Key   *Secret
	File  string
}

// Keys are the service's integration keys, of every type: the one list
// the validator checks for uniqueness and heartbeat pings are matched
// against, so a new type of key cannot reach one and not the other.
func (in *Integrations) Keys() []IntegrationKey {
	return []IntegrationKey{
		{"alertmanager_key", &in.AlertmanagerKey, in.AlertmanagerKeyFile},
		{"pagerduty_routing_key", &in.PagerDutyRoutingKey, in.PagerDutyRoutingKeyFile},
		{"opsgenie_key", &in.OpsgenieKey, in.OpsgenieKeyFile},
	}
}

// Rule sets an alert's priority when all its matchers match. Rules are tried
// in order and the first match wins. PageImmediately names escalation levels
// paged at once in addition to the first level (AIVO's executive triggers).
type Rule struct {
	Name            string   `yaml:"name"`
	Matchers        []string `yaml:"matchers"`
	Priority        string   `yaml:"priority"`
	PageImmediately []string `yaml:"page_immediately"`
	matchers        labels.Matchers
}

// TargetSet is the response targets of a priority: how long until it must be
// acknowledged, first responded to (first status update), resolved, and how
// often status updates are due. Urgency picks the users' notification rules.
type TargetSet struct {
	Urgency         string  `yaml:"urgency"`
	Acknowledge     Timeout `yaml:"acknowledge"`
	InitialResponse Timeout `yaml:"initial_response"`
	Resolution      Timeout `yaml:"resolution"`
	StatusUpdate    Timeout `yaml:"status_update"`
}

// PriorityTargets are a priority's targets, with optional variants that
// replace the fields they set during business hours or off-hours.
type PriorityTargets struct {
	TargetSet     `yaml:",inline"`
	BusinessHours *TargetSet `yaml:"business_hours"`
	OffHours      *TargetSet `yaml:"off_hours"`
}

// Compensation is how responders are paid for incident time (AION-R):
// time outside the calendar's business hours, judged in the responder's own
// time zone, is billable, with a minimum per incident and rounding; long or
// weekend incidents of some priorities earn comp days.
type Compensation struct {
	Name          string     `yaml:"name"`
	BusinessHours string     `yaml:"business_hours"`
	Minimum       Duration   `yaml:"minimum"`
	RoundTo       Duration   `yaml:"round_to"`
	CompDays      []CompRule `yaml:"comp_days"`
}

// CompRule grants comp days for incidents of some priorities that lasted
// longer than LongerThan, or (Weekend) that took any of a Saturday or
// Sunday (started on one, or ran into one). Of the
// duration rules the one granting most days applies; a weekend rule adds its
// days on top (AION-R's "automatic Monday comp day").
type CompRule struct {
	Priorities []string `yaml:"priorities"`
	LongerThan Duration `yaml:"longer_than"`
	Weekend    bool     `yaml:"weekend"`
	Days       int      `yaml:"days"`
}

// Urgency values.
const (
	UrgencyHigh = "high"
	UrgencyLow  = "low"
)

// User returns the user with the id, or nil.
func (c *Config) User(id string) *User { return c.users[id] }

// Schedule returns the schedule with the name, or nil.
func (c *Config) Schedule(name string) *Schedule { return c.schedules[name] }

// Policy returns the escalation policy with the name, or nil.
func (c *Config) Policy(name string) *EscalationPolicy { return c.policies[name] }

// Service returns the service with the name, or nil.
func (c *Config) Service(name string) *Service {
	i, ok := c.services[name]
	if !ok {
		return nil
	}
	return &c.Services[i]
}

// Calendar returns the business-hours calendar a service uses. A service
// without one is always in business hours.
func (c *Config) Calendar(s *Service) *BusinessHours {
	if s.BusinessHours == "" {
		return c.alwaysOpen
	}
	return c.calendars[s.BusinessHours]
}

// Location is the user's time zone (UTC when none is set).
func (u *User) Location() *time.Location {
	if u.loc == nil {
		return time.UTC
	}
	return u.loc
}

// PersonZone is the zone of a person's own clock, and where it comes
// from: their time_zone ("user"); when they set none, the zone of the
// first schedule that lists them ("schedule NAME"), the clock their
// shifts and the nights they are paged in are written on; else UTC
// ("none set: UTC"). Reports count a person's nights, and compensation
// their business hours, on it, so the two agree.
func (c *Config) PersonZone(user string) (*time.Location, string) {
	if u := c.User(user); u != nil && u.TimeZone != "" {
		return u.Location(), "user"
	}
	for i := range c.Schedules {
		if s := &c.Schedules[i]; s.Lists(user) {
			return s.Location(), "schedule " + s.Name
		}
	}
	return time.UTC, "none set: UTC"
}

// DisplayName is the name, or the id when no name is set.
func (u *User) DisplayName() string {
	if u.Name != "" {
		return u.Name
	}
	return u.ID
}

// UserName is how the user with the id is named to people: their display
// name, or the id as it stands when no user has it (an actor such as
// api:ops, or a user a reload removed from the config).
func (c *Config) UserName(id string) string {
	if u := c.User(id); u != nil {
		return u.DisplayName()
	}
	return id
}

// Location is the schedule's time zone.
func (s *Schedule) Location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}

// Tier returns the tier with the name, or nil.
func (s *Schedule) Tier(name string) *Tier {
	for i := range s.Tiers {
		if s.Tiers[i].Name == name {
			return &s.Tiers[i]
		}
	}
	return nil
}

// Scheme is the service's priority scheme.
func (s *Service) Scheme() *Scheme { return s.scheme }

// PriorityInForce is the priority an incident of the service holding
// priority p is escalated by: p itself, or, when the service's scheme
// lacks it, the scheme's most urgent, with ok false. An incident keeps
// the priority it was opened with, and the config can change under it
// (a restart with another scheme, a replica on another config in a
// rollout, a reload before reloads refused dropping a priority open
// incidents hold). Its levels' timeouts, its targets and its rules are
// looked up by that name; under a scheme without it they find nothing
// and the ladder stops at the level the incident is at, silently.
// Paging too early beats never paging: the incident goes on as the
// most urgent priority would (P0, SEV-1). Every lookup of an incident's
// priority in the engine goes through here, so its timeouts, targets,
// urgency and rules agree.
func (s *Service) PriorityInForce(p string) (inForce string, ok bool) {
	if s.scheme == nil || s.scheme.Has(p) {
		return p, true
	}
	return s.scheme.Priorities[0], false
}

// LevelName is the name of the level at index level (counted from 0, as an
// incident's state counts it), "" when the policy has no such level (a
// reload took it out) or there is no policy (nil).
func (p *EscalationPolicy) LevelName(level int) string {
	if p == nil || level < 0 || level >= len(p.Levels) {
		return ""
	}
	return p.Levels[level].Name
}

// LevelName is the name of the level at index level (counted from 0) of
// the service's escalation policy: what pages, answers and pages of the
// console call the level an incident is at. "" when the service, its
// policy or the level is no longer in the config.
func (c *Config) LevelName(service string, level int) string {
	svc := c.Service(service)
	if svc == nil {
		return ""
	}
	return c.Policy(svc.EscalationPolicy).LevelName(level)
}

// LevelIndex returns the index of the level with the name, or -1 (as
// when there is no policy: nil).
func (p *EscalationPolicy) LevelIndex(name string) int {
	if p == nil {
		return -1
	}
	if i, ok := p.levelIndex[name]; ok {
		return i
	}
	return -1
}

// Location is the calendar's time zone.
func (b *BusinessHours) Location() *time.Location {
	if b.loc == nil {
		return time.UTC
	}
	return b.loc
}

// IncidentLevelName is the name of the level the incident is at, as the
// API, Slack and the console show it: the one it started with
// (Incident.LevelName), which a reload may have moved in its policy (its
// index then names another level), or "" when the config no longer has
// it; for an incident stored before names were kept, the level at its
// index in the config as it is now.
func (c *Config) IncidentLevelName(inc *Incident) string {
	if inc.LevelName == "" {
		return c.LevelName(inc.Service, inc.Level)
	}
	if svc := c.Service(inc.Service); svc == nil || c.Policy(svc.EscalationPolicy).LevelIndex(inc.LevelName) < 0 {
		return ""
	}
	return inc.LevelName
}
