package boltstore

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"
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
// those takes a copy of it. Other bytes (the batch that wrote the state
// rolled back, the state before a restart) are decoded as before. The state is written with its times at UTC, so that what
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
	v, err := encodeStorm(&st)
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

// encodeStorm is json.Marshal(st), byte for byte, written by hand: st is
// encoded by every page Admit answers, inside the one writer, where
// json.Marshal's reflection was a fifth of Admit's time once the state
// was no longer decoded (BenchmarkAdmitConcurrent). st's times are at
// UTC (canonicalStorm). A string that is not plain ASCII (other than the
// NULs that separate AskedKey's parts), or a time json.Marshal refuses,
// is left to json.Marshal, which escapes or refuses it.
func encodeStorm(st *store.StormState) ([]byte, error) {
	if !plainJSON(st.FlushedBy) || !plainJSON(st.Asked) || !utcJSONTime(st.End) || !utcJSONTime(st.SentBackAt) ||
		!utcJSONTime(st.SentBackEnd) || st.Answer != nil && !utcJSONTime(st.Answer.Until) {
		return json.Marshal(st)
	}
	b := make([]byte, 0, 384+len(st.Asked)+len(st.FlushedBy))
	b = append(b, `{"end":`...)
	b = appendStormTime(b, st.End)
	b = append(b, `,"sent":`...)
	b = strconv.AppendInt(b, int64(st.Sent), 10)
	b = append(b, `,"top":`...)
	b = strconv.AppendInt(b, int64(st.Top), 10)
	b = append(b, `,"next":`...)
	b = strconv.AppendInt(b, int64(st.Next), 10)
	b = append(b, `,"held":`...)
	b = strconv.AppendInt(b, int64(st.Held), 10)
	b = append(b, `,"opened":`...)
	b = strconv.AppendInt(b, int64(st.Opened), 10)
	b = appendInts(b, `,"ranks":`, st.Ranks)
	b = appendInts(b, `,"next_ranks":`, st.NextRanks)
	if !st.SentBackAt.IsZero() {
		b = appendStormTime(append(b, `,"sent_back_at":`...), st.SentBackAt)
	}
	if !st.SentBackEnd.IsZero() {
		b = appendStormTime(append(b, `,"sent_back_end":`...), st.SentBackEnd)
	}
	if st.FlushedBy != "" {
		b = appendPlainString(append(b, `,"flushed_by":`...), st.FlushedBy)
	}
	if st.Asked != "" {
		b = appendPlainString(append(b, `,"asked":`...), st.Asked)
	}
	if a := st.Answer; a != nil {
		b = append(b, `,"answer":{"Send":`...)
		b = strconv.AppendBool(b, a.Send)
		b = append(b, `,"Listed":`...)
		b = strconv.AppendBool(b, a.Listed)
		b = append(b, `,"Acknowledged":`...)
		b = strconv.AppendBool(b, a.Acknowledged)
		b = append(b, `,"Until":`...)
		b = appendStormTime(b, a.Until)
		b = append(b, `,"Closing":`...)
		b = strconv.AppendBool(b, a.Closing)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// plainJSON reports whether json.Marshal writes s as it is between quotes,
// its NULs as \u0000: printable ASCII, none of the characters it escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != 0 && (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&') {
			return false
		}
	}
	return true
}

func appendPlainString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			b = append(b, `\u0000`...)
			continue
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// utcJSONTime reports whether t is at UTC (no zone) in the years
// json.Marshal writes.
func utcJSONTime(t time.Time) bool {
	return t.Location() == time.UTC && t.Year() >= 0 && t.Year() <= 9999
}

func appendStormTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	return append(t.AppendFormat(b, time.RFC3339Nano), '"')
}

func appendInts(b []byte, key string, v []int) []byte {
	if len(v) == 0 {
		return b
	}
	b = append(append(b, key...), '[')
	for i, n := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return append(b, ']')
}
