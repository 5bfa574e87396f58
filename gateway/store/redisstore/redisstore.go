// Package redisstore keeps incidents in Redis so any number of stateless
// pagerd replicas can share them. It works on a standalone server, behind
// Sentinel and on Redis Cluster through one go-redis UniversalClient: every
// Lua script touches the keys of one shard, and a shard's keys share a hash
// tag ({NN}), so each script runs in one hash slot.
//
// Keys of shard NN (prefix "pagerd:{NN}:"):
//
//	inc:<id>             string: the incident record (see below)
//	dedup:<svc>\0<key>   string: id of the latest incident for the key
//	due                  sorted set of ids by due time in ms (one entry per
//	                     incident with a pending deadline; a lease end while
//	                     claimed)
//	claims               hash id -> "<token>:<original due ms>"
//	                     (the due set and claims also hold storms: storm.go);
//	                     an unclaimed incident that Release put off holds
//	                     "!<that time ms>:<original due ms>" there
//	                     (writeLua), until claimed
//	idx                  sorted set of ids by creation time in ms
//	open                 sorted set of open ids by creation time in ms
//	resolved             sorted set of resolved ids by resolve time in ms
//	                     (store.Filter.ResolvedSince; those resolved before
//	                     pagerd kept it are not in it)
//	schema               the schema version, as <prefix>:schema: written
//	                     once, so that a cluster master that lost its
//	                     data is found (shardMarker)
//
// Pub/sub channels (no keys): <prefix>:nudge wakes every replica's
// dispatcher when a step is due now (once per new incident, coalesced);
// <prefix>:topic:<name> carries the other broadcasts (store.Broadcaster:
// "overrides" when run-time overrides change), apart, so that an alert
// storm's nudges wake nothing else.
//
// An incident record is one string, a header line and a body:
//
//	v1 <ver> <status> <next ms or -> <repeats> <last seen> <doc len> <details len>\n
//	<doc><details><timeline>
//
// <last seen> is an RFC 3339 time, followed by "@" and the latest
// firing's receipt in ms (store.Incident.LastReceived) when one said it:
// the trigger script raises it on a repeat without another field (a
// pagerd before it reads a header of eight fields only; it reads such a
// last seen time as zero, and its repeat writes it without the receipt,
// which then reads as not known, as before).
// doc and details are packed JSON (blob.go); the timeline is one JSON entry
// per line. The scripts read and rewrite the header and splice the body.
// One string rather than a hash of fields (or a hash and a timeline list)
// is what keeps an open incident under 2 KB of Redis memory: a hash whose
// values exceed 64 bytes costs a dictionary entry and two allocations per
// field.
package redisstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/blob"
	"github.com/pagerd/pagerd/gateway/store/internal/created"
	"github.com/pagerd/pagerd/gateway/store/internal/docjson"
	"github.com/pagerd/pagerd/policy"
)

// Store is a store.Store on Redis.
type Store struct {
	rdb    redis.UniversalClient
	batch  *batcher
	prefix string
	// self names this store (one replica) in its readiness probe's key
	// and in the nudges it publishes, so that it skips its own.
	self string
	// shards are the shards' key prefixes, "<prefix>:{NN}:": every script
	// of every webhook names a few keys, and formatting them was 3% of the
	// CPU an alert costs.
	shards [store.Shards]string
	// fixed are the shards' keys of constant names, built once: a
	// webhook's scripts name about a dozen, and building each was an
	// allocation (13% of the objects pagerd allocated at 1,000 alerts a
	// second were keys).
	fixed [store.Shards][len(fixedNames)]string
	// log is where the store says what goes wrong without failing a
	// call (a record Expire cannot decode): the daemon's logger when
	// opened with Open, slog.Default() otherwise.
	log *slog.Logger
	// created is the incidents this store just created, for the claim of
	// their first page (createdrecord.go).
	created *created.Cache[*createdRec]
	// heads is what this store knows of each shard's earliest due entry
	// (ClaimDueNextScoped).
	heads *dueHeads
	// oneScriptClaims: one script claims over every shard
	// (claimAllScript); false on a cluster, where no script may span
	// shards, and from the first claim that a server refused because the
	// script names its keys itself (Dragonfly by default, some proxies).
	oneScriptClaims atomic.Bool
	// schemaSeen: this process has seen the schema key (CheckSchema
	// passed), so its absence at a probe means Redis lost the data.
	schemaSeen atomic.Bool
	// newer is closed, and newerErr set, once a probe finds the schema
	// key above this pagerd's: a newer pagerd upgraded the data while
	// this one ran (a rolling upgrade): records of a layout this one does
	// not know must not be written, so Ping says why and the daemon stops
	// (store.Breakable).
	newer     chan struct{}
	newerOnce sync.Once
	newerErr  atomic.Pointer[error]
}

var (
	_ store.Store         = (*Store)(nil)
	_ store.Nudger        = (*Store)(nil)
	_ store.Broadcaster   = (*Store)(nil)
	_ store.DueClaimer    = (*Store)(nil)
	_ store.ScopedClaimer = (*Store)(nil)
	_ store.RepeatReader  = (*Store)(nil)
)

// New wraps a client. prefix namespaces the keys (default "pagerd") so
// several deployments can share one Redis.
func New(rdb redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = "pagerd"
	}
	s := &Store{rdb: rdb, batch: newBatcher(rdb), prefix: prefix, self: newToken(), log: slog.Default(),
		created: created.NewCache[*createdRec](created.Kept), heads: newDueHeads(), newer: make(chan struct{})}
	for shard := range s.shards {
		p := fmt.Sprintf("%s:{%02x}:", prefix, shard)
		s.shards[shard] = p
		for i, name := range fixedNames {
			s.fixed[shard][i] = p + name
		}
	}
	s.batch.late = s.lateWrite
	_, cluster := rdb.(*redis.ClusterClient)
	s.oneScriptClaims.Store(!cluster)
	return s
}

// lateWrite is told the keys of a batched script that a sender was done
// with after its caller had given up on it (its outcome unknown: the
// caller made its shard unknown then). It may have run only now, after a
// claim that read the shard in between found it empty, and put there an
// entry due now (a new incident whose sender's retry is a repeat, which
// wakes nobody): the shard is read at the next claim again, not left to
// the next claim everywhere.
func (s *Store) lateWrite(keys []string) {
	if len(keys) == 0 {
		return
	}
	for shard, p := range s.shards {
		if strings.HasPrefix(keys[0], p) {
			s.heads.touched(shard)
			return
		}
	}
}

// fixedNames are the names of the keys (and the prefix) of a shard that
// its scripts name most, built once per store (Store.fixed).
var fixedNames = [...]string{"due", "claims", "idx", "open", "inc:", "resolved"}

// key names a key of the shard: its prefix and the parts.
func (s *Store) key(shard int, parts ...string) string {
	switch len(parts) {
	case 1:
		for i, name := range fixedNames {
			if parts[0] == name {
				return s.fixed[shard][i]
			}
		}
		return s.shards[shard] + parts[0]
	case 2:
		return s.shards[shard] + parts[0] + parts[1]
	}
	return s.shards[shard] + strings.Join(parts, "")
}

// dedupKey names a service's dedup key by a digest: Alertmanager group keys
// can be long, and every open incident holds one.
func (s *Store) dedupKey(shard int, service, key string) string {
	// Built in arrays on the stack (when the keys are short, as they
	// are): every alert reads or writes its dedup key, and joining and
	// encoding the strings took three allocations for one.
	var in [256]byte
	h := sha256.Sum256(append(append(append(in[:0], service...), 0), key...))
	var out [128]byte
	k := append(append(out[:0], s.shards[shard]...), "dedup:"...)
	return string(base64.RawURLEncoding.AppendEncode(k, h[:16]))
}

// unavailable marks errors from talking to Redis, so the daemon answers 503.
func unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return err
	}
	return fmt.Errorf("%w: redis: %w", store.ErrUnavailable, err)
}

// unavailableWrite is unavailable for a write: unless the command certainly
// never reached Redis (no connection could be had or made) or Redis refused
// it before it wrote anything, the write may have happened, and the error
// says so (store.ErrOutcomeUnknown). A stalled Redis keeps the script in
// its input buffer and runs it when it resumes; a script that fails
// part-way keeps the writes it made.
func unavailableWrite(err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return err
	}
	// A reply from Redis refusing the command before it wrote anything
	// (refusedBeforeRun) means it did not run; so does failing to get or
	// make a connection, or a script its caller gave up on before it was
	// sent (errNotSent).
	var op *net.OpError
	if refusedBeforeRun(err) || errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed) || errors.Is(err, errNotSent) ||
		(errors.As(err, &op) && op.Op == "dial") {
		return unavailable(err)
	}
	return fmt.Errorf("%w: %w: redis: %w", store.ErrUnavailable, store.ErrOutcomeUnknown, err)
}

