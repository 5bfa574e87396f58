// Package gateway is the pagerd daemon: Run builds it, in order, and runs
// it until its context ends. It owns the HTTP side (Server: routes,
// authentication, the Alertmanager and PagerDuty intake, the incident API,
// health, metrics and config reload) and the wiring of everything else,
// each in a package of its own: the store (gateway/store), the incident
// service every change to an incident goes through (gateway/incident), the
// dispatcher that fires deadlines (gateway/dispatch), the ack links
// (gateway/acklink), and the transports and provider callbacks (notify).
// docs/ARCHITECTURE.md draws the whole.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pagerd/pagerd/gateway/acklink"
	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/gateway/changes"
	"github.com/pagerd/pagerd/gateway/console"
	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/feeds"
	"github.com/pagerd/pagerd/gateway/heartbeat"
	"github.com/pagerd/pagerd/gateway/history"
	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/maintenance"
	"github.com/pagerd/pagerd/gateway/notices"
	"github.com/pagerd/pagerd/gateway/overrides"
	"github.com/pagerd/pagerd/gateway/replicaconfig"
	"github.com/pagerd/pagerd/gateway/sharedclock"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/pagerduty"
	"github.com/pagerd/pagerd/notify/pushover"
	"github.com/pagerd/pagerd/notify/slack"
	"github.com/pagerd/pagerd/notify/twilio"
	"github.com/pagerd/pagerd/policy"
)

// Options configure a daemon. pagerd serve sets the first group from its
// flags; the rest are for tests and embedding, and are zero in serve.
type Options struct {
	// ConfigPath is the config file, read again on every reload.
	ConfigPath string
	// Config is the config already loaded from ConfigPath, its secrets
	// checked (nil: New loads and checks it).
	Config *policy.Config
	// Listen is the address to listen on (default server.listen, or
	// :8080).
	Listen string
	// RedisURL keeps incidents in Redis (default server.redis.url);
	// without one the embedded store in DataDir (default server.data_dir,
	// or ./data) keeps them.
	RedisURL, DataDir string
	// Version is pagerd's, for pagerd_build_info and the log.
	Version string
	// Logger is the daemon's log (its own lines, on stderr in serve).
	Logger *slog.Logger
	// Stdout is where the log transport writes pages when
	// notifiers.log.path is unset.
	Stdout io.Writer
	// Reload reloads the config at every value it delivers (SIGHUP).
	Reload <-chan os.Signal
	// ShutdownDelay is how long pagerd keeps serving, not ready, once
	// Run's context ends, before it stops taking connections: a load
	// balancer (Kubernetes endpoints) goes on sending requests for a few
	// seconds after it was told to stop, and a provider's callback it
	// sends to a closed port is lost (Twilio does not retry). 0: stop at
	// once.
	ShutdownDelay time.Duration

	// Listener, when set, is listened on instead of Listen.
	Listener net.Listener
	// Store, when set, keeps incidents instead of the store RedisURL or
	// DataDir names. The daemon does not close it.
	Store store.Store
	// Registry receives every metric and serves /metrics (default a new
	// one, with Go and process metrics).
	Registry *prometheus.Registry
	// Now is the clock (default: on Redis, Redis's clock as this replica
	// reads it, sharedclock, so that replicas whose hosts' clocks
	// disagree agree on deadlines and leases; on the embedded store,
	// Wall).
	Now func() time.Time
	// Wall is the host's clock, which the shared clock is measured
	// against and runs on between readings of Redis's (default
	// time.Now).
	Wall func() time.Time
	// Notifiers replace the transports of these vias, as they are: no
	// chain is wrapped around them.
	Notifiers map[string]notify.Notifier
	// HTTPClient carries the providers' calls (default a client each).
	HTTPClient *http.Client
	// RetryBase is the first wait between a page's tries (default
	// notify's, 500ms).
	RetryBase time.Duration
	// MaxSleep bounds the dispatcher's wait between looks at the due set
	// (default dispatch's, 1s).
	MaxSleep time.Duration
	// ProbeInterval is how often readiness probes the store with a write
	// (default 2s).
	ProbeInterval time.Duration
	// ShutdownTimeout bounds how long in-flight requests may take to
	// finish after a stop (default 30s).
	ShutdownTimeout time.Duration
	// After is the clock ShutdownDelay is waited on (default time.After).
	After func(time.Duration) <-chan time.Time
	// PostHandoff, when set, posts each schedule's handoff document at
	// every handoff (a store job per schedule, once across replicas)
	// instead of the daemon's own poster, which posts it to the
	// schedule's Slack channel when notifiers.slack is configured. Nil
	// and no Slack: no document is posted.
	PostHandoff history.HandoffPoster
	// ConsolePoll is how often an open incident's page in the web console
	// asks whether it changed (default 5s), and ConsolePollTimeout how
	// long it waits for the answer before it says it may be out of date
	// (default 10s). ConsoleListPoll is how often the incident list asks
	// whether what it shows changed (default 10s).
	ConsolePoll, ConsolePollTimeout, ConsoleListPoll time.Duration
}

