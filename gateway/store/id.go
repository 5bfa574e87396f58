package store

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID makes an incident id in a shard: two hex digits of shard, a dash,
// then 48 bits of milliseconds and 32 random bits in lower-case Crockford
// base32, so ids of one shard sort by creation time.
func NewID(shard int, t time.Time) string {
	var b [10]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	var r [4]byte
	_, _ = rand.Read(r[:])
	copy(b[6:], r[:])
	// Written into one buffer: an id is made for every alert that comes,
	// and fmt and EncodeToString took three allocations for one string.
	const hex = "0123456789abcdef"
	var out [3 + 16]byte // idEncoding's 16 characters for 10 bytes
	if shard < 0 || shard > 0xff {
		return fmt.Sprintf("%02x-%s", shard, idEncoding.EncodeToString(b[:]))
	}
	out[0], out[1], out[2] = hex[shard>>4], hex[shard&0xf], '-'
	idEncoding.Encode(out[3:], b[:])
	return string(out[:])
}

// ShardOfID reads the shard an id was made in.
func ShardOfID(id string) (int, error) {
	if len(id) < 4 || id[2] != '-' {
		return 0, fmt.Errorf("%w: malformed id %q", ErrNotFound, id)
	}
	n, err := strconv.ParseUint(id[:2], 16, 8)
	if err != nil || n >= Shards {
		return 0, fmt.Errorf("%w: malformed id %q", ErrNotFound, id)
	}
	return int(n), nil
}

// MillisOfID reads the creation time NewID wrote into an incident id, in
// Unix milliseconds. An incident is created with the time its id was
// made, so a store can find it by creation time from its id alone (and
// must check: an imported incident may carry another).
func MillisOfID(id string) (int64, bool) {
	// 16 characters are NewID's 10 bytes; decoded into b, not into a new
	// slice: a storm's flush reads the time of thousands of ids.
	var b [10]byte
	if len(id) != 3+16 || id[2] != '-' {
		return 0, false
	}
	if n, err := idEncoding.Decode(b[:], []byte(id[3:])); err != nil || n != len(b) {
		return 0, false
	}
	var ms [8]byte
	copy(ms[2:], b[:6])
	return int64(binary.BigEndian.Uint64(ms[:])), true
}

// IDParts reads the shard and the 10 bytes NewID wrote into an id; ok is
// false for an id NewID did not make. With IDOf it lets an id ride inside
// another identifier (an Opsgenie request id, which says what its request
// did to which incident) and come back out the same.
func IDParts(id string) (shard int, b [10]byte, ok bool) {
	n, err := ShardOfID(id)
	if err != nil || len(id) != 3+16 {
		return 0, b, false
	}
	if m, err := idEncoding.Decode(b[:], []byte(id[3:])); err != nil || m != len(b) || IDOf(n, b) != id {
		return 0, b, false
	}
	return n, b, true
}

// IDOf is the id of a shard and the bytes of NewID (IDParts's inverse).
func IDOf(shard int, b [10]byte) string {
	return fmt.Sprintf("%02x-%s", shard, idEncoding.EncodeToString(b[:]))
}
