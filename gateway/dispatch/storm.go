package dispatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pagerd/pagerd/gateway/acklink"
	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

// Alert-storm bundling (notifiers.storm). Every page goes through the
// store's Admit: the first pages of a burst to a person on a channel, and a
// page more urgent than any sent to them in the window, go out at once; the
// rest are held in the store, and the storm comes due at the window's end
// like any step. flush then sends what was held as one message, with one
// ack link (and SMS reply code, and call) for all of it. A held page
// occupies no worker and holds no claim, so nobody else's pages wait.

// bundleTop is how many incidents a storm message names by summary.
const bundleTop = 5

// flush sends the pages held in a claimed storm as one message and records,
// in each incident's timeline, that its page went out in it (or failed).
// Incidents acknowledged or resolved while their page waited are left out,
// and the message says which. As for a step, a message that went out is in
// the journal until its flush is stored, and a store that refuses the
// writes is retried, the claim kept, for up to the claim's time
// (RecordRetry): a storm that comes back to this replica is recorded, not
// sent again. The message goes out only until
// sendBy (sendWindow), as an incident's pages: past it, another replica
// may have taken the storm over and sent it, and the claim is left to run
// out (leaveToRunOut).
func (d *Dispatcher) flush(ctx context.Context, c store.Claim, sendBy time.Time) error {
	cfg := d.o.Config()
	rules := stormRules(cfg)
	user, channel, ok := store.ParseStormKey(c.Storm)
	if !ok {
		return fmt.Errorf("malformed storm key %q", c.Storm)
	}
	// One flush of a storm at a time on this replica. A flush whose
	// message was slow to go out (a provider's retries) can still be
	// sending when its lease ends, and this replica's own takeover of
	// the storm would find the same held pages and nothing in the
	// journal (a message is journaled once sent), and send it again. The
	// takeover leaves its claim to run out instead: the flush still
	// running journals its message, and the storm's next claim records
	// it (or, if it did not go out, sends it).
	release, ok := d.journal.tryHold(stormHold + c.Storm)
	if !ok {
		d.log.Warn("dispatcher: a storm's flush is still running on this replica past its lease; its takeover is left to run out",
			"storm", c.Storm)
		return nil
	}
	defer release()
	var held []store.HeldPage
	err := d.inTurn(ctx, forMessage, c.Due, func() (err error) {
		held, err = d.o.Store.Held(ctx, c.Storm)
		return err
	})
	if err != nil {
		return err
	}
	now := d.o.Now().UTC().Truncate(time.Millisecond)
	// When the message went out, in real time (zero: by an earlier
	// claim): notes written long after it may come after its delivery
	// report (lateStormReports).
	var sentAt time.Time
	f, ok := d.journal.flushOf(c.Storm)
	if !ok || !headIs(held, f.pages) {
		// Nothing sent and unrecorded, or what was is no longer at the
		// head of the list (its flush was stored after all).
		d.journal.flushRecorded(c.Storm)
		if d.pastSendBy(ctx, sendBy) {
			return d.leaveToRunOut(ctx, c, sendBy)
		}
		sentAt = time.Now()
		f, err = d.sendHeld(ctx, cfg, c, user, channel, held, now, sendBy)
		var back *sentBack
		switch {
		case errors.As(err, &back):
			// Nothing went out: the pages stay held, and the storm is
			// due again at its turn, which the rate limit keeps for it.
			return d.o.Store.Release(ctx, c, back.turn)
		case errors.Is(err, errPastSendBy):
			return d.leaveToRunOut(ctx, c, sendBy)
		case errors.Is(err, errSendCut):
			d.m.errors.WithLabelValues(leaseRanOut).Inc()
			return nil // whether it went out is unknown: the takeover sends it
		case err != nil:
			return err
		}
		d.journal.flushed(c.Storm, f)
	}
	f.takenOver = false // recorded by this claim, or counted unrecorded
	// The message went out: the storm must be flushed, or its window
	// never reopens and every new page to its person on its channel is
	// held for good. So the notes in its incidents' timelines, the marks
	// of those it took to PagerDuty, and the flush are tried as long as
	// the store refuses them for a while, up to RecordRetry (the claim's
	// time), the claim's lease kept meanwhile (keepLease), as a page's
	// record is (keptToRecord): given up at half the lease, the claim
	// was cut back and another replica took the storm over and sent the
	// message again. Then the notes and marks are given up (logged,
	// counted not_recorded) if Flushed is stored; if not, the journal
	// keeps them for the storm's next claim to try again.
	//
	// The notes and marks, though, are tried for half the lease only
	// (short), then once more after the flush: refused, they let no other
	// replica send the message again, the flush does. Tried up to
	// RecordRetry, which outlasts the claim's context, a note refused
	// for good (the node of one of its incidents down, in a Redis
	// Cluster) ended the claim before its flush was tried, at every
	// claim of the storm: its window never reopened, and every new page
	// to the person on the channel was held for as long as the node was
	// down (TestStormWhoseNotesAShardRefusesReopensItsWindowWithinHalfALease).
	until, short, kept := time.Now().Add(d.o.RecordRetry), time.Now().Add(d.recordRetryShort()), false
	record := func(until time.Time, write func() error) error {
		return d.retryStore(ctx, until, func() error {
			err := write()
			if err != nil && !kept && errors.Is(err, store.ErrUnavailable) && time.Now().After(short) {
				kept = true
				d.keptToRecord(ctx, c, until, err)
			}
			return err
		})
	}
	written := maps.Clone(f.notes) // noteInTurns takes out what it notes
	noteErr := record(short, func() error { return d.noteInTurns(ctx, c.Due, f.notes) })
	if noteErr != nil && ctx.Err() != nil {
		return noteErr
	}
	if noteErr == nil {
		f.notes = nil // noted: a retried flush must not note twice
		d.journal.flushed(c.Storm, f)
	}
	var markErr error
	if len(f.pushed) > 0 {
		mark := func() error { return d.markPushed(ctx, f.pushed, now) }
		markErr = record(short, func() error { return d.inTurn(ctx, forRecord, c.Due, mark) })
		if markErr != nil && ctx.Err() != nil {
			return markErr
		}
		if markErr == nil {
			f.pushed = nil
			d.journal.flushed(c.Storm, f)
		}
	}
	var flushed bool
	err = record(until, func() error {
		return d.inTurn(ctx, forRecord, c.Due, func() (err error) {
			flushed, err = d.o.Store.Flushed(ctx, c, len(f.pages), f.top, now, rules)
			return err
		})
	})
	if err != nil {
		return err
	}
	if !flushed {
		// The claim was taken over before the message was recorded:
		// its held pages are still there. The journal keeps the
		// message, so that this replica's takeover records it instead
		// of sending it again; another replica's sends it again.
		d.log.Warn("storm message sent, but the storm's claim was taken over before it was recorded (its lease ran out): a takeover by another replica sends it again",
			"storm", c.Storm, "pages", len(f.pages))
		f.takenOver = true
		d.journal.flushed(c.Storm, f)
		return nil
	}
	// A store that refused everything for more than half the lease and
	// took the flush may take the notes and marks now.
	if noteErr != nil && d.inTurn(ctx, forRecord, c.Due, func() error { return d.noteInTurns(ctx, c.Due, f.notes) }) == nil {
		noteErr, f.notes = nil, nil
	}
	if markErr != nil && d.inTurn(ctx, forRecord, c.Due, func() error { return d.markPushed(ctx, f.pushed, now) }) == nil {
		markErr, f.pushed = nil, nil
	}
	if noteErr != nil {
		d.m.errors.WithLabelValues(notRecorded).Inc()
		d.log.Error("storm message sent and its storm flushed, but its incidents' timelines do not say it went out: the store refused the notes; "+
			"acknowledging them will not stop the message's PagerDuty alert or Pushover emergency alerts (stop those in the app)",
			"storm", c.Storm, "incidents", slices.Sorted(maps.Keys(f.notes)), "err", noteErr)
	}
	if markErr != nil {
		d.m.errors.WithLabelValues(notRecorded).Inc()
		d.log.Error("storm message sent to PagerDuty and its storm flushed, but these incidents are not marked as pushed there: acknowledging or resolving them in pagerd will not close PagerDuty's incident; close it there",
			"storm", c.Storm, "incidents", f.pushed, "err", markErr)
	}
	d.journal.flushRecorded(c.Storm)
	d.refusedForward(ctx, cfg, user, channel, f.refused, written)
	if noteErr == nil && len(written) > 0 && (sentAt.IsZero() || time.Since(sentAt) > incident.ReportWait/2) {
		d.lateStormReports(ctx, cfg, written)
	}
	return nil
}

