// Package feeds is pagerd's calendar feeds: a secret URL per schedule (and
// per person in it) that calendar programs subscribe to, answering the
// shifts of the weeks ahead as iCalendar (policy.Config.ICalendar), with
// the overrides made at run time merged in. The URL's token is the only
// credential a calendar program can carry, so it is long and random, kept
// in the store (store.Docs, kind "feeds") so every replica answers it,
// compared in constant time, and rotated by asking for a new one.
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
		if errors.Is(err, store.ErrConflict) && attempt < 10 {
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
	return cfg.ICalendar(policy.Feed{Schedule: f.Schedule, User: f.User, From: from, Until: until, Stamp: now})
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
