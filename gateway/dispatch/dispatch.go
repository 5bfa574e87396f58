// Package dispatch fires the deadlines stored with incidents: every
// replica runs a Dispatcher, which claims due incidents atomically with a
// lease (so a replica killed mid-step is taken over when the lease ends),
// runs the policy state machine on each due step, sends the pages through
// the transports (notify), holds and bundles pages in an alert storm (on
// state in the store that replicas share), does the outbox (telling
// PagerDuty of acknowledgements), and records it all in one write per step
// (store Finish). Pages go out before their step is recorded, so a crash
// loses no page; the journal keeps a page the store refused to record from
// being sent again by this replica.
package dispatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"reflect"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/acklink"
	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/textcut"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/pagerduty"
	"github.com/pagerd/pagerd/policy"
)

// Forwarder tells PagerDuty that pagerd acknowledged or resolved (action
// "acknowledge" or "resolve") the alert it opened with dedupKey, pushing
// an incident to a person through the PagerDuty service with routingKey
// (pagerduty.Notifier).
type Forwarder interface {
	Forward(ctx context.Context, routingKey, dedupKey, action string) error
}

// Options configure a Dispatcher.
type Options struct {
	Store  store.Store
	Config func() *policy.Config
	// Notifiers are the transports by contact "via" (log, webhook, ...),
	// with their retries, rate limits and circuit breakers already wrapped
	// around them (see notify.Chain). Storm bundling is the dispatcher's
	// own (notifiers.storm), on state in the store that replicas share.
	Notifiers map[string]notify.Notifier
	Logger    *slog.Logger
	Registry  prometheus.Registerer
	Now       func() time.Time
	// Lease is how long a claimed incident is this replica's before another
	// may take it over (default 30s). It bounds how late a step can be when
	// a replica dies mid-step.
	Lease time.Duration
	// MaxSleep bounds the wait between looks at the due set when no nudge
	// comes (default 1s).
	MaxSleep time.Duration
	// Workers is how many incidents are worked at once (default 128), so
	// one incident's slow provider does not hold up everyone else's pages,
	// and a burst of due steps is worked with its store round trips in
	// parallel. A step is a few store round trips and a send, so the
	// dispatcher's pace is Workers over their time: with 64, at 8,000
	// alerts a second on Redis, it fell a second behind with CPU to spare
	// (and the intake braked); with 128 it stays within 0.05 s there. 256
	// did as well, but at twice capacity the embedded store's group
	// commits then woke several hundred writers at once and answers
	// stalled for up to 1.3 s; with 128 the longest was 0.4 s.
	Workers int
	// SendTimeout bounds one page, retries and rate-limit waits included
	// (default 20s).
	SendTimeout time.Duration
	// PagerDuty, when set, is told when pagerd acknowledges or resolves an
	// incident it pushed through PagerDuty (the incident's outbox).
	PagerDuty Forwarder
	// Silencer creates and expires the Alertmanager silences of services
	// that silence acknowledged incidents (the incident's outbox); nil is
	// an AlertmanagerSilencer with a client of its own.
	Silencer Silencer
	// RecordRetry is how long a step whose pages went out keeps trying to
	// write itself to a store that refuses it, its claim kept meanwhile
	// (keepLease), before it gives up and lets the lease bring it back
	// (default the claim's time, a lease and the send timeout: given up
	// sooner, the claim's lease ran out with the pages only in this
	// replica's journal, and another replica took the step over and paged
	// it again). Store failures of a claim with nothing sent and not
	// recorded, and a storm's or a job's record, are tried for half the
	// lease at most (recordRetryShort).
	RecordRetry time.Duration
	// Outbox are the handlers of outbox items (store.OutboxItem) by kind,
	// besides PagerDuty's, which is built in: updating an incident's chat
	// message, say. Each is done when due, retried with backoff for a day
	// when it fails, like telling PagerDuty.
	Outbox map[string]OutboxHandler
	// Jobs are the handlers of the store's jobs (store.Jobs) by kind:
	// scheduled work that belongs to no incident (a heartbeat's expiry, a
	// shift notice), claimed and done once across replicas like a step.
	Jobs map[string]JobHandler
	// Maintenance, when set, is the maintenance window covering the
	// incident at t, if one does (nil otherwise). It is asked when the
	// window holding an incident ends, so that a window starting then, or
	// overlapping it, holds the incident on instead of it being paged at
	// the seam (the incident's deadline races that window's start job).
	Maintenance func(ctx context.Context, inc *store.Incident, at time.Time) *policy.Hold
	// WindowsInForce, when set, reports whether a maintenance window may
	// hold incidents of the service at t (one covering it in force, or
	// just ended): a storm message then reads those incidents whole, to
	// leave out those a window holds.
	WindowsInForce func(ctx context.Context, t time.Time, service string) bool
	// NewerConfig, when set, names a live replica that runs a config taken
	// into use later than this replica's (gateway/replicaconfig), if there is
	// one: this replica is behind it in a rollout. It is asked only of a
	// step for a person, or a channel of theirs, that this replica's
	// config lacks (configBehind). Nil: this replica acts on its own
	// config alone.
	NewerConfig func(ctx context.Context) (replica string, ok bool)
}

// OutboxHandler does one outbox item of an incident and returns the
// timeline entry that says so (a zero Entry: nothing to record). earlier
// are the entries the incident's items done before it in the same claim
// wrote, which its timeline does not hold yet. An error is retried with
// backoff; an entry returned with it is recorded all the same (what the
// failed try leaves the next to know: a Slack post that may have gone
// out).
type OutboxHandler func(ctx context.Context, inc *store.Incident, item store.OutboxItem, earlier []store.Entry) (store.Entry, error)

// JobHandler does a due job and says what comes next: the job's next run,
// or nil when it is done (it is then deleted). An error leaves the job due
// again when the lease ends, so it is retried, by this replica or another.
type JobHandler func(ctx context.Context, j *store.Job) (next *store.Job, err error)

// Dispatcher fires due deadlines: it claims incidents whose next step is
// due, runs the escalation machine, sends the pages, records what happened
// in the timeline, and stores the next deadlines. Every replica runs one.
type Dispatcher struct {
	o Options
	// callTimeout is storeCallTimeout, which tests shorten.
	callTimeout time.Duration
	log         *slog.Logger
	m           *dispatchMetrics
	wake        chan struct{}
	journal     *journal
	// behind is how late, in ns, the earliest of the last claims was
	// (Behind).
	behind atomic.Int64
	// claimed is when (Options.Now, in ns) the loop last claimed without
	// an error: while that is recent, Behind is the scrape's figure
	// (behindAtScrape); otherwise the store is asked, through due.
	claimed atomic.Int64
	due     dueReading
	// progress is when (Options.Now, in ns) the dispatcher last made
	// progress (noteProgress), and running whether Run runs: they make
	// pagerd_dispatch_stalled_seconds (stalledAtScrape).
	progress atomic.Int64
	running  atomic.Bool
	// recording is set while recordJournal runs aside (Run).
	recording atomic.Bool
	// misses are the incidents this replica said it cannot page.
	misses configMisses
	// turn is held by a storm flush's bulk store work (inTurn).
	turn turn
}

type dispatchMetrics struct {
	pages      *prometheus.CounterVec
	bundles    *prometheus.CounterVec
	lateness   prometheus.Histogram
	claims     prometheus.Counter
	takeovers  prometheus.Counter
	escalation *prometheus.CounterVec
	breaches   *prometheus.CounterVec
	nobody     *prometheus.CounterVec
	errors     *prometheus.CounterVec
	outbox     *prometheus.CounterVec
	overdue    prometheus.Counter
	// keeps counts the keeps of claims' leases by outcome (keepLease).
	keeps *prometheus.CounterVec
	// lateReports counts delivery reports applied when their page was
	// recorded, after they came (earlyReports).
	lateReports *prometheus.CounterVec
}

// New builds a dispatcher.
func New(o Options) *Dispatcher {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.MaxSleep <= 0 {
		o.MaxSleep = time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 128
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = policy.PageSendTimeout
	}
	if o.RecordRetry <= 0 {
		o.RecordRetry = o.Lease + o.SendTimeout
	}
	if o.Silencer == nil {
		o.Silencer = &AlertmanagerSilencer{}
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	m := &dispatchMetrics{
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_pages_total",
			Help: "Pages by channel (push, sms, voice), transport and result: sent, failed, held for an alert-storm bundle (sent later as one message, counted in pagerd_storm_bundles_total), shadow (worked out and recorded, not sent: a shadow service or a dry-run transport), called_off (acknowledged or resolved while it was retried or waited for the provider, and not sent), rate_limited (its turn at the provider's rate limit was too far off for its send timeout: not sent, due again at its turn, and counted again then), or skipped (a step that came due long after its time together with a later step to the same person on the same channel, which paged in its place: after a restart, a restore or an outage), or in_storm_message (not sent: an alert-storm message had already named the incident to the person on that channel for that step, whose claim's replica stopped or stalled before recording the hold; recorded as paged by the message)."}, []string{"channel", "via", "result"}),
		bundles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_storm_bundles_total",
			Help: "Alert-storm messages, each carrying the held pages of one person on one channel, by channel, transport and result (sent, failed, called_off: every incident it carried was acknowledged or resolved while it was retried or waited for the provider, and it was not sent; shadow: every incident it carried is of a service in shadow mode, or its transport is dry_run, as the config says when it is due, and it was not sent; rate_limited: its turn at the provider's rate limit was too far off for its send timeout, and it was not sent: its storm is due again at its turn, and counted again then)."}, []string{"channel", "via", "result"}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pagerd_dispatch_lateness_seconds",
			Help:    "Time from a step being due to its page being sent.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}),
		claims: prometheus.NewCounter(prometheus.CounterOpts{Name: "pagerd_dispatch_claims_total",
			Help: "Incidents claimed by this replica's dispatcher."}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{Name: "pagerd_dispatch_takeovers_total",
			Help: "Claims taken over from a replica whose lease ran out."}),
		overdue: prometheus.NewCounter(prometheus.CounterOpts{Name: "pagerd_storm_turn_overdue_total",
			Help: "Alert-storm flushes' store calls (reading a storm's held pages and statuses, storing its bundle, recording its message) that had waited longer than a quarter of server.lease when they got their turn (such a call goes before any other): storms close faster than the store takes their calls, and storm messages go out late."}),
		escalation: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_escalations_total",
			Help: "Escalations by level reached (1-based)."}, []string{"level"}),
		breaches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_sla_breaches_total",
			Help: "Missed response targets by target."}, []string{"target"}),
		nobody: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_paged_nobody_total",
			Help: "Escalations (a level, an unresolved rule, a page_immediately level) that paged nobody because nobody was on call for them, by service: a missed page."}, []string{"service"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_dispatch_errors_total",
			Help: "Claimed incident steps this replica could not work as stored, by reason: unknown_service (the incident's service is not in this replica's config; nothing is paged here until it is, or another replica pages it); config_behind (a step for a person, or a channel of theirs, that this replica's config lacks, while another replica runs a config taken into use later: left to that replica, for at most a lease past the step's time); unknown_priority (the incident's priority is not in its service's scheme: it is escalated on the scheme's most urgent priority's timeouts, targets and rules); lease_ran_out (the replica was stopped or held up after claiming the incident, storm or job, a freeze, or a VM pause its monotonic clock saw, until its lease was nearly over and a keep then found the claim taken over (or the store did not take it, or the claim's own time had less than a send timeout left), or its claim's time ran out mid-send, or a claim came back from the store after half its lease and the store did not take its keep: nothing more was sent, and the claim was left to run out and be taken over); failed (working a claimed incident step, storm message or job failed, by an error or a panic, which the log names: it comes due again when the lease ends, so its pages go out at least a lease late, and one that fails every time never; or a page whose sending panicked, a bug, recorded as failed)."}, []string{"reason"}),
	}
	m.outbox = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_outbox_items_total",
		Help: "What incidents owe other systems after a change (telling PagerDuty of an acknowledge or resolve, making or expiring Alertmanager silences, the Slack channel message, stopping Pushover's emergency alerts, starting the check of silenced alerts), by kind and result: done (nothing left to do), retried (a try failed and is tried again later; counted at each such try), given_up (it failed for a day), refused (refused for a reason trying again will not change; not retried) or dropped (nothing in the config does it any more)."},
		[]string{"kind", "result"})
	for _, kind := range slices.Concat(outboxKinds, slices.Sorted(maps.Keys(o.Outbox))) {
		for _, res := range outboxResults {
			m.outbox.WithLabelValues(kind, res)
		}
	}
	m.lateReports = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_delivery_reports_applied_late_total",
		Help: "Providers' reports that a page reached nobody which came before the page was recorded, past the 2 s they wait for it (counted in pagerd_delivery_reports_unmatched_total then), applied by this replica's dispatcher when it recorded the page (a page on its own, or its incident's note of a storm message), by channel: the page's step counts as failed from then, as if the report had come after it."},
		[]string{"channel"})
	for _, ch := range []string{policy.ChannelPush, policy.ChannelSMS, policy.ChannelVoice} {
		m.lateReports.WithLabelValues(ch)
	}
	m.keeps = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_dispatch_lease_keeps_total",
		Help: "Claims' leases kept by this replica's dispatcher while their work ran past half a lease (a slow provider, retries, a slow store), or before working a claim that came back from the store after half its lease, or when a page of a claim held up past its send window would start, so that no other replica takes the claim over and pages again while its pages are on their way, by result: kept (the lease end moved a lease ahead), or failed (the store did not take the keep, or its answer was lost: a keep while the work runs is tried again a tenth of a lease later, and if the lease runs out meanwhile another replica may page the step a second time; a claim that came back late or was held up is left to run out)."},
		[]string{"result"})
	m.keeps.WithLabelValues(keepKept)
	m.keeps.WithLabelValues(keepFailed)
	m.errors.WithLabelValues("unknown_service")
	m.errors.WithLabelValues(reasonConfigBehind)
	m.errors.WithLabelValues("unknown_priority")
	m.errors.WithLabelValues(leaseRanOut)
	m.errors.WithLabelValues(claimFailed)
	m.errors.WithLabelValues(unreadableHeld)
	m.errors.WithLabelValues(notRecorded)
	o.Registry.MustRegister(m.pages, m.bundles, m.lateness, m.claims, m.takeovers, m.escalation, m.breaches, m.nobody, m.errors, m.outbox, m.overdue, m.lateReports, m.keeps)
	d := &Dispatcher{o: o, callTimeout: storeCallTimeout, log: o.Logger, m: m, wake: make(chan struct{}, 1), journal: newJournal(),
		turn: turn{patience: o.Lease / 4, stuck: o.Lease / 2, now: time.Now, overdue: m.overdue.Inc}}
	o.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pagerd_dispatch_unrecorded",
		Help: "Pages and storm messages this replica sent but could not yet record in the store (the store refused the write); they are recorded, not sent again, when the store takes writes."},
		func() float64 { return float64(d.journal.size()) }))
	o.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pagerd_dispatch_behind_seconds",
		Help: "How far behind its due steps this replica's dispatcher is: while it claims, how late the earliest step it last claimed was while more were due (0 when its last look claimed everything due); when it has not claimed for twice its longest wait between looks (every worker hung on a provider, its claims failing), how long ago the store's earliest step came due, or NaN if the store does not say within 2s. Past server.admission.brake_behind (on the figure of its claims) the intake takes fewer alerts until it catches up."},
		d.behindAtScrape))
	o.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pagerd_dispatch_stalled_seconds",
		Help: "How long this replica's dispatcher has made no progress: since its loop last looked at the due set with a worker free and the store answering, or one of its workers last finished a claim, whichever is later. It stays within the time one claim takes however many steps are due (an idle loop looks every second, a busy one each time a worker frees), and grows only on this replica while every worker hangs in a call that outlasts its timeout, its claims fail, or its loop is stuck, whatever the other replicas do. 0 while the dispatcher does not run."},
		d.stalledAtScrape))
	return d
}

