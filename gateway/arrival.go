package gateway

import (
	"context"
	"sync"
	"time"
)

// arrivals stamps alerts as they arrive (ServerOptions.Received) on the
// clock the replicas share, allowing for this process's own stalls. A
// request's handler starts only once the process runs: one that reached
// the socket while the process was stopped (a VM paused, SIGSTOP, a
// machine starved for seconds) is read after the stop, stamped then, and
// may be a firing its sender gave up on, sent again elsewhere and then
// resolved while it waited: stamped at its reading, its write opened an
// incident for the ended alerts, which paged (the groups soak, seed
// 680918085, a replica stopped 15 s; incident.Alert.Received). So a watch
// ticks every tick; a request read while the watch has not ticked for
// more than gap, or within grace after such a stop ended, is stamped at
// the stop's start: it may have arrived any time during it.
type arrivals struct {
	now func() time.Time // the shared clock; zero while not on it
	// mono is the host's monotonic clock (time.Now's reading), which the
	// gaps between ticks are measured on: the shared clock moves by its
	// readings too (a re-sync after a Redis failover), which is no stop.
	mono  func() time.Time
	tick  time.Duration
	gap   time.Duration
	grace time.Duration

	mu       sync.Mutex
	last     time.Time // the watch's last tick, on the shared clock
	lastMono time.Time // and on mono
	stopFrom time.Time // the latest stop the watch saw: from its last tick before
	stopEnd  time.Time // to its first tick after, on mono
}

// newArrivals watches on now (a tick every 100ms; a stop is a gap of
// over a second between ticks, a GC pause or a scheduler's delay far
// less; its grace two seconds, time for the requests queued meanwhile to
// be read).
func newArrivals(now func() time.Time) *arrivals {
	return &arrivals{now: now, mono: time.Now, tick: 100 * time.Millisecond, gap: time.Second, grace: 2 * time.Second}
}

// run ticks until ctx ends.
func (a *arrivals) run(ctx context.Context) {
	t := time.NewTicker(a.tick)
	defer t.Stop()
	for {
		a.ticked()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ticked notes a tick: a stop when the last was more than gap ago.
func (a *arrivals) ticked() {
	now, mono := a.now(), a.mono()
	if now.IsZero() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.last.IsZero() && mono.Sub(a.lastMono) > a.gap {
		a.stopFrom, a.stopEnd = a.last, mono
	}
	a.last, a.lastMono = now, mono
}

// stamp is when a request being read now arrived, at the earliest: now,
// or the start of a stop of the process it may have waited through.
func (a *arrivals) stamp() time.Time {
	now, mono := a.now(), a.mono()
	if now.IsZero() {
		return now
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case !a.last.IsZero() && mono.Sub(a.lastMono) > a.gap:
		// Stopped, and read before the watch ticked again.
		return a.last
	case !a.stopEnd.IsZero() && mono.Sub(a.stopEnd) < a.grace:
		return a.stopFrom
	}
	return now
}
