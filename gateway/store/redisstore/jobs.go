package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
)

// Jobs and documents. A job is the string job:<kind>/<key> in its shard
// (store.ShardOfJob): "<version> <due ms>\n<data>", and the member
// "j:<kind>/<key>" of that shard's due set and claims. Documents of a kind
// are the hash {docs}:docs:<kind> and its version the string
// {docs}:docsver:<kind>, all in one hash slot.

func (s *Store) jobKeys(kind, key string) []string {
	shard := store.ShardOfJob(kind, key)
	return []string{s.key(shard, "job:", kind, "/", key), s.key(shard, "due"), s.key(shard, "claims")}
}

// decodeJob reads a stored job record.
func decodeJob(v string) (*store.Job, error) {
	head, data, ok := strings.Cut(v, "\n")
	if !ok {
		return nil, fmt.Errorf("decode job: no header")
	}
	verS, dueS, _ := strings.Cut(head, " ")
	ver, err1 := strconv.ParseInt(verS, 10, 64)
	due, err2 := strconv.ParseInt(dueS, 10, 64)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("decode job header %q", head)
	}
	j := &store.Job{Due: time.UnixMilli(due).UTC(), Version: ver}
	if data != "" {
		j.Data = []byte(data)
	}
	return j, nil
}

var putJobScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
local ver = 0
if cur then ver = tonumber(string.match(cur, '^(%d+) ')) end
ver = ver + 1
redis.call('SET', KEYS[1], ver .. ' ' .. ARGV[2] .. '\n' .. ARGV[3])
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
end
return ver
`)

// PutJob stores and schedules a job: one script.
func (s *Store) PutJob(ctx context.Context, j store.Job) error {
	if err := store.CheckJob(j); err != nil {
		return err
	}
	err := putJobScript.Run(ctx, s.rdb, s.jobKeys(j.Kind, j.Key), store.JobMember(j.Kind, j.Key),
		ms(j.Due), string(j.Data)).Err()
	s.heads.touched(store.ShardOfJob(j.Kind, j.Key))
	return unavailableWrite(err)
}

// putLaterJobsScript is putJobScript for several jobs of one shard
// (KEYS[3] on; ARGV a member, a due and a data each), each written only
// when due later than the job stored, if any. It returns how many it
// wrote.
var putLaterJobsScript = redis.NewScript(`
local n = 0
for i = 3, #KEYS do
  local a = 3 * (i - 3)
  local due = tonumber(ARGV[a + 2])
  local cur = redis.call('GET', KEYS[i])
  local ver, was = 0, nil
  if cur then
    local v, d = string.match(cur, '^(%d+) (%d+)')
    ver, was = tonumber(v) or 0, tonumber(d)
  end
  if not was or was < due then
    redis.call('SET', KEYS[i], (ver + 1) .. ' ' .. ARGV[a + 2] .. '\n' .. ARGV[a + 3])
    if redis.call('HEXISTS', KEYS[2], ARGV[a + 1]) == 0 then
      redis.call('ZADD', KEYS[1], ARGV[a + 2], ARGV[a + 1])
    end
    n = n + 1
  end
