// Package redisstore keeps incidents in Redis so any number of stateless
// pagerd replicas can share them. It works on a standalone server, behind
// Sentinel and on Redis Cluster through one go-redis UniversalClient: every
// Lua script touches the keys of one shard, and a shard's keys share a hash
// tag ({NN}), so each script runs in one hash slot.
//
// Keys of shard NN (prefix "pagerd:{NN}:"):
//
//	inc:<id>             hash: doc (JSON), ver, status, pend, repeats, last_seen, details
//	dedup:<svc>\0<key>   string: id of the latest incident for the key
//	tl:<id>              list of timeline entries (JSON)
//	due                  sorted set "<id>/<deadline>" by due time in ms
//	claims               hash "<id>/<deadline>" -> "<token>:<original due ms>"
//	idx                  sorted set of ids by creation time in ms
//	open                 sorted set of open ids by creation time in ms
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// Store is a store.Store on Redis.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ store.Store = (*Store)(nil)

// New wraps a client. prefix namespaces the keys (default "pagerd") so
// several deployments can share one Redis.
func New(rdb redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = "pagerd"
	}
	return &Store{rdb: rdb, prefix: prefix}
}

func (s *Store) key(shard int, parts ...string) string {
	return fmt.Sprintf("%s:{%02x}:%s", s.prefix, shard, strings.Join(parts, ""))
}

func (s *Store) dedupKey(shard int, service, key string) string {
	return s.key(shard, "dedup:", service, "\x00", key)
}

// unavailable marks errors from talking to Redis, so the daemon answers 503.
func unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return err
	}
	return fmt.Errorf("%w: redis: %v", store.ErrUnavailable, err)
}

// record is what the doc field holds: the incident without the fields a
// repeat changes, which live in their own hash fields.
type record struct {
	ID        string          `json:"id"`
	Service   string          `json:"service"`
	DedupKey  string          `json:"dedup_key"`
	Source    string          `json:"source"`
	Summary   string          `json:"summary"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	State     policy.Incident `json:"state"`
}

func toRecord(i *store.Incident) record {
	return record{ID: i.ID, Service: i.Service, DedupKey: i.DedupKey, Source: i.Source, Summary: i.Summary,
		CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt, State: i.State}
}

func member(id, deadline string) string { return id + "/" + deadline }

func ms(t time.Time) int64 { return t.UnixMilli() }

var triggerScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local k = ARGV[1] .. cur
  local st = redis.call('HGET', k, 'status')
  if st and st ~= 'resolved' then
    redis.call('HINCRBY', k, 'repeats', 1)
    redis.call('HSET', k, 'last_seen', ARGV[6], 'details', ARGV[5])
    return {'repeated', cur}
  end
end
redis.call('HSET', KEYS[2], 'doc', ARGV[3], 'ver', 1, 'status', ARGV[4], 'repeats', 0, 'last_seen', ARGV[6], 'details', ARGV[5], 'pend', ARGV[9])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[7], ARGV[2])
if ARGV[4] ~= 'resolved' then redis.call('ZADD', KEYS[6], ARGV[7], ARGV[2]) end
local n = tonumber(ARGV[8])
local i = 10
for _ = 1, n do
  redis.call('ZADD', KEYS[4], ARGV[i + 1], ARGV[i])
  i = i + 2
end
while i <= #ARGV do
  redis.call('RPUSH', KEYS[3], ARGV[i])
  i = i + 1
end
return {'created', ARGV[2]}
`)

