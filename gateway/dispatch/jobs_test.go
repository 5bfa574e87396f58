package dispatch

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
)

// TestJobsRunOnceAcrossReplicas: a job is done by exactly one of three
// dispatchers, at its time, and its handler's next run is stored and done
// in turn; a job of a kind nobody handles is dropped, not retried forever.
func TestJobsRunOnceAcrossReplicas(t *testing.T) {
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := base
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var runs atomic.Int64
	handler := func(ctx context.Context, j *store.Job) (*store.Job, error) {
		n := runs.Add(1)
		if n >= 2 {
			return nil, nil
		}
		return &store.Job{Due: j.Due.Add(time.Hour), Data: j.Data}, nil
	}
	var ds []*Dispatcher
	for i := 0; i < 3; i++ {
		ds = append(ds, New(Options{Store: st, Config: func() *policy.Config { return &policy.Config{} }, Now: clock,
			Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Jobs: map[string]JobHandler{"notice": handler}}))
	}
	ctx := context.Background()
	if err := st.PutJob(ctx, store.Job{Kind: "notice", Key: "aivo", Due: base.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutJob(ctx, store.Job{Kind: "gone", Key: "x", Due: base.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	step := func(at time.Time) {
		mu.Lock()
		now = at
		mu.Unlock()
		var wg sync.WaitGroup
		for _, d := range ds {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = d.RunOnce(ctx) }()
		}
		wg.Wait()
	}
	step(base.Add(59 * time.Second))
	if runs.Load() != 0 {
		t.Fatal("a job ran before its time")
	}
	step(base.Add(time.Minute))
	if runs.Load() != 1 {
		t.Fatalf("%d runs at the job's time, want 1", runs.Load())
	}
	if _, err := st.GetJob(ctx, "gone", "x"); err == nil {
		t.Fatal("a job nothing handles was kept")
	}
	step(base.Add(time.Hour))
	if runs.Load() != 1 {
		t.Fatal("the next run came early")
	}
	step(base.Add(time.Hour + time.Minute))
	if runs.Load() != 2 {
		t.Fatalf("%d runs after the next run's time, want 2", runs.Load())
	}
	if _, err := st.GetJob(ctx, "notice", "aivo"); err == nil {
		t.Fatal("a job whose handler said it is done was kept")
	}
}
