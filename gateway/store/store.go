// Package store is the contract between the daemon and where incidents live:
// Redis (shared by any number of replicas) or the embedded on-disk store (one
// replica, no setup). Both implementations pass the same conformance suite,
// storetest.Run.
//
// An incident is stored with its escalation state (policy.Incident), which
// carries the pending deadlines. Every write of an incident also writes its
// deadlines into the due set the dispatcher claims from, in the same atomic
// operation, so an incident and its next page can never disagree.
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

// Claim is a due deadline this replica holds a lease on. If the replica dies
// before it completes the claim, the deadline is due again when the lease
// ends and another replica takes it over.
type Claim struct {
	Incident string
	Deadline string
	Due      time.Time
	Token    string
	// Takeover is true when the deadline had been claimed before and that
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
	// instead. It returns the stored incident's id. One round trip on Redis.
	Trigger(ctx context.Context, inc *Incident, timeline []Entry) (string, Outcome, error)
	// FindByDedup returns the latest incident of the service with the key,
	// open or resolved, or ErrNotFound.
	FindByDedup(ctx context.Context, service, dedupKey string) (*Incident, error)
	// Get returns the incident with the id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Incident, error)
	// Update writes inc if its stored Version is still inc.Version, appends
	// the timeline entries, and makes the due set match inc.State.Pending:
	// deadlines no longer pending are removed (whoever claimed them), new
	// ones added. On success inc.Version is incremented. ErrConflict if the
	// incident changed since it was read.
	Update(ctx context.Context, inc *Incident, timeline []Entry) error
	// List returns incidents matching the filter, newest first.
	List(ctx context.Context, f Filter) ([]*Incident, error)
	// Timeline returns the incident's entries, oldest first.
	Timeline(ctx context.Context, id string) ([]Entry, error)
	// ClaimDue leases up to max deadlines due at or before now for lease.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]Claim, error)
	// Complete drops a claimed deadline from the due set, if the claim is
	// still this one's (a takeover by another replica voids it). Completing
	// a deadline that an Update already removed is not an error.
	Complete(ctx context.Context, c Claim) error
	// NextDue is the earliest time any deadline is due (a claimed one counts
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
