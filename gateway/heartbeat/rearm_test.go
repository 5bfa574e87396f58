package heartbeat

import (
	"context"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
)

// TestRearmTimes: no re-arm before RearmEvery after the monitor starts
// (the daemon's own Arm comes first, and a re-arm racing it would call the
// jobs it adds lost), one at RearmEvery, and after RetrySoon (notices or
// windows re-armed with the heartbeats were refused) one after rearmRetry,
// not RearmEvery.
func TestRearmTimes(t *testing.T) {
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	m := New(Options{Store: st, Now: func() time.Time { return now }})
	ctx, cfg := context.Background(), &policy.Config{}
	rearm := func(at time.Time) bool {
		t.Helper()
		now = at
		did, err := m.Rearm(ctx, cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		return did
	}
	start := now
	if rearm(start.Add(time.Second)) {
		t.Fatal("re-armed a second after the monitor started")
	}
	if !rearm(start.Add(RearmEvery)) {
		t.Fatal("no re-arm RearmEvery after the start")
	}
	m.RetrySoon()
	if !rearm(start.Add(RearmEvery + rearmRetry)) {
		t.Fatal("no re-arm rearmRetry after RetrySoon")
	}
}