// Behind is how far behind the due steps the dispatcher is: how long ago
// the earliest of the steps it last claimed was due while its claims
// filled every free worker (more were due), or 0 when its last look
// claimed everything due. With every worker busy it does not look, and
// Behind stays what it was (the intake's brake reads it, with no store
// call); pagerd_dispatch_behind_seconds then asks the store
// (behindAtScrape). A takeover does not count: its lateness is the
// lease of the replica that died, not a backlog.
func (d *Dispatcher) Behind() time.Duration { return time.Duration(d.behind.Load()) }

// noteBehind records Behind from claims taken at now.
func (d *Dispatcher) noteBehind(claims []store.Claim, now time.Time) {
	late := time.Duration(0)
	for _, c := range claims {
		if !c.Takeover {
			late = max(late, now.Sub(c.Due))
		}
	}
	d.behind.Store(int64(late))
}

// Wake makes the dispatcher look at the due set now (a new incident's first
// page is due at once).
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run works due incidents until ctx ends. Up to Workers incidents are in
// flight at once and slots are refilled as they free up, so one slow
// provider holds up only the incidents it is paging for. When every slot
// is busy it waits for one to free; under a backlog it lets a few free up
// (claimCoalesce) so that one claim fills several. Otherwise it sleeps
// until the earliest deadline, a wake, a nudge from another replica, a
// freed slot, or MaxSleep, whichever comes first. On stop it lets the steps
// in flight finish (each bounded by SendTimeout).
func (d *Dispatcher) Run(ctx context.Context) error {
	var nudges <-chan struct{}
	if n, ok := d.o.Store.(store.Nudger); ok {
		nudges = n.Nudges(ctx)
	}
	workCtx := context.WithoutCancel(ctx)
	done := make(chan struct{}, d.o.Workers)
	pool := d.newWorkers()
	defer pool.stop()
	var aside sync.WaitGroup // recordJournal, on a goroutine of its own
	defer aside.Wait()
	inflight := 0
	backlog := false // the last claim filled every free slot: more may be due
	failing := d.storeStreak()
	d.noteProgress(d.o.Now())
	d.running.Store(true)
	defer d.running.Store(false)
	// lastClaim is when the loop last claimed (real time); hold is how
	// long a wake that came sooner than wakeGap after it waits.
	var lastClaim time.Time
	hold := time.Duration(0)
	// lastEverywhere is when (real time) the loop last claimed over
	// every shard: the claims in between read only the shards where
	// the store knows something may be due (store.ScopedClaimer), and
	// one everywhere comes at least every MaxSleep, as every look did
	// before, for the entries written where this store cannot see (a
	// tool, a replica that did not nudge).
	var lastEverywhere time.Time
	for {
		d.recordAside(ctx, &aside)
		var t *time.Timer
		var timer <-chan time.Time
		if hold > 0 {
			t = time.NewTimer(hold)
			timer = t.C
			hold = 0
		} else if free := d.o.Workers - inflight; free > 0 {
			lastClaim = time.Now()
			lost := timeNotRunning()
			cctx, cancel := context.WithTimeout(ctx, d.claimTimeout())
			now := d.o.Now()
			everywhere := lastEverywhere.IsZero() || time.Since(lastEverywhere) >= d.o.MaxSleep
			claims, next, pending, more, err := store.ClaimDueNextScoped(cctx, d.o.Store, now, d.o.Lease, free, everywhere)
			cancel()
			if everywhere && err == nil {
				lastEverywhere = lastClaim
			}
			// The pages of a claim may start until sendBy (sendWindow).
			sendBy := now.Add(d.sendWindow())
			late := d.o.Now().Sub(now) > d.o.Lease/2
			if late && len(claims) > 0 {
				// The claims came back so late (a store that stalled
				// with the claim in its buffer, or is slow every time)
				// that more than half of their leases, counted from
				// when they were asked for, is gone: worked so, a lease
				// could run out mid-send and another replica claim the
				// incident and send the same page twice. Each is kept
				// a lease ahead first (keepLate), and worked only if it
				// is still this replica's. Before, they were left to
				// run out, and their pages went out a lease late.
				d.log.Warn("dispatcher: claims came back after more than half their lease; each is kept a lease ahead before it is worked",
					"claims", len(claims), "after", d.o.Now().Sub(now).Round(time.Millisecond).String(), "lease", d.o.Lease.String())
			}
			if err != nil && ctx.Err() == nil {
				// Claims that came back with the error (a claim over
				// shards of which one failed) are leased: worked, or
				// their pages wait for the lease to run out.
				for _, c := range claims {
					inflight++
					d.start(workCtx, pool, claimWork{c: c, asked: now, lost: lost, sendBy: sendBy, late: late}, done)
				}
				// Back off (capped, with jitter) instead of asking again at
				// once; say so once per streak, not once per try.
				t = time.NewTimer(failing.failed(err))
				timer = t.C
			} else {
				failing.ok()
				d.claimed.Store(now.UnixNano())
				d.noteProgress(d.o.Now())
				// Noted before the claims' pages start, so that Behind
				// says it once they are on their way. Everything due at
				// now claimed (not more): not behind.
				if more {
					d.noteBehind(claims, now)
				} else {
					d.noteBehind(nil, now)
				}
				for _, c := range claims {
					inflight++
					d.start(workCtx, pool, claimWork{c: c, asked: now, lost: lost, sendBy: sendBy, late: late}, done)
				}
				backlog = more
				if more {
					continue
				}
				// The same call said when the next step comes due (the
				// claims just taken count at their lease ends).
				wait := min(d.o.MaxSleep, max(d.o.MaxSleep-time.Since(lastEverywhere), 0))
				if pending {
					wait = min(wait, max(next.Sub(d.o.Now()), 0))
				}
				t = time.NewTimer(wait)
				timer = t.C
			}
		}
		select {
		case <-ctx.Done():
			for ; inflight > 0; inflight-- {
				<-done
			}
			return nil
		case <-done:
			inflight--
			if backlog {
				inflight -= coalesce(done, claimCoalesce)
			} else {
				// Nothing else was due: the claim after a step only
				// looks for its incident's next deadline, which no
				// ladder puts 5 ms away.
				hold = wakeGap - time.Since(lastClaim)
			}
		case <-d.wake:
			hold = wakeGap - time.Since(lastClaim)
		case <-nudges:
			hold = wakeGap - time.Since(lastClaim)
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// recordAside starts recordJournal on a goroutine of its own when the
// journal has an incident to look at and none is running, so that a store
// slow to answer holds up no page.
func (d *Dispatcher) recordAside(ctx context.Context, wg *sync.WaitGroup) {
	if !d.journal.anyDue(d.o.Now()) || !d.recording.CompareAndSwap(false, true) {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer d.recording.Store(false)
		defer func() {
			if p := recover(); p != nil {
				d.m.errors.WithLabelValues(claimFailed).Inc()
				d.log.Error("dispatcher: panic recording the journal's pages", "panic", p, "stack", string(debug.Stack()))
			}
		}()
		d.recordJournal(ctx)
	}()
}

// streak tracks a run of store failures in the dispatcher's loop: the
// first is logged with its error, the wait between tries grows (capped,
// with jitter), and the end of the streak is logged with how long it
// lasted.
type streak struct {
	log   *slog.Logger
	bo    *backoff
	n     int
	since time.Time
}

func (d *Dispatcher) storeStreak() *streak {
	return &streak{log: d.log, bo: newBackoff(100*time.Millisecond, 5*time.Second)}
}

// failed counts a failure and returns how long to wait before the next try.
func (s *streak) failed(err error) time.Duration {
	if s.n == 0 {
		s.since = time.Now()
		s.log.Error("dispatcher: the store fails; backing off until it answers (logged once until it does)", "err", err)
	}
	s.n++
	return s.bo.wait()
}

// ok ends a streak, if one was running.
func (s *streak) ok() {
	if s.n == 0 {
		return
	}
	s.log.Info("dispatcher: the store answers again", "failed_tries", s.n, "after", time.Since(s.since).Round(time.Millisecond).String())
	s.n = 0
	s.bo.reset()
}

// storeCallTimeout bounds the dispatcher's own store calls, so a stalled
// store never stalls the loop; a claim's is longer (claimTimeout).
const storeCallTimeout = 5 * time.Second

// claimTimeout is how long the loop waits for a claim: half the lease,
// and at least d.callTimeout. A claim the store answers after its caller
// gave up is still made (Redis runs a command already sent; the embedded
// store a commit it took): its incidents are leased and nobody works them
// until the lease runs out, so a store that answered claims in 5 to 15 s
// paged nobody for as long as it stayed that slow. Waited for, a claim
// that comes back after half its lease is left once and worked when late
// again (Run).
func (d *Dispatcher) claimTimeout() time.Duration { return max(d.callTimeout, d.o.Lease/2) }

// wakeGap is the least time between a claim and the next one a wake (a
// new incident here, a nudge from another replica) or a finished step
// asks for, unless the last claim filled every free slot: in a flood every
// alert wakes the dispatcher and every page finishes a step, and a claim
// for each (a look at every shard) cost more than the alert. The wakes and
// steps within it are one claim; a new incident's first page waits that
// much at most, and only when another claim came just before.
const wakeGap = 5 * time.Millisecond

// claimCoalesce is how long a dispatcher with a backlog lets worker slots
// free up before claiming for them: one claim then fills several slots
// instead of one claim per slot.
const claimCoalesce = time.Millisecond

// coalesce counts the signals on done within d.
func coalesce(done <-chan struct{}, d time.Duration) int {
	t := time.NewTimer(d)
	defer t.Stop()
	n := 0
	for {
		select {
		case <-done:
			n++
		case <-t.C:
			return n
		}
	}
}

// workers are the goroutines that work claims, started as claims come and
// kept for the next ones. A goroutine per claim grew a new stack for every
// claim (encoding the incident for the store alone takes 64 KB of it), and
// growing stacks was about 5% of pagerd's CPU per alert under load.
type workers struct {
	in      chan claimWork
	max     int
	started int // only the loop that submits touches it
}

type claimWork struct {
	ctx context.Context
	c   store.Claim
	// asked is when the claim was asked for, its lease counted from
	// then; sendBy is when its pages may no longer start (sendWindow).
	asked, sendBy time.Time
	// lost is how long the process had not run when the claim was asked
	// for (notify.TimeNotRunning): a page of it whose process stalled
	// since then asks whether it is still due before its request goes out
	// (notify.WithStallMark), since the claim's look at the incident came
	// before the stall.
	lost time.Duration
	// late is set for a claim that came back after more than half its
	// lease: kept a lease ahead before it is worked (keepLate).
	late bool
	done chan<- struct{}
}

func (d *Dispatcher) newWorkers() *workers {
	return &workers{in: make(chan claimWork, d.o.Workers), max: d.o.Workers}
}

// stop ends the workers once they have worked what was submitted.
func (w *workers) stop() { close(w.in) }

// start works one claimed incident on a worker and signals done. The
// caller keeps at most Workers in flight, so it never waits here.
func (d *Dispatcher) start(ctx context.Context, w *workers, cw claimWork, done chan<- struct{}) {
	c := cw.c
	d.m.claims.Inc()
	if c.Takeover {
		d.m.takeovers.Inc()
		what, attrs := claimed(c)
		d.log.Warn("dispatcher: took over "+what+" whose claim ran out", append(attrs, "due", c.Due)...)
	}
	if w.started < w.max {
		w.started++
		go func() {
			for cw := range w.in {
				if cw.late {
					var ok bool
					if cw.asked, cw.sendBy, ok = d.keepLate(cw.ctx, cw.c); !ok {
						d.noteProgress(d.o.Now())
						cw.done <- struct{}{}
						continue
					}
				}
				d.workClaim(notify.WithStallMark(cw.ctx, cw.lost), cw.c, cw.asked, cw.sendBy)
				d.noteProgress(d.o.Now())
				cw.done <- struct{}{}
			}
		}()
	}
	cw.ctx, cw.done = ctx, done
	w.in <- cw
}

// workClaim works one claimed incident, storm or job, claimed at asked;
// its pages (a storm's message, a job's notices) may start until sendBy.
// Its lease is kept while it works (keepLease).
func (d *Dispatcher) workClaim(ctx context.Context, c store.Claim, asked, sendBy time.Time) {
	// Every store call of the claim's work has a deadline: the lease,
	// and the send timeout for the pages sent meanwhile.
	ctx, cancel := context.WithTimeout(ctx, d.o.Lease+d.o.SendTimeout)
	defer cancel()
	// A kept lease is cut back when the work returns: a claim it did
	// not write (it failed) comes due when its lease as claimed ends.
	ctx, endKeeping := d.keepLease(ctx, c, asked)
	defer endKeeping()
	defer func() {
		// A bug in one incident's step must not take every other
		// incident's pages down with the process; the lease brings the
		// incident back for another try.
		if p := recover(); p != nil {
			d.m.errors.WithLabelValues(claimFailed).Inc()
			d.log.Error("dispatcher: panic working an incident", "incident", c.Incident, "storm", c.Storm, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	if c.Job != nil {
		if err := d.runJob(ctx, c, sendBy); err != nil {
			d.m.errors.WithLabelValues(claimFailed).Inc()
			d.log.Error("dispatcher: job failed; it comes due again when the lease ends",
				"job", c.Job.Kind+"/"+c.Job.Key, "err", err)
		}
		return
	}
	if c.Storm != "" {
		if err := d.flush(ctx, c, sendBy); err != nil {
			d.m.errors.WithLabelValues(claimFailed).Inc()
			d.log.Error("dispatcher: storm bundle failed; it comes due again when the lease ends",
				"storm", c.Storm, "err", err)
		}
		return
	}
	if err := d.work(ctx, c, sendBy); isConfigMiss(err) {
		d.configMiss(ctx, c, err)
	} else if behind := (*behindError)(nil); errors.As(err, &behind) {
		d.leaveToNewer(ctx, c, behind)
	} else if err != nil {
		d.m.errors.WithLabelValues(claimFailed).Inc()
		d.log.Error("dispatcher: incident step failed; it comes due again when the lease ends",
			"incident", c.Incident, "err", err)
	}
}

// timeNotRunning is notify.TimeNotRunning: a claim's stall mark, and
// what readTwice tells a stall during a read by; a test stands a stall in
// for it.
var timeNotRunning = notify.TimeNotRunning

// claimFailed is pagerd_dispatch_errors_total's reason for a claim whose
// work failed (an error or a panic) and comes due again when its lease
// ends: logged, and before counted nowhere, so a storm that failed at
// every flush (its held pages unsent, each new page to its person held
// behind them) was seen only in the log.
const claimFailed = "failed"

// RunOnce claims and works everything due now, waits for it, and reports
// how many incidents it worked: Run's loop without the sleeping, for tests
// and tools that move their own clock.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	done := make(chan struct{}, d.o.Workers)
	pool := d.newWorkers()
	defer pool.stop()
	inflight, total := 0, 0
	for {
		now, lost := d.o.Now(), timeNotRunning()
		claims, err := d.o.Store.ClaimDue(ctx, now, d.o.Lease, d.o.Workers-inflight)
		for _, c := range claims {
			inflight++
			d.start(ctx, pool, claimWork{c: c, asked: now, lost: lost, sendBy: now.Add(d.sendWindow())}, done)
		}
		total += len(claims)
		if err != nil || (len(claims) == 0 && inflight == 0) {
			for ; inflight > 0; inflight-- {
				<-done
			}
			if err == nil {
				d.recordJournal(ctx)
			}
			return total, err
		}
		if len(claims) == 0 || inflight == d.o.Workers {
			<-done
			inflight--
		}
	}
}

// duePage is a page an incident's due deadline asks for.
type duePage struct {
	deadline string
	a        policy.Action
	// root is the stored deadline whose firing led to the page: its own
	// step's, or the escalation (a level's timeout, an unresolved rule)
	// that armed its step in the same claim. While root is pending in the
	// store, the page is due (stillDue).
	root string
	// key names the page in what work sent and recorded (pageKey).
	key string
	// step is the page's own deadline, and again, set by page, how long
	// until its turn when the provider's rate limit sent it back
	// (notify.ErrOverRateLimit): the step is then due again, not spent.
	step  policy.Deadline
	again time.Duration
	// reopened is the incident's reopen count (policy.Incident.Reopened)
	// as the firing that asked for the page left it: a rule's firing
	// (unresolved, missing status update) reopens an acknowledged
	// incident and pages in the same claim, before the count is stored.
	// The page is one after the reopen: its PagerDuty dedup key, the
	// answers it carries (a Slack button, a link, a call, a Pushover
	// receipt) and its timeline entry say so, or PagerDuty folds it into
	// the alert acknowledged before (nobody is notified) and its answers
	// are refused as superseded.
	reopened int
	// cut is set by page when its send failed because the claim's own
	// context ended (not the page's send timeout): whether it went out is
	// unknown, and nothing is recorded for it.
	cut bool
	// owned is set when the page's storm count is the claim's, not its
	// stored step's: its storm let it out in this claim (page), or in a
	// try of it before a write the incident changed under (work's owned).
	owned bool
	// unsentAtWrite is set by page when the page of a step its storm
	// counted as stored failed: its count is taken back once the claim's
	// write takes the step out (work's unsentAtWrite), not before.
	unsentAtWrite bool
	// inMessage is set by work (pagedInMessages) when an alert storm's
	// message already paged the step: its page is recorded as that
	// message's, and not sent.
	inMessage *store.Entry
}

// heldLate says whether p's step was put back due after its storm held
// its page past its claim's send window (policy.Deadline.StormHeldLate).
func (p duePage) heldLate() bool { return p.step.StormHeldLate }

// work fires every due step of one claimed incident. Pages are sent before
// the new state is stored: if this replica dies in between, the lease runs
// out and another replica fires the same steps again (at most one duplicate
// page, only in a crash), rather than a page being lost. The pages due
// together (a level of several people) go out concurrently, so one
// person's slow provider does not delay another's page.
//
// When the store refuses the write, the write is tried again with backoff
// for up to RecordRetry (the claim's time by default), the claim's lease
// kept meanwhile, so that no other replica takes the step over and pages
// it again (keptToRecord); the pages stay in the journal, so if the step
// comes back to this replica it is recorded, not sent again. A write whose
// outcome is unknown (the store failed mid-call) is settled by the next
// read: a step still pending was not recorded; one no longer pending was,
// unless its page is missing from the timeline (an acknowledgement got in
// first), and is recorded once. A call holds its incident in the journal
// (journal.hold) while it runs: recordJournal leaves it alone, and a
// second claim of the same incident on this replica (its lease ran out
// mid-call) waits for the first, then finds its pages journaled.
//
// The pages go out only until sendBy (sendWindow): a replica stopped or
// held up after claiming the incident (SIGSTOP; a VM pause if the guest's
// monotonic clock counts it, which depends on the hypervisor) for about
// as long as the lease may find another replica took it over and paged
// meanwhile, so past sendBy it sends nothing, and leaves the claim to run
// out (leaveToRunOut): a takeover pages, as after a crash. A retry after
// a write the incident changed under still records the pages that went
// out, but leaves the claim if the fresh state has any page to send; a
// claim whose context ended while a page was being sent leaves too.
func (d *Dispatcher) work(ctx context.Context, c store.Claim, sendBy time.Time) error {
	// recordJournal must not record, meanwhile, a page this call is
	// recording, nor one it is about to send and record.
	release, waited, err := d.journal.hold(ctx, c.Incident)
	if err != nil {
		return err
	}
	defer release()
	if waited {
		c.Record = nil // read before whoever held it wrote: read it again
	}
	sent := map[string]store.Entry{} // page key (pageKey) -> what its page did
	// sentSteps are the pages sent, by the id of their step: a write the
	// incident changed under may have armed the same step alike, with the
	// same id (a maintenance window's end released by its sweep while the
	// window's deadline fired here, both from the same stored state).
	sentSteps := map[string]duePage{}
	var order []string              // the keys of the pages this call records
	tried := map[string]outboxTry{} // outbox item id -> what trying it did
	// carried are what firings whose pages went out recorded besides the
	// pages (an escalation, a window's end), by the stored deadline that
	// fired (duePage.root), kept across a write the incident changed
	// under: a retry that finds that deadline gone (an acknowledgement
	// took it out) does not fire it again, yet records its pages, and
	// records why they went out with them.
	carried := map[string][]policy.Action{}
	// owned are the steps of pages this claim's storms let out at once
	// and the rate limit sent back (policy.Deadline.CountedByStorm), by
	// page key, until a write of the claim stores them so: a try after a
	// write the incident changed under reads them without what their
	// storms said, and asked again, a storm counted such a page twice.
	// One that no such try fires again (an acknowledgement took its step
	// out) is taken back when the claim's write is in.
	// Made at the first one: most claims have none.
	var owned map[string]policy.Deadline
	own := func(key string, dl policy.Deadline) {
		if owned == nil {
			owned = map[string]policy.Deadline{}
		}
		owned[key] = dl
	}
	// unsentAtWrite are the steps, by id, stored as counted by their
	// storms, whose pages failed at their turn (duePage.unsentAtWrite):
	// taken back when the claim's write takes them out, if that write is
	// the one that does. Made only when one is.
	var unsentAtWrite map[string]policy.Deadline
	// carry keeps, for a retry, what each firing whose pages are to be
	// recorded (order) did besides paging.
	carry := func(fired map[string][]policy.Action, order []string) {
		for _, key := range order {
			if acts, ok := fired[rootOf(key)]; ok {
				carried[rootOf(key)] = acts
			}
		}
	}
	unsure := d.journal.stepsOf(c.Incident)
	started := time.Now()
	shortUntil, retryUntil := started.Add(d.recordRetryShort()), started.Add(d.o.RecordRetry)
	bo := newBackoff(50*time.Millisecond, 2*time.Second)
	kept := false // keptToRecord said, once a claim
	pause := func(err error) error {
		if now := time.Now(); ctx.Err() != nil || now.After(retryUntil) {
			return err
		} else if now.After(shortUntil) {
			// Past half the lease only with pages of the incident sent
			// and not recorded (in the journal), the claim kept
			// meanwhile, so that no other replica pages them again.
			if !d.journal.holdsSteps(c.Incident) {
				return err
			}
			if !kept {
				kept = true
				d.keptToRecord(ctx, c, retryUntil, err)
			}
		}
		t := time.NewTimer(bo.wait())
		defer t.Stop()
		select {
		case <-ctx.Done():
			return err
		case <-t.C:
			return nil
		}
	}
	// settle says what a store error means: try again after a pause (the
	// store is unavailable, within pause's bounds), give up with an error, or
	// go on (none).
	settle := func(err error) (retry bool, fail error) {
		if errors.Is(err, store.ErrUnavailable) {
			if perr := pause(err); perr != nil {
				return false, perr
			}
			return true, nil
		}
		return false, err
	}
	// lateFailed are the pages whose sends failed after sendBy (a send
	// the replica's freeze timed out, say): another replica may have
	// taken the incident over and delivered them. This claim's first
	// write records them if it gets in first; a retry forgets them
	// (dropLateFailures), for the record not to say "failed" beside the
	// takeover's page, nor bring a step forward. Made only when one is:
	// every claim runs this, and almost none has any.
	var lateFailed map[string]bool
	dropLateFailures := func() {
		if len(lateFailed) == 0 {
			return
		}
		for key := range lateFailed {
			delete(sent, key)
		}
		order = slices.DeleteFunc(order, func(key string) bool { return lateFailed[key] })
		maps.DeleteFunc(sentSteps, func(_ string, p duePage) bool { return lateFailed[p.key] })
		clear(lateFailed)
	}
	told := false // priorityMiss, once a claim
	for attempt := 0; attempt < 10; {
		if attempt > 0 {
			if ctx.Err() != nil {
				return d.leaveToRunOut(ctx, c, sendBy)
			}
			// Past sendBy the retry still records the pages that went
			// out (a takeover would send them again otherwise), and
			// sends nothing more: pageAll's check below leaves the
			// claim if the fresh state has anything new to page.
			dropLateFailures()
		}
		inc, err := c.Record, error(nil) // read with the claim: the first try needs no read
		if inc == nil {
			inc, err = d.o.Store.Get(ctx, c.Incident)
		}
		c.Record = nil
		if errors.Is(err, store.ErrNotFound) {
			return d.o.Store.Complete(ctx, c)
		}
		if retry, fail := settle(err); retry {
			continue
		} else if fail != nil {
			return fail
		}
		if len(unsure) > 0 {
			// Pages sent by an earlier write that failed: a step still
			// pending was not recorded (record it now, without sending);
			// one no longer pending was, or someone else dealt with it
			// first, and the timeline lacks its page (record it too).
			pending, missing, err := d.sortUnsure(ctx, inc, unsure)
			if retry, fail := settle(err); retry {
				continue
			} else if fail != nil {
				return fail
			}
			for id, e := range pending {
				sent[id] = e
			}
			for id, e := range missing {
				sent[id] = e
				order = append(order, id)
			}
			unsure = nil
		}
		// Pages sent before this read (an earlier try's, the journal's)
		// may have been reported on since, before this write records
		// them (earlyReports). A page sent after it cannot have been
		// reported on yet: a report noted meanwhile changes the
		// incident, and this try's write, finding it changed, starts
		// over, with its pages sent before the read.
		sentBeforeRead := len(sent) > 0
		cfg := d.o.Config()
		if !told {
			told = true
			d.priorityMiss(ctx, cfg, inc)
		}
		eng := policy.Engine{Config: cfg}
		now := d.o.Now().UTC().Truncate(time.Millisecond)
		st := inc.State
		var entries []store.Entry
		var pages []duePage
		var acted []policy.Action // what the machine did besides paging
		// roots are the steps armed in this claim, to their duePage.root.
		var roots map[string]string
		// fired is what each root's firing did besides paging, this try.
		fired := map[string][]policy.Action{}
		// steps are the steps, by id in st, that this try's firings
		// asked each page (by key) of: a page the provider refused is
		// taken out of its level's pages by it (refused).
		steps := map[string]string{}
		// aliased are roots whose pages a step of the fresh state stands
		// for (sentSteps): the write that armed it said why it paged.
		aliased := map[string]bool{}
		// The steps fired this try (their pages say what became of
		// them), kept only when a step may be one a storm counted.
		var firedSteps map[string]bool
		ordered := len(order) // order's keys before this try's pages
		// ownedNow are the steps of owned that this try's pages took
		// over: owned again if the try stops before its pages.
		var ownedNow map[string]policy.Deadline
		if slices.ContainsFunc(inc.State.Pending, policy.Deadline.CountedByStorm) {
			firedSteps = map[string]bool{}
		}
		// asked are the pages this try's firings asked for, sent by an
		// earlier try or not (superseded).
		var asked []policy.Action
		for {
			dl, ok := st.Next()
			if !ok || dl.At.After(now) {
				break
			}
			if firedSteps != nil {
				firedSteps[dl.ID] = true
			}
			ev := policy.Event{Kind: policy.EventDeadline, Deadline: dl.ID}
			if dl.Kind == policy.DeadlineMaintenance && d.o.Maintenance != nil {
				ev.Then = d.o.Maintenance(ctx, inc, now)
			}
			if len(sent) == 0 {
				// Left whole to a newer config only while this replica
				// has sent nothing of the incident it has yet to record
				// (this call's pages, before a write the incident
				// changed under; an earlier claim's, in the journal):
				// those are recorded here, on this config, or the newer
				// replica would page them again.
				if err := d.configBehind(ctx, cfg, inc, st, dl, now); err != nil {
					return err
				}
			}
			next, acts, err := eng.Apply(st, ev, now)
			if err != nil {
				return fmt.Errorf("apply deadline %s: %w", dl.ID, err)
			}
			root := cmp.Or(roots[dl.ID], dl.ID)
			for _, p := range next.Pending {
				if p.Seq > st.Seq { // armed by this firing
					if roots == nil {
						roots = map[string]string{}
					}
					roots[p.ID] = root
				}
			}
			st = next
			for _, a := range acts {
				if a.Kind != policy.ActionNotify {
					entries = append(entries, store.ActionEntries([]policy.Action{a}, "pagerd")...)
					acted = append(acted, a)
					fired[root] = append(fired[root], a)
					continue
				}
				asked = append(asked, a)
				key := pageKey(dl.ID, roots, a)
				if p, ok := sentSteps[dl.ID]; ok && p.a.User == a.User && p.a.Channel == a.Channel && p.a.Level == a.Level {
					key = p.key // the same step, and its page went out
					aliased[p.root] = true
				}
				if !slices.Contains(order, key) {
					order = append(order, key)
				}
				steps[key] = dl.ID
				if _, done := sent[key]; !done {
					p := duePage{deadline: dl.ID, a: a, root: root, key: key, step: dl, reopened: next.Reopened}
					if o, ok := owned[key]; ok {
						delete(owned, key) // its page says what becomes of its count
						if ownedNow == nil {
							ownedNow = map[string]policy.Deadline{}
						}
						ownedNow[key] = o
						if !dl.CountedByStorm() {
							p.step.Admitted, p.step.StormEnd, p.step.StormAfter, p.step.StormRank = true, o.StormEnd, o.StormAfter, o.StormRank
							p.owned = true
						}
					}
					pages = append(pages, p)
				}
			}
		}
		var skipped []store.Entry
		var skippedSteps []policy.Event
		pages, order, skipped, skippedSteps = superseded(pages, order, asked, now)
		entries = append(entries, skipped...)
		entries, acted = carriedOver(carried, inc.State, entries, acted, aliased)
		if taken := stormStepsTakenOut(inc.State.Pending, st.Pending, firedSteps, sentSteps); len(taken) > 0 {
			// Taken back before the pages are let out (the page that
			// replaced the step, the new level's to the same person, is
			// one of them), by a write of their own, then the try again
			// on what it wrote.
			order = order[:ordered]
			for key, dl := range ownedNow { // this try's pages are not sent: the next fires them
				own(key, dl)
			}
			err := d.uncount(ctx, inc, taken)
			if err == nil {
				c.Record = inc
				continue
			}
			if errors.Is(err, store.ErrConflict) {
				attempt++
				continue
			}
			if retry, fail := settle(err); retry {
				continue
			} else if fail != nil {
				return fail
			}
		}
		if len(pages) > 0 && d.pastSendBy(ctx, sendBy) {
			return d.leaveToRunOut(ctx, c, sendBy)
		}
		// A claim before this one may have had a page held in its storm
		// and not recorded the hold (it died, or stalled past its send
		// window), while the storm's message named the incident to the
		// person: a takeover, or a step put back due so. Asked only then:
		// every other claim reads nothing more.
		if len(pages) > 0 && ((c.Takeover && stormRules(cfg).Window > 0) || slices.ContainsFunc(pages, duePage.heldLate)) {
			d.pagedInMessages(ctx, inc.ID, pages)
		}
		calledOff := false
		results := d.pageAll(ctx, cfg, inc, pages, now, sendBy)
		// Pages whose sends ended past sendBy: the claim's lease is
		// nearly or wholly over, and another replica may have taken the
		// incident over and paged. Past the window a keep of sendAgain
		// opened, not the claim's: pages sent in it went out while the
		// claim was this replica's.
		late := d.o.Now().After(windowEnd(ctx, sendBy))
		for i, e := range results {
			if pages[i].cut {
				continue // not known to be sent: nothing to journal
			}
			if pages[i].again > 0 {
				// Sent back by the rate limit: nothing went out, and
				// its step is due again at its turn.
				order = slices.DeleteFunc(order, func(key string) bool { return key == pages[i].key })
				st = dueAgain(st, pages[i].step, now.Add(pages[i].again))
				if pages[i].owned && pages[i].step.CountedByStorm() {
					own(pages[i].key, pages[i].step)
				}
				continue
			}
			if e.Type == "" {
				// Called off (stillDue): the incident changed in the
				// store. Nothing went out to record; read it again.
				order = slices.DeleteFunc(order, func(key string) bool { return key == pages[i].key })
				calledOff = true
				continue
			}
			sent[pages[i].key] = e
			sentSteps[pages[i].deadline] = pages[i]
			if pages[i].unsentAtWrite {
				if unsentAtWrite == nil {
					unsentAtWrite = map[string]policy.Deadline{}
				}
				unsentAtWrite[pages[i].step.ID] = pages[i].step
			}
			if late && e.Type == "notify_failed" {
				// A failure then (a send the replica's freeze timed
				// out, say) is recorded by this claim's own write if
				// that gets in first; the journal does not record it
				// later beside the takeover's page.
				if lateFailed == nil {
					lateFailed = map[string]bool{}
				}
				lateFailed[pages[i].key] = true
				continue
			}
			d.journal.sent(c.Incident, pages[i].key, e, now.Add(d.o.Lease))
		}
		if ctx.Err() != nil {
			// The claim's time ran out while its pages were sent: its
			// lease is long over. The pages that went out are in the
			// journal; the rest, and the record, are the takeover's.
			return d.leaveToRunOut(ctx, c, sendBy)
		}
		if calledOff {
			// The pages that did go out are recorded by the next try,
			// with why they went out, as after a conflict.
			carry(fired, order)
			attempt++
			continue
		}
		var unreached []policy.Action
		if st, unreached, err = refused(&eng, st, sent, order, steps, lateFailed, now); err != nil {
			return err
		}
		for _, ev := range skippedSteps {
			next, more, err := eng.Apply(st, ev, now)
			if err != nil {
				return fmt.Errorf("count a step skipped for %s as no page: %w", ev.Actor, err)
			}
			st, unreached = next, append(unreached, more...)
		}
		for _, id := range order {
			// The step each page was sent for, as this try's
			// firing numbered it (LevelPages has that id): a
			// delivery report that it reached nobody names it.
			// A journaled page whose step is still pending is
			// fired again here, not sent, and named so. One this
			// try did not fire (sortUnsure's missing: another
			// write took its step out) names none: the level
			// counts that step only if a stored write fired it,
			// another replica's takeover, whose own page of it
			// names it and whose report counts it (and a step an
			// unstored write armed has an id a stored write may
			// give another step). Named here too, this page's
			// report would call the level unreached while the
			// takeover's may have reached the person.
			e := sent[id]
			if e.Type == "notify" {
				e.Step = steps[id]
			}
			entries = append(entries, e)
		}
		var lateChannels []string
		if sentBeforeRead {
			var late []policy.Action
			if st, late, lateChannels, err = d.earlyReports(ctx, &eng, inc.ID, st, entries, now); err != nil {
				return err
			}
			unreached = append(unreached, late...)
		}
		// A level nobody could be reached at escalated after its pages'
		// failures: recorded after them, observed and told to the chat
		// message as any escalation.
		entries = append(entries, store.ActionEntries(unreached, "pagerd")...)
		acted = append(acted, unreached...)
		if inc.NotPaged && toldOfIt(entries) {
			inc.NotPaged = false // its later pages are not first pages
		}
		if inc.NotPushedToPagerDuty && toPagerDuty(cfg, entries) {
			// Recorded on the incident, so its acknowledgement and
			// resolve tell PagerDuty. One that came first, while this
			// page went out, owed PagerDuty nothing: owe it now.
			inc.NotPushedToPagerDuty = false
			inc.Outbox = append(inc.Outbox, incident.LateForward(st.Status, now)...)
		}
		// An escalation owes the incident's chat message an update, done
		// with the rest of its outbox.
		inc.Outbox = append(inc.Outbox, incident.ChatItems(cfg, inc.Service, acted, now)...)
		// A rule's step that reopened it owes its silences' expiry.
		inc.Outbox = append(inc.Outbox, incident.Reopened(inc, st, now)...)
		// Pages that went out are recorded at once: the outbox (a chat
		// message, PagerDuty, silences) waits for the next claim, due at
		// once, so a system that hangs there cannot hold the record past
		// the lease, when another replica would send the pages again. A
		// retried write that already did some of it does the rest.
		outbox, done := inc.Outbox, []store.Entry(nil)
		if len(order) == 0 || len(tried) > 0 {
			outbox, done = d.runOutbox(ctx, cfg, inc, now, tried, entries)
		}
		entries = append(entries, done...)
		sort.SliceStable(entries, func(i, j int) bool { return entries[i].At.Before(entries[j].At) })
		if len(entries) == 0 && reflect.DeepEqual(st, inc.State) && reflect.DeepEqual(outbox, inc.Outbox) {
			d.unsentOwned(ctx, inc, owned) // the incident stays as read
			err := d.o.Store.Complete(ctx, c)
			if err == nil {
				d.countOutbox(tried)
			}
			return err
		}
		if len(entries) > 0 || !reflect.DeepEqual(st, inc.State) {
			inc.UpdatedAt = now
		}
		read := inc.State.Pending
		inc.State, inc.Outbox = st, outbox
		err = d.o.Store.Finish(ctx, c, inc, entries)
		switch {
		case err == nil:
			d.countOutbox(tried)
			d.countSkipped(cfg, inc, skipped)
			d.journal.recorded(c.Incident, order...)
			for _, ch := range lateChannels {
				d.m.lateReports.WithLabelValues(ch).Inc()
			}
			d.unsentOwned(ctx, inc, owned)
			d.unsentTakenOut(ctx, inc, read, unsentAtWrite)
			d.Acted(inc, acted)
			return nil
		case errors.Is(err, store.ErrConflict):
			// Someone acknowledged or updated it meanwhile: work the fresh
			// state, without sending again what already went out, and
			// record every page that did, with why it went out.
			carry(fired, order)
			attempt++
		case errors.Is(err, store.ErrUnavailable):
			// Unknown whether it was written: the next read settles it.
			// What carried held is in the timeline if it was. A late
			// failure is not carried: the next read would record it
			// "missing" beside the takeover's page.
			dropLateFailures()
			unsure, sent, order = unsureOf(sent, order), map[string]store.Entry{}, nil
			clear(sentSteps)
			clear(carried)
			if perr := pause(err); perr != nil {
				return perr
			}
		default:
			return err
		}
	}
	return errors.New("the incident kept changing under the dispatcher")
}

// keptToRecord says that a claim whose pages went out goes on trying
// their record past half the lease, its lease kept (keepLease), until
// RecordRetry or the claim's own time (a lease and the send timeout from
// the claim) ends: given up at half the lease, as before, its lease ran
// out (or, kept, was cut back to the end it was claimed with) and another
// replica took the step over and paged it again while the pages were in
// this replica's journal. Bounded by the claim's time, as the keeps are:
// a store that refuses the record for longer has its lease cut back, and
// the claim taken over then (one duplicate, as in a crash), rather than
// the incident held for as long as the store refuses; a store that takes
// no keep either lets the lease run out meanwhile.
func (d *Dispatcher) keptToRecord(ctx context.Context, c store.Claim, until time.Time, err error) {
	if dl, ok := ctx.Deadline(); ok && dl.Before(until) {
		until = dl
	}
	_, attrs := claimed(c)
	d.log.Warn("dispatcher: the store refuses to record pages sent; the claim is kept while the record is tried again, so that no other replica pages them again",
		append(attrs, "given_up_in", time.Until(until).Round(time.Millisecond).String(), "err", err)...)
}

// recordRetryShort is how long a store that refuses a claim's calls is
// tried before the claim is given up, when it has no page sent and not
// recorded (nothing another replica could send twice), and a job's
// record: half the lease, or RecordRetry if shorter. A storm's message
// sent is kept to its record as a page is (flush).
func (d *Dispatcher) recordRetryShort() time.Duration { return min(d.o.RecordRetry, d.o.Lease/2) }

// superseded takes out of pages (and their keys out of order) each page
// that a later step of the same incident to the same person on the same
// channel, asked for by the same firings (asked), stands for: both came
// due before the dispatcher could work them (a restart or a restore after
// an outage, a store away, a takeover), and the ladder, counted from each
// step's own time, went round meanwhile (a policy's repeat), or came back
// to the person. Sent together they rang one phone several times at the
// same instant for one incident; the latest goes, the earlier are
// recorded as skipped (notify_skipped), not sent. Pages whose storm
// counts them already (let out before a rate limit sent them back) are
// left as they are: taking one out must also take back its count.
//
// The engine fired the skipped steps: each is among the level's pages
// (policy.Incident.LevelPages) and its channel in the person's later
// steps (policy.Deadline.Sent), though nothing went out. steps are the
// events, one a skipped step, that say so in the same write, as a page
// that reached nobody (policy.Event.Step), the next step brought forward
// already (BroughtForward: none moves): when the page sent in their place
// is refused, nothing of the level reached anyone and the next level is
// paged at once, and a reload that leaves the person that channel alone
// does not take the skipped step for a page they got.
func superseded(pages []duePage, order []string, asked []policy.Action, now time.Time) (_ []duePage, _ []string, skipped []store.Entry, steps []policy.Event) {
	if len(asked) < 2 {
		return pages, order, nil, nil // a page alone: the claim of nearly every step
	}
	// A page stands only for pages no more urgent than itself: a quiet
	// low-urgency push in place of a high-urgency one (Pushover's and
	// ntfy's that break through Do Not Disturb) would not wake whom the
	// earlier step was to wake. urgent says whether a page may be high
	// urgency (a step stored without one takes the incident's).
	type who struct {
		user, channel string
		urgent        bool
	}
	urgent := func(a policy.Action) bool { return a.Urgency != policy.UrgencyLow }
	latest := make(map[who]time.Time, 2*len(asked))
	for _, a := range asked {
		for _, k := range []who{{a.User, a.Channel, false}, {a.User, a.Channel, true}} {
			if k.urgent && !urgent(a) {
				continue // stands for low-urgency pages alone
			}
			if at, ok := latest[k]; !ok || a.At.After(at) {
				latest[k] = a.At
			}
		}
	}
	var dropped map[string]bool
	pages = slices.DeleteFunc(pages, func(p duePage) bool {
		at, ok := latest[who{p.a.User, p.a.Channel, urgent(p.a)}]
		if !ok || !p.a.At.Before(at) || p.owned || p.step.Admitted || p.step.CountedByStorm() {
			return false
		}
		if dropped == nil {
			dropped = map[string]bool{}
		}
		dropped[p.key] = true
		skipped = append(skipped, store.Entry{At: now, Type: "notify_skipped", Level: p.a.Level + 1, User: p.a.User, Channel: p.a.Channel,
			Detail: fmt.Sprintf("step due %s not sent: a later step to the same person on the same channel, due %s, came due with it and pages in its place",
				p.a.At.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))})
		steps = append(steps, policy.Event{Kind: policy.EventChannelFailed, Actor: p.a.User, Channel: p.a.Channel, Step: p.deadline, BroughtForward: true})
		return true
	})
	if len(dropped) > 0 {
		order = slices.DeleteFunc(order, func(key string) bool { return dropped[key] })
	}
	return pages, order, skipped, steps
}

// countSkipped counts and logs the pages superseded left out of a claim
// whose write is in.
func (d *Dispatcher) countSkipped(cfg *policy.Config, inc *store.Incident, skipped []store.Entry) {
	for _, e := range skipped {
		via := "none"
		if _, contact, _, _ := d.transport(cfg, e.User, e.Channel); contact != nil {
			via = contact.Via
		}
		d.m.pages.WithLabelValues(e.Channel, via, "skipped").Inc()
	}
	if len(skipped) > 0 {
		d.log.Warn("steps came due together long after their time (a restart, a restore, an outage): each person is paged once a channel, the earlier steps are skipped",
			"incident", inc.ID, "skipped", len(skipped))
	}
}

// stormStepsTakenOut are the steps of before, pages a storm let out at
// once and counted as sent that the rate limit sent back to their turn
// (policy.Deadline.CountedByStorm), which the firings that made after
// took out without firing them (an escalation that started the person's
// ladder again, say), and whose pages did not go out before a write the
// incident changed under (went). Their pages never go out; counted, they
// held a page after them (the new ladder's first, often) to the window's
// end, as incident.Service takes back those its writes take out.
func stormStepsTakenOut(before, after []policy.Deadline, fired map[string]bool, went map[string]duePage) []policy.Deadline {
	if fired == nil {
		return nil // no step of before is one (work)
	}
	var taken []policy.Deadline
	for _, dl := range before {
		if _, sent := went[dl.ID]; !dl.CountedByStorm() || fired[dl.ID] || sent ||
			slices.ContainsFunc(after, func(a policy.Deadline) bool { return a.ID == dl.ID }) {
			continue
		}
		taken = append(taken, dl)
	}
	return taken
}

// unsentOwned takes back, once the claim's write of inc is in (or it
// finds nothing to write), the pages of owned (work) whose steps inc does
// not hold as counted by their storms: let out at once and sent back by
// the rate limit in a try before a write the incident changed under, they
// were not fired again (an acknowledgement took their steps out, unaware
// of the count).
func (d *Dispatcher) unsentOwned(ctx context.Context, inc *store.Incident, owned map[string]policy.Deadline) {
	for _, dl := range owned {
		if slices.ContainsFunc(inc.State.Pending, func(p policy.Deadline) bool { return p.ID == dl.ID && p.CountedByStorm() }) {
			continue
		}
		d.unsent(ctx, dl.User, dl.Channel, store.HeldPage{Incident: inc.ID, Rank: dl.StormRank}, dl.StormEnd, dl.StormAfter)
	}
}

// unsentTakenOut takes back the pages of failed (work's unsentAtWrite),
// steps counted by their storms whose pages failed at their turn, that
// the claim's write of inc took out: read, the incident it wrote over,
// held them as counted, and inc does not hold them. One the write did not
// find (an acknowledgement took it out, and took it back, before) is not
// taken back again.
func (d *Dispatcher) unsentTakenOut(ctx context.Context, inc *store.Incident, read []policy.Deadline, failed map[string]policy.Deadline) {
	for id, dl := range failed {
		if !slices.ContainsFunc(read, func(p policy.Deadline) bool { return p.ID == id && p.CountedByStorm() }) ||
			slices.ContainsFunc(inc.State.Pending, func(p policy.Deadline) bool { return p.ID == id }) {
			continue
		}
		d.unsent(ctx, dl.User, dl.Channel, store.HeldPage{Incident: inc.ID, Rank: dl.StormRank}, dl.StormEnd, dl.StormAfter)
	}
}

// uncount writes inc with its steps taken no longer counted by their
// storms (policy.Deadline.CountedByStorm), and then takes their pages back
// from their storms' windows: taken out by the claim's firings, their
// pages never go out. The write is one of its own, before the claim's
// pages, as a page that replaced such a step (the new level's, to the same
// person) is let out against the window without it. Taken back once, by
// the write that says so: an acknowledgement that takes the steps out
// meanwhile (incident.Service takes back those it takes out) makes this
// write conflict, and one after it finds them no longer counted. A claim
// that then stops short of its own write leaves them pending, to ask
// their storms again at their turn. inc.Version is the new one on
// success.
func (d *Dispatcher) uncount(ctx context.Context, inc *store.Incident, taken []policy.Deadline) error {
	pending := slices.Clone(inc.State.Pending)
	for i, dl := range pending {
		if slices.ContainsFunc(taken, func(t policy.Deadline) bool { return t.ID == dl.ID }) {
			pending[i].Admitted, pending[i].StormEnd, pending[i].StormAfter, pending[i].StormRank = false, time.Time{}, false, 0
		}
	}
	inc.State.Pending = pending
	if err := d.o.Store.Update(ctx, inc, nil); err != nil {
		return err
	}
	for _, dl := range taken {
		d.unsent(ctx, dl.User, dl.Channel, store.HeldPage{Incident: inc.ID, Rank: dl.StormRank}, dl.StormEnd, dl.StormAfter)
	}
	return nil
}

// pageKey names the page action a of the step deadline fired, so that
// firing it again names it alike: a stored step by its id; a step armed in
// this claim (roots) by the stored deadline that armed it and the page
// itself. Re-applied on a fresh read of the incident (a write the incident
// changed under), that deadline arms its steps with other ids, counted on
// from the incident's latest: keyed by id, their pages went out again.
func pageKey(deadline string, roots map[string]string, a policy.Action) string {
	root, armed := roots[deadline]
	if !armed {
		return deadline
	}
	return fmt.Sprintf("%s>%s|%s|%d|%s", root, a.User, a.Channel, a.Level, a.At.UTC().Format(time.RFC3339Nano))
}

// rootOf is the stored deadline a page key (pageKey) belongs to: the step's
// own, or the one that armed it.
func rootOf(key string) string {
	root, _, _ := strings.Cut(key, ">")
	return root
}

// carriedOver adds to entries and acted what firings of the deadlines in
// carried did besides paging, for those no longer pending in st (the
// incident as read) nor done alike by the write it changed under (aliased): they are
// not fired again, and the pages they sent are recorded.
func carriedOver(carried map[string][]policy.Action, st policy.Incident, entries []store.Entry, acted []policy.Action, aliased map[string]bool) ([]store.Entry, []policy.Action) {
	for _, root := range slices.Sorted(maps.Keys(carried)) {
		acts := carried[root]
		if aliased[root] || slices.ContainsFunc(st.Pending, func(dl policy.Deadline) bool { return dl.ID == root }) {
			continue // fired again, and said again; or done alike by the other write
		}
		entries = append(entries, store.ActionEntries(acts, "pagerd")...)
		acted = append(acted, acts...)
	}
	return entries, acted
}

// refused brings forward, in st, the next step of each person whose page
// among those recorded (order) failed, as a delivery report saying it did
// not arrive does (policy.EventChannelFailed): a page refused at once for
// good (an SMS to a number that sent STOP, an open circuit) must not leave
// the call at its own time. Every failure counts alike, one that may have
// reached the person (a timeout after the request went out) included.
//
// A failure that cannot have reached the person also names its step
// (steps, by page key), so that the machine knows when every page of a
// level failed and pages the next one at once (policy.Event.Step); one that
// may have reached them (incident.MayHavePaged), one whose send ended past sendBy
// (late: a takeover may have sent it), and one of a step this try did not
// fire (recorded from an earlier write) name none, and count as gone out.
// It returns what the machine did besides (that escalation), to record.
func refused(eng *policy.Engine, st policy.Incident, sent map[string]store.Entry, order []string, steps map[string]string, late map[string]bool, now time.Time) (policy.Incident, []policy.Action, error) {
	var acts []policy.Action
	for _, key := range order {
		e := sent[key]
		if e.Type != "notify_failed" {
			continue
		}
		ev := policy.Event{Kind: policy.EventChannelFailed, Actor: e.User, Channel: e.Channel}
		if !incident.MayHavePaged(e) && !late[key] {
			ev.Step = steps[key]
		}
		next, more, err := eng.Apply(st, ev, now)
		if err != nil {
			return st, nil, fmt.Errorf("bring forward the step after a failed page to %s: %w", e.User, err)
		}
		st = next
		acts = append(acts, more...)
	}
	return st, acts, nil
}

// earlyReports applies to st the delivery reports that a page among
// entries (about to be recorded) reached nobody which came before it was
// recorded (incident.EarlyReports): its step counts as failed, and when
// nothing else of the level reached anyone or is left to send, the next
// level is paged in this write, as when the report comes after its page.
// In the write that records the page, so once: a write the incident
// changed under starts over from the fresh state and asks again, and a
// report noted after the timeline is read here changes the incident, so
// this write is retried. The timeline is read only when a page among
// entries is one such a report can name (incident.EarlyReportable, the
// test EarlyReports makes: a storm message's page is the flush's,
// lateStormReports). It returns what the machine did besides (that
// escalation), and the channels of the reports applied, to count once the
// write is in. A timeline that cannot be read leaves the pages counted as
// gone out (their levels keep their timeouts, as before), and the log
// says so: the pages are recorded all the same.
func (d *Dispatcher) earlyReports(ctx context.Context, eng *policy.Engine, id string, st policy.Incident, entries []store.Entry, now time.Time) (policy.Incident, []policy.Action, []string, error) {
	if !slices.ContainsFunc(entries, incident.EarlyReportable) {
		return st, nil, nil, nil
	}
	tl, err := d.o.Store.Timeline(ctx, id)
	if err != nil {
		d.log.Warn("dispatcher: reading the timeline for delivery reports that came before their pages were recorded; those pages count as gone out",
			"incident", id, "err", err)
		return st, nil, nil, nil
	}
	events, channels := incident.EarlyReports(tl, entries)
	var acts []policy.Action
	for _, ev := range events {
		next, more, err := eng.Apply(st, ev, now)
		if err != nil {
			return st, nil, nil, fmt.Errorf("count a page reported reaching %s before it was recorded: %w", ev.Actor, err)
		}
		st = next
		acts = append(acts, more...)
		d.log.Info("dispatcher: a page reported reaching nobody before it was recorded counts so now", "incident", id, "user", ev.Actor, "channel", ev.Channel)
	}
	return st, acts, channels, nil
}

// unsureOf are the pages in order, by key (pageKey): what a write that did
// not go through was to record.
func unsureOf(sent map[string]store.Entry, order []string) map[string]store.Entry {
	unsure := make(map[string]store.Entry, len(order))
	for _, id := range order {
		unsure[id] = sent[id]
	}
	return unsure
}

// sortUnsure sorts pages this replica sent for an incident and may not
// have recorded (by key, pageKey) against the incident as stored: those
// whose stored deadline (the step's, or the one that armed it) is still
// pending, not recorded, go with its firing; those of steps no longer
// pending whose page the timeline lacks (an acknowledgement or a resolve
// got in before the write) are missing, to be recorded now; those the
// timeline holds are forgotten.
func (d *Dispatcher) sortUnsure(ctx context.Context, inc *store.Incident, unsure map[string]store.Entry) (pending, missing map[string]store.Entry, err error) {
	isPending := map[string]bool{}
	for _, dl := range inc.State.Pending {
		isPending[dl.ID] = true
	}
	var tl []store.Entry
	pending, missing = map[string]store.Entry{}, map[string]store.Entry{}
	for id, e := range unsure {
		if isPending[rootOf(id)] {
			pending[id] = e
			continue
		}
		if tl == nil {
			// Not pending may also mean acknowledged (or resolved)
			// before the write got through: only the timeline says
			// whether the page is recorded.
			if tl, err = d.o.Store.Timeline(ctx, inc.ID); err != nil {
				return nil, nil, err
			}
		}
		if slices.ContainsFunc(tl, func(r store.Entry) bool { return sameEntry(r, e) }) {
			d.journal.recorded(inc.ID, id)
		} else {
			missing[id] = e
		}
	}
	return pending, missing, nil
}

// recordJournal records the pages this replica sent and could not record
// whose steps are no longer pending: an acknowledgement or a resolve took
// them out of their incident while the store refused the write, and with
// nothing left due no claim brings the incident back to record them (the
// timeline would say nobody was paged, and PagerDuty, if the page went
// there, would not be told of the acknowledgement). A step still pending is
// left to its claim. Each incident is looked at from its lease's end, once
// per lease.
func (d *Dispatcher) recordJournal(ctx context.Context) {
	for _, id := range d.journal.due(d.o.Now(), d.o.Lease) {
		d.recordOne(ctx, id)
	}
}

// recordOne is recordJournal's work on one incident, holding it: released
// however it ends (a panic, which recordAside recovers, left it held for
// good, and every claim of the incident waited for it in vain).
func (d *Dispatcher) recordOne(ctx context.Context, id string) {
	release, ok := d.journal.tryHold(id)
	if !ok {
		return // a claim works it, and the journal with it
	}
	defer release()
	if err := d.recordUnclaimed(ctx, id); err != nil {
		d.log.Warn("dispatcher: a page sent but not recorded could not be recorded yet; tried again in a lease",
			"incident", id, "err", err)
	}
}

// recordUnclaimed records the journaled pages of an incident whose steps
// are no longer pending, with an Update: no claim is held, and a write
// that gets in meanwhile (another replica's claim, a person's action)
// makes it read again. The caller holds the incident (journal.tryHold).
func (d *Dispatcher) recordUnclaimed(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	for attempt := 0; attempt < 10; attempt++ {
		unsure := d.journal.stepsOf(id)
		if len(unsure) == 0 {
			return nil
		}
		inc, err := d.o.Store.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			for dl := range unsure {
				d.journal.recorded(id, dl)
			}
			return nil
		}
		if err != nil {
			return err
		}
		_, missing, err := d.sortUnsure(ctx, inc, unsure)
		if err != nil || len(missing) == 0 {
			return err
		}
		var entries []store.Entry
		var ids []string
		for dl, e := range missing {
			entries, ids = append(entries, e), append(ids, dl)
		}
		sort.SliceStable(entries, func(i, j int) bool { return entries[i].At.Before(entries[j].At) })
		now := d.o.Now().UTC().Truncate(time.Millisecond)
		if inc.NotPaged && toldOfIt(entries) {
			inc.NotPaged = false
		}
		if inc.NotPushedToPagerDuty && toPagerDuty(d.o.Config(), entries) {
			// As in work: the acknowledgement that got in first owed
			// PagerDuty nothing; it does now.
			inc.NotPushedToPagerDuty = false
			inc.Outbox = append(inc.Outbox, incident.LateForward(inc.State.Status, now)...)
		}
		inc.UpdatedAt = now
		err = d.o.Store.Update(ctx, inc, entries)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			// Unknown whether it was written, or refused: the next look
			// asks the timeline again.
			return err
		}
		d.journal.recorded(id, ids...)
		d.log.Info("dispatcher: recorded pages sent before their steps were cancelled", "incident", id, "pages", len(ids))
		return nil
	}
	return errors.New("the incident kept changing under the dispatcher")
}

// sameEntry reports whether two timeline entries record the same thing at
// the same time (a stored one comes back with another location). A page's
// Step is left out: it is what the write that recorded the page knew of
// its step (work names it there, on the entry it writes), not what the
// page did, and the journal keeps the page as it went out, without it. A
// write whose answer was lost and that went through stored the page with
// its step: compared with it, the journal's page was "missing" and was
// recorded a second time, without its step, and a delivery report, which
// finds the latest record of its page (pageStep), then counted it as gone
// out: the level waited out its timeout.
func sameEntry(a, b store.Entry) bool {
	at := a.At.Equal(b.At)
	a.At, b.At = time.Time{}, time.Time{}
	a.Step, b.Step = "", ""
	return at && a == b
}

// Acted counts what a stored write made the escalation machine do
// (escalations in pagerd_escalations_total, SLA breaches in
// pagerd_sla_breaches_total), and logs, and counts in
// pagerd_paged_nobody_total, every escalation among acts that paged nobody
// (incident.LogPagedNobody): whoever writes them, the dispatcher, the
// intake (a level in a gap escalated at once when the alert came) or a
// person through the API (the daemon gives the incident service this).
func (d *Dispatcher) Acted(inc *store.Incident, acts []policy.Action) {
	for _, a := range acts {
		d.observe(a)
	}
	incident.LogPagedNobody(d.log, inc, acts)
	for _, a := range acts {
		if a.PagedNobody {
			d.m.nobody.WithLabelValues(inc.Service).Inc()
		}
	}
}

func (d *Dispatcher) observe(a policy.Action) {
	switch a.Kind {
	case policy.ActionEscalate:
		if policy.IsPagedAgain(a.Detail) || policy.IsLevelPagingNobody(a.Detail) || policy.IsPriorityRaise(a.Detail) {
			// The same level paged again (a person or channel a reload
			// took out, a priority raise), or a level with nobody on
			// call and none after it: the incident stays where it was.
			return
		}
		d.m.escalation.WithLabelValues(fmt.Sprint(a.Level + 1)).Inc()
	case policy.ActionSLABreach:
		d.m.breaches.WithLabelValues(a.Detail).Inc()
	}
}

// pageAll sends an incident's due pages, concurrently when there are
// several, and says what each did.
func (d *Dispatcher) pageAll(ctx context.Context, cfg *policy.Config, inc *store.Incident, pages []duePage, now, sendBy time.Time) []store.Entry {
	out := make([]store.Entry, len(pages))
	if len(pages) == 1 {
		out[0] = d.pageSafely(ctx, cfg, inc, &pages[0], now, sendBy)
		return out
	}
	var wg sync.WaitGroup
	for i := range pages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = d.pageSafely(ctx, cfg, inc, &pages[i], now, sendBy)
		}()
	}
	wg.Wait()
	return out
}

