// Package store is the contract between the daemon and where incidents live:
// Redis (shared by any number of replicas) or the embedded on-disk store (one
// replica, no setup). Both implementations pass the same conformance suite,
// storetest.Run.
//
// An incident is stored with its escalation state (policy.Incident), which
// carries the pending deadlines. The due set holds one entry per incident,
// at its earliest pending deadline; every write of an incident moves that
// entry in the same atomic operation, so an incident and its next page can
// never disagree. The dispatcher claims incidents, not single deadlines: one
// replica works one incident at a time, firing every step that is due.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// Errors the implementations return.
var (
	// ErrNotFound: no such incident.
	ErrNotFound = errors.New("incident not found")
	// ErrConflict: the incident changed since it was read (optimistic
	// concurrency); read it again and reapply.
	ErrConflict = errors.New("incident changed concurrently")
	// ErrUnavailable wraps failures to reach the backing store, so the HTTP
	// layer answers 503 and senders retry. Unless the error also wraps
	// ErrOutcomeUnknown, nothing was written.
	ErrUnavailable = errors.New("store unavailable")
	// ErrOutcomeUnknown marks a write that failed after it may have
	// reached the store (a timeout waiting for Redis's reply, a disk that
	// did not finish the commit in time): it may or may not have been
	// written. It always comes with ErrUnavailable.
	ErrOutcomeUnknown = errors.New("the write may or may not have been stored")
	// ErrDataLost: the store found that data it held is gone (a Redis
	// restarted empty, or failed over to a replica that had not had it),
	// so open incidents and their pending pages are gone with it. Probe
	// returns it, once per loss, after putting back what it needs to find
	// the next one.
	ErrDataLost = errors.New("the store lost its data")
)

