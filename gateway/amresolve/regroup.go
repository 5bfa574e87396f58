package amresolve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// JobKindConfig is the kind of the store jobs that watch an Alertmanager's
// config, one per Alertmanager the services name (keyed by a digest of
// its URL, which may hold a password). A reload of Alertmanager that
// changes a route or group_by moves alerts to groups with new groupKeys
// and drops the old aggregation groups without sending their resolved
// notification: the old group's incident would stay open for good, its
// ladder escalating (or, acknowledged, its unresolved rules paging
// management) while the same alerts page again in the new group's
// incident. So the job reads Alertmanager's config (GET /api/v2/status)
// every ConfigEvery, and when it changed, sweeps the open incidents of
// Alertmanager groups of the services that name that Alertmanager:
// each whose group (its labels, for its receiver) Alertmanager no longer
// lists (GET /api/v2/alerts/groups), while it lists one of the group's
// alerts in another group of its receiver, is resolved. Being a store job, it is
// done once across replicas.
const JobKindConfig = "am_config"

// ConfigEvery is how often an Alertmanager's config is read, and a sweep
// that could not be done is tried again.
const ConfigEvery = time.Minute

// EntryGroupGone comes just before the resolve of an incident whose group
// Alertmanager no longer has after a change of its config.
const EntryGroupGone = "resolve_group_gone"

// Status is what Alertmanager's status says (GET /api/v2/status).
type Status struct {
	// Started is when it started ("uptime").
	Started time.Time
	// Config is the config it runs, as its file reads (config.original).
	Config string
}

// AlertGroup is an alert group as Alertmanager lists it (GET
// /api/v2/alerts/groups).
type AlertGroup struct {
	// Receiver is the receiver's name, unquoted.
	Receiver string
	Labels   map[string]string
	// Fingerprints are its alerts'.
	Fingerprints []string
}

// AlertGroups is what the config watch asks Alertmanager
// (dispatch.AlertmanagerSilencer answers it).
type AlertGroups interface {
	// Status reads the status of the Alertmanager at base.
	Status(ctx context.Context, base string) (Status, error)
	// AlertGroups lists the groups the Alertmanager at base holds for
	// the receivers receiver (a regular expression, anchored; every
	// receiver when "") matches.
	AlertGroups(ctx context.Context, base, receiver string) ([]AlertGroup, error)
}

// NewGroupsGoneCounter is pagerd_alertmanager_groups_gone_total,
// registered: the incidents the config watch resolved, by service.
func NewGroupsGoneCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_alertmanager_groups_gone_total",
		Help: "Incidents of Alertmanager groups resolved because Alertmanager's config changed and it no longer has their group (a route or group_by change), by service."},
		[]string{"service"})
	reg.MustRegister(c)
	return c
}

// InitMetrics creates at zero the GroupsGone series of every service,
// at start and at every reload, as the other labelled counters are: a
// missing series then always means something is wrong, and a reload
// that gives a service its alertmanager_url finds it there.
func (c *Checker) InitMetrics(cfg *policy.Config) {
	if c == nil || c.o.GroupsGone == nil {
		return
	}
	for i := range cfg.Services {
		c.o.GroupsGone.WithLabelValues(cfg.Services[i].Name)
	}
}

// configJob is what a JobKindConfig job carries.
type configJob struct {
	// Config is the SHA-256 of the config Alertmanager ran at the last
	// look ("" before the first).
	Config string `json:"config,omitempty"`
	// ChangedAt is when pagerd saw the config change, while the sweep
	// that change calls for is not done (zero otherwise).
	ChangedAt time.Time `json:"changed_at,omitzero"`
	// Last is the previous look's outcome when it could not sweep
	// (EntryUnconfirmed, EntryRecentStart), so the log says each change
	// at warn once, not every minute.
	Last string `json:"last,omitempty"`
	// Unknown is when a replica whose config names no such Alertmanager
	// first claimed the watch, while none whose config names it has
	// since (zero otherwise).
	Unknown time.Time `json:"unknown,omitzero"`
}

