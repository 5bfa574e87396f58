package redisstore

import (
	"testing"

	"github.com/pagerd/pagerd/gateway/store"
)

// TestDueHeadsKeepAWriteMadeWhileAClaimWasOut: a claim's reading of a
// shard must not raise the head that a write lowered after the claim read
// the shard (the write may have come after it): the entry would wait for
// the next claim everywhere, up to a second late. A shard the claim did
// not read again is read at the next claim.
func TestDueHeadsKeepAWriteMadeWhileAClaimWasOut(t *testing.T) {
	h := newDueHeads()
	found := map[int]int64{}
	for s := range h.at {
		found[s] = headNone
	}
	shards, gens := h.scope(0, true)
	h.learned(shards, gens, found) // every shard read: nothing due
	shards, gens = h.scope(1000, true)
	h.wrote(5, 2000) // lands in Redis after the claim's read of shard 5
	delete(found, 9) // claimed from, not read again
	h.learned(shards, gens, found)
	if h.at[5] != 2000 {
		t.Errorf("head of shard 5 after a write during the claim: %d, want 2000", h.at[5])
	}
	if h.at[9] != headUnknown {
		t.Errorf("head of shard 9, not read again: %d, want unknown", h.at[9])
	}
	if got, _ := h.scope(1500, false); len(got) != 1 || got[0] != 9 {
		t.Errorf("a claim at 1500 reads %v, want [9]", got)
	}
	if got, _ := h.scope(2000, false); len(got) != 2 {
		t.Errorf("a claim at 2000 reads %v, want [5 9]", got)
	}
}

// TestNudgeShards: a nudge names the shards its sender wrote to; one from
// a replica of before (its sender alone) names every shard, so that a
// rolling upgrade's new replicas still look everywhere at the old ones'
// new incidents; a store's own nudge is skipped.
func TestNudgeShards(t *testing.T) {
	all := uint64(1)<<store.Shards - 1
	for _, c := range []struct {
		payload string
		own     bool
		shards  uint64
	}{
		{nudgeMessage("me", 0), true, 0},
		{"me", true, 0},
		{nudgeMessage("other", 1<<3|1<<31), false, 1<<3 | 1<<31},
		{"other", false, all},
		{"other zz", false, all},
	} {
		own, shards := nudgeShards("me", c.payload)
		if own != c.own || shards != c.shards {
			t.Errorf("nudge %q: own=%v shards=%x, want %v %x", c.payload, own, shards, c.own, c.shards)
		}
	}
}

// TestNudgeNamingShardsBeyondOursIsRead: a nudge may name bits past this
// store's shards (a message on the channel from anything else that can
// publish there: an operator's PUBLISH, a later version of pagerd with
// more shards in a rolling upgrade). Before, marking them unknown indexed
// past the heads and panicked in the subscription's goroutine: every
// replica that heard it exited at once. Such a nudge names every shard
// of ours: its sender does not count shards as this store does.
func TestNudgeNamingShardsBeyondOursIsRead(t *testing.T) {
	all := uint64(1)<<store.Shards - 1
	if own, shards := nudgeShards("me", "other ffffffffffffffff"); own || shards != all {
		t.Errorf("nudge naming 64 shards: own=%v shards=%x, want every one of ours (%x)", own, shards, all)
	}
	if _, shards := nudgeShards("me", "other 0000000100000008"); shards != all {
		t.Errorf("nudge naming shard 3 and one past ours: shards=%x, want every one of ours (its sender counts shards otherwise)", shards)
	}
	h := newDueHeads()
	found := map[int]int64{}
	for s := range h.at {
		found[s] = headNone
	}
	shards, gens := h.scope(0, true)
	h.learned(shards, gens, found)
	h.heard(^uint64(0))
	if got, _ := h.scope(0, false); len(got) != store.Shards {
		t.Errorf("after a nudge naming every bit, a claim reads %d shards, want %d", len(got), store.Shards)
	}
}
