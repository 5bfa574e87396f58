package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/logtest"
)

// errFsync is the injected failure of a commit: a real one cannot be
// provoked portably.
var errFsync = errors.New("fsync: input/output error")

// failAfterMeta is a txUpdate whose commits go through (their meta page
// written, so later transactions see them) and then fail, as bbolt's does
// when the fsync after the meta page fails; from the nth call on, the ones
// before pass. calls counts the calls. The nth calls hold, if not nil,
// between the commit and the failure, as a slow fsync does.
func failAfterMeta(db *bbolt.DB, n int32, calls *atomic.Int32, hold func()) func(func(*bbolt.Tx) error) error {
	return func(fn func(*bbolt.Tx) error) error {
		err := db.Update(fn)
		if c := calls.Add(1); c < n || err != nil {
			return err
		} else if c == n && hold != nil {
			hold()
		}
		return errFsync
	}
}

// failBeforeMeta is a txUpdate whose commits fail before the meta page is
// written, as bbolt's does when writing the data pages fails: rolled back,
// nothing visible. Its nth call and those after pass.
func failBeforeMeta(db *bbolt.DB, n int32, calls *atomic.Int32) func(func(*bbolt.Tx) error) error {
	return func(fn func(*bbolt.Tx) error) error {
		if calls.Add(1) >= n {
			return db.Update(fn)
		}
		var fnErr error
		err := db.Update(func(tx *bbolt.Tx) error {
			fnErr = fn(tx)
			if fnErr != nil {
				return fnErr
			}
			return errFsync // rolls back
		})
		if fnErr != nil {
			return err
		}
		return errFsync
	}
}

// TestGroupCommitFailedAfterTheMetaIsNotRunAgain: when a commit fails
// after its meta page was written (so the transaction is visible anyway),
// its writes are not run again: each is stored once, not twice, and each
// caller is told the outcome is unknown, never "nothing was stored". The
// store then refuses every write, saying pagerd must be restarted: one
// queued while the commit failed, and those after, at once; it fails
// Ping and Probe (readiness), logs the failure once, and still answers
// reads.
func TestGroupCommitFailedAfterTheMetaIsNotRunAgain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		notes int // writes in the failed transaction, with an alert
	}{
		{"a lone write", 0},
		{"a batch", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logtest.Buffer
			s, err := OpenLogged(t.TempDir(), slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			ctx := context.Background()
			ids := make([]string, tc.notes)
			for i := range ids {
				if ids[i], _, err = s.Trigger(ctx, newIncident("api", fmt.Sprintf("n%d", i), base, 1), nil); err != nil {
					t.Fatal(err)
				}
			}
			// The first write holds the committer while the others queue,
			// to go in one transaction, whose commit fails.
			var calls atomic.Int32
			synced, fail := make(chan struct{}), make(chan struct{})
			s.w.txUpdate = failAfterMeta(s.db, 2, &calls, func() {
				close(synced)
				<-fail
			})
			entered, release := blockingWrite(s, "a")
			<-entered
			answers := make(chan error, tc.notes+1)
			for _, id := range ids {
				go func() {
					answers <- s.Note(ctx, map[string][]store.Entry{id: {{At: base, Type: "note", Detail: "once"}}})
				}()
			}
			inc := newIncident("api", "new", base, 1)
			go func() {
				_, _, err := s.Trigger(ctx, inc, nil)
				answers <- err
			}()
			waitQueued(s, tc.notes+1)
			close(release)
			// An alert queues while the commit syncs, to be refused.
			<-synced
			behind := newIncident("api", "behind", base, 1)
			behindErr := make(chan error, 1)
			go func() {
				_, _, err := s.Trigger(ctx, behind, nil)
				behindErr <- err
			}()
			waitQueued(s, 1)
			close(fail)
			for range tc.notes + 1 {
				if err := <-answers; !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, store.ErrOutcomeUnknown) {
					t.Errorf("a write whose commit failed after its meta page: %v, want ErrUnavailable and ErrOutcomeUnknown", err)
				}
			}
			if n := calls.Load(); n != 2 {
				t.Errorf("%d write transactions, want 2 (the blocking write's and the failed one): the failed writes ran again", n)
			}
			// Reads go on, and show each write once.
			for _, id := range ids {
				tl, err := s.Timeline(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, e := range tl {
					if e.Detail == "once" {
						n++
					}
				}
				if n != 1 {
					t.Errorf("incident %s has the note %d times, want once", id, n)
				}
			}
			if got, err := s.Get(ctx, inc.ID); err != nil || got.DedupKey != "new" {
				t.Errorf("the alert of the failed commit: %+v %v, want it visible", got, err)
			}
			if list, err := s.List(ctx, store.Filter{Limit: 100}); err != nil || len(list) != tc.notes+1 {
				t.Errorf("%d incidents (%v), want %d", len(list), err, tc.notes+1)
			}
			// Every write from then on is refused, and says why.
			later := newIncident("api", "later", base, 1)
			_, _, laterErr := s.Trigger(ctx, later, nil)
			for _, w := range []struct {
				name string
				inc  *store.Incident
				err  error
			}{{"queued while the commit failed", behind, <-behindErr}, {"after the failure", later, laterErr}} {
				if !errors.Is(w.err, store.ErrUnavailable) || errors.Is(w.err, store.ErrOutcomeUnknown) || !strings.Contains(w.err.Error(), "restarted") {
					t.Errorf("an alert %s: %v, want ErrUnavailable (nothing stored) saying pagerd must be restarted", w.name, w.err)
				}
				if _, err := s.Get(ctx, w.inc.ID); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("the alert refused %s: %v, want ErrNotFound", w.name, err)
				}
			}
			if n := calls.Load(); n != 2 {
				t.Errorf("%d write transactions, want 2: a refused write ran one", n)
			}
			if err := s.Probe(ctx); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Probe after the failure: %v, want ErrUnavailable", err)
			}
			if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "disk failed a commit") {
				t.Errorf("Ping after the failure: %v, want ErrUnavailable saying the disk failed a commit", err)
			}
			if n := strings.Count(logs.String(), "the disk failed a commit"); n != 1 {
				t.Errorf("the failure logged %d times, want once:\n%s", n, logs.String())
			}
			select {
			case <-s.Broken():
			default:
				t.Error("Broken not closed: the daemon would go on answering and paging nothing")
			}
		})
	}
}