// PartlyStored is err, from a write that failed after another write of
// the same request was stored, marked ErrOutcomeUnknown when the store
// refused it outright or it lost to concurrent writes at every try
// (ErrConflict, marked ErrUnavailable too, so that it is answered 503):
// the request as a whole did store something, so its 503 must not say
// nothing was. Any other error is returned as it is.
func PartlyStored(err error) error {
	switch {
	case errors.Is(err, ErrOutcomeUnknown):
		return err
	case errors.Is(err, ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	case errors.Is(err, ErrConflict):
		return fmt.Errorf("%w: %w: %w", ErrUnavailable, ErrOutcomeUnknown, err)
	}
	return err
}

// Incident is an incident as stored: where it came from, what it is about,
// and its escalation state.
type Incident struct {
	ID       string `json:"id"`
	Service  string `json:"service"`
	DedupKey string `json:"dedup_key"`
	// Source is what created it: "alertmanager", "pagerduty" or "api".
	Source    string    `json:"source"`
	Summary   string    `json:"summary"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Details is what the sender sent, kept for notification text: labels,
	// annotations, generator and external URLs. Opaque to the store; a
	// repeat of a firing alert replaces it.
	Details json.RawMessage `json:"details,omitempty"`
	// Repeats counts firings of the same alert while the incident was open,
	// and LastSeen is the latest; a repeat pages nobody.
	Repeats  int       `json:"repeats"`
	LastSeen time.Time `json:"last_seen"`
	// LastReceived is when the latest firing of the incident's alert
	// that said so was received, on the clock every replica shares
	// (incident.Alert.Received, to the millisecond): set by Trigger when
	// it opens the incident and raised (never lowered) by each repeat
	// that says it, in the same atomic step; zero when none did (an
	// incident stored before pagerd kept it, or opened by a replica off
	// that clock). A resolve its sender sent, received before it (by the
	// clock's skew), is older than a firing after it, whose write landed
	// first: it resolves nothing (incident's resolve_superseded). Like
	// Repeats and LastSeen, it is Trigger's: Update and Finish write what
	// the store holds, not what the caller read.
	LastReceived time.Time `json:"last_received,omitzero"`
	// Version increases with every write; Update succeeds only if it still
	// matches what was read.
	Version int64 `json:"version"`
	// CheckRepeats, set on an incident about to be written, makes Update
	// and Finish also compare the stored repeat count with Repeats (as
	// read), in the same atomic step: ErrConflict if the alert fired again
	// since. A repeat does not change Version (it would make every writer
	// of an alert that keeps firing start over), so a write decided on
	// "not repeated since it was read" needs it (a resolve pagerd withheld
	// and later confirmed with Alertmanager). It is never stored, and
	// writes that leave it unset pay nothing for it.
	CheckRepeats bool `json:"-"`
	// NoFirstPageLead, set on a new incident about to be triggered, queues
	// its first page at its own time in the due set instead of
	// FirstPageLead ahead of it (TriggerScore): the intake sets it on the
	// incidents of a service that opened more than its share lately, so
	// that one service's flood does not queue every other service's new
	// incidents behind it. It is never stored.
	NoFirstPageLead bool `json:"-"`
	// ReceivedBy, set on a new incident about to be triggered, is a time
	// by which the alert was received, on the clock every replica shares
	// (zero: not known). Trigger finds no open incident with the dedup
	// key and the latest with it resolved after ReceivedBy: the alert was
	// received before that resolve and its write landed after it (a
	// replica stalled with it; a sender's retry taken first while the
	// request was still worked), so it stores nothing and answers
	// Superseded with that incident's id. In the order pagerd received
	// them the alert was a repeat of the incident the resolve then ended.
	// It is never stored.
	ReceivedBy time.Time `json:"-"`
	// State is the escalation machine's state, pending deadlines included.
	State policy.Incident `json:"state"`
	// Outbox is what the incident still owes other systems (OutboxItem).
	Outbox []OutboxItem `json:"outbox,omitempty"`
	// NotPushedToPagerDuty is true while no page of the incident has gone
	// to PagerDuty, nor been held to go there in an alert-storm message:
	// its acknowledgement and resolve then owe PagerDuty nothing, and no
	// outbox item (a claim, a timeline read and a write) is spent on
	// telling it. New incidents start with it set; the dispatcher clears
	// it in the write that records such a page. It is kept on the
	// incident, not worked out from the config, because a reload may
	// take away the contact a page already went through. False, its zero
	// value, is the safe side: records stored before pagerd kept it are
	// forwarded as before.
	NotPushedToPagerDuty bool `json:"not_pagerduty,omitempty"`
	// NotPaged is true while no page of the incident has gone out (or
	// may have: a failure after the provider may have taken it), nor
	// been held for an alert-storm message: nobody has been told of it
	// yet. Its pages until then are its first pages
	// (notify.Message.FirstPage), which a provider's rate limit lets go
	// ahead of the later steps of other incidents, whenever they come
	// due: when it is opened, and as well at the end of a maintenance
	// window that held it from its start, at a person's first step set
	// later than the page, or at a later round of a ladder none of whose
	// levels had anyone on call. New incidents start with it set; the dispatcher
	// clears it in the write that records such a page. False, in records
	// stored before pagerd kept it, reads as told: only their pages due
	// when they were opened are first pages, as before.
	NotPaged bool `json:"not_paged,omitempty"`
	// SilencedAt are the Alertmanagers (base URLs) an acknowledgement owed
	// silences of the incident's alerts at (silence_on_acknowledge), stored
	// in the write that owes them. The resolve expires the silences at
	// each, whatever the config says by then: a reload that takes the
	// setting away, or points it at another Alertmanager, must not leave
	// them muting the alerts for their whole duration.
	SilencedAt []string `json:"silenced_at,omitempty"`
}

// Open reports whether the incident is not resolved.
func (i *Incident) Open() bool { return i.State.Status != policy.StatusResolved }

// Entry is one line of an incident's timeline: what happened, when, and who
// did it.
type Entry struct {
	At      time.Time `json:"at"`
	Type    string    `json:"type"`
	Actor   string    `json:"actor,omitempty"`
	Level   int       `json:"level,omitempty"`
	User    string    `json:"user,omitempty"`
	Channel string    `json:"channel,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	// Note, on an acknowledgement (ack), is what the person wrote with
	// it, as another system passed it on (an Opsgenie acknowledge's
	// note), or why their act there on another of its incidents
	// acknowledged this one (a PagerDuty incident holding this one's
	// alert acknowledged or merged away: notify.Page.Note), on one line
	// and cut (policy.MaxNoteBytes).
	Note string `json:"note,omitempty"`
	// Bundle is the storm bundle a page went out in (see Bundle), when it
	// went out with other incidents' pages in one message.
	Bundle string `json:"bundle,omitempty"`
	// PageAt, on a provider's delivery report, is when the page it is
	// about went out, as the provider's callback says; zero when it does
	// not say (a callback URL given before pages carried it). A late
	// report is about that page, not the person's latest.
	PageAt time.Time `json:"page_at,omitzero"`
	// Reopened, on a page (notify), is how many times the incident had
	// been reopened after an acknowledgement when it went out
	// (policy.Incident.Reopened): an SMS reply answers that page, and
	// when the incident was reopened since, it must not silence the
	// pages after the reopen (notify.Receiver.AcknowledgePage).
	Reopened int `json:"reopened,omitempty"`
	// ReopenedKnown, on a page, says Reopened was recorded with it: an
	// entry written before pages kept the count (or by a replica that
	// does not, during a rolling upgrade) reads 0 whatever the count
	// was, and a reply to it acknowledges the incident as it stands, as
	// a call placed before calls carried the count does, rather than be
	// refused as the answer to a page from before a reopen.
	ReopenedKnown bool `json:"reopened_known,omitempty"`
	// Ref, on a page (notify), is the provider's id of what it created,
	// when the transport gives one: Twilio's SMS or call SID, by which
	// the page's delivery report finds it, and with which an
	// acknowledgement cancels a call while it is still queued or
	// ringing. On a provider's delivery report (delivery,
	// delivery_failed), it is the id the report names its page by
	// (Twilio's CallSid or MessageSid): its page's Ref.
	Ref string `json:"ref,omitempty"`
	// Step, on a page (notify), is the id of the step it was sent for
	// (policy.Deadline.ID), when the write that recorded it fired that
	// step; on the incident's page in an alert-storm message, gone out
	// or failed (notify, notify_failed), the step the page was held for
	// (store.HeldPage.Deadline). A delivery report that says the page
	// reached nobody, or the message's failure, names it to the state
	// machine (policy.Event.Step), so that a level whose every page
	// failed, refused at once or reported undelivered later, pages the
	// next level without waiting out its timeout.
	Step string `json:"step,omitempty"`
	// Unreached, on a provider's delivery report (delivery_failed), says
	// the page reached nobody for certain (notify.Delivery.Unreached): its
	// step counts as failed. The dispatcher reads it when it records a
	// page such a report named before the page was recorded, to apply the
	// report then (incident.EarlyReports). Absent on reports recorded
	// before pagerd kept it: their pages count as gone out.
	Unreached bool `json:"unreached,omitempty"`
	// Received, on a resolve its sender sent (policy.Event.Received), is
	// when pagerd received it, on the clock the replicas share: a firing
	// of the incident's key received before it (by the skew of that
	// clock) and written after it opens nothing (incident's superseded).
	// Absent when not known (a resolve by a person, by pagerd's own
	// judgement, or written before pagerd kept it): such a firing opens
	// its incident.
	Received time.Time `json:"received,omitzero"`
}

// ActionEntries are the timeline entries of the state machine's actions,
// as the incident service and the dispatcher both record them: levels
// 1-based, as people count them, and actor on everything but a page.
func ActionEntries(acts []policy.Action, actor string) []Entry {
	out := make([]Entry, 0, len(acts))
	for _, a := range acts {
		e := Entry{At: a.At, Type: string(a.Kind), Level: a.Level + 1, User: a.User, Channel: a.Channel, Detail: a.Detail, Note: a.Note}
		if a.Kind != policy.ActionNotify {
			e.Actor = actor
		}
		if a.LevelName != "" && e.Detail == "" {
			e.Detail = "level " + a.LevelName
		}
		out = append(out, e)
	}
	return out
}

// Filter selects incidents for List. Zero fields match everything; Limit 0
// means DefaultListLimit.
//
// List's order is newest first: by creation time, then by id, both
// descending. Incidents are created at the time they are stored, so new
// ones enter at the head of that order, never in the middle: paging with
// After neither skips nor repeats an incident while others keep arriving.
type Filter struct {
	Status   policy.Status
	Service  string
	Priority string
	// Since and Until bound the creation time, Since <= created_at < Until;
	// a zero time leaves that side open. Stores keep creation times to the
	// millisecond, and the bounds are applied at that precision.
	Since, Until time.Time
	// After, when set, is the last incident of the previous page: List
	// returns only incidents that come after it in its order.
	After *Cursor
	Limit int
	// Open admits triggered and acknowledged incidents alike, in one
	// order: pages of open incidents see one acknowledged or reopened
	// between them once, where a scan per status sees it twice or never.
	Open bool
	// ResolvedSince, when set, admits only incidents resolved at or after
	// it (State.ResolvedAt, to the millisecond) and not reopened since,
	// whenever they were created: stores read their index of resolve
	// times, so an incident open for days and resolved lately is found
	// without reading the history created since it opened. The other
	// fields apply as they do without it, to the Limit incidents resolved
	// last (a store may return fewer when the other fields leave some
	// out), and the order is List's. Incidents resolved before the store
	// kept that index (an upgrade) are not in it.
	ResolvedSince time.Time
}

// SortNewestFirst puts incidents in List's order: by creation time (to
// the millisecond), then id, both descending.
func SortNewestFirst(incs []*Incident) {
	slices.SortFunc(incs, func(a, b *Incident) int {
		ca, cb := CursorOf(a), CursorOf(b)
		if c := cb.CreatedAt.Compare(ca.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(cb.ID, ca.ID)
	})
}

// AdmitsResolved reports whether an incident matches the filter's
// ResolvedSince.
func (f Filter) AdmitsResolved(inc *Incident) bool {
	return f.ResolvedSince.IsZero() ||
		(inc.State.Status == policy.StatusResolved && ResolvedMS(inc) >= ceilMS(f.ResolvedSince))
}

// ResolvedMS is when inc was resolved, in Unix milliseconds, as the
// stores' index of resolve times keeps it: a resolved incident without a
// resolve time (a record from before it was kept) at its last update.
func ResolvedMS(inc *Incident) int64 {
	if t := inc.State.ResolvedAt; !t.IsZero() {
		return t.UnixMilli()
	}
	return inc.UpdatedAt.UnixMilli()
}

// OpenOnly says whether only open incidents can match: stores then read
// their index of open incidents.
func (f Filter) OpenOnly() bool {
	return f.Open || f.Status == policy.StatusTriggered || f.Status == policy.StatusAcknowledged
}

// AdmitsStatus says whether an incident with status st matches the
// filter's Status and Open.
func (f Filter) AdmitsStatus(st policy.Status) bool {
	return (f.Status == "" || st == f.Status) &&
		(!f.Open || st == policy.StatusTriggered || st == policy.StatusAcknowledged)
}

// Cursor is a position in List's order: an incident's creation time (to
// the millisecond) and id.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// CursorOf is the position of an incident in List's order.
func CursorOf(inc *Incident) Cursor {
	return Cursor{CreatedAt: time.UnixMilli(inc.CreatedAt.UnixMilli()).UTC(), ID: inc.ID}
}

// CreatedRange is the range of creation times, in Unix milliseconds and
// inclusive at both ends, that the filter's Since, Until and After admit;
// ok is false when the range is empty. Stores scan their creation-time
// indexes over it and apply Admits to what they find.
func (f Filter) CreatedRange() (lo, hi int64, ok bool) {
	lo, hi = math.MinInt64, math.MaxInt64
	if !f.Since.IsZero() {
		lo = ceilMS(f.Since)
	}
	if !f.Until.IsZero() {
		hi = ceilMS(f.Until) - 1
	}
	if f.After != nil {
		hi = min(hi, f.After.CreatedAt.UnixMilli())
	}
	return lo, hi, lo <= hi
}

// Admits reports whether an incident created at createdMS (Unix
// milliseconds) with the id lies in the filter's time range and after its
// cursor.
func (f Filter) Admits(createdMS int64, id string) bool {
	lo, hi, ok := f.CreatedRange()
	if !ok || createdMS < lo || createdMS > hi {
		return false
	}
	if f.After != nil && createdMS == f.After.CreatedAt.UnixMilli() {
		return id < f.After.ID
	}
	return true
}

// ceilMS is t in Unix milliseconds, rounded up.
func ceilMS(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return ms
}

// DefaultListLimit is how many incidents List returns when Filter.Limit is 0.
const DefaultListLimit = 100

// Claim is a lease on an incident whose earliest pending deadline is due,
// or on a storm bundle whose window closed. If the replica holding it dies
// before completing it, it is due again when the lease ends and another
// replica takes it over.
type Claim struct {
	// Incident is the claimed incident's id; empty for a storm claim.
	Incident string
	// Storm is the claimed storm's key (StormKey); empty for an incident.
	Storm string
	// Due is when the incident's earliest pending deadline was due (not the
	// lease end of an earlier claim), for measuring lateness; for a storm,
	// its window's end, also once Release put it off to a later time.
	Due   time.Time
	Token string
	// Takeover is true when the incident had been claimed before and that
	// lease ran out without the claim being completed.
	Takeover bool
	// Record is the claimed incident as it was when claimed, read in the
	// same operation (nil for a storm), so the dispatcher need not read it
	// again; it may be stale by the time it is used, which Finish's
	// version check catches.
	Record *Incident
	// Job is the claimed job, as it was when claimed (nil unless this is
	// a job's claim).
	Job *Job
}

// Outcome of Trigger.
type Outcome int

// Trigger outcomes.
const (
	// Created: no open incident had the dedup key; this one was stored.
	Created Outcome = iota + 1
	// Repeated: an open incident had the dedup key; its repeat count, last
	// seen time and details were updated, and its LastReceived raised to
	// the alert's (the new incident's LastReceived) when that is later,
	// and nothing else.
	Repeated
	// Superseded: no open incident had the dedup key, and the latest
	// with it was resolved after the alert's Incident.ReceivedBy: nothing
	// was stored, and the id is that resolved incident's.
	Superseded
)

// RepeatReader is a store whose trigger, on a repeat, also hands back the
// incident as the repeat left it, read in the same call: the intake reads
// every repeated incident (to raise it if the alert made it worse), and on
// Redis that read was a second round trip after the trigger's script,
// which had the record in hand.
type RepeatReader interface {
	// TriggerRead is Trigger and, on a repeat, the incident as Get
	// would have read it right after (nil when the store did not read
	// it: the caller reads it itself).
	TriggerRead(ctx context.Context, inc *Incident, timeline []Entry) (string, Outcome, *Incident, error)
}

// TriggerRead triggers inc as s.Trigger does and, where s is a
// RepeatReader, also returns the repeated incident as the repeat left it;
// nil otherwise (and for a new incident), for the caller to read.
func TriggerRead(ctx context.Context, s Store, inc *Incident, timeline []Entry) (string, Outcome, *Incident, error) {
	if rr, ok := s.(RepeatReader); ok {
		return rr.TriggerRead(ctx, inc, timeline)
	}
	id, out, err := s.Trigger(ctx, inc, timeline)
	return id, out, nil, err
}

// Nudger is a store that can wake the dispatchers of the other replicas
// when an earlier deadline appears (Redis pub/sub): Nudges delivers the
// nudges of every store but this one (a replica wakes its own dispatcher).
// Nudges are a shortcut, not a guarantee: dispatchers also look at the due
// set at least every MaxSleep.
type Nudger interface {
	Nudge(ctx context.Context) error
	Nudges(ctx context.Context) <-chan struct{}
}

// DueClaimer is a store whose claim also says when the next incident
// comes due, in the same round trip: ClaimDue then NextDue, which the
// dispatcher asks after every claim that leaves a slot free, cost Redis
// two round trips over every shard. more is true when the claim took
// max, so more may be due now; next and ok are then not set.
type DueClaimer interface {
	ClaimDueNext(ctx context.Context, now time.Time, lease time.Duration, max int) (claims []Claim, next time.Time, ok, more bool, err error)
}

// ClaimDueNext claims as s.ClaimDue does and, when the claim took fewer
// than max (nothing else is due at now), reads when the next incident
// comes due as s.NextDue does: in one call where s is a DueClaimer, in
// two otherwise. ok is false when nothing is pending, or when that read
// failed (err is the claim's alone: its claims must be worked); more is
// true when the claim took max.
func ClaimDueNext(ctx context.Context, s Store, now time.Time, lease time.Duration, max int) (claims []Claim, next time.Time, ok, more bool, err error) {
	if dc, is := s.(DueClaimer); is {
		return dc.ClaimDueNext(ctx, now, lease, max)
	}
	claims, err = s.ClaimDue(ctx, now, lease, max)
	if err != nil || len(claims) == max {
		return claims, time.Time{}, false, err == nil, err
	}
	// A NextDue that fails leaves the claims to be worked: the caller
	// sleeps its longest, as it does when nothing is pending.
	next, ok, err = s.NextDue(ctx)
	if err != nil {
		return claims, time.Time{}, false, false, nil
	}
	return claims, next, ok, false, nil
}

// ScopedClaimer is a DueClaimer that can claim without reading every
// shard: unless everywhere is set, ClaimDueNextScoped reads only the
// shards where it knows something may be due (its earliest entry has
// come, or it was written through this store, or another replica's nudge
// named it since it was last read), and tells a next due time that may be
// earlier than the real one, never later. An entry that another process
// wrote without a nudge is found only by a claim everywhere, so the caller
// asks for one at least as often as it polled before (dispatch.Run: at
// least every MaxSleep). On Redis the claim over every shard was a
// quarter of Redis's time per alert in a flood, one read of each of the
// 32 shards at every wake, most finding nothing due.
type ScopedClaimer interface {
	ClaimDueNextScoped(ctx context.Context, now time.Time, lease time.Duration, max int, everywhere bool) (claims []Claim, next time.Time, ok, more bool, err error)
}

// ClaimDueNextScoped is s.ClaimDueNextScoped where s is a ScopedClaimer,
// and ClaimDueNext (everywhere) otherwise.
func ClaimDueNextScoped(ctx context.Context, s Store, now time.Time, lease time.Duration, max int, everywhere bool) (claims []Claim, next time.Time, ok, more bool, err error) {
	if sc, is := s.(ScopedClaimer); is {
		return sc.ClaimDueNextScoped(ctx, now, lease, max, everywhere)
	}
	return ClaimDueNext(ctx, s, now, lease, max)
}

// OpenKey is what CountOpen counts open incidents by.
type OpenKey struct {
	Service, Priority string
	Status            policy.Status
}

// OpenCounts is what CountOpen found.
type OpenCounts struct {
	// ByKey counts the open incidents by service, priority and status.
	ByKey map[OpenKey]int
	// Undecodable names the open incidents whose records CountOpen had to
	// read and could not decode, with what was wrong: they are in no
	// count of ByKey (their service, priority and status are what could
	// not be read), and each is an open incident pagerd can no longer
	// read, so the caller must make them seen. Nil when there are none.
	Undecodable map[string]error
}

// OpenCounter is CountOpen's rule, for the stores to share: open incidents
// fed newest first are counted by service, priority and status, at most
// the first limit of each open status; other statuses are not counted.
// A record that does not decode is skipped and named (Skip), so that one
// of them does not hide all the others.
type OpenCounter struct {
	OpenCounts
	limit                   int
	triggered, acknowledged int
}

// NewOpenCounter counts up to limit incidents of each open status.
func NewOpenCounter(limit int) *OpenCounter {
	return &OpenCounter{OpenCounts: OpenCounts{ByKey: map[OpenKey]int{}}, limit: limit}
}

// Wants reports whether an incident of the status would still be counted.
func (c *OpenCounter) Wants(status policy.Status) bool {
	switch status {
	case policy.StatusTriggered:
		return c.triggered < c.limit
	case policy.StatusAcknowledged:
		return c.acknowledged < c.limit
	}
	return false
}

// Add counts an incident, if Wants its status.
func (c *OpenCounter) Add(service, priority string, status policy.Status) {
	if !c.Wants(status) {
		return
	}
	if status == policy.StatusTriggered {
		c.triggered++
	} else {
		c.acknowledged++
	}
	c.ByKey[OpenKey{Service: service, Priority: priority, Status: status}]++
}

// Skip names the open incident id, whose record err says does not decode,
// in Undecodable instead of counting it. It uses up no status's limit: its
// status is unknown.
func (c *OpenCounter) Skip(id string, err error) {
	if c.Undecodable == nil {
		c.Undecodable = map[string]error{}
	}
	c.Undecodable[id] = err
}

// Full reports whether no more incidents would be counted.
func (c *OpenCounter) Full() bool {
	return !c.Wants(policy.StatusTriggered) && !c.Wants(policy.StatusAcknowledged)
}

// Broadcaster is a store that can tell every replica that something other
// than the due set changed, on a topic of its own (Redis pub/sub, one
// channel per topic), so that each listener wakes for its own changes only:
// the dispatcher's nudges come once per new incident in an alert storm, and
// must not make every replica read its overrides again each time. Like
// nudges, broadcasts are a shortcut: a listener also reads again on a
// timer, in case one was lost.
type Broadcaster interface {
	// Broadcast tells every replica listening on topic, this one included,
	// that what the topic names changed.
	Broadcast(ctx context.Context, topic string) error
	// Broadcasts delivers the broadcasts on topic until ctx ends; those
	// that arrive while one is waiting to be taken make one.
	Broadcasts(ctx context.Context, topic string) <-chan struct{}
}

// Store keeps incidents, their timelines and their deadlines.
type Store interface {
	// Trigger stores inc unless an open incident of the same service has
	// the same dedup key, in which case it records a repeat on that one
	// instead (repeat count, last seen and details, and LastReceived
	// raised to inc's when that is later; nothing else). It
	// returns the stored incident's id. One round trip on Redis. An
	// alert received before the resolve of the latest incident with the
	// key (Incident.ReceivedBy) opens nothing: Superseded.
	//
	// The caller hands over inc's details and the contents of its
	// State's slices: it may read them afterwards, and set inc's own
	// fields, but never write into them (the Redis store shares them
	// with the incident's first claim, on another goroutine). The
	// intake (incident.Service.trigger, the only caller outside tests)
	// builds each incident for its Trigger and only reads it after.
	Trigger(ctx context.Context, inc *Incident, timeline []Entry) (string, Outcome, error)
	// FindByDedup returns the latest incident of the service with the key,
	// open or resolved, or ErrNotFound.
	FindByDedup(ctx context.Context, service, dedupKey string) (*Incident, error)
	// Get returns the incident with the id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Incident, error)
	// Update writes inc if its stored Version is still inc.Version, appends
	// the timeline entries, and moves the incident's due entry to its
	// earliest pending deadline; with none pending, the entry and any claim
	// on it are dropped (everything cancelled). While the incident is
	// claimed, its due entry stays at the lease end until Complete, so no
	// other replica works it meanwhile. On success inc.Version is
	// incremented. ErrConflict if the incident changed since it was read,
	// or, with inc.CheckRepeats, if it was repeated since.
	// Repeats, LastSeen, LastReceived and Details are not written:
	// Trigger owns them.
	// The caller never writes into inc's details afterwards, as for
	// Trigger (the embedded store keeps them with the head of the document
	// written, for the next write to compare with).
	Update(ctx context.Context, inc *Incident, timeline []Entry) error
	// List returns incidents matching the filter, newest first (by
	// creation time, then id; see Filter).
	List(ctx context.Context, f Filter) ([]*Incident, error)
	// CountOpen counts the open incidents by service, priority and
	// status, the newest limit of each status at most, without decoding
	// each whole (the open-incidents gauge: listing and decoding them
	// made a scrape in a storm cost half a second of CPU). A record it
	// must read and cannot decode is not an error: it is left out of the
	// counts and named in OpenCounts.Undecodable, so that one corrupt
	// record does not hide every other open incident from the gauge.
	CountOpen(ctx context.Context, limit int) (OpenCounts, error)
	// Timeline returns the incident's entries, oldest first.
	Timeline(ctx context.Context, id string) ([]Entry, error)
	// ClaimDue leases up to max incidents whose earliest pending deadline is
	// due at or before now, earliest first, for lease.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]Claim, error)
	// Finish writes inc and its timeline entries as Update does and, in
	// the same atomic operation, releases the claim c as Complete does:
	// the dispatcher's one write per claimed incident. ErrConflict if the
	// incident changed since it was read; the claim is then kept.
	Finish(ctx context.Context, c Claim, inc *Incident, timeline []Entry) error
	// Complete releases a claim, if it is still this one's (a takeover by
	// another replica voids it): the incident is due again at its earliest
	// pending deadline as stored now. Completing a claim whose incident an
	// Update already cancelled is not an error.
	Complete(ctx context.Context, c Claim) error
	// Release gives up an incident's claim without working it, if it is
	// still this one's: the incident is due again at its earliest pending
	// deadline as stored now, but not before notBefore, so that another
	// replica can take it then and this one does not claim it straight
	// back (a replica whose config cannot page it). notBefore holds
	// through the Updates that come before the next claim, which spends
	// it: a status update or an acknowledgement elsewhere leaves it due
	// no earlier (a step moved later is due at its own time), as long as
	// a step is pending; an Update that leaves none (only outbox work, or
	// nothing) forgets it. A storm's claim
	// (Claim.Storm) is released as Complete releases it, due again at
	// its window's end if pages are held, but not before notBefore: a
	// storm message the provider's rate limit sent back goes at its
	// turn. Not for a job's claim.
	Release(ctx context.Context, c Claim, notBefore time.Time) error
	// Extend moves a claim's lease end to until, if the claim is still
	// this one's (same token; a takeover, Complete, Release, a Finish or
	// an Update that left nothing pending voids it), and reports whether
	// it was. The dispatcher keeps the lease of a claim whose pages are
	// still on their way this way, so that no other replica takes it over
	// and pages again while a slow provider answers. until may be earlier
	// than the lease end: the claim then runs out sooner, as if leased for
	// less. Any claim: an incident's, a storm's or a job's.
	Extend(ctx context.Context, c Claim, until time.Time) (bool, error)
	// NextDue is the earliest time any incident is due (a claimed one counts
	// at its lease end), for the dispatcher to sleep until. ok is false when
	// nothing is pending.
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)
	// Statuses returns the status of each incident that exists among ids:
	// what a storm bundle needs to leave out the incidents acknowledged
	// or resolved while their pages waited. Cheap: no record is decoded
	// whole.
	Statuses(ctx context.Context, ids []string) (map[string]policy.Status, error)
	// Note appends timeline entries to incidents without changing them
	// (no version change, so nobody's Update conflicts), many incidents in
	// few round trips. Incidents that do not exist are skipped. It is not
	// atomic: a flood's thousands are written in parts, so as not to hold
	// up every other write, and each part's incidents are removed from
	// entries once stored, so that a call again with the same map after an
	// error notes only the rest (an error whose outcome is unknown may
	// still note a part twice).
	Note(ctx context.Context, entries map[string][]Entry) error
	Storms
	Jobs
	Docs
	History
	// Ping reports whether the store answers, for /-/ready.
	Ping(ctx context.Context) error
	// Probe makes a small write that goes through the same path as an
	// incident's, for /-/ready: a store that answers but refuses writes
	// fails it. It returns ErrDataLost when it finds the store's data
	// gone since it last looked, with ErrUnavailable as well when part
	// of the store did not take the probe.
	Probe(ctx context.Context) error
	// Close releases the store.
	Close() error
}

// Shards is how many partitions incidents are spread over. Every atomic
// operation touches one shard, which on Redis is one hash slot, so the same
// code runs on Redis Cluster. It is part of the stored format: changing it
// orphans existing data.
const Shards = 32

// ShardOf is the shard of a service's dedup key. An incident's id starts
// with its shard, so operations by id find it without a lookup.
func ShardOf(service, dedupKey string) int {
	h := fnv.New32a()
	h.Write([]byte(service))
	h.Write([]byte{0})
	h.Write([]byte(dedupKey))
	return int(h.Sum32() % Shards)
}

// DueAt is when an incident is next due: its earliest pending deadline or
// outbox item, which is where its due entry belongs.
func DueAt(inc *Incident) (time.Time, bool) {
	d, ok := inc.State.Next()
	at := d.At
	for _, o := range inc.Outbox {
		if !ok || o.Due.Before(at) {
			at, ok = o.Due, true
		}
	}
	return at, ok
}

// FirstPageLead is how far ahead of its time a new incident's first page is
// queued in the due set: under a backlog (a storm, a replica catching up
// after an outage) the first page of a new incident goes out before the
// later ladder steps of older ones that are due at the same time; nobody
// has been told of the new one yet. Its claim still says when it was due.
// A flooding service's new incidents go without it (NoFirstPageLead):
// another service's new incident then goes out before the flood's that
// came due less than FirstPageLead before it.
const FirstPageLead = time.Second

// TriggerScore is where Trigger puts a new incident in the due set: at its
// first deadline, FirstPageLead earlier when that is its first page (due
// when it is created) and the incident has not NoFirstPageLead.
func TriggerScore(inc *Incident) (time.Time, bool) {
	at, ok := DueAt(inc)
	if !inc.NoFirstPageLead && PagesAtOnce(inc) {
		at = at.Add(-FirstPageLead)
	}
	return at, ok
}

// PagesAtOnce reports whether a new incident's first deadline is due when
// it is created: the first page TriggerScore queues FirstPageLead ahead.
// One opened in a maintenance window, or with nothing to page, has none.
func PagesAtOnce(inc *Incident) bool {
	at, ok := DueAt(inc)
	return ok && !at.After(inc.CreatedAt)
}

// OutboxItem is work an incident owes the outside world after a change of
// its own: telling PagerDuty that pagerd acknowledged or resolved what it
// pushed there. It is stored with the change that caused it (so a crash
// cannot lose it, as it could a goroutine's call) and the dispatcher does
// it when due, retried with backoff like a page.
type OutboxItem struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Action   string    `json:"action"`
	Due      time.Time `json:"due"`
	Since    time.Time `json:"since"`
	Attempts int       `json:"attempts,omitempty"`
	// Done names the targets earlier tries reached, for an item owed to
	// several (PagerDuty: one per alert pushed there, "<incident or
	// bundle>/<user>"): a try that fails part way keeps them, so its
	// retry tells only the rest, and nobody twice.
	Done []string `json:"done,omitempty"`
	// URL is, for an OutboxSilence item, the Alertmanager it is done at
	// (empty in items stored before: the service's configured one).
	URL string `json:"url,omitempty"`
}

