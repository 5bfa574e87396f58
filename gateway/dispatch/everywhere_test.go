package dispatch

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
)

// scopedClaims records the dispatcher's claims, and which of them it
// asked to look everywhere (store.ScopedClaimer).
type scopedClaims struct {
	store.Store
	mu    sync.Mutex
	looks []look
}

type look struct {
	at         time.Time
	everywhere bool
}

func (s *scopedClaims) ClaimDueNextScoped(ctx context.Context, now time.Time, lease time.Duration, max int, everywhere bool) ([]store.Claim, time.Time, bool, bool, error) {
	s.mu.Lock()
	s.looks = append(s.looks, look{time.Now(), everywhere})
	s.mu.Unlock()
	return store.ClaimDueNext(ctx, s.Store, now, lease, max)
}

// since is the looks from start on.
func (s *scopedClaims) since(start time.Time) []look {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []look
	for _, l := range s.looks {
		if !l.at.Before(start) {
			out = append(out, l)
		}
	}
	return out
}

// TestClaimsEverywhereAtLeastEveryMaxSleep: the claims that wakes ask for
// read only the shards where the store knows something may be due, so
// an entry another process wrote without a nudge (a tool, a replica that
// died before its dispatcher looked) is found only by a claim everywhere.
// Before, every look was one, and a look came at least every MaxSleep;
// so a claim everywhere still comes at least every MaxSleep, under a
// flood of wakes as when a single wake between two of them resets the
// dispatcher's sleep.
func TestClaimsEverywhereAtLeastEveryMaxSleep(t *testing.T) {
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const maxSleep = 300 * time.Millisecond
	const slack = 100 * time.Millisecond // a busy machine's timers
	cs := &scopedClaims{Store: st}
	d := New(Options{Store: cs, Config: func() *policy.Config { return &policy.Config{} }, Now: time.Now,
		MaxSleep: maxSleep, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	defer func() { cancel(); <-ran }()

	// A flood of wakes for 4 MaxSleeps.
	start := time.Now()
	for time.Since(start) < 4*maxSleep {
		d.Wake()
		time.Sleep(2 * time.Millisecond)
	}
	looks := cs.since(start)
	var everywhere []time.Time
	scoped := 0
	for _, l := range looks {
		if l.everywhere {
			everywhere = append(everywhere, l.at)
		} else {
			scoped++
		}
	}
	if scoped == 0 {
		t.Fatalf("%d looks in a flood of wakes, none of them scoped", len(looks))
	}
	if len(everywhere) < 3 {
		t.Fatalf("%d looks everywhere over %v of wakes, want one at least every %v", len(everywhere), 4*maxSleep, maxSleep)
	}
	for i := 1; i < len(everywhere); i++ {
		if gap := everywhere[i].Sub(everywhere[i-1]); gap > maxSleep+slack {
			t.Errorf("looks everywhere %v apart in a flood of wakes, want at most %v", gap.Round(time.Millisecond), maxSleep)
		}
	}

	// Quiet, but for one wake between two looks everywhere: its scoped
	// look must not put the next look everywhere off by a MaxSleep.
	var first time.Time
	for deadline := time.Now().Add(5 * maxSleep); first.IsZero(); {
		if time.Now().After(deadline) {
			t.Fatal("no look everywhere in 5 MaxSleeps")
		}
		for _, l := range cs.since(everywhere[len(everywhere)-1].Add(time.Millisecond)) {
			if l.everywhere {
				first = l.at
				break
			}
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(time.Until(first.Add(maxSleep * 6 / 10)))
	d.Wake()
	time.Sleep(maxSleep + 2*slack)
	var next time.Time
	for _, l := range cs.since(first.Add(time.Millisecond)) {
		if l.everywhere {
			next = l.at
			break
		}
	}
	if next.IsZero() || next.Sub(first) > maxSleep+slack {
		t.Errorf("after a wake between looks everywhere, the next look everywhere came %v after the last, want at most %v", next.Sub(first).Round(time.Millisecond), maxSleep)
	}
}
