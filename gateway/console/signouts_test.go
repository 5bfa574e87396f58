package console

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// memDocs is store.Docs in memory, counting reads, that can stop
// answering.
type memDocs struct {
	mu    sync.Mutex
	docs  map[string][]byte
	ver   int64
	reads int
	down  bool
}

func (m *memDocs) ListDocs(_ context.Context, kind string) (map[string][]byte, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.down {
		return nil, 0, store.ErrUnavailable
	}
	out := map[string][]byte{}
	for k, v := range m.docs {
		out[k] = v
	}
	return out, m.ver, nil
}

func (m *memDocs) PutDocs(_ context.Context, kind string, version int64, put map[string][]byte, del []string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return 0, store.ErrUnavailable
	}
	if version != m.ver {
		return 0, store.ErrConflict
	}
	if m.docs == nil {
		m.docs = map[string][]byte{}
	}
	for k, v := range put {
		m.docs[k] = v
	}
	for _, k := range del {
		delete(m.docs, k)
	}
	m.ver++
	return m.ver, nil
}

// TestSignoutsWhileTheStoreIsDown: with the store down, the sign-outs
// read before still count, the store is asked again once per
// signoutCache (not by every request, each waiting out its timeout), the
// fault is logged once, and a sign-out fails rather than claiming to be
// kept.
func TestSignoutsWhileTheStoreIsDown(t *testing.T) {
	var logs bytes.Buffer
	clock := &testClock{t: time.Date(2025, 9, 12, 10, 0, 0, 0, time.UTC)}
	docs := &memDocs{}
	s := signouts{docs: docs, now: clock.Now, log: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx := context.Background()
	before := clock.Now().UnixNano()
	clock.Add(time.Minute)
	if err := s.record(ctx, "ann", clock.Now()); err != nil {
		t.Fatal(err)
	}
	if !s.ended(ctx, "ann", before) || s.ended(ctx, "ann", clock.Now().UnixNano()+1) || s.ended(ctx, "bob", before) {
		t.Fatal("a sign-out ends the sessions of that user begun before it, and only those")
	}

	docs.mu.Lock()
	docs.down = true
	docs.mu.Unlock()
	clock.Add(signoutCache)
	reads := docs.reads
	for range 50 {
		if !s.ended(ctx, "ann", before) {
			t.Fatal("with the store down, a sign-out read before no longer counts")
		}
		if s.ended(ctx, "bob", before) {
			t.Fatal("with the store down, a session no sign-out is known to end is refused")
		}
	}
	if got := docs.reads - reads; got != 1 {
		t.Errorf("50 requests with the store down asked it %d times, want once per %s", got, signoutCache)
	}
	if n := strings.Count(logs.String(), "sign-outs not read from the store"); n != 1 {
		t.Errorf("the fault is logged %d times, want once:\n%s", n, logs.String())
	}
	if err := s.record(ctx, "bob", clock.Now()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("a sign-out the store did not take: %v, want its error", err)
	}

	docs.mu.Lock()
	docs.down = false
	docs.mu.Unlock()
	clock.Add(signoutCache)
	if !s.ended(ctx, "ann", before) || !strings.Contains(logs.String(), "sign-outs read from the store again") {
		t.Errorf("the store back: not read again, or not logged:\n%s", logs.String())
	}
}
