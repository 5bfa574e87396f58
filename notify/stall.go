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
}

// ticked records a tick at now, the one before it at prev.
func (w *stallWatch) ticked(prev, now time.Duration) {
	if now-prev >= stallGap {
		w.end.Store(int64(now))
	}
	w.tick.Store(int64(now))
}

// since says whether the process stalled between mark and now.
func (w *stallWatch) since(mark, now time.Duration) bool {
	if now-time.Duration(w.tick.Load()) >= stallGap {
		return true // the watch has not run since: a stall ending now
	}
	return time.Duration(w.end.Load()) > mark
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

// stalledSince says whether the process stalled (stopped, paused, starved)
// since mark: a failure of a page started then may be the stall's, not
// the provider's.
func stalledSince(mark time.Duration) bool { return stallState.since(mark, time.Since(stallBase)) }