// Daemon is pagerd built and ready to run: New builds it, Run runs it,
// Close tears down what New opened.
type Daemon struct {
	o         Options
	log       *slog.Logger
	cfg       *configHolder
	store     store.Store
	health    *Health
	notifiers map[string]notify.Notifier
	dispOpts  dispatch.Options
	incidents *incident.Service
	overrides *overrides.Service
	notices   *notices.Service
	disp      *dispatch.Dispatcher
	server    *Server
	listener  net.Listener
	// schema is the Redis store whose schema is checked once Redis
	// answers (it did not at start).
	schema *redisstore.Store
	// broken, when the store can fail for good (store.Breakable), is
	// the store whose failure stops the daemon (watchBroken).
	broken store.Breakable
	// retention expires resolved incidents past server.retention, and
	// handoffs posts handoff documents (nil without PostHandoff or
	// Slack): store jobs the dispatcher runs.
	retention *history.Retention
	handoffs  *history.Handoffs
	// withheld checks with Alertmanager what its notifications leave
	// unsaid, and watches its config (store jobs the dispatcher runs).
	withheld *amresolve.Checker
	// providers checks the providers' credentials; Run runs it.
	providers *providerCheck
	// replicas is this replica's entry in the store's registry of the
	// configs replicas run; Run keeps it written.
	replicas *replicaconfig.Registry
	// teardown is what New opened, closed in reverse by Close.
	teardown []func() error

	// heartbeats and windows own the dispatcher's jobs (heartbeat
	// expiries, maintenance windows' starts and ends); arm receives every
	// config taken into use, whose jobs Run stores.
	heartbeats *heartbeat.Monitor
	windows    *maintenance.Windows
	arm        chan *policy.Config
	// storeBack is told when the store answers again after an outage,
	// in which it may have lost its jobs (rearmJobs).
	storeBack chan struct{}
	// clock is Redis's clock as this replica reads it, or the host's on
	// the embedded store; Run keeps it read. The daemon runs on it unless
	// Options.Now is set.
	clock atomic.Pointer[sharedclock.Clock]
	// arrivals stamps alerts as they arrive, allowing for this process's
	// stops (nil with Options.Now: the test's clock stamps them).
	arrivals *arrivals
}

// newerConfig names a live replica that runs a config taken into use
// later than this one's, as the replica registry says (the dispatcher,
// shift notices, heartbeats and the intake's unknown keys leave their
// work to it).
func (d *Daemon) newerConfig(ctx context.Context) (string, bool) {
	e, ok := d.replicas.Newer(ctx)
	return e.Replica, ok
}

// now is the daemon's clock when Options.Now is unset: the shared clock
// (Redis's on Redis, the host's otherwise), Options.Wall until the store
// is open.
func (d *Daemon) now() time.Time {
	if c := d.clock.Load(); c != nil {
		return c.Now()
	}
	return d.o.Wall()
}

// received is the clock alerts are stamped on as the intake receives them
// (arrivals, ServerOptions.Arrival): the shared clock's time once this replica
// read Redis's clock (always on the embedded store), zero before.
func (d *Daemon) received() time.Time {
	if c := d.clock.Load(); c != nil && c.Shared() {
		return c.Now()
	}
	return time.Time{}
}

// shareClock puts the daemon on the store's clock when the store has one
// (Redis) and shared (Options.Now is unset), with a first reading taken
// now if Redis answers in time (else on the host's clock until it does).
// The offset past which the log warns is a tenth of the lease: a replica
// not on the shared clock pages twice when it is off by about a lease. On
// the embedded store, and with Options.Now, the daemon runs on its own
// clock, and the shared clock only reports the host clock's steps.
func (d *Daemon) shareClock(ctx context.Context, st store.Store, cfg *policy.Config, reg prometheus.Registerer, shared bool) {
	o := sharedclock.Options{Wall: d.o.Wall, Warn: time.Duration(cfg.Server.Lease) / 10, Logger: d.log, Registry: reg}
	if src, ok := st.(sharedclock.Source); ok && shared {
		o.Source = src
	}
	c := sharedclock.New(o)
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if err := c.Sync(sctx); err != nil {
		d.log.Warn("clock: cannot read Redis's clock yet; on this host's clock until it answers", "err", err)
	}
	cancel()
	d.clock.Store(c)
}

// clockWait bounds how long a replica that has not read Redis's clock
// yet claims nothing (awaitClock).
var clockWait = 10 * time.Second

// awaitClock holds the dispatcher and the jobs, which claim due steps and
// judge other replicas' leases, until the replica first read Redis's
// clock: one that started while Redis was down, on its host's clock until
// Redis answers, took another replica's claim over mid-send when its host
// ran a lease ahead (a duplicate page), in the second before its first
// reading. Redis answering, the reading comes within two seconds (Run); one
// that never comes (an ACL without TIME: PagerdClockUnread) releases them
// after clockWait, on the host's clock, since pages on a host's clock are
// better than none. The intake is not held: an alert is stored at once.
// It is false when ctx ended first: nothing held is to start then (its
// first tries, on the ended run, only failed and warned).
func (d *Daemon) awaitClock(ctx context.Context) bool {
	c := d.clock.Load()
	if c == nil {
		return true
	}
	select {
	case <-c.Read():
		return true
	default:
	}
	d.log.Warn("clock: claiming no due pages until Redis's clock is read, at most " + clockWait.String())
	t := time.NewTimer(clockWait)
	defer t.Stop()
	select {
	case <-c.Read():
		d.log.Info("clock: Redis's clock read; claiming due pages")
	case <-t.C:
		d.log.Warn("clock: Redis's clock not read in " + clockWait.String() + "; claiming due pages on this host's clock until it is")
	case <-ctx.Done():
		return false
	}
	return true
}

