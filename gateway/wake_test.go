package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
)

// answeredNudger is a store whose nudges each wait for the test's answer
// (nil: the other replicas were nudged), counting those asked.
type answeredNudger struct {
	store.Store
	asked   atomic.Int64
	answers chan error
}

func (n *answeredNudger) Nudge(ctx context.Context) error {
	n.asked.Add(1)
	select {
	case err := <-n.answers:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (n *answeredNudger) Nudges(ctx context.Context) <-chan struct{} { return nil }

var _ store.Nudger = (*answeredNudger)(nil)

// stubbornNudger is a store whose nudge, as go-redis's publish, ends when
// it is answered or at its deadline, not at a cancel.
type stubbornNudger struct {
	store.Store
	asked   atomic.Int64
	release chan struct{}
}

func (n *stubbornNudger) Nudge(ctx context.Context) error {
	n.asked.Add(1)
	<-n.release
	return nil
}

func (n *stubbornNudger) Nudges(ctx context.Context) <-chan struct{} { return nil }

// TestWakeEndsAfterTheNudgeOnItsWay: once its context ends, the waker's
// goroutine says it is done only after the nudge on its way returns, so
// the daemon closes the store after it and not under it (a Redis client
// closed under a publish logs its connection closed while in use).
func TestWakeEndsAfterTheNudgeOnItsWay(t *testing.T) {
	n := &stubbornNudger{release: make(chan struct{})}
	d := &Daemon{store: n, disp: dispatch.New(dispatch.Options{}), log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	wake, done := d.wake(ctx)
	wake()
	waitUntil(t, 5*time.Second, "a nudge on its way", func() bool { return n.asked.Load() == 1 })
	cancel()
	select {
	case <-done:
		t.Fatal("the waker said it was done with its nudge still on its way")
	case <-time.After(50 * time.Millisecond):
	}
	close(n.release)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the waker not done after its nudge returned and its context ended")
	}
}

// TestWakeCoalescesNudgesAndLogsAFailingStreakOnce: the wakes that come
// while a nudge is on its way make one more nudge, not one each; nudges
// that fail in a row are one line, not one each (in an alert storm there
// is a nudge per new incident), and the first that goes through again
// says so; a failure after that starts a new streak, with its own line.
func TestWakeCoalescesNudgesAndLogsAFailingStreakOnce(t *testing.T) {
	n := &answeredNudger{answers: make(chan error)}
	logs := &syncBuffer{}
	d := &Daemon{store: n, disp: dispatch.New(dispatch.Options{}), log: slog.New(slog.NewJSONHandler(logs, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake, _ := d.wake(ctx)
	answer := func(err error) {
		t.Helper()
		select {
		case n.answers <- err:
		case <-time.After(5 * time.Second):
			t.Fatalf("no nudge to answer after %d", n.asked.Load())
		}
	}
	const failed, recovered = "other replicas not nudged; they find new pages at their next look", "other replicas nudged again"
	down := errors.New("redis: connection refused")

	wake()
	waitUntil(t, 5*time.Second, "a nudge on its way", func() bool { return n.asked.Load() == 1 })
	for range 100 {
		wake()
	}
	answer(down)
	answer(down) // the one more the burst made
	select {
	case n.answers <- down:
		t.Fatalf("101 wakes, the last 100 while a nudge was on its way, made %d nudges, want 2", n.asked.Load())
	case <-time.After(100 * time.Millisecond):
	}
	wake()
	answer(nil) // returns once the failures before it are logged
	waitUntil(t, 5*time.Second, "the recovery logged", func() bool { return len(logsSaying(t, logs, recovered)) == 1 })
	if l := logsSaying(t, logs, failed); len(l) != 1 || l[0]["level"] != "WARN" || l[0]["err"] != down.Error() {
		t.Fatalf("two nudges failing in a row logged %d lines saying %q, want 1 at warn with the error:\n%s", len(l), failed, logs)
	}

	wake()
	answer(down)
	waitUntil(t, 5*time.Second, "a new failing streak logged", func() bool { return len(logsSaying(t, logs, failed)) == 2 })
	wake()
	answer(down)
	wake()
	answer(nil)
	waitUntil(t, 5*time.Second, "the second recovery logged", func() bool { return len(logsSaying(t, logs, recovered)) == 2 })
	if l := logsSaying(t, logs, failed); len(l) != 2 {
		t.Fatalf("two failing streaks logged %d lines saying %q, want 2:\n%s", len(l), failed, logs)
	}
}

// instantNudger is a store whose nudges answer at once, counting them.
type instantNudger struct {
	store.Store
	n atomic.Int64
}

func (n *instantNudger) Nudge(ctx context.Context) error { n.n.Add(1); return nil }

func (n *instantNudger) Nudges(ctx context.Context) <-chan struct{} { return nil }

// TestWakePublishesAtMostOneNudgePerGap: alerts a millisecond apart, each
// waking, made a nudge each when the publish took less than that (1,000 a
// second at 1,000 alerts a second); a replica now starts at most one per
// nudgeGap, and the first of a quiet spell at once.
func TestWakePublishesAtMostOneNudgePerGap(t *testing.T) {
	n := &instantNudger{}
	d := &Daemon{store: n, disp: dispatch.New(dispatch.Options{}), log: slog.New(slog.NewJSONHandler(&syncBuffer{}, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake, _ := d.wake(ctx)
	start := time.Now()
	for range 200 {
		wake()
		time.Sleep(500 * time.Microsecond)
	}
	took := time.Since(start)
	waitUntil(t, 5*time.Second, "the last wake's nudge", func() bool { return n.n.Load() > 0 })
	time.Sleep(2 * nudgeGap)
	// At most one per 5 ms, and one more the last wakes left.
	if most := int64(took/(5*time.Millisecond)) + 2; n.n.Load() > most {
		t.Fatalf("200 wakes over %s made %d nudges, want at most %d (one per 5 ms)", took.Round(time.Millisecond), n.n.Load(), most)
	}

	// After a quiet spell the first wake is published at once.
	before := n.n.Load()
	time.Sleep(2 * nudgeGap)
	wake()
	waitUntil(t, time.Second, "a nudge after a quiet spell", func() bool { return n.n.Load() == before+1 })
}

// countedNudges is a Redis store that counts the nudges sent through it.
type countedNudges struct {
	*redisstore.Store
	n atomic.Int64
}

func (c *countedNudges) Nudge(ctx context.Context) error {
	c.n.Add(1)
	return c.Store.Nudge(ctx)
}

// The context New is given ends at SIGTERM, when a shutdown delay begins:
// the replica still takes alerts, and the other replicas must still be
// nudged to page them at once (the nudges stopped with that context).
func TestOtherReplicasNudgedAfterTheStopSignal(t *testing.T) {
	raw, _ := redisStore(t)
	counted := &countedNudges{Store: raw.(*redisstore.Store)}
	signal, stop := context.WithCancel(context.Background())
	h := newHarness(t, withStore(counted), builtWith(signal))
	stop()
	fire(h)
	waitUntil(t, 5*time.Second, "the other replicas nudged of an alert taken after the stop signal", func() bool { return counted.n.Load() > 0 })
}
