package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
)

// Jobs and documents:
//
//	jobs     kind "/" key -> JSON store.Job (with its version); its due entry
//	         is the member "j:<kind>/<key>" in the due and sched buckets
//	docs     kind -> nested bucket: key -> document
//	docsver  kind -> 8-byte version
var (
	bucketJobs    = []byte("jobs")
	bucketDocs    = []byte("docs")
	bucketDocsVer = []byte("docsver")
)

func jobKey(kind, key string) []byte { return []byte(kind + "/" + key) }

func readJob(tx *bbolt.Tx, kind, key string) (*store.Job, error) {
	v := tx.Bucket(bucketJobs).Get(jobKey(kind, key))
	if v == nil {
		return nil, fmt.Errorf("%w: job %s/%s", store.ErrNotFound, kind, key)
	}
	var j store.Job
	if err := json.Unmarshal(v, &j); err != nil {
		return nil, plain("decode job %s/%s: %w", kind, key, err)
	}
	return &j, nil
}

func putJob(tx *bbolt.Tx, j *store.Job) error {
	j.Due = j.Due.UTC()
	v, err := json.Marshal(j)
	if err != nil {
		return plain("encode job: %w", err)
	}
	return tx.Bucket(bucketJobs).Put(jobKey(j.Kind, j.Key), v)
}

// PutJob stores and schedules a job in one transaction; a claimed job's due
// entry stays at the lease end (FinishJob reschedules it).
func (s *Store) PutJob(ctx context.Context, j store.Job) error {
	if err := store.CheckJob(j); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		next := j
		next.Version = 1
		if cur, err := readJob(tx, j.Kind, j.Key); err == nil {
			next.Version = cur.Version + 1
		}
		if err := putJob(tx, &next); err != nil {
			return err
		}
		member := store.JobMember(j.Kind, j.Key)
		if claimed(tx, member) {
			return nil
		}
		ms := next.Due.UnixMilli()
		return setDue(tx, member, ms, ms, "")
	})
}

// PutLaterJobs stores and schedules, in one transaction, each job due
// later than the one stored, if any, as PutJob does. They are checked
// before it: a write fails only by bbolt's error once it has written.
func (s *Store) PutLaterJobs(ctx context.Context, jobs []store.Job) error {
	for _, j := range jobs {
		if err := store.CheckJob(j); err != nil {
			return err
		}
		if len(j.Data) > 0 && !json.Valid(j.Data) {
			return fmt.Errorf("job %s/%s: data is not JSON", j.Kind, j.Key)
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		wrote := false
		for _, j := range jobs {
			next := j
			next.Version = 1
			if cur, err := readJob(tx, j.Kind, j.Key); err == nil {
				if cur.Due.UnixMilli() >= j.Due.UnixMilli() {
					continue
				}
				next.Version = cur.Version + 1
			}
			if err := putJob(tx, &next); err != nil {
				return err
			}
			wrote = true
			member := store.JobMember(j.Kind, j.Key)
			if claimed(tx, member) {
				continue
			}
			ms := next.Due.UnixMilli()
			if err := setDue(tx, member, ms, ms, ""); err != nil {
				return err
			}
		}
		if !wrote {
			return errNoop // every one stands: no fsync
		}
		return nil
	})
}

// AddJob stores and schedules a job that is not stored, in one transaction.
func (s *Store) AddJob(ctx context.Context, j store.Job) (added bool, err error) {
	if err := store.CheckJob(j); err != nil {
		return false, err
	}
	err = s.update(ctx, func(tx *bbolt.Tx) error {
		added = false
		if tx.Bucket(bucketJobs).Get(jobKey(j.Kind, j.Key)) != nil {
			return nil
		}
		next := j
		next.Version = 1
		if err := putJob(tx, &next); err != nil {
			return err
		}
		added = true
		member := store.JobMember(j.Kind, j.Key)
		if claimed(tx, member) {
			return nil
		}
		ms := next.Due.UnixMilli()
		return setDue(tx, member, ms, ms, "")
	})
	return added && err == nil, err
}

