package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/blob"
	"github.com/pagerd/pagerd/gateway/store/internal/docjson"
	"github.com/pagerd/pagerd/policy"
)

// Storm keys, in the storm's shard (store.ShardOfStorm):
//
//	storm:<key>    hash: end (ms), sent, top, next, opened, ranks, nranks,
//	               sentback, sentback_end (ms), flushed_by — the window
//	               (store.StormState; ranks and nranks are its Ranks and
//	               NextRanks, comma-separated; sentback and sentback_end
//	               its SentBackAt and SentBackEnd, absent when zero;
//	               flushed_by its FlushedBy); asked, answer: the
//	               last page Admit answered (incident, step, time) and
//	               its answer, so that the same page asked again (its
//	               answer lost) gets the same answer, counted once
//	held:<key>     list of held pages, JSON, oldest first
//	bundle:<id>    string: JSON of a sent bundle, expiring with its links
//
// The storm's due entry is the member "s:<key>" of the shard's due set, so
// claims, leases and takeovers work as they do for incidents.

// admitScript is store.StormState.Admit in Lua, plus listing the page when
// it is held (ARGV[5]) or sent while others are (ARGV[7], marked Sent), and
// scheduling the storm at its window's end when it holds its first page
// (unless it is claimed: the flush reschedules it). With ARGV[8] 1 it is
// StormState.Hold instead (HoldFailed): the page is held whatever the rules
// say, in the window as it is. It returns send, listed, and when a held
// page goes out (StormState.HeldUntil: until, closing), or the window's end
// for a page sent, and, for a page listed, whether a page of its incident
// (ARGV[10]) held before it pages acknowledged incidents too
// (Admission.Acknowledged). The same page asked again (ARGV[9], its incident, step
// and time, the same as the last Admit's: the dispatcher asking again when
// the first answer was lost, and no other page of the storm was asked
// between) gets the first answer, and nothing changes:
// counted again, a page let out as the last of those at once was held to
// the window's end, and one held was listed twice.
var admitScript = redis.NewScript(`
local now, win, imm, rank, again = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[8] == '1'
local h = redis.call('HMGET', KEYS[1], 'end', 'sent', 'top', 'next', 'asked', 'answer')
if not again and h[5] == ARGV[9] and h[6] then
  local a = {}
  for v in string.gmatch(h[6], '[^,]+') do a[#a + 1] = tonumber(v) end
  return a
end
if imm < 1 then imm = 1 end
-- The pages held, read (LLEN) only where the answer needs them before a
-- write: a page held is counted by its RPUSH's reply instead, the held
-- before it that reply less one (a script runs alone), which saves the
-- read in an alert storm's every admit but its first pages.
local held = nil
local function heldNow()
  if held == nil then held = redis.call('LLEN', KEYS[2]) end
  return held
end
local e, sent, top, nxt = tonumber(h[1]), tonumber(h[2]), tonumber(h[3]), tonumber(h[4]) or ` + strconv.Itoa(store.NoRank) + `
local fresh = false
if not e and again then
  e, sent, top, nxt, fresh = now, 0, ` + strconv.Itoa(store.NoRank) + `, ` + strconv.Itoa(store.NoRank) + `, true
elseif not e or (now >= e and not again and heldNow() == 0) then
  e, sent, top, nxt, fresh = now + win, 0, ` + strconv.Itoa(store.NoRank) + `, ` + strconv.Itoa(store.NoRank) + `, true
end
-- The fields of the window this admit sets, written in one HSET at the
-- end, in this order.
local set, order = {}, {'opened', 'ranks', 'nranks', 'end', 'sent', 'top', 'next', 'asked', 'answer'}
if fresh then
  set.opened, set.ranks, set.nranks = ` + strconv.Itoa(store.NoRank) + `, '', ''
end
local send, listed, acked = 0, 0, 0
if not again and (sent < imm or rank < top) then
  sent = sent + 1
  if rank < top then top = rank end
  local f = 'ranks'
  if now >= e then
    if rank < nxt then nxt = rank end
    f = 'nranks'
  end
  local rs = set[f]
  if rs == nil then rs = redis.call('HGET', KEYS[1], f) end
  if rs and rs ~= '' then rs = rs .. ',' .. rank else rs = tostring(rank) end
  set[f] = rs
  send = 1
  if heldNow() > 0 then
    -- Listed as sent: say whether a page of its incident held before it
    -- pages acknowledged incidents too (Admission.Acknowledged). The
    -- listings are docjson's: the incident first, "a":true outside any
    -- string (a quote in a value is escaped).
    local pre = '{"i":"' .. ARGV[10] .. '"'
    for _, v in ipairs(redis.call('LRANGE', KEYS[2], '0', '-1')) do
      if string.sub(v, 1, #pre) == pre and string.find(v, ',"a":true', 1, true) and not string.find(v, ',"x":true}', 1, true) then
        acked = 1
        break
      end
    end
    redis.call('RPUSH', KEYS[2], ARGV[7])
    listed = 1
  end
else
  -- The first page held (nothing held before it) schedules the storm.
  if redis.call('RPUSH', KEYS[2], ARGV[5]) == 1 and redis.call('HEXISTS', KEYS[4], ARGV[6]) == 0 then
    redis.call('ZADD', KEYS[3], string.format('%d', e), ARGV[6])
  end
end
local out = {send, listed, e, 0, acked}
if send == 0 and now >= e then out = {send, listed, now + win, 1, acked} end
set['end'], set.sent, set.top, set.next = e, sent, top, nxt
if not again then
  set.asked, set.answer = ARGV[9], string.format('%d,%d,%d,%d,%d', unpack(out))
end
-- The numbers as strings, formatted as integers (the digits Redis wrote
-- before): Redis turns a number passed to a command into one with
-- printf's %.17g, a microsecond more than a string costs, four or five
-- times an admit (2.5 of its 18 µs, 2026-12-06).
local args = {}
for _, f in ipairs(order) do
  local v = set[f]
  if v ~= nil then
    if type(v) == 'number' then v = string.format('%d', v) end
    args[#args + 1] = f
    args[#args + 1] = v
  end
end
redis.call('HSET', KEYS[1], unpack(args))
return out
`)

