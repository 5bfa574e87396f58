package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrInUse is returned by BackupDir for a data dir a running pagerd holds:
// take the backup through that daemon (GET /-/backup) instead.
var ErrInUse = errors.New("in use by a running pagerd")

// Backup writes a consistent copy of the whole database to w while pagerd
// keeps serving: the copy is one read transaction, which bbolt runs
// alongside writes, so it is the store exactly as it was when Backup began
// (every incident with its pending steps and its due entry, never a write
// half applied). It returns the bytes written. Cancelling ctx stops the
// copy at the next write to w.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if cerr := ctx.Err(); err != nil && cerr != nil {
		err = cerr // bbolt reports the writer's error as text only
	}
	if err != nil {
		return n, fmt.Errorf("backup: %w", err)
	}
	return n, nil
}

// openDirReadOnly opens the store file of data dir dir read-only, with a
// shared lock (ErrInUse after LockTimeout while a pagerd serves from it),
// once checkLength has found it whole.
func openDirReadOnly(dir string) (*bbolt.DB, error) {
	path := filepath.Join(dir, FileName)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("no store in data dir %s: %w", dir, err)
	}
	if err := checkLength(path, fi.Size()); err != nil {
		return nil, err
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: LockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("data dir %s is %w", dir, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// BackupDir writes a copy of the store in dir to w without a daemon. The
// database is opened read-only with a shared lock, so this fails with
// ErrInUse (after LockTimeout) while a pagerd serves from dir: a file that
// another process writes cannot be copied consistently from outside it.
func BackupDir(ctx context.Context, dir string, w io.Writer) (int64, error) {
	path := filepath.Join(dir, FileName)
	db, err := openDirReadOnly(dir)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.View(func(tx *bbolt.Tx) error {
		if _, err := storedFormat(tx); err != nil {
			return err
		}
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if cerr := ctx.Err(); err != nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("backup %s: %w", path, err)
	}
	return n, nil
}

// Info describes a store file: its format, how many incidents it holds and
// how many of them are open (those are the ones with pages to come).
type Info struct {
	Format    int
	Incidents int
	Open      int
	Pending   int // open incidents with a step still due
	Size      int64
}

// Inspect checks a store file (a backup, or the store of a stopped pagerd)
// without changing it: bbolt's consistency check of every page, a format
// this pagerd can read (ErrNewerFormat otherwise; an older one is fine,
// serve upgrades it), and every incident decodes. It returns what it found.
func Inspect(path string) (Info, error) {
	if err := checkWhole(path); err != nil {
		return Info{}, err
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: LockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return Info{}, fmt.Errorf("%s is %w", path, ErrInUse)
	}
	if err != nil {
		return Info{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	var info Info
	err = db.View(func(tx *bbolt.Tx) error {
		var problems []string
		for err := range tx.Check() {
			problems = append(problems, err.Error())
		}
		if len(problems) > 0 {
			return fmt.Errorf("damaged: %s", strings.Join(problems, "; "))
		}
		info.Size = tx.Size()
		f, err := storedFormat(tx)
		if err != nil {
			return err
		}
		if f == 0 {
			return errors.New("not a pagerd store: it has no format record")
		}
		if f > currentFormat() {
			return fmt.Errorf("%w: store format %d, this pagerd reads format %d and older", ErrNewerFormat, f, currentFormat())
		}
		info.Format = f
		incidents := tx.Bucket(bucketIncidents)
		if incidents == nil {
			return errors.New("not a pagerd store: it has no incidents bucket")
		}
		// Read from the bucket as it is, not by id: an older format
		// keyed incidents otherwise (migrate2to3).
		return incidents.ForEach(func(k, v []byte) error {
			inc, err := decodeIncident(string(k), v)
			if err != nil {
				return err
			}
			info.Incidents++
			if inc.Open() {
				info.Open++
				if len(inc.State.Pending) > 0 {
					info.Pending++
				}
			}
			return nil
		})
	})
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}

// checkWhole refuses a file shorter than its own meta page says: bbolt maps
// the file and would fault reading past its end, which a truncated backup
// (a copy cut off by a full disk or a dropped connection) would make it do.
// The size is read from the newer of the two meta pages that carry bbolt's
// magic number and a valid checksum.
func checkWhole(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	const (
		pageHeader = 16
		magic      = 0xED0CDAED
	)
	var best struct{ txid, end uint64 }
	found := false
	offset := int64(0)
	for i := 0; i < 2; i++ {
		buf := make([]byte, pageHeader+64)
		if _, err := f.ReadAt(buf, offset); err != nil {
			break
		}
		// meta: magic, version, page size, flags (4 bytes each), root
		// bucket (16), freelist, high-water page id, txid, checksum (8 each).
		m := buf[pageHeader:]
		ps := int64(binary.LittleEndian.Uint32(m[8:]))
		sum := fnv.New64a()
		_, _ = sum.Write(m[:56])
		valid := binary.LittleEndian.Uint32(m[0:]) == magic && ps > 0 && sum.Sum64() == binary.LittleEndian.Uint64(m[56:])
		if valid {
			txid := binary.LittleEndian.Uint64(m[48:])
			if end := binary.LittleEndian.Uint64(m[40:]) * uint64(ps); !found || txid > best.txid {
				best.txid, best.end, found = txid, end, true
			}
		} else {
			ps = int64(os.Getpagesize()) // meta 1 is one page in; guess the page size
		}
		offset = ps
	}
	switch {
	case !found:
		return fmt.Errorf("%s is not a bbolt database", path)
	case uint64(st.Size()) < best.end:
		return fmt.Errorf("%s is cut short: %d bytes of %d", path, st.Size(), best.end)
	}
	return nil
}

// freshDir reports whether a data dir holding entries holds nothing of
// anyone's: it is empty, or holds only the lost+found of a new ext4
// volume, at whose root the chart and the manifests put the data dir, and
// the file of a restore that did not finish (restoringName), which the
// next restore replaces.
func freshDir(entries []os.DirEntry) bool {
	for _, e := range entries {
		if !(e.IsDir() && e.Name() == "lost+found") && !(!e.IsDir() && e.Name() == restoringName) {
			return false
		}
	}
	return true
}

// restoringName is the file a restore writes before it renames it to
// FileName: left in a data dir without a store, a restore was killed
// before it finished.
const restoringName = FileName + ".restoring"

// ErrRestoreUnfinished is Open's error for a data dir that holds the file
// of a restore that did not finish and no store: started on it, pagerd
// would make a new, empty store, and every incident the backup held would
// be lost from sight (and from paging) without a word.
var ErrRestoreUnfinished = errors.New("a restore into this data dir did not finish")

// Restore makes the backup read from r the store of dir, a data dir that
// must not exist yet or be empty: restoring never overwrites a store. The
// backup is written next to its final name, synced and checked with
// Inspect before it is renamed into place, so dir ends up with a whole,
// readable store or none. An older format is restored as it is; the first
// `pagerd serve` on dir upgrades it.
func Restore(r io.Reader, dir string) (Info, error) {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && !freshDir(entries):
		return Info{}, fmt.Errorf("data dir %s is not empty: restore into a new data dir (a restore never overwrites a store)", dir)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return Info{}, fmt.Errorf("data dir %s: %w", dir, err)
	}
	created := errors.Is(err, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Info{}, fmt.Errorf("data dir %s: %w", dir, err)
	}
	final := filepath.Join(dir, FileName)
	tmp := filepath.Join(dir, restoringName)
	// What a restore killed before it finished left (freshDir): this one
	// writes it again from the start.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Info{}, fmt.Errorf("data dir %s: %w", dir, err)
	}
	info, err := writeChecked(r, tmp)
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err == nil && created {
		err = syncDir(filepath.Dir(filepath.Clean(dir)))
	}
	if err != nil {
		_ = os.Remove(tmp)
		if created {
			_ = os.Remove(dir)
		}
		return Info{}, err
	}
	return info, nil
}

// writeChecked copies r to a new file at path, syncs it and inspects it.
func writeChecked(r io.Reader, path string) (Info, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return Info{}, err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Info{}, fmt.Errorf("write %s: %w", path, err)
	}
	info, err := Inspect(path)
	if err != nil {
		return Info{}, fmt.Errorf("the backup is not a readable pagerd store: %w", err)
	}
	return info, nil
}

// ctxWriter stops a copy once its context is done (a client that went
// away), instead of reading the whole database for nobody.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// WriteBackup has copyTo write a backup (Backup, BackupDir, or a running
// daemon's) into a temporary file next to out, syncs and inspects it
// (Inspect), then renames it to out: out is only ever a whole, checked
// backup.
func WriteBackup(out string, copyTo func(io.Writer) error) (Info, error) {
	dir := filepath.Dir(out)
	f, err := os.CreateTemp(dir, ".pagerd-backup-*")
	if err != nil {
		return Info{}, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = copyTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Info{}, err
	}
	info, err := Inspect(tmp)
	if err != nil {
		return Info{}, fmt.Errorf("the copy is not a readable store, nothing written: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return Info{}, err
	}
	// The rename is in the directory's entries, which the file's fsync
	// does not write: without this, a power cut soon after "wrote" could
	// leave the old backup, or none, under out.
	if err := syncDir(dir); err != nil {
		return Info{}, fmt.Errorf("the backup is written as %s, but its directory could not be synced: %w", out, err)
	}
	return info, nil
}
