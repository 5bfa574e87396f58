// Package heartbeat watches the services' heartbeats (dead-man's switches):
// a ping moves the heartbeat's expiry, a store job (kind "heartbeat"), to
// the ping's time plus the heartbeat's interval and grace; a job that comes
// due means no ping came in time, and raises an incident through the
// service's rules. Jobs are claimed by the dispatchers of every replica with
// a lease, so an expiry fires exactly once across replicas, and fires even
// when the replica that took the last ping has died. The next ping resolves
// the incident.
package heartbeat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// JobKind is the kind of the store jobs that are heartbeats' expiries.
const JobKind = "heartbeat"

// Source is the source of heartbeat incidents, and the actor of their
// timeline entries.
const Source = "heartbeat"

// ErrUnknown is a ping for a heartbeat the service does not have.
var ErrUnknown = errors.New("no such heartbeat")

// DedupKey is the dedup key of a heartbeat's incident.
func DedupKey(name string) string { return "hb:" + name }

// jobKey is the store job key of a service's heartbeat. Heartbeat names are
// unique per service; kinds never hold a slash, keys may.
func jobKey(service, name string) string { return service + "/" + name }

// recheckKey is the store job key of a heartbeat's recheck (see Arm). A
// heartbeat's name is usable in a URL path as it is, so it never holds
// '#'.
func recheckKey(service, name string) string { return jobKey(service, name) + "#recheck" }

// jobData is what a heartbeat's job carries.
type jobData struct {
	Service string `json:"service"`
	Name    string `json:"name"`
	// LastPing is the last ping's time; zero before the first one.
	LastPing time.Time `json:"last_ping,omitzero"`
	// Since is when pagerd began watching a heartbeat never pinged, or,
	// later than LastPing, watching again one back in the config after a
	// long absence (see stale).
	Since time.Time `json:"since,omitzero"`
	// Recheck marks a recheck job (see Arm): it carries no ping of its
	// own, and looks at the heartbeat's job when it comes due.
	Recheck bool `json:"recheck,omitempty"`
	// Unknown is when a replica whose config has no such heartbeat first
	// came upon the job, since a replica that has it last did (see
	// Expire); zero while the replicas that meet it know it.
	Unknown time.Time `json:"unknown,omitzero"`
	// Left is when a replica on an older config than a live replica's
	// first left the miss to the newer one (see leaveToNewer); zero
	// once a replica that leaves nothing handles the job.
	Left time.Time `json:"left,omitzero"`
}

// unknownRetry is how soon a job a replica does not know the heartbeat of
// comes due again, for a replica that knows it: its config may lag behind
// the others' (a failed reload, a ConfigMap not yet propagated), and the
// miss it leaves is late by this much at most each time it claims the job.
// Once no replica that knows the heartbeat has claimed the job for
// RearmEvery (it is out of every config, or every replica that has it is
// away), the job comes due every RearmEvery instead: claiming it every
// few seconds for a day only wastes work, and a replica that gets the
// heartbeat back arms it when it loads that config (see arm).
const unknownRetry = 10 * time.Second

// ForgetAfter is how long the job of a heartbeat no replica knows stays in
// the store: a replica whose config has no such heartbeat leaves the job
// for one that has it, and drops it only when no replica that knows the
// heartbeat has claimed it for this long (the heartbeat was taken out of
// every replica's config). A heartbeat back in the config within it keeps
// its last ping, and its expiry if it was back soon enough (see stale).
const ForgetAfter = 24 * time.Hour

// ref is the time the expiry counts from: the last ping, or when pagerd
// began (or began again) watching, whichever is later.
func (d jobData) ref() time.Time {
	if d.Since.After(d.LastPing) {
		return d.Since
	}
	return d.LastPing
}

// stale says the job d carries was handled only by replicas whose config
// lacks hb for at least hb's interval and grace, up to now: the heartbeat
// was out of the config (or the config of every replica that has it was
// away) for longer than one expiry, so nobody could ping it in time, and
// its expiry cannot count from before. A shorter absence keeps the
// expiry: a replica whose config lags for a moment must not postpone a
// real miss.
//
// Nor is it stale to a replica whose own config has had hb since before
// the job was first handled by one without it (see Loaded), when that was
// less than RearmEvery ago: the heartbeat was in a config all along, and
// this replica, running, could take its pings; it is another replica's
// config that lags, and this one claims the job within seconds of it
// (unknownRetry). Without this, a heartbeat whose interval and grace are
// shorter than unknownRetry was watched again each time a lagging
// replica claimed its expiry first, and never paged while that replica
// won the claims. Unknown for longer, the job was missed by this replica
// too (it was stopped or frozen), and the absence counts.
func (m *Monitor) stale(d jobData, hb *policy.Heartbeat, now time.Time) bool {
	if d.Unknown.IsZero() || now.Sub(d.Unknown) < hb.Expiry() {
		return false
	}
	m.mu.Lock()
	since, ok := m.known[jobKey(d.Service, d.Name)]
	m.mu.Unlock()
	return !ok || since.After(d.Unknown) || now.Sub(d.Unknown) >= RearmEvery
}

