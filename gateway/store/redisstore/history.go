package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/blob"
	"github.com/pagerd/pagerd/policy"
)

// History and retention. An incident's record holds its timeline, so one
// GET reads both: History is one pipeline over the shards' creation
// indexes, then one pipeline of GETs per store.HistoryBatch incidents.
// Expire finds what to remove the same way and removes it with one script
// per shard (pipelined), which checks each record again, atomically: an
// incident written since it was read (a new version, reopened, something
// pending) stays.

// indexRange reads the ids and creation times of every shard's index
// ("idx" or "open") in [lo, hi] ms, in one pipeline, sorted by creation
// time then id, oldest first.
func (s *Store) indexRange(ctx context.Context, index string, lo, hi int64) ([]redis.Z, error) {
	by := &redis.ZRangeBy{Min: "-inf", Max: "+inf"}
	if lo > math.MinInt64 {
		by.Min = strconv.FormatInt(lo, 10)
	}
	if hi < math.MaxInt64 {
		by.Max = strconv.FormatInt(hi, 10)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.ZSliceCmd, store.Shards)
	for shard := range cmds {
		cmds[shard] = pipe.ZRangeByScoreWithScores(ctx, s.key(shard, index), by)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	var out []redis.Z
	for _, c := range cmds {
		out = append(out, c.Val()...)
	}
	sortByScore(out)
	return out, nil
}

// sortByScore orders index entries by score (creation time), then id.
func sortByScore(zs []redis.Z) {
	sort.Slice(zs, func(i, j int) bool {
		if zs[i].Score != zs[j].Score {
			return zs[i].Score < zs[j].Score
		}
		return zs[i].Member.(string) < zs[j].Member.(string)
	})
}

// records reads the stored records of ids in one pipeline; an id with no
// record (expired or never written) is "".
func (s *Store) records(ctx context.Context, ids []string) ([]string, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		shard, err := store.ShardOfID(id)
		if err != nil {
			return nil, err
		}
		cmds[i] = pipe.Get(ctx, s.key(shard, "inc:", id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	out := make([]string, len(ids))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// decodeTimeline reads a record's timeline, one JSON entry per line, as
// one JSON array: one decoder run, not one per entry.
func decodeTimeline(id, tl string) ([]store.Entry, error) {
	out := []store.Entry{}
	tl = strings.TrimRight(tl, "\n")
	if tl == "" {
		return out, nil
	}
	if err := json.Unmarshal([]byte("["+strings.ReplaceAll(tl, "\n", ",")+"]"), &out); err != nil {
		return nil, fmt.Errorf("decode timeline of %s: %w", id, err)
	}
	return out, nil
}

// History calls fn with every incident created in [since, until), oldest
// first, with its timeline: one round trip for the indexes, then one per
// store.HistoryBatch incidents.
func (s *Store) History(ctx context.Context, since, until time.Time, fn func(*store.Incident, []store.Entry) error) error {
	lo, hi, ok := store.Filter{Since: since, Until: until}.CreatedRange()
	if !ok {
		return nil
	}
	hits, err := s.indexRange(ctx, "idx", lo, hi)
	if err != nil {
		return err
	}
	ids := make([]string, 0, min(len(hits), store.HistoryBatch))
	for start := 0; start < len(hits); start += store.HistoryBatch {
		ids = ids[:0]
		for _, h := range hits[start:min(start+store.HistoryBatch, len(hits))] {
			ids = append(ids, h.Member.(string))
		}
		recs, err := s.records(ctx, ids)
		if err != nil {
			return err
		}
		incs, tls, err := decodeAll(ids, recs)
		if err != nil {
			return err
		}
		for i, inc := range incs {
			if inc == nil {
				continue // expired since the index was read
			}
			if err := fn(inc, tls[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeAll decodes records and their timelines on every core
// (store.ParallelDecode): inflating and decoding is most of what a year of
// history costs. An empty record gives a nil incident.
func decodeAll(ids, recs []string) ([]*store.Incident, [][]store.Entry, error) {
	incs, tls := make([]*store.Incident, len(recs)), make([][]store.Entry, len(recs))
	err := store.ParallelDecode(len(recs), func(i int) error {
		if recs[i] == "" {
			return nil
		}
		h, err := parseRecord(recs[i])
		if err == nil {
			incs[i], err = decodeParsed(h)
		}
		if err == nil {
			tls[i], err = decodeTimeline(ids[i], h.tl)
		}
		if err != nil {
			return fmt.Errorf("incident %s: %w", ids[i], err)
		}
		return nil
	})
	return incs, tls, err
}

// expireScript removes the incidents ARGV names (id, version pairs) from
// one shard: KEYS are the shard's idx, open, due, claims and resolved, then each
// incident's record key and dedup key. An incident is removed only if its
// record is still the version read, resolved, and has nothing pending; its
// dedup key goes only if it still names it. It returns how many it removed.
var expireScript = redis.NewScript(`
local n = 0
for i = 1, #ARGV, 2 do
  local id, ver = ARGV[i], ARGV[i + 1]
  local rk, dk = KEYS[5 + i], KEYS[6 + i]
  local v = redis.call('GETRANGE', rk, 0, 127)
  local hver, st, nx = string.match(v, '^v1 (%d+) (%S+) (%S+) ')
  if hver == ver and st == 'resolved' and nx == '-' then
    redis.call('DEL', rk)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
    redis.call('ZREM', KEYS[5], id)
    if redis.call('GET', dk) == id then redis.call('DEL', dk) end
    n = n + 1
  end
end
return n
`)

// expireRead is how many records Expire reads per round trip while it
// looks for what to remove.
const expireRead = 256

// Expire removes up to max resolved incidents that store.Expirable allows,
// oldest created first: the open index once, then each shard's index up to
// the cut-off a page at a time (so a large backlog is not read whole for
// every batch), the records of the candidates (resolved ones: the open
// index rules the rest out unread) in pipelines of expireRead, and one
// pipeline of expireScript, a script per shard. A record that does not
// decode is skipped, kept, and logged (store.Undecodable). On an error it
// still returns how many the scripts that answered removed.
func (s *Store) Expire(ctx context.Context, before time.Time, max int) (int, bool, error) {
	if max <= 0 {
		return 0, false, nil
	}
	hi := strconv.FormatInt(before.UnixMilli(), 10)
	open, err := s.indexRange(ctx, "open", math.MinInt64, before.UnixMilli())
	if err != nil {
		return 0, false, err
	}
	isOpen := make(map[string]bool, len(open))
	for _, z := range open {
		isOpen[z.Member.(string)] = true
	}
	type victim struct {
		inc *store.Incident
		ver int64
	}
	var victims []victim
	var skipped store.Undecodable
	more := false
	// Each shard's oldest max+1 hold the oldest max+1 of all; a page
	// that is all kept (open, or owing something) moves that shard on.
	page := int64(max + 1)
	offset := make([]int64, store.Shards)
	done := make([]bool, store.Shards)
	for !more && slices.Contains(done, false) {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.ZSliceCmd, store.Shards)
		for shard := range cmds {
			if !done[shard] {
				cmds[shard] = pipe.ZRangeByScoreWithScores(ctx, s.key(shard, "idx"),
					&redis.ZRangeBy{Min: "-inf", Max: hi, Offset: offset[shard], Count: page})
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return 0, false, unavailable(err)
		}
		var zs []redis.Z
		for shard, c := range cmds {
			if c == nil {
				continue
			}
			got := c.Val()
			offset[shard] += int64(len(got))
			done[shard] = int64(len(got)) < page
			zs = append(zs, got...)
		}
		sortByScore(zs)
		var candidates []string
		for _, z := range zs {
			if id := z.Member.(string); !isOpen[id] {
				candidates = append(candidates, id)
			}
		}
	scan:
		for start := 0; start < len(candidates); start += expireRead {
			ids := candidates[start:min(start+expireRead, len(candidates))]
			recs, err := s.records(ctx, ids)
			if err != nil {
				return 0, false, err
			}
			for i, v := range recs {
				if v == "" {
					continue
				}
				h, err := parseRecord(v)
				if err != nil {
					skipped.Add(ids[i], err)
					continue
				}
				if h.status != string(policy.StatusResolved) || h.next != "-" {
					continue
				}
				inc, err := decodeParsed(h)
				if err != nil {
					skipped.Add(ids[i], err)
					continue
				}
				if !store.Expirable(inc, before) {
					continue
				}
				if len(victims) == max {
					more = true
					break scan
				}
				victims = append(victims, victim{inc, h.ver})
			}
		}
	}
	skipped.Log(ctx, s.log)
	if len(victims) == 0 {
		return 0, false, nil
	}
	byShard := map[int][]victim{}
	for _, v := range victims {
		shard, _ := store.ShardOfID(v.inc.ID)
		byShard[shard] = append(byShard[shard], v)
	}
	if err := expireScript.Load(ctx, s.rdb).Err(); err != nil {
		return 0, false, unavailable(err)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, 0, len(byShard))
	for shard, vs := range byShard {
		keys := []string{s.key(shard, "idx"), s.key(shard, "open"), s.key(shard, "due"), s.key(shard, "claims"), s.key(shard, "resolved")}
		args := make([]any, 0, 2*len(vs))
		for _, v := range vs {
			keys = append(keys, s.key(shard, "inc:", v.inc.ID), s.dedupKey(shard, v.inc.Service, v.inc.DedupKey))
			args = append(args, v.inc.ID, v.ver)
		}
		cmds = append(cmds, expireScript.EvalSha(ctx, pipe, keys, args...))
	}
	_, err = pipe.Exec(ctx)
	// The scripts that answered removed what they say, whichever failed:
	// the caller counts them with the error.
	n := 0
	for _, c := range cmds {
		k, _ := c.Int()
		n += k
	}
	if err != nil {
		return n, false, unavailableWrite(err)
	}
	return n, more, nil
}

// CountOpen counts open incidents in one pass over the open index, newest
// first, reading of each record its status (from the header) and its
// service and priority (from its document, decoded into those two fields
// only): a full decode of every open incident, per status, made a scrape
// in a storm cost half a second of CPU. A record whose header does not
// parse, or whose document does not decode, is skipped and named
// (store.OpenCounter.Skip).
func (s *Store) CountOpen(ctx context.Context, limit int) (store.OpenCounts, error) {
	all, err := s.indexRange(ctx, "open", math.MinInt64, math.MaxInt64)
	if err != nil {
		return store.OpenCounts{}, err
	}
	const page = 256
	n := store.NewOpenCounter(limit)
	for end := len(all); end > 0 && !n.Full(); end -= page {
		ids := make([]string, 0, page)
		for i := end - 1; i >= max(0, end-page); i-- {
			ids = append(ids, all[i].Member.(string))
		}
		recs, err := s.records(ctx, ids)
		if err != nil {
			return store.OpenCounts{}, err
		}
		for i, rec := range recs {
			if rec == "" {
				continue // resolved and expired since the index was read
			}
			h, err := parseRecord(rec)
			if err != nil {
				n.Skip(ids[i], err)
				continue
			}
			status := policy.Status(h.status)
			if !n.Wants(status) {
				continue // resolved since the index was read, or its status counted in full
			}
			var v struct {
				Service string `json:"service"`
				State   struct {
					Priority string `json:"priority"`
				} `json:"state"`
			}
			doc, err := blob.Unpack(h.doc)
			if err == nil {
				err = json.Unmarshal(doc, &v)
			}
			if err != nil {
				n.Skip(ids[i], fmt.Errorf("decode incident: %w", err))
				continue
			}
			n.Add(v.Service, v.State.Priority, status)
		}
	}
	return n.OpenCounts, nil
}