// TestGroupCommitFailedBeforeTheMetaRunsAlone: a commit that fails before
// its meta page is written is rolled back, and nothing of it is visible.
// A batch's writes then run again alone and are each stored once; a lone
// write gets ErrUnavailable (nothing stored, retry), not a plain error, and
// the store goes on taking writes.
func TestGroupCommitFailedBeforeTheMetaRunsAlone(t *testing.T) {
	add := func(tx *bbolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		var n uint64
		if v := m.Get([]byte("n")); v != nil {
			n = binary.BigEndian.Uint64(v)
		}
		return m.Put([]byte("n"), binary.BigEndian.AppendUint64(nil, n+1))
	}
	count := func(s *Store) (n uint64) {
		_ = s.db.View(func(tx *bbolt.Tx) error {
			if v := tx.Bucket(bucketMeta).Get([]byte("n")); v != nil {
				n = binary.BigEndian.Uint64(v)
			}
			return nil
		})
		return n
	}
	reqs := func(n int) []*txReq {
		rs := make([]*txReq, n)
		for i := range rs {
			rs[i] = &txReq{fn: add, done: make(chan struct{})}
		}
		return rs
	}

	t.Run("a batch", func(t *testing.T) {
		s := open(t, t.TempDir())
		var calls atomic.Int32
		s.w.txUpdate = failBeforeMeta(s.db, 2, &calls) // the batch's fails
		rs := reqs(3)
		s.w.commit(rs)
		for i, r := range rs {
			if r.err != nil {
				t.Errorf("write %d: %v, want it stored alone", i, r.err)
			}
		}
		if n := count(s); n != 3 {
			t.Errorf("the counter is %d, want 3: each write once", n)
		}
	})

	t.Run("a lone write", func(t *testing.T) {
		s, ctx := open(t, t.TempDir()), context.Background()
		var calls atomic.Int32
		s.w.txUpdate = failBeforeMeta(s.db, 3, &calls) // two fail
		rs := reqs(1)
		s.w.commit(rs)
		if err := rs[0].err; !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrOutcomeUnknown) || !errors.Is(err, errFsync) {
			t.Errorf("a lone write whose commit was rolled back: %v, want ErrUnavailable, not ErrOutcomeUnknown", err)
		}
		if n := count(s); n != 0 {
			t.Errorf("the counter is %d, want 0: nothing stored", n)
		}
		inc := newIncident("api", "rolled-back", base, 1)
		if _, _, err := s.Trigger(ctx, inc, nil); !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrOutcomeUnknown) {
			t.Errorf("an alert whose commit was rolled back: %v, want ErrUnavailable, not ErrOutcomeUnknown", err)
		}
		if _, err := s.Get(ctx, inc.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the alert whose commit was rolled back: %v, want ErrNotFound", err)
		}
		// The store goes on.
		select {
		case <-s.Broken():
			t.Error("Broken closed after a commit that was rolled back")
		default:
		}
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping after a rolled-back commit: %v", err)
		}
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Errorf("the alert sent again: %v", err)
		}
	})
}