// pageSafely is page, with a panic (a bug) taken as the page failed, and
// maybe sent: recorded notify_failed, so that the person's next step comes
// forward and the step is recorded with the step's other pages. On a
// goroutine of pageAll's, nothing recovered it and it took the process
// down; raised on the claim's, the step failed at every lease (its other
// pages sent again each time) and the ladder went no further. Counted as
// failed, and logged with its stack.
func (d *Dispatcher) pageSafely(ctx context.Context, cfg *policy.Config, inc *store.Incident, p *duePage, now, sendBy time.Time) (e store.Entry) {
	defer func() {
		if r := recover(); r != nil {
			d.m.errors.WithLabelValues(claimFailed).Inc()
			d.log.Error("dispatcher: panic paging (a bug); the page counts as failed, and may have been sent",
				"incident", inc.ID, "user", p.a.User, "channel", p.a.Channel, "panic", r, "stack", string(debug.Stack()))
			p.again = 0
			e = store.Entry{At: now, Type: "notify_failed", Level: p.a.Level + 1, User: p.a.User, Channel: p.a.Channel,
				Detail: fmt.Sprintf("may have been sent: a bug in pagerd panicked paging (%v)", r)}
		}
	}()
	return d.page(ctx, cfg, inc, p, now, sendBy)
}

