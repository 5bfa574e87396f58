package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/policy"
)

// TestLostReplyIsNotCalledNotStored: the alert's script reaches Redis and
// runs, its reply is lost and Redis can no longer be reached (a crash or a
// network cut right after the write). The write must not be reported as
// certainly not stored: it is. Before, the client retried the script,
// the retry's dial was refused, and that last error said "nothing was
// stored" for an alert that was.
func TestLostReplyIsNotCalledNotStored(t *testing.T) {
	direct, upstream := scriptsLoaded(t)
	ctx := context.Background()
	p := startDropProxy(t, upstream, true)
	// The client as the daemon makes it.
	opts, err := redisstore.ParseURL("redis://" + p.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewUniversalClient(opts)
	t.Cleanup(func() { rdb.Close() })
	inc := lostReplyIncident("k")
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, _, err = redisstore.New(rdb, "p").Trigger(tctx, inc, nil)
	if err == nil {
		t.Fatal("the write succeeded through a proxy that dropped its reply")
	}
	if _, gerr := redisstore.New(direct, "p").Get(ctx, inc.ID); gerr != nil {
		t.Fatalf("the script did not run (%v), so this test shows nothing; the write said: %v", gerr, err)
	}
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, store.ErrOutcomeUnknown) {
		t.Fatalf("a stored alert whose reply was lost is reported as %v; want it to say it may have been stored (ErrOutcomeUnknown)", err)
	}
}

// scriptsLoaded starts Redis with the store's scripts loaded, and returns
// a client straight to it and its address.
func scriptsLoaded(t *testing.T) (redis.UniversalClient, string) {
	t.Helper()
	srv := redistest.Start(t)
	direct := srv.Client(t)
	if err := redisstore.New(direct, "p").LoadScripts(context.Background()); err != nil {
		t.Fatal(err)
	}
	return direct, srv.Addr
}

// dropProxy forwards to upstream. The first connection that carries an
// EVALSHA has the script forwarded but its reply dropped (connection
// closed). If stopAfter, the listener is closed too (Redis "gone").
type dropProxy struct {
	l        net.Listener
	dropped  atomic.Bool
	evalshas atomic.Int64
}

func startDropProxy(t *testing.T, upstream string, stopAfter bool) *dropProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{l: l}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c, upstream, stopAfter)
		}
	}()
	return p
}

func (p *dropProxy) serve(c net.Conn, upstream string, stopAfter bool) {
	defer c.Close()
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer up.Close()
	var dropThis atomic.Bool
	var once sync.Once
	go func() {
		b := make([]byte, 1<<16)
		for {
			n, err := c.Read(b)
			if err != nil {
				return
			}
			if k := bytes.Count(bytes.ToLower(b[:n]), []byte("evalsha")); k > 0 {
				p.evalshas.Add(int64(k))
				if p.dropped.CompareAndSwap(false, true) {
					dropThis.Store(true)
				}
			}
			if _, err := up.Write(b[:n]); err != nil {
				return
			}
		}
	}()
	b := make([]byte, 1<<16)
	for {
		n, err := up.Read(b)
		if err != nil {
			return
		}
		if dropThis.Load() {
			once.Do(func() {
				if stopAfter {
					p.l.Close()
				}
			})
			return // reply dropped with the connection
		}
		if _, err := c.Write(b[:n]); err != nil {
			return
		}
	}
}

// clusterClientVia is the client the daemon makes for redis-cluster://,
// with its slot map pointed at the proxy (one node holding every slot).
func clusterClientVia(t *testing.T, addr string) *redis.ClusterClient {
	opts, err := redisstore.ParseURL("redis-cluster://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	co := opts.Cluster()
	co.ClusterSlots = func(context.Context) ([]redis.ClusterSlot, error) {
		return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: addr}}}}, nil
	}
	rdb := redis.NewClusterClient(co)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// lostReplyIncident is a new incident to trigger.
func lostReplyIncident(key string) *store.Incident {
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	return &store.Incident{ID: store.NewID(store.ShardOf("api", key), at), Service: "api", DedupKey: key, CreatedAt: at, LastSeen: at,
		State: policy.Incident{Status: policy.StatusTriggered, Pending: []policy.Deadline{{ID: "1.1", At: at, Kind: policy.DeadlineNotify}}}}
}