end
return n
`)

// PutLaterJobs stores and schedules the jobs each due later than the one
// stored: one script per shard they fall in, all in one pipeline.
func (s *Store) PutLaterJobs(ctx context.Context, jobs []store.Job) error {
	byShard := map[int][]store.Job{}
	for _, j := range jobs {
		if err := store.CheckJob(j); err != nil {
			return err
		}
		shard := store.ShardOfJob(j.Kind, j.Key)
		byShard[shard] = append(byShard[shard], j)
	}
	if len(byShard) == 0 {
		return nil
	}
	type shardScript struct {
		keys []string
		args []any
		cmd  *redis.Cmd
	}
	scripts := make([]*shardScript, 0, len(byShard))
	pipe := s.rdb.Pipeline()
	for shard, js := range byShard {
		sc := &shardScript{keys: []string{s.key(shard, "due"), s.key(shard, "claims")}, args: make([]any, 0, 3*len(js))}
		for _, j := range js {
			sc.keys = append(sc.keys, s.key(shard, "job:", j.Kind, "/", j.Key))
			sc.args = append(sc.args, store.JobMember(j.Kind, j.Key), ms(j.Due), string(j.Data))
		}
		sc.cmd = putLaterJobsScript.EvalSha(ctx, pipe, sc.keys, sc.args...)
		scripts = append(scripts, sc)
		s.heads.touched(shard)
	}
	_, _ = pipe.Exec(ctx)
	// The error is a script's whose outcome is unknown if one's is: then
	// some jobs may be stored.
	var failed error
	for _, sc := range scripts {
		if isNoScript(sc.cmd.Err()) {
			// Redis lost its scripts (a restart): nothing ran; run it
			// with its source, which loads it for the next ones.
			sc.cmd = putLaterJobsScript.Run(ctx, s.rdb, sc.keys, sc.args...)
		}
		if err := unavailableWrite(sc.cmd.Err()); err != nil && (failed == nil || errors.Is(err, store.ErrOutcomeUnknown)) {
			failed = err
		}
	}
	return failed
}

// addJobScript stores a job only if it is not stored: SET NX, and its due
// entry when it is new (a claim left on the member stays the claimer's).
var addJobScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], '1 ' .. ARGV[2] .. '\n' .. ARGV[3], 'NX') then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
end
return 1
`)

// AddJob stores and schedules a job that is not stored: one script.
func (s *Store) AddJob(ctx context.Context, j store.Job) (added bool, err error) {
	if err := store.CheckJob(j); err != nil {
		return false, err
	}
	n, err := addJobScript.Run(ctx, s.rdb, s.jobKeys(j.Kind, j.Key), store.JobMember(j.Kind, j.Key),
		ms(j.Due), string(j.Data)).Int()
	s.heads.touched(store.ShardOfJob(j.Kind, j.Key))
	if err != nil {
		return false, unavailableWrite(err)
	}
	return n == 1, nil
}

// replaceJobScript stores a job only if it is stored at version ARGV[4]
// and not claimed (a claim record, live or awaiting its takeover): the
// next version, due at its time.
var replaceJobScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ver = tonumber(string.match(cur, '^(%d+) '))
if ver ~= tonumber(ARGV[4]) or redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], (ver + 1) .. ' ' .. ARGV[2] .. '\n' .. ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
`)

// ReplaceJob stores and schedules a job still at the version read and not
// claimed: one script.
func (s *Store) ReplaceJob(ctx context.Context, j store.Job) (replaced bool, err error) {
	if err := store.CheckJob(j); err != nil {
		return false, err
	}
	n, err := replaceJobScript.Run(ctx, s.rdb, s.jobKeys(j.Kind, j.Key), store.JobMember(j.Kind, j.Key),
		ms(j.Due), string(j.Data), j.Version).Int()
	s.heads.touched(store.ShardOfJob(j.Kind, j.Key))
	if err != nil {
		return false, unavailableWrite(err)
	}
	return n == 1, nil
}

// GetJob reads a job.
func (s *Store) GetJob(ctx context.Context, kind, key string) (*store.Job, error) {
	v, err := s.rdb.Get(ctx, s.jobKeys(kind, key)[0]).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: job %s/%s", store.ErrNotFound, kind, key)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	j, err := decodeJob(v)
	if err != nil {
		return nil, err
	}
	j.Kind, j.Key = kind, key
	return j, nil
}

var deleteJobScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
`)

// DeleteJob removes a job, its schedule and any claim.
func (s *Store) DeleteJob(ctx context.Context, kind, key string) error {
	return unavailableWrite(deleteJobScript.Run(ctx, s.rdb, s.jobKeys(kind, key), store.JobMember(kind, key)).Err())
}

// finishJobScript releases a job's claim if it is still this one's: a job
// replaced since it was claimed (another version) stays, due at its own
// time; otherwise it becomes the next job, or is deleted.
var finishJobScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[3], ARGV[1])
if not cur or string.sub(cur, 1, #ARGV[2] + 1) ~= ARGV[2] .. ':' then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
local v = redis.call('GET', KEYS[1])
if v then
  local ver, due = string.match(v, '^(%d+) (%d+)')
  if tonumber(ver) ~= tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[2], due, ARGV[1])
    return 1
  end
