// Package feeds is pagerd's calendar feeds: a secret URL per schedule (and
// per person in it) that calendar programs subscribe to, answering the
// shifts of the weeks ahead as iCalendar (policy.Config.ICalendar), with
// the overrides made at run time merged in. The URL's token is the only
// credential a calendar program can carry, so it is long and random, kept
// in the store (store.Docs, kind "feeds") so every replica answers it,
// compared in constant time, and rotated by asking for a new one. Each
// event's revisions are kept in the store too (kind RevisionKind): a
// calendar program keeps the event it has for a UID until its SEQUENCE
// rises, so an override that cuts a shift short (same UID: same person,
// same start) would otherwise stay on subscribers' calendars at its old
// times.
package feeds

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Path is where feeds are served: GET Path/<token>.ics.
const Path = "/feeds"

// Kind is the store.Docs kind of the feeds' tokens.
const Kind = "feeds"

// DefaultWeeks is how many weeks ahead a feed shows: the same horizon as
// `pagerd schedule`, which publishes four weeks ahead as AION-R's seed
// asks. A feed URL may ask for up to MaxWeeks with ?weeks=N.
const (
	DefaultWeeks = 4
	MaxWeeks     = 52
)

// RevisionKind is the store.Docs kind of the revisions of a schedule's
// feed events, by UID: every feed of the schedule (its own and each
// person's) shows an event with the same SEQUENCE.
func RevisionKind(schedule string) string { return "feed-revisions:" + schedule }

// keepRevision is how long after its event ended a revision is kept: past
// the feed's week before this one, so an event still shown keeps its
// SEQUENCE.
const keepRevision = 35 * 24 * time.Hour

// revision is what is kept of an event: its digest (policy.FeedEvent),
// its SEQUENCE, when that last rose (or the event was first published)
// and its end, to drop it once that is long past.
type revision struct {
	Digest   string    `json:"digest"`
	Sequence int       `json:"sequence"`
	Modified time.Time `json:"modified"`
	Until    time.Time `json:"until"`
}

// ErrNotFound: no such schedule or user, or a token that is not a feed's.
var ErrNotFound = errors.New("not found")

