package dispatch

import (
	"context"
	"sync"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// A claim's lease is kept while its work runs. Pages may start until
// sendBy (sendWindow, three quarters of the lease by default), and a page
// with its retries may take SendTimeout (20 s), so a page that starts late
// in its claim (after retries, a rate-limit wait, a slow store) whose last
// try is still with a slow provider when the lease ends was sent twice:
// another replica took the incident over and paged the step, and the
// first page went out as well. The retrier stops starting tries then, not
// a try in flight, and a request on its way cannot be called back.
//
// So from half the lease on, a claim still being worked moves its lease
// end a whole lease ahead (store.Extend), again each half lease, until its
// work is done. Extend acts only while the claim is still this one's (its
// token): a keep that comes late, after a freeze, finds the claim taken
// over and moves nothing, and one that finds it still this one's is safe
// whenever it comes, since nobody else can have claimed it meanwhile. A
// claim then runs out and is taken over only when its replica stops or
// freezes for half a lease, or its store refuses the keeps: the crash's
// window, which PRODUCT.md allows a duplicate in.
//
// A claim left to run out (leaveToRunOut: its pages could no longer start
// in time) has its lease cut back to the end it was claimed with, so the
// takeover comes when it would have without the keeps.
//
// The claim's context (a lease and the send timeout) bounds the keeps: a
// worker still in a call when it ends ignores it (a hang, a bug), and its
// claim is cut back then and taken over, as it was before there were
// keeps; kept for as long as the call hung, the claim was nobody else's
// and its incident paged nobody.

// keeper keeps one claim's lease (keepLease).
type keeper struct {
	d *Dispatcher
	c store.Claim
	// base is the claim's context without its end, for the cut back
	// after the claim's time ran out; ctx is base until stop, which
	// cancels it, so that a keep on its way does not hold the worker up.
	base, ctx context.Context
	cancel    context.CancelFunc

	mu sync.Mutex
	// end is the lease end as last set, counted from when that claim or
	// keep was asked for; claimed is the end the claim was taken with.
	end, claimed time.Time
	kept         bool // a keep moved the end, or may have
	done         bool // the work is over, or the claim no longer this one's
	cut          bool // cut back (cutBack), or there to be
	timer        *time.Timer
	running      sync.WaitGroup
	// sendBy is when pages may no longer start after sendAgain's last
	// keep (zero: none); again is held while sendAgain keeps, so that
	// the claim's pages asking at once make one keep.
	sendBy time.Time
	again  sync.Mutex
	// stopAtEnd stops the cut back armed for the end of the claim's
	// context (keepLease).
	stopAtEnd func() bool
}

type keeperKey struct{}

// keepLease starts keeping c's lease, claimed at asked, and returns the
// claim's context carrying the keeper and the function that ends it, when
// the work is done: it stops the keeps and cuts a kept lease back, which
// moves nothing when the work wrote its claim (Finish, Complete, Release:
// Extend is the token's), and makes a claim whose work failed (an error, a
// panic, a store that refused its record) due when the lease it was
// claimed with ends, as the log says it comes due again, not a lease after
// its last keep.
func (d *Dispatcher) keepLease(ctx context.Context, c store.Claim, asked time.Time) (context.Context, func()) {
	k := &keeper{d: d, c: c, base: context.WithoutCancel(ctx), end: asked.Add(d.o.Lease), claimed: asked.Add(d.o.Lease)}
	k.ctx, k.cancel = context.WithCancel(k.base)
	k.mu.Lock()
	k.timer = time.AfterFunc(k.untilNext(), k.keep)
	k.stopAtEnd = context.AfterFunc(ctx, k.cutBack)
	k.mu.Unlock()
	return context.WithValue(ctx, keeperKey{}, k), k.cutBack
}

// untilNext is how long until the next keep: when half the lease is
// left. Called holding mu.
func (k *keeper) untilNext() time.Duration {
	return max(k.end.Add(-k.d.o.Lease/2).Sub(k.d.o.Now()), 0)
}

// keep moves the lease end a lease ahead of now, and arms the next keep:
// half a lease on, or a tenth of one after a keep the store refused.
func (k *keeper) keep() {
	k.mu.Lock()
	if k.done {
		k.mu.Unlock()
		return
	}
	k.running.Add(1)
	k.mu.Unlock()
	defer k.running.Done()

	now := k.d.o.Now()
	until := now.Add(k.d.o.Lease)
	// Bounded by a store call's timeout, not by the lease: a keep that
	// lands after the lease's end still holds the claim if nobody took
	// it over meanwhile.
	ctx, cancel := context.WithTimeout(k.ctx, k.d.callTimeout)
	held, err := k.d.o.Store.Extend(ctx, k.c, until)
	cancel()

	k.mu.Lock()
	defer k.mu.Unlock()
	if held || err != nil {
		// Moved, or maybe (an answer lost), even if the keeper stopped
		// meanwhile: a cut back waits for this keep (stop) and must
		// know to undo it. A cut back of an end never moved moves
		// nothing.
		k.kept = true
	}
	switch {
	case k.done:
		return
	case err != nil:
		k.d.m.keeps.WithLabelValues(keepFailed).Inc()
		_, attrs := claimed(k.c)
		k.d.log.Warn("dispatcher: could not keep the lease of a claim still being worked (its pages are on their way); when it runs out another replica may take the claim over and page again; tried again",
			append(attrs, "lease_ends_in", k.end.Sub(k.d.o.Now()).Round(time.Millisecond).String(), "err", err)...)
		k.timer.Reset(k.d.o.Lease / 10)
	case !held:
		// Done meanwhile (its write released it), cancelled (an
		// acknowledgement left its incident nothing pending), or taken
		// over, which the taker logs: nothing more to keep.
		k.done = true
	default:
		k.d.m.keeps.WithLabelValues(keepKept).Inc()
		k.end = until
		k.timer.Reset(k.untilNext())
	}
}

// sendAgain is asked by a page of the claim that finds its send window
// over (pastSendBy): the replica was held up (a freeze, a slow store)
// since the claim. It keeps the lease at once, and if the claim is still
// this one's (nobody has taken it over, so nobody else paged its steps)
// the pages may start for a send window from that keep, as after a claim.
// It does not when the claim's own time is too short for a page's send
// (the claim's context ends within a send timeout: a page cut short by it
// is not known to be sent, and is left to the takeover: asked again by
// each page, as the window from the keep may outlast the claim's
// context), or the keep fails or came back after half a lease.
func (k *keeper) sendAgain(ctx context.Context) bool {
	k.again.Lock()
	defer k.again.Unlock()
	d := k.d
	now := d.o.Now()
	k.mu.Lock()
	sendBy, done := k.sendBy, k.done
	k.mu.Unlock()
	// Asked of every page, also within a window an earlier ask opened:
	// that window is counted from its keep, the claim's context from
	// the claim, and may end first.
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d.o.SendTimeout {
		return false
	}
	if now.Before(sendBy) {
		return true // kept by another page's ask a moment ago
	}
	if done {
		return false
	}
	kctx, cancel := context.WithTimeout(ctx, d.callTimeout)
	held, err := d.o.Store.Extend(kctx, k.c, now.Add(d.o.Lease))
	cancel()
	if err != nil || !held {
		k.mu.Lock()
		if err != nil {
			// Maybe moved (an answer lost): the cut back must undo it.
			d.m.keeps.WithLabelValues(keepFailed).Inc()
			k.kept = true
		} else {
			// No longer this replica's: the claim's other pages need
			// not ask the store again.
			k.done = true
		}
		k.mu.Unlock()
		return false
	}
	d.m.keeps.WithLabelValues(keepKept).Inc()
	back := d.o.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.end.Before(now.Add(d.o.Lease)) {
		k.end = now.Add(d.o.Lease)
	}
	k.kept = true
	if back.Sub(now) > d.o.Lease/2 {
		return false // the store is too slow for the lease to hold a send
	}
	k.sendBy = now.Add(d.sendWindow())
	if dl, ok := ctx.Deadline(); ok {
		// No later than a send timeout before the claim's context
		// ends, for those told the window (windowEnd: a job's
		// handler) rather than asking.
		if last := now.Add(time.Until(dl) - d.o.SendTimeout); last.Before(k.sendBy) {
			k.sendBy = last
		}
	}
	_, attrs := claimed(k.c)
	d.log.Info("dispatcher: a claim held up past its send window is still this replica's (kept a lease ahead); its pages go out now",
		append(attrs, "send_by", k.sendBy)...)
	return true
}

// stop ends the keeping; a keep under way is cut short and waited for.
func (k *keeper) stop() {
	k.mu.Lock()
	k.done = true
	k.timer.Stop()
	stopAtEnd := k.stopAtEnd
	k.mu.Unlock()
	k.cancel()
	stopAtEnd()
	k.running.Wait()
}

// cutBack stops keeping ctx's claim and, if a keep moved its lease end,
// puts the end back where the claim set it (now, if that has passed): the
// claim is left to run out (leaveToRunOut) and is taken over when it would
// have been without the keeps. No page of the claim is on its way then.
func cutBack(ctx context.Context) {
	if k, _ := ctx.Value(keeperKey{}).(*keeper); k != nil {
		k.cutBack()
	}
}

// cutBack is the function cutBack, once per claim: when the claim is left
// to run out, when its context ended with its work still running, or when
// its work is done.
func (k *keeper) cutBack() {
	k.stop()
	k.mu.Lock()
	kept, cut := k.kept, k.cut
	k.cut = true
	k.mu.Unlock()
	if !kept || cut {
		return
	}
	cctx, cancel := context.WithTimeout(k.base, k.d.callTimeout)
	defer cancel()
	if _, err := k.d.o.Store.Extend(cctx, k.c, k.claimed); err != nil {
		_, attrs := claimed(k.c)
		k.d.log.Warn("dispatcher: could not cut a kept lease back for the claim left to run out; taken over a lease after its last keep",
			append(attrs, "err", err)...)
	}
}

// keepLate keeps a claim that came back from the store after more than
// half its lease a lease ahead, and says when its lease now counts from
// and when its pages may no longer start; ok is false when the claim is
// not to be worked: the keep failed (the store: it is left to run out, as
// before there were keeps, counted lease_ran_out), or the claim is no
// longer this replica's (another took it over meanwhile, or an
// acknowledgement left its incident nothing pending). A keep that itself
// came back after half a lease (a store slow every time) gives the pages a
// quarter lease from its answer, as a claim worked late did before: a page
// sent twice is better than none.
func (d *Dispatcher) keepLate(ctx context.Context, c store.Claim) (asked, sendBy time.Time, ok bool) {
	asked = d.o.Now()
	kctx, cancel := context.WithTimeout(ctx, d.claimTimeout())
	held, err := d.o.Store.Extend(kctx, c, asked.Add(d.o.Lease))
	cancel()
	_, attrs := claimed(c)
	switch {
	case err != nil:
		d.m.keeps.WithLabelValues(keepFailed).Inc()
		d.m.errors.WithLabelValues(leaseRanOut).Inc()
		d.log.Warn("dispatcher: a claim that came back late could not be kept; left to run out and be claimed again",
			append(attrs, "err", err)...)
		return asked, asked, false
	case !held:
		d.log.Info("dispatcher: a claim that came back late is no longer this replica's (taken over, or nothing left pending); not worked", attrs...)
		return asked, asked, false
	}
	d.m.keeps.WithLabelValues(keepKept).Inc()
	sendBy = asked.Add(d.sendWindow())
	if back := d.o.Now(); back.Sub(asked) > d.o.Lease/2 {
		sendBy = back.Add(d.o.Lease / 4)
		d.log.Warn("dispatcher: the keep of a claim that came back late came back late too; worked all the same (a store this slow for this lease can page twice: raise server.lease)",
			append(attrs, "after", back.Sub(asked).Round(time.Millisecond).String())...)
	}
	return asked, sendBy, true
}

// Outcomes of a keep, as pagerd_dispatch_lease_keeps_total counts them.
const (
	keepKept   = "kept"
	keepFailed = "failed"
)