// Trigger stores a new incident, or records a repeat on the open one with
// the same dedup key: one script, one round trip.
func (s *Store) Trigger(ctx context.Context, inc *store.Incident, timeline []store.Entry) (string, store.Outcome, error) {
	shard, err := store.ShardOfID(inc.ID)
	if err != nil {
		return "", 0, err
	}
	if want := store.ShardOf(inc.Service, inc.DedupKey); shard != want {
		return "", 0, fmt.Errorf("incident id %s is not in shard %02x of its dedup key", inc.ID, want)
	}
	doc, err := json.Marshal(toRecord(inc))
	if err != nil {
		return "", 0, err
	}
	details := string(inc.Details)
	if details == "" {
		details = "null"
	}
	args := []any{s.key(shard, "inc:"), inc.ID, doc, string(inc.State.Status), details,
		inc.LastSeen.UTC().Format(time.RFC3339Nano), ms(inc.CreatedAt), len(inc.State.Pending), pendList(inc.State.Pending)}
	for _, d := range inc.State.Pending {
		args = append(args, member(inc.ID, d.ID), ms(d.At))
	}
	for _, e := range timeline {
		b, err := json.Marshal(e)
		if err != nil {
			return "", 0, err
		}
		args = append(args, b)
	}
	keys := []string{s.dedupKey(shard, inc.Service, inc.DedupKey), s.key(shard, "inc:", inc.ID), s.key(shard, "tl:", inc.ID),
		s.key(shard, "due"), s.key(shard, "idx"), s.key(shard, "open")}
	res, err := triggerScript.Run(ctx, s.rdb, keys, args...).StringSlice()
	if err != nil {
		return "", 0, unavailable(err)
	}
	if len(res) != 2 {
		return "", 0, fmt.Errorf("redis: unexpected trigger reply %v", res)
	}
	if res[0] == "repeated" {
		return res[1], store.Repeated, nil
	}
	inc.Version = 1
	return res[1], store.Created, nil
}

var incFields = []string{"doc", "ver", "repeats", "last_seen", "details"}

func decode(vals []any) (*store.Incident, error) {
	if len(vals) != len(incFields) || vals[0] == nil {
		return nil, store.ErrNotFound
	}
	str := func(v any) string { s, _ := v.(string); return s }
	var r record
	if err := json.Unmarshal([]byte(str(vals[0])), &r); err != nil {
		return nil, fmt.Errorf("decode incident: %w", err)
	}
	inc := &store.Incident{ID: r.ID, Service: r.Service, DedupKey: r.DedupKey, Source: r.Source, Summary: r.Summary,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, State: r.State}
	inc.Version, _ = strconv.ParseInt(str(vals[1]), 10, 64)
	n, _ := strconv.Atoi(str(vals[2]))
	inc.Repeats = n
	inc.LastSeen, _ = time.Parse(time.RFC3339Nano, str(vals[3]))
	if d := str(vals[4]); d != "" && d != "null" {
		inc.Details = json.RawMessage(d)
	}
	return inc, nil
}

// Get returns the incident with the id.
func (s *Store) Get(ctx context.Context, id string) (*store.Incident, error) {
	shard, err := store.ShardOfID(id)
	if err != nil {
		return nil, err
	}
	vals, err := s.rdb.HMGet(ctx, s.key(shard, "inc:", id), incFields...).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	return decode(vals)
}