// New builds the daemon in order: config, store, readiness, transports,
// incident service, dispatcher, HTTP server, listener. Each step that opens
// something registers its teardown; if a step fails, what was opened is
// closed again.
func New(ctx context.Context, o Options) (_ *Daemon, err error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Wall == nil {
		o.Wall = time.Now
	}
	d := &Daemon{log: o.Logger}
	shared := o.Now == nil
	if shared {
		// Bound once the store is open: Redis's clock on Redis.
		o.Now = d.now
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	d.o = o
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	RegisterBuildInfo(reg, o.Version)

	cfg := o.Config
	if cfg == nil {
		if cfg, err = LoadConfig(o.ConfigPath); err != nil {
			return nil, err
		}
	}
	d.cfg = newConfigHolder(o.ConfigPath, cfg, reg, d.log, o.Now)
	d.cfg.OnLoad(newRestartWatch(cfg, startFlags(o), d.log, reg).loaded)

	// The store, and readiness, which watches every write of it.
	st := o.Store
	if st == nil {
		if st, err = d.openStore(ctx, cfg); err != nil {
			return nil, err
		}
		d.teardown = append(d.teardown, st.Close)
	}
	if d.schema, err = checkStore(ctx, d.log, st); err != nil {
		return nil, err
	}
	d.broken, _ = st.(store.Breakable)
	d.shareClock(ctx, st, cfg, reg, shared)
	backup := BackupFunc(nil)
	if b, ok := st.(interface {
		Backup(ctx context.Context, w io.Writer) (int64, error)
	}); ok {
		backup = b.Backup
	}
	d.health = NewHealth(st, o.ProbeInterval)
	d.health.OnDataLost(registerDataLost(reg, d.log))
	if rs, ok := st.(*redisstore.Store); ok {
		d.health.Guard(newRedisGuard(rs, d.log, reg).check)
	}
	d.store = Instrument(st, reg, d.health)
	registerReadiness(reg, d.health)
	open := newOpenIncidents(d.store, d.cfg.Load, o.Now, d.log)
	reg.MustRegister(open)
	// Which config each replica runs, in the store, so that replicas
	// left on an old config by a rollout are seen, and leave the steps
	// their config cannot page to a newer one (dispatch's NewerConfig).
	d.replicas = replicaconfig.New(replicaconfig.Options{Store: d.store, Now: o.Now, Logger: d.log, Registry: reg})
	d.cfg.OnLoad(d.replicas.Loaded)

	// The transports, wrapped the way the daemon sends.
	var hc func() *http.Client
	if o.HTTPClient != nil {
		hc = func() *http.Client { return o.HTTPClient }
	}
	watches := newBreakerWatches(d.log, reg, time.Duration(cfg.Notifiers.Breaker.Cooldown))
	tr, err := buildNotifiers(cfg, d.cfg.Load, o.Stdout, hc, o.RetryBase, o.Now, watches)
	if err != nil {
		return nil, err
	}
	d.teardown = append(d.teardown, tr.close)
	d.notifiers = tr.byVia
	for via, n := range o.Notifiers {
		d.notifiers[via] = n
	}
	d.cfg.fits = startedTransports(d.notifiers, tr.slack != nil, policy.SendsToPagerDuty(cfg.Notifiers.PagerDuty.EventsURL), cfg.Notifiers.Twilio.From)
	d.cfg.keeps = keepsOpenIncidents(d.store)
	// The providers, asked in the background whether they take pagerd's
	// credentials, at start and after reloads.
	d.providers = newProviderCheck(tr.probes(o.Notifiers), d.log, reg)
	d.cfg.OnLoad(d.providers.loaded)
	pd := cfg.Notifiers.PagerDuty
	forwarder := pagerduty.New(pd.EventsURL, o.HTTPClient, time.Duration(pd.Timeout))

	// Run-time overrides: kept in the store, merged into the config that
	// pages (paging reads the merged config; only the config holder reads
	// the file).
	d.overrides = overrides.New(overrides.Options{Store: d.store, Config: d.cfg.Load, Now: o.Now, Logger: d.log, Nudge: d.overridesChanged(),
		Changed: func(ctx context.Context, schedule string) { d.armNotices(ctx, schedule) }})
	pagingConfig := d.overrides.Config
	if err := d.readOverrides(ctx); err != nil {
		d.log.Warn("overrides: not read at start; paging by the config file until they are", "err", err)
	}
	// Shift notices: a job per schedule, done by the dispatcher.
	d.notices = notices.New(notices.Options{Store: d.store, Config: pagingConfig, Fresh: d.overrides.RefreshSchedule, Notifiers: d.notifiers, Slack: tr.slack,
		Now: o.Now, Logger: d.log, Registry: reg, NewerConfig: d.newerConfig})
	d.cfg.OnLoad(d.notices.InitMetrics)

	// The store jobs: retention, and handoff documents when something
	// posts them (Slack, when it is configured).
	jobs := map[string]dispatch.JobHandler{}
	d.retention = history.NewRetention(history.Retention{Store: d.store, Config: d.cfg.Load, Now: o.Now, Logger: d.log,
		Expired: history.NewExpiredCounter(reg)})
	jobs[history.RetentionKind] = d.retention.Run
	jobs[heartbeat.JobKind] = func(ctx context.Context, j *store.Job) (*store.Job, error) { return d.heartbeats.Expire(ctx, j) }
	jobs[maintenance.JobKind] = func(ctx context.Context, j *store.Job) (*store.Job, error) { return d.windows.Job(ctx, j) }
	jobs[notices.Kind] = d.notices.Handle
	// An answer remembered (a Twilio SMS reply's SID), and a resolve that
	// found no open incident (incident.ResolveMarkKeep after it), are
	// forgotten when their job comes due: its run ends it.
	forget := func(context.Context, *store.Job) (*store.Job, error) { return nil, nil }
	jobs[incident.AnswerKind], jobs[incident.ResolveMarkKind] = forget, forget
	// The document names who takes over, so it is made with the config
	// pages go by (run-time overrides merged in), as the API makes it.
	// Slack's poster is asked first whether it would post a schedule's
	// document, so none is made for a schedule without a channel.
	postHandoff := o.PostHandoff
	var checkHandoff func(*policy.Config, string) error
	if postHandoff == nil && tr.slack != nil {
		postHandoff, checkHandoff = slackHandoffs(tr.slack, pagingConfig), slackHandoffHeld
	}
	handoffDocs := history.NewHandoffCounter(reg)
	if postHandoff != nil {
		d.handoffs = history.NewHandoffs(history.Handoffs{Source: history.Store{Store: d.store, Now: o.Now}, Jobs: d.store, Config: pagingConfig, Now: o.Now,
			Post: postHandoff, Check: checkHandoff, Logger: d.log, Documents: handoffDocs})
		jobs[history.HandoffKind] = d.handoffs.Run
	}

	// The incident service, and the dispatcher it wakes.
	am := &dispatch.AlertmanagerSilencer{Client: o.HTTPClient}
	d.dispOpts = dispatch.Options{Store: d.store, Config: pagingConfig, Notifiers: d.notifiers, Logger: d.log, Registry: reg,
		Now: o.Now, Lease: time.Duration(cfg.Server.Lease), MaxSleep: o.MaxSleep, PagerDuty: forwarder,
		Silencer: am, Jobs: jobs, Outbox: map[string]dispatch.OutboxHandler{},
		Maintenance: func(ctx context.Context, inc *store.Incident, at time.Time) *policy.Hold {
			return d.windows.Covering(ctx, inc, at) // made below, before the dispatcher runs
		},
		WindowsInForce: func(ctx context.Context, t time.Time, service string) bool { return d.windows.InForce(ctx, t, service) },
		NewerConfig:    d.newerConfig}
	slackPosts := newSlackChannelPosts(reg)
	if tr.slack != nil {
		so := &slackOutbox{client: tr.slack, store: d.store, config: pagingConfig, now: o.Now, log: d.log, posts: slackPosts}
		d.dispOpts.Outbox[store.OutboxSlack] = so.handle
	}
	if tr.pushover != nil {
		po := &pushoverOutbox{n: tr.pushover, store: d.store, now: o.Now}
		d.dispOpts.Outbox[store.OutboxPushover] = po.handle
	}
	if tr.twilio != nil {
		tc := &twilioCallsOutbox{n: tr.twilio, store: d.store, now: o.Now}
		d.dispOpts.Outbox[store.OutboxTwilio] = tc.handle
	}
	d.disp = dispatch.New(d.dispOpts)
	d.cfg.OnLoad(d.disp.InitMetrics)
	// One waker for every writer, so that their nudges coalesce. Its
	// nudges go on until Close, not until ctx (the signal's) ends: a
	// replica in its shutdown delay still takes alerts, and the other
	// replicas must hear of their first steps.
	nudging, stopNudging := context.WithCancel(context.WithoutCancel(ctx))
	wake, nudged := d.wake(nudging)
	// The nudge on its way, if any, ends before the store closes under it
	// (go-redis does not end a command at a cancel, only at its deadline).
	d.teardown = append(d.teardown, func() error { stopNudging(); <-nudged; return nil })
	d.incidents = incident.New(incident.Options{Store: d.store, Config: pagingConfig, Logger: d.log, Registry: reg, Now: o.Now,
		Wake: wake, CapSummary: ingest.CapSummary, Acted: d.disp.Acted,
		Maintenance: func(ctx context.Context, service string, labels []map[string]string, held *policy.Incident, at time.Time) *policy.Hold {
			return d.windows.Hold(ctx, service, labels, at, held)
		}})
	d.cfg.OnLoad(d.incidents.InitMetrics)
	// Resolves withheld (cut by Alertmanager's max_alerts), and alerts
	// max_alerts left out in fingerprint mode, checked with Alertmanager
	// by store jobs; and Alertmanager's config, watched by a store job
	// per Alertmanager (armed with the config's other jobs), which
	// resolves the incidents of the groups a change of it dropped
	// without their resolved notification.
	withheld := amresolve.New(amresolve.Options{Store: d.store, Config: pagingConfig, Incidents: d.incidents, Alerts: am,
		Groups: am, GroupsGone: amresolve.NewGroupsGoneCounter(reg), Logger: d.log, Now: o.Now, Wake: wake})
	d.withheld = withheld
	d.cfg.OnLoad(withheld.InitMetrics)
	jobs[amresolve.JobKind] = withheld.Run // the dispatchers read the map at each job
	jobs[amresolve.JobKindGroup] = withheld.RunGroup
	jobs[amresolve.JobKindLeftOut] = withheld.RunLeftOut
	jobs[amresolve.JobKindOverflow] = withheld.RunOverflow
	jobs[amresolve.JobKindGroupResolved] = withheld.RunGroupResolved
	jobs[amresolve.JobKindConfig] = withheld.RunConfig
	// An acknowledgement that silences its incident's alerts starts the
	// same check: the silences mute the resolved notification too.
	d.dispOpts.Outbox[store.OutboxResolveCheck] = withheld.Acknowledged
	// At start and at every reload, which may add such a service.
	d.cfg.OnLoad(func(c *policy.Config) {
		for _, n := range c.AutoResolveNotes() {
			d.log.Info(n) // a note, as check-config prints it: most receivers never cut
		}
		for _, n := range c.LogOnlyNotes() {
			d.log.Info("config: "+n, "config", c.File) // a first run's, as often as a mistake's
		}
	})
	// What check-config warns about (a level that pages nobody some hours,
	// P0 paging that stops unacknowledged) is said again where the config
	// is taken into use, at start and at every reload: a config deployed
	// without check-config, or whose warnings scrolled by in CI, would
	// otherwise run without anyone being told.
	d.cfg.OnLoad(func(c *policy.Config) {
		for _, w := range append(c.Warnings(), c.ShadowNotes()...) {
			d.log.Warn("config: "+w, "config", c.File)
		}
	})

	// Heartbeats and maintenance windows, whose jobs the dispatchers do.
	d.heartbeats = heartbeat.New(heartbeat.Options{Store: d.store, Config: pagingConfig, InUse: &d.cfg.inUse, Incidents: d.incidents, Logger: d.log,
		Registry: reg, Now: o.Now, Lease: time.Duration(cfg.Server.Lease), NewerConfig: d.newerConfig})
	d.cfg.OnLoad(d.heartbeats.InitMetrics)
	d.cfg.OnLoad(d.heartbeats.Loaded)
	// Pings could not be stored while the store was down: an expiry that
	// came due then is watched again, not paged at once.
	d.health.OnDown(d.heartbeats.StoreDown)
	d.windows = maintenance.New(maintenance.Options{Store: d.store, Config: d.cfg.Load, Incidents: d.incidents, Logger: d.log,
		Now: o.Now, Wake: wake})
	d.arm = make(chan *policy.Config, 1)
	d.storeBack = make(chan struct{}, 1)
	d.health.OnBack(func() {
		select {
		case d.storeBack <- struct{}{}:
		default: // one is on its way already
		}
	})
	d.cfg.OnLoad(func(c *policy.Config) {
		select {
		case <-d.arm: // a config not armed yet is replaced by the newer one
		default:
		}
		d.arm <- c
	})

	// The HTTP side: the server, the links and the providers' callbacks,
	// all acting through the incident service.
	// Pushover documents no retry of a receipt callback: one whose
	// acknowledgement the store did not take is counted, for an alert.
	pushoverNotStored := prometheus.NewCounter(prometheus.CounterOpts{Name: "pagerd_pushover_receipts_not_stored_total",
		Help: "Pushover receipt callbacks answered 5xx because the store did not take their acknowledgement, wholly or for some of a storm message's incidents."})
	reg.MustRegister(pushoverNotStored)
	cons := console.New(console.Options{Incidents: d.incidents, Config: pagingConfig, Overrides: d.overrides, History: history.Store{Store: d.store, Now: o.Now},
		Signouts: d.store, Now: o.Now, Logger: d.log, HTTPClient: o.HTTPClient, PollInterval: o.ConsolePoll, PollTimeout: o.ConsolePollTimeout,
		ListPollInterval: o.ConsoleListPoll, ClientIP: ipExtractor(cfg.Server.TrustedProxies)}) // as the server's: sign-in limits count the client, not its proxy
	d.cfg.OnLoad(cons.ConfigLoaded) // a user removed and added back gets no old session back
	// With Options.Now (a test's clock) every replica has the one clock:
	// the server stamps on it (ServerOptions.Arrival nil).
	var arrival func(*http.Request) (time.Time, time.Time)
	if shared {
		d.arrivals = newArrivals(d.received, d.log)
		arrival = d.arrivals.stamp
	}
	d.server = NewServer(ServerOptions{Config: pagingConfig, Reload: d.cfg.Reload, InUse: &d.cfg.inUse, Incidents: d.incidents, Overrides: d.overrides, Console: cons,
		Feeds: &feeds.Service{Store: d.store, Config: pagingConfig, Now: o.Now},
		Links: &acklink.Pages{Incidents: d.incidents, Config: d.cfg.Load, Now: o.Now, Logger: d.log},
		Twilio: &twilio.Callbacks{Receiver: d.incidents, Logger: d.log, Now: o.Now, Settings: func() twilio.Settings {
			return twilioSettings(cfg, d.cfg.Load())
		}},
		PagerDuty: &pagerduty.Webhook{Receiver: d.incidents, Logger: d.log, Now: o.Now, Merges: newPagerDutyMerges(d.store, o.Now, d.log),
			Secret: func() string { return d.cfg.Load().Notifiers.PagerDuty.WebhookSecret.Reveal() }},
		Slack: &slack.Callbacks{Receiver: d.incidents, Logger: d.log, Now: o.Now, Client: func() *slack.Client { return tr.slack },
			Secret: func() string {
				if tr.slack == nil {
					return "" // Slack was not configured at start: not served
				}
				return d.cfg.Load().Notifiers.Slack.SigningSecret.Reveal()
			},
			OnCall: slackOnCall(pagingConfig, o.Now)},
		Pushover: &pushover.Callbacks{Receiver: d.incidents, Verify: d.pushoverVerify(tr.pushover != nil, o.Now), Logger: d.log, Now: o.Now,
			NotStored: pushoverNotStored},
		Heartbeats: d.heartbeats, Maintenance: d.windows, Withheld: withheld, Changes: &changes.Log{Store: d.store, Now: o.Now},
		Health: d.health, Backup: backup, History: history.Store{Store: d.store, Now: o.Now}, Logger: d.log, Registry: reg, Gatherer: reg, Now: o.Now,
		Arrival: arrival, TrustedProxies: cfg.Server.TrustedProxies, ShutdownTimeout: o.ShutdownTimeout,
		MaxInflight: maxInflight(cfg, st), MaxQueue: cfg.Server.Admission.MaxQueue, QueueTimeout: time.Duration(cfg.Server.Admission.QueueTimeout),
		DispatchBehind: d.disp.Behind, BrakeBehind: time.Duration(cfg.Server.Admission.BrakeBehind),
		NewerConfig: d.newerConfig})
	d.cfg.OnLoad(d.server.configLoaded)

	d.listener = o.Listener
	if d.listener == nil {
		addr := o.Listen
		if addr == "" {
			addr = cfg.Server.Listen
		}
		if d.listener, err = net.Listen("tcp", addr); err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				// The first thing a new user meets when 8080 is taken:
				// say what to do, not only what the kernel said.
				return nil, fmt.Errorf("%w: another program listens there; give pagerd another address (--listen, or server.listen; make run LISTEN=127.0.0.1:18080) and change server.public_url to match, since ack links are made from it", err)
			}
			return nil, fmt.Errorf("listen: %w", err)
		}
		// Run's server closes it when it stops; this is for a daemon that
		// never ran.
		l := d.listener
		d.teardown = append(d.teardown, func() error {
			if err := l.Close(); !errors.Is(err, net.ErrClosed) {
				return err
			}
			return nil
		})
	}
	return d, nil
}

