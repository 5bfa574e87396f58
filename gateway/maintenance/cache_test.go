package maintenance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// failingDocs is a store whose documents cannot be read.
type failingDocs struct {
	store.Store
	reads int
}

func (f *failingDocs) ListDocs(context.Context, string) (map[string][]byte, int64, error) {
	f.reads++
	return nil, 0, errors.New("store down")
}

// While the store fails, alerts do not each wait on a read of it under
// the lock, and the streak is logged once.
func TestHoldReadsAFailingStoreOncePerCacheFor(t *testing.T) {
	st := &failingDocs{}
	var logs bytes.Buffer
	w := New(Options{Store: st, Config: func() *policy.Config { return &policy.Config{} }, CacheFor: time.Minute,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for i := 0; i < 100; i++ {
		if h := w.Hold(context.Background(), "api", nil, time.Now(), nil); h != nil {
			t.Fatalf("held by %+v with no window ever read", h)
		}
	}
	if st.reads != 1 {
		t.Errorf("%d reads of the store for 100 alerts within CacheFor, want 1", st.reads)
	}
	if n := strings.Count(logs.String(), "maintenance windows not read"); n != 1 {
		t.Errorf("%d log lines for one failure streak, want 1:\n%s", n, logs.String())
	}
}

// slowDocs is a store whose window reads wait, while blocked, until they
// are released or their context ends.
type slowDocs struct {
	store.Store
	mu      sync.Mutex
	name    string        // of the one window stored, covering "api"
	blocked chan struct{} // nil when reads answer at once
	entered chan struct{} // told of every read that waits
}

func (s *slowDocs) ListDocs(ctx context.Context, _ string) (map[string][]byte, int64, error) {
	s.mu.Lock()
	name, blocked := s.name, s.blocked
	s.mu.Unlock()
	if blocked != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		select {
		case <-blocked:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	now := time.Now()
	b, _ := json.Marshal(Window{ID: "mw-1", Name: name, Services: []string{"api"}, Start: now.Add(-time.Hour),
		End: now.Add(time.Hour), Source: "api"})
	return map[string][]byte{"mw-1": b}, 1, nil
}

// block makes reads wait until the returned func is called.
func (s *slowDocs) block() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.blocked = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.blocked = nil
			s.mu.Unlock()
			close(ch)
		})
	}
}

func (s *slowDocs) rename(name string) {
	s.mu.Lock()
	s.name = name
	s.mu.Unlock()
}

// holdWithin calls Hold and fails the test when it does not return
// within d.
func holdWithin(t *testing.T, w *Windows, ctx context.Context, d time.Duration) *policy.Hold {
	t.Helper()
	got := make(chan *policy.Hold, 1)
	go func() { got <- w.Hold(ctx, "api", nil, time.Now(), nil) }()
	select {
	case h := <-got:
		return h
	case <-time.After(d):
		t.Fatalf("Hold did not return within %s", d)
		return nil
	}
}

// With windows cached, an alert that finds the cache stale while the
// store is slow does not wait for the store: it and every other alert use
// the windows last read until the one refresh answers.
func TestHoldUsesTheCacheWhileARefreshWaits(t *testing.T) {
	st := &slowDocs{name: "before", entered: make(chan struct{}, 1)}
	w := New(Options{Store: st, Config: func() *policy.Config { return &policy.Config{} }, CacheFor: 10 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	if h := holdWithin(t, w, context.Background(), 5*time.Second); h == nil || h.Name != "before" {
		t.Fatalf("first Hold = %+v, want the window %q", h, "before")
	}
	release := st.block()
	t.Cleanup(release)
	st.rename("after")
	time.Sleep(20 * time.Millisecond) // the cache is stale
	for i := 0; i < 2; i++ {
		if h := holdWithin(t, w, context.Background(), time.Second); h == nil || h.Name != "before" {
			t.Fatalf("Hold %d during the refresh = %+v, want the cached window %q", i, h, "before")
		}
	}
	release()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if h := holdWithin(t, w, context.Background(), time.Second); h != nil && h.Name == "after" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the refresh never replaced the cached windows")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A sender that hangs up while the first read of the windows waits does
// not fail that read for the alerts waiting with it: the read is the
// cache's, under a context of its own.
func TestHoldRefreshOutlivesTheRequest(t *testing.T) {
	st := &slowDocs{name: "mw", entered: make(chan struct{}, 1)}
	release := st.block()
	t.Cleanup(release)
	w := New(Options{Store: st, Config: func() *policy.Config { return &policy.Config{} }, CacheFor: time.Minute,
		Logger: slog.New(slog.DiscardHandler)})
	gone, cancel := context.WithCancel(context.Background())
	first := make(chan *policy.Hold, 1)
	go func() { first <- w.Hold(gone, "api", nil, time.Now(), nil) }()
	select {
	case <-st.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first Hold never read the store")
	}
	cancel()
	if h := <-first; h != nil {
		t.Errorf("Hold of a request gone = %+v, want nil", h)
	}
	second := make(chan *policy.Hold, 1)
	go func() { second <- w.Hold(context.Background(), "api", nil, time.Now(), nil) }()
	time.Sleep(20 * time.Millisecond) // the second alert waits for the read
	release()
	select {
	case h := <-second:
		if h == nil || h.Name != "mw" {
			t.Fatalf("Hold of the alert waiting with it = %+v, want the window %q", h, "mw")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second Hold did not return")
	}
}

// A cache older than CacheFor and a refresh together (a replica no alert
// reached for a while) is not used while it is read again: the alert
// waits for the read. Settle's second sweep allows for a view that stale
// and no more. (Before: any cache was used, hours old on a quiet replica,
// so a window deleted on another replica held its next alert until the
// window's old end, with no sweep left to release it.)
func TestHoldWaitsForTheReadOfACacheTooOld(t *testing.T) {
	st := &slowDocs{name: "before", entered: make(chan struct{}, 1)}
	w := New(Options{Store: st, Config: func() *policy.Config { return &policy.Config{} }, CacheFor: 10 * time.Millisecond,
		RefreshTimeout: 30 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if h := holdWithin(t, w, context.Background(), 5*time.Second); h == nil || h.Name != "before" {
		t.Fatalf("first Hold = %+v, want the window %q", h, "before")
	}
	st.rename("after")
	time.Sleep(60 * time.Millisecond) // past CacheFor and RefreshTimeout
	if h := holdWithin(t, w, context.Background(), 5*time.Second); h == nil || h.Name != "after" {
		t.Fatalf("Hold on a cache older than CacheFor+RefreshTimeout = %+v, want the window as stored now (%q)", h, "after")
	}
	if got, want := w.Settle(), 2*10*time.Millisecond+30*time.Millisecond; got != want {
		t.Fatalf("Settle = %s, want %s", got, want)
	}
}
