package redisstore

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
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

// TestDedupKeyName: a dedup key is named as it always was (the keys of
// incidents stored before must still be found), in one allocation.
func TestDedupKeyName(t *testing.T) {
	s := New(nil, "pfx")
	for _, c := range []struct{ service, key string }{{"db", `am:{}:{alertname="DiskFull"}`}, {"", ""},
		{"payments", strings.Repeat("k", 1000)}, {"x\x00y", "é"}} {
		for _, shard := range []int{0, 7, store.Shards - 1} {
			h := sha256.Sum256([]byte(c.service + "\x00" + c.key))
			want := s.key(shard, "dedup:", base64.RawURLEncoding.EncodeToString(h[:16]))
			if got := s.dedupKey(shard, c.service, c.key); got != want {
				t.Errorf("%q %q shard %d: %q, want %q", c.service, c.key, shard, got, want)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { s.dedupKey(3, "db", `am:{}:{alertname="DiskFull"}`) }); n != 1 && !raceEnabled {
		t.Errorf("a dedup key takes %.0f allocations, want 1", n)
	}
}
