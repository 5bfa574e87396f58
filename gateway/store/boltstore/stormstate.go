package boltstore

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
	"unicode/utf8"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
)

// A storm's state is read and written again by every page of it that
// Admit answers: in a flood every alert pages the one person on call,
// and decoding the state (json.Unmarshal, reflection, its times parsed)
// was half of Admit's time inside the one writer
// (BenchmarkAdmitConcurrent), the state most often the one this process
// wrote a moment before. So the state of each storm this process writes
// is kept with the bytes written, and a read whose stored bytes are
// those takes a copy of it. Bytes written since by any other way (a
// rolling upgrade's other replica cannot share the file; a commit rolled
// back and another state stored) are not those bytes, and are decoded
// as before. The state is written with its times at UTC, so that what
// is kept is what decoding gives: the same instants, without a monotonic
// reading or a zone.

// keptStorms bounds the storms whose state is kept: one a person and
// channel in a storm, so a few; past it they are all dropped.
const keptStorms = 1024

// stormDoc is a storm state this process wrote and the bytes written.
type stormDoc struct {
	doc []byte
	st  store.StormState
}

// stormStates is the states kept, by storm key.
type stormStates struct {
	mu sync.Mutex
	m  map[string]*stormDoc
}

func (k *stormStates) keep(key string, d *stormDoc) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.m[key]; !ok && len(k.m) >= keptStorms {
		clear(k.m)
	}
	if k.m == nil {
		k.m = make(map[string]*stormDoc)
	}
	k.m[key] = d
}

func (k *stormStates) drop(key string) {
	if k == nil {
		return
	}
	k.mu.Lock()
	delete(k.m, key)
	k.mu.Unlock()
}

// kept is a copy of the state kept for key if doc is the bytes it was
// kept with.
func (k *stormStates) kept(key string, doc []byte) (store.StormState, bool) {
	if k == nil {
		return store.StormState{}, false
	}
	k.mu.Lock()
	d, ok := k.m[key]
	k.mu.Unlock()
	if !ok || !bytes.Equal(d.doc, doc) {
		return store.StormState{}, false
	}
	return copyStorm(d.st), true
}

// copyStorm is st with nothing shared: StormState's methods change its
// slices and its answer in place.
func copyStorm(st store.StormState) store.StormState {
	st.Ranks, st.NextRanks = slices.Clone(st.Ranks), slices.Clone(st.NextRanks)
	if st.Answer != nil {
		a := *st.Answer
		st.Answer = &a
	}
	return st
}

// canonicalStorm is st as decoding its JSON gives it back: times at UTC
// (which drops the monotonic reading), empty slices nil (omitempty). ok
// is false when decoding would not give its strings back (not UTF-8:
// the JSON holds U+FFFD).
func canonicalStorm(st store.StormState) (_ store.StormState, ok bool) {
	st = copyStorm(st)
	st.End, st.SentBackAt, st.SentBackEnd = st.End.UTC(), st.SentBackAt.UTC(), st.SentBackEnd.UTC()
	if len(st.Ranks) == 0 {
		st.Ranks = nil
	}
	if len(st.NextRanks) == 0 {
		st.NextRanks = nil
	}
	if st.Answer != nil {
		st.Answer.Until = st.Answer.Until.UTC()
	}
	return st, utf8.ValidString(st.Asked) && utf8.ValidString(st.FlushedBy)
}

func (s *Store) readStorm(tx *bbolt.Tx, key string) (store.StormState, error) {
	v := tx.Bucket(bucketStorms).Get([]byte(key))
	if v == nil {
		return store.NewStormState(), nil
	}
	if st, ok := s.storms.kept(key, v); ok {
		return st, nil
	}
	st := store.NewStormState()
	if err := json.Unmarshal(v, &st); err != nil {
		return st, plain("decode storm %s: %w", key, err)
	}
	return st, nil
}

// putStorm writes st, its times at UTC, and keeps it (above).
func (s *Store) putStorm(tx *bbolt.Tx, key string, st store.StormState) error {
	st, keep := canonicalStorm(st)
	v, err := json.Marshal(st)
	if err != nil {
		return plain("encode storm %s: %w", key, err)
	}
	if err := tx.Bucket(bucketStorms).Put([]byte(key), v); err != nil {
		return err
	}
	if keep {
		s.storms.keep(key, &stormDoc{doc: v, st: st})
	} else {
		s.storms.drop(key)
	}
	return nil
}