// embeddedMaxInflight is the intake's default limit on the embedded store.
// Its writes wait for a shared fsync (group commit), so alerts in flight
// cost memory, not work, and more of them make larger commits; a limit as
// low as Redis's would refuse alerts at a fraction of capacity whenever
// one fsync is slow (issue 12's load run: 9 of 10,000 refused at 1,000/s,
// a fifth of capacity).
const embeddedMaxInflight = 256

// maxInflight is the intake's limit: the config's, or the default of the
// store st.
func maxInflight(cfg *policy.Config, st store.Store) int {
	if n := cfg.Server.Admission.MaxInflight; n > 0 {
		return n
	}
	if _, ok := st.(*boltstore.Store); ok {
		return embeddedMaxInflight
	}
	return 0 // the intake's own default
}

// openStore opens Redis when a URL is given, the embedded store otherwise,
// and says which in the log: an operator must never wonder where incidents
// are.
func (d *Daemon) openStore(ctx context.Context, cfg *policy.Config) (store.Store, error) {
	redisURL := d.o.RedisURL
	if redisURL == "" {
		redisURL = cfg.Server.Redis.URL.Reveal()
	}
	if redisURL != "" {
		s, err := redisstore.Open(ctx, redisURL, cfg.Server.Redis.Prefix, d.log)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	dir := d.o.DataDir
	if dir == "" {
		dir = cfg.Server.DataDir
	}
	if dir == "" {
		dir = "data"
	}
	s, err := boltstore.OpenLogged(dir, d.log)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(dir)
	d.log.Info("store: embedded (single replica)", "data_dir", abs)
	return s, nil
}

// pushoverVerify checks the token of a Pushover receipt callback: signed
// like an ack link (acklink.VerifyReceipt), for a person still in the
// config. Nil when Pushover
// was not configured at start (the callback then answers 404).
func (d *Daemon) pushoverVerify(configured bool, now func() time.Time) func(token string) (pushover.Paged, error) {
	if !configured {
		return nil
	}
	return func(token string) (pushover.Paged, error) {
		if acklink.Malformed(token) {
			return pushover.Paged{}, fmt.Errorf("receipt token: %w", pushover.ErrNotSigned)
		}
		cfg := d.cfg.Load()
		r, err := acklink.VerifyReceipt(cfg.Server.LinkSecret, token, now())
		if err == nil && cfg.User(r.User) == nil {
			err = errors.New("no such user")
		}
		return pushover.Paged{Target: r.Target, User: r.User, Reopened: r.Reopened, ReopenedKnown: r.ReopenedKnown}, err
	}
}

// overridesChanged is how a change of the overrides is told to the other
// replicas: a broadcast on the store's overrides topic (Redis pub/sub, a
// channel apart from the dispatcher's nudges, so that an alert storm does
// not make every replica read its overrides again at each new incident), or
// nothing for a store one replica has to itself (it takes in its own writes
// as it makes them).
func (d *Daemon) overridesChanged() func(ctx context.Context) error {
	if b, ok := d.store.(store.Broadcaster); ok {
		return func(ctx context.Context) error { return b.Broadcast(ctx, overrides.Topic) }
	}
	return nil
}

// overrideChanges delivers the other replicas' changes of the overrides
// (overridesChanged) until ctx ends; nil for a store one replica has to
// itself.
func (d *Daemon) overrideChanges(ctx context.Context) <-chan struct{} {
	if b, ok := d.store.(store.Broadcaster); ok {
		return b.Broadcasts(ctx, overrides.Topic)
	}
	return nil
}

// armNotices moves the shift-notice jobs of the schedules named to their
// next notice, after their overrides changed. A failure only delays
// notices: a job sends, when it runs, every notice that came due since it
// last ran, and the daemon arms again at every start, reload and hour.
func (d *Daemon) armNotices(ctx context.Context, schedules ...string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.notices.Arm(actx, schedules...); err != nil {
		d.log.Warn("shift notices: jobs not armed; they are again at the next start, reload or hour", "err", err)
	}
}

// readOverrides reads the run-time overrides once, before the daemon
// pages, bounded so that a slow store does not hold up the start (Run
// reads them again).
func (d *Daemon) readOverrides(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return d.overrides.Refresh(rctx)
}

// wake is what the incident service calls when a write leaves a step due
// at once: this replica's dispatcher looks now, and a store that can
// (Redis) tells every other replica's too. Nudges are coalesced: one
// goroutine publishes them, and the wakes that come while one is on its way
// make one more after it, not one each (a publish per alert was 5% of the
// daemon's CPU under a flood of alerts), and it starts at most one every
// nudgeGap. done is closed once that goroutine has ended, after ctx.
func (d *Daemon) wake(ctx context.Context) (wake func(), done <-chan struct{}) {
	ended := make(chan struct{})
	n, ok := d.store.(store.Nudger)
	if !ok {
		close(ended)
		return d.disp.Wake, ended
	}
	poke := make(chan struct{}, 1)
	go func() {
		defer close(ended)
		failing := false
		var last time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-poke:
			}
			if wait := nudgeGap - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			last = time.Now()
			nctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := n.Nudge(nctx)
			cancel()
			// Other replicas then find the step at their next look (at
			// most a second later): worth a line, once per streak.
			switch {
			case err != nil && !failing && ctx.Err() == nil:
				d.log.Warn("other replicas not nudged; they find new pages at their next look", "err", err)
				failing = true
			case err == nil && failing:
				d.log.Info("other replicas nudged again")
				failing = false
			}
		}
	}()
	return func() {
		d.disp.Wake()
		select {
		case poke <- struct{}{}:
		default: // one is already on its way: it will do
		}
	}, ended
}

