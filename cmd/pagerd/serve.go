package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/pagerd/pagerd/gateway"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stdout, stderr)
	cfgPath := configFlag(fs)
	listen := fs.String("listen", "", "the `ADDR` to listen on for HTTP, host:port (default server.listen, or :8080)")
	redisURL := fs.String("redis-url", "", "keep incidents in Redis at this `URL` instead of the embedded store (default server.redis.url)")
	dataDir := fs.String("data-dir", "", "the `DIR` of the embedded store (default server.data_dir, or ./data)")
	logLevel := fs.String("log-level", "info", "the `LEVEL` of the logs: debug, info, warn or error")
	if _, code := parse(fs, args); code >= 0 {
		return code
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fail(stderr, "serve", fmt.Errorf("--log-level %q: use debug, info, warn or error", *logLevel))
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg, err := loadConfig(*cfgPath)
	if err == nil {
		// The daemon needs every secret the config names: without one it
		// would page through a transport it cannot authenticate to.
		err = cfg.CheckSecrets()
	}
	if err != nil {
		return fail(stderr, "serve", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	err = gateway.Run(ctx, gateway.Options{ConfigPath: *cfgPath, Config: cfg, Listen: *listen, RedisURL: *redisURL,
		DataDir: *dataDir, Version: version, Logger: log, Stdout: stdout, Reload: hup})
	if err != nil {
		return fail(stderr, "serve", err)
	}
	return 0
}