// Loaded tells the monitor the config this replica took into use (at
// start and at each reload): since when each of its heartbeats has been in
// this replica's config (see stale).
func (m *Monitor) Loaded(cfg *policy.Config) {
	now := m.clock()
	in := map[string]bool{}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, svc := range cfg.Services {
		for _, hb := range svc.Heartbeats {
			k := jobKey(svc.Name, hb.Name)
			in[k] = true
			if _, ok := m.known[k]; !ok {
				m.known[k] = now
			}
		}
	}
	for k := range m.known {
		if !in[k] {
			delete(m.known, k)
		}
	}
}

// rewatch is the job of hb, which carried d, watched again from now (see
// stale, and unworked): a heartbeat back in the config after a long
// absence, or whose expiry no pagerd was running to see, is missed if no
// ping comes within wait from now (its interval and grace, as a new one
// is watched, or less: see unworked); its last ping is kept for the
// incident. why and the attributes say which, in the log.
func (m *Monitor) rewatch(d jobData, hb *policy.Heartbeat, now time.Time, wait time.Duration, why string, args ...any) *store.Job {
	// Since counts the expiry: it ends wait from now.
	data, _ := json.Marshal(jobData{Service: d.Service, Name: d.Name, LastPing: d.LastPing, Since: now.Add(wait - hb.Expiry())})
	attrs := append([]any{"service", d.Service, "heartbeat", d.Name}, lastPingAttr(d)...)
	m.log.Info(why+": watched again from now", append(append(attrs, "expires", now.Add(wait)), args...)...)
	return &store.Job{Kind: JobKind, Key: jobKey(d.Service, d.Name), Due: now.Add(wait), Data: data}
}

// lastPingAttr is the log's last_ping of d: none for a heartbeat never
// pinged, whose zero time would read as a ping in year 1.
func lastPingAttr(d jobData) []any {
	if d.LastPing.IsZero() {
		return nil
	}
	return []any{"last_ping", d.LastPing}
}

// Unworked is how late past its due time a heartbeat's job may be worked
// and still count as missed: a job later than that was due while no
// pagerd worked the store's jobs (every replica stopped, for an upgrade or
// after a crash; the store restored from a backup; the store down), and
// while no pagerd took pings either, so no ping could move it. A running
// dispatcher works a job within its poll (a second), or a lease (30s by
// default) when the replica that claimed it died; a replica that ran, its
// store answering, since before the job came due vouches that pings
// could be taken, whatever the delay (see unworked). Such a job is watched again
// (rewatch), for as long as pagerd is known to have been away (from the
// job's due time to now; at least the grace, at most the interval and
// grace): without it, every heartbeat paged "missed" the moment pagerd
// started after a stop longer than its interval and grace, though its
// sender had pinged all along; given the whole interval and grace, a
// nightly job that died a day before a stop of a few minutes was paged a
// day late. A sender whose ping fell in a longer stop, and whose next
// ping comes later than that, is paged as missed.
const Unworked = time.Minute

// unworked says j, due at its Due, was not worked by a running pagerd in
// time (Unworked), and this replica cannot vouch that pings could be
// taken meanwhile. One that has run since before j came due, its store
// answering all along (see StoreDown), could take pings the whole time:
// a job it works late was held up by a claim that did not finish (a
// replica that died or froze after claiming it, a handler that failed,
// each costing a lease), not by pagerd being away, and its miss is real.
// Watched again, it was paged up to an interval and grace late (a
// nightly heartbeat with a 2h grace, 2h late, after one crash with a
// lease over Unworked).
func (m *Monitor) unworked(j *store.Job, now time.Time) bool {
	if j.Due.IsZero() || now.Sub(j.Due) <= Unworked {
		return false
	}
	m.mu.Lock()
	up := m.up
	m.mu.Unlock()
	return up.After(j.Due)
}

// StoreDown tells the monitor the store failed to answer (a readiness
// probe failed): pings could not be stored, so an expiry due before now
// and worked late may have been missed only for that (see unworked).
func (m *Monitor) StoreDown() {
	now := m.clock()
	m.mu.Lock()
	m.up = now
	m.mu.Unlock()
}

