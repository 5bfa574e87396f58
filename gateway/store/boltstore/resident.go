package boltstore

import (
	"math"
	"runtime/debug"
	"sync"
	"time"
)

// The store file is memory-mapped (bbolt reads through the map), so every
// page a transaction reads stays resident in pagerd's process, counted in
// its RSS, until the kernel needs the memory back. Under load nearly every
// page written is read back soon after (the dispatcher claims each new
// incident), so the resident size grew with the file: 483 MB of store
// made a 649 MB RSS in `make load` with 168 MB of it pagerd's own memory,
// and `ps`, `process_resident_memory_bytes` and a memory alert read that
// as pagerd's. The pages are the file's, in the page cache: giving the
// map's pages back (madvise MADV_DONTNEED) keeps them cached there and
// only unmaps them, so a later read maps them again with a minor fault, no
// disk read. The trimmer gives them back once the process's file-backed
// resident memory has grown by more than its budget since it last did.
const (
	// residentBudget is how much the file-backed resident memory may grow
	// before the map's pages are given back: the pages a busy store
	// reads again and again (the trees' upper levels, the due index) are
	// a few MB, and mapping them again costs well under a millisecond.
	residentBudget = 32 << 20
	// trimEvery is how often the trimmer looks. A storm's flush notes
	// tens of thousands of incidents' timelines, and each leaf it
	// rewrites is read through the map first: in the load run's closed
	// loop the map's resident pages grew by 70 MB in a third of a
	// second. Looking every 500 ms let them; a look costs a few
	// microseconds.
	trimEvery = 100 * time.Millisecond
)

// trimmer gives the store map's resident pages back to the page cache
// when they grow past what pagerd may hold. It runs until stop.
//
// Giving them back costs: the pages in use (the trees' upper levels, the
// leaves being written) are mapped again, one fault each, and a release
// every few hundred milliseconds took 18% of the embedded store's
// closed-loop throughput (3,800–4,041 webhooks a second without, 3,093–
// 3,272 with; alternating runs). So the budget grows to the memory pagerd
// is given (the Go runtime's soft limit, which the daemon sets from the
// container's limit, 192 MiB without one) less what pagerd holds itself
// (its anonymous memory): with room, the pages stay mapped longer and are
// given back less often; short of it, every budget's worth.
type trimmer struct {
	budget int64
	every  time.Duration
	// resident reads the process's anonymous and file-backed resident
	// bytes; ok is false where they cannot be read (the trimmer then
	// stops).
	resident func() (anon, file int64, ok bool)
	// limit is the memory pagerd is given (debug.SetMemoryLimit's; at
	// most 0 or math.MaxInt64: none).
	limit func() int64
	// release gives the map's pages back (Store.releaseMapped).
	release func() error

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

func newTrimmer(release func() error) *trimmer {
	return &trimmer{budget: residentBudget, every: trimEvery, resident: residentBytes, release: release,
		limit: func() int64 { return debug.SetMemoryLimit(-1) }, stop: make(chan struct{}), done: make(chan struct{})}
}

// allowance is how far the file-backed resident memory may grow past its
// base, with anon bytes of pagerd's own in use: the budget, or the room
// the memory limit leaves, whichever is more.
func (t *trimmer) allowance(anon, base int64) int64 {
	lim := t.limit()
	if lim <= 0 || lim == math.MaxInt64 {
		return t.budget
	}
	return max(t.budget, lim-anon-base)
}

// run looks every t.every and releases when the file-backed resident
// memory is more than its allowance above what it was after the last
// release (at first, at start: the binary's own pages count there too,
// and they are not the store's to give back).
func (t *trimmer) run() {
	defer close(t.done)
	_, base, ok := t.resident()
	if !ok {
		return
	}
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
		}
		anon, n, ok := t.resident()
		if !ok {
			return
		}
		if n < base {
			base = n // the kernel took pages back itself
		}
		if n-base <= t.allowance(anon, base) {
			continue
		}
		if t.release() != nil {
			continue // closed, or the kernel refused: try at the next look
		}
		if _, n, ok = t.resident(); ok {
			base = n
		}
	}
}

// close stops the trimmer and waits for it, so that the map is not
// released while the database closes. Closing twice is harmless.
func (t *trimmer) close() {
	t.stopOnce.Do(func() { close(t.stop) })
	<-t.done
}
