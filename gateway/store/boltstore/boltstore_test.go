package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/storetest"
	"github.com/pagerd/pagerd/policy"
)

func open(tb testing.TB, dir string) *Store {
	tb.Helper()
	s, err := Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() }) // a second Close is harmless
	return s
}

// TestConformance runs the store suite; Reopen closes the database and
// opens the same data directory again, as a restart does.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T) store.Store { return open(t, t.TempDir()) },
		Reopen: func(t *testing.T, s store.Store) store.Store {
			dir := s.(*Store).dir
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, dir)
		},
		SpoilHeld: func(t *testing.T, s store.Store, storm string, i int) {
			err := s.(*Store).db.Update(func(tx *bbolt.Tx) error {
				b := tx.Bucket(bucketHeld).Bucket([]byte(storm))
				c := b.Cursor()
				k, _ := c.First()
				for range i {
					k, _ = c.Next()
				}
				return b.Put(k, []byte("{"))
			})
			if err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestSecondOpenFails: a second pagerd on the same data directory gets a
// clear error after the lock timeout, not a hang.
func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	start := time.Now()
	s2, err := Open(dir)
	elapsed := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("a second Open of a data dir in use succeeded")
	}
	if want := fmt.Sprintf("data dir %s is in use by another pagerd", dir); err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if elapsed > LockTimeout+time.Second {
		t.Fatalf("second Open took %v", elapsed)
	}
}

var base = time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)

// A store file cut short (a copy that did not finish) is refused by every
// way of opening it, saying so and what to do, before bbolt maps it: bbolt
// would crash the process with a fault on the first read past the end.
func TestOpenRefusesAStoreCutShort(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, _, err := s.Trigger(context.Background(), newIncident("svc", fmt.Sprint(i), base, 2), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	if err := os.Truncate(path, 3*4096); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "cut short") || !strings.Contains(err.Error(), "pagerd restore") {
			t.Errorf("%s of a store cut short: %v, want it refused as cut short, with what to do", what, err)
		}
	}
	_, err = Open(dir)
	check("Open", err)
	_, err = OpenReadOnly(dir)
	check("OpenReadOnly", err)
	_, err = BackupDir(context.Background(), dir, io.Discard)
	check("BackupDir", err)
}

func newIncident(service, dedup string, at time.Time, deadlines int) *store.Incident {
	inc := &store.Incident{
		ID: store.NewID(store.ShardOf(service, dedup), at), Service: service, DedupKey: dedup,
		Source: "api", Summary: "disk full", CreatedAt: at, UpdatedAt: at, LastSeen: at,
		State: policy.Incident{Service: service, Priority: "P1", Urgency: "high", Status: policy.StatusTriggered,
			Epoch: 1, TriggeredAt: at, LevelStartedAt: at},
	}
	inc.State.ID = inc.ID
	for i := range deadlines {
		inc.State.Pending = append(inc.State.Pending, policy.Deadline{
			ID: fmt.Sprintf("0001.%06d.notify", i+1), At: at.Add(time.Duration(i) * time.Minute),
			Kind: policy.DeadlineNotify, User: "u", Channel: "sms", Seq: i + 1,
		})
	}
	inc.State.Seq = deadlines
	return inc
}

