package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
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

// encodeStorm writes what json.Marshal writes, byte for byte, for states
// as putStorm has them (times at UTC) and any other, the strings it
// leaves to json.Marshal included; a state as Admit writes it takes one
// allocation, the bytes written (json.Marshal took 5).
func TestEncodeStormIsJSONMarshal(t *testing.T) {
	now := time.Now().UTC()
	admitted := store.StormState{End: now, Sent: 3, Top: 1, Next: store.NoRank, Held: 4000, Opened: store.NoRank, Ranks: []int{1, 1, 2},
		Asked:  store.AskedKey(store.HeldPage{Incident: "0a-x1", Deadline: "0001.000002.notify"}, now),
		Answer: &store.Admission{Until: now}}
	if n := testing.AllocsPerRun(100, func() { _, _ = encodeStorm(&admitted) }); n != 1 {
		t.Errorf("encoding a storm's state as Admit writes it: %.0f allocations, want 1", n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "0a-x1\x00" + "0001.000002.notify\x00" + "1733470000123", "abc123", "a<b>&c", "é", "\"q\"\\", "tab\there", "\x01", "\u2028", "bad\xffutf8"}
	times := []time.Time{{}, now, now.Truncate(time.Second), now.Add(123 * time.Nanosecond), now.In(time.FixedZone("x", 3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), now.Round(0)}
	ints := [][]int{nil, {}, {0}, {1, -1, store.NoRank, 3}}
	for i := range 3000 {
		st := store.StormState{End: times[rng.IntN(len(times))], Sent: rng.IntN(5), Top: rng.IntN(4) - 1, Next: store.NoRank,
			Held: rng.IntN(100000), Opened: rng.IntN(3), Ranks: ints[rng.IntN(len(ints))], NextRanks: ints[rng.IntN(len(ints))],
			SentBackAt: times[rng.IntN(len(times))], SentBackEnd: times[rng.IntN(len(times))],
			FlushedBy: strs[rng.IntN(len(strs))], Asked: strs[rng.IntN(len(strs))]}
		if rng.IntN(3) > 0 {
			st.Answer = &store.Admission{Send: rng.IntN(2) == 0, Listed: rng.IntN(2) == 0, Acknowledged: rng.IntN(2) == 0,
				Until: times[rng.IntN(len(times))], Closing: rng.IntN(2) == 0}
		}
		for _, s := range []store.StormState{st, func() store.StormState { c, _ := canonicalStorm(st); return c }()} {
			want, wantErr := json.Marshal(s)
			got, err := encodeStorm(&s)
			if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
				t.Fatalf("state %d %+v:\n got %s (%v)\nwant %s (%v)", i, s, got, err, want, wantErr)
			}
		}
	}
}

// TestEncodeStormWritesEveryField: encodeStorm and copyStorm name
// StormState's fields (and Admission's) one by one. A field added to
// either and not to them would be dropped from every storm the embedded
// store writes, or shared between the state kept and the one handed out:
// here every field, found by reflection, holds a value that is not its
// zero, so a field either leaves out makes the bytes differ from
// json.Marshal's or the copy share with what was kept.
func TestEncodeStormWritesEveryField(t *testing.T) {
	now := time.Now().UTC()
	var fill func(v reflect.Value, path string)
	fill = func(v reflect.Value, path string) {
		for i := range v.NumField() {
			f, name := v.Field(i), path+v.Type().Field(i).Name
			switch {
			case f.Type() == reflect.TypeFor[time.Time]():
				f.Set(reflect.ValueOf(now.Add(time.Duration(i) * time.Second)))
			case f.Kind() == reflect.Int:
				f.SetInt(int64(10 + i))
			case f.Kind() == reflect.Bool:
				f.SetBool(true)
			case f.Kind() == reflect.String:
				f.SetString("s" + strconv.Itoa(i))
			case f.Type() == reflect.TypeFor[[]int]():
				f.Set(reflect.ValueOf([]int{i, i + 1}))
			case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct:
				f.Set(reflect.New(f.Type().Elem()))
				fill(f.Elem(), name+".")
			default:
				t.Fatalf("%s is a %s, which this test cannot fill: teach it, encodeStorm and copyStorm the new field", name, f.Type())
			}
		}
	}
	var st store.StormState
	fill(reflect.ValueOf(&st).Elem(), "")
	want, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := encodeStorm(&st)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("encodeStorm of a state with every field set:\n got %s (%v)\nwant %s", got, err, want)
	}
	c := copyStorm(st)
	if !reflect.DeepEqual(c, st) {
		t.Fatalf("copyStorm: %+v, want %+v", c, st)
	}
	c.Ranks[0], c.NextRanks[0], c.Answer.Send = -5, -5, false
	if st.Ranks[0] == -5 || st.NextRanks[0] == -5 || !st.Answer.Send {
		t.Fatal("copyStorm's copy shares its slices or its answer with the state it copied")
	}
}

