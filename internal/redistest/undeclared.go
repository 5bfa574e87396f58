package redistest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// UndeclaredKeyError is the answer Dragonfly gives, unless started with
// --default_lua_flags=allow-undeclared-keys, to a script that touches a
// key it was not passed.
const UndeclaredKeyError = "ERR Error running script (call to f_0123): @user_script:4: script tried accessing undeclared key, key: pagerd:{00}:due"

// RefuseUndeclaredKeys is a go-redis hook (client.AddHook) that makes a
// real Redis look like a proxy that routes scripts by their declared keys,
// or like Dragonfly (ReadsOwnShard), to the client's scripts: every EVAL or
// EVALSHA that declares no keys is answered UndeclaredKeyError without
// reaching Redis, as Dragonfly answers such a script at its first key.
// Scripts with keys, and every other command, go through, unless
// ReadsOwnShard is set: then every script is refused, as Dragonfly refuses
// one that reads a key of its shard it was not passed (a proxy that routes
// by declared keys refuses only the keyless ones). Refused counts the
// refusals.
type RefuseUndeclaredKeys struct {
	ReadsOwnShard bool
	Refused       atomic.Int64
}

var _ redis.Hook = (*RefuseUndeclaredKeys)(nil)

// refuses tells a script call with no declared keys, and refuses it.
func (r *RefuseUndeclaredKeys) refuses(cmd redis.Cmder) bool {
	args := cmd.Args()
	switch strings.ToLower(cmd.Name()) {
	case "eval", "evalsha", "eval_ro", "evalsha_ro":
	default:
		return false
	}
	if !r.ReadsOwnShard && (len(args) < 3 || fmt.Sprint(args[2]) != "0") {
		return false
	}
	r.Refused.Add(1)
	cmd.SetErr(errors.New(UndeclaredKeyError))
	return true
}

// DialHook is go-redis's, unchanged.
func (r *RefuseUndeclaredKeys) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook refuses a script with no keys.
func (r *RefuseUndeclaredKeys) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if r.refuses(cmd) {
			return cmd.Err()
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook refuses the pipeline's scripts with no keys and
// sends the rest.
func (r *RefuseUndeclaredKeys) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var rest []redis.Cmder
		var refused error
		for _, cmd := range cmds {
			if r.refuses(cmd) {
				refused = cmd.Err()
			} else {
				rest = append(rest, cmd)
			}
		}
		if len(rest) > 0 {
			if err := next(ctx, rest); err != nil {
				return err
			}
		}
		return refused
	}
}