// refusedBeforeRun reports whether err is an error reply with which Redis
// turned a command away before it wrote anything. Only the codes Redis
// uses for such refusals count. Any other error reply may come after
// writes, because Redis does not roll back a script that fails part-way:
// a redis.call that gets WRONGTYPE, a cjson decode error ("ERR
// user_script:..."), or an ACL check that denies a later command ("ERR
// The user executing the script can't...") keeps every write the script
// made before it. Such a reply therefore says the outcome is unknown, and
// so does a reply this function does not know.
//
// Redis 7 ends an error raised inside a script with " script: <sha1>, on
// @user_script:<line>.". Inside a script, Redis checks memory (OOM),
// replication (READONLY, NOREPLICAS) and snapshot (MISCONF) state at a
// write only while the script has written nothing yet, so those four mean
// nothing was written even there; every other code raised inside a script
// may follow writes. Older Redis versions wrap every error of a script in
// "ERR Error running script", which counts as unknown, the safe side.
// pagerd's scripts return no error replies of their own, which could
// carry any code.
func refusedBeforeRun(err error) bool {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return false
	}
	msg := reply.Error()
	inScript := strings.Contains(msg, " script: ")
	code, _, _ := strings.Cut(msg, " ")
	switch code {
	case "OOM", "READONLY", "MISCONF", "NOREPLICAS":
		// Over maxmemory with noeviction, a read-only replica, a failed
		// RDB save with stop-writes-on-bgsave-error, too few replicas for
		// min-replicas-to-write.
		return true
	case "LOADING", "BUSY", "NOSCRIPT", "MASTERDOWN", "MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "CROSSSLOT",
		"NOAUTH", "WRONGPASS", "NOPERM":
		// Raised only before a command runs: a dataset still loading,
		// another script running, a script not in the cache, a stale
		// replica, a slot elsewhere or not served, a connection or user
		// not allowed the command.
		return !inScript
	}
	// Sent when a connection is accepted over maxclients, before any
	// command.
	return msg == "ERR max number of clients reached"
}

// record is what the doc field holds: the incident without the fields a
// repeat changes, which live in their own hash fields.
type record struct {
	ID        string             `json:"id"`
	Service   string             `json:"service"`
	DedupKey  string             `json:"dedup_key"`
	Source    string             `json:"source"`
	Summary   string             `json:"summary"`
	CreatedAt time.Time          `json:"created_at"`
	UpdatedAt time.Time          `json:"updated_at"`
	State     policy.Incident    `json:"state"`
	Outbox    []store.OutboxItem `json:"outbox,omitempty"`
	// NotPushed is store.Incident.NotPushedToPagerDuty; absent (false)
	// in records stored before it, which are forwarded as before.
	NotPushed bool `json:"not_pagerduty,omitempty"`
	// NotPaged is store.Incident.NotPaged; absent (false) in records
	// stored before it.
	NotPaged bool `json:"not_paged,omitempty"`
	// SilencedAt is store.Incident.SilencedAt.
	SilencedAt []string `json:"silenced_at,omitempty"`
}

// encodeDoc is the stored form of the incident's document: its record as
// JSON, without the state's copies of id and service, packed.
// The JSON is written by hand (docjson.AppendRecord: json.Marshal's
// reflection was a tenth of the CPU an alert costs on Redis), byte for
// byte what json.Marshal writes of the record (TestAppendRecordIsJSONMarshal),
// into a pooled buffer (docjson.Buffer), as only its packed form is kept.
//
// lossy is whether the JSON holds U+FFFD, which marshalling puts for
// invalid UTF-8: its decoding may not give back the incident as it is.
func encodeDoc(i *store.Incident) (doc []byte, lossy bool, err error) {
	doc, _, lossy, err = encodeDocDetails(i, false)
	return doc, lossy, err
}

// encodeDocDetails is encodeDoc, and with details encodeDetails of the
// incident's details, packed in the same hand-over to a packer
// (blob.PackTwo): Trigger writes both.
func encodeDocDetails(i *store.Incident, details bool) (doc, det []byte, lossy bool, err error) {
	st := i.State
	st.ID, st.Service = "", ""
	j, err := docjson.AppendRecord(docjson.Buffer(), i, &st)
	if err != nil {
		return nil, nil, false, err
	}
	switch {
	case details && len(i.Details) > 0:
		doc, det = blob.PackTwo(j, i.Details)
	case details:
		doc, det = blob.Pack(j), encodeDetails(i.Details)
	default:
		doc = blob.Pack(j)
	}
	lossy = bytes.Contains(j, []byte(`\ufffd`))
	docjson.Release(j)
	return doc, det, lossy, nil
}

