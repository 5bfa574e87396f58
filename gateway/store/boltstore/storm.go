package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/internal/docjson"
	"github.com/pagerd/pagerd/policy"
)

// Storm buckets:
//
//	storms   storm key -> JSON store.StormState (its Held is the count of
//	         the held bucket's entries)
//	held     storm key -> nested bucket: 8-byte sequence -> JSON held page
//	bundles  bundle id -> JSON {expires ms, bundle}
//
// A storm's due entry is the member "s:<key>" in the due and sched buckets,
// so claims, leases and takeovers work as they do for incidents.
var (
	bucketStorms  = []byte("storms")
	bucketHeld    = []byte("held")
	bucketBundles = []byte("bundles")
)

// Admit applies store.StormState.Admit in one transaction, listing the
// page when it is held (or sent while others are: store.HeldPage.Sent),
// and scheduling the storm at its window's end when it holds its first one
// (unless it is claimed: the flush reschedules it).
func (s *Store) Admit(ctx context.Context, key string, p store.HeldPage, now time.Time, r store.StormRules) (store.Admission, error) {
	return s.admit(ctx, key, p, now, r, false)
}

// HoldFailed lists a page again, held, as Admit lists a held one.
func (s *Store) HoldFailed(ctx context.Context, key string, p store.HeldPage, now time.Time, r store.StormRules) (store.Admission, error) {
	return s.admit(ctx, key, p, now, r, true)
}

// admit is Admit, or with again HoldFailed: the page is held whatever the
// rules say, and the window is kept even if it is over.
func (s *Store) admit(ctx context.Context, key string, p store.HeldPage, now time.Time, r store.StormRules, again bool) (store.Admission, error) {
	p.Due = p.Due.UTC()
	held, sent, err := docjson.EncodeHeldPage(p)
	if err != nil {
		return store.Admission{}, err
	}
	var a store.Admission
	err = s.update(ctx, func(tx *bbolt.Tx) error {
		a = store.Admission{}
		st, err := s.readStorm(tx, key)
		if err != nil {
			return err
		}
		asked := store.AskedKey(p, now)
		if !again && st.Asked == asked && st.Answer != nil {
			a = *st.Answer // asked again, its answer lost: nothing changes
			return errNoop
		}
		before := st.Held
		if again {
			st.Hold(now)
		} else {
			a.Send = st.Admit(p.Rank, now, r)
		}
		a.Until = st.End
		if !a.Send {
			a.Until, a.Closing = st.HeldUntil(now, r)
		}
		if st.Held > before {
			page := held
			if a.Send {
				page, a.Listed = sent, true
			}
			b, err := tx.Bucket(bucketHeld).CreateBucketIfNotExists([]byte(key))
			if err != nil {
				return err
			}
			if a.Listed {
				a.Acknowledged = heldPagesAcknowledged(b, p.Incident)
			}
			if err := appendHeld(b, page); err != nil {
				return err
			}
			member := store.StormMember(key)
			if st.Held == 1 && !claimed(tx, member) {
				ms := st.End.UnixMilli()
				if err := setDue(tx, member, ms, ms, ""); err != nil {
					return err
				}
			}
		}
		if !again {
			answer := a
			answer.Until = answer.Until.UTC()
			st.Asked, st.Answer = asked, &answer
		}
		return s.putStorm(tx, key, st)
	})
	a.Until = a.Until.UTC()
	return a, err
}

// heldPagesAcknowledged says whether a page of incident held in b pages
// acknowledged incidents too (store.Admission.Acknowledged). A listing it
// cannot decode is not the incident's.
// Only a listing that starts with the incident, as docjson writes it, is
// decoded: a flood holds thousands.
func heldPagesAcknowledged(b *bbolt.Bucket, incident string) bool {
	pre := []byte(`{"i":"` + incident + `"`)
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if !bytes.HasPrefix(v, pre) {
			continue
		}
		if h, err := docjson.DecodeHeldPage(string(v)); err == nil && h.Incident == incident && h.PagesAcknowledged && !h.Sent {
			return true
		}
	}
	return false
}

// appendHeld puts page at the end of a storm's held pages, b.
func appendHeld(b *bbolt.Bucket, page []byte) error {
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return b.Put(k, page)
}

