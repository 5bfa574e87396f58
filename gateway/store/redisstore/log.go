package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Logger is go-redis's logger (redis.SetLogger) writing through slog,
// so its own lines (a dial that failed during an outage, a Sentinel
// failover) are JSON objects in pagerd's log like every other line, not
// raw text that breaks the log parser exactly when an outage is being
// investigated. They are warnings: go-redis logs only what went wrong or
// changed.
type Logger struct {
	Log *slog.Logger
}

// Printf logs one go-redis line. go-redis formats addresses and errors, never
// credentials.
func (l Logger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	l.Log.WarnContext(ctx, "redis client: "+strings.TrimPrefix(msg, "redis: "), "component", "go-redis")
}
