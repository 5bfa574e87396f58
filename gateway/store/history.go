package store

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// History is the part of a store that reports and handoff documents read,
// and that retention trims: incidents by creation time with their
// timelines, read in few round trips, and resolved incidents expired once
// server.retention has passed.
type History interface {
	// History calls fn with every incident created in [since, until), by
	// creation time then id, oldest first, each with its timeline (oldest
	// entry first). A zero since or until leaves that side open; the
	// bounds apply at millisecond precision, as Filter's do. The store
	// reads HistoryBatch incidents at a time, in a few round trips
	// (pipelined on Redis, one read transaction on the embedded store),
	// never one per incident, and calls fn outside any transaction, so a
	// slow fn (a slow HTTP client) holds nothing of the store's. An
	// incident created while History runs may or may not be seen. An
	// error from fn stops History, which returns it.
	History(ctx context.Context, since, until time.Time, fn func(inc *Incident, timeline []Entry) error) error
	// Expire removes up to max incidents that were resolved before
	// `before` and have nothing pending (no deadline, no outbox item), each
	// with its timeline, its index entries and its dedup key when that
	// still names it, oldest created first, in one atomic write per shard
	// on Redis and one transaction on the embedded store. It returns how
	// many it removed and whether more may be left (it stopped at max);
	// with an error, how many it removed all the same (on Redis, the
	// shards whose write answered). Open incidents are never removed.
	Expire(ctx context.Context, before time.Time, max int) (removed int, more bool, err error)
}

// HistoryBatch is how many incidents History reads at a time: a
// thousand incidents with their timelines are a few megabytes.
const HistoryBatch = 1000

// ParallelDecode calls decode(i) for every i in [0, n) on every core and
// returns the errors, joined. Decoding JSON is most of what a year of
// history costs, and records decode independently, so both stores' History
// decode a batch with it; decode writes only the result of record i, which
// keeps the batch in order. The records are dealt out in turn to the
// goroutines, each of which stops at its first error; a small batch
// (under 64 records a goroutine) gets fewer goroutines, which would
// otherwise cost more than they save.
func ParallelDecode(n int, decode func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), max(n/64, 1))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := decode(i); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Expirable reports whether a stored incident may be expired at
// `before`: resolved before it, with nothing pending.
// A resolved record without its resolution time (none is written so, but
// a record must never live forever for lack of one) counts from its last
// update.
func Expirable(inc *Incident, before time.Time) bool {
	resolved := inc.State.ResolvedAt
	if resolved.IsZero() {
		resolved = inc.UpdatedAt
	}
	if inc.Open() || resolved.IsZero() || !resolved.Before(before) {
		return false
	}
	_, pending := DueAt(inc)
	return !pending
}

// Undecodable counts the incident records an Expire call passes over
// because they do not decode, so that it can say so once. Such a record is
// kept (removing what cannot be read would destroy the evidence), but it
// is never expired and the incident in it can no longer be read: data
// loss that nobody sees unless it is logged. The zero value counts none.
type Undecodable struct {
	n   int
	id  string
	err error
}

// Add counts the record of incident id, which err says does not decode;
// the first one counted is the example Log names.
func (u *Undecodable) Add(id string, err error) {
	if u.n == 0 {
		u.id, u.err = id, err
	}
	u.n++
}

// Log says at Error level how many records were skipped, with one example,
// in one line however many there were (a store with thousands of them must
// not flood the log on every retention batch); nothing when there were
// none.
func (u *Undecodable) Log(ctx context.Context, log *slog.Logger) {
	if u.n == 0 {
		return
	}
	log.ErrorContext(ctx, "retention skipped incident records that do not decode: they are kept, unreadable",
		"records", u.n, "incident", u.id, "err", u.err)
}
