package boltstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
//
// A failure of the commit itself (I/O) is another matter. bbolt's Commit
// writes the data pages, fsyncs, writes the meta page through the file and
// fsyncs again; if that last fsync fails, Commit rolls back and returns the
// error, but the meta page it wrote is in the page cache, so the mapped
// file shows it and the next transactions start from the "failed" one.
// Running its writes again would do them twice (a timeline entry noted
// twice, a page recorded twice), and answering "nothing was stored" could be
// false. So after a commit error the committer asks a new read transaction
// whether the failed one is visible (commitError). If it is not, the
// writes run again alone, as above, and a lone write whose commit fails
// gets ErrUnavailable. If it may be, nothing runs again: its writes get
// ErrOutcomeUnknown, and the store takes no write from then on (failed),
// as Linux may have dropped the pages whose write-back failed, so what is
// on disk may lack what this process saw; reads go on, and Ping fails so
// that readiness says why.

// Two lanes. A flood of alerts keeps the committer busy, and a batch of
// a few hundred of them takes tens of milliseconds; the dispatcher's
// writes (a claim, a page recorded, a step completed) and a person's
// acknowledgement waited behind them in one queue, each behind a whole
// batch, and a page to someone outside the flood went out 170–380 ms late
// in the load run's flood (every alert of his answered within 31 ms).
// So alerts (Trigger) go in the intake lane and every other write in the
// urgent lane: a batch takes the urgent writes first, and once it has run
// minIntake alerts' writes, an urgent write that arrives stops it taking
// more: the urgent writes run next in the same transaction, the alerts not
// yet run wait for the next batch, first. An urgent write waits for at
// most minIntake alerts' writes (about 100 µs each in the flood) and a
// commit. Alerts go in every batch (room for minIntake of them is kept),
// so urgent writes cannot starve them; the intake is bounded by admission
// control, the urgent lane by the dispatcher's concurrency. minIntake is
// 64, not less: with 8, nearly every batch of the closed loop was cut
// short by the claims and finishes its own alerts bring, commits got
// smaller and more, and the embedded closed loop fell from 1,490–1,990 to
// 1,370–1,520 alerts/s (1,650–2,040 with 64; alternating runs).

// maxBatch bounds how many writes share one transaction.
const maxBatch = 512

// minIntake is how many alerts' writes, of those waiting, a batch runs
// before urgent writes may stop it.
const minIntake = 64

// lane is which queue a write waits in (above).
type lane int

const (
	urgentLane lane = iota
	intakeLane
)

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
	fn     func(*bbolt.Tx) error
	intake bool // in the intake lane
	state  atomic.Int32
	err    error
	done   chan struct{}
	// ran is signalled each time fn returns, for a caller waiting to leave.
	ran chan struct{}
}

// runFn runs r's fn in tx if r is still in state from, and reports whether
// it ran: not when its caller has left.
func (r *txReq) runFn(tx *bbolt.Tx, from int32) bool {
	if !r.state.CompareAndSwap(from, txRunning) {
		return false
	}
	r.err = r.call(tx)
	r.state.Store(txRan)
	select {
	case r.ran <- struct{}{}:
	default:
	}
	return true
}

// call runs r's fn, a panic in it (a bug, a record that decodes to
// nonsense) its error. The fn runs on the committer's goroutine, where a
// panic took down the daemon with every write queued (before group
// commit, it ended its own request): now the batch fails, its other
// writes run again alone and are stored, and this one is rolled back and
// its caller gets an error of its own. Not ErrUnavailable: the disk is
// not at fault, and the same write panics again.
func (r *txReq) call(tx *bbolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = plain("store write failed: panic: %v", p)
		}
	}()
	return r.fn(tx)
}

// committer runs the store's write transactions.
type committer struct {
	// commits counts the transactions committed, for tests and
	// benchmarks to see writes share them.
	commits atomic.Int64
	db      *bbolt.DB
	// txUpdate runs a write transaction: db.Update, which a test replaces
	// to make a commit fail (a failing fsync cannot be provoked portably).
	txUpdate func(func(*bbolt.Tx) error) error
	// failed is, once a commit failed and may still have become visible,
	// the error every write gets from then on; it is never cleared.
	failed atomic.Pointer[error]
	// broken closes when failed is set.
	broken chan struct{}
	// log, if not nil, is told once when the store stops taking writes.
	log    *slog.Logger
	urgent chan *txReq
	intake chan *txReq
	stop   chan struct{}
	exited chan struct{}
	once   sync.Once
}

func newCommitter(db *bbolt.DB, log *slog.Logger) *committer {
	c := &committer{db: db, txUpdate: db.Update, log: log, broken: make(chan struct{}), urgent: make(chan *txReq, maxBatch), intake: make(chan *txReq, maxBatch), stop: make(chan struct{}), exited: make(chan struct{})}
	go c.loop()
	return c
}