// ForgetWatchAfter is how long the watch of an Alertmanager that the
// config of every replica that claims it lacks is kept, as a heartbeat's
// job is (heartbeat.ForgetAfter): in a rolling change of pagerd's config,
// a replica still on the older one meets the watch a newer one armed.
const ForgetWatchAfter = 24 * time.Hour

// unknownWatch handles a watch, carrying d, of an Alertmanager this
// replica's config does not name. Another replica's config may (this
// one's lags, or theirs does): ended, the watch would lose the config it
// recorded and a change it has yet to sweep, and nothing would watch
// until the other replica's next reload or hourly re-arm, whose first look
// only records the config. So it comes due again every ConfigEvery, its
// data kept, for whichever replica claims it next, and ends only when no
// replica whose config names the Alertmanager has claimed it for
// ForgetWatchAfter.
func (c *Checker) unknownWatch(j *store.Job, d configJob, now time.Time) (*store.Job, error) {
	if d.Unknown.IsZero() {
		c.o.Logger.Info("Alertmanager's config watch: this replica's config names no such Alertmanager; left for a replica whose config names it",
			"job", j.Key, "forgotten_after", ForgetWatchAfter)
		d.Unknown = now.UTC().Truncate(time.Millisecond)
	} else if now.Sub(d.Unknown) >= ForgetWatchAfter {
		c.o.Logger.Info("Alertmanager's config watch: no replica's config has named the Alertmanager for a long while; no longer watched",
			"job", j.Key, "since", d.Unknown)
		return nil, nil
	}
	return watchAgain(j, d, now)
}

// watchAgain is the watch j, carrying d, due again ConfigEvery after now.
func watchAgain(j *store.Job, d configJob, now time.Time) (*store.Job, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return &store.Job{Kind: JobKindConfig, Key: j.Key, Due: now.Add(ConfigEvery), Data: b}, nil
}

// configKey is the key of the watch of the Alertmanager at base.
func configKey(base string) string {
	sum := sha256.Sum256([]byte(base))
	return hex.EncodeToString(sum[:12])
}

// ArmConfigWatch stores, due now, the watch of each Alertmanager the
// config's services name (policy.Service.AlertmanagerAPI) that has none
// stored. Every replica does it at start and at every reload; the jobs
// are keyed, so there stays one per Alertmanager. A watch whose
// Alertmanager no service names any more ends once no replica whose
// config names it has claimed it for ForgetWatchAfter (unknownWatch).
func (c *Checker) ArmConfigWatch(ctx context.Context, cfg *policy.Config) error {
	if c == nil || c.o.Groups == nil {
		return nil
	}
	added := false
	for _, base := range watchedURLs(cfg) {
		// AddJob leaves a stored watch alone: its recorded config and a
		// change it has yet to sweep stay.
		ok, err := c.o.Store.AddJob(ctx, store.Job{Kind: JobKindConfig, Key: configKey(base), Due: c.o.Now()})
		if err != nil {
			return fmt.Errorf("arm the watch of Alertmanager's config: %w", err)
		}
		added = added || ok
	}
	if added && c.o.Wake != nil {
		c.o.Wake()
	}
	return nil
}

// watchedURLs are the Alertmanagers the config's services name, once
// each, in the services' order.
func watchedURLs(cfg *policy.Config) []string {
	var out []string
	for i := range cfg.Services {
		if base := cfg.Services[i].AlertmanagerAPI(); base != "" && !slices.Contains(out, base) {
			out = append(out, base)
		}
	}
	return out
}

