package redisstore

import (
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
)

// TestKeysOfConstantNamesAreBuiltOnce: the keys every script names (a
// shard's due set, claims, indexes and incident prefix) are the same
// strings as any other key of the shard would be, and naming one
// allocates nothing.
func TestKeysOfConstantNamesAreBuiltOnce(t *testing.T) {
	s := New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), "team")
	defer s.Close()
	for _, shard := range []int{0, 7, store.Shards - 1} {
		for _, name := range []string{"due", "claims", "idx", "open", "inc:", "job:"} {
			if got, want := s.key(shard, name), fmt.Sprintf("team:{%02x}:%s", shard, name); got != want {
				t.Fatalf("key(%d, %q) = %q, want %q", shard, name, got, want)
			}
		}
		if got, want := s.key(shard, "inc:", "0a-x"), fmt.Sprintf("team:{%02x}:inc:0a-x", shard); got != want {
			t.Fatalf("key(%d, inc:, 0a-x) = %q, want %q", shard, got, want)
		}
	}
	var k string
	if n := testing.AllocsPerRun(100, func() {
		k = s.key(5, "due")
		k = s.key(5, "claims")
		k = s.key(5, "idx")
		k = s.key(5, "open")
		k = s.key(5, "inc:")
	}); n != 0 {
		t.Fatalf("naming a shard's fixed keys allocated %v times, want 0", n)
	}
	_ = k
}