// lateStormReports applies, in each incident whose notes a flush wrote
// (notes), the delivery report that its message reached nobody when the
// report was noted before the incident's page in it
// (incident.EarlyBundleReport): the report waited for the page in vain
// (a flood's notes, written in parts, in turns, past its 2 s), brought
// the person's next step forward and counted the message as gone out.
// Now its page counts as reaching nobody, and the incident's level pages
// the next one at once when nothing else of it reached anyone, as if the
// report had come after the notes. It is asked only when the notes took
// longer than half the report's wait after the message went out (or it
// went out in an earlier claim): sooner, a report found them. Even then,
// a flood's thousands of timelines are read only when the message was
// reported on: the timeline of the oldest incident still kept is read
// first (one gone is passed over), and a report of the message noted in
// any of them is in that one too (a report's notes are written oldest
// first, and pass over the incidents gone), but for a report noted in the
// moment of this look on Redis, whose notes of several shards go in no
// set order. When the store refuses that first read, no other is made. It
// runs once, after the flush is stored; timelines that cannot be read, or
// writes that fail, are logged, once for all: those pages count as gone
// out, as before.
func (d *Dispatcher) lateStormReports(ctx context.Context, cfg *policy.Config, notes map[string][]store.Entry) {
	bundles := map[string]string{} // incident -> the bundle its page went out in
	for id, es := range notes {
		if i := slices.IndexFunc(es, func(e store.Entry) bool { return e.Type == "notify" && e.Bundle != "" }); i >= 0 {
			bundles[id] = es[i].Bundle // failed, or shadow: no report comes
		}
	}
	if len(bundles) == 0 {
		return
	}
	ids := oldestFirst(bundles)
	var mu sync.Mutex
	var unread []string // incidents whose timeline the store refused
	var readErr error
	notRead := 0                        // incidents not looked at: those refused, and after a first refused, all
	events := map[string]policy.Event{} // the reports to apply, by incident
	// late looks at one incident's timeline, keeps the report noted
	// before its page in it to apply, and says whether it holds a report
	// of the message.
	late := func(id string, tl []store.Entry) (reported bool) {
		bundle := bundles[id]
		reported = slices.ContainsFunc(tl, func(e store.Entry) bool {
			return e.Type == incident.DeliveryFailed && e.Bundle == bundle && e.Unreached
		})
		ev, ok := incident.EarlyBundleReport(tl, bundle)
		if !ok {
			return reported
		}
		mu.Lock()
		events[id] = ev
		mu.Unlock()
		return true
	}
	// The oldest incident still kept says: one gone (deleted, expired)
	// holds nothing, and the next is as good. A read the store refuses
	// ends the look: the thousands after it would most likely be refused
	// too, while the store is down.
	var rest []string // the incidents to read after it
	for i, id := range ids {
		tl, err := d.o.Store.Timeline(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			unread, readErr, notRead = []string{id}, err, len(ids)-i
		} else if late(id, tl) {
			rest = ids[i+1:]
		}
		break
	}
	eachAtOnce(rest, func(id string) {
		tl, err := d.o.Store.Timeline(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			mu.Lock()
			unread, readErr = append(unread, id), err
			notRead++
			mu.Unlock()
		default:
			late(id, tl)
		}
	})
	// One line each, whatever the number of incidents: a store down
	// refuses them all. It counts every incident not looked at, those
	// after a first read refused too: their pages count as gone out.
	if len(unread) > 0 {
		slices.Sort(unread)
		d.log.Warn("dispatcher: reading the timelines for a delivery report that came before its storm message's notes; the pages of those not read count as gone out",
			"bundle", bundles[unread[0]], "not_read", notRead, "first", unread[0], "err", readErr)
	}
	if len(events) == 0 {
		return
	}
	one := slices.Min(slices.Collect(maps.Keys(events))) // all of one message
	user, channel := events[one].Actor, events[one].Channel
	changed, failed, err := d.applyEach(ctx, cfg, events)
	if len(changed) > 0 {
		d.m.lateReports.WithLabelValues(channel).Add(float64(len(changed)))
		d.log.Info("dispatcher: a storm message reported reaching nobody before its notes counts so now", "bundle", bundles[one],
			"user", user, "channel", channel, "incidents", len(changed))
	}
	if len(failed) > 0 {
		d.log.Error("dispatcher: a storm message reported reaching nobody before its notes could not be counted so; those pages count as gone out, and their levels keep their timeouts",
			"bundle", bundles[one], "incidents", len(failed), "first", failed[0], "err", err)
	}
}

// stormWorkers is how many incidents a flush's look and writes after its
// storm is flushed (lateStormReports, refusedForward) take at once: a
// flood's message names thousands.
const stormWorkers = 16

// eachAtOnce calls fn with each of ids, stormWorkers at once, and returns
// when all calls have.
func eachAtOnce(ids []string, fn func(id string)) {
	sem := make(chan struct{}, stormWorkers)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(id)
		}()
	}
	wg.Wait()
}

// applyEach applies to each incident its event (events, by incident), as
// the writes after a storm is flushed do (lateStormReports,
// refusedForward), stormWorkers at once, to incidents the flush holds no
// claim on (rewriteNoting). What the state machine did besides (the
// escalation of a level nobody was reached at) is recorded in the same
// write, observed, told to the incident's chat message and logged when it
// paged nobody, as a claim's write does; the dispatchers are woken for the
// steps it changed. It returns the incidents it changed, and those whose
// write failed (sorted), with one of their errors (the writes run at
// once: whichever failing write finished last).
func (d *Dispatcher) applyEach(ctx context.Context, cfg *policy.Config, events map[string]policy.Event) (changed, failed []string, err error) {
	eng := policy.Engine{Config: cfg}
	var mu sync.Mutex
	eachAtOnce(slices.Sorted(maps.Keys(events)), func(id string) {
		ev := events[id]
		var acts []policy.Action
		var written *store.Incident
		werr := d.rewriteNoting(ctx, id, func(inc *store.Incident) ([]store.Entry, bool, error) {
			now := d.o.Now().UTC().Truncate(time.Millisecond)
			st, more, err := eng.Apply(inc.State, ev, now)
			if err != nil || reflect.DeepEqual(st, inc.State) {
				acts, written = nil, nil // as read again after a conflict: nothing written
				return nil, false, err
			}
			acts, written = more, inc
			inc.State, inc.UpdatedAt = st, now
			inc.Outbox = append(inc.Outbox, incident.ChatItems(cfg, inc.Service, more, now)...)
			return store.ActionEntries(more, "pagerd"), true, nil
		})
		if werr == nil && written != nil {
			d.Acted(written, acts)
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case werr != nil:
			failed, err = append(failed, id), werr
		case written != nil:
			changed = append(changed, id)
		}
	})
	slices.Sort(changed)
	slices.Sort(failed)
	if len(changed) > 0 {
		d.Wake()
	}
	return changed, failed, err
}