// encodeDetails is the stored form of the alert details: packed, or "null".
func encodeDetails(d json.RawMessage) []byte {
	if len(d) == 0 {
		return []byte("null")
	}
	return blob.Pack(d)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// resolvedArg is a resolved incident's score in the index of resolve
// times (store.ResolvedMS), "" for an open one.
func resolvedArg(inc *store.Incident) string {
	if inc.Open() {
		return ""
	}
	return strconv.FormatInt(store.ResolvedMS(inc), 10)
}

// recordLua parses and builds incident records inside the scripts.
const recordLua = `
local function parse(v)
  local nl = string.find(v, '\n', 1, true)
  local ver, st, nx, rep, seen, dl, el = string.match(string.sub(v, 1, nl - 1),
    '^v1 (%d+) (%S+) (%S+) (%d+) (%S+) (%d+) (%d+)$')
  dl, el = tonumber(dl), tonumber(el)
  return {ver = ver, st = st, nx = nx, rep = rep, seen = seen,
    doc = string.sub(v, nl + 1, nl + dl), det = string.sub(v, nl + dl + 1, nl + dl + el),
    tl = string.sub(v, nl + dl + el + 1)}
end
local function build(r)
  return 'v1 ' .. r.ver .. ' ' .. r.st .. ' ' .. r.nx .. ' ' .. r.rep .. ' ' .. r.seen .. ' ' ..
    #r.doc .. ' ' .. #r.det .. '\n' .. r.doc .. r.det .. r.tl
end
`

var triggerScript = redis.NewScript(recordLua + `
local cur = redis.call('GET', KEYS[1])
if cur then
  local k = ARGV[1] .. cur
  local v = redis.call('GET', k)
  if v then
    local r = parse(v)
    if r.st ~= 'resolved' then
      r.rep = tonumber(r.rep) + 1
      -- The latest firing's receipt (ARGV[14], ms, '' when not known)
      -- rides on the last seen time, after an '@': raised, never lowered.
      local rcv = string.match(r.seen, '@(%d+)$')
      if ARGV[14] ~= '' and (not rcv or tonumber(ARGV[14]) > tonumber(rcv)) then rcv = ARGV[14] end
      r.seen = ARGV[6]
      if rcv then r.seen = r.seen .. '@' .. rcv end
      r.det = ARGV[5]
      local nv = build(r)
      redis.call('SET', k, nv)
      -- Asked for (TriggerRead): the record without its timeline, which
      -- decoding does not read and an old incident's makes long.
      if ARGV[12] == '1' then return {'repeated', cur, string.sub(nv, 1, #nv - #r.tl)} end
      return {'repeated', cur}
    end
    -- Resolved after the alert was received (ReceivedBy): superseded.
    if ARGV[13] ~= '' then
      local at = redis.call('ZSCORE', KEYS[6], cur)
      if at and tonumber(at) > tonumber(ARGV[13]) then return {'superseded', cur} end
    end
  end
end
local nx = ARGV[8]
if nx == '' then nx = '-' end
local seen = ARGV[6]
if ARGV[14] ~= '' then seen = seen .. '@' .. ARGV[14] end
redis.call('SET', KEYS[2], build({ver = 1, st = ARGV[4], nx = nx, rep = 0, seen = seen,
  doc = ARGV[3], det = ARGV[5], tl = ARGV[9]}))
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[2])
if ARGV[4] ~= 'resolved' then redis.call('ZADD', KEYS[5], ARGV[7], ARGV[2]) else redis.call('ZADD', KEYS[6], ARGV[11], ARGV[2]) end
if ARGV[8] ~= '' then redis.call('ZADD', KEYS[3], ARGV[10], ARGV[2]) end
return {'created', ARGV[2]}
`)

// Trigger stores a new incident, or records a repeat on the open one with
// the same dedup key: one script, one round trip.
func (s *Store) Trigger(ctx context.Context, inc *store.Incident, timeline []store.Entry) (string, store.Outcome, error) {
	id, out, _, err := s.trigger(ctx, inc, timeline, false)
	return id, out, err
}

// TriggerRead is Trigger that, on a repeat, also returns the incident as
// the repeat left it: the script has its record in hand, and sends it
// back in the same round trip (store.RepeatReader).
func (s *Store) TriggerRead(ctx context.Context, inc *store.Incident, timeline []store.Entry) (string, store.Outcome, *store.Incident, error) {
	return s.trigger(ctx, inc, timeline, true)
}

// trigger runs triggerScript; read asks it for a repeated incident's
// record. A record that does not decode is left for the caller's own read
// (nil), which reports it.
func (s *Store) trigger(ctx context.Context, inc *store.Incident, timeline []store.Entry, read bool) (string, store.Outcome, *store.Incident, error) {
	shard, err := store.ShardOfID(inc.ID)
	if err != nil {
		return "", 0, nil, err
	}
	if want := store.ShardOf(inc.Service, inc.DedupKey); shard != want {
		return "", 0, nil, fmt.Errorf("incident id %s is not in shard %02x of its dedup key", inc.ID, want)
	}
	doc, details, lossy, err := encodeDocDetails(inc, true)
	if err != nil {
		return "", 0, nil, err
	}
	tl, err := encodeTimeline(timeline)
	if err != nil {
		return "", 0, nil, err
	}
	seen := inc.LastSeen.UTC().Format(time.RFC3339Nano)
	score, pending := store.TriggerScore(inc)
	received := receivedArg(inc)
	// Kept before the script runs, so that a claim that comes at once
	// finds it.
	kept := false
	if c := createdRecord(inc, lossy, doc, details, seen, received); c != nil {
		s.created.Keep(inc.ID, c)
		kept = true
	}
	keys := []string{s.dedupKey(shard, inc.Service, inc.DedupKey), s.key(shard, "inc:", inc.ID),
		s.key(shard, "due"), s.key(shard, "idx"), s.key(shard, "open"), s.key(shard, "resolved")}
	readArg := ""
	if read {
		readArg = "1"
	}
	res, err := s.batch.run(ctx, triggerScript, keys, s.key(shard, "inc:"), inc.ID, doc, string(inc.State.Status), details,
		seen, ms(inc.CreatedAt), msArg(store.DueAt(inc)), tl, msArg(score, pending), resolvedArg(inc), readArg,
		msArg(inc.ReceivedBy, !inc.ReceivedBy.IsZero()), received).StringSlice()
	if kept && (err != nil || len(res) < 2 || res[0] != "created") {
		s.created.Drop(inc.ID)
	}
	if err != nil {
		s.heads.touched(shard)
		return "", 0, nil, unavailableWrite(err)
	}
	if len(res) < 2 || len(res) > 3 {
		return "", 0, nil, fmt.Errorf("redis: unexpected trigger reply %v", res)
	}
	if res[0] == "superseded" {
		return res[1], store.Superseded, nil, nil
	}
	if res[0] == "repeated" {
		var cur *store.Incident
		if len(res) == 3 {
			cur, _ = decode(res[2])
		}
		return res[1], store.Repeated, cur, nil
	}
	inc.Version = 1
	if pending {
		s.heads.wrote(shard, ms(score))
	}
	return res[1], store.Created, nil, nil
}

// receivedArg is triggerScript's ARGV[14]: the incident's LastReceived in
// ms, "" when not known. Only a time after 1970 is kept: the header holds
// digits, no sign.
func receivedArg(inc *store.Incident) any {
	if ms := inc.LastReceived.UnixMilli(); !inc.LastReceived.IsZero() && ms > 0 {
		return ms
	}
	return ""
}

// pagingArg is writeLua's ARGV[9]: "1" when the incident has a step
// pending (a time Release put it off to holds), "" otherwise. Constants
// in an interface, which box nothing: a string variable set to "1" cost
// an allocation at every write with a step pending (every Finish of a
// step with another to come).
func pagingArg(inc *store.Incident) any {
	if len(inc.State.Pending) > 0 {
		return "1"
	}
	return ""
}

// msArg is a due time in ms as a script's argument, or "" when nothing
// is pending (ok false). An int64, which go-redis writes as the digits a
// string of it would hold: formatted here first, the string was an
// allocation more at every write.
func msArg(at time.Time, ok bool) any {
	if !ok {
		return ""
	}
	return ms(at)
}

// encodeTimeline writes entries one JSON object per line. Bytes, not a
// string: a script's argument is written to Redis the same either way,
// and the string was a copy of them, an allocation every write.
func encodeTimeline(es []store.Entry) ([]byte, error) {
	b := make([]byte, 0, 160*len(es))
	for i := range es {
		var err error
		if b, err = docjson.AppendEntry(b, &es[i]); err != nil {
			return nil, err
		}
		b = append(b, '\n')
	}
	return b, nil
}

// record header fields, as parse in recordLua reads them.
type header struct {
	ver, repeats   int64
	status, next   string
	lastSeen       string
	docLen, detLen int
	doc, det, tl   string
}

// parseRecord splits a stored incident record.
func parseRecord(v string) (header, error) {
	var h header
	line, body, ok := strings.Cut(v, "\n")
	if !ok {
		return h, fmt.Errorf("decode incident: no header")
	}
	// Split by hand: fmt.Sscan was a tenth of the cost of decoding.
	var f [8]string
	rest, n, more := line, 0, true
	for ; n < len(f) && more; n++ {
		f[n], rest, more = strings.Cut(rest, " ")
	}
	// Numbers as Lua's %d+ reads them: digits, no sign.
	var nums [4]uint64
	var errs [4]error
	for i, field := range []string{f[1], f[4], f[6], f[7]} {
		nums[i], errs[i] = strconv.ParseUint(field, 10, 63)
	}
	h.ver, h.repeats = int64(nums[0]), int64(nums[1])
	h.status, h.next, h.lastSeen = f[2], f[3], f[5]
	if err := errors.Join(errs[:]...); n != len(f) || more || f[0] != "v1" || err != nil {
		return h, fmt.Errorf("decode incident header %q: not v1 and 7 fields (%v)", line, err)
	}
	// Each length apart: their sum can overflow.
	if nums[2] > uint64(len(body)) || nums[3] > uint64(len(body))-nums[2] {
		return h, fmt.Errorf("decode incident: body shorter than its header says")
	}
	h.docLen, h.detLen = int(nums[2]), int(nums[3])
	h.doc, h.det, h.tl = body[:h.docLen], body[h.docLen:h.docLen+h.detLen], body[h.docLen+h.detLen:]
	return h, nil
}

func decode(v string) (*store.Incident, error) {
	h, err := parseRecord(v)
	if err != nil {
		return nil, err
	}
	return decodeParsed(h)
}

// decodeParsed is decode of a record parseRecord has split.
func decodeParsed(h header) (*store.Incident, error) {
	doc, err := blob.Unpack(h.doc)
	if err != nil {
		return nil, err
	}
	// The record's fields, read by hand as json.Unmarshal reads them
	// into a record (TestDecodeRecordIsJSONUnmarshal), and by it when
	// they are of a shape not read by hand: json.Unmarshal was a seventh
	// of the CPU of a repeated alert, and is paid by every claim and Get.
	inc := new(store.Incident)
	if !docjson.DecodeRecord(doc, inc) {
		var r record
		if err := json.Unmarshal(doc, &r); err != nil {
			return nil, fmt.Errorf("decode incident: %w", err)
		}
		*inc = store.Incident{ID: r.ID, Service: r.Service, DedupKey: r.DedupKey, Source: r.Source, Summary: r.Summary,
			CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, State: r.State, Outbox: r.Outbox,
			NotPushedToPagerDuty: r.NotPushed, NotPaged: r.NotPaged, SilencedAt: r.SilencedAt}
	}
	inc.State.ID, inc.State.Service = inc.ID, inc.Service
	inc.Version, inc.Repeats = h.ver, int(h.repeats)
	seen, received, ok := strings.Cut(h.lastSeen, "@")
	inc.LastSeen, _ = time.Parse(time.RFC3339Nano, seen)
	if ok {
		if ms, err := strconv.ParseInt(received, 10, 64); err == nil && ms > 0 {
			inc.LastReceived = time.UnixMilli(ms).UTC()
		}
	}
	if h.det != "" && h.det != "null" {
		details, err := blob.Unpack(h.det)
		if err != nil {
			return nil, err
		}
		inc.Details = json.RawMessage(details)
	}
	return inc, nil
}

// raw reads an incident's stored record.
func (s *Store) raw(ctx context.Context, id string) (string, error) {
	shard, err := store.ShardOfID(id)
	if err != nil {
		return "", err
	}
	v, err := s.rdb.Get(ctx, s.key(shard, "inc:", id)).Result()
	if errors.Is(err, redis.Nil) {
		return "", store.ErrNotFound
	}
	return v, unavailable(err)
}

// Get returns the incident with the id.
func (s *Store) Get(ctx context.Context, id string) (*store.Incident, error) {
	v, err := s.raw(ctx, id)
	if err != nil {
		return nil, err
	}
	return decode(v)
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

// updateScript checks the version, writes the incident, appends to its
// timeline, and moves its due entry to the earliest pending deadline. While
// the incident is claimed the entry stays at the lease end (Complete moves
// it), so no other replica starts working it mid-flight. With nothing
// pending, the entry and any claim go: everything is cancelled.
// writeLua is the write both Update and Finish make: check the version
// (and, when rep is given, the repeat count: store.Incident.CheckRepeats),
// write the record, append to its timeline, keep the open index and the
// index of resolve times (KEYS[5], by ARGV[8]: store.Filter.ResolvedSince),
// and move the due entry (left at the lease end while claimed; gone, with
// any claim, when nothing is pending). An unclaimed incident that Release
// put off ("!<ms>:..." in claims) stays due no earlier than that time while a
// step is pending (ARGV[9] '1'), as Release left it, until a claim takes
// it; once none is (an acknowledgement leaving only outbox work), its
// outbox work is due at its own time, and the time is forgotten. claimed
// is the incident's entry in claims (false for none), when the caller has
// read it already (Finish), or nil. It returns nil on success, or the
// reply.
const writeLua = `
local function write(rep, claimed)
  local v = redis.call('GET', KEYS[1])
  if not v then return 'notfound' end
  -- The header alone is read, and the record spliced: the new document,
  -- then the details and timeline as they are, in one piece, then the
  -- new entries. What build(parse(v)) wrote, byte for byte, without
  -- copying out the document, the details and the timeline (twice) first:
  -- 3.2 against 4.3 µs for a new incident's 550-byte record, 16 against
  -- 24 with a 5 KB timeline.
  local nl = string.find(v, '\n', 1, true)
  local ver, was, _, reps, seen, dl, el = string.match(string.sub(v, 1, nl - 1),
    '^v1 (%d+) (%S+) (%S+) (%d+) (%S+) (%d+) (%d+)$')
  -- The details' length as parse read them: cut short by the record's
  -- end. Before the checks: a header that does not read fails the script
  -- here, as parse did.
  dl, el = tonumber(dl), tonumber(el)
  local left = #v - nl - dl
  if left < el then el = math.max(left, 0) end
  if ver ~= ARGV[1] then return 'conflict' end
  if rep and reps ~= rep then return 'conflict' end
  local nx = ARGV[6]
  if nx == '' then nx = '-' end
  redis.call('SET', KEYS[1], 'v1 ' .. (tonumber(ver) + 1) .. ' ' .. ARGV[3] .. ' ' .. nx .. ' ' .. reps .. ' ' .. seen .. ' ' ..
    #ARGV[2] .. ' ' .. el .. '\n' .. ARGV[2] .. string.sub(v, nl + dl + 1) .. ARGV[7])
  if ARGV[3] == 'resolved' then
    redis.call('ZREM', KEYS[4], ARGV[4])
    if was ~= 'resolved' then redis.call('ZADD', KEYS[5], ARGV[8], ARGV[4]) end
  elseif was == 'resolved' then
    -- Reopened. An incident that was open is in the open index already,
    -- at its creation time (triggerScript put it there, and only a
    -- resolve takes it out): adding it again at every write was a
    -- command more a step, and changed nothing.
    redis.call('ZADD', KEYS[4], ARGV[5], ARGV[4])
    redis.call('ZREM', KEYS[5], ARGV[4])
  end
  if ARGV[6] == '' then
    redis.call('ZREM', KEYS[2], ARGV[4])
    redis.call('HDEL', KEYS[3], ARGV[4])
    return nil
  end
  if claimed == nil then claimed = redis.call('HGET', KEYS[3], ARGV[4]) end
  if not claimed then
    redis.call('ZADD', KEYS[2], ARGV[6], ARGV[4])
  elseif string.sub(claimed, 1, 1) == '!' then
    if ARGV[9] == '1' then
      redis.call('ZADD', KEYS[2], math.max(tonumber(ARGV[6]), tonumber(string.match(claimed, '^!(%-?%d+)'))), ARGV[4])
    else
      redis.call('HDEL', KEYS[3], ARGV[4])
      redis.call('ZADD', KEYS[2], ARGV[6], ARGV[4])
    end
  end
  return nil
end
`

var updateScript = redis.NewScript(recordLua + writeLua + `
return write(ARGV[10]) or 'ok'
`)

// finishScript is Update, then Complete of the claim whose token is
// ARGV[10], if it is still this one's: one script for the dispatcher's
// last write of a step. ARGV[11], when given, is the repeat count to check.
// The claim is read once, before the write, which tells the write whether
// the incident is claimed: a command fewer a step than reading it in each.
// A write that leaves nothing pending drops the claim itself.
var finishScript = redis.NewScript(recordLua + writeLua + `
local cur = redis.call('HGET', KEYS[3], ARGV[4])
local res = write(ARGV[11], cur)
if res then return res end
if ARGV[6] ~= '' and cur and string.sub(cur, 1, #ARGV[10] + 1) == ARGV[10] .. ':' then
  redis.call('HDEL', KEYS[3], ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[4])
end
return 'ok'
`)

// Update writes the incident if nobody else did since it was read, and moves
// its due entry: one script, one round trip.
func (s *Store) Update(ctx context.Context, inc *store.Incident, timeline []store.Entry) error {
	return s.write(ctx, updateScript, inc, timeline)
}

// Finish is Update and Complete in one script.
func (s *Store) Finish(ctx context.Context, c store.Claim, inc *store.Incident, timeline []store.Entry) error {
	if c.Incident != inc.ID {
		return fmt.Errorf("finish: claim of %q for incident %q", c.Incident, inc.ID)
	}
	return s.write(ctx, finishScript, inc, timeline, c.Token)
}

func (s *Store) write(ctx context.Context, script *redis.Script, inc *store.Incident, timeline []store.Entry, extra ...any) error {
	shard, err := store.ShardOfID(inc.ID)
	if err != nil {
		return err
	}
	doc, _, err := encodeDoc(inc)
	if err != nil {
		return err
	}
	tl, err := encodeTimeline(timeline)
	if err != nil {
		return err
	}
	keys := []string{s.key(shard, "inc:", inc.ID), s.key(shard, "due"), s.key(shard, "claims"), s.key(shard, "open"), s.key(shard, "resolved")}
	next, pending := store.DueAt(inc)
	args := append([]any{inc.Version, doc, string(inc.State.Status), inc.ID, ms(inc.CreatedAt), msArg(next, pending), tl, resolvedArg(inc), pagingArg(inc)}, extra...)
	if inc.CheckRepeats {
		// Last: the script reads it after the arguments of its own.
		args = append(args, strconv.Itoa(inc.Repeats))
	}
	res, err := s.batch.run(ctx, script, keys, args...).Text()
	if err != nil {
		s.heads.touched(shard)
		return unavailableWrite(err)
	}
	switch res {
	case "ok":
		inc.Version++
		if pending {
			// At next, or left at a claim's lease end (later).
			s.heads.wrote(shard, ms(next))
		}
		return nil
	case "conflict":
		return store.ErrConflict
	case "notfound":
		return store.ErrNotFound
	}
	return fmt.Errorf("redis: unexpected update reply %q", res)
}

// Timeline returns the incident's entries, oldest first.
func (s *Store) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	v, err := s.raw(ctx, id)
	if err != nil {
		return nil, err
	}
	h, err := parseRecord(v)
	if err != nil {
		return nil, err
	}
	out := []store.Entry{}
	for _, line := range strings.Split(h.tl, "\n") {
		if line == "" {
			continue
		}
		var e store.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return nil, fmt.Errorf("decode timeline of %s: %w", id, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// List reads each shard's index and filters, newest first. Open incidents
// are listed from the open index, so the common query does not walk
// resolved history. The indexes are scored by creation time, so a time
// range or a cursor is read by score; ties at the cursor's millisecond are
// settled by id (Filter.Admits).
func (s *Store) List(ctx context.Context, f store.Filter) ([]*store.Incident, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = store.DefaultListLimit
	}
	index := "idx"
	if f.OpenOnly() {
		index = "open"
	}
	lo, hi, ok := f.CreatedRange()
	if !ok {
		return nil, nil
	}
	if !f.ResolvedSince.IsZero() {
		return s.listResolved(ctx, f, limit)
	}
	all, err := s.indexRange(ctx, index, lo, hi)
	if err != nil {
		return nil, err
	}
	// Newest first: indexRange's order (creation time, then id) reversed.
	var hits []string
	for i := len(all) - 1; i >= 0; i-- {
		if id := all[i].Member.(string); f.Admits(int64(all[i].Score), id) {
			hits = append(hits, id)
		}
	}
	return s.readMatching(ctx, hits, limit, func(inc *store.Incident) bool { return matches(inc, f) })
}

// readMatching reads the incidents of ids, in order, a page of records a
// round trip, and keeps those keep admits, up to limit: one expired since
// its index was read is passed over.
func (s *Store) readMatching(ctx context.Context, ids []string, limit int, keep func(*store.Incident) bool) ([]*store.Incident, error) {
	const page = 256
	var out []*store.Incident
	for start := 0; start < len(ids) && len(out) < limit; start += page {
		recs, err := s.records(ctx, ids[start:min(start+page, len(ids))])
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			if rec == "" {
				continue // expired since the index was read
			}
			inc, err := decode(rec)
			if err != nil {
				return nil, err
			}
			if keep(inc) && len(out) < limit {
				out = append(out, inc)
			}
		}
	}
	return out, nil
}

// listResolved is List with f.ResolvedSince: the limit incidents the
// shards' indexes of resolve times hold from then on resolved last (at
// most limit a shard read, the latest limit of them all kept), read and
// filtered, newest created first. Bounded: after a flood resolved, a
// bare SMS reply read every incident of it.
func (s *Store) listResolved(ctx context.Context, f store.Filter, limit int) ([]*store.Incident, error) {
	by := &redis.ZRangeBy{Min: strconv.FormatInt(f.ResolvedSince.UnixMilli(), 10), Max: "+inf", Count: int64(limit)}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.ZSliceCmd, store.Shards)
	for shard := range cmds {
		cmds[shard] = pipe.ZRevRangeByScoreWithScores(ctx, s.key(shard, "resolved"), by)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	var latest []redis.Z
	for _, c := range cmds {
		latest = append(latest, c.Val()...)
	}
	slices.SortFunc(latest, func(a, b redis.Z) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), strings.Compare(b.Member.(string), a.Member.(string)))
	})
	ids := make([]string, 0, min(len(latest), limit))
	for _, z := range latest[:min(len(latest), limit)] {
		ids = append(ids, z.Member.(string))
	}
	out, err := s.readMatching(ctx, ids, limit, func(inc *store.Incident) bool {
		return matches(inc, f) && f.Admits(store.CursorOf(inc).CreatedAt.UnixMilli(), inc.ID)
	})
	if err != nil {
		return nil, err
	}
	store.SortNewestFirst(out)
	return out, nil
}

