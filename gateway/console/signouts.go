package console

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/pagerd/pagerd/gateway/store"
)

// SignoutKind is the store.Docs kind that keeps sign-outs: one document
// per user id, the time (Unix nanoseconds, decimal) they last signed out.
// A session of theirs issued at or before it is refused by every replica,
// so a copy of the cookie taken before the sign-out stops working too,
// whichever browser or replica it comes to.
const SignoutKind = "console-signouts"

// How fresh a replica's sign-outs are: it reads them again when those it
// has are older than signoutCache (a sign-out made on another replica is
// refused here within that), each read bounded by signoutRead.
const (
	signoutCache = 3 * time.Second
	signoutRead  = 2 * time.Second
	// keepSignouts is how long a sign-out is kept: longer than the longest
	// session_ttl (30d), after which every session it could end has
	// expired anyway.
	keepSignouts = 31 * 24 * time.Hour
)

// signouts is the sign-outs as this replica last read them from the
// store. When the store cannot be read, sessions are judged on the
// sign-outs last read (or on their signature alone, when none ever was):
// a person must be able to sign in and acknowledge during a store fault,
// and every write of the console goes through the store anyway. That is
// logged once when it starts and once when it ends.
type signouts struct {
	docs store.Docs // nil: sign-outs are not kept (a console without a store)
	now  func() time.Time
	log  *slog.Logger

	reads singleflight.Group

	mu sync.Mutex
	// at is by user id; it is replaced, never changed, so a caller may
	// keep it without the lock.
	at map[string]int64
	// readAt is when the store was last asked, answered or not: a store
	// that does not answer is asked again signoutCache later, not by every
	// request.
	readAt  time.Time
	asked   bool
	failing bool
}

// ended reports whether a session of the user issued at issued (Unix
// nanoseconds) was ended by a sign-out.
func (s *signouts) ended(ctx context.Context, user string, issued int64) bool {
	if s.docs == nil {
		return false
	}
	t, ok := s.current(ctx)[user]
	return ok && issued <= t
}

// current is the sign-outs, read again when older than signoutCache.
func (s *signouts) current(ctx context.Context) map[string]int64 {
	now := s.now()
	s.mu.Lock()
	at, fresh := s.at, s.asked && !now.Before(s.readAt) && now.Sub(s.readAt) < signoutCache
	s.mu.Unlock()
	if fresh {
		return at
	}
	return s.refresh(ctx)
}

// refresh reads the sign-outs from the store, one read at a time for
// every request that needs it; on failure it keeps what it had.
func (s *signouts) refresh(ctx context.Context) map[string]int64 {
	v, _, _ := s.reads.Do("", func() (any, error) {
		// Not the first caller's context: its end must not fail the
		// others waiting on this read.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signoutRead)
		defer cancel()
		docs, _, err := s.docs.ListDocs(rctx, SignoutKind)
		now := s.now()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.readAt, s.asked = now, true
		if err != nil {
			if !s.failing {
				s.failing = true
				s.log.Warn("console: sign-outs not read from the store; sessions are checked against the sign-outs read before, and a sign-out made since is not seen until the store answers",
					"err", err)
			}
			return s.at, nil
		}
		if s.failing {
			s.failing = false
			s.log.Info("console: sign-outs read from the store again")
		}
		at := decodeSignouts(docs)
		for u, t := range s.at {
			// A sign-out this replica wrote after the read began: times
			// only grow, so the later of the two is the one in force.
			if t > at[u] && now.Sub(time.Unix(0, t)) <= keepSignouts {
				at[u] = t
			}
		}
		s.at = at
		return s.at, nil
	})
	return v.(map[string]int64)
}

// issue is the time to issue a new session of the user at, in Unix
// nanoseconds: now, or just after their last sign-out if that is later
// (another replica's clock ahead of this one's), so that a session begun
// right after a sign-out is not taken for one it ended.
func (s *signouts) issue(ctx context.Context, user string, now time.Time) int64 {
	issued := now.UnixNano()
	if s.docs == nil {
		return issued
	}
	if t, ok := s.refresh(ctx)[user]; ok && issued <= t {
		issued = t + 1
	}
	return issued
}

// record ends every session of the user issued until now, on every
// replica: the store keeps the time.
func (s *signouts) record(ctx context.Context, user string, now time.Time) error {
	if s.docs == nil {
		return nil
	}
	for attempt := 0; ; attempt++ {
		docs, ver, err := s.docs.ListDocs(ctx, SignoutKind)
		if err != nil {
			return err
		}
		all := decodeSignouts(docs)
		at := max(now.UnixNano(), all[user])
		var del []string
		for u, t := range all {
			if u != user && now.Sub(time.Unix(0, t)) > keepSignouts {
				del = append(del, u)
			}
		}
		_, err = s.docs.PutDocs(ctx, SignoutKind, ver, map[string][]byte{user: []byte(strconv.FormatInt(at, 10))}, del)
		if errors.Is(err, store.ErrConflict) && attempt < 10 {
			continue // another sign-out at the same moment
		}
		if err != nil {
			return err
		}
		all[user] = at
		for _, u := range del {
			delete(all, u)
		}
		s.mu.Lock()
		s.at, s.readAt, s.asked = all, now, true
		s.mu.Unlock()
		return nil
	}
}

func decodeSignouts(docs map[string][]byte) map[string]int64 {
	out := make(map[string]int64, len(docs))
	for u, b := range docs {
		if t, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			out[u] = t
		}
	}
	return out
}
