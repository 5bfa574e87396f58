package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Instrument wraps a store so every operation, the server's and the
// dispatcher's alike, is timed (pagerd_store_operation_duration_seconds)
// and every failure to reach it counted (pagerd_store_errors_total), but
// for those given up because their caller hung up. A store that can nudge
// or broadcast to other replicas still can.
func Instrument(s store.Store, reg prometheus.Registerer, h *Health) store.Store {
	i := &instrumented{Store: s, health: h,
		ops: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pagerd_store_operation_duration_seconds", Help: "Store operation latency by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"op"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pagerd_store_errors_total", Help: "Store operations that failed to reach the store, by operation.",
		}, []string{"op"}),
	}
	reg.MustRegister(i.ops, i.errs)
	for _, op := range storeOps {
		i.errs.WithLabelValues(op)
	}
	n, nudges := s.(store.Nudger)
	b, broadcasts := s.(store.Broadcaster)
	switch {
	case nudges && broadcasts:
		return &instrumentedPubSub{instrumented: i, Nudger: n, Broadcaster: b}
	case nudges:
		return &instrumentedNudger{instrumented: i, Nudger: n}
	case broadcasts:
		return &instrumentedBroadcaster{instrumented: i, Broadcaster: b}
	}
	return i
}

// storeOps are the op labels of the store metrics, one per operation
// below, created at zero.
var storeOps = []string{"trigger", "find", "get", "update", "list", "claim", "finish", "complete", "release", "extend", "note", "statuses",
	"storm_admit", "storm_hold_failed", "storm_withdraw", "storm_held", "storm_flushed", "storm_unsent", "storm_sent_back", "bundle_put", "bundle_get", "expire",
	"job_put", "job_put_later", "job_add", "job_replace", "job_get", "job_delete", "job_finish", "docs_list", "docs_put", "count_open"}

type instrumented struct {
	store.Store
	health *Health
	ops    *prometheus.HistogramVec
	errs   *prometheus.CounterVec
}

type instrumentedNudger struct {
	*instrumented
	store.Nudger
}

type instrumentedBroadcaster struct {
	*instrumented
	store.Broadcaster
}

type instrumentedPubSub struct {
	*instrumented
	store.Nudger
	store.Broadcaster
}

func (i *instrumented) observe(op string, start time.Time, err error) {
	i.ops.WithLabelValues(op).Observe(time.Since(start).Seconds())
	// An operation given up because its caller went away (context.Canceled:
	// a sender that hung up) says nothing about the store, as readiness
	// holds too (Health.write): counted, disconnecting clients alone would
	// fire PagerdStoreErrors. One that ran out of time is a store too slow
	// to answer, and counts.
	if errors.Is(err, store.ErrUnavailable) && !errors.Is(err, context.Canceled) {
		i.errs.WithLabelValues(op).Inc()
	}
	// What readiness promises is that this replica can take alerts and
	// acknowledgements: their writes tell it whether the store takes them
	// (the dispatcher's small writes can pass on a nearly full disk while
	// an incident does not fit).
	switch op {
	case "trigger":
		i.health.write(writeAlert, err)
	case "update":
		i.health.write(writeUpdate, err)
	}
}

func (i *instrumented) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	start := time.Now()
	id, out, err := i.Store.Trigger(ctx, inc, tl)
	i.observe("trigger", start, err)
	return id, out, err
}

// TriggerRead is timed as a trigger, in one call where the store can
// (store.RepeatReader).
func (i *instrumented) TriggerRead(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, *store.Incident, error) {
	start := time.Now()
	id, out, cur, err := store.TriggerRead(ctx, i.Store, inc, tl)
	i.observe("trigger", start, err)
	return id, out, cur, err
}

func (i *instrumented) FindByDedup(ctx context.Context, service, key string) (*store.Incident, error) {
	start := time.Now()
	inc, err := i.Store.FindByDedup(ctx, service, key)
	i.observe("find", start, err)
	return inc, err
}

func (i *instrumented) Get(ctx context.Context, id string) (*store.Incident, error) {
	start := time.Now()
	inc, err := i.Store.Get(ctx, id)
	i.observe("get", start, err)
	return inc, err
}

func (i *instrumented) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	start := time.Now()
	err := i.Store.Update(ctx, inc, tl)
	i.observe("update", start, err)
	return err
}

func (i *instrumented) List(ctx context.Context, f store.Filter) ([]*store.Incident, error) {
	start := time.Now()
	incs, err := i.Store.List(ctx, f)
	i.observe("list", start, err)
	return incs, err
}

func (i *instrumented) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	start := time.Now()
	cs, err := i.Store.ClaimDue(ctx, now, lease, max)
	i.observe("claim", start, err)
	return cs, err
}

// ClaimDueNext is timed as a claim, in one call where the store can
// (store.DueClaimer), as ClaimDue then NextDue otherwise.
func (i *instrumented) ClaimDueNext(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, time.Time, bool, bool, error) {
	start := time.Now()
	cs, next, ok, more, err := store.ClaimDueNext(ctx, i.Store, now, lease, max)
	i.observe("claim", start, err)
	return cs, next, ok, more, err
}