// nudgeGap is the least time between two nudges a replica publishes. At
// 1,000 alerts a second, each a millisecond apart, a nudge whose publish
// took less than that went out per alert: a round trip to Redis and a
// message to every replica, 7% of the daemon's CPU. A dispatcher takes at
// most one look at the due set per 5 ms anyway (dispatch's wakeGap), and
// the replica that took the alert has woken its own at once.
const nudgeGap = 5 * time.Millisecond

// Run runs the daemon until ctx ends: readiness probes, config reloads,
// the dispatcher and the HTTP server. When ctx ends with a shutdown delay
// set, readiness turns red and everything runs on for the delay. Then the
// server finishes the requests in flight and the dispatcher the steps it
// is on; anything left is in the store, and another replica, or this one
// at its next start, fires it. It returns why it stopped when that was not ctx ending (data
// in Redis of a newer schema, a listener that failed).
func (d *Daemon) Run(ctx context.Context) error {
	stop := ctx
	ctx, abort := context.WithCancelCause(context.WithoutCancel(ctx))
	defer abort(nil)
	go d.stopAfterDelay(stop, ctx, abort)
	if d.schema != nil {
		go watchSchema(ctx, d.log, d.schema, abort)
	}
	if d.broken != nil {
		go d.watchBroken(ctx, abort)
	}
	if c := d.clock.Load(); c != nil {
		go c.Run(ctx)
	}
	if d.arrivals != nil {
		go d.arrivals.run(ctx)
	}
	go d.health.Run(ctx)
	go d.reloads(ctx)
	go d.overrides.Run(ctx, d.overrideChanges(ctx))
	go d.providers.Run(ctx)
	dispDone := make(chan struct{})
	go func() {
		defer close(dispDone)
		if !d.awaitClock(ctx) {
			return
		}
		// The registry's entry is removed when ctx ends, before the
		// store closes.
		registered := make(chan struct{})
		go func() { defer close(registered); d.replicas.Run(ctx) }()
		defer func() { <-registered }()
		go d.ensureJobs(ctx)
		go d.armJobs(ctx)
		go d.rearmJobs(ctx)
		go d.heartbeats.WatchStalls(ctx)
		_ = d.disp.Run(ctx)
	}()
	cfg := d.cfg.Load()
	d.log.Info("pagerd serving", "version", d.o.Version, "listen", d.listener.Addr().String(), "config", d.o.ConfigPath,
		"services", len(cfg.Services), "users", len(cfg.Users))
	// At start and at every reload: a reload can move public_url too.
	d.cfg.OnLoad(func(c *policy.Config) {
		if msg := publicURLMisses(c.Server.PublicURL, d.listener.Addr()); msg != "" {
			d.log.Warn(msg)
		}
	})
	err := d.server.Serve(ctx, d.listener)
	abort(nil)
	<-dispDone
	if err != nil {
		return err
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	d.log.Info("pagerd stopped")
	return nil
}

// watchBroken stops the daemon, with the store's error, once the store
// takes no more writes until a restart (store.Breakable): pagerd exits
// non-zero, and its supervisor restarts it, rather than it answering
// every alert 503 and paging nobody until someone notices.
func (d *Daemon) watchBroken(ctx context.Context, abort context.CancelCauseFunc) {
	select {
	case <-ctx.Done():
		return
	case <-d.broken.Broken():
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	err := d.store.Ping(cctx)
	cancel()
	if err == nil {
		err = errors.New("the store takes no more writes")
	}
	d.log.Error("stopping: the store takes no more writes until pagerd is restarted", "err", err)
	abort(fmt.Errorf("store failed: %w", err))
}

// stopAfterDelay ends the daemon's run (abort) once stop ends: at once
// without a shutdown delay, else after turning readiness red and serving
// on for the delay, so that requests routed to pagerd before the load
// balancer saw it not ready are still answered.
func (d *Daemon) stopAfterDelay(stop, run context.Context, abort context.CancelCauseFunc) {
	select {
	case <-run.Done(): // stopped for another reason
		return
	case <-stop.Done():
	}
	if delay := d.o.ShutdownDelay; delay > 0 {
		d.health.Stopping()
		d.log.Info("shutting down: not ready, still serving for the shutdown delay", "delay", delay.String())
		after := d.o.After
		if after == nil {
			after = time.After
		}
		select {
		case <-run.Done():
		case <-after(delay):
		}
	}
	abort(nil)
}

// reloads reloads the config at every signal; a bad config is refused and
// the old one stays, as with POST /-/reload.
func (d *Daemon) reloads(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.o.Reload:
			_ = d.cfg.Reload()
		}
	}
}

