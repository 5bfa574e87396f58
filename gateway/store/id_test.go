package store

import (
	"testing"
	"time"
)

// TestMillisOfID: the time NewID is given is read back from the id, to
// the millisecond, in every shard; what is not an id reads as none.
func TestMillisOfID(t *testing.T) {
	for _, at := range []time.Time{time.Unix(0, 0), time.Date(2026, 12, 3, 22, 5, 1, 999_999_999, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)} {
		for _, shard := range []int{0, 7, Shards - 1} {
			id := NewID(shard, at)
			if ms, ok := MillisOfID(id); !ok || ms != at.UnixMilli() {
				t.Errorf("%s (made at %s): %d, %v; want %d", id, at, ms, ok, at.UnixMilli())
			}
		}
	}
	for _, id := range []string{"", "00-", "00x0123456789abcdef", "00-0123", "00-ILOUILOUILOUILOU"} {
		if ms, ok := MillisOfID(id); ok {
			t.Errorf("%q read as an id made at %d", id, ms)
		}
	}
}
