package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// stallAfter makes notRunning say the process has not run for stall from
// the first time it is asked after its first answer on: a stall that
// happened after a timeout was set and before it ended. It puts
// notRunning back at the test's end.
func stallAfter(t *testing.T, stall time.Duration) {
	t.Helper()
	var asked atomic.Int32
	was := notRunning
	notRunning = func() time.Duration {
		if asked.Add(1) == 1 {
			return 0
		}
		return stall
	}
	t.Cleanup(func() { notRunning = was })
}

// TestRunningTimeoutIsPutOffByAStall: a timeout of 100 ms whose process
// stalled 400 ms meanwhile ends after 500 ms, not 100, with the cause a
// deadline gives; with no stall it ends at 100 ms all the same.
func TestRunningTimeoutIsPutOffByAStall(t *testing.T) {
	stallAfter(t, 400*time.Millisecond)
	start := time.Now()
	ctx, cancel := WithRunningTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	<-ctx.Done()
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Fatalf("ended after %v, want the 100 ms put off by the 400 ms stall", took)
	}
	if cause := context.Cause(ctx); cause != context.DeadlineExceeded {
		t.Fatalf("cause %v, want context.DeadlineExceeded", cause)
	}

	notRunning = func() time.Duration { return 0 }
	start = time.Now()
	ctx, cancel = WithRunningTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	<-ctx.Done()
	if took := time.Since(start); took >= 400*time.Millisecond || context.Cause(ctx) != context.DeadlineExceeded {
		t.Fatalf("no stall: ended after %v with %v, want 100 ms and a deadline", took, context.Cause(ctx))
	}
}

// TestRunningTimeoutCancelledEndsIt: cancelled before its time, the
// context ends at once as cancelled, and its timer does nothing after.
func TestRunningTimeoutCancelledEndsIt(t *testing.T) {
	ctx, cancel := WithRunningTimeout(context.Background(), 50*time.Millisecond)
	cancel()
	if !errors.Is(context.Cause(ctx), context.Canceled) {
		t.Fatalf("cause %v, want context.Canceled", context.Cause(ctx))
	}
	time.Sleep(100 * time.Millisecond)
	if !errors.Is(context.Cause(ctx), context.Canceled) {
		t.Fatalf("after its time: cause %v, want context.Canceled still", context.Cause(ctx))
	}
}

// TestPageAcrossAStallIsSent: a replica stopped 1.4 s as its page started,
// on a 1 s timeout (the fault soak's one missed page). Its timeout ended
// as it ran again, as Go's transport wrote the request: the trace said it
// was written whole, the connection was closed under it, and the receiver
// never had it. The page was "may have been sent", not tried again, and
// nobody got it. Counted on the time the process ran, the provider has
// its whole time to answer and the page goes out. Here the receiver
// answers after 300 ms on a 100 ms timeout, and the process stalled 1 s
// meanwhile.
func TestPageAcrossAStallIsSent(t *testing.T) {
	stallAfter(t, time.Second)
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		got.Add(1)
		time.Sleep(300 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	if err := NewWebhook(nil, 100*time.Millisecond).Notify(context.Background(), Message{Address: srv.URL + "/hook", Text: "x"}); err != nil || got.Load() != 1 {
		t.Fatalf("%v after %d requests, want the page sent once", err, got.Load())
	}
}

// TestStalledTotalCountsAStallGoingOn: the time not run is the stalls
// the watch noticed (less its tick's own wait), and one it has not ticked
// after yet.
func TestStalledTotalCountsAStallGoingOn(t *testing.T) {
	var w stallWatch
	s := time.Second
	at := func(d time.Duration) func() time.Duration { return func() time.Duration { return d } }
	w.ticked(0, 100*time.Millisecond)
	if got := w.stalledTotal(at(150 * time.Millisecond)); got != 0 {
		t.Fatalf("no stall: %v", got)
	}
	if got := w.stalledTotal(at(100*time.Millisecond + 2*s)); got != 2*s-stallTick {
		t.Fatalf("2 s without a tick: %v, want %v", got, 2*s-stallTick)
	}
	w.ticked(100*time.Millisecond, 100*time.Millisecond+2*s)
	if got := w.stalledTotal(at(150*time.Millisecond + 2*s)); got != 2*s-stallTick {
		t.Fatalf("the stall noticed: %v, want %v", got, 2*s-stallTick)
	}
}

// TestRunningTimeoutHeldAcrossAStallPutsItOffOnce: the page's still-due
// question took 700 ms, 600 of them a stall of the process. The timeout
// (100 ms) is put off by the 700 ms once, not by the stall twice (as lost
// time and as the question's): it ends at about 800 ms, not 1.4 s.
func TestRunningTimeoutHeldAcrossAStallPutsItOffOnce(t *testing.T) {
	var lost atomic.Int64
	start := time.Now()
	ctx, cancel := withRunningTimeout(context.Background(), 100*time.Millisecond, func() time.Duration { return time.Duration(lost.Load()) })
	defer cancel()
	release := holdTimeout(ctx)
	time.Sleep(700 * time.Millisecond)
	lost.Store(int64(600 * time.Millisecond))
	release()
	<-ctx.Done()
	if took := time.Since(start); took < 750*time.Millisecond || took > 1200*time.Millisecond {
		t.Fatalf("ended after %v, want about 800 ms: the 100 ms put off by the 700 ms question once", took)
	}
}