// Options configure a Monitor.
type Options struct {
	Store     store.Store
	Config    func() *policy.Config
	Incidents *incident.Service
	Logger    *slog.Logger
	Registry  prometheus.Registerer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// InUse, when set, is held for reading while an expiry is worked,
	// from the config it reads to the incident it raises: a reload that
	// removes the heartbeat's service waits for it, then finds that
	// incident open and is refused, as for an alert being taken in.
	InUse interface {
		RLock()
		RUnlock()
	}
	// NewerConfig, when set, names a live replica that runs a config
	// taken into use later than this one's (dispatch.Options.NewerConfig):
	// this replica then leaves a miss to it (see leaveToNewer).
	NewerConfig func(ctx context.Context) (replica string, ok bool)
	// Lease is the dispatchers' claim lease (30s when 0): how long a miss
	// is left to a replica on a newer config at most.
	Lease time.Duration
}

// Monitor takes pings and raises the incidents of missed heartbeats.
type Monitor struct {
	o      Options
	log    *slog.Logger
	pings  *prometheus.CounterVec
	misses *prometheus.CounterVec
	// held counts the misses this replica held back (afterStall) or left
	// to a newer config (leaveToNewer): without it, a stall or a rollout
	// that delayed a miss was seen only in the log.
	held *prometheus.CounterVec

	mu     sync.Mutex
	inited map[string]bool
	// nextRearm is when Rearm next re-arms (the monitor's clock).
	nextRearm time.Time
	// known is since when each heartbeat (by job key) has been in this
	// replica's config, without a break (Loaded).
	known map[string]time.Time
	// up is since when this replica has run with its store answering:
	// its start, or the last failure StoreDown was told of.
	up time.Time
	// lastTick is when this replica last ran, as Tick (or a stall
	// noticed by afterStall) says; zero until the first Tick.
	lastTick time.Time
	// stallEnd is when the latest stall noticed ended (see afterStall).
	stallEnd time.Time
}

// New makes a Monitor.
func New(o Options) *Monitor {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	m := &Monitor{o: o, log: o.Logger, inited: map[string]bool{}, known: map[string]time.Time{},
		pings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_heartbeat_pings_total",
			Help: "Heartbeat pings taken, by service and heartbeat."}, []string{"service", "heartbeat"}),
		misses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_heartbeat_misses_total",
			Help: "Heartbeats that expired without a ping (each raised or repeated the heartbeat's incident), by service and heartbeat."},
			[]string{"service", "heartbeat"}),
		held: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_heartbeat_misses_held_total",
			Help: "Heartbeat expiries due that this replica did not page yet, by service, heartbeat and why: stall (it did not run for a while, and waits StallGrace for pings that waited meanwhile) or newer_config (a live replica runs a newer config, left to it for a lease at most)."},
			[]string{"service", "heartbeat", "reason"}),
	}
	o.Registry.MustRegister(m.pings, m.misses, m.held)
	// The first arming is the daemon's Arm at start: a re-arm racing it
	// would call the jobs it adds lost ("its data lost?").
	m.nextRearm = o.Now().Add(RearmEvery)
	m.up = m.clock()
	return m
}

// InitMetrics creates the counters of every heartbeat of cfg at zero.
func (m *Monitor) InitMetrics(cfg *policy.Config) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, svc := range cfg.Services {
		for _, hb := range svc.Heartbeats {
			if k := jobKey(svc.Name, hb.Name); !m.inited[k] {
				m.inited[k] = true
				m.pings.WithLabelValues(svc.Name, hb.Name)
				m.misses.WithLabelValues(svc.Name, hb.Name)
				m.held.WithLabelValues(svc.Name, hb.Name, "stall")
				m.held.WithLabelValues(svc.Name, hb.Name, "newer_config")
			}
		}
	}
}

func (m *Monitor) clock() time.Time { return m.o.Now().UTC().Truncate(time.Millisecond) }