// stormRules are the config's bundling rules.
func stormRules(cfg *policy.Config) store.StormRules {
	st := cfg.Notifiers.Storm
	r := store.StormRules{Immediate: st.Immediate}
	if st.Window != nil {
		r.Window = time.Duration(*st.Window)
	}
	return r
}

// rank orders an incident's priority for storm bundling: lower is more
// urgent; an incident of a service no longer in the config comes last.
func rank(cfg *policy.Config, service, priority string) int {
	if svc := cfg.Service(service); svc != nil {
		// A priority the scheme lacks (the config changed while the
		// incident was open) is escalated as the most urgent: it ranks so.
		p, _ := svc.PriorityInForce(priority)
		if r := svc.Scheme().Rank(p); r >= 0 {
			return r
		}
	}
	return store.NoRank - 1
}

// transport finds how a person is reached on a channel, or says why they
// cannot be (for the timeline).
func (d *Dispatcher) transport(cfg *policy.Config, user, channel string) (*policy.User, *policy.Contact, notify.Notifier, string) {
	u := cfg.User(user)
	var contact *policy.Contact
	if u != nil {
		for i := range u.Contacts {
			if u.Contacts[i].Channel == channel {
				contact = &u.Contacts[i]
			}
		}
	}
	if contact == nil {
		return nil, nil, nil, fmt.Sprintf("user %q has no %s contact in the config", user, channel)
	}
	n := d.o.Notifiers[contact.Via]
	if n == nil {
		d.log.Error("page not sent: transport not available", "user", user, "channel", channel, "via", contact.Via)
		return nil, nil, nil, fmt.Sprintf("the %s transport is not available", contact.Via)
	}
	return u, contact, n, ""
}