func matches(inc *store.Incident, f store.Filter) bool {
	return f.AdmitsResolved(inc) && f.AdmitsStatus(inc.State.Status) &&
		(f.Service == "" || inc.Service == f.Service) &&
		(f.Priority == "" || inc.State.Priority == f.Priority)
}

// claimLua leases one due entry: claim(dueKey, claimsKey, id, score,
// leaseEnd, token, incPrefix, jobPrefix, out) re-scores it to its lease
// end, records the claim, and appends id, its original due time, token,
// whether it was a takeover, and its record to out.
const claimLua = `
local function claim(dueKey, claimsKey, id, score, leaseEnd, token, incPrefix, jobPrefix, out)
  local rec = false
  local kind = string.sub(id, 1, 2)
  if kind == 'j:' then
    rec = redis.call('GET', jobPrefix .. string.sub(id, 3))
  elseif kind ~= 's:' then
    rec = redis.call('GET', incPrefix .. id)
  end
  -- When it was really due, unless this is a takeover (below).
  local orig = score
  if rec and kind ~= 'j:' then
    -- An incident's due entry may be queued ahead of its time (a new
    -- incident's first page): the claim says when it was really due.
    local nx = string.match(rec, '^v1 %d+ %S+ (%d+) ')
    if nx then orig = nx end
  elseif kind == 's:' then
    -- A storm released to a later time (its message sent back by a rate
    -- limit: Release) was due at its window's end, as the embedded store
    -- keeps it: its message's lateness counts from there. The storm's
    -- hash is in the shard, beside inc: (incPrefix less 'inc:').
    local e = redis.call('HGET', string.sub(incPrefix, 1, #incPrefix - 4) .. 'storm:' .. string.sub(id, 3), 'end')
    if e and tonumber(e) < tonumber(orig) then orig = e end
  end
  -- Nearly every claim is of an entry with nothing in claims: HSETNX
  -- records it in one command, where reading claims first and writing
  -- it was two. One with something there is read and written.
  local takeover = 0
  if redis.call('HSETNX', claimsKey, id, token .. ':' .. orig) == 0 then
    local prev = redis.call('HGET', claimsKey, id)
    -- The time Release put an unclaimed incident off to (writeLua):
    -- this claim honours it, and it is spent. Anything else is a claim
    -- whose lease ran out: taken over, at its original due time.
    if string.sub(prev, 1, 1) ~= '!' then
      orig = string.match(prev, ':(.*)$')
      takeover = 1
    end
    redis.call('HSET', claimsKey, id, token .. ':' .. orig)
  end
  redis.call('ZADD', dueKey, leaseEnd, id)
  table.insert(out, id)
  table.insert(out, orig)
  table.insert(out, token)
  table.insert(out, takeover)
  table.insert(out, rec)
end
`

