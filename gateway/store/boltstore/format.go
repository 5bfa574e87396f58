package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

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
// half converted. A new layout adds its step here and bumps format. A
// step that rewrites every incident only marks the store in that
// transaction, and Open does the rest in transactions of their own before
// it returns (migrate2to3, finishMoves).
var migrations = map[int]func(tx *bbolt.Tx) error{
	1: migrate1to2,
	2: migrate2to3,
	3: migrate3to4,
}

// migrate3to4 changes nothing stored: format 4 packs each incident's
// document (blob.Pack: S2 with a dictionary, a third of the JSON's size,
// so a page holds three times the incidents and a commit writes fewer
// pages), and reads format 3's plain JSON as it is, so documents are
// packed as they are written again. The format record keeps a pagerd that
// reads only plain JSON from misreading the store.
func migrate3to4(*bbolt.Tx) error { return nil }

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

// migrate2to3 begins the move of format 2's keys of the buckets kept by
// incident (incidents, timeline, sched), which were the incidents' ids, to
// format 3's idKey: it only marks the store as moving (keyMoving), with
// the format record 3, so that no older pagerd reads it half moved.
// finishMoves, which Open runs next, moves the records in transactions of
// movesPerTx incidents: in the one transaction of the other migrations,
// 192,000 incidents (a 1.2 GB file) took 73 s, every page it wrote held
// in memory until the commit (the test process that measured it peaked
// at 2.3 GB resident), more than many a container has.
func migrate2to3(tx *bbolt.Tx) error {
	return tx.Bucket(bucketMeta).Put(keyMoving, []byte("3"))
}

// keyMoving, in the meta bucket, marks a store whose keys are still being
// moved to idKey (migrate2to3).
var keyMoving = []byte("moving")

// movesPerTx is how many incidents finishMoves moves in a transaction.
var movesPerTx = 2000

// moving reports whether the store's keys are still being moved.
func moving(tx *bbolt.Tx) bool { return tx.Bucket(bucketMeta).Get(keyMoving) != nil }

// finishMoves moves the store's incidents, their timelines and their sched
// entries to their idKey, movesPerTx incidents a transaction, in the order
// of their new keys (each transaction's writes together), if the store is
// marked as moving; then, in a last transaction, whatever sched entry or
// timeline has no incident, and the mark. Each transaction moves whole
// incidents, so a crash between two leaves every incident readable under
// one key or the other, and the next Open goes on where this one stopped.
// It returns how many incidents it moved, and says in log when it begins
// and ends: pagerd serves nothing meanwhile.
func finishMoves(db *bbolt.DB, log *slog.Logger) (int, error) {
	var ids [][]byte
	var marked bool
	err := db.View(func(tx *bbolt.Tx) error {
		if marked = moving(tx); marked {
			ids = keysToMove(tx.Bucket(bucketIncidents))
		}
		return nil
	})
	if err != nil || !marked {
		return 0, err
	}
	start := time.Now()
	log.Warn("store upgrading to format 3: moving every incident to its new key before serving", "incidents", len(ids))
	slices.SortFunc(ids, func(a, b []byte) int { return bytes.Compare(idKey(string(a)), idKey(string(b))) })
	for part := range slices.Chunk(ids, movesPerTx) {
		err := db.Update(func(tx *bbolt.Tx) error {
			for _, k := range part {
				if err := moveIncident(tx, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("upgrade store format 2 to 3: %w", err)
		}
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		sched, timelines := tx.Bucket(bucketSched), tx.Bucket(bucketTimeline)
		for _, k := range keysToMove(sched) {
			if err := moveKey(sched, k); err != nil {
				return err
			}
		}
		for _, k := range keysToMove(timelines) {
			if err := moveTimeline(timelines, k); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(keyMoving)
	})
	if err != nil {
		return 0, fmt.Errorf("upgrade store format 2 to 3: %w", err)
	}
	log.Warn("store upgraded to format 3: incidents moved", "incidents", len(ids), "took", time.Since(start).Round(time.Millisecond).String())
	return len(ids), nil
}

// moveIncident moves the incident at the format 2 key k, its sched entry
// and its timeline, to idKey(k).
func moveIncident(tx *bbolt.Tx, k []byte) error {
	if err := moveKey(tx.Bucket(bucketIncidents), k); err != nil {
		return err
	}
	if sched := tx.Bucket(bucketSched); sched.Get(k) != nil {
		if err := moveKey(sched, k); err != nil {
			return err
		}
	}
	if timelines := tx.Bucket(bucketTimeline); timelines.Bucket(k) != nil {
		return moveTimeline(timelines, k)
	}
	return nil
}

// moveKey moves the record at k in b to idKey(k).
func moveKey(b *bbolt.Bucket, k []byte) error {
	if err := b.Put(idKey(string(k)), bytes.Clone(b.Get(k))); err != nil {
		return fmt.Errorf("move %s: %w", k, err)
	}
	return b.Delete(k)
}

// moveTimeline moves the timeline bucket at k in timelines to idKey(k),
// entry by entry, with its sequence.
func moveTimeline(timelines *bbolt.Bucket, k []byte) error {
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
	return timelines.DeleteBucket(k)
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
