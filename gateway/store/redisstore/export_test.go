package redisstore

import "log/slog"

// Prefix is the key prefix a store uses, for tests that reopen it.
func Prefix(s *Store) string { return s.prefix }

// TriggerScriptSHA is the SHA1 of the ingest script, for benchmarking the
// same script raw with redis-benchmark.
func TriggerScriptSHA() string { return triggerScript.Hash() }

// StoredParts are the parts of a stored incident record, for benchmarks
// that replay the ingest script with the same sizes.
type StoredParts struct{ Doc, Details, Timeline string }

// ParseRecord splits a stored incident record into its parts.
func ParseRecord(v string) (StoredParts, error) {
	h, err := parseRecord(v)
	return StoredParts{h.doc, h.det, h.tl}, err
}

// UnavailableWrite is how a write's error is classified, for the replies
// no write path can be steered into (NOSCRIPT behind a pipelined EVALSHA).
func UnavailableWrite(err error) error { return unavailableWrite(err) }

// ClaimAllScriptSHA is the SHA1 of the script that claims over every shard
// at once, for tests that make a server refuse it.
func ClaimAllScriptSHA() string { return claimAllScript.Hash() }

// SetLog sets where the store logs, as Open does.
func SetLog(s *Store, log *slog.Logger) { s.log = log }