// TestClusterLostReplyIsNotCalledNotStored: TestLostReplyIsNotCalledNotStored
// on a cluster client, whose own retry loop (MaxRedirects, which
// MaxRetries does not turn off) sent a script again after its reply was
// lost: the retry's refused dial then said a stored alert was not stored.
func TestClusterLostReplyIsNotCalledNotStored(t *testing.T) {
	direct, upstream := scriptsLoaded(t)
	ctx := context.Background()
	p := startDropProxy(t, upstream, true)
	rdb := clusterClientVia(t, p.l.Addr().String())
	inc := lostReplyIncident("k")
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, _, err := redisstore.New(rdb, "p").Trigger(tctx, inc, nil)
	if err == nil {
		t.Fatal("the write succeeded through a proxy that dropped its reply")
	}
	if _, gerr := redisstore.New(direct, "p").Get(ctx, inc.ID); gerr != nil {
		t.Fatalf("the script did not run (%v); the write said: %v", gerr, err)
	}
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, store.ErrOutcomeUnknown) {
		t.Fatalf("cluster mode: a stored alert whose reply was lost is reported as %v (not ErrOutcomeUnknown: the 503 says nothing was stored)", err)
	}
}

// TestClusterLostReplyIsNotSentAgain: a cluster client sent a script
// whose reply was lost again, and it ran twice: a new incident counted
// its own retry as a repeat of itself.
func TestClusterLostReplyIsNotSentAgain(t *testing.T) {
	direct, upstream := scriptsLoaded(t)
	ctx := context.Background()
	p := startDropProxy(t, upstream, false)
	rdb := clusterClientVia(t, p.l.Addr().String())
	inc := lostReplyIncident("k2")
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	id, out, err := redisstore.New(rdb, "p").Trigger(tctx, inc, nil)
	got, gerr := redisstore.New(direct, "p").Get(ctx, inc.ID)
	t.Logf("trigger: id=%s outcome=%v err=%v; evalsha sent %d times; stored: repeats=%v (get err %v)", id, out, err, p.evalshas.Load(), func() any {
		if got == nil {
			return nil
		}
		return got.Repeats
	}(), gerr)
	if p.evalshas.Load() > 1 || (got != nil && got.Repeats > 0) {
		t.Fatalf("one Trigger ran its script %d times: outcome %v, stored repeats %d", p.evalshas.Load(), out, got.Repeats)
	}
}

// TestClusterPipelineLostReplyIsNotSentAgain: the same through the
// batcher's pipelines, several callers' scripts in one, whose connection
// dies after Redis ran them: the cluster client sent every script of it
// again.
func TestClusterPipelineLostReplyIsNotSentAgain(t *testing.T) {
	direct, upstream := scriptsLoaded(t)
	ctx := context.Background()
	p := startDropProxy(t, upstream, false)
	rdb := clusterClientVia(t, p.l.Addr().String())
	s := redisstore.New(rdb, "p")
	const n = 16
	var wg sync.WaitGroup
	incs := make([]*store.Incident, n)
	errs := make([]error, n)
	outs := make([]store.Outcome, n)
	for i := range n {
		incs[i] = lostReplyIncident("pk" + string(rune('a'+i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			// no deadline: goes through a sender (pipelines)
			_, outs[i], errs[i] = s.Trigger(context.Background(), incs[i], nil)
		}()
	}
	wg.Wait()
	twice := 0
	for i := range n {
		got, _ := redisstore.New(direct, "p").Get(ctx, incs[i].ID)
		if got != nil && got.Repeats > 0 {
			twice++
			t.Logf("incident %d: outcome %v err %v, stored repeats %d", i, outs[i], errs[i], got.Repeats)
		}
	}
	t.Logf("evalsha sent %d times for %d triggers", p.evalshas.Load(), n)
	if twice > 0 {
		t.Fatalf("%d of %d triggers ran twice", twice, n)
	}
}

// TestLostNoteReplyIsNotCalledNotStored: a timeline note's script reaches
// Redis and runs, its reply is lost. The note is stored; the error must
// say it may have been (a provider's delivery report answered "nothing
// was stored" was one that did store).
func TestLostNoteReplyIsNotCalledNotStored(t *testing.T) {
	direct, upstream := scriptsLoaded(t)
	ctx := context.Background()
	inc := lostReplyIncident("note")
	if _, _, err := redisstore.New(direct, "p").Trigger(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	p := startDropProxy(t, upstream, true)
	opts, err := redisstore.ParseURL("redis://" + p.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewUniversalClient(opts)
	t.Cleanup(func() { rdb.Close() })
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = redisstore.New(rdb, "p").Note(tctx, map[string][]store.Entry{inc.ID: {{At: inc.CreatedAt, Type: "delivery", User: "ann", Channel: "sms", Detail: "delivered"}}})
	if err == nil {
		t.Fatal("the note succeeded through a proxy that dropped its reply")
	}
	tl, terr := redisstore.New(direct, "p").Timeline(ctx, inc.ID)
	if terr != nil || len(tl) != 1 {
		t.Fatalf("the note's script did not run (%v, %d entries), so this test shows nothing; the note said: %v", terr, len(tl), err)
	}
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, store.ErrOutcomeUnknown) {
		t.Fatalf("a stored note whose reply was lost is reported as %v; want it to say it may have been stored (ErrOutcomeUnknown)", err)
	}
}