// ensureJobs makes sure the store jobs the daemon runs are scheduled:
// retention, the watch of each Alertmanager's config, and each
// schedule's handoff document when they are posted.
// Every replica does, and each job stays one. It tries at once, every
// minute while the store refuses, then every hour, which also schedules
// the handoffs of schedules a reload added.
func (d *Daemon) ensureJobs(ctx context.Context) {
	for {
		err := d.EnsureJobs(ctx)
		wait := time.Hour
		if err != nil {
			d.log.Warn("store jobs not scheduled yet; trying again in a minute", "err", err)
			wait = time.Minute
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// EnsureJobs schedules the daemon's store jobs that are not: what Run
// does at start (and hourly after).
func (d *Daemon) EnsureJobs(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := errors.Join(d.retention.Ensure(ctx), d.withheld.ArmConfigWatch(ctx, d.cfg.Load()))
	if d.handoffs != nil {
		err = errors.Join(err, d.handoffs.Ensure(ctx))
	}
	// armJobs arms the shift notices at start and at every reload; arming
	// them here too, every hour, moves a notice job that the arming after
	// an override change (armNotices) failed to move. At start both arm
	// them, which is harmless: the job is keyed, so it is stored once.
	return errors.Join(err, d.notices.Arm(ctx))
}

// Close tears down what New opened, in the reverse order.
func (d *Daemon) Close() error {
	var errs []error
	for i := len(d.teardown) - 1; i >= 0; i-- {
		errs = append(errs, d.teardown[i]())
	}
	d.teardown = nil
	return errors.Join(errs...)
}

// Run builds the daemon, runs it until ctx ends and tears it down: all
// pagerd serve does once it has parsed its flags.
func Run(ctx context.Context, o Options) error {
	d, err := New(ctx, o)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Run(ctx)
}

// What tests and embedders may reach of a daemon built by New.

// Handler is the daemon's HTTP handler.
func (d *Daemon) Handler() http.Handler { return d.server.Handler() }

// Addr is the address the daemon listens on.
func (d *Daemon) Addr() net.Addr { return d.listener.Addr() }

// Config is the config in force.
func (d *Daemon) Config() *policy.Config { return d.cfg.Load() }

// Reload reads the config file again and swaps it in if it is valid.
func (d *Daemon) Reload() error { return d.cfg.Reload() }

// Overrides is the run-time overrides' service.
func (d *Daemon) Overrides() *overrides.Service { return d.overrides }

// Notices is the shift notices' service.
func (d *Daemon) Notices() *notices.Service { return d.notices }

// Incidents is the incident service.
func (d *Daemon) Incidents() *incident.Service { return d.incidents }

// Dispatcher is the daemon's dispatcher; Run runs it.
func (d *Daemon) Dispatcher() *dispatch.Dispatcher { return d.disp }

// DispatchOptions are the options the daemon built its dispatcher with,
// for another replica's dispatcher on the same store.
func (d *Daemon) DispatchOptions() dispatch.Options { return d.dispOpts }

// Replicas is this replica's entry in the registry of replicas' configs.
func (d *Daemon) Replicas() *replicaconfig.Registry { return d.replicas }

// Store is the store as the daemon uses it (instrumented).
func (d *Daemon) Store() store.Store { return d.store }

// Health is the daemon's readiness; Run runs its probes.
func (d *Daemon) Health() *Health { return d.health }
