package overrides_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/overrides"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
)

// slowFirstPut commits the first PutDocs, then holds its answer until
// released (a slow network answer from Redis, a scheduler pause).
type slowFirstPut struct {
	store.Docs
	once      sync.Once
	committed chan struct{}
	release   chan struct{}
}

func (s *slowFirstPut) PutDocs(ctx context.Context, kind string, version int64, put map[string][]byte, del []string) (int64, error) {
	ver, err := s.Docs.PutDocs(ctx, kind, version, put, del)
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.committed)
		<-s.release
	}
	return ver, err
}

// TestTwoLocalWritesKeepBoth: two overrides made on one replica, the
// first's store answer arriving after the second was made and taken in.
// Both are stored (the second wrote on top of the first, at the store's
// next version); both are in force on this replica: a write is taken in
// by the store's version, not by when its answer came (the first's older
// list, without the second, replaced it).
func TestTwoLocalWritesKeepBoth(t *testing.T) {
	ctx := context.Background()
	bs, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	st := &slowFirstPut{Docs: bs, committed: make(chan struct{}), release: make(chan struct{})}
	cfg := config(t)
	s := overrides.New(overrides.Options{Store: st, Config: func() *policy.Config { return cfg },
		Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)})
	done := make(chan error, 1)
	go func() {
		_, err := s.Create(ctx, "s", overrides.Request{Tier: "primary", User: "cat", Start: now, End: now.Add(4 * time.Hour)}, "api:a")
		done <- err
	}()
	<-st.committed
	if _, err := s.Create(ctx, "s", overrides.Request{Tier: "secondary", User: "cat", Start: now, End: now.Add(4 * time.Hour)}, "api:b"); err != nil {
		t.Fatal(err)
	}
	close(st.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p, sec := holder(t, s, "primary", now.Add(time.Hour)), holder(t, s, "secondary", now.Add(time.Hour))
	if p.User != "cat" || sec.User != "cat" {
		t.Fatalf("both overrides are stored, but this replica pages primary %s, secondary %s (want cat, cat)", p.User, sec.User)
	}
}
