package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
// lie. So is a script that failed part-way: Redis keeps the writes it
// made before the failure. An error reply is a refusal only for the codes
// Redis sends before anything is written (refusedBeforeRun); says holds
// the texts this Redis answered, so that each case shows which path it
// takes (a refusal raised inside the script ends with " script: ").
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
	// Redis does not have would run as NOSCRIPT), and makes the client's
	// connection before a stall: the script itself is what is written to
	// the stalled server, not the handshake. The scripts are loaded by a
	// client without rdb's 50 ms read timeout, which loading them took
	// longer than on a loaded box (CI failed so); rdb's connection is
	// made by a PING, tried again until one gets its answer in time.
	warm := func(t *testing.T, srv *redistest.Server, rdb *redis.Client) {
		if err := redisstore.New(srv.Client(t), "fault").LoadScripts(context.Background()); err != nil {
			t.Fatal(err)
		}
		var err error
		for range 100 {
			if err = rdb.Ping(context.Background()).Err(); err == nil {
				return
			}
		}
		t.Fatalf("no PING answered within the client's read timeout in 100 tries: %v", err)
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
		// says are texts the error must hold: Redis's reply.
		says []string
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
			// Raised at the script's first write: Redis 7 checks memory
			// inside a script only until it has written.
			says: []string{"OOM command not allowed when used memory > 'maxmemory'.", " script: "},
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
			says: []string{"READONLY You can't write against a read only replica.", " script: "},
		},
		{
			name: "MISCONF after a failed snapshot",
			make: func(t *testing.T, srv *redistest.Server) fault {
				// A directory where the snapshot goes fails every save at
				// its rename; with a save point set, Redis then refuses
				// writes (stop-writes-on-bgsave-error).
				if err := os.Mkdir(filepath.Join(srv.Dir, "dump.rdb"), 0o755); err != nil {
					t.Fatal(err)
				}
				admin := srv.Client(t)
				do(t, admin, "config", "set", "save", "3600 1")
				// Without a save point again, the server stops without
				// trying to save, even if the test failed before lift.
				t.Cleanup(func() { admin.ConfigSet(context.Background(), "save", "") })
				do(t, admin, "bgsave")
				deadline := time.Now().Add(5 * time.Second)
				for {
					info := admin.Info(context.Background(), "persistence").Val()
					if strings.Contains(info, "rdb_bgsave_in_progress:0") && strings.Contains(info, "rdb_last_bgsave_status:err") {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the snapshot did not fail:\n%s", info)
					}
					time.Sleep(5 * time.Millisecond)
				}
				return fault{rdb: client(t, srv.Addr, nil), ctx: context.Background(),
					lift: func() { do(t, admin, "config", "set", "save", "") }}
			},
			says: []string{"MISCONF ", " script: "},
		},
		{
			name: "NOREPLICAS under min-replicas-to-write",
			make: func(t *testing.T, srv *redistest.Server) fault {
				admin := srv.Client(t)
				do(t, admin, "config", "set", "min-replicas-to-write", "1")
				return fault{rdb: client(t, srv.Addr, nil), ctx: context.Background(),
					lift: func() { do(t, admin, "config", "set", "min-replicas-to-write", "0") }}
			},
			says: []string{"NOREPLICAS Not enough good replicas to write.", " script: "},
		},
		{
			name: "NOPERM for the script itself",
			make: func(t *testing.T, srv *redistest.Server) fault {
				do(t, srv.Client(t), "acl", "setuser", "noscripts", "on", "nopass", "~*", "&*", "+@all", "-eval", "-evalsha")
				return fault{rdb: client(t, srv.Addr, func(o *redis.Options) { o.Username, o.Password = "noscripts", "any" }),
					ctx: context.Background(), lift: func() {}}
			},
			says: []string{"NOPERM this user has no permissions to run the 'evalsha' command"},
		},
		{
			name: "script fails at run time after its first write",
			make: func(t *testing.T, srv *redistest.Server) fault {
				// The creation index is a string: the script stores the
				// record and the dedup key, then its ZADD to the index
				// fails, and Redis keeps what it wrote.
				do(t, srv.Client(t), "set", fmt.Sprintf("fault:{%02x}:idx", store.ShardOf("api", "k")), "not a sorted set")
				return fault{rdb: client(t, srv.Addr, nil), ctx: context.Background(), lift: func() {}}
			},
			unknown: true,
			says:    []string{"WRONGTYPE Operation against a key holding the wrong kind of value script: "},
		},
		{
			name: "ACL denies a later command of the script",
			make: func(t *testing.T, srv *redistest.Server) fault {
				// Redis checks ACLs at each command of a script: the
				// record and the dedup key are stored, the ZADD is denied.
				do(t, srv.Client(t), "acl", "setuser", "nozadd", "on", "nopass", "~*", "&*", "+@all", "-zadd")
				return fault{rdb: client(t, srv.Addr, func(o *redis.Options) { o.Username, o.Password = "nozadd", "any" }),
					ctx: context.Background(), lift: func() {}}
			},
			unknown: true,
			says:    []string{"ERR The user executing the script can't run this command or subcommand script: "},
		},
		{
			name: "BUSY running another script",
			make: func(t *testing.T, srv *redistest.Server) fault {
				stop := holdBusy(t, srv)
				return fault{rdb: client(t, srv.Addr, nil), ctx: context.Background(), lift: stop}
			},
			says: []string{"BUSY Redis is busy running a script."},
		},
		{
			name: "stalled past the read timeout",
			make: func(t *testing.T, srv *redistest.Server) fault {
				// One try: go-redis retries a read timeout on a new
				// connection, whose handshake would time out instead.
				rdb := client(t, srv.Addr, func(o *redis.Options) { o.ReadTimeout, o.MaxRetries = 50*time.Millisecond, -1 })
				warm(t, srv, rdb)
				srv.Pause(t)
				return fault{rdb: rdb, ctx: context.Background(), lift: func() { srv.Resume(t) }}
			},
			unknown: true,
		},
		{
			name: "stalled past the request's deadline",
			make: func(t *testing.T, srv *redistest.Server) fault {
				rdb := client(t, srv.Addr, nil)
				warm(t, srv, rdb)
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
			for _, want := range tc.says {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("%v: want a reply with %q, so the case no longer shows what it is named for", err, want)
				}
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

// holdBusy makes the server busy: it runs a script that loops until it is
// killed, with busy-reply-threshold so low that the server answers BUSY
// at once, and waits until it does. stop kills the script; the end of the
// test does, if nothing did before.
func holdBusy(t *testing.T, srv *redistest.Server) (stop func()) {
	t.Helper()
	ctx := context.Background()
	loop, admin := srv.Client(t), srv.Client(t)
	if err := admin.ConfigSet(ctx, "busy-reply-threshold", "10").Err(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		loop.Eval(ctx, "while true do end", nil)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			for admin.ScriptKill(ctx).Err() != nil {
				select {
				case <-done:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
			<-done
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := admin.Ping(ctx).Err()
		if redis.HasErrorPrefix(err, "BUSY") {
			return stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server never answered BUSY (last: %v)", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMemoryOfABusyServerIsUnavailable: a server busy running a script
// answers INFO with BUSY. That is Redis not answering for now (the
// probe's to report), not a server refusing INFO, which the guard would
// warn of as if pagerd could never read its maxmemory-policy.
func TestMemoryOfABusyServerIsUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	holdBusy(t, srv)
	_, err := redisstore.New(srv.Client(t), "mem").Memory(context.Background())
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Memory of a server running a long script: %v, want ErrUnavailable", err)
	}
	t.Logf("busy: %v", err)
}
