package dispatch

import "time"

// How pagerd_dispatch_stalled_seconds is read. pagerd_dispatch_behind_seconds
// falls back on the store's due set when this replica's loop stops claiming,
// and the due set is the same for every replica on one store: a replica
// whose every worker hangs on a provider, whose claims fail, or whose loop
// is stuck shows what the others leave due, which is nothing while they take
// its claims over when its leases end. It then pages nothing, for as long
// as nobody restarts it, and no figure said which replica it was. This one
// is the replica's own: how long since its dispatcher last made progress,
// which is a look at the due set that the store answered (with a worker
// free), or a claim one of its workers finished. An idle loop looks every
// MaxSleep and a busy one each time a worker frees, so in a burst worked
// through at any pace it stays within the time one claim takes; it grows
// only while no worker finishes and the loop does not look. Every claim's
// work is bounded by its context (Lease + SendTimeout), so past that every
// worker is stuck in a call that ignores it.

// noteProgress records that the dispatcher made progress at now.
func (d *Dispatcher) noteProgress(now time.Time) { d.progress.Store(now.UnixNano()) }

// stalledAtScrape is pagerd_dispatch_stalled_seconds: how long ago, on
// Options.Now, the dispatcher last made progress, or 0 while Run is not
// running (a dispatcher not started, or stopped, is not stuck).
func (d *Dispatcher) stalledAtScrape() float64 {
	last := d.progress.Load()
	if !d.running.Load() || last == 0 {
		return 0
	}
	return max(d.o.Now().Sub(time.Unix(0, last)), 0).Seconds()
}
