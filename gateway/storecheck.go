package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
)

// checkStore finishes opening the store: it says in the log when the
// embedded store was upgraded to this pagerd's format (an older pagerd can
// no longer read it), and checks the Redis schema version, refusing data
// written by a newer pagerd. If Redis does not answer yet, it returns the
// check to run (watchSchema) once the daemon runs: as soon as Redis
// answers, a newer schema stops the daemon.
func checkStore(ctx context.Context, log *slog.Logger, st store.Store) (watch *redisstore.Store, err error) {
	switch s := st.(type) {
	case *boltstore.Store:
		if from := s.UpgradedFrom(); from != 0 {
			log.Warn("store upgraded: pagerd versions older than this one can no longer read it",
				"from_format", from, "format", boltstore.Format())
		}
	case *redisstore.Store:
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := checkSchema(cctx, log, s)
		if errors.Is(err, store.ErrUnavailable) {
			return s, nil
		}
		return nil, err
	}
	return nil, nil
}

func checkSchema(ctx context.Context, log *slog.Logger, s *redisstore.Store) error {
	from, err := s.CheckSchema(ctx)
	if err != nil {
		return err
	}
	if from != 0 {
		log.Warn("redis data upgraded: pagerd versions older than this one can no longer read it",
			"from_schema", from, "schema", redisstore.SchemaVersion)
	}
	return nil
}

// schemaRetry is how often a daemon that started with Redis down tries the
// schema check again.
const schemaRetry = time.Second

// watchSchema checks the Redis schema once Redis answers. Data of a newer
// schema stops the daemon: writing records of a layout it does not know
// would corrupt them.
func watchSchema(ctx context.Context, log *slog.Logger, s *redisstore.Store, abort context.CancelCauseFunc) {
	t := time.NewTicker(schemaRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := checkSchema(cctx, log, s)
		cancel()
		switch {
		case err == nil:
			log.Info("redis schema checked", "schema", redisstore.SchemaVersion)
			return
		case errors.Is(err, store.ErrUnavailable):
			continue
		}
		log.Error("stopping: the Redis data is not in a layout this pagerd can use", "err", err)
		abort(err)
		return
	}
}
