package dispatch

import (
	"context"
	"errors"
	"fmt"
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

// TestStillDueReadTimedOutAcrossAStallIsMadeAgain: a replica stopped with
// a page's still-due read on its way (the fault soak, seed 556741321),
// and the read's second ran out while it did not run: it failed on its
// deadline, and a read that runs out of time is not made again, so the
// page went out, 2.4 s after its incident was acknowledged meanwhile. The
// time went to the stall, not to the store: the read is made once more.
// One that runs out of time with no stall is still not.
func TestStillDueReadTimedOutAcrossAStallIsMadeAgain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stall time.Duration
		reads int32
	}{
		{"the process stalled during the read", 2 * time.Second, 2},
		{"no stall", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stalled atomic.Int64
			was := timeNotRunning
			timeNotRunning = func() time.Duration { return time.Duration(stalled.Load()) }
			t.Cleanup(func() { timeNotRunning = was })
			var reads atomic.Int32
			acked := &store.Incident{ID: "acked"}
			read := func(ctx context.Context) (*store.Incident, error) {
				if reads.Add(1) > 1 {
					return acked, nil
				}
				stalled.Add(int64(tc.stall)) // the stall watch moves while the read waits
				return nil, fmt.Errorf("%w: redis: %w", store.ErrUnavailable, context.DeadlineExceeded)
			}
			inc, err := readTwice(context.Background(), read)
			if reads.Load() != tc.reads {
				t.Fatalf("%d reads (%v, %v), want %d", reads.Load(), inc, err, tc.reads)
			}
			if tc.reads == 2 && (err != nil || inc != acked) {
				t.Fatalf("the read made again answered %v, %v; want the incident", inc, err)
			}
		})
	}
}
