package boltstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
)

// Group commit. Every write transaction is fsynced before its caller is
// answered, and an fsync costs about a millisecond: one transaction per
// alert, per claim and per page would bound the store to a few hundred of
// each a second, with the CPU idle. So writes go through one committer:
// the first write waiting is started at once, and the writes that arrive
// while a commit is in progress wait for it and then go together, in
// arrival order, in one transaction and one fsync. Nothing waits for a
// batch to fill, so a lone write is as fast as before; under load, many
// writes share each fsync, and each caller is still answered only once its
// own data is on disk.
//
// A write's function must fail (return an error other than errNoop) only
// before it writes anything, or by a bbolt error; any failure in a batch
// rolls the whole batch back and every write of it runs again alone, as it
// would without batching, so one write's failure is only its own.

// maxBatch bounds how many writes share one transaction.
const maxBatch = 512

// txState is where a write is: queued, taken into a batch, its fn running,
// its fn run (the commit pending), or abandoned by its caller. A caller
// leaves only while its fn is not running, and an abandoned fn never runs
// (again): so fn never touches the caller's memory (the incident it
// encodes, the results it sets) once the caller has left.
const (
	txQueued int32 = iota
	txTaken
	txRunning
	txRan
	txAbandoned
)

type txReq struct {
	fn    func(*bbolt.Tx) error
	state atomic.Int32
	err   error
	done  chan struct{}
	// ran is signalled each time fn returns, for a caller waiting to leave.
	ran chan struct{}
}

// runFn runs r's fn in tx if r is still in state from, and reports whether
// it ran: not when its caller has left.
func (r *txReq) runFn(tx *bbolt.Tx, from int32) bool {
	if !r.state.CompareAndSwap(from, txRunning) {
		return false
	}
	r.err = r.fn(tx)
	r.state.Store(txRan)
	select {
	case r.ran <- struct{}{}:
	default:
	}
	return true
}

// committer runs the store's write transactions.
type committer struct {
	// commits counts the transactions committed, for tests and
	// benchmarks to see writes share them.
	commits atomic.Int64
	db      *bbolt.DB
	queue   chan *txReq
	stop    chan struct{}
	exited  chan struct{}
	once    sync.Once
}

func newCommitter(db *bbolt.DB) *committer {
	c := &committer{db: db, queue: make(chan *txReq, maxBatch), stop: make(chan struct{}), exited: make(chan struct{})}
	go c.loop()
	return c
}

// errClosed is a write after Close.
var errClosed = fmt.Errorf("%w: the store is closed", store.ErrUnavailable)

// run runs fn in a write transaction, batched with the writes waiting
// alongside it, and returns fn's result once it is committed (and on disk)
// or rolled back. A caller whose ctx ends while its write is still queued
// gets ErrUnavailable and the write never runs (so "not stored" is true);
// once taken into a batch, the caller is answered when its ctx ends with
// ErrOutcomeUnknown too: the commit may still finish (a stalled disk must
// not hang the request, and the answer must not claim nothing was stored).
// A write taken but not yet run when its caller leaves never runs (the
// batch before it may hold the committer), and the answer says it was not
// stored; one whose fn is running is waited for until fn returns, which
// reads the map and does no write to disk, so that fn never touches the
// caller's memory after the caller has left.
func (c *committer) run(ctx context.Context, fn func(*bbolt.Tx) error) error {
	r := &txReq{fn: fn, done: make(chan struct{}), ran: make(chan struct{}, 1)}
	select {
	case c.queue <- r:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", store.ErrUnavailable, ctx.Err())
	case <-c.stop:
		return errClosed
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		for {
			if r.state.CompareAndSwap(txQueued, txAbandoned) || r.state.CompareAndSwap(txTaken, txAbandoned) {
				return fmt.Errorf("%w: %w", store.ErrUnavailable, ctx.Err())
			}
			if r.state.CompareAndSwap(txRan, txAbandoned) {
				select {
				case <-r.done:
					return r.err
				default:
					return fmt.Errorf("%w: %w: the commit did not finish in time: %w", store.ErrUnavailable, store.ErrOutcomeUnknown, ctx.Err())
				}
			}
			// fn is running: it returns soon.
			select {
			case <-r.ran:
			case <-r.done:
				return r.err
			}
		}
	case <-c.exited:
		// Queued as the committer stopped: it will never be taken.
		if r.state.CompareAndSwap(txQueued, txAbandoned) {
			return errClosed
		}
	}
	<-r.done
	return r.err
}

func (c *committer) loop() {
	defer close(c.exited)
	batch := make([]*txReq, 0, maxBatch)
	for {
		select {
		case r := <-c.queue:
			batch = append(batch[:0], r)
		case <-c.stop:
			c.drain()
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-c.queue:
				batch = append(batch, r)
			default:
				break more
			}
		}
		c.commit(batch)
	}
}

// drain answers the writes still queued at Close.
func (c *committer) drain() {
	for {
		select {
		case r := <-c.queue:
			if r.state.CompareAndSwap(txQueued, txTaken) {
				r.err = errClosed
				close(r.done)
			}
		default:
			return
		}
	}
}

// errBatchFailed rolls a batch back when one of its writes failed.
var errBatchFailed = errors.New("a write of the batch failed")

func (c *committer) commit(batch []*txReq) {
	live := batch[:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(txQueued, txTaken) {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	if len(live) > 1 {
		err := c.db.Update(func(tx *bbolt.Tx) error {
			wrote := false
			for _, r := range live {
				if !r.runFn(tx, txTaken) {
					continue // its caller left before it ran
				}
				switch {
				case r.err == nil:
					wrote = true
				case !errors.Is(r.err, errNoop):
					return errBatchFailed
				}
			}
			if !wrote {
				return errNoop // nothing changed: roll back, no fsync
			}
			return nil
		})
		if err == nil || errors.Is(err, errNoop) {
			if err == nil {
				c.commits.Add(1)
			}
			for _, r := range live {
				close(r.done)
			}
			return
		}
	}
	// One write, or a batch that failed: each alone, committed or rolled
	// back on its own (run again if it ran in the batch, unless its caller
	// has left since).
	for _, r := range live {
		r.err = c.db.Update(func(tx *bbolt.Tx) error {
			if !r.runFn(tx, txTaken) && !r.runFn(tx, txRan) {
				return errNoop // its caller left: it must not run
			}
			return r.err
		})
		if r.err == nil {
			c.commits.Add(1)
		}
		close(r.done)
	}
}

// close stops the committer after answering every queued write.
func (c *committer) close() {
	c.once.Do(func() { close(c.stop) })
	<-c.exited
}
