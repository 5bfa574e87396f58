package maintenance

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
)

// startStoredAfterRead is a store whose read of a missing start job
// stores it as its sweeps left it: what another replica does between an
// Arm's read and its write (its Arm, then its dispatcher sweeping).
type startStoredAfterRead struct {
	store.Store
	swept string
}

func (s *startStoredAfterRead) GetJob(ctx context.Context, kind, key string) (*store.Job, error) {
	j, err := s.Store.GetJob(ctx, kind, key)
	if errors.Is(err, store.ErrNotFound) && strings.HasPrefix(key, "start/") {
		if perr := s.Store.PutJob(ctx, store.Job{Kind: kind, Key: key, Due: time.Date(2025, 10, 14, 0, 0, 0, 0, time.UTC), Data: []byte(s.swept)}); perr != nil {
			return nil, perr
		}
	}
	return j, err
}

// TestArmKeepsAStartJobSweptSinceItsRead: Arm finds a window's start job
// missing; before it stores one, another replica's dispatcher runs it and
// its sweeps are done. Arm keeps that job. (Before: it wrote a fresh start
// job over it, and the window swept the open incidents again from the
// first pass, as Rearm and the Done mark are there to prevent.)
func TestArmKeepsAStartJobSweptSinceItsRead(t *testing.T) {
	cfg := windowsConfig(t, `
  - {name: a, services: [api], start: "2025-10-13T22:00:00Z", end: "2025-10-14T00:00:00Z"}
`)
	db, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const swept = `{"op":"start","done":true,"name":"a"}`
	st := &startStoredAfterRead{Store: db, swept: swept}
	now := time.Date(2025, 10, 13, 22, 0, 1, 0, time.UTC)
	w := New(Options{Store: st, Config: func() *policy.Config { return cfg }, Now: func() time.Time { return now }})
	if err := w.Arm(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	j, err := db.GetJob(context.Background(), JobKind, startKey(cfg.Maintenance[0].ID()))
	if err != nil || string(j.Data) != swept {
		t.Fatalf("the start job after Arm: %+v %v; want the one swept meanwhile, %s", j, err, swept)
	}
}