// Ping records a ping of the service's heartbeat: its expiry moves to now
// plus its interval and grace, stored before Ping returns, and its
// incident, if one is open, is resolved (resolved is its id). ErrUnknown
// when the service has no such heartbeat; the store's errors otherwise.
func (m *Monitor) Ping(ctx context.Context, svc *policy.Service, name string) (expires time.Time, resolved string, err error) {
	hb := svc.Heartbeat(name)
	if hb == nil {
		return time.Time{}, "", fmt.Errorf("%w %q in service %s", ErrUnknown, name, svc.Name)
	}
	now := m.clock()
	expires = now.Add(hb.Expiry())
	data, _ := json.Marshal(jobData{Service: svc.Name, Name: name, LastPing: now})
	if err := m.o.Store.PutJob(ctx, store.Job{Kind: JobKind, Key: jobKey(svc.Name, name), Due: expires, Data: data}); err != nil {
		return time.Time{}, "", err
	}
	m.pings.WithLabelValues(svc.Name, name).Inc()
	resolved, err = m.o.Incidents.ResolveIfOpen(ctx, svc, DedupKey(name), Source, Source)
	if err != nil {
		// The ping is stored: a 503 must not say nothing was. A retry
		// is harmless.
		return time.Time{}, "", fmt.Errorf("the ping is stored, but its incident could not be resolved: %w", store.PartlyStored(err))
	}
	if resolved != "" {
		m.log.Info("heartbeat back: its incident is resolved", "service", svc.Name, "heartbeat", name, "incident", resolved)
	}
	return expires, resolved, nil
}

// Watched reports whether the store watches a heartbeat of the service
// that this replica's config may lack: a replica whose config has it armed
// it or took a ping of it less than RearmEvery ago (a replica that finds
// it absent from its config marks it so later than that, see unknown,
// and leaves the arming and the ping as they were). A ping of
// it through this replica is then one to retry, not a heartbeat that does
// not exist: its config lags the others' (a config being rolled out), and
// a 404 lost the ping, which then paged the heartbeat missed. The job of
// a heartbeat taken out of every config stays until its expiry (a day on,
// for a daily one): counted from its last arming or ping, its pings are
// retried for as long as a rollout takes, not until then.
func (m *Monitor) Watched(ctx context.Context, service, name string) (bool, error) {
	j, err := m.o.Store.GetJob(ctx, JobKind, jobKey(service, name))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var d jobData
	if json.Unmarshal(j.Data, &d) != nil {
		return false, nil
	}
	return m.clock().Sub(d.ref()) < RearmEvery, nil
}

// Expire is the dispatcher's handler of heartbeat jobs: the heartbeat was
// not pinged in time, so its incident is raised (or, when it is open, its
// repeat recorded), and the heartbeat stays watched: while no ping comes,
// the incident is raised again every interval and grace, so one resolved
// by hand while the heartbeat is still dead comes back. A heartbeat this
// replica's config does not have is left, its data kept, for a replica
// whose config has it: see unknown.
func (m *Monitor) Expire(ctx context.Context, j *store.Job) (*store.Job, error) {
	var d jobData
	if err := json.Unmarshal(j.Data, &d); err != nil || d.Service == "" || d.Name == "" {
		m.log.Error("heartbeat job unreadable; dropped", "job", j.Key, "err", err)
		return nil, nil
	}
	if m.o.InUse != nil {
		m.o.InUse.RLock()
		defer m.o.InUse.RUnlock()
	}
	cfg := m.o.Config()
	svc, hb := heartbeatOf(cfg, d)
	if hb == nil {
		return m.unknown(j, d)
	}
	now := m.clock()
	if !d.Recheck && m.stale(d, hb, now) {
		return m.rewatch(d, hb, now, hb.Expiry(), "heartbeat back in the config after an absence longer than its interval and grace",
			"absent_since", d.Unknown), nil
	}
	if m.unworked(j, now) {
		away := now.Sub(j.Due)
		wait := min(hb.Expiry(), max(time.Duration(hb.Grace), away))
		if d.Recheck {
			// A recheck is an expiry too: paged at once, it called a
			// heartbeat missed that nobody could ping while pagerd was
			// away. It looks again wait from now, counting from then.
			d.Unknown, d.Since = time.Time{}, now.Add(wait-hb.Expiry())
			data, _ := json.Marshal(d)
			m.log.Info("heartbeat's recheck came while no pagerd was running: watched again from now", "service", d.Service,
				"heartbeat", d.Name, "was_due", j.Due, "rechecks", now.Add(wait))
			return &store.Job{Due: now.Add(wait), Data: data}, nil
		}
		return m.rewatch(d, hb, now, wait, "heartbeat's expiry came while no pagerd was running (stopped, restored or the store down), so no ping could be taken",
			"was_due", j.Due), nil
	}
	left := d.Left
	if !d.Unknown.IsZero() || !d.Left.IsZero() {
		// This replica knows it: the mark of one that did not goes,
		// and so does the mark of one that left the miss to a newer
		// config (leaveToNewer puts it back if this one leaves it too).
		d.Unknown, d.Left = time.Time{}, time.Time{}
		data, _ := json.Marshal(d)
		known := *j
		known.Data = data
		j = &known
	}
	if d.Recheck {
		return m.recheck(ctx, cfg, svc, hb, j, left)
	}
	// The interval may have grown in a reload since the ping.
	if due := d.ref().Add(hb.Expiry()); due.After(now) {
		return &store.Job{Due: due, Data: j.Data}, nil
	}
	if next, ok := m.afterStall(j, now); ok {
		return next, nil
	}
	if next, ok := m.leaveToNewer(ctx, j, left, now); ok {
		return next, nil
	}
	if err := m.miss(ctx, cfg, svc, hb, d, j); err != nil {
		return nil, err
	}
	return &store.Job{Due: now.Add(hb.Expiry()), Data: j.Data}, nil
}

