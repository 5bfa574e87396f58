package redisstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Scripts run at the same moment by different callers (webhooks taken in
// parallel, the dispatcher's workers recording their pages) go to Redis
// together, in one pipeline: one write and one read for all of them
// instead of a round trip each. Under load most of a webhook's CPU was
// those system calls (a loopback write wakes Redis inside the call), and
// Redis's own read per command went with them. Each script is still its
// own atomic command with its own reply, and nothing waits for company: a
// script with an idle sender goes at once, alone.
//
// When nothing at all is in flight, a script whose caller set a deadline
// runs on the caller's own goroutine, as script.Run would: handing it to
// a sender and its reply back costs two goroutine wake-ups, and at a
// thousand alerts a second on two cores, where scripts rarely meet, each
// wake-up is a chance for the scheduler to be late (its search for work
// was 15% of pagerd's CPU there). The answers' p99 at that rate was lower
// in 9 of 12 alternating pairs of load runs; the closed loop, where a
// lone script is one less in the pipeline the others share, took 1.5%
// fewer webhooks a second (docs/BENCHMARKS.md). The deadline bounds the
// wait as the caller's would: go-redis ends a command at its context's
// deadline (ContextTimeoutEnabled), but not at a cancel, so a caller with
// no deadline still goes through a sender and is answered at its cancel.
//
// A caller whose context ends first is told the truth: if its script was
// not yet taken into a pipeline it never will be (errNotSent, so the
// store says nothing was stored); once taken, it may have run, and the
// error says the outcome is unknown.

// batchSenders is how many pipelines are in flight at once: with one,
// while it is in flight the next fills up, and Redis runs scripts one at a
// time anyway; a second keeps scripts going while one waits on a
// connection that died. (On this project's load run, 1, 2 and 4 senders
// were within the run-to-run noise of each other.) batchMax is how many
// scripts one pipeline carries.
const (
	batchSenders = 2
	batchMax     = 64
)

// errNotSent is the error of a script whose caller gave up before it was
// sent: it did not run.
var errNotSent = errors.New("redis: not sent")

// Request states: queued until a sender takes it or its caller gives up;
// once sent, answered, or left by a caller that gave up before its answer
// came (the script may run after: batcher.late).
const (
	reqQueued int32 = iota
	reqSent
	reqAbandoned
	reqAnswered
	reqLeft
)

type batchReq struct {
	ctx    context.Context
	script *redis.Script
	keys   []string
	args   []any
	state  atomic.Int32
	cmd    *redis.Cmd
	done   chan struct{}
}

// batcher gathers the scripts run at once and sends them in pipelines.
type batcher struct {
	rdb redis.UniversalClient
	// busy counts the scripts and pipelines in flight; a caller may run
	// its script itself only when it takes busy from 0, and holds closing
	// for reading meanwhile, so close waits for it as it does for senders.
	busy    atomic.Int32
	closing sync.RWMutex
	reqs    chan *batchReq
	start   sync.Once
	stop    chan struct{}
	stops   sync.Once
	wg      sync.WaitGroup
	// late, when set (before the first run), is told the keys of a
	// script once its sender is done with it, if its caller had given
	// up after it was sent: it may have run after its caller was told it
	// failed (the store's due heads: Store.lateWrite).
	late func(keys []string)
}

func newBatcher(rdb redis.UniversalClient) *batcher {
	return &batcher{rdb: rdb, reqs: make(chan *batchReq, batchMax*batchSenders), stop: make(chan struct{})}
}

// run runs script as script.Run does, in a pipeline with whatever other
// scripts are waiting.
func (b *batcher) run(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	b.start.Do(func() {
		for range batchSenders {
			b.wg.Add(1)
			go b.send()
		}
	})
	if cmd, ok := b.runHere(ctx, script, keys, args); ok {
		return cmd
	}
	r := &batchReq{ctx: ctx, script: script, keys: keys, args: args, done: make(chan struct{})}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return failed(ctx, errors.Join(errNotSent, ctx.Err()))
	case <-b.stop:
		return failed(ctx, redis.ErrClosed)
	}
	select {
	case <-r.done:
		return r.cmd
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return failed(ctx, errors.Join(errNotSent, ctx.Err()))
		}
		if r.state.CompareAndSwap(reqSent, reqLeft) {
			// Taken into a pipeline: it may run, or have run
			// (the sender tells b.late when it is done).
			return failed(ctx, ctx.Err())
		}
		<-r.done // answered meanwhile
		return r.cmd
	case <-b.stop:
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return failed(ctx, errors.Join(errNotSent, redis.ErrClosed))
		}
		<-r.done // a sender has it, and ends once it is done
		return r.cmd
	}
}