// contactVia is the transport of user's contact on channel in cfg, the
// one a storm message to them went by, or "none" (as a page's failure for
// want of a contact is counted).
func contactVia(cfg *policy.Config, user, channel string) string {
	if u := cfg.User(user); u != nil {
		for _, c := range slices.Backward(u.Contacts) {
			if c.Channel == channel {
				return c.Via
			}
		}
	}
	return "none"
}

// page sends one page, or holds it for the person's storm bundle, and says
// what happened, for the timeline. A failed channel is recorded and the
// ladder goes on: the next step is already a deadline of its own. A page
// the provider's rate limit sent back (notify.ErrOverRateLimit) is not
// recorded: page sets p.again to when its turn comes; but one the provider
// itself has kept sending back (its 429) for notify.MaxRetryAfter since
// its first 429 fails. A page that cannot start by sendBy (its storm's
// Admit answered that late: a stalled store) is not sent, and put back
// due at once (p.again); one its storm held then is taken back from the
// storm (Store.Withdraw) and put back likewise. One whose claim's context
// ended while its storm was asked is left to the takeover (p.cut), and
// one its storm held then is taken back too.
func (d *Dispatcher) page(ctx context.Context, cfg *policy.Config, inc *store.Incident, p *duePage, now, sendBy time.Time) store.Entry {
	a := p.a
	if p.inMessage != nil {
		// Not sent, and no failure: counted apart, as the sign of a
		// replica that stopped or stalled across its storm's window.
		d.m.pages.WithLabelValues(a.Channel, contactVia(cfg, a.User, a.Channel), "in_storm_message").Inc()
		return *p.inMessage
	}
	e := store.Entry{At: now, Type: "notify", Level: a.Level + 1, User: a.User, Channel: a.Channel, Reopened: p.reopened, ReopenedKnown: true}
	u, contact, n, why := d.transport(cfg, a.User, a.Channel)
	if why != "" {
		e.Type, e.Detail = "notify_failed", why
		via := "none"
		if contact != nil {
			via = contact.Via
		}
		d.m.pages.WithLabelValues(a.Channel, via, "failed").Inc()
		return e
	}
	if why := cfg.ShadowOf(inc.Service, contact.Via); why != "" {
		// Shadow mode: the page is worked out and recorded, never sent.
		e.Type, e.Detail = "notify_shadow", fmt.Sprintf("would have sent via %s; not sent: %s", contact.Via, why)
		d.m.pages.WithLabelValues(a.Channel, contact.Via, "shadow").Inc()
		return e
	}
	// The urgency of the page this step belongs to, not the incident's
	// latest: a later page on another ladder must not change how this
	// one's SMS or call goes out. Steps stored without one take the
	// incident's.
	urgency := a.Urgency
	if urgency == "" {
		urgency = inc.State.Urgency
	}
	var listed *store.HeldPage         // sent at once and listed in the storm as sent
	var heldLate *store.HeldPage       // held by its storm, answered past sendBy
	var stormUnknown *store.HeldPage   // its storm's answer lost, and not asked again before the claim's time ran out
	admitted := p.step.Admitted        // let out at once by its storm, now or before a rate limit sent it back
	unsent := func(context.Context) {} // takes back its storm's count of it, when its Admit let it out
	carried := false                   // counted by its storm, as stored, before the rate limit sent it back
	if st := p.step; admitted && !st.StormEnd.IsZero() {
		// Let out before the rate limit sent it back: counted then, in
		// the window it was let out in, and taken back from there.
		hp := store.HeldPage{Incident: inc.ID, Rank: st.StormRank}
		unsent = func(ctx context.Context) { d.unsent(ctx, a.User, a.Channel, hp, st.StormEnd, st.StormAfter) }
		carried = !p.owned
	}
	if r := stormRules(cfg); r.Window > 0 && !admitted {
		hp := store.HeldPage{Incident: inc.ID, Deadline: p.deadline, Service: inc.Service, Priority: inc.State.Priority,
			Rank: rank(cfg, inc.Service, inc.State.Priority), Urgency: urgency, Level: a.Level,
			Summary: textcut.Bytes(inc.Summary, 200, textcut.Ellipsis), Due: a.At, Via: contact.Via, Reopened: p.reopened,
			PagesAcknowledged: rootPagesAcknowledged(inc.State, p.root)}
		adm, err := d.o.Store.Admit(ctx, store.StormKey(a.User, a.Channel), hp, now, r)
		if errors.Is(err, store.ErrOutcomeUnknown) {
			// The store may have held the page (its answer was lost):
			// sent on its own now, it went out again in the storm's
			// message. Asked again, the store gives the same page
			// (incident, step, now) its first answer, counted once
			// (unless another page of the storm was asked between).
			adm, err = d.o.Store.Admit(ctx, store.StormKey(a.User, a.Channel), hp, now, r)
			if err != nil && ctx.Err() != nil {
				// Asked again too late: the store may keep this
				// claim's hold or count, which the takeover knows
				// nothing of. Taken back below (heldLate, unsent).
				stormUnknown = &hp
			}
		}
		switch {
		case err != nil && ctx.Err() != nil:
			// The claim's time ran out while its storm was asked: left
			// to the takeover below, not sent.
		case err != nil:
			// Whether they are in a storm is unknown: a page sent on its
			// own beats a page held where nobody may flush it.
			d.log.Warn("storm bundling unavailable; page sent on its own", "incident", inc.ID, "user", a.User, "channel", a.Channel, "err", err)
		case !adm.Send && !d.pastSendBy(ctx, sendBy):
			d.m.pages.WithLabelValues(a.Channel, contact.Via, "held").Inc()
			e.Type = "notify_held"
			e.Detail = "alert storm: " + heldDetail(a.User, a.Channel, adm)
			return e
		case !adm.Send:
			// Held, but the answer came past the claim's send window:
			// the claim's record of the hold may never get in (another
			// replica may have taken the incident over and paged it on
			// its own), and the storm's message would page the person
			// for it again. Taken back below, and its step due again.
			heldLate = &hp
		case adm.Listed:
			// Held again when its send fails or is called off, it
			// stands for a page of its incident held before it that
			// pages acknowledged incidents too, which the storm's
			// message leaves out for it (store.Admission.Acknowledged).
			l := hp
			l.PagesAcknowledged = l.PagesAcknowledged || adm.Acknowledged
			listed = &l
		}
		if err == nil && adm.Send {
			unsent = func(ctx context.Context) { d.unsent(ctx, a.User, a.Channel, hp, adm.Until, !now.Before(adm.Until)) }
			p.step.StormEnd, p.step.StormAfter, p.step.StormRank = adm.Until, !now.Before(adm.Until), hp.Rank
			p.owned = true
		}
		admitted = err == nil && adm.Send
	}
	if ctx.Err() != nil {
		// The claim's time ran out while its storm was asked (its lease
		// and a send timeout are over): work leaves the claim to run
		// out, and counts it, for the takeover, which pages the step on
		// its own, asking its storm again. What the storm answered
		// this claim is taken back, on a context of its own (the
		// claim's is over): a hold, or the storm's message would page
		// the person for it as well; a count, or the window would
		// count a page nobody got and hold the person's next page to
		// its end behind it. A page let out and listed in the storm
		// (adm.Listed) stays listed as gone out on its own: the
		// takeover pages the step, let out at once (as this claim's
		// was, when it asked first: the lease ends before the claim's
		// context) or held after the listing, for the message; held
		// again here (HoldFailed), the message would page the person
		// for it a second time.
		p.cut = true
		if !carried {
			sctx, cancel := d.detached(ctx)
			unsent(sctx)
			cancel()
		}
		if heldLate != nil {
			d.withdraw(ctx, a.User, a.Channel, *heldLate)
		}
		if stormUnknown != nil {
			d.takeBackUnknown(ctx, a.User, a.Channel, *stormUnknown, now, stormRules(cfg))
		}
		d.log.Warn("page not sent: the claim's time ran out while its alert storm was asked; left to the takeover", "incident", inc.ID,
			"user", a.User, "channel", a.Channel, "via", contact.Via)
		return store.Entry{}
	}
	if d.pastSendBy(ctx, sendBy) {
		// The storm's answer came so late (a stalled store: Admit
		// waits out its timeouts) that the claim's lease is nearly or
		// wholly over: another replica may have taken the incident
		// over and sent this page. Nothing goes out. The step is put
		// back, due now, as a page the rate limit sent back is: the
		// claim's write records the pages that did go out and the
		// next claim sends this one, unless the claim was taken over,
		// when the write fails and the takeover has it. A count its
		// storm took for it in this claim is given back first (the
		// next claim asks the storm again).
		if !carried {
			unsent(ctx)
			p.owned = false
			p.step.Admitted, p.step.StormEnd, p.step.StormAfter, p.step.StormRank = false, time.Time{}, false, 0
		}
		if heldLate != nil {
			// Held: listed as gone out on its own, so that the
			// storm's message leaves it out (unsent) and the page
			// goes out once, from the step due again. A message
			// that went out while the answer came (a stall across
			// the window's end) carried it all the same: the claim
			// that fires the step again looks for it first.
			d.withdraw(ctx, a.User, a.Channel, *heldLate)
			p.step.StormHeldLate = true
		}
		p.again = time.Millisecond
		d.m.errors.WithLabelValues(leaseRanOut).Inc()
		d.log.Warn("page not sent: the claim's time to send ran out while its alert storm was asked; its step is due again, for the next claim or the takeover", "incident", inc.ID,
			"user", a.User, "channel", a.Channel, "via", contact.Via, "past_send_by", d.o.Now().Sub(sendBy).Round(time.Millisecond).String())
		return store.Entry{}
	}
	due := a.At
	if !p.step.FirstDue.IsZero() {
		due = p.step.FirstDue // put back at its turn: late from its step, not its turn
	}
	// A page of an incident nobody has been told of yet (store.Incident.
	// NotPaged), or due when it was opened (store.PagesAtOnce: the
	// incident's first pages, one of which may have gone out already),
	// is a first page: a rate limit lets it go ahead of later steps
	// waiting there.
	msg := notify.Message{At: now, Incident: inc.ID, Service: inc.Service, Priority: inc.State.Priority, Urgency: urgency,
		Level: a.Level + 1, LevelName: a.LevelName, User: a.User, UserName: u.DisplayName(), Channel: a.Channel,
		Address: contact.Address, Summary: inc.Summary, Reopened: p.reopened, FirstPage: inc.NotPaged || !due.After(inc.CreatedAt),
		Key: p.key}
	msg.AckURL = acklink.URL(cfg, inc.ID, a.User, p.reopened, now)
	msg.Text = pageText(inc, msg.AckURL)
	sctx, sentRef := notify.WithSentRef(notify.WithStillDue(ctx, func(ctx context.Context) bool {
		return d.askSafely("a page", func() bool { return d.stillDue(ctx, inc.ID, p.root) }, "incident", inc.ID, "user", a.User, "channel", a.Channel)
	}))
	err := d.send(sctx, n, msg)
	if errors.Is(err, notify.ErrNoLongerDue) {
		d.m.pages.WithLabelValues(a.Channel, contact.Via, "called_off").Inc()
		d.log.Info("page called off: its step left the incident while it was retried or waited, or while pagerd stalled before its request went out", "incident", inc.ID,
			"user", a.User, "channel", a.Channel, "via", contact.Via, "err", err)
		if !carried {
			// A step counted before its turn left the incident stored as
			// such: the write that took it out took it back too
			// (incident.Service), or another replica sent it.
			unsent(ctx)
		}
		switch {
		case listed == nil:
		case d.pagedSince(ctx, inc.ID, a.User, a.Channel, now, sendBy):
			// Its step left the incident because another replica took
			// the claim over (this one's lease ran out while the page
			// waited) and paged the person for the incident itself,
			// after this page started: held again, the storm's message
			// named the incident to them a second time.
			d.log.Info("page called off: not held again for its alert storm's message; the person was paged for the incident since (another replica took the claim over)",
				"incident", inc.ID, "user", a.User, "channel", a.Channel)
		default:
			// Listed in its storm as sent, it would make the storm's
			// message leave out its incident's pages held before it
			// (an unresolved rule's, which pages an acknowledged
			// incident too): held again, as a failed page is, the
			// flush's status check decides what of it still pages.
			// One not held again is logged there.
			d.holdFailed(ctx, cfg, a.User, a.Channel, *listed)
		}
		return store.Entry{} // nothing to record
	}
	if err != nil && ctx.Err() != nil {
		// The claim's context ended (its lease and a send timeout are
		// over: the replica was stopped mid-send, say): the failure is
		// the claim's, not the provider's. Not a refused page: nothing
		// is recorded and no step brought forward; the step is left to
		// the replica that takes the incident over.
		p.cut = true
		d.log.Warn("page not known to be sent: the claim's time ran out while it was sent; left to the takeover", "incident", inc.ID,
			"user", a.User, "channel", a.Channel, "via", contact.Via, "err", err)
		return store.Entry{}
	}
	again, over := notify.OverRateLimitDelay(err)
	byProvider := over && notify.SentBackByProvider(err)
	if byProvider && !p.step.SentBackAt.IsZero() && now.Sub(p.step.SentBackAt) >= notify.MaxRetryAfter {
		// The provider has sent it back (its 429) for longer than a page
		// is held on its word: nothing would record it, nor bring the
		// person's next step forward, however long the provider stays
		// over its limit. It fails, as a 429 without Retry-After does.
		// Counted from the provider's first 429, not from the step's
		// time: a page already late (pagerd's own rate limit in a storm,
		// a backlog, a takeover) failed at its first 429, never tried
		// again, though the chain used to retry it.
		over = false
		err = fmt.Errorf("given up %s after its time, sent back by the provider at each try: %w", now.Sub(due).Round(time.Second), err)
	}
	if over {
		d.m.pages.WithLabelValues(a.Channel, contact.Via, "rate_limited").Inc()
		d.log.Info("page sent back by the rate limit; due again at its turn", "incident", inc.ID,
			"user", a.User, "channel", a.Channel, "via", contact.Via, "in", again.String())
		if listed != nil && !d.pagedSince(ctx, inc.ID, a.User, a.Channel, now, sendBy) {
			// In a storm: held for its message instead, like a page
			// that failed, unless it cannot be, or another replica took
			// the claim over while it was tried and paged the person
			// for the incident (held, the message paged them twice;
			// this claim's write putting the step back fails).
			if detail, ok := d.holdFailed(ctx, cfg, a.User, a.Channel, *listed); ok {
				unsent(ctx) // it goes in the message, not on its own
				e.Type, e.Detail = "notify_held", fmt.Sprintf("not sent at once: %v%s", err, detail)
				return e
			}
		}
		p.again = max(again, time.Millisecond)
		if byProvider && p.step.SentBackAt.IsZero() {
			p.step.SentBackAt = now
		}
		// Let out at once by its storm: at its turn it goes, not held
		// for a storm message behind it at the rate limit, and it still
		// counts as sent in its window (p.step.StormEnd), as a page
		// that went out, unless it then fails or is called off. One the
		// storm did not see (bundling off, the store not answering)
		// asks it again then.
		p.step.Admitted = admitted
		return store.Entry{}
	}
	if err != nil {
		err = pagerDutyMayHaveTaken(contact.Via, err)
		e.Type, e.Detail = "notify_failed", fmt.Sprintf("via %s: %v", contact.Via, err)
		d.m.pages.WithLabelValues(a.Channel, contact.Via, "failed").Inc()
		d.log.Warn("page "+notify.Failed(err), "incident", inc.ID, "user", a.User, "channel", a.Channel, "via", contact.Via, "err", err)
		if carried {
			// Counted as stored: taken back by the write that takes its
			// step out (an acknowledgement meanwhile takes it back).
			p.unsentAtWrite = true
		} else {
			unsent(ctx)
		}
		switch {
		case listed == nil:
		case d.pagedSince(ctx, inc.ID, a.User, a.Channel, now, sendBy):
			// Another replica took the claim over while this send hung
			// (this one's lease ran out) and paged the person for the
			// incident: held again, the storm's message paged them twice.
			e.Detail += "; not held again for the alert storm's message: the person was paged for the incident since (another replica took the claim over)"
		default:
			detail, _ := d.holdFailed(ctx, cfg, a.User, a.Channel, *listed)
			e.Detail += detail
		}
		if contact.Via == "pagerduty" && msg.Reopened > 0 && errors.Is(err, notify.ErrMaybeSent) {
			// Last: pagedKey reads the key up to the next space, and a
			// hold's note after it ("; alert storm: …") spoilt it.
			e.Detail += dedupKeyMark + pagerduty.DedupKey(inc.ID, a.User, msg.Reopened)
		}
		return e
	}
	e.Detail = "via " + contact.Via
	// What the provider created (Twilio's SMS or call SID): the page's
	// delivery report finds it by it, and an acknowledgement cancels a
	// call with it while it still rings.
	e.Ref = sentRef()
	if contact.Via == "pagerduty" && msg.Reopened > 0 {
		// Forwarding the acknowledgement or resolve reads the key back
		// (pagedKey): PagerDuty has an alert open under each key pushed.
		e.Detail += dedupKeyMark + pagerduty.DedupKey(inc.ID, a.User, msg.Reopened) + " (reopened since the last page there: a new PagerDuty alert)"
	}
	d.m.pages.WithLabelValues(a.Channel, contact.Via, "sent").Inc()
	d.m.lateness.Observe(d.o.Now().Sub(due).Seconds())
	return e
}