// Outbox kinds.
const (
	// OutboxPagerDuty forwards Action (acknowledge, resolve) to the
	// PagerDuty alerts pagerd pushed for the incident.
	OutboxPagerDuty = "pagerduty"
	// OutboxSlack brings the incident's message in its service's Slack
	// channel up to date (posting it, for Action "trigger"), with a
	// thread reply saying what happened (none for Action "summary", a
	// change of what the incident says).
	OutboxSlack = "slack"
	// OutboxPushover stops the emergency pages pagerd sent the incident's
	// people through Pushover (Action "acknowledge" or "resolve").
	OutboxPushover = "pushover"
	// OutboxSilence creates (Action "create") Alertmanager silences for
	// the incident's alerts, or expires them (Action "expire").
	OutboxSilence = "alertmanager_silence"
	// OutboxResolveCheck starts (Action "start") asking Alertmanager
	// whether the alerts of an incident it silenced at the
	// acknowledgement still fire: silenced alerts are never notified,
	// resolved ones neither, so nothing else would ever resolve it.
	OutboxResolveCheck = "alertmanager_resolve_check"
	// OutboxTwilio cancels the Twilio calls pagerd placed for the
	// incident that are still queued or ringing (Action "acknowledge"
	// or "resolve"): nobody is woken by a call for an incident already
	// taken.
	OutboxTwilio = "twilio_calls"
)

