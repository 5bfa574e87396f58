package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
)

// twoReplicas opens two stores on one new Redis, as two replicas have.
func twoReplicas(t *testing.T) (a, b *redisstore.Store) {
	t.Helper()
	srv := redistest.Start(t)
	open := func() *redisstore.Store {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		t.Cleanup(func() { rdb.Close() })
		return redisstore.New(rdb, "t")
	}
	return open(), open()
}

// TestBroadcastTopicsApart: the dispatcher's nudges and each broadcast
// topic are channels of their own, so an alert storm's nudges wake no
// overrides listener, and an overrides change wakes no dispatcher; two
// stores on one Redis (two replicas) hear each other.
func TestBroadcastTopicsApart(t *testing.T) {
	a, b := twoReplicas(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nudges, overrides, other := b.Nudges(ctx), b.Broadcasts(ctx, "overrides"), b.Broadcasts(ctx, "other")
	// Subscribed once a broadcast of its own arrives.
	waitFor := func(what string, ch <-chan struct{}, send func() error) {
		t.Helper()
		deadline := time.After(2 * time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := send(); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			select {
			case <-ch:
				return
			case <-tick.C:
			case <-deadline:
				t.Fatalf("%s never arrived", what)
			}
		}
	}
	waitFor("a nudge", nudges, func() error { return a.Nudge(ctx) })
	waitFor("an overrides broadcast", overrides, func() error { return a.Broadcast(ctx, "overrides") })
	waitFor("another topic's broadcast", other, func() error { return a.Broadcast(ctx, "other") })
	drain := func() {
		time.Sleep(100 * time.Millisecond)
		for _, ch := range []<-chan struct{}{nudges, overrides, other} {
			select {
			case <-ch:
			default:
			}
		}
	}
	quiet := func(what string, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
			t.Errorf("%s woke", what)
		case <-time.After(200 * time.Millisecond):
		}
	}

	drain()
	for i := 0; i < 20; i++ {
		if err := a.Nudge(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor("a nudge", nudges, func() error { return nil })
	quiet("the overrides topic, at the dispatcher's nudges,", overrides)
	quiet("another topic, at the dispatcher's nudges,", other)

	drain()
	if err := a.Broadcast(ctx, "overrides"); err != nil {
		t.Fatal(err)
	}
	waitFor("an overrides broadcast", overrides, func() error { return nil })
	quiet("the dispatcher, at an overrides broadcast,", nudges)
	quiet("another topic, at an overrides broadcast,", other)
}

// TestNudgesSkipTheirOwn: a replica's nudges wake the other replicas'
// dispatchers and not its own (the daemon wakes that one itself): at a
// steady 1,000 alerts a second each came back to it as a message to read
// and a wake of a dispatcher already awake.
func TestNudgesSkipTheirOwn(t *testing.T) {
	a, b := twoReplicas(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	atA, atB := a.Nudges(ctx), b.Nudges(ctx)
	// Both subscribed once each has heard the other.
	heard := func(what string, ch <-chan struct{}, from *redisstore.Store) {
		t.Helper()
		deadline := time.After(2 * time.Second)
		for {
			if err := from.Nudge(ctx); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			select {
			case <-ch:
				return
			case <-time.After(20 * time.Millisecond):
			case <-deadline:
				t.Fatalf("%s never arrived", what)
			}
		}
	}
	heard("b's nudge at a", atA, b)
	heard("a's nudge at b", atB, a)
	time.Sleep(100 * time.Millisecond)
	for _, ch := range []<-chan struct{}{atA, atB} {
		select {
		case <-ch:
		default:
		}
	}

	for range 20 {
		if err := a.Nudge(ctx); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-atB:
	case <-time.After(2 * time.Second):
		t.Fatal("a's nudges never reached b")
	}
	select {
	case <-atA:
		t.Fatal("a's own nudges woke a")
	case <-time.After(200 * time.Millisecond):
	}
}