// Withdraw lists a held page as gone out on its own (store.Storms.
// Withdraw) in one transaction, if any are held and its step is not
// listed held twice. A listing it cannot decode is not the step's.
func (s *Store) Withdraw(ctx context.Context, key string, p store.HeldPage) error {
	p.Due = p.Due.UTC()
	_, sent, err := docjson.EncodeHeldPage(p)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketHeld).Bucket([]byte(key))
		if b == nil {
			return errNoop
		}
		if k, _ := b.Cursor().First(); k == nil {
			return errNoop
		}
		n := 0
		if err := b.ForEach(func(_, v []byte) error {
			if h, err := docjson.DecodeHeldPage(string(v)); err == nil && h.Incident == p.Incident && h.Deadline == p.Deadline && !h.Sent {
				n++
			}
			return nil
		}); err != nil {
			return err
		}
		if n > 1 {
			return errNoop // paged again, held: its message names the incident
		}
		st, err := s.readStorm(tx, key)
		if err != nil {
			return err
		}
		if err := appendHeld(b, sent); err != nil {
			return err
		}
		st.Held++
		return s.putStorm(tx, key, st)
	})
}

// Unsent takes back a page sent at once (store.StormState.Unsent) in one
// transaction. A storm with no state is left without one.
func (s *Store) Unsent(ctx context.Context, key string, rank int, end time.Time, after bool) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketStorms).Get([]byte(key)) == nil {
			return errNoop
		}
		st, err := s.readStorm(tx, key)
		if err != nil {
			return err
		}
		st.Unsent(rank, end, after)
		// A page taken back and asked again is counted again.
		st.Asked, st.Answer = "", nil
		return s.putStorm(tx, key, st)
	})
}

// SentBack records the provider's first send-back of the window's
// message (store.StormState.SentBack) in one transaction. A storm with no
// state is left without one.
func (s *Store) SentBack(ctx context.Context, key string, now time.Time) (time.Time, error) {
	first := now
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		first = now
		if tx.Bucket(bucketStorms).Get([]byte(key)) == nil {
			return errNoop
		}
		st, err := s.readStorm(tx, key)
		if err != nil {
			return err
		}
		if first = st.SentBack(now); !first.Equal(now) {
			return errNoop // kept already
		}
		return s.putStorm(tx, key, st)
	})
	return first.UTC(), err
}

// decodeHeld decodes the held pages vals of storm key, read in a
// transaction and decoded inside it: one it cannot decode is listed with
// only Unreadable set.
func decodeHeld(key string, vals [][]byte) []store.HeldPage {
	out := make([]store.HeldPage, 0, len(vals))
	for _, v := range vals {
		// One copy out of the transaction's memory, which the
		// page's strings are slices of.
		p, err := docjson.DecodeHeldPage(string(v))
		if err != nil {
			p = store.HeldPage{Unreadable: fmt.Sprintf("decode held page of storm %s: %v", key, err)}
		}
		out = append(out, p)
	}
	return out
}

// Held returns the storm's held pages, oldest first.
func (s *Store) Held(ctx context.Context, key string) ([]store.HeldPage, error) {
	var out []store.HeldPage
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketHeld).Bucket([]byte(key))
		if b == nil {
			return nil
		}
		var vals [][]byte
		_ = b.ForEach(func(_, v []byte) error {
			vals = append(vals, v)
			return nil
		})
		out = decodeHeld(key, vals) // inside the transaction: vals are its memory
		return nil
	})
	return out, err
}

// Flushed drops the first n held pages, and a step they carried held again
// after them (store.HeldAgain), opens the next window and releases the
// claim, if it is still this one's, in one transaction.
func (s *Store) Flushed(ctx context.Context, c store.Claim, n, top int, now time.Time, r store.StormRules) (bool, error) {
	ok := false
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		ok = false
		member := store.StormMember(c.Storm)
		if _, _, tok, found := parseSched(tx.Bucket(bucketSched).Get(idKey(member))); !found || tok != c.Token {
			// The same claim asking again (its first answer lost) is
			// told its flush is done.
			st, err := s.readStorm(tx, c.Storm)
			ok = err == nil && c.Token != "" && st.FlushedBy == c.Token
			return errNoop
		}
		ok = true
		// A state it cannot decode is replaced by the next window's: an
		// error here would fail every flush of the storm, its held pages
		// unsent and every new page to its person held behind them.
		st, err := s.readStorm(tx, c.Storm)
		if err != nil {
			st = store.NewStormState()
		}
		left := 0
		if b := tx.Bucket(bucketHeld).Bucket([]byte(c.Storm)); b != nil {
			// The n pages the message read, and those left; among
			// these, a step the message carried, held again
			// (store.HeldAgain), is dropped too. The values are read
			// before any delete, and decoded only when pages are left.
			var readKeys, restKeys [][]byte
			var readVals, restVals [][]byte
			cur := b.Cursor()
			for k, v := cur.First(); k != nil; k, v = cur.Next() {
				if len(readKeys) < n {
					readKeys, readVals = append(readKeys, slices.Clone(k)), append(readVals, v)
				} else {
					restKeys, restVals = append(restKeys, slices.Clone(k)), append(restVals, v)
				}
			}
			var again []bool
			if len(restVals) > 0 {
				again = store.HeldAgain(decodeHeld(c.Storm, readVals), decodeHeld(c.Storm, restVals))
			}
			for _, k := range readKeys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			for i, k := range restKeys {
				if again != nil && again[i] {
					if err := b.Delete(k); err != nil {
						return err
					}
					continue
				}
				left++
			}
		}
		st.Flushed(n, top, now, r)
		st.Held, st.FlushedBy = left, c.Token
		if err := s.putStorm(tx, c.Storm, st); err != nil {
			return err
		}
		if left > 0 {
			ms := st.End.UnixMilli()
			return setDue(tx, member, ms, ms, "")
		}
		return dropDue(tx, member)
	})
	return ok, err
}

