package redisstore

import "context"

// SpoilHeld makes the i-th page held in a storm undecodable, as a bug or
// a damaged store would.
func SpoilHeld(ctx context.Context, s *Store, storm string, i int) error {
	return s.rdb.LSet(ctx, s.stormKeys(storm)[1], int64(i), "{").Err()
}

// DueKey is the key of a shard's due set.
func DueKey(s *Store, shard int) string { return s.key(shard, "due") }