// The state putStorm keeps is what decoding the bytes it writes gives,
// for random states beyond those a storm's life writes: times in any zone
// (a wall clock's with its monotonic reading, fixed offsets, a zone named
// UTC that is not time.UTC, the years json.Marshal writes and those it
// refuses), ranks nil, empty and long, strings of any bytes. A state kept
// that decoding would not give back is read in place of the stored one
// for as long as its bytes stay on disk.
func TestKeptStormStateIsWhatDecodingGivesForAnyState(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	zones := []*time.Location{time.UTC, time.FixedZone("a", 3600), time.FixedZone("b", -7*3600-1800), time.FixedZone("UTC", 0), time.Local}
	someTime := func() time.Time {
		switch rng.IntN(5) {
		case 0:
			return time.Time{}
		case 1:
			return time.Now()
		case 2:
			return time.Date(rng.IntN(10002)-1, 1, 1, 0, 0, 0, rng.IntN(1e9), zones[rng.IntN(len(zones))])
		}
		return time.UnixMilli(rng.Int64N(1 << 42)).Add(time.Duration(rng.IntN(1e6))).In(zones[rng.IntN(len(zones))])
	}
	someString := func() string {
		b := make([]byte, rng.IntN(6))
		for i := range b {
			if b[i] = byte(0x20 + rng.IntN(0x60)); rng.IntN(3) == 0 {
				b[i] = byte(rng.IntN(256))
			}
		}
		return string(b)
	}
	someRanks := func() []int {
		if n := rng.IntN(4); n < 2 {
			return [][]int{nil, {}}[n]
		}
		v := make([]int, 1+rng.IntN(4))
		for i := range v {
			v[i] = int(rng.Int64()) >> rng.IntN(64)
		}
		return v
	}
	kept := 0
	for i := range 20000 {
		st := store.StormState{End: someTime(), Sent: rng.IntN(9), Top: rng.IntN(5) - 2, Next: store.NoRank, Held: rng.IntN(9), Opened: rng.IntN(4),
			Ranks: someRanks(), NextRanks: someRanks(), SentBackAt: someTime(), SentBackEnd: someTime(), FlushedBy: someString(), Asked: someString()}
		if rng.IntN(2) == 0 {
			st.Answer = &store.Admission{Send: rng.IntN(2) == 0, Listed: rng.IntN(2) == 0, Acknowledged: rng.IntN(2) == 0, Until: someTime(), Closing: rng.IntN(2) == 0}
		}
		c, keep := canonicalStorm(st)
		v, err := encodeStorm(&c)
		if err != nil || !keep {
			continue
		}
		kept++
		got := store.NewStormState()
		if err := json.Unmarshal(v, &got); err != nil {
			t.Fatalf("state %d: decode %s: %v", i, v, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("state %d %+v:\nkept    %#v\ndecoded %#v\nbytes   %s", i, st, c, got, v)
		}
	}
	if kept < 1000 {
		t.Fatalf("only %d of the states were kept", kept)
	}
}
