package dispatch

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// journal is what this replica sent but could not record in the store: a
// page goes out before its step is written (so a crash loses no page), and
// when the store then refuses the write, the step stays due and comes back
// when the lease ends. Without the journal the same replica would send it
// again at every lease end for as long as the store fails (an SMS or a call
// every 30 s). With it, a step that comes back to this replica is recorded,
// not sent again; only another replica taking it over can send it twice,
// once per fault, as in a crash.
//
// A step that an acknowledgement or a resolve took out of its incident
// meanwhile never comes back: with nothing left due, no claim does. The
// journal is then worked on its own (Dispatcher.recordJournal), once per
// lease per incident, so that such a page is recorded all the same.
//
// It is memory only, on purpose: a restart forgets it, which is the crash
// case. Entries expire after journalTTL, so a store that stays down longer
// cannot grow it without bound.
type journal struct {
	mu      sync.Mutex
	steps   map[string]journaledStep  // incident "/" deadline id
	flushes map[string]journaledFlush // storm key
	// held are the incidents a claim or recordJournal works on this
	// replica, each with a channel closed when it is done (hold).
	held map[string]chan struct{}
}

// journalTTL is how long a sent, unrecorded page is remembered.
const journalTTL = time.Hour

type journaledStep struct {
	entry store.Entry
	at    time.Time
	// look is when, on the dispatcher's clock, recordJournal next looks
	// at the step's incident: at the lease end, when its claim would come
	// back, then once per lease.
	look time.Time
}

// journaledFlush is a storm message that went out: the held pages it
// carried (incident and deadline of each, in held order, so a later flush
// can tell whether they are still the ones at the head of the list), its
// best rank and the timeline entries that record it.
type journaledFlush struct {
	pages []string
	top   int
	notes map[string][]store.Entry
	// pushed are the incidents to mark as pushed to PagerDuty (markPushed).
	pushed []string
	// refused are the incidents whose page the message failed: each
	// brings its person's next step forward once the flush is stored
	// (refusedForward).
	refused []string
	at      time.Time
	// takenOver marks a message whose Flushed found the claim taken over:
	// it is kept, for this replica's takeover to record rather than send
	// again, but not counted as unrecorded (size), since the store did
	// not refuse it and another replica's takeover records it.
	takenOver bool
}

func newJournal() *journal {
	return &journal{steps: map[string]journaledStep{}, flushes: map[string]journaledFlush{}, held: map[string]chan struct{}{}}
}

func stepKey(incident, deadline string) string { return incident + "/" + deadline }

// sent records that a step's page went out and how, and when to look at
// it on its own if no claim records it first (look).
func (j *journal) sent(incident, deadline string, e store.Entry, look time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.prune()
	j.steps[stepKey(incident, deadline)] = journaledStep{entry: e, at: time.Now(), look: look}
}

// anyDue reports whether a step is to be looked at by now.
func (j *journal) anyDue(now time.Time) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, s := range j.steps {
		if !s.look.After(now) {
			return true
		}
	}
	return false
}

// due returns the incidents with a step to look at by now, and puts their
// next look a lease later.
func (j *journal) due(now time.Time, lease time.Duration) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for k, s := range j.steps {
		if s.look.After(now) {
			continue
		}
		s.look = now.Add(lease)
		j.steps[k] = s
		inc, _, _ := strings.Cut(k, "/")
		if !seen[inc] {
			seen[inc] = true
			out = append(out, inc)
		}
	}
	return out
}

// hold makes the caller the one that works the incident's journaled
// steps on this replica, waiting for whoever does now (until ctx ends),
// so that a step is never recorded twice: by a claim and by
// recordJournal, each reading the timeline before the other wrote it.
// release ends the hold; waited says whether someone else held it first.
func (j *journal) hold(ctx context.Context, incident string) (release func(), waited bool, err error) {
	for {
		release, busy := j.take(incident)
		if busy == nil {
			return release, waited, nil
		}
		waited = true
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, waited, ctx.Err()
		}
	}
}

// tryHold is hold without waiting: ok is false when the incident is held.
func (j *journal) tryHold(incident string) (release func(), ok bool) {
	release, busy := j.take(incident)
	return release, busy == nil
}

// take holds the incident, or returns the channel of whoever holds it.
func (j *journal) take(incident string) (release func(), busy <-chan struct{}) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if ch, ok := j.held[incident]; ok {
		return nil, ch
	}
	ch := make(chan struct{})
	j.held[incident] = ch
	return func() {
		j.mu.Lock()
		defer j.mu.Unlock()
		delete(j.held, incident)
		close(ch)
	}, nil
}

// stepsOf returns the pages of an incident this replica sent and could not
// record, by deadline id.
func (j *journal) stepsOf(incident string) map[string]store.Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out map[string]store.Entry
	prefix := incident + "/"
	for k, s := range j.steps {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			if out == nil {
				out = map[string]store.Entry{}
			}
			out[k[len(prefix):]] = s.entry
		}
	}
	return out
}

// holdsSteps reports whether the journal holds a page of the incident:
// sent, and not recorded.
func (j *journal) holdsSteps(incident string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	prefix := incident + "/"
	for k := range j.steps {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// recorded forgets steps once the store holds them (or they no longer need
// recording).
func (j *journal) recorded(incident string, deadlines ...string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, d := range deadlines {
		delete(j.steps, stepKey(incident, d))
	}
}

// flushed records a storm message that went out.
func (j *journal) flushed(storm string, f journaledFlush) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.prune()
	f.at = time.Now()
	j.flushes[storm] = f
}

// flushOf returns the storm message this replica sent and could not record,
// if any.
func (j *journal) flushOf(storm string) (journaledFlush, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f, ok := j.flushes[storm]
	return f, ok
}

// flushRecorded forgets a storm message once its flush is stored.
func (j *journal) flushRecorded(storm string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.flushes, storm)
}

// size is how many unrecorded sends the journal holds, for the metric:
// not the storm messages whose claim was taken over.
func (j *journal) size() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := len(j.steps)
	for _, f := range j.flushes {
		if !f.takenOver {
			n++
		}
	}
	return n
}

func (j *journal) prune() {
	cutoff := time.Now().Add(-journalTTL)
	for k, s := range j.steps {
		if s.at.Before(cutoff) {
			delete(j.steps, k)
		}
	}
	for k, f := range j.flushes {
		if f.at.Before(cutoff) {
			delete(j.flushes, k)
		}
	}
}

// backoff is a capped exponential backoff with jitter, for retrying the
// store: full jitter over [d/2, d], doubling from base up to max.
type backoff struct {
	base, max, next time.Duration
}

func newBackoff(base, max time.Duration) *backoff { return &backoff{base: base, max: max, next: base} }

// wait returns the next pause and doubles the one after.
func (b *backoff) wait() time.Duration {
	d := b.next
	b.next = min(b.next*2, b.max)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (b *backoff) reset() { b.next = b.base }