// Storms is the part of a store that bundles pages during an alert storm.
//
// A storm is one person's pages on one channel (StormKey). Every page to
// them goes through Admit, which decides by StormState.Admit whether it goes
// out at once or waits; waiting pages are held in the store, in arrival
// order, and the storm is due at its window's end, in the same due set as
// incidents: the dispatcher claims it like an incident step and sends what
// was held as one message. A held page occupies no worker and holds no
// claim, and the state is shared, so every replica bundles into the same
// message.
type Storms interface {
	// Admit decides, atomically, whether page p to the storm's person goes
	// out now or is held until the window's end (Admission). A held
	// page makes the storm due at the window's end, unless it is claimed
	// (being flushed): then Flushed or Complete reschedules it. A page
	// that goes out now while pages are held is listed after them too,
	// marked Sent (Admission.Listed), so that the flush leaves out what
	// was held of its incident before it; Flushed counts it like a held
	// page.
	Admit(ctx context.Context, storm string, p HeldPage, now time.Time, r StormRules) (Admission, error)
	// HoldFailed lists page p again, held, after Admit let it out at once
	// and listed it (Admission.Listed) and its send failed: the Sent
	// listing makes the flush leave out what was held of its incident
	// before it, so without this the person would hear of the incident
	// from nobody. It is appended like any held page (a flush that read
	// the list before it sends it in the next window's message) and makes
	// the storm due as Admit does, at once if the window is over.
	HoldFailed(ctx context.Context, storm string, p HeldPage, now time.Time, r StormRules) (Admission, error)
	// Withdraw lists page p after the held pages, marked Sent as a page
	// Admit let out at once while others were held is, if any are held,
	// and counts nothing: the flush leaves out what was held of its
	// incident before it. It is for a page Admit held whose answer came
	// past its claim's send window: the claim cannot know whether its
	// record of the hold gets in (another replica may have taken the
	// incident over and paged it on its own), so the page's step is due
	// again, and the storm's message must not carry it as well. With
	// nothing held (the message went out already), nothing changes; nor
	// when p's step (p.Incident and p.Deadline) is listed held more than
	// once: another claim paged it again (the takeover's page, held
	// before or after p), and the message names the incident for that
	// one, where a Sent listing after both left both out and the person
	// was never told.
	Withdraw(ctx context.Context, storm string, p HeldPage) error
	// Held returns the pages held in a storm, oldest first. A page the
	// store cannot decode is listed in its place with only Unreadable
	// set, not an error: an error here would fail every flush of the
	// storm, and every new page to its person on its channel would be
	// held for good.
	Held(ctx context.Context, storm string) ([]HeldPage, error)
	// Flushed records that the first n held pages went out (or failed) as
	// one message whose best priority rank was top, drops a step they
	// carried held again after them (HeldAgain: a takeover's page held
	// while the message was being sent), opens the next window
	// at now, and releases the claim, if it is still this one's: the
	// storm is due again at the new window's end if pages arrived
	// meanwhile. It reports false when the claim had been taken over, in
	// which case nothing changed. Asked again by the same claim (its
	// first answer lost, the write done) it reports true and changes
	// nothing.
	Flushed(ctx context.Context, c Claim, n, top int, now time.Time, r StormRules) (bool, error)
	// Unsent takes back a page Admit let out at once (Admission.Send) and
	// whose send failed or was called off: it no longer counts as sent
	// in its window (end is that Admission's Until; after says it was
	// let out at or after it), so that a page after it is not held
	// behind a page the person never got (StormState.Unsent).
	Unsent(ctx context.Context, storm string, rank int, end time.Time, after bool) error
	// PutBundle keeps what a bundle carried for ttl, so its ack link, SMS
	// reply code and call act on every incident in it.
	PutBundle(ctx context.Context, b *Bundle, ttl time.Duration) error
	// GetBundle returns a bundle kept by PutBundle, or ErrNotFound.
	GetBundle(ctx context.Context, id string) (*Bundle, error)
	// SentBack records that the provider sent the message of the storm's
	// window back (its 429 with Retry-After) at now, unless it had in
	// this window already, and returns when it first did
	// (StormState.SentBack): the message is held on the provider's word
	// for notify.MaxRetryAfter from then, not from the window's end, which
	// a message late for another reason (pagerd's own rate limit, a
	// backlog, a takeover) is past at its first try; and whichever
	// replica tries it next, after a restart too. A storm with no state
	// records nothing and returns now.
	SentBack(ctx context.Context, storm string, now time.Time) (time.Time, error)
}

