// Package created keeps a store's copies of the incidents it just
// created, for their first claim.
//
// A new incident's first page is queued to come due at once, and the
// replica that created the incident is usually the one whose dispatcher
// claims it, within a second. Decoding the record the claim reads back
// (unpacking and parsing its JSON) was a tenth of the CPU an alert costs
// under load, to rebuild an incident this replica held a moment before.
// So Trigger keeps a copy of each incident it creates, and ClaimDue hands
// that copy over instead of decoding, once, and only when the record it
// read is byte for byte the one Trigger wrote (what decode reads). Any
// write since (a repeat, an update, an acknowledgement through another
// replica) changes those bytes, and the record is decoded as before. The
// copy is what decode would give for those bytes (canonical): times in
// UTC without a monotonic reading, empty slices as nil.
package created

import (
	"sync"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Kept is how many just-created incidents a store keeps for their first
// claim: at 7,000 alerts a second, more than a second's worth, and a few
// MB. The oldest go first; one not claimed by then (another replica took
// it, or the dispatcher is further behind) is decoded as before.
const Kept = 8192

// Cache is a store's copies of the incidents it just created, each V
// holding the copy and the stored bytes it is the decoding of.
type Cache[V any] struct {
	mu   sync.Mutex
	byID map[string]V
	// ring is the ids in the order they were kept, to drop the oldest.
	ring []string
	next int
}

// NewCache is a cache of the n incidents created last.
func NewCache[V any](n int) *Cache[V] {
	return &Cache[V]{byID: make(map[string]V, n), ring: make([]string, n)}
}

// Keep holds c for the claim of id, dropping the oldest when full.
func (cc *Cache[V]) Keep(id string, c V) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if old := cc.ring[cc.next]; old != "" {
		delete(cc.byID, old)
	}
	cc.ring[cc.next] = id
	cc.next = (cc.next + 1) % len(cc.ring)
	cc.byID[id] = c
}

// Drop forgets id: its incident was not created after all.
func (cc *Cache[V]) Drop(id string) {
	cc.mu.Lock()
	delete(cc.byID, id)
	cc.mu.Unlock()
}

// Take hands over what is kept of id, and forgets it: a copy is handed
// over once, as a decode gives a new incident each time. The caller
// uses it only if the record it read is the one it was kept with.
func (cc *Cache[V]) Take(id string) (c V, ok bool) {
	cc.mu.Lock()
	c, ok = cc.byID[id]
	delete(cc.byID, id)
	cc.mu.Unlock()
	return c, ok
}

// Peek is what is kept of id, for tests.
func (cc *Cache[V]) Peek(id string) (c V, ok bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	c, ok = cc.byID[id]
	return c, ok
}

// Len is how many are kept, for tests.
func (cc *Cache[V]) Len() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return len(cc.byID)
}

