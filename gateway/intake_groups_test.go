package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
)

// slowDiskStore answers each Trigger only at the next tick of a disk that
// commits every `every`, as a store with group commit on a disk whose fsync
// takes that long: the writes waiting at a tick are answered together.
type slowDiskStore struct {
	store.Store
	every time.Duration
}

func (s *slowDiskStore) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	id, out, err := s.Store.Trigger(ctx, inc, tl)
	if err != nil {
		return id, out, err
	}
	now := time.Now()
	select {
	case <-time.After(now.Truncate(s.every).Add(s.every).Sub(now)):
		return id, out, nil
	case <-ctx.Done():
		return "", 0, fmt.Errorf("%w: %w: %w", store.ErrUnavailable, store.ErrOutcomeUnknown, ctx.Err())
	}
}

// TestFingerprintNotificationOnASlowDiskIsStoredWhole: in fingerprint mode
// a notification of 100 firing alerts is 100 incidents. Each waited for
// its own commit, one after another: with a commit every 60 ms that is 6 s,
// past the request's budget (3 s here, 5 s in the daemon), and the answer
// was a 503 with the alerts at the notification's tail never stored; its
// retry did the same writes again and ran out at the same place, so those
// alerts never paged. Stored at once they share commits, and all 100 are
// stored within the budget.
func TestFingerprintNotificationOnASlowDiskIsStoredWhole(t *testing.T) {
	shortDeadline(t, 3*time.Second)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(&slowDiskStore{Store: open(t), every: 60 * time.Millisecond}), withConfig(noStorm))
			statuses := make([]string, ingest.MaxIncidentsPerMessage)
			for i := range statuses {
				statuses[i] = "firing"
			}
			start := time.Now()
			r := h.do("POST", "/api/v1/alertmanager", mixedAlerts("firing", "g-slow", statuses), "Authorization", "Bearer "+batchKey)
			took := time.Since(start)
			if r.code != 200 {
				t.Fatalf("notification of %d alerts answered %d after %v: %.300s", len(statuses), r.code, took.Round(time.Millisecond), r.body)
			}
			open := map[string]bool{}
			for _, v := range h.list("?service=batch&limit=1000") {
				if v.Status != "resolved" {
					open[v.DedupKey] = true
				}
			}
			if len(open) != len(statuses) {
				t.Fatalf("%d incidents open, want %d (one an alert)", len(open), len(statuses))
			}
			t.Logf("%d alerts stored in %v", len(statuses), took.Round(time.Millisecond))
		})
	}
}

// TestFingerprintNotificationAnswersIncidentsInOrder: stored at once, the
// groups are still answered in the notification's order, so whoever sends
// one by hand reads its incidents as its alerts.
func TestFingerprintNotificationAnswersIncidentsInOrder(t *testing.T) {
	h := newHarness(t, withConfig(noStorm))
	statuses := []string{"firing", "firing", "firing", "firing", "firing", "firing", "firing", "firing", "firing", "firing", "firing", "firing"}
	var ans struct{ Incidents []string }
	r := h.do("POST", "/api/v1/alertmanager", mixedAlerts("firing", "g-order", statuses), "Authorization", "Bearer "+batchKey)
	if r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	r.json(t, &ans)
	if len(ans.Incidents) != len(statuses) {
		t.Fatalf("answer names %d incidents, want %d: %s", len(ans.Incidents), len(statuses), r.body)
	}
	for i, id := range ans.Incidents {
		v := h.incident(id)
		if want := fmt.Sprintf(`"job":"job-%05d"`, i); !strings.Contains(string(v.Details), want) {
			t.Errorf("incident %d of the answer (%s) is %.200s, want the alert of %s", i, id, v.Details, want)
		}
	}
}