// StormRules are the bundling settings: in a window, the first Immediate
// pages go out at once and the rest wait for its end; Window 0 is off.
type StormRules struct {
	Window    time.Duration
	Immediate int
}

// Admission is what Admit decided for a page.
type Admission struct {
	// Send is true when the page goes out now.
	Send bool
	// Listed is true when the page goes out now and is listed in the
	// storm too, marked Sent, as pages were held: if its send fails, the
	// storm must have it back (HoldFailed).
	Listed bool
	// Acknowledged is true, for a page Listed, when a page of its
	// incident held before it pages acknowledged incidents too
	// (HeldPage.PagesAcknowledged: an unresolved rule's). The storm's
	// message leaves that page out for this one, which went out on its
	// own; when this one's send then fails or is called off (an
	// acknowledgement) after that message went out, it is held again
	// (HoldFailed) marked so, or the person was never paged for the
	// earlier one.
	Acknowledged bool
	// Until is, for a held page, when its message goes out: at Until, or
	// by Until when Closing. For a page sent now, the window's end.
	Until time.Time
	// Closing is true when a held page came after its window's end, while
	// the window's message is being sent or about to be: it goes out in
	// that message or, if the flush read the held pages before it, in the
	// next window's, so by now plus the window, not at a known time.
	Closing bool
}