// leaveToNewer says whether this replica leaves the miss of job j, due
// by its config at now, to a replica on a newer config, and gives the job
// back for it: due again a tenth of a lease later, marked with when it
// was first left (left, zero the first time). In a rolling config change
// that lengthens a heartbeat's interval, a replica still on the old
// config paged a heartbeat pinged on the new cadence as missed, whenever
// it claimed the expiry (or the recheck it arms for what it takes for a
// shortened interval) before the newer replica, which reschedules it by
// the interval in force. A miss the newer config agrees with is paged by
// that replica a moment later. Bounded like the dispatcher's steps
// (configBehind): once the miss has been left for a lease (the newer
// replica does not take it: stuck, or its registry entry outlived it),
// and whenever no newer config is live (the replicas are all old, or
// alone), this replica raises it on its own config, so a newer config in
// the registry delays a miss by a lease at most, never holds it.
func (m *Monitor) leaveToNewer(ctx context.Context, j *store.Job, left, now time.Time) (*store.Job, bool) {
	if m.o.NewerConfig == nil {
		return nil, false
	}
	var d jobData
	if json.Unmarshal(j.Data, &d) != nil {
		return nil, false
	}
	if !left.IsZero() && now.Sub(left) >= m.o.Lease {
		m.log.Warn("heartbeat miss left to a replica on a newer config for a lease, and not taken: raised on this replica's config",
			"service", d.Service, "heartbeat", d.Name, "left_at", left)
		return nil, false
	}
	replica, ok := m.o.NewerConfig(ctx)
	if !ok {
		return nil, false
	}
	if left.IsZero() {
		left = now
		m.log.Info("heartbeat missed by this replica's config, which a live replica's newer config replaces: left to that replica (a rollout under way)",
			"service", d.Service, "heartbeat", d.Name, "newer_replica", replica)
		m.held.WithLabelValues(d.Service, d.Name, "newer_config").Inc()
	}
	d.Left = left
	data, _ := json.Marshal(d)
	return &store.Job{Due: now.Add(m.o.Lease / 10), Data: data}, true
}

// unknown handles a job, carrying d, of a heartbeat this replica's config
// does not have. Another replica's config may have it (this one's lags, or
// theirs do): deleting the job would take the expiry from them, postpone
// the miss to their next re-arm and lose the last ping. So the job comes
// due again unknownRetry from now (RearmEvery once unknown that long), its
// ping kept, for whichever replica claims it next; it is dropped only when
// no replica that knows the heartbeat has claimed it for ForgetAfter.
func (m *Monitor) unknown(j *store.Job, d jobData) (*store.Job, error) {
	now := m.clock()
	if d.Unknown.IsZero() {
		m.log.Info("heartbeat not in this replica's config: left for a replica whose config has it", "service", d.Service,
			"heartbeat", d.Name, "forgotten_after", ForgetAfter)
		d.Unknown = now
		data, _ := json.Marshal(d)
		return &store.Job{Due: now.Add(unknownRetry), Data: data}, nil
	}
	if now.Sub(d.Unknown) >= ForgetAfter {
		m.log.Info("heartbeat in no replica's config for a long while: no longer watched", "service", d.Service,
			"heartbeat", d.Name, "since", d.Unknown)
		return nil, nil
	}
	retry := unknownRetry
	if now.Sub(d.Unknown) >= RearmEvery {
		retry = RearmEvery
	}
	due := now.Add(retry)
	if forget := d.Unknown.Add(ForgetAfter); forget.Before(due) {
		due = forget // dropped on time
	}
	return &store.Job{Due: due, Data: j.Data}, nil
}