func (s *Store) stormKeys(key string) []string {
	shard := store.ShardOfStorm(key)
	return []string{s.key(shard, "storm:", key), s.key(shard, "held:", key), s.key(shard, "due"), s.key(shard, "claims")}
}

// Admit decides whether a page goes out now or joins the storm's bundle:
// one script, one round trip.
func (s *Store) Admit(ctx context.Context, key string, p store.HeldPage, now time.Time, r store.StormRules) (store.Admission, error) {
	return s.admit(ctx, key, p, now, r, 0)
}

// HoldFailed lists a page again, held: the admit script told to hold it.
func (s *Store) HoldFailed(ctx context.Context, key string, p store.HeldPage, now time.Time, r store.StormRules) (store.Admission, error) {
	return s.admit(ctx, key, p, now, r, 1)
}

func (s *Store) admit(ctx context.Context, key string, p store.HeldPage, now time.Time, r store.StormRules, again int) (store.Admission, error) {
	page, sent, err := docjson.EncodeHeldPage(p)
	if err != nil {
		return store.Admission{}, err
	}
	asked := store.AskedKey(p, now)
	res, err := s.batch.run(ctx, admitScript, s.stormKeys(key), ms(now), r.Window.Milliseconds(), r.Immediate, p.Rank,
		page, store.StormMember(key), sent, again, asked, p.Incident).Int64Slice()
	shard := store.ShardOfStorm(key)
	if err != nil {
		s.heads.touched(shard)
		// A script whose answer was lost may have held the page: the
		// caller asks again rather than send it on its own as well.
		return store.Admission{}, unavailableWrite(err)
	}
	// Four fields from a script of a version before Acknowledged (its
	// answer kept for a page asked again in a rolling upgrade).
	if len(res) != 4 && len(res) != 5 {
		return store.Admission{}, fmt.Errorf("redis: unexpected admit reply %v", res)
	}
	if res[0] == 0 {
		// Held: the storm is due at its window's end (res[2]), or
		// at once when that has passed (closing).
		at := res[2]
		if res[3] == 1 {
			at = ms(now)
		}
		s.heads.wrote(shard, at)
	}
	return store.Admission{Send: res[0] == 1, Listed: res[1] == 1, Until: time.UnixMilli(res[2]).UTC(), Closing: res[3] == 1,
		Acknowledged: len(res) == 5 && res[4] == 1}, nil
}