// NoRank is the rank of "nothing sent yet": every priority beats it.
const NoRank = 1 << 30

// StormState is a storm's current window. The Redis store keeps the same
// fields and applies the same Admit in Lua; the conformance suite checks
// that both agree.
type StormState struct {
	// End is when the window closes.
	End time.Time `json:"end"`
	// Sent is how many pages went out at once in the window.
	Sent int `json:"sent"`
	// Top is the best (lowest) priority rank sent in the window: the
	// storm message that opened it counts, with its most urgent page.
	Top int `json:"top"`
	// Next is the best rank sent at once after End, while the window's
	// held pages wait for their message: those pages went out in the next
	// window, whose Top counts them. NoRank when none did; states stored
	// before it existed have none (see NewStormState).
	Next int `json:"next"`
	// Held is how many pages wait for the window's end.
	Held int `json:"held"`
	// Opened is the rank of the storm message that opened the window
	// (NoRank for a burst's first window), and Ranks and NextRanks the
	// ranks of the pages sent at once in it before and after End: Top
	// and Next are their best, kept so that a page taken back (Unsent)
	// stops counting. States stored before they existed have none: a
	// page of theirs taken back is left counted.
	Opened    int   `json:"opened"`
	Ranks     []int `json:"ranks,omitempty"`
	NextRanks []int `json:"next_ranks,omitempty"`
	// SentBackAt is when the provider first sent back the message of the
	// window that ended at SentBackEnd (SentBack). Kept with that end, so
	// that one left by a flush that did not clear it (a replica of a
	// version before it, in a rolling upgrade) does not count against the
	// next window's message.
	SentBackAt  time.Time `json:"sent_back_at,omitzero"`
	SentBackEnd time.Time `json:"sent_back_end,omitzero"`
	// FlushedBy is the token of the claim whose Flushed opened the
	// window: the same claim asking again, its first answer lost (a
	// timeout after the write), is told its flush is done, where it was
	// told the storm had been taken over and skipped what follows a
	// stored flush.
	FlushedBy string `json:"flushed_by,omitempty"`
	// Asked and Answer are the last page Admit answered (AskedKey: its
	// incident, step and time) and its answer: the same page asked again
	// (the dispatcher asking again when the first answer was lost, and no
	// other page of the storm asked between) gets the first answer, and
	// nothing changes. Unsent clears them (a page taken back and asked
	// again counts again). The embedded store's; Redis keeps them in the
	// storm's hash.
	Asked  string     `json:"asked,omitempty"`
	Answer *Admission `json:"answer,omitempty"`
}

// AskedKey is what StormState.Asked says of page p asked at now.
func AskedKey(p HeldPage, now time.Time) string {
	return p.Incident + "\x00" + p.Deadline + "\x00" + strconv.FormatInt(now.UnixMilli(), 10)
}

// Admit applies the bundling rules to one page of priority rank arriving at
// now, updating the state, and reports whether it goes out at once. A page
// after a window closed with nothing held starts a new burst; the first
// Immediate pages of a window go out at once, as does a page more urgent
// than any sent in it; the rest are held. Held counts the pages listed:
// those held, and those that go out at once while some are held (listed
// as Sent: HeldPage.Sent).
func (s *StormState) Admit(rank int, now time.Time, r StormRules) bool {
	if s.End.IsZero() || (!now.Before(s.End) && s.Held == 0) {
		*s = StormState{End: now.Add(r.Window), Top: NoRank, Next: NoRank, Opened: NoRank}
	}
	if s.Sent < max(r.Immediate, 1) || rank < s.Top {
		s.Sent++
		s.Top = min(s.Top, rank)
		if now.Before(s.End) {
			s.Ranks = append(s.Ranks, rank)
		} else {
			s.Next = min(s.Next, rank)
			s.NextRanks = append(s.NextRanks, rank)
		}
		if s.Held > 0 {
			s.Held++
		}
		return true
	}
	s.Held++
	return false
}

// Hold lists a page again, held (Storms.HoldFailed). A storm with no state
// has a window that is over: its message goes out as soon as it can.
func (s *StormState) Hold(now time.Time) {
	if s.End.IsZero() {
		*s = StormState{End: now, Top: NoRank, Next: NoRank, Opened: NoRank}
	}
	s.Held++
}

