package boltstore

import (
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
// when they grow past a budget. It runs until stop.
type trimmer struct {
	budget int64
	every  time.Duration
	// resident reads the process's file-backed resident bytes; ok is
	// false where that cannot be read (the trimmer then stops).
	resident func() (n int64, ok bool)
	// release gives the map's pages back (Store.releaseMapped).
	release func() error

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

func newTrimmer(release func() error) *trimmer {
	return &trimmer{budget: residentBudget, every: trimEvery, resident: residentFileBytes, release: release,
		stop: make(chan struct{}), done: make(chan struct{})}
}

// run looks every t.every and releases when the file-backed resident
// memory is more than the budget above what it was after the last
// release (at first, at start: the binary's own pages count there too,
// and they are not the store's to give back).
func (t *trimmer) run() {
	defer close(t.done)
	base, ok := t.resident()
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
		n, ok := t.resident()
		if !ok {
			return
		}
		if n < base {
			base = n // the kernel took pages back itself
		}
		if n-base <= t.budget {
			continue
		}
		if t.release() != nil {
			continue // closed, or the kernel refused: try at the next look
		}
		if n, ok = t.resident(); ok {
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
