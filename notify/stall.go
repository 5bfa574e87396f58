package notify

import (
	"sync"
	"sync/atomic"
	"time"
)

// The stall watch notices when this process did not run for a while:
// stopped (SIGSTOP, a container frozen), its VM paused, or starved of CPU
// for a second or more. A page on its way then times out when the process
// runs again, though the provider answered it long before: the answer
// waited in the socket while the deadline passed. Such a failure says
// nothing about the provider, and the breaker does not count it
// (Breaker.Notify): five of them in a row opened the circuit of a healthy
// receiver, and every page to it for the cooldown failed at once without
// being tried (the fault soak, docs/RELIABILITY.md).
//
// A goroutine ticks every stallTick and records the end of any gap between
// its ticks of stallGap or more. A failure is the stall's when a stall
// ended after its page started, or when the watch itself has not ticked
// for stallGap (the process has just run again, and the page's goroutine
// got there before the watch's).
const (
	stallTick = 100 * time.Millisecond
	stallGap  = time.Second
)

// stallWatch is the watch's state; times are durations on the monotonic
// clock since the process's watch started.
type stallWatch struct {
	tick atomic.Int64 // the last tick
	end  atomic.Int64 // the end of the latest stall noticed; 0: none
	gap  atomic.Int64 // how long that stall was
	// count and total are every stall noticed and their time, for
	// pagerd_process_stalls_total and pagerd_process_stalled_seconds_total.
	count atomic.Int64
	total atomic.Int64
}

// ticked records a tick at now, the one before it at prev.
func (w *stallWatch) ticked(prev, now time.Duration) {
	if gap := now - prev; gap >= stallGap {
		w.gap.Store(int64(gap))
		w.end.Store(int64(now))
		w.count.Add(1)
		w.total.Add(int64(gap - stallTick)) // the tick's own wait is no stall
	}
	w.tick.Store(int64(now))
}

// since says how long the process stalled between mark and now (0: it
// did not): the latest stall's length, or while the watch has not ticked
// again after one, how long it has not.
func (w *stallWatch) since(mark, now time.Duration) time.Duration {
	if gap := now - time.Duration(w.tick.Load()); gap >= stallGap {
		return gap // the watch has not run since: a stall ending now
	}
	if time.Duration(w.end.Load()) > mark {
		return max(time.Duration(w.gap.Load()), stallGap)
	}
	return 0
}

var (
	stallOnce  sync.Once
	stallBase  time.Time
	stallState stallWatch
)

// watchStalls starts the process's stall watch, once.
func watchStalls() {
	stallOnce.Do(func() {
		stallBase = time.Now()
		go func() {
			t := time.NewTicker(stallTick)
			defer t.Stop()
			prev := time.Duration(0)
			for range t.C {
				now := time.Since(stallBase)
				stallState.ticked(prev, now)
				prev = now
			}
		}()
	})
}

// stallMark is when a page starts, for stalledSince.
func stallMark() time.Duration { return time.Since(stallBase) }

// stalledSince says for how long the process stalled (stopped, paused,
// starved) since mark, 0 if it did not: a failure of a page started then
// may be the stall's, not the provider's.
func stalledSince(mark time.Duration) time.Duration {
	return stallState.since(mark, time.Since(stallBase))
}

// stalledTotal is how long the process has not run since the watch
// started: the stalls it noticed, and one going on (or just over) that it
// has not ticked after yet.
func stalledTotal() time.Duration {
	return stallState.stalledTotal(func() time.Duration { return time.Since(stallBase) })
}

// stalledTotal is stalledTotal with now the watch's clock. The last tick
// is read on both sides of the total: a tick between them (the watch
// noticing the stall that just ended, as the process runs again) would
// leave that stall out of both, and it is read again. A stall counted
// twice in the narrow window where a tick added it to the total and had
// not stored itself yet puts a deadline off longer, never shorter.
func (w *stallWatch) stalledTotal(now func() time.Duration) time.Duration {
	for {
		tick := w.tick.Load()
		total := time.Duration(w.total.Load())
		if w.tick.Load() != tick {
			continue
		}
		if gap := now() - time.Duration(tick); gap >= stallGap {
			total += gap - stallTick
		}
		return total
	}
}

// WatchStalls starts the process's stall watch, if it is not running yet
// (a breaker starts it too), so that Stalls counts from now.
func WatchStalls() { watchStalls() }

// Stalls says how many times this process stalled, a second or more
// without running (stopped, its VM paused, starved of CPU), since
// WatchStalls, and for how long in all. Every page on its way in a stall
// may fail as timed out, though its provider answered in time, and every
// deadline due meanwhile is met late.
func Stalls() (count int64, total time.Duration) {
	return stallState.count.Load(), time.Duration(stallState.total.Load())
}