// runHere runs the script on the caller's goroutine if the caller set a
// deadline and nothing else is in flight or waiting; ok is false if it
// must go through a sender.
func (b *batcher) runHere(ctx context.Context, script *redis.Script, keys []string, args []any) (cmd *redis.Cmd, ok bool) {
	if _, ok := ctx.Deadline(); !ok || len(b.reqs) > 0 || !b.busy.CompareAndSwap(0, 1) {
		return nil, false
	}
	defer b.busy.Add(-1)
	if !b.closing.TryRLock() {
		return failed(ctx, errors.Join(errNotSent, redis.ErrClosed)), true
	}
	defer b.closing.RUnlock()
	select {
	case <-b.stop:
		return failed(ctx, errors.Join(errNotSent, redis.ErrClosed)), true
	default:
	}
	if err := ctx.Err(); err != nil {
		return failed(ctx, errors.Join(errNotSent, err)), true
	}
	return script.Run(ctx, b.rdb, keys, args...), true
}

// failed is a command that failed with err.
func failed(ctx context.Context, err error) *redis.Cmd {
	c := redis.NewCmd(ctx)
	c.SetErr(err)
	return c
}

// send is one sender: it takes the first script waiting, and those that
// wait behind it, and sends them in one pipeline.
func (b *batcher) send() {
	defer b.wg.Done()
	batch := make([]*batchReq, 0, batchMax)
	for {
		batch = batch[:0]
		select {
		case r := <-b.reqs:
			batch = append(batch, r)
		case <-b.stop:
			return
		}
	more:
		for len(batch) < batchMax {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		b.exec(batch)
	}
}

// exec sends the scripts of a batch whose callers still wait.
func (b *batcher) exec(batch []*batchReq) {
	live := batch[:0]
	var deadline time.Time
	unbounded := false
	for _, r := range batch {
		if !r.state.CompareAndSwap(reqQueued, reqSent) {
			continue // its caller gave up
		}
		live = append(live, r)
		if d, ok := r.ctx.Deadline(); !ok {
			unbounded = true
		} else if d.After(deadline) {
			deadline = d
		}
	}
	if len(live) == 0 {
		return
	}
	b.busy.Add(1)
	defer b.busy.Add(-1)
	// The pipeline lasts as long as the most patient caller waits.
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if !unbounded {
		ctx, cancel = context.WithDeadline(ctx, deadline)
	}
	defer cancel()
	if len(live) == 1 {
		r := live[0]
		r.cmd = r.script.Run(ctx, b.rdb, r.keys, r.args...)
		b.answered(r)
		return
	}
	pipe := b.rdb.Pipeline()
	for _, r := range live {
		r.cmd = r.script.EvalSha(ctx, pipe, r.keys, r.args...)
	}
	_, _ = pipe.Exec(ctx)
	for _, r := range live {
		if redis.HasErrorPrefix(r.cmd.Err(), "NOSCRIPT") {
			// Redis lost its scripts (a restart): nothing ran; run it
			// with its source, which loads it for the next ones.
			r.cmd = r.script.Run(ctx, b.rdb, r.keys, r.args...)
		}
		b.answered(r)
	}
}

// answered hands a sent script's reply to its caller, or, if the caller
// gave up waiting for it, tells b.late that it may have run since.
func (b *batcher) answered(r *batchReq) {
	if !r.state.CompareAndSwap(reqSent, reqAnswered) && b.late != nil {
		b.late(r.keys)
	}
	close(r.done)
}

// close stops the senders once their pipelines are done, and waits for
// the scripts callers run themselves; scripts not yet sent are not sent.
// Closing again does nothing, as closing the Redis client again only
// returns an error.
func (b *batcher) close() {
	b.stops.Do(func() {
		close(b.stop)
		b.closing.Lock() // never unlocked: no caller runs a script after
	})
	b.wg.Wait()
}
