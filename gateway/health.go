package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// Health is what /-/ready and pagerd_ready answer: whether the store
// answers and takes writes. A store can answer reads while refusing every
// write (a full disk, Redis over maxmemory with noeviction, a READONLY
// replica, MISCONF after a failed save); a readiness probe that only
// pings would stay green while every alert gets a 503. So Health also
// writes: a small probe write every two seconds, and it watches the
// outcome of the writes of alerts and of acknowledgements and other
// updates (Instrument reports them), each kind apart. Readiness is red
// while the probe fails, and while the last write of either kind failed
// (within writeFailHold) with none of that kind succeeding since: a disk
// that takes the probe's few bytes but not an incident still shows, and
// an acknowledgement that fits where a new incident does not cannot turn
// it green while alerts are still refused.
//
// Two faults take writes and lose them: a store that lost its data since
// the last probe (store.ErrDataLost: Redis restarted empty) keeps
// readiness red for dataLostHold, and a guard (a Redis whose
// maxmemory-policy evicts any key) keeps it red while it objects.
type Health struct {
	st    store.Store
	every time.Duration

	// back, when set, is told when a probe passes after one failed, and
	// when the store lost its data.
	back func()
	// down, when set, is told of each probe the store did not answer.
	down func()
	// lost, when set, is told when a probe finds the store lost its data.
	lost func(err error)
	// guard, when set, is asked after each probe that reached the store
	// whether the store keeps what it takes; its error keeps readiness
	// red.
	guard func(ctx context.Context) error

	// stopping is set once pagerd is shutting down (Stopping): readiness
	// is red from then on, so that load balancers stop sending to it
	// while it still answers.
	stopping atomic.Bool

	mu       sync.Mutex
	probeErr error
	probed   time.Time
	guardErr error
	lostAt   time.Time
	lostErr  error
	writes   [writeKinds]writeOutcomes
}

// dataLostHold is how long readiness stays red after a probe found the
// store's data lost: long enough for a scrape every 30 s to see
// pagerd_ready at 0; pagerd_store_data_lost_total keeps the count.
const dataLostHold = time.Minute

// The kinds of write readiness watches apart.
const (
	writeAlert  = iota // an alert taken in: a new incident or a repeat
	writeUpdate        // an acknowledgement, resolve or other update
	writeKinds
)

// writeOutcomes is when writes of one kind last failed and last succeeded.
type writeOutcomes struct {
	failed, wrote time.Time
	failErr       error
}

// failing says whether the last write failed, within writeFailHold, with
// none succeeding since.
func (w *writeOutcomes) failing() bool {
	return w.failed.After(w.wrote) && time.Since(w.failed) < writeFailHold
}

// writeFailHold is how long a failed alert or acknowledgement write keeps
// readiness red when none of its kind succeeds after it. It ends so that
// a replica taken out of service for it (no traffic, so no write to
// succeed) comes back once the probe passes; the next failing write turns
// it red again at once.
const writeFailHold = 10 * time.Second

// NewHealth watches st; probes run every every (default 2s) once Run is
// called.
func NewHealth(st store.Store, every time.Duration) *Health {
	if every <= 0 {
		every = 2 * time.Second
	}
	return &Health{st: st, every: every}
}

// Run probes the store until ctx ends.
func (h *Health) Run(ctx context.Context) {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		h.probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *Health) probe(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, max(h.every, time.Second))
	defer cancel()
	err := h.st.Probe(pctx)
	lost := errors.Is(err, store.ErrDataLost)
	if lost {
		lostErr := err
		defer func() {
			if h.lost != nil {
				h.lost(lostErr)
			}
		}()
		if !errors.Is(err, store.ErrUnavailable) {
			err = nil // the store answered and took the probe
		}
	}
	var guardErr error
	if err == nil && h.guard != nil {
		guardErr = h.guard(pctx)
	}
	if ctx.Err() != nil {
		return
	}
	h.mu.Lock()
	wasDown := h.probeErr != nil
	h.probeErr, h.probed, h.guardErr = err, time.Now(), guardErr
	if lost {
		h.lostAt, h.lostErr = h.probed, fmt.Errorf("%w: open incidents and their pending pages are gone", store.ErrDataLost)
	}
	h.mu.Unlock()
	if err != nil && h.down != nil {
		h.down()
	}
	if (wasDown && err == nil || lost) && h.back != nil {
		h.back()
	}
}

// OnDown sets what is told each time a probe finds the store not
// answering (before Run). It must not block.
func (h *Health) OnDown(f func()) { h.down = f }

// OnBack sets what is told when the store answers a probe again after it
// failed one, or lost its data (before Run): the jobs it held may be gone.
// It must not block.
func (h *Health) OnBack(f func()) { h.back = f }

// OnDataLost sets what is told, with the probe's error, when a probe finds
// the store lost its data (before Run). It must not block.
func (h *Health) OnDataLost(f func(err error)) { h.lost = f }

// Guard sets what is asked after each probe whether the store keeps what
// it takes (before Run): its error keeps readiness red until it passes.
func (h *Health) Guard(f func(ctx context.Context) error) { h.guard = f }

// write records the outcome of a real write of a kind: success (one that
// changed something), or a failure to reach the store. A write given up
// because its caller went away (context.Canceled: a sender that hung up)
// says nothing about the store and is not counted; one that ran out of
// time is, as a store too slow to answer in time is not one to send
// alerts to.
func (h *Health) write(kind int, err error) {
	if h == nil || errors.Is(err, context.Canceled) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	w := &h.writes[kind]
	switch {
	case err == nil:
		w.wrote = time.Now()
	case errors.Is(err, store.ErrUnavailable):
		w.failed, w.failErr = time.Now(), err
	}
}

// Stopping turns readiness red for good: pagerd is shutting down and
// wants no new traffic, though it still answers what reaches it.
func (h *Health) Stopping() { h.stopping.Store(true) }

// errStopping is what readiness says once pagerd is shutting down.
var errStopping = errors.New("pagerd is shutting down")

// Check returns nil when pagerd is ready (the store answers and takes
// writes, is not found evicting or to have lost the data, and pagerd is
// not stopping), or what is wrong, for /-/ready and pagerd_ready.
func (h *Health) Check(ctx context.Context) error {
	if h.stopping.Load() {
		return errStopping
	}
	if err := h.st.Ping(ctx); err != nil {
		return fmt.Errorf("the store does not answer: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.probeErr != nil {
		return fmt.Errorf("the store refuses writes: %w", h.probeErr)
	}
	if h.guardErr != nil {
		return h.guardErr
	}
	if !h.lostAt.IsZero() && time.Since(h.lostAt) < dataLostHold {
		return fmt.Errorf("%w (found %s ago)", h.lostErr, time.Since(h.lostAt).Round(time.Millisecond))
	}
	for kind, what := range [writeKinds]string{writeAlert: "alerts", writeUpdate: "acknowledgements and updates"} {
		if w := &h.writes[kind]; w.failing() {
			return fmt.Errorf("writes of %s to the store are failing (last %s ago): %w", what, time.Since(w.failed).Round(time.Millisecond), w.failErr)
		}
	}
	return nil
}