// withdrawScript lists ARGV[1] (a page marked Sent) after the held pages
// if any are held, unless the page's step (incident ARGV[2], deadline
// ARGV[3]) is listed held more than once: store.Storms.Withdraw. A
// listing it cannot decode is not the step's.
var withdrawScript = redis.NewScript(`
local held = redis.call('LRANGE', KEYS[1], 0, -1)
if #held == 0 then return 0 end
local n = 0
for _, v in ipairs(held) do
  local ok, p = pcall(cjson.decode, v)
  if ok and type(p) == 'table' and p.i == ARGV[2] and (p.d or '') == ARGV[3] and p.x ~= true then
    n = n + 1
    if n > 1 then return 0 end
  end
end
redis.call('RPUSH', KEYS[1], ARGV[1])
return 1
`)

// Withdraw lists a held page as gone out on its own: one script, one
// round trip. It reads the storm's held pages, as a flush does: it is
// asked only after a stall (a page's storm answered past its claim's
// send window).
func (s *Store) Withdraw(ctx context.Context, key string, p store.HeldPage) error {
	_, sent, err := docjson.EncodeHeldPage(p)
	if err != nil {
		return err
	}
	return unavailableWrite(withdrawScript.Run(ctx, s.rdb, s.stormKeys(key)[1:2], sent, p.Incident, p.Deadline).Err())
}

// Held returns the storm's held pages, oldest first.
func (s *Store) Held(ctx context.Context, key string) ([]store.HeldPage, error) {
	vals, err := s.rdb.LRange(ctx, s.stormKeys(key)[1], 0, -1).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]store.HeldPage, 0, len(vals))
	for _, v := range vals {
		p, err := docjson.DecodeHeldPage(v)
		if err != nil {
			p = store.HeldPage{Unreadable: fmt.Sprintf("decode held page of storm %s: %v", key, err)}
		}
		out = append(out, p)
	}
	return out, nil
}

