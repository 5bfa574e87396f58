package history

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// RetentionKind is the kind of the store job that expires resolved
// incidents older than server.retention. There is one such job (key
// RetentionKey), so across any number of replicas it runs once a day, on
// whichever replica claims it (store.Jobs).
const (
	RetentionKind = "retention"
	RetentionKey  = "incidents"
)

// RetentionStore is what retention needs of a store: Expire, and its jobs.
type RetentionStore interface {
	store.History
	store.Jobs
}

// Retention expires resolved incidents once server.retention has passed
// since their resolution (policy.ServerConfig.ExpiresAt), with their
// timelines and index entries, as a daily store job. It removes them in
// batches (one store write of Batch incidents each, so alerts and pages are
// never held up behind it) for at most Budget per run; what is left is
// done by the next run, due at once. Make one with NewRetention.
type Retention struct {
	Store  RetentionStore
	Config func() *policy.Config
	// Now is the clock the cut-off is taken from (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// Every is how often it runs (default a day); Batch how many incidents
	// one store write removes (default 200); Budget how long one run goes
	// on (default 10s, well inside a job's lease).
	Every  time.Duration
	Batch  int
	Budget time.Duration
	// Expired counts the incidents removed (pagerd_incidents_expired_total),
	// when set.
	Expired prometheus.Counter
}

// NewExpiredCounter is pagerd_incidents_expired_total, registered.
func NewExpiredCounter(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "pagerd_incidents_expired_total",
		Help: "Resolved incidents removed from the store, with their timelines, because server.retention had passed since their resolution."})
	reg.MustRegister(c)
	return c
}

// NewRetention is r with its defaults set, ready to run. They are set
// here, where the job is built, not at its first Run or Ensure: the
// dispatcher runs a job due at start while the replica ensures it, and
// the two must only read r.
func NewRetention(r Retention) *Retention {
	r.defaults()
	return &r
}

func (r *Retention) defaults() {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.Every <= 0 {
		r.Every = 24 * time.Hour
	}
	if r.Batch <= 0 {
		r.Batch = 200
	}
	if r.Budget <= 0 {
		r.Budget = 10 * time.Second
	}
}

// Cutoff is the resolution time before which incidents are expired at now:
// those whose ExpiresAt has come.
func Cutoff(cfg *policy.Config, now time.Time) time.Time {
	return now.Add(-cfg.Server.ExpiresAt(now).Sub(now))
}

// Run is the job's handler (a dispatch.JobHandler): it expires what is due
// and says when it runs next. An error leaves the job to come back when
// its lease ends; what was removed stays removed.
func (r *Retention) Run(ctx context.Context, j *store.Job) (*store.Job, error) {
	now := r.Now()
	cut := Cutoff(r.Config(), now)
	started := time.Now() // the budget is wall-clock time, whatever the clock
	total := 0
	defer func() {
		if total > 0 {
			r.Logger.Info("retention: expired resolved incidents", "incidents", total, "resolved_before", cut.UTC().Format(time.RFC3339))
		}
	}()
	for {
		n, more, err := r.Store.Expire(ctx, cut, r.Batch)
		total += n
		if r.Expired != nil {
			r.Expired.Add(float64(n))
		}
		if err != nil {
			return nil, err
		}
		if !more {
			return &store.Job{Due: now.Add(r.Every)}, nil
		}
		if time.Since(started) >= r.Budget || ctx.Err() != nil {
			return &store.Job{Due: now}, nil // the rest at once, in a claim of its own
		}
	}
}

// Ensure schedules the job unless it is: every replica calls it when it
// starts, and there stays one job. Its first run is a minute away. A job
// stored since the read (another replica's Ensure, its run finished) is
// kept, not moved back to a minute away.
func (r *Retention) Ensure(ctx context.Context) error {
	_, err := r.Store.GetJob(ctx, RetentionKind, RetentionKey)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	_, err = r.Store.AddJob(ctx, store.Job{Kind: RetentionKind, Key: RetentionKey, Due: r.Now().Add(time.Minute)})
	return err
}