// claimScript claims the earliest due entries of one shard: KEYS due,
// claims; ARGV now, lease end, max, token prefix, the shard's inc: and
// job: key prefixes.
var claimScript = redis.NewScript(claimLua + `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', '0', ARGV[3])
local out = {}
for i = 1, #due, 2 do
  claim(KEYS[1], KEYS[2], due[i], due[i + 1], ARGV[2], ARGV[4] .. i, ARGV[5], ARGV[6], out)
end
return out
`)

// knownRead is how many entries claimAllScript reads at once of a shard
// known to hold something due (a new incident's first page, written
// through this store: dueHeads.dueOf): its due entries and the first
// entry after them, in one command, when no more than knownRead-1 are
// due, as at a wake for one new incident or for a burst spread over the
// shards; more due than that, and its due entries are read again, all of
// them, and its head after the claim, as before. Its due entries, and
// then its head after the claim, were two reads for every shard claimed
// from. Reading four entries of a shard of hundreds, not one, measured
// no dearer in Redis's time than the read it saves
// (BenchmarkClaimAtAWake), and covers a wake's few due in a shard.
const knownRead = 4

// claimAllScript is ClaimDue and NextDue over every shard in one call, on
// a Redis that holds them all (not a cluster, where no script may span
// shards): ARGV the key prefix, the number of shards, now, lease end, max,
// token prefix, the shard to take equal times from first (0-based), and
// the shards to read (two hex digits a shard; all of them when empty or
// absent: ClaimDueNextScoped), and of those the shards whose head the
// caller knows has come (the same way; dueHeads.dueOf). It names its keys itself: passed in, 32
// keys cost pagerd an allocation each a call. It claims the earliest max
// entries due over the shards it reads, as ClaimDue's merge does, and
// returns their fields as claimScript does, then the head of each shard
// it read (shard, earliest score or -1 for none; a shard claimed from
// after a claim of max is left out: not read again), then the earliest
// due time left over them ('-' for none), or '+' after a claim of max
// entries (more may be due: the caller asks again). A shard's earliest
// entry is read first, so a shard with nothing due costs one command,
// not two; but a shard known to hold something due (a new incident's
// first page, written through the caller) has its first knownRead
// entries read at once: fewer of them due, they are all its due entries,
// and the first after them tells its head after the claim without a look
// at it (a command more for every shard claimed from).
// The numbers it passes to commands are strings (ARGV[5], '0'): Redis
// turns a Lua number into one with printf's %.17g, a microsecond more
// than a string, at every read of a due set.
var claimAllScript = redis.NewScript(claimLua + `
local prefix, n, now, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5])
-- A shard's keys, each built once a call: a claim names four, and
-- string.format at each was a fifth of a microsecond.
local keys = {}
local function key(s, name)
  local ks = keys[s]
  if not ks then
    ks = {}
    keys[s] = ks
  end
  local k = ks[name]
  if not k then
    k = string.format('%s:{%02x}:%s', prefix, s - 1, name)
    ks[name] = k
  end
  return k
end
local shards, only = {}, ARGV[8] or ''
if only == '' then
  for s = 1, n do shards[s] = s end
else
  for i = 1, #only, 2 do shards[#shards + 1] = tonumber(string.sub(only, i, i + 1), 16) + 1 end
end
local known, due = {}, ARGV[9] or ''
for i = 1, #due, 2 do known[tonumber(string.sub(due, i, i + 1), 16) + 1] = true end
local m = #shards
-- rest: of a shard whose due entries were all read with the first entry
-- after them, that entry's score (false for none).
local heads, pos, head, rest, later = {}, {}, {}, {}, nil
for _, s in ipairs(shards) do
  heads[s], pos[s] = {}, 1
  -- A shard known to hold something due has its first knownRead entries
  -- read, any other its first.
  local asked, last = 1, '0'
  if known[s] then asked, last = ` + strconv.Itoa(knownRead) + `, '` + strconv.Itoa(knownRead-1) + `' end
  local z = redis.call('ZRANGE', key(s, 'due'), '0', last, 'WITHSCORES')
  local d = 0
  while z[2 * d + 2] and tonumber(z[2 * d + 2]) <= now do d = d + 1 end
  if d == 0 then
    if z[2] then
      local score = tonumber(z[2])
      head[s] = score
      if later == nil or score < later then later = score end
    else
      head[s] = -1
    end
  elseif 2 * d < #z or #z < 2 * asked then
    -- Every due entry read: an entry not due after them, or the end.
    for i = 1, 2 * d do heads[s][i] = z[i] end
    rest[s] = false
    if z[2 * d + 2] then rest[s] = tonumber(z[2 * d + 2]) end
  else
    heads[s] = redis.call('ZRANGEBYSCORE', key(s, 'due'), '-inf', ARGV[3], 'WITHSCORES', 'LIMIT', '0', ARGV[5])
  end
end
local out = {}
local taken = 0
local first = tonumber(ARGV[7])
-- Each shard's next due entry's score, as a number, made once an entry:
-- the merge compares every shard's at each take, and making them there
-- (tonumber, a quarter of a microsecond) was shards times entries of them
-- at a storm's wake, when a claim takes many entries from many shards.
local nextScore = {}
for _, s in ipairs(shards) do
  if #heads[s] > 0 then nextScore[s] = tonumber(heads[s][2]) end
end
while taken < max do
  local best, bestScore = nil, nil
  for i = 0, m - 1 do
    local s = shards[(first + i) % m + 1]
    local sc = nextScore[s]
    if sc and (best == nil or sc < bestScore) then best, bestScore = s, sc end
  end
  if best == nil then break end
  local h, p = heads[best], pos[best]
  pos[best] = p + 2
  if p + 2 < #h then nextScore[best] = tonumber(h[p + 3]) else nextScore[best] = nil end
  taken = taken + 1
  claim(key(best, 'due'), key(best, 'claims'), h[p], h[p + 1], ARGV[4], ARGV[6] .. taken, key(best, 'inc:'), key(best, 'job:'), out)
end
local function withHeads()
  local hs = {}
  for _, s in ipairs(shards) do
    if head[s] then
      hs[#hs + 1] = s - 1
      hs[#hs + 1] = head[s]
    end
  end
  table.insert(out, hs)
end
if taken == max then
  withHeads()
  table.insert(out, '+')
  return out
end
-- Nothing else is due: the next is the earliest of the shards that had
-- nothing due and the new earliest of those claimed from. Every due entry
-- read was claimed, moved to the lease end, and nothing else of their
-- shards moved: a shard whose entries after them were read (rest) has
-- its head at the lease end or at that first entry after them, whichever
-- is earlier, which is what a look at its head (ZRANGE) would read.
local leaseEnd = tonumber(ARGV[4])
for _, s in ipairs(shards) do
  if #heads[s] > 0 then
    local score = nil
    if rest[s] ~= nil then
      score = leaseEnd
      if rest[s] and rest[s] < score then score = rest[s] end
    else
      local z = redis.call('ZRANGE', key(s, 'due'), '0', '0', 'WITHSCORES')
      if z[2] then score = tonumber(z[2]) end
    end
    head[s] = -1
    if score then
      head[s] = score
      if later == nil or score < later then later = score end
    end
  end
end
withHeads()
if later == nil then
  table.insert(out, '-')
else
  table.insert(out, string.format('%d', later))
end
return out
`)

