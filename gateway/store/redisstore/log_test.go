package redisstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/logtest"
)

// TestRedisLogsThroughSlog: go-redis's own lines (a dial that fails during
// an outage) come out as JSON through pagerd's logger, not as raw text.
func TestRedisLogsThroughSlog(t *testing.T) {
	logs := &logtest.Buffer{}
	redis.SetLogger(redisstore.Logger{Log: slog.New(slog.NewJSONHandler(logs, nil))})
	t.Cleanup(logging.Enable) // go-redis's default logger again
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("ping to nothing succeeded")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "failed to dial") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	lines := logtest.Lines(t, logs.String())
	found := false
	for _, l := range lines {
		found = found || (l["level"] == "WARN" && l["component"] == "go-redis" && strings.HasPrefix(fmt.Sprint(l["msg"]), "redis client: connection pool: failed to dial"))
	}
	if !found {
		t.Fatalf("go-redis's dial failure is not a JSON warn line:\n%s", logs.String())
	}
}
