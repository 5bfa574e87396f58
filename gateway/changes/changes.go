// Package changes keeps the change events deploy tools send (PagerDuty's
// Change Events API, POST /v2/change/enqueue): a deploy, a config push, a
// feature flag turned on. They page nobody; they are the "Recent Changes"
// of a handoff document and what GET /api/v1/changes lists, so an
// on-call engineer can see what changed before an incident.
//
// They are kept in the store (store.Docs, one kind per service: both
// stores have them, and a backup of the embedded store carries them) for
// Keep, and at most MaxPerService of them per service: every write drops
// those of its service past either bound, so a chatty deploy tool cannot
// fill the store, and a read never lists a change older than Keep.
package changes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// Keep is how long a change is kept after it was received.
const Keep = 30 * 24 * time.Hour

// MaxPerService is how many changes of one service are kept: the newest.
// Some two hundred deploys a month is a busy service; one that sends more
// keeps its latest.
const MaxPerService = 200

// MaxPerSecond and Burst bound the change events one service takes, below
// server.rate_limit when that is higher (the alerts' 100 a second): each
// write reads and rewrites the service's kept changes, so a deploy tool
// stuck in a loop at the alerts' rate kept the store busy with them,
// beside the pages. Two a second, sixty at once, is far above a deploy
// pipeline's pace.
const (
	MaxPerSecond = 2
	Burst        = 60
)

// MaxBytes bounds one kept change, as JSON: past it its custom details
// are left out (DetailsDropped), then its links from the last, so a
// service's kept changes stay under a megabyte, read and written whole at
// each new one.
const MaxBytes = 4 << 10

// Kind is the store.Docs kind of a service's changes.
func Kind(service string) string { return "changes:" + service }

// Change is a change event as stored and as the API answers it.
type Change struct {
	ID      string `json:"id"`
	Service string `json:"service"`
	Summary string `json:"summary"`
	Source  string `json:"source,omitempty"`
	// At is when the change happened: the event's payload.timestamp, or
	// when it was received (ReceivedAt) if it had none.
	At         time.Time `json:"timestamp"`
	ReceivedAt time.Time `json:"received_at"`
	Links      []Link    `json:"links,omitempty"`
	// Details is payload.custom_details as sent; DetailsDropped says it
	// was too large to keep.
	Details        json.RawMessage `json:"custom_details,omitempty"`
	DetailsDropped bool            `json:"custom_details_dropped,omitempty"`
}

// Link is one of a change's links.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// Log records and lists changes. It is safe for concurrent use.
type Log struct {
	Store store.Docs
	// Now is the clock (default time.Now).
	Now func() time.Time
	// writing holds, by service, the turn its writes take one at a time
	// (Record): each write reads the service's changes and writes at the
	// version read, so writes of one service at once conflicted, and
	// past writeRetries one was refused (a deploy tool's 20 changes of
	// one service at once: 8 answered 503 on the embedded store).
	writing sync.Map
}

func (l *Log) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// writeRetries is how many times a write is tried again when another
// request changed the service's changes first.
const writeRetries = 10

// Record stores c (its Service, Summary, Source, At, Links and Details
// set by the caller) and returns it as stored, with its ID and
// ReceivedAt, and At set to ReceivedAt when zero. It drops, in the same
// write, the service's changes past Keep and MaxPerService. An error
// means it may not be stored: store.ErrUnavailable when the store did
// not answer.
func (l *Log) Record(ctx context.Context, c Change) (Change, error) {
	c.ID = newID()
	c.ReceivedAt = l.now().UTC()
	if c.At.IsZero() {
		c.At = c.ReceivedAt
	}
	doc, err := json.Marshal(c)
	for err == nil && len(doc) > MaxBytes && (len(c.Details) > 0 || len(c.Links) > 0) {
		if len(c.Details) > 0 {
			c.Details, c.DetailsDropped = nil, true
		} else {
			c.Links = c.Links[:len(c.Links)-1]
		}
		doc, err = json.Marshal(c)
	}
	if err != nil {
		return Change{}, err
	}
	kind := Kind(c.Service)
	turn, _ := l.writing.LoadOrStore(c.Service, make(chan struct{}, 1))
	select {
	case turn.(chan struct{}) <- struct{}{}:
		defer func() { <-turn.(chan struct{}) }()
	case <-ctx.Done():
		return Change{}, fmt.Errorf("%w: waiting for the other writes of service %s's changes: %w", store.ErrUnavailable, c.Service, ctx.Err())
	}
	for attempt := 0; ; attempt++ {
		docs, ver, err := l.Store.ListDocs(ctx, kind)
		if err != nil {
			return Change{}, err
		}
		_, err = l.Store.PutDocs(ctx, kind, ver, map[string][]byte{c.ID: doc}, dropped(parse(docs), c.ReceivedAt))
		if errors.Is(err, store.ErrConflict) && attempt < writeRetries {
			continue
		}
		if errors.Is(err, store.ErrConflict) {
			return Change{}, fmt.Errorf("%w: the changes of service %s kept changing under this write", store.ErrUnavailable, c.Service)
		}
		if err != nil {
			return Change{}, err
		}
		return c, nil
	}
}

// dropped are the ids a write of one more change at now drops: those
// received more than Keep before now, and past the newest
// MaxPerService-1 (the one written makes MaxPerService).
func dropped(list []Change, now time.Time) []string {
	var del []string
	kept := 0
	for _, c := range list { // newest first
		if now.Sub(c.ReceivedAt) > Keep || kept >= MaxPerService-1 {
			del = append(del, c.ID)
			continue
		}
		kept++
	}
	return del
}

// parse reads stored changes, newest received first; one that does not
// read is left out, and dropped by the next write.
func parse(docs map[string][]byte) []Change {
	list := make([]Change, 0, len(docs))
	for id, b := range docs {
		var c Change
		if json.Unmarshal(b, &c) != nil {
			c = Change{ID: id} // zero ReceivedAt: past Keep, dropped
		}
		list = append(list, c)
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].ReceivedAt.Equal(list[j].ReceivedAt) {
			return list[i].ReceivedAt.After(list[j].ReceivedAt)
		}
		return list[i].ID > list[j].ID
	})
	return list
}

// List is the changes of the services that happened (At) in [since,
// until), newest first, at most limit of them (0: no limit). A zero since
// or until leaves that side open. Changes received more than Keep ago are
// never listed, whether or not a write has dropped them yet.
func (l *Log) List(ctx context.Context, services []string, since, until time.Time, limit int) ([]Change, error) {
	cutoff := l.now().Add(-Keep)
	var out []Change
	for _, svc := range services {
		docs, _, err := l.Store.ListDocs(ctx, Kind(svc))
		if err != nil {
			return nil, fmt.Errorf("read the changes of service %q: %w", svc, err)
		}
		for _, c := range parse(docs) {
			if c.Summary == "" || c.ReceivedAt.Before(cutoff) || (!since.IsZero() && c.At.Before(since)) || (!until.IsZero() && !c.At.Before(until)) {
				continue
			}
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.After(out[j].At)
		}
		return out[i].ID > out[j].ID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// newID makes a change id: "ch-" and 16 hex digits.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "ch-" + hex.EncodeToString(b[:])
}