// FindByDedup returns the latest incident for a dedup key.
func (s *Store) FindByDedup(ctx context.Context, service, dedupKey string) (*store.Incident, error) {
	shard := store.ShardOf(service, dedupKey)
	id, err := s.rdb.Get(ctx, s.dedupKey(shard, service, dedupKey)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return s.Get(ctx, id)
}

// updateScript checks the version, writes the incident, and syncs the due
// set from the stored list of pending deadline ids ("pend") to the new one:
// deadlines that left are removed with their claims; new ones are added with
// NX, so a deadline another replica holds keeps its lease score instead of
// coming due again mid-flight.
var updateScript = redis.NewScript(`
local ver = redis.call('HGET', KEYS[1], 'ver')
if not ver then return 'notfound' end
if ver ~= ARGV[1] then return 'conflict' end
local keep = {}
local n = tonumber(ARGV[7])
local i = 8
for _ = 1, n do
  keep[ARGV[i]] = true
  i = i + 2
end
local old = redis.call('HGET', KEYS[1], 'pend') or ''
for d in string.gmatch(old, '%S+') do
  if not keep[d] then
    local m = ARGV[4] .. '/' .. d
    redis.call('ZREM', KEYS[3], m)
    redis.call('HDEL', KEYS[4], m)
  end
end
i = 8
for _ = 1, n do
  redis.call('ZADD', KEYS[3], 'NX', ARGV[i + 1], ARGV[4] .. '/' .. ARGV[i])
  i = i + 2
end
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'status', ARGV[3], 'pend', ARGV[6])
redis.call('HINCRBY', KEYS[1], 'ver', 1)
if ARGV[3] == 'resolved' then
  redis.call('ZREM', KEYS[5], ARGV[4])
else
  redis.call('ZADD', KEYS[5], ARGV[5], ARGV[4])
end
while i <= #ARGV do
  redis.call('RPUSH', KEYS[2], ARGV[i])
  i = i + 1
end
return 'ok'
`)

// Update writes the incident if nobody else did since it was read, and makes
// the due set match its pending deadlines: one script, one round trip.
func (s *Store) Update(ctx context.Context, inc *store.Incident, timeline []store.Entry) error {
	shard, err := store.ShardOfID(inc.ID)
	if err != nil {
		return err
	}
	doc, err := json.Marshal(toRecord(inc))
	if err != nil {
		return err
	}
	args := []any{inc.Version, doc, string(inc.State.Status), inc.ID, ms(inc.CreatedAt), pendList(inc.State.Pending), len(inc.State.Pending)}
	for _, d := range inc.State.Pending {
		args = append(args, d.ID, ms(d.At))
	}
	for _, e := range timeline {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		args = append(args, b)
	}
	keys := []string{s.key(shard, "inc:", inc.ID), s.key(shard, "tl:", inc.ID), s.key(shard, "due"), s.key(shard, "claims"), s.key(shard, "open")}
	res, err := updateScript.Run(ctx, s.rdb, keys, args...).Text()
	if err != nil {
		return unavailable(err)
	}
	switch res {
	case "ok":
		inc.Version++
		return nil
	case "conflict":
		return store.ErrConflict
	case "notfound":
		return store.ErrNotFound
	}
	return fmt.Errorf("redis: unexpected update reply %q", res)
}

// pendList is the space-separated ids of the pending deadlines, as the
// scripts keep them. Deadline ids never contain spaces (policy makes them).
func pendList(ds []policy.Deadline) string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return strings.Join(ids, " ")
}