// refusedForward brings forward, in each incident whose page a storm
// message failed (ids), its person's next step (policy.EventChannelFailed),
// as a single page refused does (refused) and a delivery report saying the
// message did not arrive does: without it the person's SMS or call came at
// its own time, minutes later, after a message nobody got. A failure that
// cannot have reached the person also names the step the incident's page
// in the message was held for, as its entry among notes (the flush's)
// has it: when nothing else of the incident's level reached anyone, the
// next level is paged at once, as for a page refused on its own. One that
// may have reached them (incident.MayHavePaged), or whose notes an
// earlier claim wrote (the journal kept the message), names none, and
// counts as gone out. It runs once, after the flush is stored (a second
// time would bring the step after that forward too). Writes that fail are
// logged, once for all: those steps keep their time.
func (d *Dispatcher) refusedForward(ctx context.Context, cfg *policy.Config, user, channel string, ids []string, notes map[string][]store.Entry) {
	if len(ids) == 0 {
		return
	}
	events := make(map[string]policy.Event, len(ids))
	for _, id := range ids {
		ev := policy.Event{Kind: policy.EventChannelFailed, Actor: user, Channel: channel}
		es := notes[id]
		if i := slices.IndexFunc(es, func(e store.Entry) bool { return e.Type == "notify_failed" && e.Bundle != "" }); i >= 0 && !incident.MayHavePaged(es[i]) {
			ev.Step = es[i].Step
		}
		events[id] = ev
	}
	if _, failed, err := d.applyEach(ctx, cfg, events); len(failed) > 0 {
		d.log.Error("storm message failed, and its incidents' next steps could not be brought forward: they come at their own time",
			"user", user, "channel", channel, "incidents", len(failed), "first", failed[0], "err", err)
	}
}

// stormHold is the prefix of a storm's key in the journal's holds, apart
// from incidents'.
const stormHold = "storm:"

// unreadableHeld is the reason pagerd_dispatch_errors_total counts a held
// page left out of its storm's message under: the store could not decode
// it (readable).
const unreadableHeld = "unreadable_held"

// notRecorded is the reason pagerd_dispatch_errors_total counts a storm
// message under whose storm was flushed without its notes in its
// incidents' timelines, or without marking those it took to PagerDuty
// as pushed there (flush): the store refused them past recordRetryShort, or
// for good.
const notRecorded = "not_recorded"

// errPastSendBy is sendHeld's error for a message not sent because its
// claim's send window closed while it waited for its turns
// (pastSendBy): another replica may have taken the storm over and sent
// it. Nothing went out and nothing is journaled; the claim is left to run
// out.
var errPastSendBy = errors.New("storm message not sent: its claim's send window closed while it waited")

// errSendCut is sendHeld's error for a message whose send the claim's
// context cut short (its lease and a send timeout were over): whether it
// went out is unknown, so nothing is journaled or recorded, and the
// takeover sends it, as page does for an incident's page. Recorded as
// failed, a cut message dropped its held pages with nobody paged.
var errSendCut = errors.New("storm message not known to be sent: the claim's time ran out while it was sent")

// Storm flushes take their bulk store work in turns. A storm window's
// storms close together (every person a flood pages started one with its
// first alerts), and each flush reads its held pages and their incidents'
// statuses, stores its bundle, and notes every incident it carries. In the
// load run at 1,000 alerts/s (12 storms of about 820 held pages each) the
// flushes ran together: the dispatcher's goroutines took 95 ms of every
// 100 ms of one core, and Redis most of the other, for 300 ms; the alerts
// arriving meanwhile waited for the CPU (a trigger's script round trip
// went from 0.6 ms to 23–49 ms) and the p99 of all alerts at 1,000/s was
// 25–39 ms, against 8 ms with bundling off. So a flush's bulk store calls
// go one at a time in each dispatcher, in turns (inTurn); its message is
// sent outside its turn, so that a provider that hangs holds up nobody
// else's message (TestStormHoldsNobodyElse), and a flush's calls never
// nest.
//
// The calls a storm's message waits for (its held pages, their
// incidents' statuses, its bundle) take their turns before the calls that
// record a message already sent (the notes in every incident it named,
// the held pages dropped), which only a restart's journal waits for; and
// of each kind, the call of the storm due first goes first, so that one
// storm gets its message out before the next starts on its own. In one
// queue, in the order calls came, storms due together went through their
// calls round by round: each message waited for every other storm's
// reads, and for the notes of the storms before it, on a writer busy
// with alerts. In the load run at twice capacity on the embedded store,
// storm messages went out 1.4-2.3 s late at the median and 2.6-2.8 s at
// most, all twelve of a close at about the same time; 0.7-1.1 s and
// 1.1-1.5 s with these turns (docs/BENCHMARKS.md).

// turnFor is which of the turn's queues a call waits in.
type turnFor int

const (
	// forMessage: a call a storm message waits for.
	forMessage turnFor = iota
	// forRecord: a call that records a message sent.
	forRecord
)

// turnCall is a call waiting for the turn.
type turnCall struct {
	kind  turnFor
	due   time.Time // its storm's
	since time.Time // when it came
	given chan struct{}
}

// before says whether c takes the turn before o: a message's call before
// a record's, then the storm due first; of two equal, the one that came
// first (the queue is in the order calls came).
func (c *turnCall) before(o *turnCall) bool {
	if c.kind != o.kind {
		return c.kind < o.kind
	}
	return c.due.Before(o.due)
}

// turn is one call at a time, in the order turnCall.before says, but a
// call that has waited longer than patience goes first, oldest first:
// storms closing without end would otherwise keep a storm's record (and
// its claim, until the lease runs out and another replica sends its
// held pages again) waiting behind their messages. Each call given the
// turn that way calls overdue (pagerd_storm_turn_overdue_total), so that
// a dispatcher whose storms close faster than its store takes their
// calls is seen.
type turn struct {
	mu       sync.Mutex
	taken    bool
	waiting  []*turnCall // in the order they came
	patience time.Duration
	// stuck is how long inTurn waits for the turn before its call goes
	// without it (none when 0): the turn only spreads the flushes' load,
	// and a store call that hangs while it holds the turn (until its
	// claim's context ends, a lease and a send timeout later) must not
	// hold every storm's message on the replica.
	stuck   time.Duration
	now     func() time.Time // time.Now when nil
	overdue func()           // none when nil
}

func (t *turn) clock() time.Time {
	if t.now == nil {
		return time.Now()
	}
	return t.now()
}

// take waits for the turn, or for ctx to end (an error).
func (t *turn) take(ctx context.Context, kind turnFor, due time.Time) error {
	t.mu.Lock()
	if !t.taken {
		t.taken = true
		t.mu.Unlock()
		return nil
	}
	c := &turnCall{kind: kind, due: due, since: t.clock(), given: make(chan struct{})}
	t.waiting = append(t.waiting, c)
	t.mu.Unlock()
	select {
	case <-c.given:
		return nil
	case <-ctx.Done():
	}
	t.mu.Lock()
	if i := slices.Index(t.waiting, c); i >= 0 {
		t.waiting = slices.Delete(t.waiting, i, i+1)
		t.mu.Unlock()
		return ctx.Err()
	}
	t.mu.Unlock()
	t.give() // given as ctx ended: pass it on
	return ctx.Err()
}

