package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/blob"
	"github.com/pagerd/pagerd/policy"
)

// writeFormat1 writes a store as format 1 laid it out (the first embedded
// store): one due entry per deadline, keyed "<due ms><id>/<deadline>", and
// a deadlines bucket "<id>/<deadline>" -> current due ms, original due ms,
// claim token. Incidents, timelines, dedup and the indexes are as today.
func writeFormat1(t *testing.T, dir string, incs []*store.Incident, claimed map[string]string) {
	t.Helper()
	updateFile(t, dir, func(tx *bbolt.Tx) error {
		b := map[string]*bbolt.Bucket{}
		for _, name := range []string{"meta", "incidents", "dedup", "timeline", "due", "deadlines", "created", "open"} {
			bk, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			b[name] = bk
		}
		if err := b["meta"].Put([]byte("format"), []byte("1")); err != nil {
			return err
		}
		for _, inc := range incs {
			rec := stored(inc)
			rec.Version = 1
			doc, _ := json.Marshal(rec)
			if err := b["incidents"].Put([]byte(inc.ID), doc); err != nil {
				return err
			}
			if err := b["dedup"].Put(dedupKey(inc.Service, inc.DedupKey), []byte(inc.ID)); err != nil {
				return err
			}
			key := concat(timeKey(inc.CreatedAt.UnixMilli()), []byte(inc.ID))
			if err := b["created"].Put(key, indexRecord(&rec)); err != nil {
				return err
			}
			if rec.Open() {
				if err := b["open"].Put(key, indexRecord(&rec)); err != nil {
					return err
				}
			}
			tl, err := b["timeline"].CreateBucket([]byte(inc.ID))
			if err != nil {
				return err
			}
			e, _ := json.Marshal(store.Entry{At: inc.CreatedAt, Type: "trigger", Detail: "format 1"})
			if err := tl.Put([]byte{0, 0, 0, 0, 0, 0, 0, 1}, e); err != nil {
				return err
			}
			for _, d := range inc.State.Pending {
				m := []byte(inc.ID + "/" + d.ID)
				at, tok := d.At.UnixMilli(), claimed[string(m)]
				cur := at
				if tok != "" {
					cur = at + 30_000 // the lease end
				}
				if err := b["due"].Put(concat(timeKey(cur), m), []byte{}); err != nil {
					return err
				}
				if err := b["deadlines"].Put(m, concat(timeKey(cur), timeKey(at), []byte(tok))); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// updateFile runs fn in a write transaction on the store file in dir,
// opened as bbolt's own, as an older pagerd or a crash left it.
func updateFile(t *testing.T, dir string, fn func(*bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// A format 1 store is upgraded in place when it is opened: every incident,
// its timeline and its pending steps survive, each incident gets its one due
// entry at its earliest pending deadline, and the old buckets are gone. A
// claim in flight under format 1 is not carried over: that step is due again.
func TestFormat1Upgraded(t *testing.T) {
	dir, ctx := t.TempDir(), context.Background()
	open1 := newIncident("api", "g1", base, 3)
	claimed := newIncident("api", "g2", base.Add(time.Second), 2)
	resolved := newIncident("api", "g3", base.Add(2*time.Second), 0)
	resolved.State.Status, resolved.State.ResolvedAt = policy.StatusResolved, base.Add(time.Minute)
	incs := []*store.Incident{open1, claimed, resolved}
	writeFormat1(t, dir, incs, map[string]string{claimed.ID + "/" + claimed.State.Pending[0].ID: "tok"})

	s := open(t, dir)
	if got := s.UpgradedFrom(); got != 1 {
		t.Fatalf("UpgradedFrom %d, want 1", got)
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket([]byte("deadlines")) != nil {
			t.Error("the format 1 deadlines bucket is still there")
		}
		if v := tx.Bucket(bucketMeta).Get(keyFormat); string(v) != format {
			t.Errorf("format %q after the upgrade, want %s", v, format)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkSched(t, s)
	for _, want := range incs {
		got, err := s.Get(ctx, want.ID)
		if err != nil {
			t.Fatalf("incident %s after the upgrade: %v", want.ID, err)
		}
		w := stored(want)
		w.Version = 1
		if !reflect.DeepEqual(got.State, w.State) || got.DedupKey != w.DedupKey {
			t.Errorf("incident %s changed in the upgrade:\n got %+v\nwant %+v", want.ID, got.State, w.State)
		}
		tl, err := s.Timeline(ctx, want.ID)
		if err != nil || len(tl) != 1 || tl[0].Detail != "format 1" {
			t.Errorf("timeline of %s after the upgrade: %+v %v", want.ID, tl, err)
		}
	}
	if next, ok, err := s.NextDue(ctx); err != nil || !ok || !next.Equal(base) {
		t.Fatalf("NextDue %v %v %v, want %v", next, ok, err, base)
	}
	// Both open incidents' first steps come due, the one claimed under
	// format 1 included; the resolved one has nothing pending.
	claims, err := s.ClaimDue(ctx, base.Add(time.Second), time.Minute, 10)
	if err != nil || len(claims) != 2 || claims[0].Incident != open1.ID || claims[1].Incident != claimed.ID {
		t.Fatalf("claims after the upgrade: %+v %v", claims, err)
	}
	// Found by dedup key, listed from the indexes.
	if inc, err := s.FindByDedup(ctx, "api", "g2"); err != nil || inc.ID != claimed.ID {
		t.Fatalf("FindByDedup after the upgrade: %v %v", inc, err)
	}
	if l, err := s.List(ctx, store.Filter{Status: policy.StatusTriggered}); err != nil || len(l) != 2 {
		t.Fatalf("List after the upgrade: %d %v", len(l), err)
	}
	s.Close()
	// Opening it again is a plain open.
	if s2 := open(t, dir); s2.UpgradedFrom() != 0 {
		t.Fatalf("second open reports an upgrade from %d", s2.UpgradedFrom())
	}
}

// A store written by a newer pagerd, or one whose format record is not a
// number pagerd writes, is refused with a message that says what to do,
// and left exactly as it was.
func TestNewerOrUnknownFormatRefused(t *testing.T) {
	for _, tc := range []struct{ stored, want string }{
		{"5", "store format 5, this pagerd reads format 4 and older: run the newer pagerd, or restore a backup taken before the upgrade"},
		{"17", "store format 17"},
		{"two", `stored format "two" is not one pagerd writes`},
		{"0", `stored format "0" is not one pagerd writes`},
	} {
		t.Run(tc.stored, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			if _, _, err := s.Trigger(context.Background(), newIncident("api", "g1", base, 1), nil); err != nil {
				t.Fatal(err)
			}
			if err := s.db.Update(func(tx *bbolt.Tx) error {
				return tx.Bucket(bucketMeta).Put(keyFormat, []byte(tc.stored))
			}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s2, err := Open(dir)
			if err == nil {
				s2.Close()
				t.Fatalf("opened a store of format %q", tc.stored)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if newer := tc.stored == "5" || tc.stored == "17"; errors.Is(err, ErrNewerFormat) != newer {
				t.Fatalf("errors.Is(err, ErrNewerFormat) = %v for format %q", !newer, tc.stored)
			}
			info, err := Inspect(filepath.Join(dir, FileName))
			if err == nil || info.Format != 0 {
				t.Fatalf("Inspect of format %q: %+v %v", tc.stored, info, err)
			}
			// Untouched: the format record is still the newer one.
			db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, &bbolt.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			_ = db.View(func(tx *bbolt.Tx) error {
				if v := tx.Bucket(bucketMeta).Get(keyFormat); string(v) != tc.stored {
					t.Errorf("format record %q after the refused open, want %q", v, tc.stored)
				}
				return nil
			})
		})
	}
}

// toFormat2 lays a store of the current format out as format 2 did: the
// buckets kept by incident (incidents, timeline, sched) keyed by the
// incident's id, as it sorts (shard first), the incidents' documents plain
// JSON, and the format record 2.
func toFormat2(t *testing.T, s *Store) {
	t.Helper()
	idOf := func(k []byte) []byte { // idKey undone
		n := len(k) - 2
		return concat(k[n:], []byte("-"), k[:n])
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketIncidents, bucketSched, bucketTimeline} {
			b := tx.Bucket(name)
			var keys [][]byte
			_ = b.ForEach(func(k, _ []byte) error {
				if !strings.Contains(string(k), ":") {
					keys = append(keys, bytes.Clone(k))
				}
				return nil
			})
			for _, k := range keys {
				if name := string(name); name != "timeline" {
					v := bytes.Clone(b.Get(k))
					if name == "incidents" { // plain JSON, as format 3 and older wrote
						var err error
						if v, err = blob.Unpack(v); err != nil {
							return err
						}
					}
					if err := b.Put(idOf(k), v); err != nil {
						return err
					}
					if err := b.Delete(k); err != nil {
						return err
					}
					continue
				}
				from := b.Bucket(k)
				to, err := b.CreateBucket(idOf(k))
				if err != nil {
					return err
				}
				if err := from.ForEach(to.Put); err != nil {
					return err
				}
				if err := to.SetSequence(from.Sequence()); err != nil {
					return err
				}
				if err := b.DeleteBucket(k); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bucketMeta).Put(keyFormat, []byte("2"))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A format 2 store is upgraded in place when it is opened: its incidents,
// their timelines (and where each goes on), their due entries, a claim in
// flight and the sched entries of a storm and a job are all where the
// store finds them, under the keys of format 3. Before the upgrade, the
// commands that read a stopped pagerd's store refuse it, and Inspect
// counts it.
func TestFormat2Upgraded(t *testing.T) {
	defer func(n int) { movesPerTx = n }(movesPerTx)
	movesPerTx = 7 // the 40 incidents in 6 transactions
	t.Run("whole", func(t *testing.T) { testFormat2Upgraded(t, false) })
	t.Run("stopped", func(t *testing.T) { testFormat2Upgraded(t, true) })
}

// stopMoves leaves the store in dir as a crash in finishMoves would: the
// format record 3, marked as moving, the first n incidents moved.
func stopMoves(t *testing.T, dir string, n int) {
	t.Helper()
	updateFile(t, dir, func(tx *bbolt.Tx) error {
		if _, err := checkFormat(tx); err != nil {
			return err
		}
		for _, k := range keysToMove(tx.Bucket(bucketIncidents))[:n] {
			if err := moveIncident(tx, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// testFormat2Upgraded is TestFormat2Upgraded, with the upgrade stopped
// after a part of its moves first when stopped.
func testFormat2Upgraded(t *testing.T, stopped bool) {
	dir, ctx := t.TempDir(), context.Background()
	s := open(t, dir)
	var incs []*store.Incident
	for i := range 40 { // over the shards, several in some
		inc := newIncident("api", fmt.Sprintf("g%d", i), base.Add(time.Duration(i)*time.Second), 3)
		if i%4 == 3 {
			inc.State.Status, inc.State.ResolvedAt, inc.State.Pending = policy.StatusResolved, base.Add(time.Hour), nil
		}
		tl := []store.Entry{{At: inc.CreatedAt, Type: "trigger", Detail: "first"}, {At: inc.CreatedAt, Type: "notify", Detail: "second"}}
		if _, out, err := s.Trigger(ctx, inc, tl); err != nil || out != store.Created {
			t.Fatal(out, err)
		}
		incs = append(incs, inc)
	}
	claims, err := s.ClaimDue(ctx, base, time.Minute, 1)
	if err != nil || len(claims) != 1 || claims[0].Incident != incs[0].ID {
		t.Fatalf("claim before the upgrade: %+v %v", claims, err)
	}
	if err := s.PutJob(ctx, store.Job{Kind: "digest", Key: "team", Due: base.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	rules := store.StormRules{Window: time.Minute, Immediate: 1} // the second page held, the storm due
	for i, inc := range incs[1:3] {
		if a, err := s.Admit(ctx, "alice/sms", store.HeldPage{Incident: inc.ID, Deadline: "0001.000001.notify"}, base, rules); err != nil || a.Send != (i == 0) {
			t.Fatal(a, err)
		}
	}
	toFormat2(t, s)
	s.Close()

	if _, err := OpenReadOnly(dir); err == nil || !strings.Contains(err.Error(), "store format 2 was written by an older pagerd: run pagerd serve on it once") {
		t.Fatalf("OpenReadOnly of format 2: %v, want a refusal that says what to do", err)
	}
	info, err := Inspect(filepath.Join(dir, FileName))
	if err != nil || info.Format != 2 || info.Incidents != 40 || info.Open != 30 || info.Pending != 30 {
		t.Fatalf("Inspect of format 2: %+v %v", info, err)
	}
	if stopped {
		stopMoves(t, dir, 11)
		if _, err := OpenReadOnly(dir); err == nil || !strings.Contains(err.Error(), "the upgrade of this store to format 4 was stopped before it finished: run pagerd serve on it once") {
			t.Fatalf("OpenReadOnly of a store half moved: %v, want a refusal that says what to do", err)
		}
		info, err := Inspect(filepath.Join(dir, FileName))
		if err != nil || info.Format != Format() || info.Incidents != 40 || info.Open != 30 {
			t.Fatalf("Inspect of a store half moved: %+v %v", info, err)
		}
	}

	// The moves are said in the log: pagerd serves nothing meanwhile.
	var logs bytes.Buffer
	s, err = OpenLogged(dir, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	left := 40
	if stopped {
		left -= 11
	}
	for _, want := range []string{
		fmt.Sprintf(`msg="store upgrading to format 3: moving every incident to its new key before serving" incidents=%d`, left),
		fmt.Sprintf(`msg="store upgraded to format 3: incidents moved" incidents=%d took=`, left),
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs.String())
		}
	}
	if got := s.UpgradedFrom(); got != 2 {
		t.Fatalf("UpgradedFrom %d, want 2", got)
	}
	checkSched(t, s)
	err = s.db.View(func(tx *bbolt.Tx) error {
		if moving(tx) {
			t.Error("the store is still marked as moving")
		}
		for _, name := range [][]byte{bucketIncidents, bucketSched, bucketTimeline} {
			_ = tx.Bucket(name).ForEach(func(k, _ []byte) error {
				if movable(string(k)) {
					t.Errorf("bucket %s still has the format 2 key %s", name, k)
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range incs {
		got, err := s.Get(ctx, want.ID)
		if err != nil {
			t.Fatalf("incident %s after the upgrade: %v", want.ID, err)
		}
		if !reflect.DeepEqual(got.State, want.State) || got.DedupKey != want.DedupKey {
			t.Errorf("incident %s changed in the upgrade:\n got %+v\nwant %+v", want.ID, got.State, want.State)
		}
		if inc, err := s.FindByDedup(ctx, "api", want.DedupKey); err != nil || inc.ID != want.ID {
			t.Fatalf("FindByDedup %s after the upgrade: %v %v", want.DedupKey, inc, err)
		}
	}
	// A timeline goes on after its last entry.
	if err := s.Note(ctx, map[string][]store.Entry{incs[5].ID: {{At: base, Type: "note", Detail: "third"}}}); err != nil {
		t.Fatal(err)
	}
	tl, err := s.Timeline(ctx, incs[5].ID)
	if err != nil || len(tl) != 3 || tl[0].Detail != "first" || tl[1].Detail != "second" || tl[2].Detail != "third" {
		t.Fatalf("timeline after the upgrade and a note: %+v %v", tl, err)
	}
	// The claim made under format 2 is still held: its step is not due
	// to anyone else before its lease ends, and it completes.
	if next, err := s.ClaimDue(ctx, base.Add(50*time.Second), time.Minute, 100); err != nil || len(next) != 29 {
		t.Fatalf("claims after the upgrade: %d %v, want the 29 other open incidents", len(next), err)
	} else {
		for _, c := range next {
			if c.Incident == incs[0].ID {
				t.Fatalf("the incident claimed before the upgrade was claimed again: %+v", c)
			}
		}
	}
	if err := s.Complete(ctx, claims[0]); err != nil {
		t.Fatal(err)
	}
	// The job and the storm are due where they were.
	later, err := s.ClaimDue(ctx, base.Add(3*time.Hour), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	var job, storm, first bool
	for _, c := range later {
		job = job || c.Job != nil && c.Job.Kind == "digest"
		storm = storm || c.Storm == "alice/sms"
		first = first || c.Incident == incs[0].ID
	}
	if !job || !storm || !first {
		t.Fatalf("after the upgrade: job due %v, storm due %v, the completed incident due %v; claims %+v", job, storm, first, later)
	}
	// Retention removes an upgraded incident, its timeline included.
	if n, _, err := s.Expire(ctx, base.Add(2*time.Hour), 100); err != nil || n != 10 {
		t.Fatalf("Expire after the upgrade: %d %v, want the 10 resolved", n, err)
	}
	if _, err := s.Timeline(ctx, incs[3].ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("timeline of an expired incident: %v", err)
	}
	s.Close()
	if s2 := open(t, dir); s2.UpgradedFrom() != 0 {
		t.Fatalf("second open reports an upgrade from %d", s2.UpgradedFrom())
	}
}

// TestIncidentDocumentsPacked: an incident's stored document is packed
// (blob: S2 with the dictionary, about a third of its JSON here), when
// it is made and when it is written again, and reads back the same.
func TestIncidentDocumentsPacked(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	inc := newIncident("api", "g1", base, 3)
	inc.Details = json.RawMessage(`{"labels":{"alertname":"DiskFull","instance":"db1.example.com:9100","job":"node","severity":"critical"},"annotations":{"summary":"Disk almost full on db1","description":"Only 2% of /var is left."}}`)
	if _, out, err := s.Trigger(ctx, inc, nil); err != nil || out != store.Created {
		t.Fatal(out, err)
	}
	stored := func() []byte {
		var v []byte
		_ = s.db.View(func(tx *bbolt.Tx) error {
			v = bytes.Clone(tx.Bucket(bucketIncidents).Get(idKey(inc.ID)))
			return nil
		})
		return v
	}
	check := func(when string) *store.Incident {
		t.Helper()
		v := stored()
		j, err := blob.Unpack(v)
		if err != nil || len(v) == 0 || v[0] == '{' || 2*len(v) > len(j) {
			t.Fatalf("%s: stored %d bytes (first %q) for %d of JSON (%v): not packed", when, len(v), v[:1], len(j), err)
		}
		got, err := s.Get(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := check("made"); got.Summary != inc.Summary || string(got.Details) != string(inc.Details) {
		t.Fatalf("read back %+v", got)
	}
	got := check("made")
	got.State.Status = policy.StatusAcknowledged
	if err := s.Update(ctx, got, nil); err != nil {
		t.Fatal(err)
	}
	if got := check("written again"); got.State.Status != policy.StatusAcknowledged {
		t.Fatalf("read back %+v", got)
	}
}

// TestFormat3Read: format 3's plain JSON documents are read as they are:
// pagerd report reads a format 3 store without an upgrade, and Open
// upgrades it to format 4 by its format record alone; a document written
// again is packed.
func TestFormat3Read(t *testing.T) {
	dir, ctx := t.TempDir(), context.Background()
	s := open(t, dir)
	inc := newIncident("api", "g1", base, 3)
	if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	updateFile(t, dir, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketIncidents)
		j, err := blob.Unpack(bytes.Clone(b.Get(idKey(inc.ID))))
		if err != nil {
			return err
		}
		if err := b.Put(idKey(inc.ID), j); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyFormat, []byte("3"))
	})
	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatalf("OpenReadOnly of format 3: %v", err)
	}
	if got, err := ro.Get(ctx, inc.ID); err != nil || got.Summary != inc.Summary {
		t.Fatalf("read from format 3: %+v %v", got, err)
	}
	ro.Close()
	s = open(t, dir)
	if f := s.UpgradedFrom(); f != 3 {
		t.Fatalf("upgraded from %d, want 3", f)
	}
	got, err := s.Get(ctx, inc.ID)
	if err != nil || got.Summary != inc.Summary {
		t.Fatalf("read after the upgrade: %+v %v", got, err)
	}
	got.State.Status = policy.StatusAcknowledged
	if err := s.Update(ctx, got, nil); err != nil {
		t.Fatal(err)
	}
	_ = s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketIncidents).Get(idKey(inc.ID)); len(v) == 0 || v[0] == '{' {
			t.Errorf("written again after the upgrade: %.20q, want it packed", v)
		}
		if f, _ := storedFormat(tx); f != 4 {
			t.Errorf("format record %d, want 4", f)
		}
		return nil
	})
}