// RunConfig is the handler of JobKindConfig jobs (a dispatch.JobHandler):
// it reads the Alertmanager's config, and while a change of it has not
// been swept, sweeps (sweepGroups). The first look only records the
// config: changes are seen from then on. It looks again every
// ConfigEvery, also while Alertmanager cannot be asked.
func (c *Checker) RunConfig(ctx context.Context, j *store.Job) (*store.Job, error) {
	var d configJob
	if len(j.Data) > 0 {
		if err := json.Unmarshal(j.Data, &d); err != nil {
			c.o.Logger.Error("Alertmanager's config watch: a job that does not decode is started afresh", "job", j.Key, "err", err)
			d = configJob{}
		}
	}
	cfg := c.o.Config()
	var base string
	for _, u := range watchedURLs(cfg) {
		if configKey(u) == j.Key {
			base = u
		}
	}
	now := c.o.Now()
	if base == "" || c.o.Groups == nil {
		return c.unknownWatch(j, d, now)
	}
	d.Unknown = time.Time{}
	shown := policy.ShownURL(base) // logs and timelines never show a password
	next := func() (*store.Job, error) { return watchAgain(j, d, now) }
	// A WARN when the outcome changes, INFO while it lasts (every
	// minute): still visible, not a flood.
	say := func(outcome, msg string, args ...any) {
		level := slog.LevelWarn
		if outcome == d.Last {
			level = slog.LevelInfo
		}
		d.Last = outcome
		c.o.Logger.Log(ctx, level, msg, args...)
	}
	st, err := c.o.Groups.Status(ctx, base)
	if err == nil && st.Config == "" {
		err = errors.New("its status does not carry its config (config.original)")
	}
	if err != nil {
		what := "changes of its config are not seen meanwhile"
		if !d.ChangedAt.IsZero() {
			what = "the open incidents of groups its config change may have dropped stay open meanwhile"
		}
		say(EntryUnconfirmed, "Alertmanager's config watch: Alertmanager could not be asked for its config; "+what+"; asked again",
			"alertmanager", shown, "retry_in", ConfigEvery, "err", err)
		return next()
	}
	sum := sha256.Sum256([]byte(st.Config))
	config := hex.EncodeToString(sum[:])
	switch {
	case d.Config == "":
		c.o.Logger.Info("Alertmanager's config watch: watching the config of Alertmanager; a change of it resolves the open incidents of the groups it drops",
			"alertmanager", shown, "every", ConfigEvery)
	case d.Config != config:
		c.o.Logger.Info("Alertmanager's config changed: its open incidents' groups are looked up", "alertmanager", shown)
		d.ChangedAt = now.UTC().Truncate(time.Millisecond)
	}
	d.Config = config
	if d.ChangedAt.IsZero() {
		d.Last = ""
		return next()
	}
	outcome, why, err := c.sweepGroups(ctx, cfg, base, d.ChangedAt, now)
	if err != nil {
		return nil, err // the store's: the job comes back when its lease ends
	}
	if outcome != "" {
		say(outcome, "Alertmanager's config changed, but which groups it dropped is not known yet; their incidents stay open and are looked up again",
			"alertmanager", shown, "why", why, "retry_in", ConfigEvery)
		return next()
	}
	d.ChangedAt, d.Last = time.Time{}, ""
	return next()
}

// openGroup is an open incident of an Alertmanager group, as the sweep
// found it.
type openGroup struct {
	svc   *policy.Service
	inc   *store.Incident
	group ingest.StoredGroup
}

