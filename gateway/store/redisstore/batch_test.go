package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/redistest"
)

// incrScript adds its argument to its key and answers the key and the sum.
var incrScript = redis.NewScript(`return {KEYS[1], redis.call('INCRBY', KEYS[1], ARGV[1])}`)

// gate holds every command a client sends until it is opened, so the
// scripts run meanwhile queue up behind the senders it holds; it counts
// the sends it held, the pipelines and the scripts they carried, and
// records for each script sent alone whether it came with its caller's
// context (callerKey: run on the caller's goroutine) or a sender's.
type gate struct {
	open      chan struct{}
	once      sync.Once
	arrived   atomic.Int64
	pipelines atomic.Int64
	piped     atomic.Int64
	mu        sync.Mutex
	caller    []bool
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func (g *gate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "evalsha" || cmd.Name() == "eval" {
			g.mu.Lock()
			g.caller = append(g.caller, ctx.Value(callerKey{}) != nil)
			g.mu.Unlock()
		}
		g.arrived.Add(1)
		<-g.open
		return next(ctx, cmd)
	}
}

// ran says, for each script sent alone so far, whether it came with its
// caller's context.
func (g *gate) ran() []bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.caller)
}

func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		g.arrived.Add(1)
		<-g.open
		scripts := 0
		for _, c := range cmds {
			if c.Name() == "evalsha" {
				scripts++
			}
		}
		if scripts > 0 { // not a connection's own HELLO and SETINFO
			g.pipelines.Add(1)
			g.piped.Add(int64(scripts))
		}
		return next(ctx, cmds)
	}
}