// Feed is one feed's token and what it shows.
type Feed struct {
	Token     string    `json:"token"`
	Schedule  string    `json:"schedule"`
	User      string    `json:"user,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// Service makes feed tokens and renders feeds.
type Service struct {
	Store store.Docs
	// Config is the config pages go out by: the file's, with the run-time
	// overrides merged in.
	Config func() *policy.Config
	Now    func() time.Time
}

func key(schedule, user string) string { return schedule + "/" + user }

// Token returns the token of the feed of a schedule (of one person's
// shifts in it, with user), making one when there is none yet or when
// rotate asks for a new one (the old one stops working).
func (s *Service) Token(ctx context.Context, schedule, user, actor string, rotate bool) (string, error) {
	cfg := s.Config()
	if cfg.Schedule(schedule) == nil {
		return "", fmt.Errorf("%w: no schedule %q is defined", ErrNotFound, schedule)
	}
	if user != "" && cfg.User(user) == nil {
		return "", fmt.Errorf("%w: no user %q is defined", ErrNotFound, user)
	}
	for attempt := 0; ; attempt++ {
		docs, ver, err := s.Store.ListDocs(ctx, Kind)
		if err != nil {
			return "", err
		}
		if b, ok := docs[key(schedule, user)]; ok && !rotate {
			var f Feed
			if err := json.Unmarshal(b, &f); err == nil && f.Token != "" {
				return f.Token, nil
			}
		}
		f := Feed{Token: newToken(), Schedule: schedule, User: user, CreatedBy: actor, CreatedAt: s.Now().UTC().Truncate(time.Second)}
		b, _ := json.Marshal(f)
		_, err = s.Store.PutDocs(ctx, Kind, ver, map[string][]byte{key(schedule, user): b}, nil)
		if errors.Is(err, store.ErrConflict) && attempt < conflictTries {
			continue
		}
		if err != nil {
			return "", err
		}
		return f.Token, nil
	}
}

// Find returns the feed a token is for. Every feed's token is compared,
// each in constant time, so how long it takes says nothing about how much
// of a token was right.
func (s *Service) Find(ctx context.Context, token string) (*Feed, error) {
	docs, _, err := s.Store.ListDocs(ctx, Kind)
	if err != nil {
		return nil, err
	}
	var found *Feed
	for _, b := range docs {
		var f Feed
		if json.Unmarshal(b, &f) != nil || f.Token == "" {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(token), []byte(f.Token)) == 1 {
			found = &f
		}
	}
	if found == nil {
		return nil, ErrNotFound
	}
	return found, nil
}

// Render answers a feed's token with its calendar: the shifts of its
// schedule (and person) from the start of the week before this one to
// weeks weeks ahead, overrides (the file's and the run-time ones)
// applied.
func (s *Service) Render(ctx context.Context, token string, weeks int) (string, error) {
	f, err := s.Find(ctx, token)
	if err != nil {
		return "", err
	}
	cfg := s.Config()
	sc := cfg.Schedule(f.Schedule)
	if sc == nil || (f.User != "" && cfg.User(f.User) == nil) {
		// Its schedule or person left the config: the feed is gone too.
		return "", ErrNotFound
	}
	if weeks < 1 || weeks > MaxWeeks {
		weeks = DefaultWeeks
	}
	now := s.Now()
	from := sc.HandoffAtOrBefore(now).AddDate(0, 0, -7)
	until := sc.HandoffAtOrBefore(now).AddDate(0, 0, 7*weeks)
	pf := policy.Feed{Schedule: f.Schedule, User: f.User, From: from, Until: until, Stamp: now}
	events, err := cfg.FeedEvents(pf)
	if err != nil {
		return "", err
	}
	if pf.Revisions, err = s.revise(ctx, f.Schedule, events, now); err != nil {
		return "", fmt.Errorf("calendar feed of schedule %q: its events' revisions: %w", f.Schedule, err)
	}
	return cfg.ICalendar(pf)
}

// conflictTries bounds how often a write of the feeds' documents (a
// token, an event's revisions) reads them again after another writer (on
// any replica) stored them in between.
const conflictTries = 10

// revise returns the revisions of events as they stand now, after storing
// what changed: an event not seen before is at SEQUENCE 0, one whose
// digest differs from the one kept goes one higher, both modified now.
// The write is a compare-and-set on the schedule's revisions, so two
// renders of one change (two replicas, two subscribers) raise it once. A
// render that cannot store its revisions fails: served unstored, its
// SEQUENCE could be given again to a later, different change.
func (s *Service) revise(ctx context.Context, schedule string, events []policy.FeedEvent, now time.Time) (map[string]policy.Revision, error) {
	kind := RevisionKind(schedule)
	now = now.UTC().Truncate(time.Second)
	for attempt := 0; ; attempt++ {
		docs, ver, err := s.Store.ListDocs(ctx, kind)
		if err != nil {
			return nil, err
		}
		out := make(map[string]policy.Revision, len(events))
		put := map[string][]byte{}
		for _, ev := range events {
			var r revision
			if b, kept := docs[ev.UID]; !kept || json.Unmarshal(b, &r) != nil {
				r = revision{Digest: ev.Digest, Modified: now, Until: ev.Until}
				put[ev.UID], _ = json.Marshal(r)
			} else if r.Digest != ev.Digest {
				// Its end is in the digest: a shift cut short is a change.
				r = revision{Digest: ev.Digest, Sequence: r.Sequence + 1, Modified: now, Until: ev.Until}
				put[ev.UID], _ = json.Marshal(r)
			}
			out[ev.UID] = policy.Revision{Sequence: r.Sequence, Modified: r.Modified}
		}
		var del []string
		for uid, b := range docs {
			var r revision
			if _, shown := out[uid]; !shown && (json.Unmarshal(b, &r) != nil || r.Until.Add(keepRevision).Before(now)) {
				del = append(del, uid)
			}
		}
		if len(put) == 0 && len(del) == 0 {
			return out, nil
		}
		_, err = s.Store.PutDocs(ctx, kind, ver, put, del)
		if errors.Is(err, store.ErrConflict) && attempt < conflictTries {
			continue
		}
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// URL is the feed's URL under base (the public URL).
func URL(base, token string) string {
	return strings.TrimRight(base, "/") + Path + "/" + token + ".ics"
}

// newToken is 32 random bytes, URL-safe.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
