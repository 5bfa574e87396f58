package redisstore

import (
	"math"
	"math/bits"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/pagerd/pagerd/gateway/store"
)

// dueHeads is what this store knows of each shard's earliest due entry, so
// that a claim (ClaimDueNextScoped) reads only the shards that may hold
// something due now instead of all 32: at 2,700 alerts a second the claim
// over every shard was a quarter of Redis's time per alert, and most of
// its 32 reads found nothing due.
//
// A shard's head is never later than any of its entries that this store
// has seen or written: read at its last scan, lowered (never raised) by
// every write through this store that puts a due entry in it, and
// unknown (math.MinInt64: scanned at the next claim) after a write whose
// score the store does not know, a claim that did not finish, or a nudge
// from another replica that wrote to it. An entry written by anyone else
// without a nudge (a tool, a replica that then died) is found by the
// claim over every shard that the dispatcher asks for at least every
// MaxSleep (dispatch.Run), the bound it had before.
type dueHeads struct {
	mu sync.Mutex
	// at is each shard's head in ms: math.MaxInt64 for none,
	// math.MinInt64 for unknown.
	at [store.Shards]int64
	// gen counts the writes to each shard, so that a scan's answer does
	// not overwrite the head a write lowered while the scan was on its
	// way (the write may have come after the scan read the shard).
	gen [store.Shards]uint64
	// told is the shards written since this store's last nudge, which
	// the nudge names for the other replicas (Nudge).
	told atomic.Uint64
}

const (
	headNone    = math.MaxInt64
	headUnknown = math.MinInt64
	// allShards is every shard's bit, as nudges name them.
	allShards = ^uint64(0) >> (64 - store.Shards)
)

func newDueHeads() *dueHeads {
	h := &dueHeads{}
	for i := range h.at {
		h.at[i] = headUnknown
	}
	return h
}

// wrote records a write that put a due entry of the shard at atMS (or
// moved one there): the shard's head is at most that from now on.
func (h *dueHeads) wrote(shard int, atMS int64) {
	h.mu.Lock()
	h.at[shard] = min(h.at[shard], atMS)
	h.gen[shard]++
	h.mu.Unlock()
	h.told.Or(1 << shard)
}

// touched records a write to the shard's due set at a time the store does
// not know: the next claim reads the shard.
func (h *dueHeads) touched(shard int) { h.wrote(shard, headUnknown) }

// heard marks the shards another replica's nudge named (shards, a bit a
// shard) as unknown, without naming them in this store's own nudges. Bits
// past this store's shards are not shards of its (a message of another
// version, or not of pagerd's): indexing the heads with them panicked the
// subscription's goroutine, and the process with it.
func (h *dueHeads) heard(shards uint64) {
	h.mu.Lock()
	for b := shards & allShards; b != 0; b &= b - 1 {
		s := bits.TrailingZeros64(b)
		h.at[s] = headUnknown
		h.gen[s]++
	}
	h.mu.Unlock()
}

// scope is the shards a claim at nowMS reads: every one when all is set,
// otherwise those whose head has come (or is unknown); and their write
// counts, for learned.
func (h *dueHeads) scope(nowMS int64, all bool) (shards []int, gens []uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.at {
		if all || h.at[s] <= nowMS {
			shards = append(shards, s)
			gens = append(gens, h.gen[s])
		}
	}
	return shards, gens
}

// dueOf is of shards those whose head this store knows has come at nowMS
// (not unknown), as claimAllScript reads them (scopeArg): the claim
// reads their due entries at once, without a look at the head first,
// which is for shards that may hold nothing due. A hint only: a shard
// claimed from by another replica meanwhile is read as before.
func (h *dueHeads) dueOf(shards []int, nowMS int64) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b []byte
	for _, s := range shards {
		if v := h.at[s]; v != headUnknown && v <= nowMS {
			if s < 16 {
				b = append(b, '0')
			}
			b = strconv.AppendInt(b, int64(s), 16)
		}
	}
	return string(b)
}

// learned takes a claim's reading of the shards it read: found holds the
// head of each shard the claim knows (headNone for an empty one); a shard
// read but not in found (the claim took its max before it looked again)
// becomes unknown. A shard written since scope keeps the lower of the two.
func (h *dueHeads) learned(shards []int, gens []uint64, found map[int]int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, s := range shards {
		v, ok := found[s]
		if !ok {
			v = headUnknown
		}
		if h.gen[s] == gens[i] {
			h.at[s] = v
		} else {
			h.at[s] = min(h.at[s], v)
		}
	}
}

// forget makes the shards unknown: a claim over them failed, and what it
// did is not known.
func (h *dueHeads) forget(shards []int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range shards {
		h.at[s] = headUnknown
		h.gen[s]++
	}
}

// next is the earliest head over every shard, and whether there is one;
// an unknown one counts as nowMS (the caller looks again at once).
func (h *dueHeads) next(nowMS int64) (int64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	best := int64(headNone)
	for _, v := range h.at {
		best = min(best, v)
	}
	if best == headUnknown {
		best = nowMS
	}
	return best, best != headNone
}

// scopeArg is the shards as claimAllScript reads them: two hex digits a
// shard; "" for every shard.
func scopeArg(shards []int) string {
	if len(shards) == store.Shards {
		return ""
	}
	b := make([]byte, 0, 2*len(shards))
	for _, s := range shards {
		if s < 16 {
			b = append(b, '0')
		}
		b = strconv.AppendInt(b, int64(s), 16)
	}
	return string(b)
}