// completeStorm releases a storm's claim without a flush: due again at its
// window's end (or at notBeforeMS, if later) if pages are held, out of the
// due set otherwise.
func (s *Store) completeStorm(ctx context.Context, c store.Claim, notBeforeMS int64) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		member := store.StormMember(c.Storm)
		if _, _, tok, ok := parseSched(tx.Bucket(bucketSched).Get(idKey(member))); !ok || tok != c.Token {
			return errNoop
		}
		st, err := s.readStorm(tx, c.Storm)
		if err != nil {
			return err
		}
		if st.Held > 0 {
			ms := st.End.UnixMilli()
			return setDue(tx, member, max(ms, notBeforeMS), ms, "")
		}
		return dropDue(tx, member)
	})
}

type keptBundle struct {
	Expires int64         `json:"expires"`
	Bundle  *store.Bundle `json:"bundle"`
}

// PutBundle keeps a bundle for ttl, and drops the bundles that expired
// (sweepBundles).
func (s *Store) PutBundle(ctx context.Context, b *store.Bundle, ttl time.Duration) error {
	if _, err := store.ShardOfBundle(b.ID); err != nil {
		return err
	}
	v, err := json.Marshal(keptBundle{Expires: time.Now().Add(ttl).UnixMilli(), Bundle: b})
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketBundles)
		if err := sweepBundles(bk, time.Now().UnixMilli()); err != nil {
			return err
		}
		return bk.Put([]byte(b.ID), v)
	})
}

// sweepBundles deletes the expired bundles. It decoded every bundle kept,
// in the one writer, at every PutBundle: one per person and channel per
// storm window, kept for link_ttl (a day by default), each naming up to
// thousands of incidents, so a storm's writes slowed with every window
// (2-20 ms a PutBundle with a few dozen kept in the load run, the dispatcher's
// pages and acknowledgements waiting behind it). Bundle ids sort by shard,
// then by when the bundle was sent, so the expired bundles of a shard are
// at the head of its run: the sweep reads those and the first one still
// kept in each shard, and only the expiry at the head of each value
// (bundleExpires). A bundle that expires before one sent earlier (a
// link_ttl shortened by a reload) waits for a later sweep; GetBundle
// checks the expiry itself.
func sweepBundles(bk *bbolt.Bucket, now int64) error {
	c := bk.Cursor()
	k, v := c.First()
	for k != nil {
		exp, ok := bundleExpires(v)
		switch {
		case ok && exp <= now:
			key := bytes.Clone(k)
			if err := c.Delete(); err != nil {
				return err
			}
			k, v = c.Seek(key)
		case !ok || len(k) < len("b00-") || k[len("b00-")-1] != '-':
			k, v = c.Next() // not readable, or not a bundle id: left, as before
		default:
			// Kept, and so is the rest of its shard's run: on to the
			// next shard ("b1f-" is followed by "b1f.", past its run).
			next := append(bytes.Clone(k[:len("b00-")-1]), '-'+1)
			k, v = c.Seek(next)
		}
	}
	return nil
}

