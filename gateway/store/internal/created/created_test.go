package created

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// TestCacheDropsTheOldest: a full cache drops the incident kept first,
// and hands each over once.
func TestCacheDropsTheOldest(t *testing.T) {
	cc := NewCache[*store.Incident](2)
	for _, id := range []string{"a", "b", "c"} {
		cc.Keep(id, &store.Incident{ID: id})
	}
	_, a := cc.Peek("a")
	_, b := cc.Peek("b")
	_, c := cc.Peek("c")
	if a || !b || !c || cc.Len() != 2 {
		t.Errorf("kept a %v, b %v, c %v (%d); want b and c", a, b, c, cc.Len())
	}
	if got, ok := cc.Take("b"); !ok || got.ID != "b" {
		t.Errorf("Take(b) = %v, %v", got, ok)
	}
	if _, ok := cc.Take("b"); ok {
		t.Error("b was handed over twice")
	}
	cc.Drop("c")
	if cc.Len() != 0 {
		t.Errorf("%d kept after dropping the last", cc.Len())
	}
}

// TestCreatedCopySharesWhatTheCallerHandsOver: an incident as the intake
// makes it (times UTC to the millisecond) is kept for its claim sharing
// its details and State's slices, which the caller hands over with it
// (store.Store.Trigger), and copying its own fields only: one allocation,
// where the deep copy made four and copied its deadlines. A deadline at
// another zone is still copied, and made UTC.
func TestCreatedCopySharesWhatTheCallerHandsOver(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	inc := &store.Incident{ID: "01-x", Service: "db", DedupKey: "am:x", Source: "alertmanager", CreatedAt: now, UpdatedAt: now,
		LastSeen: now, Details: json.RawMessage(`{"n":1}`), State: policy.Incident{Status: "triggered", TriggeredAt: now,
			PageImmediately: []string{"1.1"}, LevelPages: []string{"1.1"}, Held: []policy.HeldSpan{{From: now}},
			Pending: []policy.Deadline{{ID: "1.1", At: now, Kind: "notify"}, {ID: "1.2", At: now.Add(time.Minute), Kind: "escalate"}}}}
	got, ok := CanonicalCopy(inc)
	if !ok || got == inc {
		t.Fatalf("canonicalCopy: %v, ok %v", got, ok)
	}
	if &got.State.Pending[0] != &inc.State.Pending[0] || &got.Details[0] != &inc.Details[0] || &got.State.Held[0] != &inc.State.Held[0] ||
		&got.State.LevelPages[0] != &inc.State.LevelPages[0] || &got.State.PageImmediately[0] != &inc.State.PageImmediately[0] {
		t.Error("the copy does not share the details and slices the caller handed over")
	}
	if n := testing.AllocsPerRun(100, func() { CanonicalCopy(inc) }); n != 1 && !raceEnabled {
		t.Errorf("canonicalCopy allocates %.0f times, want 1 (the incident's own fields)", n)
	}

	inc.State.Pending[1].At = now.In(time.FixedZone("Z0", 0))
	got, ok = CanonicalCopy(inc)
	if !ok || &got.State.Pending[0] == &inc.State.Pending[0] || got.State.Pending[1].At.Location() != time.UTC ||
		!got.State.Pending[1].At.Equal(now) {
		t.Errorf("a deadline at another zone: shared or not made UTC: %+v", got.State.Pending)
	}
}

// TestCanonicalTime: a time is as decoding gives it only in UTC with no
// monotonic reading, within the years RFC 3339 writes.
func TestCanonicalTime(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want bool
	}{
		{time.Time{}, true},
		{time.Date(2026, 12, 5, 6, 0, 0, 1, time.UTC), true},
		{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), true},
		{time.Date(-1, 12, 31, 23, 59, 59, 999999999, time.UTC), false},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Now(), false}, // Local, and a monotonic reading
		{time.Date(2026, 12, 5, 6, 0, 0, 0, time.FixedZone("Z0", 0)), false},
		{time.Date(2026, 12, 5, 6, 0, 0, 0, time.FixedZone("CET", 3600)), false},
	} {
		if got := CanonicalTime(tc.t); got != tc.want {
			t.Errorf("CanonicalTime(%v) = %v, want %v", tc.t, got, tc.want)
		}
	}
}