// CanonicalCopy is the incident as decoding its record just after Trigger
// created it gives it back: version 1, no repeats (nor CheckRepeats,
// NoFirstPageLead and ReceivedBy, which are never stored), times in UTC
// with no monotonic reading, slices the JSON omits when empty nil,
// details nil when empty, and State's id and service those of the
// incident (Redis's decoding sets
// them so; the embedded store keeps only incidents whose state holds
// them already). ok is false if a time is not at UTC's offset (its
// decoding would carry another zone) or outside years 0-9999.
//
// The copy is of the incident's own fields (the claimant writes its State,
// Version and Outbox while the caller still reads its incident after
// Trigger returns: incident.Service.trigger's wakeIfDue and pagedNobody,
// Trigger's own Version). It shares, rather than copies, the contents the
// caller hands over with the incident (store.Store.Trigger): its details
// and State's slices (Pending, PageImmediately, PageImmediatelyBy, LevelPages, PausedTargets,
// Held) when they are already as decoding gives them, which the intake's
// are (its clock is UTC to the millisecond). Nobody writes into them
// afterwards: the caller only reads them (wakeIfDue's DueAt, the log),
// policy.Engine.Apply clones each before it changes it, the dispatcher
// clones Pending before adding a step and notices only append past their
// length, and details are written by no one once made. The deep copy of
// those was a sixth of the bytes a webhook allocated. Outbox (rewritten in
// place by slices.DeleteFunc in incident's outbox handling), SilencedAt,
// State.Lifted (which Apply does not clone) and Maintenance are copied as
// before: a new incident has none or one.
func CanonicalCopy(inc *store.Incident) (_ *store.Incident, ok bool) {
	ok = true
	at := func(t *time.Time) {
		if _, off := t.Zone(); off != 0 || t.Year() < 0 || t.Year() > 9999 {
			ok = false // not given back as it is (LastSeen, in the header, not at all)
		}
		*t = t.UTC()
	}
	c := *inc
	c.Version, c.Repeats, c.CheckRepeats, c.NoFirstPageLead, c.ReceivedBy = 1, 0, false, false, time.Time{}
	at(&c.CreatedAt)
	at(&c.UpdatedAt)
	at(&c.LastSeen)
	if !c.LastReceived.IsZero() {
		at(&c.LastReceived)
	}
	if len(inc.Details) == 0 {
		c.Details = nil
	}
	c.Outbox = cloneOrNil(inc.Outbox)
	for i := range c.Outbox {
		at(&c.Outbox[i].Due)
		at(&c.Outbox[i].Since)
		c.Outbox[i].Done = cloneOrNil(c.Outbox[i].Done)
	}
	c.SilencedAt = cloneOrNil(inc.SilencedAt)
	s := &c.State
	s.ID, s.Service = inc.ID, inc.Service
	at(&s.TriggeredAt)
	at(&s.AcknowledgedAt)
	at(&s.LastAcknowledgedAt)
	at(&s.ResolvedAt)
	at(&s.LastStatusAt)
	at(&s.LevelStartedAt)
	at(&s.LevelEscalatedAt)
	at(&s.LiftedAt)
	s.PageImmediately = nilIfEmpty(s.PageImmediately)
	s.PageImmediatelyBy = nilIfEmpty(s.PageImmediatelyBy)
	s.LevelPages = nilIfEmpty(s.LevelPages)
	s.PausedTargets = nilIfEmpty(s.PausedTargets)
	s.Lifted = cloneOrNil(s.Lifted) // not cloned by Engine.Apply
	s.Pending = sharedOrCopied(s.Pending, func(d *policy.Deadline) bool {
		return CanonicalTime(d.At) && CanonicalTime(d.FirstDue) && CanonicalTime(d.SentBackAt) &&
			CanonicalTime(d.StormEnd) && (d.Sent == nil || len(d.Sent) > 0)
	}, func(d *policy.Deadline) {
		at(&d.At)
		at(&d.FirstDue)
		at(&d.SentBackAt)
		at(&d.StormEnd)
		d.Sent = cloneOrNil(d.Sent)
	})
	s.Held = sharedOrCopied(s.Held, func(h *policy.HeldSpan) bool {
		return CanonicalTime(h.From) && CanonicalTime(h.To)
	}, func(h *policy.HeldSpan) {
		at(&h.From)
		at(&h.To)
	})
	if s.Maintenance != nil {
		m := *s.Maintenance
		at(&m.Until)
		at(&m.From)
		s.Maintenance = &m
	}
	return &c, ok
}

// sharedOrCopied is s itself when every element is as decoding gives it
// (canonical), nil when empty, and otherwise a copy with each element made
// so by canonicalize.
func sharedOrCopied[S ~[]E, E any](s S, canonical func(*E) bool, canonicalize func(*E)) S {
	if len(s) == 0 {
		return nil
	}
	for i := range s {
		if !canonical(&s[i]) {
			c := append(S(nil), s...)
			for j := range c {
				canonicalize(&c[j])
			}
			return c
		}
	}
	return s
}

// CanonicalTime reports whether t is as decoding gives it: in UTC (no
// other zone, even at UTC's offset), with no monotonic reading, within
// years 0-9999.
func CanonicalTime(t time.Time) bool {
	u := t.Unix()
	return u >= minStoredUnix && u <= maxStoredUnix && t == t.UTC() // UTC strips a monotonic reading
}

// The seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the years
// RFC 3339 writes.
const (
	minStoredUnix = -62167219200
	maxStoredUnix = 253402300799
)

// nilIfEmpty is s, nil when empty: what decoding gives for a field the
// JSON omits when empty.
func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}

// cloneOrNil copies a slice, nil when empty: what decoding gives for a
// field the JSON omits when empty.
func cloneOrNil[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return append(S(nil), s...)
}
