//go:build !linux

package boltstore

// residentBytes is not read outside Linux: the trimmer does not run.
func residentBytes() (anon, file int64, ok bool) { return 0, 0, false }

// releaseMapped does nothing outside Linux.
func (s *Store) releaseMapped() error { return nil }
