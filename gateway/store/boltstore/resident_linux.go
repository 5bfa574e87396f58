package boltstore

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// residentBytes is the process's resident memory, anonymous (its own:
// heap, stacks) and mapped from files (the binary's pages and the store
// map's; a store file on tmpfs counts there too), from /proc/self/statm
// (pages: resident, then shared, which is the file-backed part). statm
// is read rather than status, which the kernel fills with fifty figures:
// the trimmer looks ten times a second.
func residentBytes() (anon, file int64, ok bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, 0, false
	}
	f := bytes.Fields(b)
	if len(f) < 3 {
		return 0, 0, false
	}
	resident, err1 := strconv.ParseInt(string(f[1]), 10, 64)
	shared, err2 := strconv.ParseInt(string(f[2]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	page := int64(os.Getpagesize())
	return (resident - shared) * page, shared * page, true
}

// releaseMapped gives the resident pages of the store's map back to the
// page cache (madvise MADV_DONTNEED on a shared file map unmaps them and
// keeps their content in the file and the cache). It holds a read
// transaction meanwhile: bbolt maps the file again only once every read
// transaction is over, so the address and length are the map's.
func (s *Store) releaseMapped() error {
	tx, err := s.db.Begin(false)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	start, size := s.db.Info().Data, uintptr(tx.Size())
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, start, size, syscall.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