// sweepGroups resolves each open incident of an Alertmanager group of
// the services that name base whose group Alertmanager no longer lists
// for its receiver, after a config change seen at changed, while it lists
// one of the group's alerts in another group of that receiver (a change
// moved it; one it does not hold there may be another Alertmanager's). It says
// (outcome EntryUnconfirmed or EntryRecentStart, and why) when it could
// not tell: Alertmanager could not be asked, or started less than
// StartMargin ago (just started, it lists no group until Prometheus sends
// their alerts again). err is the store's.
func (c *Checker) sweepGroups(ctx context.Context, cfg *policy.Config, base string, changed, now time.Time) (outcome, why string, err error) {
	var open []openGroup
	for i := range cfg.Services {
		svc := &cfg.Services[i]
		if svc.AlertmanagerAPI() != base {
			continue
		}
		err := store.EachOpen(ctx, c.o.Store, svc.Name, func(inc *store.Incident) error {
			if g, ok := ingest.ReadGroup(inc.Details); ok {
				open = append(open, openGroup{svc: svc, inc: inc, group: g})
			}
			return nil
		})
		if err != nil {
			return "", "", fmt.Errorf("list the open incidents of service %q: %w", svc.Name, err)
		}
	}
	if len(open) == 0 {
		return "", "", nil
	}
	// One question for every receiver's groups.
	listed, err := c.o.Groups.AlertGroups(ctx, base, "")
	if err != nil {
		return EntryUnconfirmed, fmt.Sprintf("its alert groups could not be listed (%v)", err), nil
	}
	// held are the alerts Alertmanager holds, by fingerprint, under each
	// receiver.
	held := map[string]map[string]bool{}
	for _, g := range listed {
		if held[g.Receiver] == nil {
			held[g.Receiver] = map[string]bool{}
		}
		for _, fp := range g.Fingerprints {
			held[g.Receiver][fp] = true
		}
	}
	// moved reports whether Alertmanager holds one of o's alerts in
	// another group of o's receiver: a change moved it, and its new
	// group's notification reaches pagerd the way o's did.
	moved := func(o openGroup) bool {
		for receiver, fps := range held {
			if o.group.SameReceiver(receiver) && slices.ContainsFunc(o.group.Fingerprints, func(fp string) bool { return fps[fp] }) {
				return true
			}
		}
		return false
	}
	// Asked after the groups, so a restart between the two is seen.
	if outcome, why := c.distrust(ctx, base, now); outcome != "" {
		return outcome, why, nil
	}
	shown := policy.ShownURL(base)
	for _, o := range open {
		if slices.ContainsFunc(listed, func(g AlertGroup) bool { return o.group.Is(g.Receiver, g.Labels) }) {
			continue
		}
		if !moved(o) {
			// Alertmanager holds none of the group's alerts for its
			// receiver: they are not its (a service fed by several
			// Alertmanagers, or a load balancer's other one), they
			// all ended, or the change sent them to another receiver.
			// Resolved on its word, an incident whose alerts fire at
			// another Alertmanager would page no more; it stays open,
			// as before pagerd watched.
			c.o.Logger.Info("Alertmanager's config changed and it has no group of the incident, nor any of its alerts for its receiver: left open (another Alertmanager's alerts, ended, or sent to another receiver)",
				"incident", o.inc.ID, "service", o.svc.Name, "alertmanager", shown, "receiver", o.group.Receiver, "group", labelSetString(o.group.Labels))
			continue
		}
		why := store.Entry{At: now.UTC().Truncate(time.Millisecond), Type: EntryGroupGone, Actor: "pagerd",
			Detail: fmt.Sprintf("Alertmanager at %s changed its config at %s and has no group %s for receiver %s any more "+
				"(a route or group_by change): resolved; alerts of it still firing page in their new group's incident",
				shown, changed.UTC().Format(time.RFC3339), labelSetString(o.group.Labels), strconv.Quote(o.group.Receiver))}
		resolved, err := c.o.Incidents.ResolveUnlessRepeated(ctx, o.svc, o.inc.ID, o.inc.Repeats, "alertmanager", why)
		if err != nil {
			return "", "", err
		}
		if !resolved {
			continue // resolved otherwise, or its group fired again, meanwhile
		}
		if c.o.GroupsGone != nil {
			c.o.GroupsGone.WithLabelValues(o.svc.Name).Inc()
		}
		c.o.Logger.Info("Alertmanager's config changed and it has no group of the incident any more: incident resolved",
			"incident", o.inc.ID, "service", o.svc.Name, "alertmanager", shown, "receiver", o.group.Receiver, "group", labelSetString(o.group.Labels))
	}
	return "", "", nil
}

// labelSetString writes labels as Alertmanager shows a group's:
// {name="value", ...}, sorted by name.
func labelSetString(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, name := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, name+"="+strconv.Quote(labels[name]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