// give ends a turn: the call waiting that goes first takes it.
func (t *turn) give() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.waiting) == 0 {
		t.taken = false
		return
	}
	next := 0
	if t.clock().Sub(t.waiting[0].since) <= t.patience {
		for i, c := range t.waiting {
			if c.before(t.waiting[next]) {
				next = i
			}
		}
	} else if t.overdue != nil {
		t.overdue()
	}
	close(t.waiting[next].given)
	t.waiting = slices.Delete(t.waiting, next, next+1)
}

// inTurn runs fn, a bulk store call of the flush of the storm due at due,
// in the dispatcher's turn.
// A call that waited turn.stuck goes without it, counted as overdue.
func (d *Dispatcher) inTurn(ctx context.Context, kind turnFor, due time.Time, fn func() error) error {
	wait, cancel := ctx, context.CancelFunc(func() {})
	if d.turn.stuck > 0 {
		wait, cancel = context.WithTimeout(ctx, d.turn.stuck)
	}
	err := d.turn.take(wait, kind, due)
	cancel()
	switch {
	case err == nil:
		defer d.turn.give()
	case ctx.Err() == nil:
		if d.turn.overdue != nil {
			d.turn.overdue()
		}
		d.log.Warn("dispatcher: a storm flush's store call waited too long for its turn and goes without it: the call holding the turn is stuck, or the store is far behind",
			"waited", d.turn.stuck.String())
	default:
		return err
	}
	return fn()
}

// notePart is how many incidents' notes one turn of a flush writes. A
// flood's bundle names thousands, and its notes in one turn held every
// other storm's message on the replica (turnCall.before gives a message
// the turn first, but only between turns) for as long as the store took
// to write them all: in parts, a message waits for one part at most.
const notePart = 256

