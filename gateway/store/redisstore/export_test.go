package redisstore

// Prefix is the key prefix a store uses, for tests that reopen it.
func Prefix(s *Store) string { return s.prefix }