// checkSched verifies the due set's invariants: exactly one due entry per
// incident with a pending deadline, matching its sched record, at its
// earliest pending deadline unless it is claimed.
func checkSched(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.View(func(tx *bbolt.Tx) error {
		sched := tx.Bucket(bucketSched)
		dueIDs := map[string]int64{}
		if err := tx.Bucket(bucketDue).ForEach(func(k, _ []byte) error {
			id := string(k[8:])
			if _, dup := dueIDs[id]; dup {
				t.Errorf("incident %s is in the due set twice", id)
			}
			dueIDs[id] = keyTime(k)
			cur, orig, tok, ok := parseSched(sched.Get(idKey(id)))
			if !ok || !bytes.Equal(cur, k[:8]) {
				t.Errorf("due entry %s at %d does not match its sched record", id, keyTime(k))
			}
			if strings.Contains(id, ":") { // a storm's or a job's
				return nil
			}
			inc, err := readIncident(tx, id)
			if err != nil {
				return err
			}
			at, pending := store.DueAt(inc)
			want := at.UnixMilli()
			if to, held := notBeforeOf(sched.Get(idKey(id))); held {
				want = max(want, to) // Release put it off to then
			}
			switch {
			case tok == "" && (!pending || orig != at.UnixMilli() ||
				(keyTime(k) != want && keyTime(k) != at.Add(-store.FirstPageLead).UnixMilli())):
				t.Errorf("unclaimed incident %s due at %d, want its earliest deadline %v", id, keyTime(k), at)
			case tok != "" && !pending:
				t.Errorf("incident %s is claimed with nothing pending", id)
			}
			return nil
		}); err != nil {
			return err
		}
		if n := sched.Stats().KeyN; n != len(dueIDs) {
			t.Errorf("%d sched records for %d due entries", n, len(dueIDs))
		}
		return tx.Bucket(bucketIncidents).ForEach(func(k, v []byte) error {
			if !bytes.Equal(k, idKey(string(k))) {
				t.Errorf("incident key %s is not a stored key (idKey)", k)
			}
			inc, err := decodeIncident(string(k), v)
			if err != nil {
				return err
			}
			if _, pending := store.DueAt(inc); pending {
				if _, ok := dueIDs[inc.ID]; !ok {
					t.Errorf("incident %s has a pending deadline and no due entry", inc.ID)
				}
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An incident whose deadline stays pending across an Update keeps its
// lease: the claim in flight must not come due again and page twice. After
// Complete it is due again at that deadline, since it is still pending.
func TestUpdateKeepsLease(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	id, _, err := s.Trigger(ctx, newIncident("api", "g1", base, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkSched(t, s)
	cs, err := s.ClaimDue(ctx, base, time.Minute, 10)
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim %v %v", cs, err)
	}
	checkSched(t, s)
	inc, _ := s.Get(ctx, id)
	inc.State.StatusUpdates++
	if err := s.Update(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	checkSched(t, s)
	if again, _ := s.ClaimDue(ctx, base.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("a leased incident came due again after an update: %+v", again)
	}
	if at, ok, _ := s.NextDue(ctx); !ok || !at.Equal(base.Add(time.Minute)) {
		t.Fatalf("NextDue %v %v, want the lease end", at, ok)
	}
	if err := s.Complete(ctx, cs[0]); err != nil {
		t.Fatal(err)
	}
	checkSched(t, s)
	if at, ok, _ := s.NextDue(ctx); !ok || !at.Equal(base) {
		t.Fatalf("NextDue %v %v after Complete, want the still pending deadline", at, ok)
	}
	// Firing it and completing empties the due set.
	cs, _ = s.ClaimDue(ctx, base.Add(time.Minute), time.Minute, 10)
	if len(cs) != 1 || cs[0].Takeover || !cs[0].Due.Equal(base) {
		t.Fatalf("claim %+v", cs)
	}
	inc, _ = s.Get(ctx, id)
	inc.State.Pending = nil
	if err := s.Update(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	checkSched(t, s)
	if err := s.Complete(ctx, cs[0]); err != nil {
		t.Fatal(err)
	}
	checkSched(t, s)
	if _, ok, _ := s.NextDue(ctx); ok {
		t.Fatal("something is due with nothing pending")
	}
}

// The due set holds one entry per incident, whatever it does: triggers,
// updates that add, move and drop deadlines, claims, takeovers, stale and
// current completes.
func TestOneDueEntryPerIncident(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	var ids []string
	for i := range 6 {
		id, _, err := s.Trigger(ctx, newIncident("api", fmt.Sprintf("g%d", i), base, i), nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	checkSched(t, s)
	c1, err := s.ClaimDue(ctx, base, 10*time.Second, 3)
	if err != nil || len(c1) != 3 {
		t.Fatalf("claim %+v %v", c1, err)
	}
	checkSched(t, s)
	// Update every incident: add a deadline to some, drop all from others.
	for i, id := range ids {
		inc, _ := s.Get(ctx, id)
		switch i % 3 {
		case 0:
			inc.State.Pending = append(inc.State.Pending, policy.Deadline{ID: "9.9", At: base.Add(-time.Hour)})
		case 1:
			inc.State.Pending = nil
		case 2:
			if len(inc.State.Pending) > 0 {
				inc.State.Pending = inc.State.Pending[1:]
			}
		}
		if err := s.Update(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		checkSched(t, s)
	}
	// Take over what is still claimed, then complete the stale claims and
	// the new ones.
	c2, err := s.ClaimDue(ctx, base.Add(time.Hour), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkSched(t, s)
	for _, c := range append(c1, c2...) {
		if err := s.Complete(ctx, c); err != nil {
			t.Fatal(err)
		}
		checkSched(t, s)
	}
}

// A repeat between Get and Update does not bump the version, so the Update
// succeeds; it must not write back the repeat count it read.
// A Trigger prepares its write before the transaction; when the incident
// it read as open changed before the transaction (a repeat counted, or a
// resolve), the transaction works from what it finds instead.
func TestTriggerPreparedFromAReadThatChanged(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	id, _, _ := s.Trigger(ctx, newIncident("api", "g1", base, 1), nil)
	trigger := func(inc *store.Incident, w *write, rep *repeat) (string, store.Outcome) {
		t.Helper()
		var got string
		var out store.Outcome
		err := s.update(ctx, func(tx *bbolt.Tx) error {
			var err error
			got, out, err = triggerTx(tx, inc, w, rep, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, out
	}

	// Two repeats prepared from the same read: both are counted.
	a, b := newIncident("api", "g1", base.Add(time.Minute), 1), newIncident("api", "g1", base.Add(2*time.Minute), 1)
	wa, ra, _ := s.prepareTrigger(ctx, a)
	wb, rb, _ := s.prepareTrigger(ctx, b)
	if ra == nil || rb == nil {
		t.Fatal("a repeat of an open incident was not prepared as one")
	}
	trigger(a, wa, ra)
	if got, out := trigger(b, wb, rb); got != id || out != store.Repeated {
		t.Fatalf("second repeat: %s %v", got, out)
	}
	if got, _ := s.Get(ctx, id); got.Repeats != 2 || !got.LastSeen.Equal(b.LastSeen) {
		t.Fatalf("repeats %d, last seen %v; want 2 and the second's", got.Repeats, got.LastSeen)
	}

	// A repeat prepared, then the incident resolved: a new incident.
	c := newIncident("api", "g1", base.Add(3*time.Minute), 1)
	wc, rc, _ := s.prepareTrigger(ctx, c)
	inc, _ := s.Get(ctx, id)
	inc.State.Status, inc.State.Pending = policy.StatusResolved, nil
	if err := s.Update(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	got, out := trigger(c, wc, rc)
	if out != store.Created || got == id {
		t.Fatalf("a trigger after the resolve: %s %v, want a new incident", got, out)
	}
	if n, _ := s.Get(ctx, got); n == nil || n.Version != 1 || n.Repeats != 0 || !n.Open() {
		t.Fatalf("the new incident: %+v", n)
	}
	if old, _ := s.Get(ctx, id); old.Open() || old.Repeats != 2 {
		t.Fatalf("the resolved incident changed: %s, repeats %d", old.State.Status, old.Repeats)
	}
}

func TestUpdateKeepsRepeat(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	id, _, _ := s.Trigger(ctx, newIncident("api", "g1", base, 1), nil)
	inc, _ := s.Get(ctx, id)
	rep := newIncident("api", "g1", base.Add(time.Minute), 1)
	rep.Details = []byte(`{"v":2}`)
	if _, out, err := s.Trigger(ctx, rep, nil); err != nil || out != store.Repeated {
		t.Fatalf("repeat %v %v", out, err)
	}
	inc.State.Status = policy.StatusAcknowledged
	if err := s.Update(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, id)
	if got.Repeats != 1 || !got.LastSeen.Equal(rep.LastSeen) || string(got.Details) != `{"v":2}` || got.Version != 2 {
		t.Fatalf("after update: repeats %d last seen %v details %s version %d", got.Repeats, got.LastSeen, got.Details, got.Version)
	}
}

func TestCompleteWithoutTokenIsVoid(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	id, _, _ := s.Trigger(ctx, newIncident("api", "g1", base, 1), nil)
	if err := s.Complete(ctx, store.Claim{Incident: id}); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.ClaimDue(ctx, base, time.Minute, 10); len(cs) != 1 {
		t.Fatal("a Complete without a claim removed the due entry")
	}
}

// Keys sort in time order before 1970 too: a zero deadline is due at once.
func TestZeroTimeDeadline(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	s.Trigger(ctx, newIncident("api", "g1", base, 1), nil)
	inc := newIncident("api", "g2", base, 1)
	inc.State.Pending[0].At = time.Time{}
	s.Trigger(ctx, inc, nil)
	// A new incident's first page is queued FirstPageLead ahead of its time.
	at, ok, err := s.NextDue(ctx)
	if err != nil || !ok || at.UnixMilli() != (time.Time{}).Add(-store.FirstPageLead).UnixMilli() {
		t.Fatalf("NextDue %v %v %v", at, ok, err)
	}
	if cs, _ := s.ClaimDue(ctx, base, time.Minute, 1); len(cs) != 1 || cs[0].Incident != inc.ID {
		t.Fatalf("claim %+v", cs)
	}
}

// A dedup key longer than bbolt's key limit still deduplicates.
func TestLongDedupKey(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	key := strings.Repeat("k", bbolt.MaxKeySize+1)
	id, _, err := s.Trigger(ctx, newIncident("api", key, base, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if id2, out, err := s.Trigger(ctx, newIncident("api", key, base, 0), nil); err != nil || out != store.Repeated || id2 != id {
		t.Fatalf("repeat %v %v %v", id2, out, err)
	}
	if got, err := s.FindByDedup(ctx, "api", key); err != nil || got.ID != id {
		t.Fatalf("FindByDedup %v", err)
	}
}

// TestExpireLogsUndecodable: an incident record that is not JSON is kept
// by retention and said in the log the daemon gives the store
// (storetest.ExpireLogsUndecodable), not passed over in silence.
func TestExpireLogsUndecodable(t *testing.T) {
	var logs bytes.Buffer
	s, err := OpenLogged(t.TempDir(), slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	storetest.ExpireLogsUndecodable(t, s, logs.String, func(t *testing.T, id string) {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketIncidents).Put(idKey(id), []byte(`{"id":`))
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestCountOpenSkipsUndecodable: an open incident whose index record and
// incident record both do not decode (CountOpen reads the second only when
// the first does not parse) is left out of the counts and named, and the
// others are still counted (storetest.CountOpenSkipsUndecodable).
func TestCountOpenSkipsUndecodable(t *testing.T) {
	s := open(t, t.TempDir())
	storetest.CountOpenSkipsUndecodable(t, s, func(t *testing.T, id string) {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			open := tx.Bucket(bucketOpen)
			var key []byte
			c := open.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if len(k) > 8 && string(k[8:]) == id {
					key = bytes.Clone(k)
				}
			}
			if key == nil {
				return fmt.Errorf("no open index entry for %s", id)
			}
			if err := open.Put(key, []byte{0xff}); err != nil {
				return err
			}
			return tx.Bucket(bucketIncidents).Put(idKey(id), []byte(`{"id":`))
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestClosedIsUnavailable(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	id, _, _ := s.Trigger(ctx, newIncident("api", "g1", base, 1), nil)
	s.Close()
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping after Close: %v", err)
	}
	if _, err := s.Get(ctx, id); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get after Close: %v", err)
	}
	if _, _, err := s.Trigger(ctx, newIncident("api", "g2", base, 1), nil); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Trigger after Close: %v", err)
	}
}

// result, which every call of the store ends in, allocates nothing when
// the call succeeded; errors.As's target, declared for the whole
// function, was an allocation in every call. The errors it maps are
// still mapped.
func TestResultOfASuccessAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = result(nil); _ = result(errNoop) }); n != 0 {
		t.Errorf("result of a success: %.0f allocations, want none", n)
	}
	if err := result(plain("bad %s", "input")); err == nil || err.Error() != "bad input" || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("a plain error: %v", err)
	}
	if err := result(store.ErrConflict); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a conflict: %v", err)
	}
	if err := result(io.ErrUnexpectedEOF); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("a bolt error: %v, want ErrUnavailable", err)
	}
}

// BenchmarkTrigger creates distinct incidents with 5 pending deadlines and
// a timeline entry: one fsynced transaction each.
func BenchmarkTrigger(b *testing.B) {
	s, ctx := open(b, b.TempDir()), context.Background()
	incs := make([]*store.Incident, b.N)
	for i := range incs {
		incs[i] = newIncident("api", fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Millisecond), 5)
	}
	tl := []store.Entry{{At: base, Type: "trigger", Actor: "alertmanager"}}
	b.ResetTimer()
	for i := range b.N {
		if _, out, err := s.Trigger(ctx, incs[i], tl); err != nil || out != store.Created {
			b.Fatal(out, err)
		}
	}
}

// BenchmarkClaimComplete claims the earliest due incident and completes
// it: two fsynced transactions, the dispatcher's steady state (less the
// Update between them). A completed incident is due again at once, as its
// deadlines stay pending, so a backlog of 10,000 due incidents stays put.
func BenchmarkClaimComplete(b *testing.B) {
	s, ctx := open(b, b.TempDir()), context.Background()
	// Load the incidents in big transactions, outside the timer.
	for i := 0; i < 10000; {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			for n := 0; n < 1000; n++ {
				inc := newIncident("api", fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Millisecond), 5)
				w, err := newTrigger(inc)
				if err != nil {
					return err
				}
				if _, _, err := triggerTx(tx, inc, w, nil, nil); err != nil {
					return err
				}
				i++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	now := base.Add(time.Hour)
	b.ResetTimer()
	for range b.N {
		cs, err := s.ClaimDue(ctx, now, time.Minute, 1)
		if err != nil || len(cs) != 1 {
			b.Fatal(cs, err)
		}
		if err := s.Complete(ctx, cs[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTriggerConcurrent is BenchmarkTrigger from 64 callers at once,
// as an HTTP server under load calls it: group commit lets them share
// fsyncs, each caller still answered only once its incident is on disk.
func BenchmarkTriggerConcurrent(b *testing.B) {
	s, ctx := open(b, b.TempDir()), context.Background()
	tl := []store.Entry{{At: base, Type: "trigger", Actor: "alertmanager"}}
	var n atomic.Int64
	before, pages := s.w.commits.Load(), pagesWritten(s)
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			inc := newIncident("api", fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Millisecond), 5)
			if _, out, err := s.Trigger(ctx, inc, tl); err != nil || out != store.Created {
				b.Fatal(out, err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incidents/s")
	b.ReportMetric(float64(b.N)/float64(s.w.commits.Load()-before), "incidents/commit")
	b.ReportMetric(float64(pagesWritten(s)-pages)/float64(b.N), "pages/incident")
}

// The buckets whose keys grow with time fill the leaves they split
// (appendFill): at bbolt's default every leaf of them was left half empty,
// and the file grew by the half.
func TestBucketsWrittenInTimeOrderFillTheirPages(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	tl := []store.Entry{{At: base, Type: "trigger", Actor: "alertmanager"}}
	var n atomic.Int64
	var wg sync.WaitGroup
	for range 16 { // callers at once, so commits carry many writes
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := n.Add(1); i <= 1500; i = n.Add(1) {
				inc := newIncident("api", fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Millisecond), 3)
				if _, out, err := s.Trigger(ctx, inc, tl); err != nil || out != store.Created {
					t.Error(out, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	err := s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketIncidents, bucketCreated, bucketOpen, bucketSched, bucketDue} {
			st := tx.Bucket(name).Stats()
			if st.LeafPageN < 4 {
				t.Fatalf("%s: %d leaves, too few to tell", name, st.LeafPageN)
			}
			if fill := float64(st.LeafInuse) / float64(st.LeafAlloc); fill < 0.8 {
				t.Errorf("%s: %d leaves %.0f%% full, want at least 80%%", name, st.LeafPageN, 100*fill)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// usedBytes is how much of the store's file holds data: its size less its
// free pages.
func usedBytes(tb testing.TB, s *Store) int64 {
	tb.Helper()
	var n int64
	if err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Size() - int64(s.db.Stats().FreePageN*s.db.Info().PageSize)
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return n
}

// pagesWritten is how many pages the store's commits have written so far:
// bbolt writes each with a call of its own, inside the one writer.
func pagesWritten(s *Store) int64 {
	st := s.db.Stats()
	return st.TxStats.GetWrite()
}

// Incidents are kept in the order they were made, whatever their shard
// (idKey), so that the incidents of one commit share their pages: in
// every bucket kept by incident, and in the order Note writes them.
func TestIncidentsKeptInCreationOrder(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	var want []string
	shards := map[string]bool{}
	for i := range 64 {
		inc := newIncident("api", fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Millisecond), 1)
		if _, _, err := s.Trigger(ctx, inc, []store.Entry{{At: base, Type: "trigger"}}); err != nil {
			t.Fatal(err)
		}
		want, shards[inc.ID[:2]] = append(want, inc.ID), true
	}
	if len(shards) < 16 {
		t.Fatalf("the incidents are in %d shards: the test needs many", len(shards))
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketIncidents, bucketSched, bucketTimeline} {
			var got []string
			_ = tx.Bucket(name).ForEach(func(k, _ []byte) error {
				n := len(k) - 2
				got = append(got, string(k[n:])+"-"+string(k[:n]))
				return nil
			})
			if !slices.Equal(got, want) {
				t.Errorf("bucket %s keeps the incidents in the order\n%v\nwant the order they were made\n%v", name, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A step paged on an incident minutes old (its SMS, its call) leaves its
// status, priority and service as they were, so its records in the
// created and open indexes are not written again: bbolt writes a leaf and
// every branch above it for any Put, even of the value it holds, and an
// old incident's index records are on leaves no new incident shares.
// Pages are what a commit costs (about 50 µs each to write and sync on the
// load run's disk). An acknowledgement changes the status: both are
// written then.
func TestFinishLeavesUnchangedIndexRecordsAlone(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	var first *store.Incident
	for i := range 2000 {
		inc := newIncident("api", fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Millisecond), 3)
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = inc
		}
	}
	// A bucket's root page moves whenever any page of it is written
	// (bbolt copies on write, up to the root).
	roots := func() (created, open uint64) {
		t.Helper()
		if err := s.db.View(func(tx *bbolt.Tx) error {
			created, open = uint64(tx.Bucket(bucketCreated).Root()), uint64(tx.Bucket(bucketOpen).Root())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return created, open
	}
	c := store.Claim{Incident: first.ID}
	cur, err := s.Get(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	createdBefore, openBefore := roots()
	cur.State.Pending = cur.State.Pending[1:] // the first step paged
	if err := s.Finish(ctx, c, cur, []store.Entry{{At: base, Type: "notify", Actor: "pagerd"}}); err != nil {
		t.Fatal(err)
	}
	if created, open := roots(); created != createdBefore || open != openBefore {
		t.Errorf("a step paged on an incident whose status did not change wrote the created index again (root page %d, was %d) or the open index (%d, was %d)",
			created, createdBefore, open, openBefore)
	}

	cur, err = s.Get(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.State.Status = policy.StatusAcknowledged
	if err := s.Update(ctx, cur, nil); err != nil {
		t.Fatal(err)
	}
	if created, open := roots(); created == createdBefore || open == openBefore {
		t.Errorf("an acknowledgement left the created index's root page at %d or the open index's at %d: its records say the status", created, open)
	}
	got, err := s.List(ctx, store.Filter{Status: policy.StatusAcknowledged})
	if err != nil || len(got) != 1 || got[0].ID != first.ID {
		t.Fatalf("acknowledged incidents listed: %d, %v; want the one", len(got), err)
	}
}

// cursors is how many cursors the store's transactions have opened so
// far: bbolt opens one for every Get, Put and Delete and for every bucket
// a transaction looks up, and each walks a tree from its root.
func cursors(s *Store) int64 {
	st := s.db.Stats()
	return st.TxStats.GetCursorCount()
}

// A Finish of a claimed step reads the incident's sched record once and
// writes it once: it read it three times (whether the incident was
// claimed, whether by this claim, where its due entry was) and deleted it
// before putting it back, 26 cursors in all where 23 do, inside the one
// writer. The due set stays as it was meant to be (checkSched).
func TestFinishReadsItsSchedRecordOnce(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	for i := range 300 {
		if _, _, err := s.Trigger(ctx, newIncident("api", fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Second), 3), nil); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := s.ClaimDue(ctx, base.Add(time.Hour), time.Minute, 1)
	if err != nil || len(cs) != 1 || cs[0].Record == nil {
		t.Fatalf("claim: %v, %v", cs, err)
	}
	inc := cs[0].Record
	inc.State.Pending = inc.State.Pending[1:] // the first step paged
	before := cursors(s)
	if err := s.Finish(ctx, cs[0], inc, []store.Entry{{At: base, Type: "notify", Actor: "pagerd"}}); err != nil {
		t.Fatal(err)
	}
	// 7 bucket lookups (fillAppended's five, the timeline, the index of
	// resolve times), the document read and written, its two index
	// records read (unchanged), the sched record read, the timeline's
	// append (3), the due entry moved (2), the sched record written, and
	// the commit's updates of the buckets' headers.
	if n := cursors(s) - before; n > 23 {
		t.Errorf("a Finish opened %d cursors, want at most 23", n)
	}
	checkSched(t, s)
	if err := s.db.View(func(tx *bbolt.Tx) error {
		cur, _, tok, ok := parseSched(tx.Bucket(bucketSched).Get(idKey(inc.ID)))
		if want := inc.State.Pending[0].At.UnixMilli(); !ok || keyTime(cur) != want || tok != "" {
			t.Errorf("after the Finish, sched record %x, want due at the next step %d, unclaimed", cur, want)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// The open index is not looked up where what it holds is known: a new
// incident has no record in it, and an incident whose created record is
// unchanged (a step paged) has the same record there while open, none
// once resolved. A Trigger of a new incident opened 31 cursors and a
// Finish of a step 22 (after TestFinishReadsItsSchedRecordOnce's fix),
// each a walk down a tree inside the one writer; the indexes stay right
// (List of the open incidents).
func TestOpenIndexNotLookedUpWhereItsRecordIsKnown(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	for i := range 300 {
		if _, _, err := s.Trigger(ctx, newIncident("api", fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Second), 3), nil); err != nil {
			t.Fatal(err)
		}
	}
	tl := []store.Entry{{At: base, Type: "trigger", Actor: "alertmanager"}}
	before := cursors(s)
	inc := newIncident("api", "new", base.Add(-time.Hour), 3) // due first
	if _, out, err := s.Trigger(ctx, inc, tl); err != nil || out != store.Created {
		t.Fatal(out, err)
	}
	if n := cursors(s) - before; n > 30 {
		t.Errorf("a Trigger of a new incident opened %d cursors, want at most 30", n)
	}
	cs, err := s.ClaimDue(ctx, base.Add(time.Hour), time.Minute, 1)
	if err != nil || len(cs) != 1 || cs[0].Incident != inc.ID || cs[0].Record == nil {
		t.Fatalf("claim: %v, %v", cs, err)
	}
	rec := cs[0].Record
	rec.State.Pending = rec.State.Pending[1:]
	before = cursors(s)
	if err := s.Finish(ctx, cs[0], rec, tl); err != nil {
		t.Fatal(err)
	}
	if n := cursors(s) - before; n > 21 {
		t.Errorf("a Finish of a step opened %d cursors, want at most 21", n)
	}
	list, err := s.List(ctx, store.Filter{Status: policy.StatusTriggered, Limit: 1000})
	if err != nil || len(list) != 301 {
		t.Fatalf("open incidents listed: %d, %v; want 301", len(list), err)
	}
}

// BenchmarkWriteCycleConcurrent is what the dispatcher and the intake ask
// of the store for each new alert, from 32 callers at once: a Trigger, a
// claim of the incident's first page and its Finish. Every write goes
// through the one writer, so this is the embedded store's ceiling.
func BenchmarkWriteCycleConcurrent(b *testing.B) {
	s := open(b, b.TempDir())
	used := usedBytes(b, s)
	writeCycles(b, s)
	// Not in BenchmarkWriteCycleAfterDeletes: there the cycles' writes
	// take pages the deletes freed.
	b.ReportMetric(float64(usedBytes(b, s)-used)/float64(b.N), "file-bytes/alert")
}

// writeCycles runs BenchmarkWriteCycleConcurrent's cycles on s.
func writeCycles(b *testing.B, s *Store) {
	ctx := context.Background()
	tl := []store.Entry{{At: base, Type: "trigger", Actor: "alertmanager"}}
	step := []store.Entry{{At: base, Type: "notify", Actor: "pagerd", Detail: "push to u"}}
	var n atomic.Int64
	pages, commits, cpu := pagesWritten(s), s.w.commits.Load(), cpuTime(b)
	defer func() {
		b.ReportMetric(float64(pagesWritten(s)-pages)/float64(b.N), "pages/alert")
		b.ReportMetric(float64(s.w.commits.Load()-commits)/float64(b.N), "commits/alert")
		b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/alert")
	}()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			inc := newIncident("api", fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Millisecond), 3)
			if _, out, err := s.Trigger(ctx, inc, tl); err != nil || out != store.Created {
				b.Fatal(out, err)
			}
			cs, err := s.ClaimDue(ctx, base.Add(time.Hour), time.Minute, 1)
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range cs {
				if c.Record == nil {
					continue
				}
				c.Record.State.Pending = c.Record.State.Pending[1:]
				if err := s.Finish(ctx, c, c.Record, step); err != nil && !errors.Is(err, store.ErrConflict) {
					b.Fatal(err)
				}
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}

// BenchmarkWriteCycleAfterDeletes is BenchmarkWriteCycleConcurrent on a
// file that has freed many pages (what retention and a storm's flushed
// held pages leave): the freelist is not written by every commit.
func BenchmarkWriteCycleAfterDeletes(b *testing.B) {
	s := open(b, b.TempDir())
	for range 20 {
		fillChurn(b, s, 10000, 200)
	}
	dropChurn(b, s)
	b.ResetTimer()
	writeCycles(b, s)
}

// fillChurn puts n more keys of size bytes in the bucket "churn", in one
// transaction; dropChurn deletes the bucket, freeing their pages.
func fillChurn(tb testing.TB, s *Store, n, size int) {
	tb.Helper()
	v := make([]byte, size)
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte("churn"))
		if err != nil {
			return err
		}
		first := bk.Stats().KeyN
		for i := range n {
			if err := bk.Put(fmt.Appendf(nil, "k%07d", first+i), v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
}

func dropChurn(tb testing.TB, s *Store) {
	tb.Helper()
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte("churn")) }); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkRepeatConcurrent is what Alertmanager mostly sends while alerts
// fire: repeats of open incidents (1,000 of them), from 32 callers at once.
func BenchmarkRepeatConcurrent(b *testing.B) {
	s, ctx := open(b, b.TempDir()), context.Background()
	const open = 1000
	for i := range open {
		if _, _, err := s.Trigger(ctx, newIncident("api", fmt.Sprintf("k%d", i), base, 3), nil); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			inc := newIncident("api", fmt.Sprintf("k%d", i%open), base.Add(time.Duration(i)*time.Millisecond), 3)
			if _, out, err := s.Trigger(ctx, inc, nil); err != nil || out != store.Repeated {
				b.Fatal(out, err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "repeats/s")
}

// TestReopenedStoreReusesFreedPages: the freelist is not written to the
// file, so Open finds the free pages itself: a file that freed many pages
// before a restart fills them again after it, instead of growing.
func TestReopenedStoreReusesFreedPages(t *testing.T) {
	dir := t.TempDir()
	size := func() int64 {
		fi, err := os.Stat(filepath.Join(dir, FileName))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	s := open(t, dir)
	fillChurn(t, s, 20000, 500)
	dropChurn(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := size()
	s = open(t, dir)
	if free := s.db.Stats().FreePageN; free < 1000 {
		t.Fatalf("after reopening, %d free pages: the pages freed before the restart were not found", free)
	}
	fillChurn(t, s, 20000, 500)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if after := size(); after > before+before/10 {
		t.Fatalf("the file grew from %d to %d bytes refilling what it had freed", before, after)
	}
}

// TestNoteOfAFloodIsWrittenInParts: a storm's bundle notes thousands of
// incidents; in one transaction every other write, a page's or an
// acknowledgement's, waited for all of it. Each part is at most notesPerTx
// incidents, and every incident is noted once.
func TestNoteOfAFloodIsWrittenInParts(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	const n = 2*notesPerTx + 10
	entries := map[string][]store.Entry{}
	for i := range n {
		inc := newIncident("api", fmt.Sprintf("n%d", i), base, 1)
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		entries[inc.ID] = []store.Entry{{At: base, Type: "bundled", Actor: "pagerd"}}
	}
	before := s.w.commits.Load()
	if err := s.Note(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if commits := s.w.commits.Load() - before; commits < n/notesPerTx+1 {
		t.Fatalf("%d incidents noted in %d transactions, want parts of at most %d", n, commits, notesPerTx)
	}
	for id := range entries {
		tl, err := s.Timeline(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		noted := 0
		for _, e := range tl {
			if e.Type == "bundled" {
				noted++
			}
		}
		if noted != 1 {
			t.Fatalf("incident %s noted %d times", id, noted)
		}
	}
}

// BenchmarkStatuses is a storm flush's look at the statuses of the
// incidents its bundle names (a flood's storm holds hundreds).
func BenchmarkStatuses(b *testing.B) {
	s, ctx := open(b, b.TempDir()), context.Background()
	details := json.RawMessage(`{"labels":{"alertname":"DiskFull","instance":"db-01:9100","job":"node","severity":"critical","mountpoint":"/var/lib/postgresql"},"annotations":{"summary":"Disk /var/lib/postgresql on db-01 is 97% full","description":"Filesystem has less than 3% space left; writes will start failing within the hour.","runbook_url":"https://runbooks.example.com/disk-full"}}`)
	const n = 1000
	ids := make([]string, n)
	for i := range n {
		inc := newIncident("api", fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Millisecond), 3)
		inc.Details = details
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			b.Fatal(err)
		}
		ids[i] = inc.ID
	}
	b.ResetTimer()
	for b.Loop() {
		st, err := s.Statuses(ctx, ids)
		if err != nil || len(st) != n {
			b.Fatal(len(st), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/incident")
}

// TestStatusesReadTheIncidentsOwnStatus: Statuses decodes only the
// incident's status, and a sender's details that hold a "state" or a
// "status" of their own do not stand in for it.
func TestStatusesReadTheIncidentsOwnStatus(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	inc := newIncident("api", "k", base, 1)
	inc.Details = json.RawMessage(`{"status":"resolved","state":{"status":"resolved"},"labels":{"status":"resolved"}}`)
	if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Statuses(ctx, []string{inc.ID})
	if err != nil || got[inc.ID] != policy.StatusTriggered {
		t.Fatalf("Statuses = %v %v, want %s", got, err, policy.StatusTriggered)
	}
}

// TestStatusesReadTheIndexNotTheDocument: an incident's status is read
// from its record in the created index, not its document: a storm's
// flush reads thousands, and each document is read through the map and
// decoded. A document that no longer
// decodes shows it: its status is read all the same.
func TestStatusesReadTheIndexNotTheDocument(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	inc := newIncident("api", "k", base, 1)
	if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketIncidents).Put(idKey(inc.ID), []byte("{")) })
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Statuses(ctx, []string{inc.ID})
	if err != nil || got[inc.ID] != policy.StatusTriggered {
		t.Fatalf("Statuses = %v %v, want %s from the index", got, err, policy.StatusTriggered)
	}
}