// ClaimDue leases due incidents, earliest first over every shard: in one
// script on a Redis that holds every shard (claimAllScript), in two round
// trips on a cluster, whatever the number of shards: one pipeline reads
// the earliest due entries of each shard, a second claims the earliest max
// of them from their shards. Earliest first in the result. A claimed
// incident is re-scored to its lease end, so it comes due again by itself
// if the claimer dies.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	if max <= 0 {
		return nil, nil
	}
	if s.oneScriptClaims.Load() {
		claims, _, _, _, err := s.claimAll(ctx, now, lease, max)
		if !errors.Is(err, errUndeclaredKeys) {
			return claims, err
		}
	}
	nowMS := strconv.FormatInt(ms(now), 10)
	pipe := s.rdb.Pipeline()
	heads := make([]*redis.ZSliceCmd, store.Shards)
	for shard := range heads {
		heads[shard] = pipe.ZRangeByScoreWithScores(ctx, s.key(shard, "due"), &redis.ZRangeBy{Min: "-inf", Max: nowMS, Count: int64(max)})
	}
	// A shard whose read failed (its cluster node down) is left out, and
	// the error returned with the claims of the others: one node down
	// must not stop the pages of every shard.
	var failed error
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		failed = err
		for shard, h := range heads {
			if h.Err() != nil && !errors.Is(h.Err(), redis.Nil) {
				heads[shard] = nil
			}
		}
	}
	// The max earliest over every shard, so claims come earliest first
	// across shards: a new incident's first page, queued ahead of its
	// time, goes before older steps whatever shard it is in. Each shard's
	// own are in order, so a merge picks them: sorting every shard's heads
	// (up to max of each) was 3% of pagerd's CPU in a storm. Equal times
	// are taken from a random shard first, so no shard is always served
	// last.
	quota := make([]int, store.Shards)
	start := randShard()
	for taken := 0; taken < max; taken++ {
		best, bestScore := -1, 0.0
		for i := range store.Shards {
			shard := (start + i) % store.Shards
			if heads[shard] == nil {
				continue
			}
			if h := heads[shard].Val(); quota[shard] < len(h) && (best < 0 || h[quota[shard]].Score < bestScore) {
				best, bestScore = shard, h[quota[shard]].Score
			}
		}
		if best < 0 {
			break
		}
		quota[best]++
	}
	pipe = s.rdb.Pipeline()
	cmds := map[int]*redis.Cmd{}
	for shard, q := range quota {
		if q > 0 {
			cmds[shard] = claimScript.EvalSha(ctx, pipe, []string{s.key(shard, "due"), s.key(shard, "claims")},
				ms(now), ms(now.Add(lease)), q, newToken(), s.key(shard, "inc:"), s.key(shard, "job:"))
		}
	}
	if len(cmds) == 0 {
		return nil, unavailable(failed)
	}
	// Each shard's claim is its own script: one that failed leaves the
	// others' claims, leased, which the caller must work all the same.
	_, _ = pipe.Exec(ctx)
	var out []store.Claim
	for shard, c := range cmds {
		res, err := c.Slice()
		if isNoScript(err) {
			// The script cache was flushed (a Redis restart): run it the
			// slow way once; EVAL loads it again.
			res, err = claimScript.Run(ctx, s.rdb, []string{s.key(shard, "due"), s.key(shard, "claims")},
				ms(now), ms(now.Add(lease)), quota[shard], newToken(), s.key(shard, "inc:"), s.key(shard, "job:")).Slice()
		}
		if err != nil {
			if failed == nil {
				failed = err
			}
			continue
		}
		out = append(out, s.parseClaims(res)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Due.Before(out[j].Due) })
	return out, unavailable(failed)
}

// ClaimDueNext is ClaimDue and, when the claim leaves a slot free,
// NextDue: one script over every shard on a Redis that holds them all,
// ClaimDue's two round trips and NextDue's one on a cluster.
func (s *Store) ClaimDueNext(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, time.Time, bool, bool, error) {
	if max <= 0 {
		return nil, time.Time{}, false, true, nil
	}
	if s.oneScriptClaims.Load() {
		claims, next, ok, more, err := s.claimAll(ctx, now, lease, max)
		if !errors.Is(err, errUndeclaredKeys) {
			return claims, next, ok, more, err
		}
	}
	return store.ClaimDueNext(ctx, storeOnly{s}, now, lease, max)
}

// storeOnly hides ClaimDueNext, for store.ClaimDueNext's two calls.
type storeOnly struct{ store.Store }

// errUndeclaredKeys is claimAll's answer once the server refused
// claimAllScript for naming keys it was not passed: the caller claims shard
// by shard instead, as on a cluster.
var errUndeclaredKeys = errors.New("redis: the server refuses scripts that name undeclared keys")

// refusesUndeclaredKeys tells a server's refusal of a script that names
// keys it was not passed: Dragonfly's "script tried accessing undeclared
// key" unless started with --default_lua_flags=allow-undeclared-keys, and
// proxies that route scripts by their declared keys. The script stopped at
// its first key, before it wrote anything.
func refusesUndeclaredKeys(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "undeclared key")
}

// claimAll runs claimAllScript over every shard.
func (s *Store) claimAll(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, time.Time, bool, bool, error) {
	shards, gens := s.heads.scope(ms(now), true)
	return s.claimIn(ctx, now, lease, max, shards, gens)
}

