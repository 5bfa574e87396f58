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
	"hash/fnv"
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
	// layer answers 503 and senders retry.
	ErrUnavailable = errors.New("store unavailable")
)

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
	// Version increases with every write; Update succeeds only if it still
	// matches what was read.
	Version int64 `json:"version"`
	// State is the escalation machine's state, pending deadlines included.
	State policy.Incident `json:"state"`
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
}

// Filter selects incidents for List. Zero fields match everything; Limit 0
// means DefaultListLimit. Newest first.
type Filter struct {
	Status   policy.Status
	Service  string
	Priority string
	Limit    int
}

// DefaultListLimit is how many incidents List returns when Filter.Limit is 0.
const DefaultListLimit = 100

// Claim is a lease on an incident whose earliest pending deadline is due.
// If the replica holding it dies before completing it, the incident is due
// again when the lease ends and another replica takes it over.
type Claim struct {
	Incident string
	// Due is when the incident's earliest pending deadline was due (not the
	// lease end of an earlier claim), for measuring lateness.
	Due   time.Time
	Token string
	// Takeover is true when the incident had been claimed before and that
	// lease ran out without the claim being completed.
	Takeover bool
}

// Outcome of Trigger.
type Outcome int

// Trigger outcomes.
const (
	// Created: no open incident had the dedup key; this one was stored.
	Created Outcome = iota + 1
	// Repeated: an open incident had the dedup key; its repeat count, last
	// seen time and details were updated and nothing else.
	Repeated
)

// Store keeps incidents, their timelines and their deadlines.
type Store interface {
	// Trigger stores inc unless an open incident of the same service has
	// the same dedup key, in which case it records a repeat on that one
	// instead (repeat count, last seen and details; nothing else). It
	// returns the stored incident's id. One round trip on Redis.
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
	// incremented. ErrConflict if the incident changed since it was read.
	// Repeats, LastSeen and Details are not written: Trigger owns them.
	Update(ctx context.Context, inc *Incident, timeline []Entry) error
	// List returns incidents matching the filter, newest first.
	List(ctx context.Context, f Filter) ([]*Incident, error)
	// Timeline returns the incident's entries, oldest first.
	Timeline(ctx context.Context, id string) ([]Entry, error)
	// ClaimDue leases up to max incidents whose earliest pending deadline is
	// due at or before now, earliest first, for lease.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]Claim, error)
	// Complete releases a claim, if it is still this one's (a takeover by
	// another replica voids it): the incident is due again at its earliest
	// pending deadline as stored now. Completing a claim whose incident an
	// Update already cancelled is not an error.
	Complete(ctx context.Context, c Claim) error
	// NextDue is the earliest time any incident is due (a claimed one counts
	// at its lease end), for the dispatcher to sleep until. ok is false when
	// nothing is pending.
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)
	// Ping reports whether the store answers, for /-/ready.
	Ping(ctx context.Context) error
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

// NextDeadline is the earliest pending deadline of an incident state, which
// is where its due entry belongs.
func NextDeadline(st policy.Incident) (time.Time, bool) {
	d, ok := st.Next()
	return d.At, ok
}