// How the monitor tells that this replica did not run for a while
// (stopped with SIGSTOP, its VM paused or live-migrated, starved of CPU):
// WatchStalls ticks every StallTick of real time, and a gap of StallGap
// or more between two ticks on the monitor's clock is a stall. Senders
// pinged on time meanwhile: their pings wait, unread, in the socket's
// backlog, and are taken only when the replica runs again, together with
// the expiries that came due in the stall. Worked first, those expiries
// paged every such heartbeat missed, a false page for each, resolved a
// moment later by its ping. So an expiry (or a recheck) that came due by
// the end of a stall is not missed before StallGrace after it: the pings
// from the backlog are stored by then, and replace it. A real miss that
// came due in a stall is paged StallGrace after the replica runs again,
// no later; one that comes due after that is paged on time.
const (
	StallTick  = time.Second
	StallGap   = 3 * time.Second
	StallGrace = 5 * time.Second
)

// WatchStalls ticks the monitor (Tick) every StallTick until ctx ends.
func (m *Monitor) WatchStalls(ctx context.Context) {
	t := time.NewTicker(StallTick)
	defer t.Stop()
	for {
		m.Tick()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick tells the monitor this replica runs now: a gap of StallGap or
// more since the last tick is a stall that ends now (see StallGap).
func (m *Monitor) Tick() {
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.noteStall(now)
	m.lastTick = now
}

// noteStall records a stall that ends at now when the last tick is
// StallGap or more before it. It holds m.mu.
func (m *Monitor) noteStall(now time.Time) {
	if m.lastTick.IsZero() || now.Sub(m.lastTick) < StallGap {
		return
	}
	m.log.Warn("heartbeats: this replica did not run for a while (stopped, its VM paused, starved of CPU): "+
		"expiries that came due meanwhile wait for the pings taken since before they are missed",
		"stalled", now.Sub(m.lastTick).Round(time.Millisecond).String(), "until", now.Add(StallGrace))
	m.stallEnd, m.lastTick = now, now
}

// afterStall says whether the miss of job j, due by now, waits for the
// pings a stall held up (see StallGap): j came due by the end of the
// latest stall, and StallGrace has not passed since. The job then comes
// due again at the grace's end, unless a ping replaces it first. A stall
// that has just ended, which WatchStalls has not ticked after yet (the
// dispatcher ran first), counts too.
func (m *Monitor) afterStall(j *store.Job, now time.Time) (*store.Job, bool) {
	m.mu.Lock()
	m.noteStall(now)
	end := m.stallEnd
	m.mu.Unlock()
	if end.IsZero() || j.Due.After(end) || !now.Before(end.Add(StallGrace)) {
		return nil, false
	}
	var d jobData
	_ = json.Unmarshal(j.Data, &d)
	m.log.Info("heartbeat expiry came due while this replica did not run: missed only if no ping is taken by then",
		"service", d.Service, "heartbeat", d.Name, "was_due", j.Due, "until", end.Add(StallGrace))
	m.held.WithLabelValues(d.Service, d.Name, "stall").Inc()
	return &store.Job{Due: end.Add(StallGrace), Data: j.Data}, true
}

// heartbeatOf is the service and heartbeat of cfg a job names (nil
// heartbeat when the config no longer has it).
func heartbeatOf(cfg *policy.Config, d jobData) (*policy.Service, *policy.Heartbeat) {
	svc := cfg.Service(d.Service)
	if svc == nil {
		return nil, nil
	}
	return svc, svc.Heartbeat(d.Name)
}

// recheck is the handler of a heartbeat's recheck job (see Arm): it looks
// at the heartbeat's job as it is now. When that job is due by the
// interval in force (a ping since, or an expiry that fired), it does the
// watching and the recheck ends. Otherwise the job is still due at an
// expiry a longer interval gave it, and the heartbeat is missed now if no
// ping came within the interval in force: its incident is raised as the
// job would, and rechecked every interval and grace until the job takes
// over.
func (m *Monitor) recheck(ctx context.Context, cfg *policy.Config, svc *policy.Service, hb *policy.Heartbeat, rj *store.Job, left time.Time) (*store.Job, error) {
	j, err := m.o.Store.GetJob(ctx, JobKind, jobKey(svc.Name, hb.Name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d jobData
	if err := json.Unmarshal(j.Data, &d); err != nil {
		return nil, nil // the job itself says so when it comes due
	}
	now := m.clock()
	if m.stale(d, hb, now) {
		return nil, nil // the job watches it again from now when it comes due
	}
	due := d.ref().Add(hb.Expiry())
	var r jobData
	if json.Unmarshal(rj.Data, &r) == nil && r.Since.After(d.ref()) {
		// Watched again after pagerd was away (see Expire): no miss
		// before an interval and grace from then.
		due = r.Since.Add(hb.Expiry())
	}
	switch {
	case !j.Due.After(due):
		return nil, nil
	case due.After(now):
		return &store.Job{Due: due, Data: rj.Data}, nil
	}
	if next, ok := m.afterStall(rj, now); ok {
		return next, nil
	}
	if next, ok := m.leaveToNewer(ctx, rj, left, now); ok {
		return next, nil
	}
	if err := m.miss(ctx, cfg, svc, hb, d, j); err != nil {
		return nil, err
	}
	next := now.Add(hb.Expiry())
	if !j.Due.After(next) {
		// The job comes due first (its old expiry has come, and it
		// watches by the interval in force since): it raises the next
		// miss. Rechecked on, each miss was raised and counted twice
		// for as long as the heartbeat stayed dead.
		return nil, nil
	}
	return &store.Job{Due: next, Data: rj.Data}, nil
}

// miss raises the incident of a heartbeat whose job j, carrying d, says
// it was not pinged in time (or records its repeat when it is open).
func (m *Monitor) miss(ctx context.Context, cfg *policy.Config, svc *policy.Service, hb *policy.Heartbeat, d jobData, j *store.Job) error {
	labels := hb.AlertLabels()
	summary := fmt.Sprintf("Heartbeat %s missed: no ping since %s (expected every %s, grace %s)", hb.Name,
		d.LastPing.Format(time.RFC3339), hb.Interval, hb.Grace)
	if !d.LastPing.IsZero() && d.Since.After(d.LastPing) {
		summary = fmt.Sprintf("Heartbeat %s missed: no ping since %s, nor since it came back into the config at %s (expected every %s, grace %s)",
			hb.Name, d.LastPing.Format(time.RFC3339), d.Since.Format(time.RFC3339), hb.Interval, hb.Grace)
	}
	if d.LastPing.IsZero() {
		summary = fmt.Sprintf("Heartbeat %s missed: never pinged since pagerd began watching it at %s (expected every %s, grace %s)",
			hb.Name, d.Since.Format(time.RFC3339), hb.Interval, hb.Grace)
	}
	det := map[string]any{"source": Source, "service": svc.Name, "heartbeat": hb.Name,
		"interval": hb.Interval.String(), "grace": hb.Grace.String(),
		"description": hb.Description, "labels": labels}
	if !d.LastPing.IsZero() { // never pinged: no time to give
		det["last_ping"] = d.LastPing
	}
	details, _ := json.Marshal(det)
	id, out, err := m.o.Incidents.Trigger(ctx, cfg, incident.Alert{Service: svc, DedupKey: DedupKey(hb.Name), Source: Source,
		Actor: Source, Labels: []map[string]string{labels}, Titles: []string{summary}, Summary: summary, Details: details})
	if err != nil {
		return err
	}
	m.misses.WithLabelValues(svc.Name, hb.Name).Inc()
	if out == store.Created {
		m.log.Warn("heartbeat missed: incident raised", append([]any{"service", svc.Name, "heartbeat", hb.Name, "incident", id},
			lastPingAttr(d)...)...)
		// A ping that came while this ran may have looked for an open
		// incident before it existed: the job it stored says so.
		if cur, err := m.o.Store.GetJob(ctx, JobKind, jobKey(svc.Name, hb.Name)); err == nil && cur.Version != j.Version {
			var c jobData
			if json.Unmarshal(cur.Data, &c) == nil && c.LastPing.After(d.ref()) {
				if _, err := m.o.Incidents.ResolveIfOpen(ctx, svc, DedupKey(hb.Name), Source, Source); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Arm starts watching every heartbeat of cfg that is not watched yet (a
// new one, or every one on a fresh store): it is missed if no ping comes
// within its interval and grace from now. A heartbeat already watched
// keeps its expiry, unless its interval (or grace) shrank: its job, due at
// the old expiry, is not moved (a ping may be replacing it meanwhile), but
// a recheck job is armed at the new interval and grace from now, which
// raises the incident then if no ping came within the new interval. So
// a heartbeat whose sender died is missed by the interval in force, at
// the latest an interval and grace after the reload, and one still pinged
// on the old cadence is not paged the moment the config changes.
func (m *Monitor) Arm(ctx context.Context, cfg *policy.Config) error {
	return m.arm(ctx, cfg, false)
}

// RearmEvery is how often Rearm re-arms the heartbeats while pagerd runs.
// It bounds how long a heartbeat goes unwatched after the store lost its
// job (Redis restarted without persistence): its sender dead, it is missed
// at the latest RearmEvery plus its interval and grace after the loss.
const RearmEvery = 5 * time.Minute

// rearmRetry is how soon Rearm tries again after a re-arm the store
// refused.
const rearmRetry = 10 * time.Second

// Rearm re-arms the heartbeats of cfg as Arm does, when RearmEvery has
// passed on the monitor's clock since the last arming, or at once with
// force (the store came back from an outage, in which it may have lost its
// data). Arming is idempotent: a job still in the store is not moved (a
// ping may be replacing it meanwhile), and only a missing one is stored
// again, watched from now, which is logged as a warning. did says whether
// it armed (or tried to).
func (m *Monitor) Rearm(ctx context.Context, cfg *policy.Config, force bool) (did bool, err error) {
	now := m.clock()
	m.mu.Lock()
	due := force || !now.Before(m.nextRearm)
	m.mu.Unlock()
	if !due {
		return false, nil
	}
	if err := m.arm(ctx, cfg, true); err != nil {
		m.mu.Lock()
		m.nextRearm = now.Add(rearmRetry)
		m.mu.Unlock()
		return true, err
	}
	return true, nil
}

// RetrySoon has the next Rearm come after rearmRetry, not RearmEvery: the
// heartbeats were re-armed, but jobs re-armed with them (notices,
// windows) were refused.
func (m *Monitor) RetrySoon() {
	m.mu.Lock()
	m.nextRearm = m.clock().Add(rearmRetry)
	m.mu.Unlock()
}

// arm is Arm; rearm says a job found missing was lost (Rearm), not new.
func (m *Monitor) arm(ctx context.Context, cfg *policy.Config, rearm bool) error {
	now := m.clock()
	for _, svc := range cfg.Services {
		for _, hb := range svc.Heartbeats {
			key := jobKey(svc.Name, hb.Name)
			j, err := m.o.Store.GetJob(ctx, JobKind, key)
			if err == nil {
				if err := m.armKept(ctx, svc.Name, &hb, j, now); err != nil {
					return err
				}
				continue
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			// Added only if still missing: a ping stored since the read
			// above stands (its expiry is the newer one).
			data, _ := json.Marshal(jobData{Service: svc.Name, Name: hb.Name, Since: now})
			added, err := m.o.Store.AddJob(ctx, store.Job{Kind: JobKind, Key: key, Due: now.Add(hb.Expiry()), Data: data})
			if err != nil {
				return err
			}
			if !added {
				continue
			}
			if rearm {
				m.log.Warn("heartbeat job missing from the store (its data lost?): watched again from now", "service", svc.Name,
					"heartbeat", hb.Name, "expires", now.Add(hb.Expiry()))
				continue
			}
			m.log.Info("heartbeat watched", "service", svc.Name, "heartbeat", hb.Name, "expires", now.Add(hb.Expiry()))
		}
	}
	m.mu.Lock()
	m.nextRearm = now.Add(RearmEvery)
	m.mu.Unlock()
	return nil
}

// armKept arms a heartbeat whose job j is stored. One back in the config
// after a long absence (see stale) is watched again from now, as a new one
// is, rather than when its job next comes due (up to RearmEvery later).
// The job is replaced: a ping stored since it was read is lost, but the
// expiry counts from now, no earlier than that ping, so nothing is paged
// early. Otherwise its expiry stays, and a recheck is armed if its
// interval shrank.
func (m *Monitor) armKept(ctx context.Context, service string, hb *policy.Heartbeat, j *store.Job, now time.Time) error {
	var d jobData
	if json.Unmarshal(j.Data, &d) == nil && m.stale(d, hb, now) { // j is the main job, never a recheck
		return m.o.Store.PutJob(ctx, *m.rewatch(d, hb, now, hb.Expiry(), "heartbeat back in the config after an absence longer than its interval and grace", "absent_since", d.Unknown))
	}
	return m.armRecheck(ctx, service, hb, j, now)
}

// armRecheck arms the recheck of a heartbeat whose job j is due later than
// its interval and grace from now allow (see Arm), unless one is armed
// already no later.
func (m *Monitor) armRecheck(ctx context.Context, service string, hb *policy.Heartbeat, j *store.Job, now time.Time) error {
	at := now.Add(hb.Expiry())
	if !j.Due.After(at) {
		return nil
	}
	key := recheckKey(service, hb.Name)
	if cur, err := m.o.Store.GetJob(ctx, JobKind, key); err == nil && !cur.Due.After(at) {
		return nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	data, _ := json.Marshal(jobData{Service: service, Name: hb.Name, Recheck: true})
	if err := m.o.Store.PutJob(ctx, store.Job{Kind: JobKind, Key: key, Due: at, Data: data}); err != nil {
		return err
	}
	m.log.Info("heartbeat interval shortened: missed by the new one", "service", service, "heartbeat", hb.Name, "recheck", at)
	return nil
}