// leaseRanOut is the reason pagerd_dispatch_errors_total counts a claim
// left to run out (leaveToRunOut) under.
const leaseRanOut = "lease_ran_out"

// sendWindow is how long after a claim was asked for its pages may still
// start: Lease less SendTimeout, so that a page, retries included, is
// done before the lease ends and another replica may take the incident
// over; but at least three quarters of the lease. The late-claim guard
// (Run) works claims that came back within half their lease, and with
// the defaults (30s and 20s) Lease less SendTimeout is a third of it: a
// store slow enough to answer claims in 12 s would then have every claim
// worked and then left, and page nobody. A quarter of the lease after the
// latest a claim is worked is more than any work before the pages takes,
// and a replica held up that long past it was most likely stopped, about
// to lose its claim, or already has.
func (d *Dispatcher) sendWindow() time.Duration {
	return max(d.o.Lease-d.o.SendTimeout, d.o.Lease*3/4)
}

// pastSendBy says whether a claim's pages may no longer start: sendBy
// has passed (on the dispatcher's clock: in the daemon, Redis's clock
// carried on the host's monotonic clock between readings, or the host's
// clock on the embedded store, so a VM pause counts only if the
// hypervisor lets the guest's monotonic clock see it), or the claim's
// context ended. Past sendBy, a claim whose lease a keep finds still its
// own gets a send window anew from that keep (keeper.sendAgain): nobody
// else can have paged its steps, and its pages go out now rather than a
// lease later from the takeover.
func (d *Dispatcher) pastSendBy(ctx context.Context, sendBy time.Time) bool {
	if ctx.Err() != nil {
		return true
	}
	if !d.o.Now().After(sendBy) {
		return false
	}
	k, _ := ctx.Value(keeperKey{}).(*keeper)
	return k == nil || !k.sendAgain(ctx)
}