// ClaimDueNextScoped is ClaimDueNext that may read only some shards
// (store.ScopedClaimer), timed as a claim.
func (i *instrumented) ClaimDueNextScoped(ctx context.Context, now time.Time, lease time.Duration, max int, everywhere bool) ([]store.Claim, time.Time, bool, bool, error) {
	start := time.Now()
	cs, next, ok, more, err := store.ClaimDueNextScoped(ctx, i.Store, now, lease, max, everywhere)
	i.observe("claim", start, err)
	return cs, next, ok, more, err
}

func (i *instrumented) Finish(ctx context.Context, c store.Claim, inc *store.Incident, tl []store.Entry) error {
	start := time.Now()
	err := i.Store.Finish(ctx, c, inc, tl)
	i.observe("finish", start, err)
	return err
}

func (i *instrumented) Complete(ctx context.Context, c store.Claim) error {
	start := time.Now()
	err := i.Store.Complete(ctx, c)
	i.observe("complete", start, err)
	return err
}

func (i *instrumented) Release(ctx context.Context, c store.Claim, notBefore time.Time) error {
	start := time.Now()
	err := i.Store.Release(ctx, c, notBefore)
	i.observe("release", start, err)
	return err
}

func (i *instrumented) Extend(ctx context.Context, c store.Claim, until time.Time) (bool, error) {
	start := time.Now()
	held, err := i.Store.Extend(ctx, c, until)
	i.observe("extend", start, err)
	return held, err
}

func (i *instrumented) Admit(ctx context.Context, storm string, p store.HeldPage, now time.Time, r store.StormRules) (store.Admission, error) {
	start := time.Now()
	a, err := i.Store.Admit(ctx, storm, p, now, r)
	i.observe("storm_admit", start, err)
	return a, err
}

func (i *instrumented) HoldFailed(ctx context.Context, storm string, p store.HeldPage, now time.Time, r store.StormRules) (store.Admission, error) {
	start := time.Now()
	a, err := i.Store.HoldFailed(ctx, storm, p, now, r)
	i.observe("storm_hold_failed", start, err)
	return a, err
}

func (i *instrumented) Withdraw(ctx context.Context, storm string, p store.HeldPage) error {
	start := time.Now()
	err := i.Store.Withdraw(ctx, storm, p)
	i.observe("storm_withdraw", start, err)
	return err
}

func (i *instrumented) Unsent(ctx context.Context, storm string, rank int, end time.Time, after bool) error {
	start := time.Now()
	err := i.Store.Unsent(ctx, storm, rank, end, after)
	i.observe("storm_unsent", start, err)
	return err
}

func (i *instrumented) Held(ctx context.Context, storm string) ([]store.HeldPage, error) {
	start := time.Now()
	ps, err := i.Store.Held(ctx, storm)
	i.observe("storm_held", start, err)
	return ps, err
}

func (i *instrumented) Flushed(ctx context.Context, c store.Claim, n, top int, now time.Time, r store.StormRules) (bool, error) {
	start := time.Now()
	ok, err := i.Store.Flushed(ctx, c, n, top, now, r)
	i.observe("storm_flushed", start, err)
	return ok, err
}

func (i *instrumented) SentBack(ctx context.Context, storm string, now time.Time) (time.Time, error) {
	start := time.Now()
	first, err := i.Store.SentBack(ctx, storm, now)
	i.observe("storm_sent_back", start, err)
	return first, err
}

func (i *instrumented) PutBundle(ctx context.Context, b *store.Bundle, ttl time.Duration) error {
	start := time.Now()
	err := i.Store.PutBundle(ctx, b, ttl)
	i.observe("bundle_put", start, err)
	return err
}

func (i *instrumented) GetBundle(ctx context.Context, id string) (*store.Bundle, error) {
	start := time.Now()
	b, err := i.Store.GetBundle(ctx, id)
	i.observe("bundle_get", start, err)
	return b, err
}

func (i *instrumented) Statuses(ctx context.Context, ids []string) (map[string]policy.Status, error) {
	start := time.Now()
	st, err := i.Store.Statuses(ctx, ids)
	i.observe("statuses", start, err)
	return st, err
}

func (i *instrumented) Note(ctx context.Context, entries map[string][]store.Entry) error {
	start := time.Now()
	err := i.Store.Note(ctx, entries)
	i.observe("note", start, err)
	return err
}

func (i *instrumented) CountOpen(ctx context.Context, limit int) (store.OpenCounts, error) {
	start := time.Now()
	n, err := i.Store.CountOpen(ctx, limit)
	i.observe("count_open", start, err)
	return n, err
}

// Expire is timed: one batch of the retention job, a write like any other.
// History is not: its time is mostly its reader's.
func (i *instrumented) Expire(ctx context.Context, before time.Time, max int) (int, bool, error) {
	start := time.Now()
	n, more, err := i.Store.Expire(ctx, before, max)
	i.observe("expire", start, err)
	return n, more, err
}