// ReplaceJob stores and schedules a job still at the version read and not
// claimed, in one transaction.
func (s *Store) ReplaceJob(ctx context.Context, j store.Job) (replaced bool, err error) {
	if err := store.CheckJob(j); err != nil {
		return false, err
	}
	err = s.update(ctx, func(tx *bbolt.Tx) error {
		replaced = false
		member := store.JobMember(j.Kind, j.Key)
		cur, err := readJob(tx, j.Kind, j.Key)
		if errors.Is(err, store.ErrNotFound) || err == nil && (cur.Version != j.Version || claimed(tx, member)) {
			return errNoop
		}
		if err != nil {
			return err
		}
		next := j
		next.Version = cur.Version + 1
		if err := putJob(tx, &next); err != nil {
			return err
		}
		replaced = true
		ms := next.Due.UnixMilli()
		return setDue(tx, member, ms, ms, "")
	})
	return replaced && err == nil, err
}

// GetJob reads a job.
func (s *Store) GetJob(ctx context.Context, kind, key string) (*store.Job, error) {
	var j *store.Job
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		j, err = readJob(tx, kind, key)
		return err
	})
	return j, err
}

// DeleteJob removes a job, its schedule and any claim.
func (s *Store) DeleteJob(ctx context.Context, kind, key string) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketJobs).Delete(jobKey(kind, key)); err != nil {
			return err
		}
		return dropDue(tx, store.JobMember(kind, key))
	})
}

// FinishJob releases a job's claim, keeping a replacement, or storing next,
// or deleting the job, in one transaction.
func (s *Store) FinishJob(ctx context.Context, c store.Claim, next *store.Job) error {
	if c.Job == nil {
		return fmt.Errorf("finish job: not a job's claim")
	}
	kind, key := c.Job.Kind, c.Job.Key
	member := store.JobMember(kind, key)
	return s.update(ctx, func(tx *bbolt.Tx) error {
		if _, _, tok, ok := parseSched(tx.Bucket(bucketSched).Get(idKey(member))); !ok || tok != c.Token {
			return errNoop
		}
		cur, err := readJob(tx, kind, key)
		if err == nil && cur.Version != c.Job.Version {
			ms := cur.Due.UnixMilli()
			return setDue(tx, member, ms, ms, "")
		}
		if next == nil {
			if err := tx.Bucket(bucketJobs).Delete(jobKey(kind, key)); err != nil {
				return err
			}
			return dropDue(tx, member)
		}
		j := *next
		j.Kind, j.Key, j.Version = kind, key, c.Job.Version+1
		if err := putJob(tx, &j); err != nil {
			return err
		}
		ms := j.Due.UnixMilli()
		return setDue(tx, member, ms, ms, "")
	})
}

func docVersion(tx *bbolt.Tx, kind string) int64 {
	v := tx.Bucket(bucketDocsVer).Get([]byte(kind))
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

// ListDocs reads a kind's documents and version, one read transaction.
func (s *Store) ListDocs(ctx context.Context, kind string) (map[string][]byte, int64, error) {
	out := map[string][]byte{}
	var ver int64
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		ver = docVersion(tx, kind)
		b := tx.Bucket(bucketDocs).Bucket([]byte(kind))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = append([]byte(nil), v...)
			return nil
		})
	})
	return out, ver, err
}

// PutDocs writes a kind's documents if its version is still version.
func (s *Store) PutDocs(ctx context.Context, kind string, version int64, put map[string][]byte, del []string) (int64, error) {
	var next int64
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if docVersion(tx, kind) != version {
			return store.ErrConflict
		}
		b, err := tx.Bucket(bucketDocs).CreateBucketIfNotExists([]byte(kind))
		if err != nil {
			return err
		}
		for k, v := range put {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		for _, k := range del {
			if err := b.Delete([]byte(k)); err != nil {
				return err
			}
		}
		next = version + 1
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(next))
		return tx.Bucket(bucketDocsVer).Put([]byte(kind), v[:])
	})
	return next, err
}
