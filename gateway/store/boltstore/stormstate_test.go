package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
)

// storedStorm is the storm's state as stored and as json.Unmarshal decodes
// it.
func storedStorm(t *testing.T, s *Store, key string) ([]byte, store.StormState) {
	t.Helper()
	var v []byte
	if err := s.db.View(func(tx *bbolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bucketStorms).Get([]byte(key)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st := store.NewStormState()
	if err := json.Unmarshal(v, &st); err != nil {
		t.Fatalf("decode %s: %v", v, err)
	}
	return v, st
}

// The state kept of a storm is what decoding the bytes written gives,
// through every write of a storm's life, with times from the wall clock
// in a zone other than UTC (a monotonic reading, an offset).
func TestKeptStormStateIsWhatDecodingGives(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	now := time.Now().In(time.FixedZone("here", 2*3600))
	r := store.StormRules{Window: 10 * time.Second, Immediate: 2}
	key := store.StormKey("ann", "push")
	check := func(when string) {
		t.Helper()
		v, want := storedStorm(t, s, key)
		got, ok := s.storms.kept(key, v)
		if !ok {
			t.Fatalf("%s: no state kept for the bytes stored", when)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: kept %+v\ndecoded %+v", when, got, want)
		}
	}
	page := func(i int) store.HeldPage {
		return store.HeldPage{Incident: fmt.Sprintf("i%d", i), Deadline: "1.1", Service: "api", Priority: "P1", Rank: i % 3, Summary: "s", Due: now}
	}
	for i := range 5 {
		if _, err := s.Admit(ctx, key, page(i), now.Add(time.Duration(i)*time.Millisecond), r); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("Admit %d", i))
	}
	if err := s.Unsent(ctx, key, 1, now.Add(r.Window), false); err != nil {
		t.Fatal(err)
	}
	check("Unsent")
	if _, err := s.SentBack(ctx, key, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	check("SentBack")
	if _, err := s.HoldFailed(ctx, key, page(9), now.Add(2*time.Second), r); err != nil {
		t.Fatal(err)
	}
	check("HoldFailed")
	cs, err := s.ClaimDue(ctx, now.Add(time.Hour), 5*time.Second, 10)
	if err != nil || len(cs) != 1 || cs[0].Storm != key {
		t.Fatalf("claims %+v, %v", cs, err)
	}
	if ok, err := s.Flushed(ctx, cs[0], 4, 0, now.Add(r.Window), r); err != nil || !ok {
		t.Fatalf("Flushed: %v, %v", ok, err)
	}
	check("Flushed")
}

// A storm's state is read from what this process kept when it wrote it,
// not decoded again, while the stored bytes are the ones kept; other
// bytes are decoded.
func TestKeptStormStateIsReadOnlyForItsBytes(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	now := time.Now().UTC()
	r := store.StormRules{Window: time.Minute, Immediate: 1}
	key := store.StormKey("ann", "push")
	admit := func(i int) {
		t.Helper()
		p := store.HeldPage{Incident: fmt.Sprintf("i%d", i), Deadline: "1.1", Service: "api", Priority: "P1", Rank: 1, Summary: "s", Due: now}
		if _, err := s.Admit(ctx, key, p, now.Add(time.Duration(i)*time.Millisecond), r); err != nil {
			t.Fatal(err)
		}
	}
	admit(0)
	admit(1) // held
	// What is kept is taken: marked, the mark is in the next write.
	s.storms.mu.Lock()
	s.storms.m[key].st.Held = 100
	s.storms.mu.Unlock()
	admit(2)
	if _, st := storedStorm(t, s, key); st.Held != 101 {
		t.Fatalf("held %d after a page held over a kept state of 100: the state was decoded, not taken", st.Held)
	}
	// Bytes written another way are decoded.
	v, st := storedStorm(t, s, key)
	st.Held = 7
	other, err := json.Marshal(st)
	if err != nil || bytes.Equal(other, v) {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketStorms).Put([]byte(key), other) }); err != nil {
		t.Fatal(err)
	}
	admit(3)
	if _, st := storedStorm(t, s, key); st.Held != 8 {
		t.Fatalf("held %d after a page held over a stored state of 7 the store did not write, want 8", st.Held)
	}
}