// windowEnd is when the claim's pages may no longer start: sendBy, or
// the end of the send window a keep of sendAgain opened since, if later.
func windowEnd(ctx context.Context, sendBy time.Time) time.Time {
	if k, _ := ctx.Value(keeperKey{}).(*keeper); k != nil {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.sendBy.After(sendBy) {
			return k.sendBy
		}
	}
	return sendBy
}

// leaveToRunOut gives up working a claim (an incident's, a storm's or a
// job's), without sending, recording or
// releasing it: its lease is over, or so nearly that another replica may
// have taken the incident over and paged (pastSendBy). The lease runs
// out, and whoever claims the incident next, this replica or another,
// works the steps still pending; a page this claim sent and did not
// record (an earlier try's) is in the journal. Counted in
// pagerd_dispatch_errors_total (leaseRanOut).
func (d *Dispatcher) leaveToRunOut(ctx context.Context, c store.Claim, sendBy time.Time) error {
	cutBack(ctx)
	d.m.errors.WithLabelValues(leaseRanOut).Inc()
	_, attrs := claimed(c)
	d.log.Warn("dispatcher: the claim's lease was nearly over before its pages went out (the replica stopped or held up after claiming); left to run out and be taken over: no page sent from now on, nothing recorded",
		append(attrs, "past_send_by", d.o.Now().Sub(sendBy).Round(time.Millisecond).String(),
			"lease", d.o.Lease.String(), "claim_ended", ctx.Err() != nil)...)
	return nil
}

