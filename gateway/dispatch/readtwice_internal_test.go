package dispatch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
)

// TestStillDueReadRefusedIsNotMadeAgain: a Redis that refuses
// connections (killed, or not restarted yet) fails a still-due read only
// after go-redis has dialed it five times, 100 ms apart (DialerRetries,
// DialerRetryTimeout: about 400 ms with the client serve builds). Made once
// more, the read dialed five times again, and the page waited about 800 ms
// for an answer the first try had given: nothing listens. A read that
// failed on a connection a restart closed (EOF) is still made again.
func TestStillDueReadRefusedIsNotMadeAgain(t *testing.T) {
	srv := redistest.Start(t)
	s, err := redisstore.Open(context.Background(), srv.URL(), "rt", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	id := store.NewID(0, time.Now())
	var reads atomic.Int32
	read := func(ctx context.Context) (*store.Incident, error) {
		reads.Add(1)
		return s.Get(ctx, id)
	}
	// A pooled connection, which the restart closes: EOF, made again.
	if _, err := readTwice(context.Background(), read); err == nil {
		t.Fatal("read an incident never stored")
	}
	srv.Kill(t)
	srv.Restart(t)
	reads.Store(0)
	if _, err := readTwice(context.Background(), read); reads.Load() != 2 || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after a restart: %d reads (%v), want 2: the first on the closed connection, the second answered", reads.Load(), err)
	}
	srv.Kill(t)
	// Drop the pooled connection the kill closed: the next read dials.
	_, _ = s.Get(context.Background(), id)
	reads.Store(0)
	t0 := time.Now()
	_, err = readTwice(context.Background(), read)
	if err == nil || reads.Load() != 1 {
		t.Fatalf("Redis refusing connections: %d reads in %v (%v), want 1: the client dialed five times already", reads.Load(), time.Since(t0), err)
	}
}