// waitArrived waits until the gate holds n sends.
func waitArrived(t *testing.T, g *gate, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for g.arrived.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sends at the gate, want %d", g.arrived.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// plugged is a batcher on rdb whose every sender is held at a gate with a
// script of its own, one sender after another; unplug opens the gate and
// checks those scripts' replies.
func plugged(t *testing.T, rdb *redis.Client) (*batcher, *gate, func()) {
	t.Helper()
	g := newGate()
	rdb.AddHook(g)
	b := newBatcher(rdb)
	t.Cleanup(b.close)
	t.Cleanup(g.release)
	held := make(chan *redis.Cmd, batchSenders)
	for i := range batchSenders {
		go func() { held <- b.run(context.Background(), incrScript, []string{fmt.Sprintf("plug%d", i)}, 1) }()
		waitArrived(t, g, int64(i+1))
	}
	return b, g, func() {
		t.Helper()
		g.release()
		for range batchSenders {
			if err := (<-held).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// waitQueued waits until n scripts wait for a sender.
func waitQueued(t *testing.T, b *batcher, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(b.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d scripts queued, want %d", len(b.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBatcherSendsWaitingScriptsTogether: scripts run while the senders are
// busy go out in pipelines, several to one, and each caller gets its own
// script's reply.
func TestBatcherSendsWaitingScriptsTogether(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	// With a deadline, as a webhook's: a caller runs its script itself
	// only when nothing else is in flight.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, g, unplug := plugged(t, rdb)

	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("k%d", i)
			res, err := b.run(ctx, incrScript, []string{key}, i).Slice()
			if err != nil {
				errs <- err
				return
			}
			if res[0] != key || res[1] != int64(i) {
				errs <- fmt.Errorf("script on %s answered %v", key, res)
			}
		}()
	}
	// Every sender is held at the gate; all n wait in the queue.
	waitQueued(t, b, n)
	unplug()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p, s := g.pipelines.Load(), g.piped.Load(); s != n || p > (n+batchMax-1)/batchMax+batchSenders {
		t.Errorf("%d scripts went in %d pipelines; want all %d that waited, up to %d to a pipeline", s, p, n, batchMax)
	}
}

// TestBatcherGivenUpBeforeSentNeverRuns: a caller whose context ends while
// its script waits for a sender is told it was not sent, the store says
// nothing was stored (not "may or may not"), and the script never runs.
// One taken into a pipeline before its caller gave up may run: that
// caller is told the outcome is unknown.
func TestBatcherGivenUpBeforeSentNeverRuns(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	b, _, unplug := plugged(t, rdb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.run(ctx, incrScript, []string{"given-up"}, 1).Err() }()
	waitQueued(t, b, 1)
	cancel()
	err := <-done
	if !errors.Is(err, errNotSent) {
		t.Fatalf("given up while queued: %v, want errNotSent", err)
	}
	if w := unavailableWrite(err); !errors.Is(w, store.ErrUnavailable) || errors.Is(w, store.ErrOutcomeUnknown) {
		t.Fatalf("the store says %v; want unavailable, and known not stored", w)
	}
	unplug()
	if n, err := rdb.Exists(context.Background(), "given-up").Result(); err != nil || n != 0 {
		t.Fatalf("the script given up ran: exists %d %v", n, err)
	}

	// Taken, then given up: the outcome is unknown.
	g2 := newGate()
	rdb.AddHook(g2)
	t.Cleanup(g2.release)
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- b.run(ctx2, incrScript, []string{"taken"}, 1).Err() }()
	waitArrived(t, g2, 1)
	cancel2()
	err = <-done2
	g2.release()
	if errors.Is(err, errNotSent) {
		t.Fatalf("a script taken into a pipeline was said not sent: %v", err)
	}
	if w := unavailableWrite(err); !errors.Is(w, store.ErrOutcomeUnknown) {
		t.Fatalf("the store says %v; want the outcome unknown", w)
	}
}

// TestBatcherRunsScriptsRedisLost: after Redis lost its scripts (a restart,
// SCRIPT FLUSH), a pipeline of them still runs each one, once.
func TestBatcherRunsScriptsRedisLost(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	if err := incrScript.Load(ctx, rdb).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	b, g, unplug := plugged(t, rdb)
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.run(ctx, incrScript, []string{"flushed"}, 1).Err(); err != nil {
				t.Error(err)
			}
		}()
	}
	waitQueued(t, b, n)
	unplug()
	wg.Wait()
	if v, err := rdb.Get(ctx, "flushed").Int(); err != nil || v != n {
		t.Fatalf("the key is %d (%v), want %d: every script once", v, err, n)
	}
	if g.pipelines.Load() == 0 {
		t.Fatal("no pipeline was sent")
	}
}

// partwayScript writes its first key, then pushes to its second, which
// fails with WRONGTYPE when that key holds a string.
var partwayScript = redis.NewScript(`
redis.call('SET', KEYS[1], 'written')
redis.call('LPUSH', KEYS[2], 'x')
return 'done'
`)

// TestBatcherPipelineScriptFailingPartWay: in a pipeline each script is a
// command of its own. One that fails after it wrote (WRONGTYPE at its
// second command) keeps its first write, and the scripts around it run;
// its caller alone gets the error, which the store reports as "may or may
// not have been stored", not as "nothing was stored".
func TestBatcherPipelineScriptFailingPartWay(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	for _, sc := range []*redis.Script{incrScript, partwayScript} {
		if err := sc.Load(ctx, rdb).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.Set(ctx, "notalist", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	b := newBatcher(rdb)
	t.Cleanup(b.close)
	req := func(script *redis.Script, keys ...string) *batchReq {
		return &batchReq{ctx: ctx, script: script, keys: keys, args: []any{1}, done: make(chan struct{})}
	}
	before, partway, after := req(incrScript, "before"), req(partwayScript, "partway", "notalist"), req(incrScript, "after")
	b.exec([]*batchReq{before, partway, after}) // more than one: a pipeline
	for _, r := range []*batchReq{before, after} {
		if res, err := r.cmd.Slice(); err != nil || res[1] != int64(1) {
			t.Fatalf("the script on %s beside the failing one: %v %v", r.keys[0], res, err)
		}
	}
	err := partway.cmd.Err()
	if !redis.HasErrorPrefix(err, "WRONGTYPE") {
		t.Fatalf("the script failing part-way answered %v, want WRONGTYPE", err)
	}
	if v, gerr := rdb.Get(ctx, "partway").Result(); gerr != nil || v != "written" {
		t.Fatalf("the failing script's first write is %q (%v): Redis no longer keeps it, and the test shows nothing", v, gerr)
	}
	if w := unavailableWrite(err); !errors.Is(w, store.ErrUnavailable) || !errors.Is(w, store.ErrOutcomeUnknown) {
		t.Fatalf("the store says %v for a script that wrote before it failed; want the outcome unknown", w)
	}
	t.Logf("pipelined script failing part-way: %v", err)
}

// callerKey marks a caller's context, so a hook can tell whether a script
// ran with it (on the caller's goroutine) or with a sender's.
type callerKey struct{}

// gatedBatcher is a batcher on a client whose commands wait at a gate,
// closed, with incrScript loaded beforehand (so that a script is one
// EVALSHA, not an EVALSHA and an EVAL).
func gatedBatcher(t *testing.T) (*redis.Client, *batcher, *gate) {
	t.Helper()
	rdb := redistest.Start(t).Client(t)
	if err := incrScript.Load(context.Background(), rdb).Err(); err != nil {
		t.Fatal(err)
	}
	b := newBatcher(rdb)
	t.Cleanup(b.close)
	g := newGate()
	t.Cleanup(g.release) // first, so that close does not wait on a held script
	rdb.AddHook(g)
	return rdb, b, g
}

// TestBatcherCallerRunsItsScriptWhenIdle: with nothing in flight, a
// script whose caller set a deadline runs on the caller's goroutine, with
// its context (no hand-off to a sender and back); one with no deadline
// goes through a sender, so that its caller is answered at its cancel.
func TestBatcherCallerRunsItsScriptWhenIdle(t *testing.T) {
	rdb, b, h := gatedBatcher(t)
	h.release()

	dctx, cancel := context.WithTimeout(context.WithValue(context.Background(), callerKey{}, true), time.Minute)
	defer cancel()
	for i := range 3 {
		if res, err := b.run(dctx, incrScript, []string{"here"}, 1).Slice(); err != nil || res[1] != int64(i+1) {
			t.Fatalf("run %d with a deadline: %v %v", i, res, err)
		}
	}
	if err := b.run(context.WithValue(context.Background(), callerKey{}, true), incrScript, []string{"here"}, 1).Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := h.ran(), []bool{true, true, true, false}; !slices.Equal(got, want) {
		t.Fatalf("scripts ran with their caller's context: %v, want %v", got, want)
	}

	// A caller whose deadline passed before it ran is told it was not
	// sent, and the script does not run.
	gone, cancelGone := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelGone()
	if err := b.run(gone, incrScript, []string{"gone"}, 1).Err(); !errors.Is(err, errNotSent) {
		t.Fatalf("run past its deadline: %v, want errNotSent", err)
	}
	if n, err := rdb.Exists(context.Background(), "gone").Result(); err != nil || n != 0 {
		t.Fatalf("the script past its deadline ran: exists %d %v", n, err)
	}
}

// TestBatcherCloseWaitsForCallersScripts: close returns only once a
// script a caller runs itself is done, and after it no caller runs one.
func TestBatcherCloseWaitsForCallersScripts(t *testing.T) {
	_, b, h := gatedBatcher(t)
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), callerKey{}, true), time.Minute)
	defer cancel()

	ran := make(chan error, 1)
	go func() { ran <- b.run(ctx, incrScript, []string{"inflight"}, 1).Err() }()
	deadline := time.Now().Add(5 * time.Second)
	for len(h.ran()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the script never reached Redis's client")
		}
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { b.close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("close returned while a caller's script was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	h.release()
	if err := <-ran; err != nil {
		t.Fatalf("the script in flight at close: %v", err)
	}
	<-closed
	if err := b.run(ctx, incrScript, []string{"after"}, 1).Err(); !errors.Is(err, errNotSent) {
		t.Fatalf("run after close: %v, want errNotSent", err)
	}
	if got := h.ran(); !slices.Equal(got, []bool{true}) {
		t.Fatalf("scripts that reached the client: %v, want the one in flight", got)
	}
}

// TestBatcherClose: after close, a script is not sent and its caller is
// told so at once.
func TestBatcherClose(t *testing.T) {
	srv := redistest.Start(t)
	b := newBatcher(srv.Client(t))
	ctx := context.Background()
	if err := b.run(ctx, incrScript, []string{"before"}, 1).Err(); err != nil {
		t.Fatal(err)
	}
	b.close()
	done := make(chan error, 1)
	go func() { done <- b.run(ctx, incrScript, []string{"after"}, 1).Err() }()
	select {
	case err := <-done:
		if !errors.Is(err, errNotSent) && !errors.Is(err, redis.ErrClosed) {
			t.Fatalf("after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a script run after close waits for ever")
	}
}

// TestStoreClosedTwice: closing the store again is an error at most, not a
// panic of the batcher's.
func TestStoreClosedTwice(t *testing.T) {
	srv := redistest.Start(t)
	s := New(srv.Client(t), "twice")
	_ = s.Close()
	_ = s.Close()
}