end
if ARGV[4] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
redis.call('SET', KEYS[1], (tonumber(ARGV[3]) + 1) .. ' ' .. ARGV[5] .. '\n' .. ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return 1
`)

// FinishJob releases a job's claim, keeping, replacing or deleting it.
func (s *Store) FinishJob(ctx context.Context, c store.Claim, next *store.Job) error {
	if c.Job == nil {
		return fmt.Errorf("finish job: not a job's claim")
	}
	j := c.Job
	has, due, data := "", int64(0), ""
	if next != nil {
		has, due, data = "1", ms(next.Due), string(next.Data)
	}
	err := finishJobScript.Run(ctx, s.rdb, s.jobKeys(j.Kind, j.Key), store.JobMember(j.Kind, j.Key), c.Token,
		j.Version, has, due, data).Err()
	s.heads.touched(store.ShardOfJob(j.Kind, j.Key))
	return unavailableWrite(err)
}

// completeJob releases a job's claim without changing the job: it is due
// again at its own time.
func (s *Store) completeJob(ctx context.Context, c store.Claim) error {
	err := completeJobScript.Run(ctx, s.rdb, s.jobKeys(c.Job.Kind, c.Job.Key), store.JobMember(c.Job.Kind, c.Job.Key), c.Token).Err()
	s.heads.touched(store.ShardOfJob(c.Job.Kind, c.Job.Key))
	return unavailable(err)
}

var completeJobScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[3], ARGV[1])
if not cur or string.sub(cur, 1, #ARGV[2] + 1) ~= ARGV[2] .. ':' then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
local v = redis.call('GET', KEYS[1])
if v then
  local due = string.match(v, '^%d+ (%d+)')
  redis.call('ZADD', KEYS[2], due, ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
`)

func (s *Store) docKeys(kind string) []string {
	return []string{s.prefix + ":{docs}:docs:" + kind, s.prefix + ":{docs}:docsver:" + kind}
}

var listDocsScript = redis.NewScript(`
return {redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[1])}
`)

// ListDocs reads a kind's documents and version in one script, a
// consistent snapshot.
func (s *Store) ListDocs(ctx context.Context, kind string) (map[string][]byte, int64, error) {
	res, err := listDocsScript.Run(ctx, s.rdb, s.docKeys(kind)).Slice()
	if err != nil {
		return nil, 0, unavailable(err)
	}
	if len(res) != 2 {
		return nil, 0, fmt.Errorf("redis: unexpected docs reply")
	}
	verS, _ := res[0].(string)
	ver, _ := strconv.ParseInt(verS, 10, 64)
	flat, _ := res[1].([]any)
	out := make(map[string][]byte, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		out[k] = []byte(v)
	}
	return out, ver, nil
}

var putDocsScript = redis.NewScript(`
local ver = tonumber(redis.call('GET', KEYS[2]) or '0')
if ver ~= tonumber(ARGV[1]) then return -1 end
local nput = tonumber(ARGV[2])
for i = 0, nput - 1 do
  redis.call('HSET', KEYS[1], ARGV[3 + 2 * i], ARGV[4 + 2 * i])
end
for i = 3 + 2 * nput, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
end
return redis.call('INCR', KEYS[2])
`)

// PutDocs writes a kind's documents if its version is still version.
func (s *Store) PutDocs(ctx context.Context, kind string, version int64, put map[string][]byte, del []string) (int64, error) {
	args := []any{version, len(put)}
	for k, v := range put {
		args = append(args, k, string(v))
	}
	for _, k := range del {
		args = append(args, k)
	}
	v, err := putDocsScript.Run(ctx, s.rdb, s.docKeys(kind), args...).Int64()
	if err != nil {
		return 0, unavailableWrite(err)
	}
	if v < 0 {
		return 0, store.ErrConflict
	}
	return v, nil
}