// flushedScript is store.StormState.Flushed in Lua, done only while the
// claim is still this one's: drop the n pages that went out, and a step
// they carried held again after them (store.HeldAgain), open the next
// window (its top is the message's and that of pages sent at once since
// the old window's end), release the claim and reschedule the storm if
// pages wait. The window keeps the claim's token (flushed_by), so that the
// same claim asking again, its first answer lost, is told its flush is
// done, and nothing changes.
var flushedScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[4], ARGV[1])
if not cur or string.sub(cur, 1, #ARGV[2] + 1) ~= ARGV[2] .. ':' then
  if redis.call('HGET', KEYS[1], 'flushed_by') == ARGV[2] then return 1 end
  return 0
end
local n, now, win, imm, top = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
if imm < 1 then imm = 1 end
-- The pages left held after the flush: those after the n it read, less
-- those dropped, when it read them (the list's length, LLEN, otherwise).
local left = nil
if n > 0 then
  -- A step the message carried, held again after the n pages it read
  -- (store.HeldAgain): the positions among those left to drop.
  local drop = {}
  local rest = redis.call('LRANGE', KEYS[2], n, -1)
  if #rest > 0 then
    -- A page as HeldPage's JSON, or nil for one Held cannot read.
    local function page(v)
      local ok, p = pcall(cjson.decode, v)
      if ok and type(p) == 'table' and type(p.i) == 'string' and type(p.t) == 'string' and type(p.r) == 'number' then
        return p
      end
      return nil
    end
    -- A listing's incident, read without decoding it when its id has
    -- no escapes (EncodeHeldPage writes it first).
    local function incident(v)
      local i = string.match(v, '^{"i":"([^"\\]*)"')
      if i then return i end
      local p = page(v)
      return p and p.i
    end
    local function step(p)
      local d = p.d
      if type(d) ~= 'string' then d = '' end
      return p.i .. '\0' .. d .. '\0' .. tostring(tonumber(p.o) or 0)
    end
    -- Only listings of an incident held after the part read are decoded:
    -- in a flood, those held meanwhile are of other incidents.
    local cand, want, any = {}, {}, false
    for j, v in ipairs(rest) do
      local i = incident(v)
      if i then
        cand[j], want[i], any = i, true, true
      end
    end
    if any then
      -- The read part's held steps (true when one pages acknowledged
      -- incidents too) and the incidents it lists Sent.
      local steps, stepped, sent = {}, {}, {}
      for _, v in ipairs(redis.call('LRANGE', KEYS[2], 0, n - 1)) do
        local i = string.match(v, '^{"i":"([^"\\]*)"')
        if i == nil or want[i] then
          local p = page(v)
          if p and want[p.i] then
            if p.x == true then
              sent[p.i] = true
            else
              local k = step(p)
              steps[k], stepped[p.i] = steps[k] or p.a == true, true
            end
          end
        end
      end
      for j, i in pairs(cand) do
        if stepped[i] and not sent[i] then
          local p = page(rest[j])
          if p and p.x ~= true then
            local a = steps[step(p)]
            if a ~= nil and (a or p.a ~= true) then drop[#drop + 1] = j end
          end
        end
      end
    end
  end
  redis.call('LTRIM', KEYS[2], n, -1)
  left = #rest
  if #drop > 0 then
    for _, j in ipairs(drop) do redis.call('LSET', KEYS[2], j - 1, '\0dropped') end
    left = left - redis.call('LREM', KEYS[2], 0, '\0dropped')
  end
end
-- The window read and written in one command each: its ranks and its
-- flusher were a read and a write apart.
local h = redis.call('HMGET', KEYS[1], 'sent', 'next', 'nranks')
local sent, t = tonumber(h[1]) or 0, tonumber(h[2]) or ` + strconv.Itoa(store.NoRank) + `
if sent < imm then sent = imm end
if top < t then t = top end
local e = now + win
redis.call('HSET', KEYS[1], 'end', e, 'sent', sent, 'top', t, 'next', ` + strconv.Itoa(store.NoRank) + `, 'opened', top,
  'ranks', h[3] or '', 'nranks', '', 'flushed_by', ARGV[2])
redis.call('HDEL', KEYS[1], 'sentback', 'sentback_end')
redis.call('HDEL', KEYS[4], ARGV[1])
if left == nil then left = redis.call('LLEN', KEYS[2]) end
if left > 0 then
  redis.call('ZADD', KEYS[3], e, ARGV[1])
else
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return 1
`)

// Flushed records a flush and releases the storm's claim.
func (s *Store) Flushed(ctx context.Context, c store.Claim, n, top int, now time.Time, r store.StormRules) (bool, error) {
	ok, err := flushedScript.Run(ctx, s.rdb, s.stormKeys(c.Storm), store.StormMember(c.Storm), c.Token, n, ms(now),
		r.Window.Milliseconds(), r.Immediate, top).Int()
	s.heads.touched(store.ShardOfStorm(c.Storm))
	if err != nil {
		return false, unavailable(err)
	}
	return ok == 1, nil
}

// unsentScript is store.StormState.Unsent in Lua: ARGV[1] the rank,
// ARGV[2] the window's end (ms), ARGV[3] 1 for a page sent after it.
var unsentScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'end', 'sent', 'opened', 'ranks', 'nranks')
if not h[1] then return 0 end
local rank, same, after = ARGV[1], tonumber(h[1]) == tonumber(ARGV[2]), ARGV[3] == '1'
local function parse(s)
  local out = {}
  for r in string.gmatch(s or '', '[^,]+') do out[#out + 1] = r end
  return out
end
local function remove(list)
  for i, r in ipairs(list) do
    if r == rank then
      table.remove(list, i)
      return true
    end
  end
  return false
end
local function best(top, list)
  for _, r in ipairs(list) do
    if tonumber(r) < top then top = tonumber(r) end
  end
  return top
end
local ranks, nranks = parse(h[4]), parse(h[5])
if same and not after and remove(ranks) then
elseif same and after and remove(nranks) then
  redis.call('HSET', KEYS[1], 'next', best(` + strconv.Itoa(store.NoRank) + `, nranks))
elseif not same and after and remove(ranks) then
else
  return 0
end
local sent = (tonumber(h[2]) or 0) - 1
if sent < 0 then sent = 0 end
local top = best(best(tonumber(h[3]) or ` + strconv.Itoa(store.NoRank) + `, ranks), nranks)
redis.call('HSET', KEYS[1], 'sent', sent, 'top', top, 'ranks', table.concat(ranks, ','), 'nranks', table.concat(nranks, ','))
-- A page taken back and asked again is counted again (admitScript's asked).
redis.call('HDEL', KEYS[1], 'asked', 'answer')
return 1
`)

// Unsent takes back a page sent at once: one script, one round trip.
func (s *Store) Unsent(ctx context.Context, key string, rank int, end time.Time, after bool) error {
	a := 0
	if after {
		a = 1
	}
	return unavailable(unsentScript.Run(ctx, s.rdb, s.stormKeys(key)[:1], rank, ms(end), a).Err())
}

// sentBackScript is store.StormState.SentBack in Lua: ARGV[1] now (ms).
// It returns when the provider first sent back the window's message.
var sentBackScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'end', 'sentback', 'sentback_end')
if not h[1] then return tonumber(ARGV[1]) end
if h[2] and tonumber(h[3]) == tonumber(h[1]) then return tonumber(h[2]) end
redis.call('HSET', KEYS[1], 'sentback', ARGV[1], 'sentback_end', h[1])
return tonumber(ARGV[1])
`)

// SentBack records the provider's first send-back of the window's
// message: one script, one round trip.
func (s *Store) SentBack(ctx context.Context, key string, now time.Time) (time.Time, error) {
	first, err := sentBackScript.Run(ctx, s.rdb, s.stormKeys(key)[:1], ms(now)).Int64()
	if err != nil {
		return now, unavailable(err)
	}
	return time.UnixMilli(first).UTC(), nil
}

// completeStormScript releases a storm's claim without a flush: it is due
// again at once if pages are held (its window is over), but not before
// ARGV[4] (ms), or leaves the due set.
var completeStormScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[4], ARGV[1])
if cur and string.sub(cur, 1, #ARGV[2] + 1) == ARGV[2] .. ':' then
  redis.call('HDEL', KEYS[4], ARGV[1])
  if redis.call('LLEN', KEYS[2]) > 0 then
    local e = tonumber(redis.call('HGET', KEYS[1], 'end')) or tonumber(ARGV[3])
    e = math.max(e, tonumber(ARGV[4]))
    redis.call('ZADD', KEYS[3], e, ARGV[1])
  else
    redis.call('ZREM', KEYS[3], ARGV[1])
  end
end
return 1
`)