// noteInTurns writes a flush's notes (Store.Note) in parts of notePart
// incidents, oldest first (so that a part's incidents are near each other
// in the store), each part in a turn of its own. As Store.Note does, it
// removes from notes the incidents noted, so that a call again notes only
// the rest.
func (d *Dispatcher) noteInTurns(ctx context.Context, due time.Time, notes map[string][]store.Entry) error {
	ids := oldestFirst(notes)
	for part := range slices.Chunk(ids, notePart) {
		some := make(map[string][]store.Entry, len(part))
		for _, id := range part {
			some[id] = notes[id]
		}
		err := d.inTurn(ctx, forRecord, due, func() error { return d.o.Store.Note(ctx, some) })
		for _, id := range part {
			if _, left := some[id]; !left || err == nil {
				delete(notes, id)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// oldestFirst returns the incident ids m is keyed by in creation order
// (the time each id carries, store.MillisOfID), then by id. Each id's time
// is read once: read in the comparison, a flush's sort of thousands of
// incidents decoded each id a dozen times over (1.7% of pagerd's CPU in
// the load run's closed loop, BenchmarkOldestFirst).
func oldestFirst[V any](m map[string]V) []string {
	type timed struct {
		ms int64
		id string
	}
	all := make([]timed, 0, len(m))
	for id := range m {
		ms, _ := store.MillisOfID(id)
		all = append(all, timed{ms, id})
	}
	slices.SortFunc(all, func(a, b timed) int { return cmp.Or(cmp.Compare(a.ms, b.ms), strings.Compare(a.id, b.id)) })
	ids := make([]string, len(all))
	for i, t := range all {
		ids[i] = t.id
	}
	return ids
}

// heldKey names a held page: its incident and the deadline that held it.
func heldKey(p store.HeldPage) string { return p.Incident + "/" + p.Deadline }

// headIs reports whether the held list starts with the pages named.
func headIs(held []store.HeldPage, pages []string) bool {
	if len(pages) == 0 || len(held) < len(pages) {
		return false
	}
	for i, k := range pages {
		if heldKey(held[i]) != k {
			return false
		}
	}
	return true
}

// sendHeld sends one message for the held pages that still page their
// incidents (stillPaged) and says how it went, for the journal and the
// timelines.
func (d *Dispatcher) sendHeld(ctx context.Context, cfg *policy.Config, c store.Claim, user, channel string,
	held []store.HeldPage, now, sendBy time.Time) (journaledFlush, error) {
	f := journaledFlush{top: store.NoRank, notes: map[string][]store.Entry{}}
	for _, p := range held {
		f.pages = append(f.pages, heldKey(p))
	}
	waiting, before := unsent(d.readable(c.Storm, held))
	pages := distinctIncidents(waiting)
	ids := make([]string, len(pages))
	for i, p := range pages {
		ids[i] = p.Incident
	}
	var live, gone []store.HeldPage
	for rebuilt := 0; ; rebuilt++ {
		var statuses map[string]policy.Status
		err := d.inTurn(ctx, forMessage, c.Due, func() (err error) {
			statuses, err = d.o.Store.Statuses(ctx, ids)
			return err
		})
		// A store that refuses for good (a record it cannot decode) would
		// refuse at every claim: the message never went out, and every new
		// page to its person on its channel was held behind it. The message
		// then names every incident held: a page too many beats pages lost.
		unread := err != nil && !errors.Is(err, store.ErrUnavailable) && ctx.Err() == nil
		if unread {
			d.log.Error("storm message: its incidents' statuses could not be read; it names every incident held, those acknowledged or resolved meanwhile too",
				"storm", c.Storm, "incidents", len(ids), "err", err)
		} else if err != nil {
			return f, err
		}
		live, gone = nil, nil
		for _, p := range pages {
			if unread || stillPaged(p, statuses[p.Incident]) {
				live = append(live, p)
			} else {
				gone = append(gone, p)
			}
		}
		live = d.unheld(ctx, c.Storm, live, now)
		if len(live) == 0 {
			break
		}
		notes, pushed, err := d.sendBundle(ctx, cfg, c, user, channel, live, gone, now, sendBy, rebuilt < maxRebuilds)
		if errors.Is(err, errRebuild) {
			// Some of its incidents were acknowledged or resolved
			// before it went out: it goes without them.
			now = d.o.Now().UTC().Truncate(time.Millisecond)
			continue
		}
		f.notes, f.pushed = notes, pushed
		if err != nil {
			return f, err
		}
		// The next window counts the pages the message carried when it
		// went out. Failed, called off or not sent in shadow mode,
		// nothing was sent in it, and a page more urgent than what was
		// sent in it must not wait behind a message the person never
		// got.
		for _, p := range live {
			switch es := f.notes[p.Incident]; {
			case len(es) == 0:
			case es[0].Type == "notify_failed":
				f.refused = append(f.refused, p.Incident)
			case es[0].Type == "notify":
				f.top = min(f.top, p.Rank)
			}
		}
		break
	}
	if len(gone) > 0 {
		d.log.Info("storm bundle left out incidents acknowledged or resolved while held", "storm", c.Storm, "left_out", len(gone))
	}
	if before > 0 {
		d.log.Info("storm bundle left out pages whose incidents went out on their own since", "storm", c.Storm, "left_out", before)
	}
	return f, nil
}

// readable is held without the pages the store could not decode
// (store.HeldPage.Unreadable), which the message leaves out: their
// incidents are unknown. Each is counted (reason unreadable_held) and
// logged. The incidents' later steps page as usual; flush drops them with
// the rest.
func (d *Dispatcher) readable(storm string, held []store.HeldPage) []store.HeldPage {
	out := make([]store.HeldPage, 0, len(held))
	var why []string
	for _, p := range held {
		if p.Unreadable == "" {
			out = append(out, p)
		} else {
			why = append(why, p.Unreadable)
		}
	}
	if len(why) > 0 {
		d.m.errors.WithLabelValues(unreadableHeld).Add(float64(len(why)))
		d.log.Error("storm message leaves out held pages the store could not read: nobody is told of them in it; their incidents' next steps page as usual",
			"storm", storm, "unreadable", len(why), "err", strings.Join(why, "; "))
	}
	return out
}

// unsent are the held pages still to send: not those that went out at once
// (listed Sent), nor those held before one of their incident did (a raise
// made it more urgent than anything sent in the window, and it went out
// on its own: sending the incident again in the message would page the
// person twice for it), unless a page of the incident is held after that
// one too (its send failed and it was held again, or the incident paged
// the person again since): the message names the incident anyway. before
// is how many pages were left out for having gone out on their own.
func unsent(held []store.HeldPage) (out []store.HeldPage, before int) {
	last := map[string]int{}     // incident -> its last page sent at once
	lastHeld := map[string]int{} // incident -> its last page held
	for i, p := range held {
		if p.Sent {
			last[p.Incident] = i
		} else {
			lastHeld[p.Incident] = i
		}
	}
	for i, p := range held {
		switch j, ok := last[p.Incident]; {
		case p.Sent:
		case ok && i < j && lastHeld[p.Incident] < j:
			before++
		default:
			out = append(out, p)
		}
	}
	return out, before
}

// heldDetail says, for the timeline, when a held page goes out: at its
// window's end, or by the next one's when it came while its window's
// message was being sent.
func heldDetail(user, channel string, a store.Admission) string {
	when := "at"
	if a.Closing {
		when = "by"
	}
	return fmt.Sprintf("held to go out with %s's other %s pages in one message %s %s",
		user, channel, when, a.Until.UTC().Format(time.RFC3339))
}

// holdFailed lists again, held, a page that went out at once while others
// were held and failed: listed as sent, it would make the storm message
// leave out its incident's held pages, and the person would never be told
// of it. It returns what to add to the page's timeline entry, and whether
// the page is held.
func (d *Dispatcher) holdFailed(ctx context.Context, cfg *policy.Config, user, channel string, p store.HeldPage) (string, bool) {
	a, err := d.o.Store.HoldFailed(ctx, store.StormKey(user, channel), p, d.o.Now().UTC(), stormRules(cfg))
	if err != nil {
		d.log.Error("page not held again for its storm message; its incident may be left out of it",
			"incident", p.Incident, "user", user, "channel", channel, "err", err)
		return fmt.Sprintf("; not held again for the alert storm's message (%v): it may leave this incident out", err), false
	}
	return "; alert storm: " + heldDetail(user, channel, a), true
}

// pagedSince says whether another replica took this claim over and paged
// user on channel for incident, when this claim's page, listed in its
// storm as sent and started at at, is called off, fails or is sent back by
// a rate limit: the incident's timeline has a page to them there that
// went out after at (notify: on its own or in an alert-storm message).
// The page is then not held again (holdFailed): the storm's message would
// page them for the incident a second time. A page that went out covers
// the incident's pages held before it, as the storm's message has it (a
// page that went out on its own leaves them out). An acknowledgement, a
// resolve or a maintenance window that took the step out pages nobody and
// leaves no such entry. Until sendBy the claim's lease is not over and
// nobody else can have paged the step: nothing is read (a page called off
// by an acknowledgement, the common case, costs nothing more). A read
// that fails answers no: the page is held again, a duplicate rather than
// a missed page.
func (d *Dispatcher) pagedSince(ctx context.Context, incident, user, channel string, at, sendBy time.Time) bool {
	if !d.pastSendBy(ctx, sendBy) {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, stillDueTimeout)
	defer cancel()
	tl, err := d.o.Store.Timeline(ctx, incident)
	if err != nil {
		d.log.Warn("dispatcher: could not tell whether another replica paged a step this claim did not; its page is held again for its alert storm's message",
			"incident", incident, "user", user, "channel", channel, "err", err)
		return false
	}
	return slices.ContainsFunc(tl, func(e store.Entry) bool {
		return e.Type == "notify" && e.User == user && e.Channel == channel && e.At.After(at)
	})
}

// pagedInMessages marks, among a claim's pages, those whose step an
// alert storm's message already paged (duePage.inMessage): the claim is a
// takeover, or the step was put back due after its storm held its page
// past its claim's send window (policy.Deadline.StormHeldLate). The claim
// before had the page held in the person's storm and did not record the
// hold: it died, or stalled across the window's end while another replica
// sent the storm's message, naming the incident. Paged again, the person
// got the incident twice, on its own or in the next window's message.
// The incident's timeline is read once; a read that fails marks nothing,
// and the pages go out (a duplicate beats a missed page).
func (d *Dispatcher) pagedInMessages(ctx context.Context, id string, pages []duePage) {
	ctx, cancel := context.WithTimeout(ctx, stillDueTimeout)
	defer cancel()
	tl, err := d.o.Store.Timeline(ctx, id)
	if err != nil {
		d.log.Warn("dispatcher: could not tell whether an alert storm's message already paged a step taken over or due again; it is paged",
			"incident", id, "err", err)
		return
	}
	for i := range pages {
		p := &pages[i]
		if p.step.Admitted {
			continue // let out at once by its storm, and counted there: not held
		}
		due := p.a.At
		if !p.step.FirstDue.IsZero() {
			due = p.step.FirstDue
		}
		note, ok := pagedInMessage(tl, p.a.User, p.a.Channel, p.deadline, due, p.reopened)
		if !ok {
			continue
		}
		// The message's note again, for this step: what reads the
		// note (a reply, a report, an acknowledgement's forward to
		// PagerDuty) reads the same page in it.
		e := note
		e.Detail += "; recorded again for its step, taken over or due again: not sent again (the claim that had the page held there did not record the hold: its replica stopped or stalled)"
		p.inMessage = &e
		d.log.Info("page not sent: an alert storm's message already paged the person for its step (the claim that had it held stopped or stalled before recording the hold)",
			"incident", id, "user", p.a.User, "channel", p.a.Channel, "bundle", note.Bundle, "message_at", note.At)
	}
}

// pagedInMessage finds in tl the note of an alert storm's message that
// paged step (held for it) to user on channel once it was due, at the
// incident's reopen count reopened, and that no delivery report says
// reached nobody.
func pagedInMessage(tl []store.Entry, user, channel, step string, due time.Time, reopened int) (store.Entry, bool) {
	for _, e := range slices.Backward(tl) {
		if e.Type != "notify" || e.Bundle == "" || e.User != user || e.Channel != channel || e.Step != step ||
			e.At.Before(due) || e.Reopened != reopened {
			continue
		}
		// A report may be noted before the message's notes
		// (incident.EarlyBundleReport).
		if slices.ContainsFunc(tl, func(r store.Entry) bool {
			return r.Type == incident.DeliveryFailed && r.Unreached && r.Bundle == e.Bundle && r.User == user && r.Channel == channel
		}) {
			continue
		}
		return e, true
	}
	return store.Entry{}, false
}

// detached is a context for a store call owed whatever became of ctx (a
// claim's, whose time may have run out), bounded by a store call's
// timeout.
func (d *Dispatcher) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d.callTimeout)
}

// withdraw takes back from its storm a page it held whose claim will not
// record the hold (store.Storms.Withdraw): the claim's send window or its
// context ended while the storm was asked, and its step is paged again, by
// the next claim or the takeover. Listed as gone out on its own, unless
// the step is held twice (the takeover's page held too): the message
// then names the incident for that one. On a context of its own, bounded
// by a store call's timeout: the claim's may be over, and left as it is
// the hold pages the person again in the storm's message. A write that
// fails is logged.
func (d *Dispatcher) withdraw(ctx context.Context, user, channel string, p store.HeldPage) {
	ctx, cancel := d.detached(ctx)
	defer cancel()
	if err := d.o.Store.Withdraw(ctx, store.StormKey(user, channel), p); err != nil {
		d.log.Warn("a page held past its claim's send window was not taken back from its alert storm: its person may get it in the storm's message and again on its own",
			"incident", p.Incident, "user", user, "channel", channel, "err", err)
	}
}

// takeBackUnknown takes back from its storm a page whose claim's time ran
// out before the storm's lost answer (store.ErrOutcomeUnknown) could be
// asked again: the store may have held it, and the storm's message would
// page the person for it as well as the takeover's page; or counted it,
// and the window would count a page nobody got and hold the person's next
// page to its end behind it. Asked again on a context of its own (the
// claim's is over), the store gives the page its first answer, and that
// is taken back (unsent; a hold is withdrawn, listed as gone out on its
// own, as the takeover pages the step); a page the store never took is
// taken in and back at once. A store that does not answer leaves it as
// it was, logged. When the takeover asked the storm first, the store no
// longer keeps the first answer: the page counts anew and is taken back,
// and what the lost answer did stays.
func (d *Dispatcher) takeBackUnknown(ctx context.Context, user, channel string, p store.HeldPage, now time.Time, r store.StormRules) {
	sctx, cancel := d.detached(ctx)
	adm, err := d.o.Store.Admit(sctx, store.StormKey(user, channel), p, now, r)
	if err != nil {
		cancel()
		d.log.Warn("a page whose alert storm's answer was lost, its claim's time over, may still be held or counted in its storm: its person may get it twice, or a later page late",
			"incident", p.Incident, "user", user, "channel", channel, "err", err)
		return
	}
	if adm.Send {
		d.unsent(sctx, user, channel, p, adm.Until, !now.Before(adm.Until))
		cancel()
		return
	}
	cancel()
	d.withdraw(ctx, user, channel, p)
}

// unsent takes back, from its storm's window, a page its storm let out at
// once whose send failed or was called off (store.Storms.Unsent): counted,
// it held a more urgent page after it to the window's end behind a page
// the person never got. A write that fails is logged: the page counts.
func (d *Dispatcher) unsent(ctx context.Context, user, channel string, p store.HeldPage, end time.Time, after bool) {
	if err := d.o.Store.Unsent(ctx, store.StormKey(user, channel), p.Rank, end, after); err != nil {
		d.log.Warn("a page that failed still counts as sent in its alert storm's window: a page after it may be held to the window's end",
			"incident", p.Incident, "user", user, "channel", channel, "err", err)
	}
}

// retryStore runs write until the store takes it, backing off while it
// refuses (ErrUnavailable), until the deadline. Other errors end it.
func (d *Dispatcher) retryStore(ctx context.Context, until time.Time, write func() error) error {
	bo := newBackoff(50*time.Millisecond, 2*time.Second)
	for {
		err := write()
		if err == nil || !errors.Is(err, store.ErrUnavailable) || time.Now().After(until) {
			return err
		}
		t := time.NewTimer(bo.wait())
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// sentBack is sendBundle's error for a storm message the provider's rate
// limit sent back (notify.ErrOverRateLimit): nothing went out, and its
// turn comes at turn.
type sentBack struct{ turn time.Time }

func (e *sentBack) Error() string {
	return "storm message sent back by the rate limit; its turn comes at " + e.turn.UTC().Format(time.RFC3339Nano)
}

// sendBundle sends one message for the live pages and returns the timeline
// entries that say how it went, and the incidents whose pages it took to
// PagerDuty though their contact was another when they were held. A
// message the provider's rate limit sent back (notify.ErrOverRateLimit)
// went nowhere and is no failure: its error (*sentBack) leaves the storm
// held, released by flush to come due again at its turn; but one the
// provider itself has kept sending back for notify.MaxRetryAfter since
// its first 429 (Storms.SentBack) fails.
func (d *Dispatcher) sendBundle(ctx context.Context, cfg *policy.Config, c store.Claim, user, channel string,
	live, gone []store.HeldPage, now, sendBy time.Time, exact bool) (map[string][]store.Entry, []string, error) {
	notes := make(map[string][]store.Entry, len(live))
	ref := "" // what the provider created for the message sent (Twilio's SMS or call SID)
	record := func(typ, detail, bundle string, at time.Time) {
		for _, p := range live {
			// Step: the step the incident's page in the message was
			// held for (policy.Incident.LevelPages has it): a delivery
			// report that the message reached nobody names it for each
			// incident, and so does the message's failure
			// (refusedForward), as for a page sent on its own.
			e := store.Entry{At: at, Type: typ, Level: p.Level + 1, User: user, Channel: channel, Bundle: bundle,
				Detail: detail, Reopened: p.Reopened, ReopenedKnown: true, Ref: ref, Step: p.Deadline}
			notes[p.Incident] = append(notes[p.Incident], e)
		}
	}
	id := store.NewBundleID(c.Storm, now)
	u, contact, n, why := d.transport(cfg, user, channel)
	if why != "" {
		// One message that could not go: its entries share its bundle
		// id, so that reports count one failed page, not one for each
		// incident it was to carry (the bundle itself is never stored).
		d.m.bundles.WithLabelValues(channel, "none", "failed").Inc()
		record("notify_failed", why, id, now)
		return notes, nil, nil
	}
	// Shadow mode (a service's shadow, a transport's dry_run) as in force
	// now, not when the pages were held: a reload that set it since
	// must keep them from a real transport, as it does single pages.
	var shadowed []store.HeldPage
	live = slices.DeleteFunc(slices.Clone(live), func(p store.HeldPage) bool {
		if why := cfg.ShadowOf(p.Service, contact.Via); why != "" {
			shadowed = append(shadowed, p)
			notes[p.Incident] = append(notes[p.Incident], store.Entry{At: now, Type: "notify_shadow", Level: p.Level + 1, User: user,
				Channel: channel, Detail: fmt.Sprintf("would have sent via %s, in one message (alert storm); not sent: %s", contact.Via, why)})
			return true
		}
		return false
	})
	if len(live) == 0 {
		d.m.bundles.WithLabelValues(channel, contact.Via, "shadow").Inc()
		d.log.Info("storm bundle not sent: shadow mode", "storm", c.Storm, "incidents", len(shadowed), "via", contact.Via)
		return notes, nil, nil
	}
	if len(shadowed) > 0 {
		d.log.Info("storm bundle leaves out incidents of services in shadow mode", "storm", c.Storm, "left_out", len(shadowed))
	}
	first := live[0]
	for _, p := range live[1:] {
		if p.Rank < first.Rank {
			first = p
		}
	}
	b := &store.Bundle{ID: id, User: user, Channel: channel, SentAt: now,
		Priority: first.Priority, Top: first.Service + ": " + first.Summary}
	for _, p := range live {
		b.Incidents = append(b.Incidents, p.Incident)
		b.Levels = append(b.Levels, p.Level+1)
		b.Reopened = append(b.Reopened, p.Reopened)
	}
	ackURL := ""
	put := func() error { return d.o.Store.PutBundle(ctx, b, time.Duration(cfg.Server.LinkTTL)) }
	if err := d.inTurn(ctx, forMessage, c.Due, put); err != nil {
		// Send anyway: the message matters more than its one-tap ack.
		d.log.Warn("storm bundle not stored; its message goes out without an ack link", "storm", c.Storm, "err", err)
	} else {
		ackURL = acklink.URL(cfg, b.ID, user, 0, now) // its bundle keeps the counts
	}
	msg := notify.Message{At: now, Incident: b.ID, Incidents: b.Incidents, Service: first.Service, Priority: first.Priority,
		Urgency: bundleUrgency(live, first.Urgency), Level: first.Level + 1, User: user, UserName: u.DisplayName(), Channel: channel,
		Address: contact.Address, Summary: fmt.Sprintf("%d incidents", len(live)), AckURL: ackURL}
	msg.Text = bundleText(live, gone, ackURL)
	if d.pastSendBy(ctx, sendBy) {
		// The turns for its statuses and its bundle took it past its
		// send window (flush looked before them).
		return nil, nil, errPastSendBy
	}
	// stale says the question found some of its incidents no longer
	// paged, and others still paged (exact).
	var stale atomic.Bool
	sctx, sentRef := notify.WithSentRef(notify.WithStillDue(ctx, func(ctx context.Context) bool {
		return d.askSafely("a storm message", func() bool {
			all, some := d.bundleStillDue(ctx, live)
			if exact && some && !all {
				stale.Store(true)
				return false
			}
			return some
		}, "storm", c.Storm, "bundle", b.ID)
	}))
	err := d.send(sctx, n, msg)
	sentAt := d.o.Now().UTC().Truncate(time.Millisecond)
	if errors.Is(err, notify.ErrNoLongerDue) && stale.Load() {
		d.log.Info("storm bundle called off to go again without incidents acknowledged or resolved while it was retried or waited, or while pagerd stalled before its request went out",
			"storm", c.Storm, "bundle", b.ID, "incidents", len(live), "via", contact.Via)
		return nil, nil, errRebuild
	}
	if errors.Is(err, notify.ErrNoLongerDue) {
		// Nothing went out: the timelines keep their notify_held, as for
		// incidents acknowledged before the flush.
		d.m.bundles.WithLabelValues(channel, contact.Via, "called_off").Inc()
		d.log.Info("storm bundle called off: all its incidents were acknowledged or resolved while it was retried or waited, or while pagerd stalled before its request went out",
			"storm", c.Storm, "bundle", b.ID, "incidents", len(live), "via", contact.Via, "err", err)
		return notes, nil, nil
	}
	if err != nil && ctx.Err() != nil {
		d.log.Warn("storm message not known to be sent: the claim's time ran out while it was sent; left to the takeover",
			"storm", c.Storm, "bundle", b.ID, "incidents", len(live), "via", contact.Via, "err", err)
		return nil, nil, errSendCut
	}
	again, over := notify.OverRateLimitDelay(err)
	if over && notify.SentBackByProvider(err) {
		// Counted from the provider's first 429, kept in the storm's
		// state, not from the window's end, as for a page (page): a
		// message already a minute late (pagerd's own rate limit in the
		// storm, a backlog, a takeover) failed at its first 429 and was
		// never tried again. A store that does not keep it gives the
		// message this try's minute: its claim's release most likely
		// fails too, and the takeover tries again.
		first, serr := d.o.Store.SentBack(ctx, c.Storm, now)
		if serr != nil {
			d.log.Warn("storm message sent back by the provider, and when it first was could not be kept; its minute on the provider's word counts from now",
				"storm", c.Storm, "bundle", b.ID, "err", serr)
			first = now
		}
		if now.Sub(first) >= notify.MaxRetryAfter {
			// The provider has sent it back (its 429) for longer than
			// a message is held on its word: failed, as a page is, so
			// its incidents' timelines say so and the person's next
			// step comes, rather than held for as long as the provider
			// stays over its limit.
			over = false
			err = fmt.Errorf("given up %s after the provider first sent it back (%s after its window's end), sent back at each try: %w",
				now.Sub(first).Round(time.Second), now.Sub(c.Due).Round(time.Second), err)
		}
	}
	if over {
		d.m.bundles.WithLabelValues(channel, contact.Via, "rate_limited").Inc()
		d.log.Info("storm bundle sent back by the rate limit; due again at its turn", "storm", c.Storm, "bundle", b.ID,
			"incidents", len(live), "via", contact.Via, "in", again.String())
		return nil, nil, &sentBack{turn: turnAt(d.o.Now().Add(max(again, time.Millisecond)))}
	}
	// Its incidents are marked pushed to PagerDuty when the message went
	// there, or may have (markPushed): an acknowledgement is forwarded.
	var pushed []string
	if contact.Via == "pagerduty" && (err == nil || errors.Is(pagerDutyMayHaveTaken(contact.Via, err), notify.ErrMaybeSent)) {
		for _, p := range live {
			if p.Via != "pagerduty" {
				pushed = append(pushed, p.Incident)
			}
		}
	}
	if err != nil {
		err = pagerDutyMayHaveTaken(contact.Via, err)
		d.m.bundles.WithLabelValues(channel, contact.Via, "failed").Inc()
		d.log.Warn("storm bundle "+notify.Failed(err), "storm", c.Storm, "bundle", b.ID, "incidents", len(live), "via", contact.Via, "err", err)
		record("notify_failed", fmt.Sprintf("via %s, in one message for %d incidents (alert storm): %v", contact.Via, len(live), err), b.ID, sentAt)
		return notes, pushed, nil
	}
	d.m.bundles.WithLabelValues(channel, contact.Via, "sent").Inc()
	late := sentAt.Sub(c.Due)
	d.m.lateness.Observe(late.Seconds())
	d.log.Info("storm bundle sent", "storm", c.Storm, "bundle", b.ID, "incidents", len(live), "left_out", len(gone), "via", contact.Via,
		"late", late.Round(time.Millisecond).String())
	ref = sentRef()
	record("notify", fmt.Sprintf("via %s, in one message for %d incidents (alert storm)", contact.Via, len(live)), b.ID, sentAt)
	return notes, pushed, nil
}

// bundleUrgency is a storm message's urgency: high when any page it carries
// is, whatever the urgency of its most urgent priority's page (a P1 on the
// low ladder must not quieten a P3 page still on the high one); else that
// page's.
func bundleUrgency(live []store.HeldPage, top string) string {
	if slices.ContainsFunc(live, func(p store.HeldPage) bool { return p.Urgency == policy.UrgencyHigh }) {
		return policy.UrgencyHigh
	}
	return top
}

// bundleStillDue is what a storm message's retries and waits ask
// (notify.WithStillDue): do all of its pages still page their incidents
// (stillPaged), and does any? None: it is called off. Some and not all:
// it is called off and goes again without those that no longer do
// (sendBundle's exact), as long as maxRebuilds allows; past that, it goes
// as it is. A read that fails answers all, made once more first when it
// failed other than by running out of time (stillDue).
func (d *Dispatcher) bundleStillDue(ctx context.Context, live []store.HeldPage) (all, some bool) {
	ids := make([]string, len(live))
	for i, p := range live {
		ids[i] = p.Incident
	}
	statuses, err := readTwice(ctx, func(ctx context.Context) (map[string]policy.Status, error) { return d.o.Store.Statuses(ctx, ids) })
	if err != nil {
		d.log.Warn("dispatcher: could not tell whether a storm message retried is still due; it goes out", "incidents", len(ids), "err", err)
		return true, true
	}
	all = true
	for _, p := range live {
		if stillPaged(p, statuses[p.Incident]) {
			some = true
		} else {
			all = false
		}
	}
	return all, some
}

// maxRebuilds bounds how many times one flush's message is called off to
// go again without incidents acknowledged or resolved before it went out
// (bundleStillDue): each time takes a retry, a wait or a stall, so more
// are rare; a flood whose incidents are acknowledged one by one as its
// message is retried must not keep it from going out.
const maxRebuilds = 2

// errRebuild is sendBundle's error for a message called off because some
// of its incidents, not all, no longer page: nothing went out, and
// sendHeld makes it again from their statuses then.
var errRebuild = errors.New("storm message called off to go again without incidents acknowledged or resolved meanwhile")

// unheld is live without the pages of incidents a maintenance window holds
// (policy.Incident.Maintenance): the window's start stopped their pages,
// and its end pages each as new, so the message would page the person
// for them inside the window and again at its end. Their statuses do not
// say it; the documents of those of a service a window may hold now
// (Options.WindowsInForce) are read, one round trip each, and no others:
// a window in force for one service must not have every storm flush of a
// flood elsewhere read each of its incidents. One that cannot be read
// stays in (a page too many, not one lost), and the log says so.
func (d *Dispatcher) unheld(ctx context.Context, storm string, live []store.HeldPage, now time.Time) []store.HeldPage {
	if d.o.WindowsInForce == nil || len(live) == 0 {
		return live
	}
	mayHold := map[string]bool{}
	out := live[:0:0]
	unread, left := 0, 0
	var readErr error
	for _, p := range live {
		may, seen := mayHold[p.Service]
		if !seen {
			may = d.o.WindowsInForce(ctx, now, p.Service)
			mayHold[p.Service] = may
		}
		if may {
			inc, err := d.o.Store.Get(ctx, p.Incident)
			switch {
			case err == nil && inc.State.Maintenance != nil:
				left++
				continue
			case err != nil && !errors.Is(err, store.ErrNotFound):
				unread++
				readErr = err
			}
		}
		out = append(out, p)
	}
	if left > 0 {
		d.log.Info("storm bundle left out incidents a maintenance window holds: its end pages them", "storm", storm, "left_out", left)
	}
	if unread > 0 {
		d.log.Warn("storm bundle names incidents it could not read to see whether a maintenance window holds them: one held is paged inside its window, and again at its end",
			"storm", storm, "unread", unread, "err", readErr)
	}
	return out
}

// stillPaged says whether a held page still pages its incident, of status
// st: while it is triggered, or, for a page that pages an acknowledged
// incident too (an unresolved rule's), until it is resolved.
func stillPaged(p store.HeldPage, st policy.Status) bool {
	return st == policy.StatusTriggered || (st == policy.StatusAcknowledged && p.PagesAcknowledged)
}

// markPushed marks incidents as pushed to PagerDuty, for a storm message
// that went there though their contact was another when their pages were
// held (a reload switched it; a page held through a PagerDuty contact
// marked its incident then, as any page does). Their acknowledgement and
// resolve then tell PagerDuty, which closes the message's incident there;
// one already acknowledged or resolved owes PagerDuty that now.
func (d *Dispatcher) markPushed(ctx context.Context, ids []string, now time.Time) error {
	for _, id := range ids {
		err := d.rewrite(ctx, id, func(inc *store.Incident) (bool, error) {
			if !inc.NotPushedToPagerDuty {
				return false, nil
			}
			inc.NotPushedToPagerDuty = false
			inc.Outbox = append(inc.Outbox, incident.LateForward(inc.State.Status, now)...)
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("incident %s: %w", id, err)
		}
	}
	return nil
}

// rewrite reads an incident, lets edit change it (false: nothing to
// write) and writes it, reading it again when another writer got there
// first (acknowledged or repeated meanwhile), ten times at most: the
// writes a storm flush makes to incidents it holds no claim on. An
// incident gone is nothing to do.
func (d *Dispatcher) rewrite(ctx context.Context, id string, edit func(inc *store.Incident) (bool, error)) error {
	return d.rewriteNoting(ctx, id, func(inc *store.Incident) ([]store.Entry, bool, error) {
		write, err := edit(inc)
		return nil, write, err
	})
}

// rewriteNoting is rewrite whose edit also says what to append to the
// incident's timeline in the same write.
func (d *Dispatcher) rewriteNoting(ctx context.Context, id string, edit func(inc *store.Incident) ([]store.Entry, bool, error)) error {
	for attempt := 0; ; attempt++ {
		inc, err := d.o.Store.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		tl, write, err := edit(inc)
		if err != nil || !write {
			return err
		}
		err = d.o.Store.Update(ctx, inc, tl)
		if errors.Is(err, store.ErrConflict) && attempt < 10 {
			continue
		}
		return err
	}
}

// distinctIncidents keeps one held page of each incident, in the place of
// its first (a page fired twice, around a crash, or an incident paged
// again while held, is one line in the message): its most urgent, so that
// an incident raised to P0 while its P2 page waited goes out as a P0, with
// the latest reopen count of its pages (the message pages for the
// incident as it is since).
func distinctIncidents(held []store.HeldPage) []store.HeldPage {
	at := make(map[string]int, len(held))
	out := make([]store.HeldPage, 0, len(held))
	for _, p := range held {
		i, seen := at[p.Incident]
		switch {
		case !seen:
			at[p.Incident] = len(out)
			out = append(out, p)
		case p.Rank < out[i].Rank:
			p.Reopened = max(p.Reopened, out[i].Reopened)
			p.PagesAcknowledged = p.PagesAcknowledged || out[i].PagesAcknowledged
			out[i] = p
		default:
			out[i].Reopened = max(out[i].Reopened, p.Reopened)
			out[i].PagesAcknowledged = out[i].PagesAcknowledged || p.PagesAcknowledged
		}
	}
	return out
}

// bundleText is the storm message: how many incidents, by priority, the
// most urgent first by summary, what was left out because someone acted
// on it meanwhile, and the link that acknowledges all of them.
func bundleText(live, gone []store.HeldPage, ackURL string) string {
	byRank := append([]store.HeldPage(nil), live...)
	sort.SliceStable(byRank, func(i, j int) bool { return byRank[i].Rank < byRank[j].Rank })
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %d incidents (alert storm):", byRank[0].Priority, len(live))
	var counts []string
	for i := 0; i < len(byRank); {
		j := i
		for j < len(byRank) && byRank[j].Priority == byRank[i].Priority {
			j++
		}
		counts = append(counts, fmt.Sprintf("%d %s", j-i, byRank[i].Priority))
		i = j
	}
	b.WriteString(" " + strings.Join(counts, ", ") + ".")
	for i, p := range byRank[:min(bundleTop, len(byRank))] {
		sep := ";"
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&b, "%s [%s] %s: %s (incident %s)", sep, p.Priority, p.Service, p.Summary, p.Incident)
	}
	if more := len(byRank) - bundleTop; more > 0 {
		fmt.Fprintf(&b, "; and %d more", more)
	}
	b.WriteString(".")
	if len(gone) > 0 {
		var names []string
		for _, p := range gone[:min(bundleTop, len(gone))] {
			names = append(names, p.Incident)
		}
		if len(gone) > bundleTop {
			names = append(names, fmt.Sprintf("%d more", len(gone)-bundleTop))
		}
		fmt.Fprintf(&b, " Not included, acknowledged or resolved meanwhile: %s.", strings.Join(names, ", "))
	}
	if ackURL != "" {
		b.WriteString(" Ack all: " + ackURL)
	}
	return b.String()
}
