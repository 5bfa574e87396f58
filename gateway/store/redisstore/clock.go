package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// timeScript reads the server's clock (TIME) on the node of shard 0: a
// script, not TIME itself, because only a script names a key, which pins
// it to one node of a cluster, whose masters may disagree: every replica
// reads the same node's clock.
var timeScript = redis.NewScript(`return redis.call('TIME')`)

// ServerTime is the Redis server's clock (TIME), read on the node that
// holds shard 0: the clock every replica judges deadlines and leases by
// (gateway/sharedclock), so that hosts whose clocks disagree agree on
// when a step is due and when a lease ends.
func (s *Store) ServerTime(ctx context.Context) (time.Time, error) {
	res, err := timeScript.Run(ctx, s.rdb, []string{s.key(0, "due")}).Slice()
	if err != nil {
		return time.Time{}, unavailable(err)
	}
	if len(res) != 2 {
		return time.Time{}, fmt.Errorf("redis: TIME answered %v", res)
	}
	var parts [2]int64
	for i, v := range res {
		switch v := v.(type) {
		case int64:
			parts[i] = v
		case string:
			if _, err := fmt.Sscan(v, &parts[i]); err != nil {
				return time.Time{}, fmt.Errorf("redis: TIME answered %q", v)
			}
		default:
			return time.Time{}, fmt.Errorf("redis: TIME answered %v", res)
		}
	}
	return time.Unix(parts[0], parts[1]*int64(time.Microsecond)).UTC(), nil
}
