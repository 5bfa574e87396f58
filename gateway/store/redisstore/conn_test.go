package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/internal/redistest"
)

// TestIdleConnectionsRedisClosedAreNotUsed: the pool skips its liveness
// check only for connections used in the last recentlyUsed; one idle
// longer is still checked, so after Redis closes every connection (a
// restart, a failover, CLIENT KILL) the next command gets a new one and
// succeeds, with no retry inside the client to hide a dead one.
func TestIdleConnectionsRedisClosedAreNotUsed(t *testing.T) {
	old := recentlyUsed
	recentlyUsed = 50 * time.Millisecond
	t.Cleanup(func() { recentlyUsed = old })
	srv := redistest.Start(t)
	opts, err := ParseURL("redis://" + srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewUniversalClient(opts)
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// Close every client connection from Redis's side but this one's own.
	admin := srv.Client(t)
	if err := admin.Do(ctx, "CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * recentlyUsed)
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("a command after Redis closed the idle pool's connections: %v", err)
	}
}

// TestRecentConnSkipsTheCheckOnlyWhileRecent: the socket handed to the
// liveness check does nothing while the connection was used within
// recentlyUsed, and is the real one after.
func TestRecentConnSkipsTheCheckOnlyWhileRecent(t *testing.T) {
	srv := redistest.Start(t)
	c, err := dialer(nil)(context.Background(), "tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, ok := c.(*recentConn)
	if !ok {
		t.Fatalf("a TCP connection is not wrapped: %T", c)
	}
	if raw, _ := rc.SyscallConn(); raw != (alive{}) {
		t.Fatalf("a connection just made is checked: %T", raw)
	}
	rc.used.Store(time.Now().Add(-2 * recentlyUsed).UnixNano())
	if raw, _ := rc.SyscallConn(); raw == (alive{}) {
		t.Fatal("an idle connection is not checked")
	}
}