// errClosed is a write after Close.
var errClosed = fmt.Errorf("%w: the store is closed", store.ErrUnavailable)

// run runs fn in a write transaction of lane, batched with the writes
// waiting alongside it, and returns fn's result once it is committed (and on disk)
// or rolled back. A caller whose ctx ends while its write is still queued
// gets ErrUnavailable and the write never runs (so "not stored" is true);
// once taken into a batch, the caller is answered when its ctx ends with
// ErrOutcomeUnknown too: the commit may still finish (a stalled disk must
// not hang the request, and the answer must not claim nothing was stored).
// A write taken but not yet run when its caller leaves never runs (the
// batch before it may hold the committer), and the answer says it was not
// stored; one whose fn is running is waited for until fn returns, which
// reads the map and does no write to disk, so that fn never touches the
// caller's memory after the caller has left. Once a commit failed and may
// have become visible (fail), every write is refused at once.
func (c *committer) run(ctx context.Context, l lane, fn func(*bbolt.Tx) error) error {
	if err := c.failure(); err != nil {
		return err
	}
	r := &txReq{fn: fn, intake: l == intakeLane, done: make(chan struct{}), ran: make(chan struct{}, 1)}
	queue := c.urgent
	if r.intake {
		queue = c.intake
	}
	select {
	case queue <- r:
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
	// carried is the alerts' writes taken and not run (and one taken to
	// start a batch): first of the alerts' in the next batch.
	var carried []*txReq
	for {
		batch = batch[:0]
		if len(carried) == 0 {
			select {
			case r := <-c.urgent:
				batch = append(batch, r)
			case r := <-c.intake:
				// Behind any urgent write that came with it.
				carried = append(carried, r)
			case <-c.stop:
				c.drain()
				return
			}
		}
		batch = c.gather(batch, carried)
		carried = c.commit(batch)
	}
}

// gather fills a batch: the urgent writes waiting, then the alerts'
// writes carried from the last batch, then those waiting, up to maxBatch.
func (c *committer) gather(batch, carried []*txReq) []*txReq {
	for len(batch) < maxBatch-minIntake { // room for alerts' writes
		select {
		case r := <-c.urgent:
			batch = append(batch, r)
			continue
		default:
		}
		break
	}
	batch = append(batch, carried...)
	for len(batch) < maxBatch {
		select {
		case r := <-c.intake:
			batch = append(batch, r)
			continue
		default:
		}
		break
	}
	return batch
}

// drain answers the writes still queued at Close.
func (c *committer) drain() {
	for {
		var r *txReq
		select {
		case r = <-c.urgent:
		case r = <-c.intake:
		default:
			return
		}
		if r.state.CompareAndSwap(txQueued, txTaken) {
			r.err = errClosed
			close(r.done)
		}
	}
}

// errBatchFailed rolls a batch back when one of its writes failed.
var errBatchFailed = errors.New("a write of the batch failed")

// commit runs a batch in one transaction and answers its writes, except
// the alerts' writes it did not run because urgent writes came (see
// lanes): it returns those, still taken, for the next batch.
func (c *committer) commit(batch []*txReq) (carried []*txReq) {
	live := batch[:0]
	for _, r := range batch {
		// Carried writes are taken already; one whose caller has left
		// since is skipped by runFn.
		if r.state.CompareAndSwap(txQueued, txTaken) || r.state.Load() == txTaken {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return nil
	}
	if err := c.failure(); err != nil {
		// Queued before the failure: refused like those after it.
		answer(err, live)
		return nil
	}
	if len(live) > 1 {
		var joined []*txReq
		err := c.update(func(tx *bbolt.Tx) error {
			joined, carried = nil, nil
			wrote, intake := false, 0
			run := func(r *txReq) error {
				if !r.runFn(tx, txTaken) {
					return nil // its caller left before it ran
				}
				switch {
				case r.err == nil:
					wrote = true
				case !errors.Is(r.err, errNoop):
					return errBatchFailed
				}
				return nil
			}
			for i, r := range live {
				if r.intake {
					if intake >= minIntake && len(c.urgent) > 0 && !c.stopping() {
						// Urgent writes came: they run now, the
						// alerts' writes left wait for the next batch.
						carried = live[i:]
						break
					}
					intake++
				}
				if err := run(r); err != nil {
					return err
				}
			}
			if carried != nil {
				joined = c.join(len(live) - len(carried))
				for _, r := range joined {
					if err := run(r); err != nil {
						return err
					}
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
			ran := live[:len(live)-len(carried)]
			for _, r := range ran {
				close(r.done)
			}
			for _, r := range joined {
				close(r.done)
			}
			// The carried writes are copied out: batch's array is reused.
			return append([]*txReq(nil), carried...)
		}
		ran := live[:len(live)-len(carried)]
		var ce *commitError
		if errors.As(err, &ce) && ce.visible {
			// Not run again: the writes that ran may be stored, the
			// carried ones never ran.
			unknown, refused := c.fail(ce, len(ran)+len(joined))
			answer(unknown, ran, joined)
			answer(refused, carried)
			return nil
		}
		// Every write taken, in the order it would have run.
		all := make([]*txReq, 0, len(live)+len(joined))
		all = append(append(append(all, ran...), joined...), carried...)
		live = all
	}
	// One write, or a batch that failed: each alone, committed or rolled
	// back on its own (run again if it ran in the batch, unless its caller
	// has left since).
	for i, r := range live {
		err := c.update(func(tx *bbolt.Tx) error {
			if !r.runFn(tx, txTaken) && !r.runFn(tx, txRan) {
				return errNoop // its caller left: it must not run
			}
			return r.err
		})
		var ce *commitError
		switch {
		case errors.As(err, &ce) && ce.visible:
			// The writes after it have not run, or ran in a batch
			// that was rolled back: none is stored.
			unknown, refused := c.fail(ce, 1)
			answer(unknown, live[i:i+1])
			answer(refused, live[i+1:])
			return nil
		case ce != nil:
			err = fmt.Errorf("%w: the commit failed and was rolled back: %w", store.ErrUnavailable, ce.err)
		case err == nil:
			c.commits.Add(1)
		}
		r.err = err
		close(r.done)
	}
	return nil
}

// commitError is a failure of a commit itself (I/O writing or syncing the
// file), as against an error a write returned (errBatchFailed, errNoop, a
// write's own).
type commitError struct {
	err error
	// visible is true when the transaction may have become visible to the
	// transactions after it: its meta page was written (see the top of
	// this file), or the store could not tell.
	visible bool
}

func (e *commitError) Error() string { return "commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// update runs fn in a write transaction, through txUpdate. It returns
// fn's error as it is, and an error of the commit as a *commitError that
// says whether the transaction is visible. A write transaction's ID is the
// ID of the meta page it started from plus one, and a read transaction's
// is that of the meta page bbolt reads (the valid one of the highest ID):
// a read transaction begun after the failure (no other write can be in
// between: the committer is the only writer) has the failed one's ID if
// its meta page was written, and the ID before it if not.
func (c *committer) update(fn func(*bbolt.Tx) error) error {
	id, ran := 0, false
	var fnErr error
	err := c.txUpdate(func(tx *bbolt.Tx) error {
		id, ran = tx.ID(), true
		fillAppended(tx)
		fnErr = fn(tx)
		return fnErr
	})
	if err == nil || !ran || fnErr != nil {
		// Committed, never begun (a closed database), or rolled back
		// by fn.
		return err
	}
	visible := true // unless a read transaction says otherwise
	if rtx, rerr := c.db.Begin(false); rerr == nil {
		visible = rtx.ID() >= id
		_ = rtx.Rollback()
	}
	return &commitError{err: err, visible: visible}
}

// fail stops the store taking writes after ce, a commit that may have
// become visible and ran n writes. It returns what those writes are
// answered (they may or may not be stored) and what every write is
// answered from now on (it was not).
func (c *committer) fail(ce *commitError, n int) (unknown, refused error) {
	unknown = fmt.Errorf("%w: %w: the disk failed the commit of this write (%w): it may or may not be stored, and pagerd must be restarted", store.ErrUnavailable, store.ErrOutcomeUnknown, ce.err)
	refused = fmt.Errorf("%w: the disk failed a commit (%w) and pagerd must be restarted: this store takes no more writes, and its data on disk may lack writes this process saw", store.ErrUnavailable, ce.err)
	if !c.failed.CompareAndSwap(nil, &refused) {
		return unknown, *c.failed.Load() // failed already (commit refuses all after)
	}
	close(c.broken)
	if c.log != nil {
		c.log.Error("the disk failed a commit: the store takes no more writes until pagerd is restarted, and its data on disk may lack writes this process saw", "err", ce.err, "writes", n)
	}
	return unknown, refused
}

// failure is the error every write gets once a commit failed (fail), or
// nil.
func (c *committer) failure() error {
	if p := c.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// answer answers writes taken with err.
func answer(err error, writes ...[]*txReq) {
	for _, rs := range writes {
		for _, r := range rs {
			r.err = err
			close(r.done)
		}
	}
}

// stopping reports whether close was called: batches then stop carrying
// alerts' writes over, so that the committer gets to its stop.
func (c *committer) stopping() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// join takes the urgent writes waiting into a batch of n writes run, up
// to maxBatch.
func (c *committer) join(n int) []*txReq {
	var joined []*txReq
	for n+len(joined) < maxBatch {
		select {
		case r := <-c.urgent:
			if r.state.CompareAndSwap(txQueued, txTaken) {
				joined = append(joined, r)
			}
			continue
		default:
		}
		break
	}
	return joined
}

// close stops the committer after answering every queued write.
func (c *committer) close() {
	c.once.Do(func() { close(c.stop) })
	<-c.exited
}
