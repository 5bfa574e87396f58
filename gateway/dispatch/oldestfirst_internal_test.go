package dispatch

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// TestOldestFirst: a flush's incidents go oldest first by the time their
// ids carry, whatever their shard (the id's first characters), and those
// made in the same millisecond by id.
func TestOldestFirst(t *testing.T) {
	at := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	older := store.NewID(0x1f, at)                       // the highest shard, the oldest
	newer := store.NewID(0x00, at.Add(time.Millisecond)) // the lowest shard, a millisecond later
	same1, same2 := store.NewID(0x05, at), store.NewID(0x03, at)
	m := map[string]int{newer: 0, same1: 0, older: 0, same2: 0}
	got := oldestFirst(m)
	sameMS := []string{older, same1, same2}
	slices.Sort(sameMS) // made in the same millisecond: by id
	want := append(sameMS, newer)
	if !slices.Equal(got, want) {
		t.Errorf("oldestFirst = %v, want %v", got, want)
	}
	if got := oldestFirst(map[string]bool{}); len(got) != 0 {
		t.Errorf("oldestFirst of none = %v", got)
	}
}

// BenchmarkOldestFirst orders a flood's storm message, 5,000 incidents,
// as a flush orders their notes; "decoded in the comparison" is the way
// it was done before, for comparison.
func BenchmarkOldestFirst(b *testing.B) {
	at := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	m := map[string][]store.Entry{}
	for i := range 5000 {
		m[store.NewID(i%store.Shards, at.Add(time.Duration(i/3)*time.Millisecond))] = nil
	}
	b.Run("once", func(b *testing.B) {
		for b.Loop() {
			oldestFirst(m)
		}
	})
	b.Run("decoded in the comparison", func(b *testing.B) {
		for b.Loop() {
			_ = slices.SortedFunc(maps.Keys(m), func(a, b string) int {
				ma, _ := store.MillisOfID(a)
				mb, _ := store.MillisOfID(b)
				return cmp.Or(cmp.Compare(ma, mb), strings.Compare(a, b))
			})
		}
	})
}
