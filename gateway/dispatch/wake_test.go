package dispatch

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
)

// countingClaims counts the dispatcher's looks at the due set.
type countingClaims struct {
	store.Store
	claims atomic.Int64
}

func (c *countingClaims) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	c.claims.Add(1)
	return c.Store.ClaimDue(ctx, now, lease, max)
}

// TestWakesInAFloodAreFewClaims: in a flood every alert wakes the
// dispatcher, and a look at the due set for each cost more than the alert
// (every shard read, on Redis): the wakes that come within wakeGap of a
// claim are one claim.
func TestWakesInAFloodAreFewClaims(t *testing.T) {
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs := &countingClaims{Store: st}
	d := New(Options{Store: cs, Config: func() *policy.Config { return &policy.Config{} }, Now: time.Now,
		MaxSleep: time.Hour, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	for cs.claims.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	before := cs.claims.Load()
	start := time.Now()
	for range 400 {
		d.Wake()
		time.Sleep(250 * time.Microsecond)
	}
	time.Sleep(2 * wakeGap) // the last wake's claim
	elapsed := time.Since(start)
	cancel()
	<-ran
	claims := cs.claims.Load() - before
	if most := int64(elapsed/wakeGap) + 2; claims > most {
		t.Errorf("400 wakes over %v made %d claims, want at most %d (one per %v)", elapsed.Round(time.Millisecond), claims, most, wakeGap)
	}
	if claims == 0 {
		t.Error("400 wakes made no claim")
	}
}