// claimed says what a claim is (an incident, a storm or a job) and names
// it, for the log.
func claimed(c store.Claim) (what string, attrs []any) {
	switch {
	case c.Storm != "":
		return "a storm", []any{"storm", c.Storm}
	case c.Job != nil:
		return "a job", []any{"job", c.Job.Kind + "/" + c.Job.Key}
	}
	return "an incident", []any{"incident", c.Incident}
}

// stillDueTimeout bounds stillDue's store read: a store slow to answer
// delays the page that much at most, then it goes.
const stillDueTimeout = time.Second

// stillDue is what a page's retries and waits ask (notify.WithStillDue):
// would root, the stored step that led to the page, still page as the
// incident is stored? Not once it left the incident: an acknowledgement
// takes out every person's steps and the level's timeout, a resolve
// everything, and another replica that worked the step took it out too.
// Nor, as the escalation machine has it, once the incident is no longer
// triggered, unless root is an unresolved rule or a missing status update,
// which page an acknowledged incident (they reopen it): a maintenance
// window's end pages an incident it held only while triggered, and an
// acknowledgement leaves that deadline. A read that fails answers yes: a
// page after an acknowledgement is better than none. A read that fails
// other than by running out of time (a connection a Redis restart
// closed, found dead by its command: EOF) is made once more, on another
// connection: the process stopped with the question on its way, and
// Redis restarted meanwhile, the page went out 3.4 s after its incident
// was resolved (the fault soak, seed 859163299), though Redis answered
// again by then.
func (d *Dispatcher) stillDue(ctx context.Context, incident, root string) bool {
	inc, err := readTwice(ctx, func(ctx context.Context) (*store.Incident, error) { return d.o.Store.Get(ctx, incident) })
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false
	case err != nil:
		d.log.Warn("dispatcher: could not tell whether a page retried is still due; it goes out", "incident", incident, "err", err)
		return true
	}
	if !slices.ContainsFunc(inc.State.Pending, func(dl policy.Deadline) bool { return dl.ID == root }) {
		return false
	}
	return rootPagesAcknowledged(inc.State, root) || inc.State.Status == policy.StatusTriggered
}

// readTwice makes a still-due question's read, within stillDueTimeout,
// and makes it once more when it failed other than by running out of
// time (or not finding the incident): a connection a Redis restart
// closed fails its first command at once (EOF), and the next goes on
// another. One that ran out of time would most likely run out again,
// and the page wait as long once more. So would one whose connection
// could not be made (Redis refusing connections): go-redis dialed five
// times, 100 ms apart, before it failed (DialerRetries), and a second
// read dialed five more, the page waiting 0.8 s for what the first said.
//
// But a read that ran out of time while this process did not run
// (stopped, its VM paused: its stall watch, notify.TimeNotRunning, moved
// by a second or more) is made once more too: the time went to the
// stall, not to the store, and an acknowledgement that came during the
// stall is in the store's answer now. In the fault soak (seed 556741321)
// a replica stopped 2.4 s with such a read on its way, its deadline ran
// out during the stop, and the page went out at once, 2.4 s after its
// incident was acknowledged (Redis was stalled itself when the replica
// ran again, so there the second read fails too, and the page goes a
// second later, as it must when the store cannot answer).
func readTwice[T any](ctx context.Context, read func(context.Context) (T, error)) (T, error) {
	try := func() (T, error) {
		ctx, cancel := context.WithTimeout(ctx, stillDueTimeout)
		defer cancel()
		return read(ctx)
	}
	lost := timeNotRunning()
	v, err := try()
	var ne net.Error
	var op *net.OpError
	timedOut := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	if timedOut && ctx.Err() == nil && timeNotRunning() > lost {
		return try()
	}
	if err == nil || errors.Is(err, store.ErrNotFound) || timedOut ||
		(errors.As(err, &op) && op.Op == "dial") || ctx.Err() != nil {
		return v, err
	}
	return try()
}

// askSafely asks whether what (a page, a storm message) is still due,
// with a panic (a bug) taken as a question that cannot tell: it goes
// out, and the bug is logged with its stack and counted. After a stall
// the question is asked where the transport reads the request's body
// (notify.NewTransport), on net/http's own goroutine, outside every
// recover of the dispatcher's: a panic there took the whole process
// down, and every replica that came to the claim after a stall in turn.
func (d *Dispatcher) askSafely(what string, ask func() bool, attrs ...any) (due bool) {
	defer func() {
		if p := recover(); p != nil {
			d.m.errors.WithLabelValues(claimFailed).Inc()
			d.log.Error("dispatcher: panic asking whether "+what+" is still due (a bug); it goes out",
				append(attrs, "panic", p, "stack", string(debug.Stack()))...)
			due = true
		}
	}()
	return ask()
}

// rootPagesAcknowledged says whether root, a pending deadline of st, is
// an unresolved rule or a missing status update, which page an
// acknowledged incident (they reopen it): an acknowledgement while their
// page is on its way (stillDue) or held for a storm message does not stop
// it.
func rootPagesAcknowledged(st policy.Incident, root string) bool {
	i := slices.IndexFunc(st.Pending, func(dl policy.Deadline) bool { return dl.ID == root })
	return i >= 0 && (st.Pending[i].Kind == policy.DeadlineUnresolved || st.Pending[i].Kind == policy.DeadlineStatusUpdate)
}

// dueAgain puts a notify step that was fired, and sent back by the rate
// limit, back into the incident's pending steps at at, its turn: the same
// step (id and order), so that nothing else about the incident changes.
func dueAgain(st policy.Incident, step policy.Deadline, at time.Time) policy.Incident {
	if step.FirstDue.IsZero() {
		step.FirstDue = step.At
	}
	step.At = turnAt(at)
	st.Pending = append(slices.Clone(st.Pending), step)
	slices.SortStableFunc(st.Pending, func(a, b policy.Deadline) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Seq, b.Seq))
	})
	return st
}

// turnAt is at rounded up to the store's millisecond: a page sent back by
// the rate limit is due again not before its turn.
func turnAt(at time.Time) time.Time { return at.Add(time.Millisecond - 1).Truncate(time.Millisecond) }

// send hands one message to its transport, bounded by SendTimeout.
//
// A transport that panics (a bug, a provider's answer it cannot parse)
// fails the page as one that may have been sent (it may have panicked
// after the request went out), logged with its stack: the page is
// recorded notify_failed and the person's next step comes forward, as
// for any failed page. Left to workClaim's recover, the step failed at
// every lease, and the incident's ladder went no further.
func (d *Dispatcher) send(ctx context.Context, n notify.Notifier, msg notify.Message) (err error) {
	sctx, cancel := context.WithTimeout(ctx, d.o.SendTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			d.m.errors.WithLabelValues(claimFailed).Inc()
			d.log.Error("dispatcher: a transport panicked sending a page (a bug); the page counts as failed",
				"incident", msg.Incident, "user", msg.User, "channel", msg.Channel, "panic", p, "stack", string(debug.Stack()))
			err = notify.MaybeSent(fmt.Errorf("the transport panicked (a bug): %v", p))
		}
	}()
	return n.Notify(sctx, msg)
}

// pageText is what a person reads or hears, with their ack link if any.
func pageText(inc *store.Incident, ackURL string) string {
	t := fmt.Sprintf("[%s] %s: %s (incident %s)", inc.State.Priority, inc.Service, inc.Summary, inc.ID)
	if ackURL != "" {
		t += " Ack: " + ackURL
	}
	return t
}

// runJob does a claimed job with its kind's handler and stores what comes
// next. A job of a kind nobody handles any more (a feature removed from the
// config) is dropped, and said so: left due, it would come back at every
// look.
func (d *Dispatcher) runJob(ctx context.Context, c store.Claim, sendBy time.Time) error {
	if c.Job.Version == 0 {
		return d.o.Store.FinishJob(ctx, c, nil) // deleted since it came due
	}
	h := d.o.Jobs[c.Job.Kind]
	if h == nil {
		d.log.Error("dispatcher: a job of a kind nothing handles is dropped", "job", c.Job.Kind+"/"+c.Job.Key)
		return d.o.Store.FinishJob(ctx, c, nil)
	}
	if d.pastSendBy(ctx, sendBy) {
		// A job sends (a shift notice by direct message, a handoff):
		// past sendBy the replica that takes it over may have sent it.
		return d.leaveToRunOut(ctx, c, sendBy)
	}
	// Told the window a keep of sendAgain opened, if pastSendBy's did:
	// the claim's first one is over then, and every notice would wait
	// for the job's next run.
	next, err := h(context.WithValue(ctx, sendByKey{}, windowEnd(ctx, sendBy)), c.Job)
	if err != nil {
		return err
	}
	return d.retryStore(ctx, time.Now().Add(d.recordRetryShort()), func() error { return d.o.Store.FinishJob(ctx, c, next) })
}

type sendByKey struct{}

// SendBy is, in a job handler's context, when the claim's sends may no
// longer start (sendWindow): a handler that sends several messages (a
// handoff's shift notices) checks it before each, since past it the lease
// may run out mid-send, and the replica that takes the job over sends
// again what this run sent but could not record. ok is false outside a
// job's run.
func SendBy(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(sendByKey{}).(time.Time)
	return t, ok
}
