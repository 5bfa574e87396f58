package boltstore

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// residentFileBytes is the process's resident memory mapped from files
// (RssFile in /proc/self/status: the binary's pages and the store map's),
// and RssShmem, which is where a store file on tmpfs counts.
func residentFileBytes() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	file, ok := statusKB(b, "RssFile:")
	if !ok {
		return 0, false
	}
	shmem, _ := statusKB(b, "RssShmem:")
	return (file + shmem) << 10, true
}

// statusKB reads the figure, in kB, of a /proc status line.
func statusKB(status []byte, name string) (int64, bool) {
	_, rest, found := bytes.Cut(status, []byte("\n"+name))
	if !found {
		return 0, false
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))), 10, 64)
	return kb, err == nil
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