func (s *Store) completeStorm(ctx context.Context, c store.Claim, notBeforeMS int64) error {
	err := completeStormScript.Run(ctx, s.rdb, s.stormKeys(c.Storm), store.StormMember(c.Storm), c.Token,
		ms(time.Now()), notBeforeMS).Err()
	s.heads.touched(store.ShardOfStorm(c.Storm))
	return unavailable(err)
}

// PutBundle keeps a bundle for ttl.
func (s *Store) PutBundle(ctx context.Context, b *store.Bundle, ttl time.Duration) error {
	shard, err := store.ShardOfBundle(b.ID)
	if err != nil {
		return err
	}
	j, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return unavailable(s.rdb.Set(ctx, s.key(shard, "bundle:", b.ID), blob.Pack(j), ttl).Err())
}

// GetBundle returns a kept bundle.
func (s *Store) GetBundle(ctx context.Context, id string) (*store.Bundle, error) {
	shard, err := store.ShardOfBundle(id)
	if err != nil {
		return nil, err
	}
	v, err := s.rdb.Get(ctx, s.key(shard, "bundle:", id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: bundle %s", store.ErrNotFound, id)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	j, err := blob.Unpack(v)
	if err != nil {
		return nil, err
	}
	var b store.Bundle
	if err := json.Unmarshal(j, &b); err != nil {
		return nil, fmt.Errorf("decode bundle %s: %w", id, err)
	}
	return &b, nil
}

// headerPeek is how much of a record Statuses reads: the header line (see
// the package doc) is well under it.
const headerPeek = 160

// Statuses reads the header of each record only, pipelined.
func (s *Store) Statuses(ctx context.Context, ids []string) (map[string]policy.Status, error) {
	out := make(map[string]policy.Status, len(ids))
	const batch = 1000
	for start := 0; start < len(ids); start += batch {
		chunk := ids[start:min(start+batch, len(ids))]
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(chunk))
		for i, id := range chunk {
			shard, err := store.ShardOfID(id)
			if err != nil {
				continue
			}
			cmds[i] = pipe.GetRange(ctx, s.key(shard, "inc:", id), 0, headerPeek)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, unavailable(err)
		}
		for i, c := range cmds {
			if c == nil || c.Val() == "" {
				continue
			}
			f := strings.Fields(strings.SplitN(c.Val(), "\n", 2)[0])
			if len(f) < 3 || f[0] != "v1" {
				return nil, fmt.Errorf("decode incident header of %s", chunk[i])
			}
			out[chunk[i]] = policy.Status(f[2])
		}
	}
	return out, nil
}

// noteScript appends to existing records, each KEYS[i] getting ARGV[i]:
// the timeline is the record's tail, so an append adds entries and changes
// nothing else. The keys are of one shard, and so of one cluster slot.
// One script for many incidents: in a storm every held page's incident
// gets a note when its bundle goes out, and a script call (before the
// commands it runs) costs Redis as much as a few of those commands.
// The record is read and written whole, not APPENDed to: APPEND reserves
// as much room again as the string's new length for appends to come, and
// a noted record (a storm's incident resolved before its bundle went out
// is written last by its note) took twice its length in Redis for as long
// as it was kept (840 bytes for 367). Reading it costs no more: GET and
// SET of a 1 KB record took 9.7 µs in a script, EXISTS and APPEND 11.2.
// No record has a time to live for SET to drop.
var noteScript = redis.NewScript(`
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then redis.call('SET', KEYS[i], v .. ARGV[i]) end
end
return #KEYS
`)

// notesPerScript bounds one note script, so a flood's bundle (thousands of
// incidents) does not hold Redis for long in one call.
const notesPerScript = 100

// Note appends timeline entries, pipelined: one script per shard for up to
// notesPerScript incidents. The script is loaded first: a pipeline cannot
// fall back to EVAL per command after a Redis restart emptied the script
// cache, and one more round trip per storm message costs nothing.
func (s *Store) Note(ctx context.Context, entries map[string][]store.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	type shardNotes struct{ ids, keys, tls []string }
	byShard := map[int]*shardNotes{}
	for id, es := range entries {
		shard, err := store.ShardOfID(id)
		if err != nil {
			continue
		}
		tl, err := encodeTimeline(es)
		if err != nil {
			return err
		}
		n := byShard[shard]
		if n == nil {
			n = &shardNotes{}
			byShard[shard] = n
		}
		n.ids, n.keys, n.tls = append(n.ids, id), append(n.keys, s.key(shard, "inc:", id)), append(n.tls, string(tl))
	}
	if err := noteScript.Load(ctx, s.rdb).Err(); err != nil {
		return unavailable(err)
	}
	pipe := s.rdb.Pipeline()
	// The scripts in pipe, each with its incidents.
	type queuedScript struct {
		cmd *redis.Cmd
		ids []string
	}
	var queued []queuedScript
	inPipe := 0 // incidents in pipe
	exec := func() error {
		_, err := pipe.Exec(ctx)
		// Noted: a call again notes only the rest. That includes the
		// scripts that answered when another failed (on a cluster, a
		// master that does not answer).
		for _, q := range queued {
			if q.cmd.Err() == nil {
				for _, id := range q.ids {
					delete(entries, id)
				}
			}
		}
		queued, inPipe = queued[:0], 0
		// A script sent and not answered may have run: not "not stored".
		return unavailableWrite(err)
	}
	for _, n := range byShard {
		for start := 0; start < len(n.keys); start += notesPerScript {
			end := min(start+notesPerScript, len(n.keys))
			args := make([]any, 0, end-start)
			for _, tl := range n.tls[start:end] {
				args = append(args, tl)
			}
			queued = append(queued, queuedScript{noteScript.EvalSha(ctx, pipe, n.keys[start:end], args...), n.ids[start:end]})
			// Redis runs a pipeline's commands back to back: sent in
			// parts, a flood's notes let the alerts coming in meanwhile
			// through between them.
			if inPipe += end - start; inPipe >= notesPerPipeline {
				if err := exec(); err != nil {
					return err
				}
			}
		}
	}
	return exec()
}

// notesPerPipeline is about how many incidents' notes one round trip
// carries.
const notesPerPipeline = 500