// claimIn runs claimAllScript over the shards (every one: all of them),
// and tells s.heads what it found there. A server that refuses it for
// naming its own keys makes it answer errUndeclaredKeys, and this store
// claims shard by shard from then on: said once in the log, as it costs a
// command per shard at every claim.
func (s *Store) claimIn(ctx context.Context, now time.Time, lease time.Duration, max int, shards []int, gens []uint64) ([]store.Claim, time.Time, bool, bool, error) {
	args := []any{s.prefix, store.Shards, ms(now), ms(now.Add(lease)), max, newToken(), randShard(), scopeArg(shards), s.heads.dueOf(shards, ms(now))}
	res, err := claimAllScript.EvalSha(ctx, s.rdb, nil, args...).Slice()
	if isNoScript(err) {
		// The script cache was flushed (a Redis restart): EVAL loads it
		// again.
		res, err = claimAllScript.Eval(ctx, s.rdb, nil, args...).Slice()
	}
	if err != nil {
		// What a claim whose answer was lost did is not known: the
		// next claim reads its shards again.
		s.heads.forget(shards)
	}
	if refusesUndeclaredKeys(err) {
		if s.oneScriptClaims.CompareAndSwap(true, false) {
			s.log.Warn("store: the server refuses a script that names its own keys (a proxy that routes scripts by their declared keys); claiming due steps shard by shard from now on, a command per shard at each claim",
				"err", err)
		}
		return nil, time.Time{}, false, false, errUndeclaredKeys
	}
	if err != nil {
		return nil, time.Time{}, false, false, unavailable(err)
	}
	if len(res) < 2 {
		s.heads.forget(shards)
		return nil, time.Time{}, false, false, fmt.Errorf("%w: redis: the claim script answered %d fields", store.ErrUnavailable, len(res))
	}
	found := map[int]int64{}
	hs, _ := res[len(res)-2].([]any)
	for i := 0; i+1 < len(hs); i += 2 {
		shard, ok1 := hs[i].(int64)
		at, ok2 := hs[i+1].(int64)
		if !ok1 || !ok2 || shard < 0 || shard >= store.Shards {
			continue
		}
		if at < 0 {
			at = headNone
		}
		found[int(shard)] = at
	}
	s.heads.learned(shards, gens, found)
	out := s.parseClaims(res[:len(res)-2])
	sort.SliceStable(out, func(i, j int) bool { return out[i].Due.Before(out[j].Due) })
	switch last, _ := res[len(res)-1].(string); last {
	case "+":
		return out, time.Time{}, false, true, nil
	case "-":
		return out, time.Time{}, false, false, nil
	default:
		next, err := strconv.ParseInt(last, 10, 64)
		if err != nil {
			return nil, time.Time{}, false, false, fmt.Errorf("%w: redis: the claim script's next due time %q", store.ErrUnavailable, last)
		}
		return out, time.UnixMilli(next).UTC(), true, false, nil
	}
}

// ClaimDueNextScoped is ClaimDueNext that, unless everywhere is set,
// reads only the shards that may hold something due at now (dueHeads):
// those whose earliest entry it knows has come, and those written since
// it last read them through this store or, by their nudges, another
// replica's. When none may, it asks Redis nothing. The next due time it
// tells is the earliest it knows over every shard, which may be earlier
// than the real one (never later): the caller then looks again for
// nothing. Writes it cannot know of (a tool's, or those of a replica that
// did not nudge) are found by the next claim everywhere, which the caller
// asks for at least every poll (store.ScopedClaimer). On a cluster every
// claim reads every shard.
func (s *Store) ClaimDueNextScoped(ctx context.Context, now time.Time, lease time.Duration, max int, everywhere bool) ([]store.Claim, time.Time, bool, bool, error) {
	if max <= 0 || !s.oneScriptClaims.Load() {
		return s.ClaimDueNext(ctx, now, lease, max)
	}
	nowMS := ms(now)
	shards, gens := s.heads.scope(nowMS, everywhere)
	var claims []store.Claim
	if len(shards) > 0 {
		var more bool
		var err error
		claims, _, _, more, err = s.claimIn(ctx, now, lease, max, shards, gens)
		if errors.Is(err, errUndeclaredKeys) {
			return s.ClaimDueNext(ctx, now, lease, max)
		}
		if err != nil || more {
			return claims, time.Time{}, false, more, err
		}
	}
	next, ok := s.heads.next(nowMS)
	if !ok {
		return claims, time.Time{}, false, false, nil
	}
	return claims, time.UnixMilli(next).UTC(), true, false, nil
}

// parseClaims reads claimScript's answer: five fields a claim.
func (s *Store) parseClaims(res []any) []store.Claim {
	var out []store.Claim
	for i := 0; i+4 < len(res); i += 5 {
		id, _ := res[i].(string)
		origS, _ := res[i+1].(string)
		token, _ := res[i+2].(string)
		take, _ := res[i+3].(int64)
		orig, _ := strconv.ParseInt(origS, 10, 64)
		c := store.Claim{Incident: id, Due: time.UnixMilli(orig).UTC(), Token: token, Takeover: take == 1}
		if key, ok := store.StormOfMember(id); ok {
			c.Incident, c.Storm = "", key
		} else if kind, key, ok := store.JobOfMember(id); ok {
			c.Incident = ""
			c.Job = &store.Job{Kind: kind, Key: key} // a job deleted meanwhile: version 0
			if rec, ok := res[i+4].(string); ok {
				if j, err := decodeJob(rec); err == nil {
					j.Kind, j.Key = kind, key
					c.Job = j
				}
			}
		} else if rec, ok := res[i+4].(string); ok {
			// A record that does not decode is read again, and
			// reported, by the dispatcher's own Get.
			if c.Record = s.takeCreated(id, rec); c.Record == nil {
				c.Record, _ = decode(rec)
			}
		}
		out = append(out, c)
	}
	return out
}

