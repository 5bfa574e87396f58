package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"go.etcd.io/bbolt"
)

// ErrNewerFormat is returned by Open and Inspect for a store written by a
// newer pagerd: its layout is unknown here, so it is refused rather than
// misread. Run the newer pagerd, or restore a backup taken before the
// upgrade.
var ErrNewerFormat = errors.New("store written by a newer pagerd")

var keyFormat = []byte("format")

// currentFormat is format as a number.
func currentFormat() int {
	n, _ := strconv.Atoi(format)
	return n
}

// migrations[n] upgrades a store of format n to format n+1. Open runs them
// in order inside the transaction that checks the format, so a crash or an
// error mid-upgrade leaves the old format intact, and a store is never seen
// half converted. A new layout adds its step here and bumps format.
var migrations = map[int]func(tx *bbolt.Tx) error{
	1: migrate1to2,
	2: migrate2to3,
}

// storedFormat reads the meta bucket's format; 0 for a database that has
// none yet (a new one).
func storedFormat(tx *bbolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	v := meta.Get(keyFormat)
	if v == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("stored format %q is not one pagerd writes", v)
	}
	return n, nil
}

// checkFormat stamps a new store with the current format, upgrades an
// older one and refuses a newer one. It returns the format the store had
// before (0 for a new store).
func checkFormat(tx *bbolt.Tx) (int, error) {
	have, err := storedFormat(tx)
	if err != nil {
		return 0, err
	}
	want := currentFormat()
	switch {
	case have == 0 || have == want:
	case have > want:
		return have, fmt.Errorf("%w: store format %d, this pagerd reads format %d and older: run the newer pagerd, or restore a backup taken before the upgrade",
			ErrNewerFormat, have, want)
	default:
		for f := have; f < want; f++ {
			m := migrations[f]
			if m == nil {
				return have, fmt.Errorf("no upgrade from store format %d", f)
			}
			if err := m(tx); err != nil {
				return have, fmt.Errorf("upgrade store format %d to %d: %w", f, f+1, err)
			}
		}
	}
	return have, tx.Bucket(bucketMeta).Put(keyFormat, []byte(format))
}

// migrate1to2 replaces format 1's one due entry per deadline (the due and
// deadlines buckets, keyed by "<id>/<deadline>") with format 2's one due
// entry per incident at its earliest pending deadline (due and sched). The
// incidents themselves, their timelines and the indexes are the same in
// both. Claims are not carried over: a step that was being sent when the
// old pagerd stopped is due again, as when a lease runs out (delivery is at
// least once).
func migrate1to2(tx *bbolt.Tx) error {
	for _, name := range [][]byte{[]byte("deadlines"), bucketDue, bucketSched} {
		if tx.Bucket(name) == nil {
			continue
		}
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("drop bucket %s: %w", name, err)
		}
	}
	for _, name := range [][]byte{bucketDue, bucketSched} {
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return tx.Bucket(bucketIncidents).ForEach(func(k, v []byte) error {
		inc, err := decodeIncident(string(k), v)
		if err != nil {
			return err
		}
		return schedule(tx, inc.ID, inc)
	})
}

// migrate2to3 moves format 2's keys of the buckets kept by incident
// (incidents, timeline, sched), which were the incidents' ids, to format
// 3's idKey: the same records under keys that sort by creation time. A
// timeline is a bucket of its own, copied entry by entry with its
// sequence. Keys already moved, and sched entries that are not
// incidents', stay where they are.
func migrate2to3(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketIncidents, bucketSched} {
		b := tx.Bucket(name)
		for _, k := range keysToMove(b) {
			if err := b.Put(idKey(string(k)), bytes.Clone(b.Get(k))); err != nil {
				return fmt.Errorf("move %s %s: %w", name, k, err)
			}
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("move %s %s: %w", name, k, err)
			}
		}
	}
	timelines := tx.Bucket(bucketTimeline)
	for _, k := range keysToMove(timelines) {
		from := timelines.Bucket(k)
		if from == nil {
			return fmt.Errorf("move timeline %s: not a bucket", k)
		}
		to, err := timelines.CreateBucket(idKey(string(k)))
		if err != nil {
			return fmt.Errorf("move timeline %s: %w", k, err)
		}
		if err := from.ForEach(to.Put); err != nil {
			return fmt.Errorf("move timeline %s: %w", k, err)
		}
		if err := to.SetSequence(from.Sequence()); err != nil {
			return fmt.Errorf("move timeline %s: %w", k, err)
		}
		if err := timelines.DeleteBucket(k); err != nil {
			return fmt.Errorf("move timeline %s: %w", k, err)
		}
	}
	return nil
}

// keysToMove lists the keys of b that idKey moves, read before any moves
// (bbolt's cursors do not survive writes to their bucket).
func keysToMove(b *bbolt.Bucket) [][]byte {
	var out [][]byte
	_ = b.ForEach(func(k, _ []byte) error {
		if movable(string(k)) {
			out = append(out, bytes.Clone(k))
		}
		return nil
	})
	return out
}

// UpgradedFrom is the older store format Open upgraded to the current one,
// or 0 when the store was new or already current: the daemon logs it, as an
// operator must know that an older pagerd can no longer read this store.
func (s *Store) UpgradedFrom() int { return s.upgradedFrom }

// Format is the store format this pagerd writes.
func Format() int { return currentFormat() }
