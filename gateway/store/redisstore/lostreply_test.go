package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"net"
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
	srv := redistest.Start(t)
	direct := srv.Client(t)
	ctx := context.Background()
	if err := redisstore.New(direct, "p").LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	// A proxy that passes everything until the client sends a script,
	// then drops the script's reply and stops listening.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		up, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			return
		}
		defer up.Close()
		var sent atomic.Bool
		go func() {
			b := make([]byte, 1<<16)
			for {
				n, err := c.Read(b)
				if err != nil {
					return
				}
				if bytes.Contains(bytes.ToLower(b[:n]), []byte("evalsha")) {
					sent.Store(true)
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
			if sent.Load() {
				l.Close() // and the reply is dropped with the connection
				return
			}
			if _, err := c.Write(b[:n]); err != nil {
				return
			}
		}
	}()
	// The client as the daemon makes it.
	opts, err := redisstore.ParseURL("redis://" + l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewUniversalClient(opts)
	t.Cleanup(func() { rdb.Close() })
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	inc := &store.Incident{ID: store.NewID(store.ShardOf("api", "k"), at), Service: "api", DedupKey: "k", CreatedAt: at, LastSeen: at,
		State: policy.Incident{Status: policy.StatusTriggered, Pending: []policy.Deadline{{ID: "1.1", At: at, Kind: policy.DeadlineNotify}}}}
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
