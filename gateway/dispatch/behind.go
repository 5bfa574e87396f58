package dispatch

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// How pagerd_dispatch_behind_seconds is read at a scrape. Behind is what
// the loop noted at its last claim, and the loop is what stops when every
// worker hangs on a provider that outlasts its timeout, a claim keeps
// failing, or the loop deadlocks: Behind then stays at its last value,
// often 0, while pages go unsent, and nothing else shows it until they
// go out late (pagerd_dispatch_lateness_seconds counts only pages that
// went out). So while the loop has claimed lately its figure is used (no
// store round trip: a scrape costs nothing more under load), and
// otherwise the store is asked when its earliest step was due, the way
// the loop's own claim would see it.

const (
	// dueReadTimeout bounds how long a scrape waits for the store's
	// earliest due time, whether or not the store heeds its context.
	dueReadTimeout = 2 * time.Second
	// dueReadFresh is how long one reading serves every scrape (several
	// Prometheus servers, a person with curl), so that scrapes cost the
	// store one round trip a second at most.
	dueReadFresh = time.Second
)

// errDueUnanswered is a reading of the due set the store did not answer
// within dueReadTimeout.
var errDueUnanswered = errors.New("the store did not say when its earliest step is due in time")

// loopFresh is how long after its last claim the loop's own figure is
// trusted: an idle loop looks at the due set at least every MaxSleep, so
// twice that without a claim means it is not looking.
func (d *Dispatcher) loopFresh() time.Duration { return 2 * d.o.MaxSleep }

// behindAtScrape is pagerd_dispatch_behind_seconds: Behind while the loop
// claims, and otherwise how long ago the store's earliest step came due
// (0 when none is due yet; a step that hangs in a worker counts from its
// lease's end, when it is due again; a new incident's first page, queued
// store.FirstPageLead ahead, up to that much early). NaN when the store
// does not answer: not known, which is not 0.
func (d *Dispatcher) behindAtScrape() float64 {
	now := d.o.Now()
	// A dispatcher built without a store (a unit test's) has none to ask.
	if last := d.claimed.Load(); d.o.Store == nil || last != 0 && now.Sub(time.Unix(0, last)) <= d.loopFresh() {
		return d.Behind().Seconds()
	}
	at, ok, err := d.due.get(d.o.Store.NextDue)
	switch {
	case err != nil:
		return math.NaN()
	case !ok || !at.Before(now):
		return 0
	}
	return now.Sub(at).Seconds()
}

// dueReading is the store's earliest due time as last read, shared by
// scrapes for dueReadFresh, with at most one reading in flight.
type dueReading struct {
	mu       sync.Mutex
	inflight chan struct{} // closed when the reading in flight is in
	took     time.Time     // when the last reading came in (the host's clock)
	at       time.Time
	ok       bool
	err      error
}

// get returns the last reading while it is fresh, and otherwise reads
// again with read, waiting at most dueReadTimeout: a reading the store
// has not answered by then is left to finish on its own (it becomes the
// next scrape's) and errDueUnanswered is returned.
func (r *dueReading) get(read func(context.Context) (time.Time, bool, error)) (time.Time, bool, error) {
	r.mu.Lock()
	if r.inflight == nil && (r.took.IsZero() || time.Since(r.took) >= dueReadFresh) {
		done := make(chan struct{})
		r.inflight = done
		go func() {
			defer close(done)
			ctx, cancel := context.WithTimeout(context.Background(), dueReadTimeout)
			at, ok, err := read(ctx)
			cancel()
			r.mu.Lock()
			r.at, r.ok, r.err, r.took, r.inflight = at, ok, err, time.Now(), nil
			r.mu.Unlock()
		}()
	}
	wait := r.inflight
	at, ok, err := r.at, r.ok, r.err
	r.mu.Unlock()
	if wait == nil {
		return at, ok, err
	}
	t := time.NewTimer(dueReadTimeout)
	defer t.Stop()
	select {
	case <-wait:
	case <-t.C:
		return time.Time{}, false, errDueUnanswered
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.at, r.ok, r.err
}
