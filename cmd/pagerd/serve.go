package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pagerd/pagerd/gateway"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/pagerduty"
	"github.com/pagerd/pagerd/notify/twilio"
	"github.com/pagerd/pagerd/policy"
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
	if *listen == "" {
		*listen = cfg.Server.Listen
	}
	if *redisURL == "" {
		*redisURL = cfg.Server.Redis.URL.Reveal()
	}
	if *dataDir == "" {
		*dataDir = cfg.Server.DataDir
	}
	if *dataDir == "" {
		*dataDir = "data"
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)

	st, err := openStore(ctx, log, *redisURL, cfg.Server.Redis.Prefix, *dataDir)
	if err != nil {
		return fail(stderr, "serve", err)
	}
	defer st.Close()
	backup, err := checkStore(ctx, log, st, abort)
	if err != nil {
		return fail(stderr, "serve", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gateway.RegisterBuildInfo(reg, version)
	health := gateway.NewHealth(st, 0)
	st = gateway.Instrument(st, reg, health)
	notifiers, err := buildNotifiers(cfg, stdout)
	if err != nil {
		return fail(stderr, "serve", err)
	}
	var srv *gateway.Server
	pd := pagerduty.New(cfg.Notifiers.PagerDuty.EventsURL, &http.Client{}, time.Duration(cfg.Notifiers.PagerDuty.Timeout))
	disp := gateway.NewDispatcher(gateway.DispatcherOptions{Store: st, Config: func() *policy.Config { return srv.Config() },
		Notifiers: notifiers, Logger: log, Registry: reg, Lease: time.Duration(cfg.Server.Lease), PagerDuty: pd})
	disp.InitMetrics(cfg)
	wake := disp.Wake
	if n, ok := st.(store.Nudger); ok {
		wake = func() {
			disp.Wake()
			go func() {
				nctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				_ = n.Nudge(nctx)
			}()
		}
	}
	srv, err = gateway.New(gateway.Options{ConfigPath: *cfgPath, Config: cfg, Store: st, Logger: log, Registry: reg, Gatherer: reg, Wake: wake,
		PagerDuty: pd, Backup: backup, Health: health})
	if err != nil {
		return fail(stderr, "serve", err)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fail(stderr, "serve", fmt.Errorf("listen: %w", err))
	}
	go reloadOnHUP(ctx, srv)
	go health.Run(ctx)
	dispDone := make(chan struct{})
	go func() { defer close(dispDone); _ = disp.Run(ctx) }()
	log.Info("pagerd serving", "version", version, "listen", l.Addr().String(), "config", *cfgPath,
		"services", len(cfg.Services), "users", len(cfg.Users))
	if err := srv.Serve(ctx, l); err != nil {
		return fail(stderr, "serve", err)
	}
	// The dispatcher finishes the step it is on; anything left is in the
	// store and another replica, or this one at its next start, fires it.
	<-dispDone
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fail(stderr, "serve", err)
	}
	log.Info("pagerd stopped")
	return 0
}

// openStore opens Redis when a URL is given, the embedded store otherwise,
// and says which in the log: an operator must never wonder where incidents
// are.
func openStore(ctx context.Context, log *slog.Logger, redisURL, prefix, dataDir string) (store.Store, error) {
	if redisURL != "" {
		return redisstore.Open(ctx, redisURL, prefix, log)
	}
	s, err := boltstore.Open(dataDir)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(dataDir)
	log.Info("store: embedded (single replica)", "data_dir", abs)
	return s, nil
}

// reloadOnHUP reloads the config on SIGHUP; a bad config is refused and the
// old one stays, as with POST /-/reload.
func reloadOnHUP(ctx context.Context, srv *gateway.Server) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = srv.Reload()
		}
	}
}

// buildNotifiers makes the transports pages go out on. The log transport
// writes to stdout (the daemon's own logs go to stderr) or to a file.
func buildNotifiers(cfg *policy.Config, stdout io.Writer) (map[string]notify.Notifier, error) {
	w := stdout
	if p := cfg.Notifiers.Log.Path; p != "" && p != "-" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, fmt.Errorf("notifiers.log.path: %w", err)
		}
		w = f
	}
	n := cfg.Notifiers
	webhookTries := n.Webhook.MaxAttempts
	if webhookTries == 0 {
		webhookTries = notify.DefaultChainOptions.Attempts
	}
	chain := func(via string, t notify.Notifier, attempts int) notify.Notifier {
		rl := n.RateLimits[via]
		return notify.Chain(t, notify.ChainOptions{Attempts: attempts, PerSecond: rl.PerSecond, Burst: rl.Burst,
			BreakerFailures: *n.Breaker.Failures, BreakerCooldown: time.Duration(n.Breaker.Cooldown)})
	}
	out := map[string]notify.Notifier{
		"log":       chain("log", notify.NewLog(w), 1),
		"webhook":   chain("webhook", notify.NewWebhook(&http.Client{}, time.Duration(n.Webhook.Timeout)), webhookTries),
		"pagerduty": chain("pagerduty", pagerduty.New(n.PagerDuty.EventsURL, &http.Client{}, time.Duration(n.PagerDuty.Timeout)), 3),
		"ntfy":      chain("ntfy", notify.NewNtfy(&http.Client{}, time.Duration(n.Webhook.Timeout)), webhookTries),
	}
	if tw := n.Twilio; tw.AccountSID != "" {
		t, err := twilio.New(twilio.Options{AccountSID: tw.AccountSID, AuthToken: tw.AuthToken.Reveal(), From: tw.From,
			APIURL: tw.APIURL, PublicURL: cfg.Server.PublicURL, HTTPClient: &http.Client{}, Timeout: time.Duration(tw.Timeout)})
		if err != nil {
			return nil, fmt.Errorf("notifiers.twilio: %w", err)
		}
		out["twilio"] = chain("twilio", t, 3)
	}
	return out, nil
}
