package redisstore_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/policy"
)

// TestWriteErrorSaysWhetherItStored: a write that fails says whether it
// certainly did not happen (ErrUnavailable alone: the daemon answers 503
// "nothing was stored") or may have (ErrUnavailable and
// ErrOutcomeUnknown: 503 "may or may not have been stored"), one fault of
// each kind on a real redis-server, through the alert's write (Trigger).
// Where the fault can be lifted, the test then looks: a write said not to
// be stored is not there, and a write the stall kept in Redis's input
// buffer is there once it resumes, so calling it "not stored" would be a
// lie.
func TestWriteErrorSaysWhetherItStored(t *testing.T) {
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	// client is a client as the daemon makes one (ParseURL): deadlines
	// come from the request's context.
	client := func(t *testing.T, addr string, edit func(*redis.Options)) *redis.Client {
		o := &redis.Options{Addr: addr, ContextTimeoutEnabled: true}
		if edit != nil {
			edit(o)
		}
		rdb := redis.NewClient(o)
		t.Cleanup(func() { rdb.Close() })
		return rdb
	}
	// warm loads the scripts, as Open does (a stalled EVALSHA of a script
	// Redis does not have would run as NOSCRIPT), and so makes the
	// client's connection before a stall: the script itself is what is
	// written to the stalled server, not the handshake.
	warm := func(t *testing.T, rdb *redis.Client) {
		if err := redisstore.New(rdb, "fault").LoadScripts(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	do := func(t *testing.T, rdb *redis.Client, args ...any) {
		t.Helper()
		if err := rdb.Do(context.Background(), args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	type fault struct {
		rdb *redis.Client
		ctx context.Context
		// lift ends the fault; then the test reads what was stored.
		lift func()
	}
	for _, tc := range []struct {
		name string
		make func(t *testing.T, srv *redistest.Server) fault
		// unknown: the error must say the write may have been stored;
		// otherwise that nothing was.
		unknown bool
	}{
		{
			name: "connection refused",
			make: func(t *testing.T, srv *redistest.Server) fault {
				// A port nobody listens on: the dial fails, nothing is sent
				// (one try: go-redis's retries end the same way, slower).
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := l.Addr().String()
				l.Close()
				return fault{rdb: client(t, addr, func(o *redis.Options) { o.MaxRetries = -1 }), ctx: context.Background()}
			},
		},
		{
			name: "client closed",
			make: func(t *testing.T, srv *redistest.Server) fault {
				rdb := client(t, srv.Addr, nil)
				rdb.Close()
				return fault{rdb: rdb, ctx: context.Background()}
			},
		},
		{
			name: "no connection free in the pool",
			make: func(t *testing.T, srv *redistest.Server) fault {
				rdb := client(t, srv.Addr, func(o *redis.Options) { o.PoolSize, o.PoolTimeout = 1, 50*time.Millisecond })
				// The one connection waits in a BLPOP until the write
				// has given up waiting for it.
				held, done := make(chan struct{}), make(chan struct{})
				go func() {
					defer close(done)
					rdb.BLPop(context.Background(), 0, "wake")
				}()
				t.Cleanup(func() {
					srv.Client(t).LPush(context.Background(), "wake", "1")
					<-done
				})
				go func() {
					for rdb.PoolStats().IdleConns > 0 || rdb.PoolStats().TotalConns == 0 {
						time.Sleep(time.Millisecond)
					}
					close(held)
				}()
				<-held
				return fault{rdb: rdb, ctx: context.Background()}
			},
		},
		{
			name: "OOM over maxmemory",
			make: func(t *testing.T, srv *redistest.Server) fault {
				admin := srv.Client(t)
				do(t, admin, "config", "set", "maxmemory-policy", "noeviction")
				do(t, admin, "config", "set", "maxmemory", "1")
				return fault{rdb: client(t, srv.Addr, nil), ctx: context.Background(),
					lift: func() { do(t, admin, "config", "set", "maxmemory", "0") }}
			},
		},
		{
			name: "READONLY replica",
			make: func(t *testing.T, srv *redistest.Server) fault {
				// A replica of a master that is not there refuses writes
				// and keeps its data.
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				_, port, _ := net.SplitHostPort(l.Addr().String())
				l.Close()
				admin := srv.Client(t)
				do(t, admin, "replicaof", "127.0.0.1", port)
				return fault{rdb: client(t, srv.Addr, nil), ctx: context.Background(),
					lift: func() { do(t, admin, "replicaof", "no", "one") }}
			},
		},
		{
			name: "stalled past the read timeout",
			make: func(t *testing.T, srv *redistest.Server) fault {
				// One try: go-redis retries a read timeout on a new
				// connection, whose handshake would time out instead.
				rdb := client(t, srv.Addr, func(o *redis.Options) { o.ReadTimeout, o.MaxRetries = 50*time.Millisecond, -1 })
				warm(t, rdb)
				srv.Pause(t)
				return fault{rdb: rdb, ctx: context.Background(), lift: func() { srv.Resume(t) }}
			},
			unknown: true,
		},
		{
			name: "stalled past the request's deadline",
			make: func(t *testing.T, srv *redistest.Server) fault {
				rdb := client(t, srv.Addr, nil)
				warm(t, rdb)
				srv.Pause(t)
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				t.Cleanup(cancel)
				return fault{rdb: rdb, ctx: ctx, lift: func() { srv.Resume(t) }}
			},
			unknown: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			f := tc.make(t, srv)
			inc := &store.Incident{ID: store.NewID(store.ShardOf("api", "k"), at), Service: "api", DedupKey: "k", CreatedAt: at, LastSeen: at,
				State: policy.Incident{Status: policy.StatusTriggered, Pending: []policy.Deadline{{ID: "1.1", At: at, Kind: policy.DeadlineNotify}}}}
			_, _, err := redisstore.New(f.rdb, "fault").Trigger(f.ctx, inc, nil)
			switch {
			case err == nil:
				t.Fatal("the write succeeded despite the fault")
			case !errors.Is(err, store.ErrUnavailable):
				t.Fatalf("%v: not ErrUnavailable (the daemon would not answer 503)", err)
			case tc.unknown && !errors.Is(err, store.ErrOutcomeUnknown):
				t.Fatalf("%v: says nothing was stored, but the script may have reached Redis", err)
			case !tc.unknown && errors.Is(err, store.ErrOutcomeUnknown):
				t.Fatalf("%v: says it may have been stored, but Redis never ran it", err)
			}
			t.Logf("%s: %v", tc.name, err)
			if f.lift == nil {
				return
			}
			f.lift()
			check := redisstore.New(srv.Client(t), "fault")
			if !tc.unknown {
				if _, err := check.Get(context.Background(), inc.ID); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("after the fault, the write said not stored is: %v", err)
				}
				return
			}
			// The stalled server runs the script from its input buffer as
			// it resumes, after the caller was told it failed.
			deadline := time.Now().Add(5 * time.Second)
			for {
				_, err := check.Get(context.Background(), inc.ID)
				if err == nil {
					return
				}
				if !errors.Is(err, store.ErrNotFound) || time.Now().After(deadline) {
					t.Fatalf("the stalled write was never stored (%v): the test no longer shows why it must say \"may have been\"", err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// TestNoScriptIsNotStored: a NOSCRIPT reply (the pipelined EVALSHA of
// Expire after Redis lost its script cache) means the script did not run:
// the write is known not stored.
func TestNoScriptIsNotStored(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	reply := rdb.EvalSha(context.Background(), "0123456789012345678901234567890123456789", []string{"k"}).Err()
	if reply == nil || !strings.HasPrefix(reply.Error(), "NOSCRIPT") {
		t.Fatalf("EVALSHA of an unknown script: %v", reply)
	}
	err := redisstore.UnavailableWrite(reply)
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrOutcomeUnknown) {
		t.Fatalf("NOSCRIPT: %v, want ErrUnavailable alone (nothing was stored)", err)
	}
}
