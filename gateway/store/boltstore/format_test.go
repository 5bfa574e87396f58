package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// writeFormat1 writes a store as format 1 laid it out (the first embedded
// store): one due entry per deadline, keyed "<due ms><id>/<deadline>", and
// a deadlines bucket "<id>/<deadline>" -> current due ms, original due ms,
// claim token. Incidents, timelines, dedup and the indexes are as today.
func writeFormat1(t *testing.T, dir string, incs []*store.Incident, claimed map[string]string) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
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
	if err != nil {
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
		{"3", "store format 3, this pagerd reads format 2 and older: run the newer pagerd, or restore a backup taken before the upgrade"},
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
			if newer := tc.stored == "3" || tc.stored == "17"; errors.Is(err, ErrNewerFormat) != newer {
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
