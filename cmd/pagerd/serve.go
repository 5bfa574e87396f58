package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pagerd/pagerd/gateway"
	"github.com/pagerd/pagerd/internal/logsample"
	"github.com/pagerd/pagerd/policy"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stdout, stderr)
	cfgPath := configFlag(fs)
	listen := fs.String("listen", "", "the `ADDR` to listen on for HTTP, host:port (default server.listen, or :8080)")
	redisURL := fs.String("redis-url", "", "keep incidents in Redis at this `URL` instead of the embedded store (default server.redis.url)")
	redisURLFile := fs.String("redis-url-file", "", "--redis-url read from this `FILE`, so that a password in it is not on the command line for ps and the pod spec to show")
	dataDir := fs.String("data-dir", "", "the `DIR` of the embedded store (default server.data_dir, or ./data)")
	logLevel := fs.String("log-level", "info", "the `LEVEL` of the logs: debug, info, warn or error")
	logPerSecond := fs.Int("log-per-second", 100, "write at most `N` lines a second of each message at each level (an alert storm's \"incident opened\"), and then one that says how many were dropped; 0 writes every line")
	shutdownDelay := fs.Duration("shutdown-delay", 0, "on SIGTERM, keep serving for this `DURATION` with /-/ready red before closing the listener, so that requests a load balancer still routes here are answered (5s or so behind Kubernetes Services; 0 stops at once)")
	debugListen := fs.String("debug-listen", "", "serve Go's profiler (/debug/pprof/) on this `ADDR`, apart from the API; keep it on loopback (default off)")
	if _, code := parse(fs, args); code >= 0 {
		return code
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fail(stderr, "serve", fmt.Errorf("--log-level %q: use debug, info, warn or error", *logLevel))
	}
	if *logPerSecond < 0 {
		return fail(stderr, "serve", fmt.Errorf("--log-per-second %d: use 0 (every line) or more", *logPerSecond))
	}
	sampled := logsample.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}), *logPerSecond)
	// Last, after every other deferred step's lines: the lines dropped in
	// pagerd's last second are said, not lost with its timers.
	defer logsample.Flush(sampled)
	log := slog.New(sampled)
	if *shutdownDelay < 0 {
		return fail(stderr, "serve", fmt.Errorf("--shutdown-delay %s: use 0 or more", *shutdownDelay))
	}
	if *cfgPath == "" {
		return fail(stderr, "serve", errNoConfig)
	}
	if *redisURLFile != "" {
		if *redisURL != "" {
			return fail(stderr, "serve", errors.New("--redis-url and --redis-url-file: give one"))
		}
		u, err := readRedisURLFile(*redisURLFile)
		if err != nil {
			return fail(stderr, "serve", err)
		}
		*redisURL = u
	}
	cfg, err := gateway.LoadConfig(*cfgPath)
	if err != nil {
		return fail(stderr, "serve", err)
	}
	if limit, from := tuneGC(os.Getenv, cgroupMemoryFiles); limit > 0 {
		log.Info("garbage collector tuned", "memory_limit_bytes", limit, "from", from)
	}
	if was, now := tuneProcs(os.Getenv); now != was {
		log.Info("GOMAXPROCS raised: with one thread, a goroutine waiting on the disk holds up every other (set GOMAXPROCS to choose)",
			"gomaxprocs", now, "was", was)
	}
	signalled, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// The first signal stops pagerd (after --shutdown-delay); a second
	// one, the handler gone, ends the process at once, as an operator's
	// second Ctrl-C expects. The daemon hears of the first only once the
	// handler is gone: told at the same time, it could turn not ready
	// (which is what an operator or a test waits for before the second)
	// while the handler was still there to swallow the second.
	ctx, stopped := context.WithCancel(context.Background())
	defer stopped()
	context.AfterFunc(signalled, func() {
		stop()
		stopped()
	})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if *debugListen != "" {
		stopDebug, err := serveDebug(*debugListen, log)
		if err != nil {
			return fail(stderr, "serve", err)
		}
		defer stopDebug()
	}
	err = gateway.Run(ctx, gateway.Options{ConfigPath: *cfgPath, Config: cfg, Listen: *listen, RedisURL: *redisURL,
		DataDir: *dataDir, Version: version, Logger: log, Stdout: stdout, Reload: hup, ShutdownDelay: *shutdownDelay})
	if err != nil {
		return fail(stderr, "serve", err)
	}
	return 0
}

// serveDebug serves Go's profiler on addr, on a listener of its own so that
// it is never reachable through the API's address and needs no token: who
// can reach addr can read the process's profiles, so it belongs on
// loopback. The profiles are how an operator (and `make load`) sees where
// the CPU goes under load.
func serveDebug(addr string, log *slog.Logger) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("debug listener stopped", "err", err)
		}
	}()
	log.Info("serving Go's profiler", "debug_listen", l.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// readRedisURLFile reads --redis-url-file. Errors name the file, never
// what it holds (a password).
func readRedisURLFile(path string) (string, error) {
	u, err := policy.ReadSecretFile(path)
	if err != nil {
		return "", fmt.Errorf("--redis-url-file: %w", err)
	}
	return u, nil
}
