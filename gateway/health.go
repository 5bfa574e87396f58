package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// Health is what /-/ready and pagerd_ready answer: whether the store
// answers and takes writes. A store can answer reads while refusing every
// write (a full disk, Redis over maxmemory with noeviction, a READONLY
// replica, MISCONF after a failed save); a readiness probe that only
// pings would stay green while every alert gets a 503. So Health also
// writes: a small probe write every two seconds, and it watches the
// outcome of the writes of alerts and acknowledgements (Instrument reports
// them). Readiness is red while the probe fails, and while the last such
// write failed (within writeFailHold) with none succeeding since: a disk
// that takes the probe's few bytes but not an incident still shows.
type Health struct {
	st    store.Store
	every time.Duration

	mu       sync.Mutex
	probeErr error
	probed   time.Time
	failed   time.Time
	failErr  error
	wrote    time.Time
}

// writeFailHold is how long a failed alert or acknowledgement write keeps
// readiness red when none succeeds after it. It ends so that a replica
// taken out of service for it (no traffic, so no write to succeed) comes
// back once the probe passes; the next failing write turns it red again
// at once.
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
	if ctx.Err() != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.probeErr, h.probed = err, time.Now()
}

// wrote records the outcome of a real write: success (one that changed
// something), or a failure to reach the store.
func (h *Health) write(err error) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.wrote = time.Now()
	case errors.Is(err, store.ErrUnavailable):
		h.failed, h.failErr = time.Now(), err
	}
}

// Check returns nil when the store answers and takes writes, or what is
// wrong, for /-/ready.
func (h *Health) Check(ctx context.Context) error {
	if err := h.st.Ping(ctx); err != nil {
		return fmt.Errorf("the store does not answer: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.probeErr != nil {
		return fmt.Errorf("the store refuses writes: %w", h.probeErr)
	}
	if h.failed.After(h.wrote) && time.Since(h.failed) < writeFailHold {
		return fmt.Errorf("writes to the store are failing (last %s ago): %w", time.Since(h.failed).Round(time.Millisecond), h.failErr)
	}
	return nil
}