// Timeline returns the incident's entries, oldest first.
func (s *Store) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	shard, err := store.ShardOfID(id)
	if err != nil {
		return nil, err
	}
	pipe := s.rdb.Pipeline()
	exists := pipe.Exists(ctx, s.key(shard, "inc:", id))
	lr := pipe.LRange(ctx, s.key(shard, "tl:", id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	if exists.Val() == 0 {
		return nil, store.ErrNotFound
	}
	out := make([]store.Entry, 0, len(lr.Val()))
	for _, raw := range lr.Val() {
		var e store.Entry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, fmt.Errorf("decode timeline of %s: %w", id, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// List reads each shard's index and filters, newest first. Open incidents
// are listed from the open index, so the common query does not walk
// resolved history.
func (s *Store) List(ctx context.Context, f store.Filter) ([]*store.Incident, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = store.DefaultListLimit
	}
	index := "idx"
	if f.Status == policy.StatusTriggered || f.Status == policy.StatusAcknowledged {
		index = "open"
	}
	pipe := s.rdb.Pipeline()
	zcmds := make([]*redis.ZSliceCmd, store.Shards)
	for shard := range zcmds {
		zcmds[shard] = pipe.ZRevRangeWithScores(ctx, s.key(shard, index), 0, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	var hits []redis.Z
	for _, c := range zcmds {
		hits = append(hits, c.Val()...)
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].Member.(string) > hits[j].Member.(string)
	})
	const page = 256
	var out []*store.Incident
	for start := 0; start < len(hits) && len(out) < limit; start += page {
		end := min(start+page, len(hits))
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.SliceCmd, 0, end-start)
		for _, h := range hits[start:end] {
			id := h.Member.(string)
			shard, _ := store.ShardOfID(id)
			cmds = append(cmds, pipe.HMGet(ctx, s.key(shard, "inc:", id), incFields...))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, unavailable(err)
		}
		for _, c := range cmds {
			inc, err := decode(c.Val())
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if matches(inc, f) && len(out) < limit {
				out = append(out, inc)
			}
		}
	}
	return out, nil
}

func matches(inc *store.Incident, f store.Filter) bool {
	return (f.Status == "" || inc.State.Status == f.Status) &&
		(f.Service == "" || inc.Service == f.Service) &&
		(f.Priority == "" || inc.State.Priority == f.Priority)
}

var claimScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i = 1, #due, 2 do
  local m, score = due[i], due[i + 1]
  local prev = redis.call('HGET', KEYS[2], m)
  local orig = score
  local takeover = 0
  if prev then
    orig = string.match(prev, ':(.*)$')
    takeover = 1
  end
  local token = ARGV[4] .. i
  redis.call('ZADD', KEYS[1], ARGV[2], m)
  redis.call('HSET', KEYS[2], m, token .. ':' .. orig)
  table.insert(out, m)
  table.insert(out, orig)
  table.insert(out, token)
  table.insert(out, takeover)
end
return out
`)

// ClaimDue leases due deadlines, shard by shard, earliest first within a
// shard. A claimed deadline is re-scored to its lease end, so it comes due
// again by itself if the claimer dies.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	var out []store.Claim
	start := randShard()
	for n := 0; n < store.Shards && len(out) < max; n++ {
		shard := (start + n) % store.Shards
		res, err := claimScript.Run(ctx, s.rdb, []string{s.key(shard, "due"), s.key(shard, "claims")},
			ms(now), ms(now.Add(lease)), max-len(out), newToken()).Slice()
		if err != nil {
			return out, unavailable(err)
		}
		for i := 0; i+3 < len(res); i += 4 {
			m, _ := res[i].(string)
			origS, _ := res[i+1].(string)
			token, _ := res[i+2].(string)
			take, _ := res[i+3].(int64)
			inc, dl, _ := strings.Cut(m, "/")
			orig, _ := strconv.ParseInt(origS, 10, 64)
			out = append(out, store.Claim{Incident: inc, Deadline: dl, Due: time.UnixMilli(orig).UTC(), Token: token, Takeover: take == 1})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Due.Before(out[j].Due) })
	return out, nil
}

var completeScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur and string.sub(cur, 1, #ARGV[2] + 1) == ARGV[2] .. ':' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1
`)

// Complete drops a claimed deadline if the claim is still this one's.
func (s *Store) Complete(ctx context.Context, c store.Claim) error {
	shard, err := store.ShardOfID(c.Incident)
	if err != nil {
		return err
	}
	err = completeScript.Run(ctx, s.rdb, []string{s.key(shard, "due"), s.key(shard, "claims")}, member(c.Incident, c.Deadline), c.Token).Err()
	return unavailable(err)
}

// NextDue is the earliest score over all shards' due sets.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.ZSliceCmd, store.Shards)
	for shard := range cmds {
		cmds[shard] = pipe.ZRangeWithScores(ctx, s.key(shard, "due"), 0, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return time.Time{}, false, unavailable(err)
	}
	var best float64
	found := false
	for _, c := range cmds {
		for _, z := range c.Val() {
			if !found || z.Score < best {
				best, found = z.Score, true
			}
		}
	}
	if !found {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(int64(best)).UTC(), true, nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return unavailable(s.rdb.Ping(ctx).Err()) }

// Close closes the client.
func (s *Store) Close() error { return s.rdb.Close() }

func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-"
}

func randShard() int {
	var b [1]byte
	_, _ = rand.Read(b[:])
	return int(b[0]) % store.Shards
}

// Prefix is the key prefix the store uses.
func Prefix(s *Store) string { return s.prefix }
