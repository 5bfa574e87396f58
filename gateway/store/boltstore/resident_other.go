//go:build !linux

package boltstore

// residentFileBytes is not read outside Linux: the trimmer does not run.
func residentFileBytes() (int64, bool) { return 0, false }

// releaseMapped does nothing outside Linux.
func (s *Store) releaseMapped() error { return nil }