// Unsent takes back a page of the rank sent at once in the window ending
// at end (Storms.Unsent), after that end when after: it leaves Sent, and
// Top and Next are the best of what is left. A page sent after its
// window's end counts in the window after it (Flushed): once the window is
// flushed, it is taken from there. One not found (a state stored before
// Ranks existed, or a window gone) is left as it is.
func (s *StormState) Unsent(rank int, end time.Time, after bool) {
	switch {
	case s.End.Equal(end) && !after && removeRank(&s.Ranks, rank):
	case s.End.Equal(end) && after && removeRank(&s.NextRanks, rank):
		s.Next = minRank(NoRank, s.NextRanks)
	case !s.End.Equal(end) && after && removeRank(&s.Ranks, rank):
	default:
		return
	}
	s.Sent = max(s.Sent-1, 0)
	s.Top = minRank(minRank(s.Opened, s.Ranks), s.NextRanks)
}

// removeRank removes one rank from ranks, and says whether it was there.
func removeRank(ranks *[]int, rank int) bool {
	i := slices.Index(*ranks, rank)
	if i < 0 {
		return false
	}
	*ranks = slices.Delete(*ranks, i, i+1)
	return true
}

// minRank is the best of top and ranks.
func minRank(top int, ranks []int) int {
	for _, r := range ranks {
		top = min(top, r)
	}
	return top
}

// HeldUntil says when a page held at now goes out (Admission.Until and
// Closing): at the window's end, or, once the window is over (its message
// is being sent, or about to be), by the end of the next one at the
// latest: the flush may have read the held pages before this one.
func (s *StormState) HeldUntil(now time.Time, r StormRules) (until time.Time, closing bool) {
	if now.Before(s.End) {
		return s.End, false
	}
	return now.Add(r.Window), true
}

// Flushed updates the state after the first n held pages went out as one
// message of best rank top at now: the storm may go on, so the next window
// opens at once, and its pages are held too (until it passes quietly). The
// pages sent in the next window so far are that message and those sent at
// once since the old window's end (Next), so its Top is theirs: a Top
// carried from window to window would hold a new P0 for as long as the
// storm lasts, once any window had sent one.
func (s *StormState) Flushed(n, top int, now time.Time, r StormRules) {
	s.Held = max(s.Held-n, 0)
	s.End = now.Add(r.Window)
	s.Sent = max(s.Sent, max(r.Immediate, 1))
	s.Top = min(top, s.Next)
	s.Next = NoRank
	s.Opened = top
	s.Ranks, s.NextRanks = s.NextRanks, nil
	s.SentBackAt, s.SentBackEnd = time.Time{}, time.Time{}
}

// HeldAgain says which of the pages left held after a flush (rest) are a
// step its message carried, held a second time: a takeover whose claimer
// died after holding the step's page looks in the incident's timeline for
// the message's note before paging again, and a message being sent (the
// list read, the note not yet written) is not there yet, so it holds the
// same page again, behind the part the message read (read). Left, it
// pages the person a second time in the next message. Flushed drops it.
//
// A page of rest is dropped when it is held (not Sent) and a page of read,
// held too, is for the same step: the same incident, Deadline and
// Reopened (an incident acknowledged and reopened since is paged again),
// and PagesAcknowledged unless read's is (a page that pages an
// acknowledged incident goes out where one that does not was left out).
// Nothing of an incident read lists Sent is dropped: the message left its
// held pages before that listing out for a page let out at once, and
// HoldFailed lists that page again, held, when its send failed. Pages
// neither can decode (Unreadable) match nothing. A step the message
// carried and failed counts as carried: the failure brings the person's
// next step forward (refusedForward), as it does with no takeover.
func HeldAgain(read, rest []HeldPage) []bool {
	type step struct {
		incident, deadline string
		reopened           int
	}
	var drop []bool
	var inRead map[step]bool // step -> whether a page of it pages acknowledged incidents
	var sent map[string]bool
	for i, p := range rest {
		if p.Sent || p.Unreadable != "" {
			continue
		}
		if inRead == nil {
			inRead, sent = map[step]bool{}, map[string]bool{}
			for _, r := range read {
				switch {
				case r.Unreadable != "":
				case r.Sent:
					sent[r.Incident] = true
				default:
					k := step{r.Incident, r.Deadline, r.Reopened}
					inRead[k] = inRead[k] || r.PagesAcknowledged
				}
			}
		}
		acked, ok := inRead[step{p.Incident, p.Deadline, p.Reopened}]
		if !ok || sent[p.Incident] || (p.PagesAcknowledged && !acked) {
			continue
		}
		if drop == nil {
			drop = make([]bool, len(rest))
		}
		drop[i] = true
	}
	return drop
}

// SentBack records that the provider sent the window's message back at
// now, unless it had already (Storms.SentBack), and returns when it first
// did.
func (s *StormState) SentBack(now time.Time) time.Time {
	if !s.SentBackAt.IsZero() && s.SentBackEnd.Equal(s.End) {
		return s.SentBackAt
	}
	s.SentBackAt, s.SentBackEnd = now, s.End
	return now
}

// NewStormState is the state of a storm nothing was sent in, to decode a
// stored one into: a field the stored state lacks keeps its value here.
func NewStormState() StormState { return StormState{Top: NoRank, Next: NoRank, Opened: NoRank} }

// Breakable is a store that can fail for good: Broken closes when it
// takes no more writes until pagerd is restarted (the embedded store,
// after the disk failed a commit that may have become visible), and Ping
// then says why. The daemon stops with that error, so that its supervisor
// (systemd's Restart=on-failure, a container's restart policy) restarts
// it, rather than leaving a pagerd that answers and pages nothing.
type Breakable interface {
	Broken() <-chan struct{}
}

// HeldPage is one page waiting in a storm: enough to say what it is about
// in the bundle and to record in its incident's timeline how it went out.
type HeldPage struct {
	Incident string    `json:"i"`
	Deadline string    `json:"d,omitempty"`
	Service  string    `json:"s"`
	Priority string    `json:"p"`
	Rank     int       `json:"r"`
	Urgency  string    `json:"u,omitempty"`
	Level    int       `json:"l"`
	Summary  string    `json:"m"`
	Due      time.Time `json:"t"`
	// Via is the transport of the person's contact when the page was
	// held. A reload may switch it before the storm message goes out; a
	// message that then goes to PagerDuty must mark the incident as
	// pushed there. Empty in pages held before it was kept.
	Via string `json:"v,omitempty"`
	// Reopened is the incident's reopen count (policy.Incident.Reopened)
	// when the page was held, kept in its message's Bundle.
	Reopened int `json:"o,omitempty"`
	// PagesAcknowledged marks a page that goes out for an acknowledged
	// incident too: an unresolved rule's or a missing status update's,
	// which page acknowledged incidents (they reopen them). Its message
	// leaves it out only once the incident is resolved. Before Sent, which
	// the stores' EncodeHeldPage (internal/docjson) appends last.
	PagesAcknowledged bool `json:"a,omitempty"`
	// Sent marks a page that went out at once while others were held (a
	// priority raise made it more urgent than anything sent in the
	// window): it is not sent again, and the person has had its incident,
	// so the flush leaves out the pages of that incident held before it.
	Sent bool `json:"x,omitempty"`
	// Unreadable is why Held could not decode the page listed here (and
	// nothing else is set). It keeps its place, so that Flushed drops it
	// with the pages before and after it; the storm's message leaves it
	// out.
	Unreadable string `json:"-"`
}