// bundleExpires reads when a kept bundle expires from the head of its
// value, {"expires":<ms>,..., as keptBundle encodes it, decoding the whole
// value only when it does not start so. ok is false for a value that does
// not decode.
func bundleExpires(v []byte) (ms int64, ok bool) {
	const head = `{"expires":`
	if rest, found := bytes.CutPrefix(v, []byte(head)); found {
		if i := bytes.IndexByte(rest[:min(len(rest), 21)], ','); i > 0 {
			if n, err := strconv.ParseInt(string(rest[:i]), 10, 64); err == nil {
				return n, true
			}
		}
	}
	var kb struct {
		Expires int64 `json:"expires"`
	}
	if json.Unmarshal(v, &kb) != nil {
		return 0, false
	}
	return kb.Expires, true
}

// GetBundle returns a kept bundle that has not expired.
func (s *Store) GetBundle(ctx context.Context, id string) (*store.Bundle, error) {
	if _, err := store.ShardOfBundle(id); err != nil {
		return nil, err
	}
	var kb keptBundle
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketBundles).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("%w: bundle %s", store.ErrNotFound, id)
		}
		if err := json.Unmarshal(v, &kb); err != nil {
			return plain("decode bundle %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if kb.Bundle == nil || kb.Expires <= time.Now().UnixMilli() {
		return nil, fmt.Errorf("%w: bundle %s", store.ErrNotFound, id)
	}
	return kb.Bundle, nil
}

// statusOnly is what Statuses decodes of an incident's document: the
// JSON decoder steps over the rest without building it.
type statusOnly struct {
	State struct {
		Status policy.Status `json:"status"`
	} `json:"state"`
}

// Statuses reads each incident's status from its record in the created
// index, which every write of the incident's document rewrites in the
// same transaction (List and CountOpen filter on it too), found by the
// creation time its id carries (store.MillisOfID); only an incident
// created at another time than its id says (imported) has its document
// read. A storm's flush asks for the statuses of every incident its
// bundle names, and a flood's storms close with thousands: read from the
// documents, each took 9.0–9.3 µs and 14 allocations (BenchmarkStatuses),
// most of it the JSON decoder's passes over the whole document, and the
// flush of 40,000 incidents read about 100 MB of them through the map in
// under half a second.
func (s *Store) Statuses(ctx context.Context, ids []string) (map[string]policy.Status, error) {
	out := make(map[string]policy.Status, len(ids))
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		created, incidents := tx.Bucket(bucketCreated), tx.Bucket(bucketIncidents)
		var key []byte
		for _, id := range ids {
			if ms, ok := store.MillisOfID(id); ok {
				key = append(append(key[:0], timeKey(ms)...), id...)
				if status, _, _, ok := parseIndexRecord(created.Get(key)); ok {
					out[id] = policy.Status(status)
					continue
				}
			}
			v := incidents.Get(idKey(id))
			if v == nil {
				continue
			}
			var h statusOnly
			if err := unpackDoc(id, v, &h); err != nil {
				return err
			}
			out[id] = h.State.Status
		}
		return nil
	})
	return out, err
}

// notesPerTx bounds the incidents one transaction of Note writes: a
// flood's bundle names thousands, and in one transaction (10,000: 170 ms
// in the load run's flood) every other write, pages and acknowledgements
// too, waited for it. Each part is a write of the urgent lane, so the
// alerts that share its batch wait for its pages too: at 1,000 alerts a
// second, the twelve storms' flushes in the middle of the run answered
// 220-472 alerts (mean 351, six runs) in over 10 ms with parts of 256,
// 171-286 (mean 238) with parts of 64; the p99 13.4-24.0 ms against
// 11.7-15.2 ms. A part's fsync is shared with the batch's other writes, so
// more parts cost little beside the pages they write.
const notesPerTx = 64

// Note appends timeline entries to many incidents, notesPerTx to a
// transaction (not atomic: see store.Store; what is noted leaves entries).
func (s *Store) Note(ctx context.Context, entries map[string][]store.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	ids := make([]string, 0, len(entries))
	enc := make(map[string][][]byte, len(entries))
	for id, es := range entries {
		e, err := encodeEntries(es)
		if err != nil {
			return err
		}
		ids, enc[id] = append(ids, id), e
	}
	// In key order (idKey: by creation time), so that each transaction's
	// pages are together.
	slices.SortFunc(ids, func(a, b string) int { return bytes.Compare(idKey(a), idKey(b)) })
	for part := range slices.Chunk(ids, notesPerTx) {
		if err := s.update(ctx, func(tx *bbolt.Tx) error {
			inc := tx.Bucket(bucketIncidents)
			for _, id := range part {
				if inc.Get(idKey(id)) == nil {
					continue
				}
				if err := appendTimeline(tx, id, enc[id]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		for _, id := range part {
			delete(entries, id) // noted: a call again notes only the rest
		}
	}
	return nil
}
