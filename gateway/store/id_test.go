package store

import (
	"fmt"
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
	for _, id := range []string{"", "00-", "00x0123456789abcdef", "00-0123", "00-ILOUILOUILOUILOU", "00-0123456789abcdefg", "00-0123456789abcde"} {
		if ms, ok := MillisOfID(id); ok {
			t.Errorf("%q read as an id made at %d", id, ms)
		}
	}
	// A storm's flush reads the time of thousands of ids.
	id := NewID(7, time.Now())
	if n := testing.AllocsPerRun(100, func() { MillisOfID(id) }); n != 0 {
		t.Errorf("MillisOfID allocates %v times, want none", n)
	}
}

// TestNewIDFormat: an id is the shard in two hex digits, a dash and its
// time and randomness in 16 characters of Crockford base32, as fmt and
// EncodeToString wrote it, made in one allocation.
func TestNewIDFormat(t *testing.T) {
	at := time.Date(2026, 12, 3, 22, 5, 1, 999_999_999, time.UTC)
	for _, shard := range []int{0, 7, 0x1a, Shards - 1} {
		id := NewID(shard, at)
		if len(id) != 19 || id[:3] != fmt.Sprintf("%02x-", shard) {
			t.Errorf("shard %d: %q", shard, id)
		}
		var b [10]byte
		if n, err := idEncoding.Decode(b[:], []byte(id[3:])); err != nil || n != 10 || idEncoding.EncodeToString(b[:]) != id[3:] {
			t.Errorf("shard %d: %q does not decode: %v", shard, id, err)
		}
		if got, err := ShardOfID(id); err != nil || got != shard {
			t.Errorf("%q: shard %d, %v; want %d", id, got, err, shard)
		}
	}
	if n := testing.AllocsPerRun(100, func() { NewID(3, at) }); n != 1 && !raceEnabled {
		t.Errorf("NewID allocates %.0f times, want 1", n)
	}
}