// Bundle is what one storm message carried: the incidents it named, to
// whom and on what channel. Its id stands where an incident id would in an
// ack link, a PagerDuty dedup key and Twilio's callbacks, so acting on it
// acts on every incident in it.
type Bundle struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Channel   string    `json:"channel"`
	Incidents []string  `json:"incidents"`
	SentAt    time.Time `json:"sent_at"`
	// Levels are the levels (counted from 1) Incidents' pages in the
	// message were for, in the same order: a 5 to it escalates each
	// incident from its own, once. Bundles kept by earlier versions have
	// none.
	Levels []int `json:"levels,omitempty"`
	// Reopened are Incidents' reopen counts (policy.Incident.Reopened)
	// as their pages in the message were held, in the same order: an
	// acknowledgement of the message's PagerDuty alert leaves alone an
	// incident reopened since (policy.Event.AckReopened), as for a single
	// page. Bundles kept by earlier versions have none.
	Reopened []int `json:"reopened,omitempty"`
	// Priority and Top are the most urgent incident's priority and its
	// "service: summary", for the ack page and the call.
	Priority string `json:"priority"`
	Top      string `json:"top"`
}

// Summary says what a bundle carried, in a line.
func (b *Bundle) Summary() string {
	return fmt.Sprintf("%d incidents, the most urgent %s on %s", len(b.Incidents), b.Priority, b.Top)
}

// StormKey is the key of a person's storm on a channel. User ids and
// channels never contain a slash.
func StormKey(user, channel string) string { return user + "/" + channel }

// ParseStormKey splits a StormKey.
func ParseStormKey(key string) (user, channel string, ok bool) {
	i := strings.LastIndexByte(key, '/')
	if i <= 0 || i == len(key)-1 {
		return "", "", false
	}
	return key[:i], key[i+1:], true
}

// ShardOfStorm is the shard a storm's state lives in.
func ShardOfStorm(key string) int { return ShardOf("", "storm/"+key) }

// ClaimMember is the shard of a claim and its member in that shard's due
// set: an incident's id, StormMember or JobMember.
func ClaimMember(c Claim) (shard int, member string, err error) {
	switch {
	case c.Storm != "":
		return ShardOfStorm(c.Storm), StormMember(c.Storm), nil
	case c.Job != nil:
		return ShardOfJob(c.Job.Kind, c.Job.Key), JobMember(c.Job.Kind, c.Job.Key), nil
	}
	shard, err = ShardOfID(c.Incident)
	return shard, c.Incident, err
}

// StormMember is how a storm appears in the due set, next to incident ids
// (which start with two hex digits).
func StormMember(key string) string { return "s:" + key }

// StormOfMember returns the storm key of a due set member, if it is one.
func StormOfMember(member string) (string, bool) { return strings.CutPrefix(member, "s:") }

// NewBundleID makes a bundle id: "b" and an id of the storm's shard, so it
// never parses as an incident id.
func NewBundleID(storm string, t time.Time) string { return "b" + NewID(ShardOfStorm(storm), t) }

// IsBundleID reports whether id was made by NewBundleID.
func IsBundleID(id string) bool {
	_, err := ShardOfBundle(id)
	return err == nil
}

// ShardOfBundle reads the shard a bundle id was made in.
func ShardOfBundle(id string) (int, error) {
	if !strings.HasPrefix(id, "b") {
		return 0, fmt.Errorf("%w: malformed bundle id %q", ErrNotFound, id)
	}
	return ShardOfID(id[1:])
}

// Jobs is the part of a store that keeps scheduled work belonging to no
// incident: a heartbeat's expiry, a shift notice, the start and end of a
// maintenance window. A job is due at its Due in the same due set as
// incidents and storms, so it is claimed with a lease, taken over if its
// replica dies, and done once across replicas. Kinds and keys are chosen by
// the daemon; a kind never contains a slash.
type Jobs interface {
	// PutJob stores the job, due at its Due, replacing the job of the same
	// kind and key if there is one. A job being worked (claimed) stays
	// claimed; its FinishJob then keeps this replacement.
	PutJob(ctx context.Context, j Job) error
	// PutLaterJobs stores the jobs in one write (one round trip on Redis,
	// one transaction on the embedded store), each as PutJob does unless
	// the stored job of its kind and key is due at or after it (to the
	// millisecond): that one stands, and nothing of it is written. For
	// jobs that remember the latest of something, due a fixed while after
	// it (a resolve that found no open incident, due an hour after it): a
	// request held up by a stall writes no older one over a later one.
	// A request's many (a resolved notification of 1,000 alerts) cost one
	// write, not one each. Not atomic across jobs: after an error any of
	// them may be stored.
	PutLaterJobs(ctx context.Context, jobs []Job) error
	// AddJob stores the job, due at its Due, only if no job of the same
	// kind and key is stored, in one atomic step, and says whether it did:
	// arming that puts back a job the store lost must never replace one
	// stored meanwhile (a heartbeat's ping moving its expiry).
	AddJob(ctx context.Context, j Job) (added bool, err error)
	// ReplaceJob stores the job, due at its Due, only if the stored job of
	// the same kind and key still has version j.Version and is not claimed
	// (by a live lease or one that ran out and awaits its takeover), in one
	// atomic step, and says whether it did. It writes nothing and answers
	// false when the job was stored, finished or deleted since it was read
	// at that version, or is being worked: a change made from a read (arming
	// moving a job earlier) must never bring back the state of a job whose
	// run ended meanwhile, or its work (a notice) is done twice.
	ReplaceJob(ctx context.Context, j Job) (replaced bool, err error)
	// GetJob returns the job of the kind and key, or ErrNotFound.
	GetJob(ctx context.Context, kind, key string) (*Job, error)
	// DeleteJob removes the job, and any claim on it. Deleting a job that
	// does not exist is not an error.
	DeleteJob(ctx context.Context, kind, key string) error
	// FinishJob releases a job's claim, if it is still this one's: with
	// next, the job becomes next (same kind and key) due at next.Due;
	// without, it is deleted. If the job was replaced by PutJob since it
	// was claimed, the replacement stands and is due at its own Due.
	FinishJob(ctx context.Context, c Claim, next *Job) error
}

// Job is one piece of scheduled work (see Jobs).
type Job struct {
	Kind string          `json:"kind"`
	Key  string          `json:"key"`
	Due  time.Time       `json:"due"`
	Data json.RawMessage `json:"data,omitempty"`
	// Version increases each time the job is stored; FinishJob uses it to
	// tell a replacement from the job it claimed.
	Version int64 `json:"version"`
}

// CheckJob says what is wrong with a job's kind and key, for a store to
// refuse it before writing: a kind without a slash, and a key.
func CheckJob(j Job) error {
	if strings.Contains(j.Kind, "/") || j.Kind == "" || j.Key == "" {
		return fmt.Errorf("job %q/%q: a kind (without a slash) and a key are required", j.Kind, j.Key)
	}
	return nil
}

// JobMember is how a job appears in the due set.
func JobMember(kind, key string) string { return "j:" + kind + "/" + key }

// JobOfMember returns the kind and key of a due set member, if it is a job.
func JobOfMember(member string) (kind, key string, ok bool) {
	rest, ok := strings.CutPrefix(member, "j:")
	if !ok {
		return "", "", false
	}
	kind, key, ok = strings.Cut(rest, "/")
	return kind, key, ok && kind != "" && key != ""
}

// ShardOfJob is the shard a job lives in.
func ShardOfJob(kind, key string) int { return ShardOf("", "job/"+kind+"/"+key) }

// Docs is the part of a store that keeps small documents the daemon manages
// at run time, by kind and key: overrides made through the API, maintenance
// windows, calendar feed tokens, chat message references. Every replica
// sees the same. A kind is updated atomically as a whole (PutDocs), so a
// rule across its documents (two overrides on one tier must not overlap)
// can be checked and kept.
type Docs interface {
	// ListDocs returns every document of a kind by key, and the kind's
	// version (0 for a kind never written).
	ListDocs(ctx context.Context, kind string) (map[string][]byte, int64, error)
	// PutDocs writes and deletes documents of a kind in one atomic step,
	// if the kind's version is still version (ErrConflict otherwise), and
	// returns the new version.
	PutDocs(ctx context.Context, kind string, version int64, put map[string][]byte, del []string) (int64, error)
}