func isNoScript(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") }

// completeScript releases a claim if it is still this one's (ARGV[2]),
// putting the incident back at its earliest pending deadline, or at
// ARGV[3] (ms, empty for none) if that is later: that time is kept in claims
// for the Updates until the next claim to keep too (writeLua), with the
// original due time after it, where a claim's entry has it: a replica of
// an earlier version, in a rolling upgrade, reads the entry as a claim
// whose lease ran out, and takes it over (its claim script reads the
// original due time after the colon, and fails on an entry without one).
var completeScript = redis.NewScript(recordLua + `
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur and string.sub(cur, 1, #ARGV[2] + 1) == ARGV[2] .. ':' then
  local v = redis.call('GET', KEYS[3])
  local nx = '-'
  if v then nx = parse(v).nx end
  if nx ~= '-' and ARGV[3] ~= '' then
    redis.call('HSET', KEYS[2], ARGV[1], '!' .. ARGV[3] .. ':' .. nx)
    redis.call('ZADD', KEYS[1], math.max(tonumber(nx), tonumber(ARGV[3])), ARGV[1])
  elseif nx ~= '-' then
    redis.call('HDEL', KEYS[2], ARGV[1])
    redis.call('ZADD', KEYS[1], nx, ARGV[1])
  else
    redis.call('HDEL', KEYS[2], ARGV[1])
    redis.call('ZREM', KEYS[1], ARGV[1])
  end
end
return 1
`)

// Complete releases a claim if it is still this one's, putting the incident
// back at its earliest pending deadline.
func (s *Store) Complete(ctx context.Context, c store.Claim) error {
	if c.Storm != "" {
		return s.completeStorm(ctx, c, 0)
	}
	if c.Job != nil {
		return s.completeJob(ctx, c)
	}
	return s.release(ctx, c, "")
}

// Release gives up a claim as Complete does, the incident (or storm) due
// again no earlier than notBefore.
func (s *Store) Release(ctx context.Context, c store.Claim, notBefore time.Time) error {
	if c.Storm != "" {
		return s.completeStorm(ctx, c, notBefore.UnixMilli())
	}
	if notBefore.IsZero() {
		return s.release(ctx, c, "")
	}
	return s.release(ctx, c, strconv.FormatInt(notBefore.UnixMilli(), 10))
}

// release runs completeScript, notBeforeMS "" for no time to keep.
func (s *Store) release(ctx context.Context, c store.Claim, notBeforeMS string) error {
	shard, err := store.ShardOfID(c.Incident)
	if err != nil {
		return err
	}
	err = completeScript.Run(ctx, s.rdb, []string{s.key(shard, "due"), s.key(shard, "claims"), s.key(shard, "inc:", c.Incident)},
		c.Incident, c.Token, notBeforeMS).Err()
	s.heads.touched(shard) // due again at the record's next deadline, which the script reads
	return unavailable(err)
}

// extendScript moves a claim's due entry (KEYS due, claims; ARGV member,
// token, lease end ms) if the claim is still the token's and the entry is
// there: 1 if it was.
var extendScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not cur or string.sub(cur, 1, #ARGV[2] + 1) ~= ARGV[2] .. ':' then return 0 end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`)

// Extend moves the claim's lease end to until if the claim is still this
// one's: one script on the claim's shard.
func (s *Store) Extend(ctx context.Context, c store.Claim, until time.Time) (bool, error) {
	shard, member, err := store.ClaimMember(c)
	if err != nil || c.Token == "" {
		return false, err
	}
	n, err := extendScript.Run(ctx, s.rdb, []string{s.key(shard, "due"), s.key(shard, "claims")}, member, c.Token, until.UnixMilli()).Int()
	if err != nil || n == 1 {
		s.heads.wrote(shard, until.UnixMilli()) // a keep moves a lease end later, but one moved earlier must be found
	}
	return n == 1 && err == nil, unavailable(err)
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
func (s *Store) Ping(ctx context.Context) error {
	if err := s.newerErr.Load(); err != nil {
		return *err
	}
	return unavailable(s.rdb.Ping(ctx).Err())
}

// Broken is closed once a probe found the Redis data upgraded by a newer
// pagerd (store.Breakable): the daemon stops, and exits non-zero.
func (s *Store) Broken() <-chan struct{} { return s.newer }

// Probe writes a key that expires: refused, like every write, by a Redis
// over maxmemory with noeviction, a READONLY replica, or MISCONF after a
// failed save. In the same round trip it puts the schema key and the
// shards' markers (shardMarker) back where they are missing: once
// CheckSchema has passed, a missing one means Redis, or on a cluster the
// master that holds it, lost pagerd's data (restarted without
// persistence, failed over to a replica that had not had it, flushed, or
// evicted it), and Probe says so with store.ErrDataLost, once per loss:
// the keys it put back are what find the next one. Of several replicas,
// the one whose probe comes first finds it. A loss found by a probe that
// failed in part is said with the failure (ErrDataLost and
// ErrUnavailable).
func (s *Store) Probe(ctx context.Context) error {
	pipe := s.rdb.Pipeline()
	pipe.Set(ctx, s.prefix+":probe:"+s.self, time.Now().UTC().Format(time.RFC3339Nano), time.Minute)
	var putBack *redis.BoolCmd
	var schema *redis.StringCmd
	var markers []*redis.BoolCmd
	if s.schemaSeen.Load() {
		putBack = pipe.SetNX(ctx, s.schemaKey(), schemaVersion, 0)
		schema = pipe.Get(ctx, s.schemaKey())
		markers = make([]*redis.BoolCmd, store.Shards)
		for i := range markers {
			markers[i] = pipe.SetNX(ctx, s.shardMarker(i), schemaVersion, 0)
		}
	}
	// A pipeline that failed in part (on a cluster, a master that does
	// not answer) still put back the keys of those that did: what they
	// found lost is said with the failure, or the next probe finds them
	// there and the loss is never said.
	var failed error
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		failed = unavailable(err)
	}
	put := func(c *redis.BoolCmd) bool { return c != nil && c.Err() == nil && c.Val() }
	if schema != nil && schema.Err() == nil {
		// A newer pagerd that upgraded the data while this one runs (a
		// rolling upgrade: the new replica migrates, the old ones go on)
		// would have this one write records of the old layout into it.
		if have, err := strconv.Atoi(schema.Val()); err == nil && have > schemaVersion {
			err := fmt.Errorf("%w: redis key %s holds schema %d, written by a newer pagerd while this one ran; this pagerd reads schema %d and older, and stops: run the newer one",
				ErrNewerSchema, s.schemaKey(), have, schemaVersion)
			s.newerOnce.Do(func() {
				s.newerErr.Store(&err)
				close(s.newer)
			})
			return err
		}
	}
	var lostErr error
	var lost []string
	for i, m := range markers {
		if put(m) {
			lost = append(lost, s.shardMarker(i))
		}
	}
	switch {
	case put(putBack):
		lostErr = fmt.Errorf("%w: redis key %s, written when pagerd first used this Redis, was gone (written again)", store.ErrDataLost, s.schemaKey())
	case len(lost) > 0:
		lostErr = fmt.Errorf("%w: redis keys %s, written when pagerd first used this Redis, were gone (written again): the Redis Cluster master that holds those shards lost its data",
			store.ErrDataLost, strings.Join(lost, ", "))
	}
	if lostErr != nil && failed != nil {
		return fmt.Errorf("%w; and %w", lostErr, failed)
	}
	if lostErr != nil {
		return lostErr
	}
	return failed
}

// Close closes the client.
func (s *Store) Close() error {
	s.batch.close()
	return s.rdb.Close()
}

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

// LoadScripts loads the store's Lua scripts into Redis's script cache ahead
// of the first alert, so it is not the one that pays for EVAL fallback.
func (s *Store) LoadScripts(ctx context.Context) error {
	for _, sc := range []*redis.Script{triggerScript, updateScript, finishScript, claimScript, claimAllScript, completeScript, extendScript, admitScript, flushedScript, unsentScript,
		completeStormScript, noteScript, putJobScript, deleteJobScript, finishJobScript, completeJobScript, listDocsScript, putDocsScript,
		expireScript, addJobScript, replaceJobScript, putLaterJobsScript} {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return unavailable(err)
		}
	}
	return nil
}

// keysProbeScript reads a key of its declared key's shard that it was not
// passed, as the per-shard claim reads a claimed incident's record and the
// trigger a repeated alert's.
var keysProbeScript = redis.NewScript(`return redis.call('EXISTS', KEYS[1] .. ':x')`)

// CheckScriptKeys fails when the server refuses a script that reads a key
// of its own shard it was not passed (Dragonfly unless started with
// --default_lua_flags=allow-undeclared-keys): claims and repeated alerts
// would then fail at every try, and no page would go out. Open refuses
// such a server, so the daemon does not start instead of starting and
// paging nobody; other errors (Redis not answering yet) are not its to
// judge and pass.
func (s *Store) CheckScriptKeys(ctx context.Context) error {
	err := keysProbeScript.Run(ctx, s.rdb, []string{s.key(0, "probe")}).Err()
	if refusesUndeclaredKeys(err) {
		return fmt.Errorf("redis: the server refuses scripts that read keys of their shard they were not passed, so pagerd could claim no page "+
			"(Dragonfly: start it with --default_lua_flags=allow-undeclared-keys): %w", err)
	}
	return nil
}

// Nudge tells every other replica's dispatcher to look at the due set
// now (the caller wakes its own: a nudge says which store sent it, and
// Nudges skips this store's). It names the shards whose due sets this
// store wrote since its last nudge ("<self> <shards as 16 hex digits, a
// bit a shard>"), so that their claims read those (ClaimDueNextScoped);
// a replica of before reads the whole message as a sender that is not
// itself, and looks everywhere, as it always did.
func (s *Store) Nudge(ctx context.Context) error {
	told := s.heads.told.Swap(0)
	err := s.rdb.Publish(ctx, s.prefix+":nudge", nudgeMessage(s.self, told)).Err()
	if err != nil {
		s.heads.told.Or(told) // named again in the next one
	}
	return unavailable(err)
}

// nudgeMessage is a nudge's payload: its sender, and the shards it names.
func nudgeMessage(self string, shards uint64) string {
	return self + " " + fmt.Sprintf("%016x", shards)
}

// nudgeShards reads a nudge's payload: whether this store sent it, and
// the shards it names; every shard for one without them (a replica of
// before).
func nudgeShards(self, payload string) (own bool, shards uint64) {
	from, hex, ok := strings.Cut(payload, " ")
	if from == self {
		return true, 0
	}
	if !ok {
		return false, allShards
	}
	v, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return false, allShards
	}
	if v&^allShards != 0 {
		// Bits past this store's shards: a sender that does not
		// count shards as this one does (another version); it may
		// have written anywhere.
		return false, allShards
	}
	return false, v
}

// Nudges delivers the nudges of every other replica until ctx ends, and
// makes the shards each names read at this store's next claim. A
// store's own came back to it as well, one per alert at a steady 1,000 a
// second: each a message to read and a wake of a dispatcher already woken
// by the daemon. Pub/sub is not durable: a nudge lost while disconnected
// only delays a step until the dispatcher's next regular look.
func (s *Store) Nudges(ctx context.Context) <-chan struct{} {
	return s.subscribe(ctx, s.prefix+":nudge", func(payload string) bool {
		own, shards := nudgeShards(s.self, payload)
		if !own {
			s.heads.heard(shards)
		}
		return !own
	})
}

// topic is the pub/sub channel of a broadcast topic: apart from the
// dispatcher's nudge channel, so that neither wakes the other's listeners.
func (s *Store) topic(name string) string { return s.prefix + ":topic:" + name }

// Broadcast tells every replica listening on topic that what it names
// changed.
func (s *Store) Broadcast(ctx context.Context, topic string) error {
	return unavailable(s.rdb.Publish(ctx, s.topic(topic), "1").Err())
}

// Broadcasts delivers the broadcasts on topic until ctx ends. Like nudges
// they are not durable: a listener also reads again on a timer.
func (s *Store) Broadcasts(ctx context.Context, topic string) <-chan struct{} {
	return s.subscribe(ctx, s.topic(topic), nil)
}

// subscribe delivers the messages of a pub/sub channel as signals until ctx
// ends, but those take (when not nil) turns down, after it has read them;
// those that arrive while one waits to be taken make one.
func (s *Store) subscribe(ctx context.Context, channel string, take func(payload string) bool) <-chan struct{} {
	out := make(chan struct{}, 1)
	sub := s.rdb.Subscribe(ctx, channel)
	go func() {
		defer sub.Close()
		ch := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				if take != nil && !take(m.Payload) {
					continue
				}
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}
