package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// History and retention. Both walk the created index (creation time, then
// id): History from since to until, a batch of store.HistoryBatch incidents
// per read transaction; Expire from the oldest incident, since an incident
// resolved before a time was created before it too.

// readTimeline reads an incident's entries, oldest first.
func readTimeline(tx *bbolt.Tx, id string) ([]store.Entry, error) {
	out := []store.Entry{}
	b := tx.Bucket(bucketTimeline).Bucket(idKey(id))
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(_, v []byte) error {
		var e store.Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return plain("decode timeline of %s: %w", id, err)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// History calls fn with every incident created in [since, until), oldest
// first, with its timeline: one read transaction per store.HistoryBatch
// incidents, which copies their records out. Decoding JSON is most of what
// a year of history costs, so the records are decoded outside the
// transaction, on every core, and the next batch is read and decoded while
// fn works through the one before.
func (s *Store) History(ctx context.Context, since, until time.Time, fn func(*store.Incident, []store.Entry) error) error {
	lo, hi, ok := store.Filter{Since: since, Until: until}.CreatedRange()
	if !ok {
		return nil
	}
	type result struct {
		batch []rawIncident
		err   error
	}
	batches := make(chan result, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(batches)
		var last []byte
		for {
			batch, done, err := s.readBatch(ctx, lo, hi, &last)
			if err == nil {
				err = decodeAll(batch)
			}
			select {
			case batches <- result{batch, err}:
			case <-stop:
				return
			}
			if err != nil || done {
				return
			}
		}
	}()
	for r := range batches {
		if r.err != nil {
			return r.err
		}
		for i := range r.batch {
			if err := fn(r.batch[i].inc, r.batch[i].entries); err != nil {
				return err
			}
		}
	}
	return nil
}

// readBatch copies out the records of up to store.HistoryBatch incidents
// created in [lo, hi] ms after the index key *last, in one read
// transaction, and moves *last on; done is true when none are left.
func (s *Store) readBatch(ctx context.Context, lo, hi int64, last *[]byte) (batch []rawIncident, done bool, err error) {
	batch = make([]rawIncident, 0, store.HistoryBatch)
	err = s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketCreated).Cursor()
		incidents, timelines := tx.Bucket(bucketIncidents), tx.Bucket(bucketTimeline)
		var k []byte
		switch {
		case *last != nil:
			if k, _ = c.Seek(*last); bytes.Equal(k, *last) {
				k, _ = c.Next()
			}
		case lo > math.MinInt64:
			k, _ = c.Seek(timeKey(lo))
		default:
			k, _ = c.First()
		}
		for ; len(batch) < store.HistoryBatch; k, _ = c.Next() {
			if k == nil || (len(k) >= 8 && keyTime(k) > hi) {
				done = true
				return nil
			}
			if len(k) < 8 {
				continue
			}
			*last = bytes.Clone(k)
			id := k[8:]
			v := incidents.Get(idKey(string(id)))
			if v == nil {
				continue
			}
			r := rawIncident{id: string(id), rec: bytes.Clone(v), tl: []byte{'['}}
			if b := timelines.Bucket(idKey(string(id))); b != nil {
				_ = b.ForEach(func(_, e []byte) error {
					if len(r.tl) > 1 {
						r.tl = append(r.tl, ',')
					}
					r.tl = append(r.tl, e...)
					return nil
				})
			}
			r.tl = append(r.tl, ']')
			batch = append(batch, r)
		}
		return nil
	})
	return batch, done, err
}

// rawIncident is an incident's record and its timeline (a JSON array of
// its entries) as History copies them out of a transaction, and then
// decoded.
type rawIncident struct {
	id      string
	rec, tl []byte
	inc     *store.Incident
	entries []store.Entry
}

// decodeAll decodes a batch on every core (store.ParallelDecode).
func decodeAll(batch []rawIncident) error {
	return store.ParallelDecode(len(batch), func(i int) error { return batch[i].decode() })
}

// decode decodes the record and the timeline that readBatch copied out,
// and drops the copies.
func (r *rawIncident) decode() error {
	inc, err := decodeIncident(r.id, r.rec)
	if err != nil {
		return err
	}
	r.entries = []store.Entry{}
	if err := json.Unmarshal(r.tl, &r.entries); err != nil {
		return plain("decode timeline of %s: %w", r.id, err)
	}
	r.inc, r.rec, r.tl = inc, nil, nil
	return nil
}

