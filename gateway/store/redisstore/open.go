package redisstore

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Open connects to the Redis that rawURL names (ParseURL) and says in the
// log which mode and keys it uses: an operator must never wonder where
// incidents are. go-redis's own lines go through log too (Logger), and so
// do the store's own (a record Expire cannot decode). Redis that does not
// answer yet is not an error: the daemon starts, /-/ready stays red and
// alerts are answered 503 until it does, so senders retry.
func Open(ctx context.Context, rawURL, prefix string, log *slog.Logger) (*Store, error) {
	opts, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	redis.SetLogger(Logger{Log: log})
	s := New(redis.NewUniversalClient(opts), prefix)
	s.log = log
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.LoadScripts(pctx); err != nil {
		log.Warn("redis does not answer yet", "err", err)
	} else if err := s.CheckScriptKeys(pctx); err != nil {
		return nil, err
	}
	mode := "standalone"
	switch {
	case opts.IsClusterMode:
		mode = "cluster"
	case opts.MasterName != "":
		mode = "sentinel"
	}
	log.Info("store: redis", "mode", mode, "addrs", opts.Addrs, "prefix", s.prefix)
	return s, nil
}