// Expire removes up to max resolved incidents that store.Expirable allows,
// oldest created first, with their timelines, index entries and dedup keys,
// in one transaction. The walk starts at the oldest incident and ends at
// the first created after before; open incidents on the way are
// passed over by their index record, without being read. A record that
// does not decode is skipped, kept, and logged (store.Undecodable).
func (s *Store) Expire(ctx context.Context, before time.Time, max int) (int, bool, error) {
	if max <= 0 {
		return 0, false, nil
	}
	var n int
	var more bool
	// Counted in the transaction, logged after it succeeds: the committer
	// may run the transaction again (commit.go), and the log says it once.
	var skipped store.Undecodable
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		n, more, skipped = 0, false, store.Undecodable{}
		var victims [][]byte
		var incs []*store.Incident
		c := tx.Bucket(bucketCreated).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) < 8 {
				continue
			}
			if keyTime(k) > before.UnixMilli() {
				break
			}
			if status, _, _, ok := parseIndexRecord(v); ok && status != "resolved" {
				continue
			}
			id := string(k[8:])
			inc, err := readIncident(tx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue // a dangling index entry: no record to lose
			}
			if err != nil {
				skipped.Add(id, err) // left as it is, and logged
				continue
			}
			if !store.Expirable(inc, before) {
				continue
			}
			if len(victims) == max {
				more = true
				break
			}
			victims = append(victims, bytes.Clone(k))
			incs = append(incs, inc)
		}
		if len(victims) == 0 {
			return errNoop
		}
		for i, k := range victims {
			if err := removeIncident(tx, k, incs[i]); err != nil {
				return err
			}
		}
		n = len(victims)
		return nil
	})
	if err != nil {
		return 0, false, err // not logged: a commit still running past ctx's end may be writing skipped
	}
	skipped.Log(ctx, s.log)
	return n, more, nil
}

// removeIncident deletes an incident, its timeline, its index entries, its
// due entry and its dedup key if that still names it.
func removeIncident(tx *bbolt.Tx, indexKey []byte, inc *store.Incident) error {
	id, key := []byte(inc.ID), idKey(inc.ID)
	if err := tx.Bucket(bucketIncidents).Delete(key); err != nil {
		return err
	}
	if err := putResolved(tx, inc.ID, resolvedKeyTime(tx.Bucket(bucketCreated).Get(indexKey)), nil); err != nil {
		return err
	}
	for _, b := range [][]byte{bucketCreated, bucketOpen} {
		if err := tx.Bucket(b).Delete(indexKey); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketTimeline).DeleteBucket(key); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
		return err
	}
	dedup, dk := tx.Bucket(bucketDedup), dedupKey(inc.Service, inc.DedupKey)
	if bytes.Equal(dedup.Get(dk), id) {
		if err := dedup.Delete(dk); err != nil {
			return err
		}
	}
	return dropDue(tx, inc.ID)
}

// OpenReadOnly opens the store in dir for reading (History, Get, List,
// Timeline) without a daemon: pagerd report and pagerd handoff on a data
// dir. The database is opened read-only with a shared lock, so this fails
// with ErrInUse (after LockTimeout) while a pagerd serves from dir: ask
// that pagerd instead. Writes to it fail. A store of an older format is
// refused, with what to do: reading it needs the upgrade only Open makes.
func OpenReadOnly(dir string) (*Store, error) {
	db, err := openDirReadOnly(dir)
	if err != nil {
		return nil, err
	}
	path := db.Path()
	err = db.View(func(tx *bbolt.Tx) error {
		f, err := storedFormat(tx)
		switch {
		case err != nil:
			return err
		case f == 0:
			return errors.New("not a pagerd store: it has no format record")
		case f > currentFormat():
			return fmt.Errorf("%w: store format %d, this pagerd reads format %d and older", ErrNewerFormat, f, currentFormat())
		case f < oldestReadable:
			// Only Open upgrades, and it needs the file to itself.
			return fmt.Errorf("store format %d was written by an older pagerd: run pagerd serve on it once (it upgrades the store to format %d as it starts), or read it with the pagerd that wrote it", f, currentFormat())
		case moving(tx):
			return fmt.Errorf("the upgrade of this store to format %d was stopped before it finished: run pagerd serve on it once (it finishes the upgrade as it starts)", currentFormat())
		}
		for _, name := range [][]byte{bucketIncidents, bucketTimeline, bucketCreated} {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("not a pagerd store: it has no %s bucket", name)
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Store{db: db, dir: dir, w: newCommitter(db, slog.Default()), log: slog.Default()}, nil
}

// CountOpen counts open incidents from the open index alone, newest first:
// its records carry status, priority and service, so nothing is decoded.
// An index record that does not parse is read from the incident instead,
// as List does; when that does not decode either, the incident is skipped
// and named (store.OpenCounter.Skip).
func (s *Store) CountOpen(ctx context.Context, limit int) (store.OpenCounts, error) {
	n := store.NewOpenCounter(limit)
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketOpen).Cursor()
		for k, v := c.Last(); k != nil && !n.Full(); k, v = c.Prev() {
			if len(k) < 8 {
				continue
			}
			status, priority, service, ok := parseIndexRecord(v)
			if !ok { // as List does, the incident itself then
				id := string(k[8:])
				inc, err := readIncident(tx, id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					n.Skip(id, err)
					continue
				}
				status, priority, service = string(inc.State.Status), inc.State.Priority, inc.Service
			}
			n.Add(service, priority, policy.Status(status))
		}
		return nil
	})
	if err != nil {
		return store.OpenCounts{}, err
	}
	return n.OpenCounts, nil
}
