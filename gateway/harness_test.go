package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/history"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/logtest"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

// The one harness of the daemon's tests: a whole pagerd, built by New as
// pagerd serve builds it, in the test process, on a store and a config of
// the test's choosing, with a clock the test moves, every transport going
// to one recorder unless the test wants the real one (a provider's, against
// its fake in internal/providertest), and its HTTP side on a test server.
// Its dispatchers do not run on their own: the test steps them on the clock
// (step, runUntil), or runs the whole daemon (run).

const (
	amKey    = "am-key-0123456789abcdef0123456789"
	pdKey    = "pdkey00000000000000000000000000a"
	apiToken = "api-token-for-tests"
)

const testConfig = `
api:
  tokens:
    - {name: ops, token: ` + apiToken + `, role: admin}
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann]}
      - {name: secondary, start: 2025-01-06, members: [bob]}
escalation_policies:
  - name: p
    levels:
      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}
      - {name: secondary, targets: [{schedule: s, tier: secondary}]}
services:
  - name: api
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: ` + amKey + `, pagerduty_routing_key: ` + pdKey + `}
    targets:
      P0: {acknowledge: 5m}
  - name: batch
    priority_scheme: SEV-1-4
    escalation_policy: p
    incident_key: fingerprint
    integrations: {alertmanager_key: batch-key-0000000000000000000000}
`

// fixedNow is the test clock's start: a Wednesday in the week ann is
// primary.
var fixedNow = time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)

// harnessURL in a config is replaced with the harness's own URL (its
// public URL, for the providers' callbacks).
const harnessURL = "{{URL}}"

type harness struct {
	t    testing.TB
	d    *Daemon
	url  string
	cfg  string // the config file, which reload reads
	logs *syncBuffer
	log  *slog.Logger
	// store is the store as the test gave it (the daemon's is
	// instrumented around it).
	store store.Store
	clock *fakeClock
	rec   *recorder
	reg   *prometheus.Registry
	// disp are the dispatchers step and runUntil work: the daemon's own
	// first, then other replicas'.
	disp []*dispatch.Dispatcher
}

type harnessOptions struct {
	store       store.Store
	config      string
	at          time.Time
	now         func() time.Time
	wall        func() time.Time
	dispatchers int
	real        map[string]bool
	notifiers   map[string]notify.Notifier
	retryBase   time.Duration
	maxSleep    time.Duration
	probe       time.Duration
	listener    net.Listener
	quiet       bool
	level       slog.Level
	version     string
	postHandoff history.HandoffPoster
	consolePoll time.Duration
	consoleWait time.Duration
	consoleList time.Duration
	serve       func(http.Handler) http.Handler
	stopDelay   time.Duration
	stopAfter   func(time.Duration) <-chan time.Time
	built       context.Context
}

type option func(*harnessOptions)

// builtWith gives New ctx (default context.Background()): what pagerd
// serve gives it is the stop signal's.
func builtWith(ctx context.Context) option { return func(o *harnessOptions) { o.built = ctx } }

// withStore runs the daemon on st (default a new embedded store).
func withStore(st store.Store) option { return func(o *harnessOptions) { o.store = st } }

// withConfig is the config (default testConfig); harnessURL in it is the
// harness's URL.
func withConfig(yaml string) option { return func(o *harnessOptions) { o.config = yaml } }

// startAt starts the clock at t (default fixedNow).
func startAt(t time.Time) option { return func(o *harnessOptions) { o.at = t } }

// withNow replaces the test clock (time.Now: the real one).
func withNow(now func() time.Time) option { return func(o *harnessOptions) { o.now = now } }

// onWall runs the daemon on its own clock, as pagerd serve does (the
// store's shared clock on Redis), on a host whose wall clock is wall:
// not on the fake clock.
func onWall(wall func() time.Time) option { return func(o *harnessOptions) { o.wall = wall } }

// replicas adds n-1 other replicas' dispatchers on the same store to the
// daemon's (0: none, the test builds its own).
func replicas(n int) option { return func(o *harnessOptions) { o.dispatchers = n } }

// realTransport leaves the daemon's own transport for via (a provider's,
// from the config) instead of the recorder.
func realTransport(vias ...string) option {
	return func(o *harnessOptions) {
		for _, v := range vias {
			o.real[v] = true
		}
	}
}

// withNotifier puts n where the recorder would be for via.
func withNotifier(via string, n notify.Notifier) option {
	return func(o *harnessOptions) { o.notifiers[via] = n }
}

// fastRetries makes the real transports' retries wait 10ms, not 500ms.
func fastRetries() option { return func(o *harnessOptions) { o.retryBase = 10 * time.Millisecond } }

// maxSleep bounds the running dispatcher's wait (run).
func maxSleep(d time.Duration) option { return func(o *harnessOptions) { o.maxSleep = d } }

// probing probes readiness every d, from now on.
func probing(d time.Duration) option { return func(o *harnessOptions) { o.probe = d } }

// onListener serves the daemon on l when it runs (run); the test server
// is not started.
func onListener(l net.Listener) option { return func(o *harnessOptions) { o.listener = l } }

// shutdownDelay gives the daemon a shutdown delay of d, waited on after
// (Options.ShutdownDelay, Options.After).
func shutdownDelay(d time.Duration, after func(time.Duration) <-chan time.Time) option {
	return func(o *harnessOptions) { o.stopDelay, o.stopAfter = d, after }
}

// quiet drops the logs (benchmarks).
func quiet() option { return func(o *harnessOptions) { o.quiet = true } }

// logLevel logs at level (default debug), as pagerd serve --log-level
// does (its default is info).
func logLevel(level slog.Level) option { return func(o *harnessOptions) { o.level = level } }

// version is the daemon's version.
func version(v string) option { return func(o *harnessOptions) { o.version = v } }

// postingHandoffs gives the daemon a handoff poster of the test's own
// (Options.PostHandoff, which wins over the daemon's Slack poster).
func postingHandoffs(p history.HandoffPoster) option {
	return func(o *harnessOptions) { o.postHandoff = p }
}

// consolePolling makes the web console's incident page ask for news
// every d (default 5s).
func consolePolling(d time.Duration) option { return func(o *harnessOptions) { o.consolePoll = d } }

// consoleListPolling makes the web console's incident list ask for news
// every d (default 10s).
func consoleListPolling(d time.Duration) option { return func(o *harnessOptions) { o.consoleList = d } }

// consoleWaiting makes that page count a check unanswered after d as no
// answer (default 10s).
func consoleWaiting(d time.Duration) option { return func(o *harnessOptions) { o.consoleWait = d } }

// serving puts wrap around the daemon's handler on the test server, to
// see the requests the daemon gets (a browser's, say).
func serving(wrap func(http.Handler) http.Handler) option {
	return func(o *harnessOptions) { o.serve = wrap }
}

// newHarness builds a daemon for the test.
func newHarness(t testing.TB, opts ...option) *harness {
	t.Helper()
	o := harnessOptions{config: testConfig, at: fixedNow, dispatchers: 1, level: slog.LevelDebug, real: map[string]bool{}, notifiers: map[string]notify.Notifier{}}
	for _, f := range opts {
		f(&o)
	}
	if o.store == nil {
		o.store = boltStore(t)
	}
	h := &harness{t: t, store: o.store, clock: &fakeClock{t: o.at}, rec: &recorder{}, reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	var out io.Writer = h.logs
	if o.quiet {
		out = io.Discard
	}
	h.log = slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: o.level}))
	now := h.clock.Now
	if o.now != nil {
		now = o.now
	}
	if o.wall != nil {
		now = nil
	}

	// The test server's URL is known before the daemon starts, so that a
	// config can name it (the providers call back to it).
	var hs *httptest.Server
	listener := o.listener
	if listener == nil {
		hs = httptest.NewUnstartedServer(nil)
		listener = hs.Listener
	}
	h.url = "http://" + listener.Addr().String()
	h.cfg = filepath.Join(t.TempDir(), "pagerd.yaml")
	if err := os.WriteFile(h.cfg, []byte(strings.ReplaceAll(o.config, harnessURL, h.url)), 0o600); err != nil {
		t.Fatal(err)
	}
	notifiers := map[string]notify.Notifier{}
	for _, via := range []string{"log", "webhook", "twilio", "pagerduty"} {
		if !o.real[via] {
			notifiers[via] = h.rec
		}
	}
	for via, n := range o.notifiers {
		notifiers[via] = n
	}
	// Loaded here, not by New: New also insists on every secret the config
	// names, and the seed configs name them from the environment.
	cfg, err := policy.LoadFile(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if o.built == nil {
		o.built = context.Background()
	}
	d, err := New(o.built, Options{ConfigPath: h.cfg, Config: cfg, Listener: listener, Store: o.store, Registry: h.reg,
		Now: now, Wall: o.wall, Logger: h.log, Notifiers: notifiers, RetryBase: o.retryBase, MaxSleep: o.maxSleep,
		ProbeInterval: o.probe, ShutdownTimeout: 5 * time.Second, Version: o.version, PostHandoff: o.postHandoff,
		ConsolePoll: o.consolePoll, ConsolePollTimeout: o.consoleWait, ConsoleListPoll: o.consoleList, ShutdownDelay: o.stopDelay, After: o.stopAfter})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	t.Cleanup(func() { _ = d.Close() })
	if hs != nil {
		hs.Config.Handler = d.Handler()
		if o.serve != nil {
			hs.Config.Handler = o.serve(hs.Config.Handler)
		}
		hs.Start()
		t.Cleanup(hs.Close)
	}
	if o.probe > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go d.Health().Run(ctx)
	}
	if o.dispatchers > 0 {
		h.disp = append(h.disp, d.Dispatcher())
	}
	for i := 1; i < o.dispatchers; i++ {
		other, _ := h.dispatcher(nil)
		h.disp = append(h.disp, other)
	}
	return h
}

// run runs the whole daemon (HTTP on its listener, the dispatcher on its
// own, readiness probes) until ctx ends; Run's answer comes on the channel.
//
// When ctx ends, the test client's idle connections are closed: one the
// client dialed for a request that then went out on another connection
// (concurrent requests on a loaded box) never sent a request, and the
// HTTP server's shutdown waits for such a connection until it has been
// silent for over 5 seconds, past the harness's shutdown timeout.
func (h *harness) run(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	go func() { done <- h.d.Run(ctx) }()
	go func() {
		<-ctx.Done()
		http.DefaultClient.CloseIdleConnections()
	}()
	return done
}

// runFor runs the whole daemon until the test ends.
func (h *harness) runFor(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	done := h.run(ctx)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pagerd Run: %v", err)
		}
	})
}

// dispatcher builds another replica's dispatcher on the daemon's store,
// config, transports and clock, with its own registry, as edit changes
// them.
func (h *harness) dispatcher(edit func(*dispatch.Options)) (*dispatch.Dispatcher, *prometheus.Registry) {
	o := h.d.DispatchOptions()
	reg := prometheus.NewRegistry()
	o.Registry = reg
	o.Logger = h.log
	if edit != nil {
		edit(&o)
	}
	return dispatch.New(o), reg
}

// config is the config in force.
func (h *harness) config() *policy.Config { return h.d.Config() }

// reload writes yaml (harnessURL replaced) to the config file and reloads.
func (h *harness) reload(yaml string) error {
	if err := writeConfig(h.cfg, strings.ReplaceAll(yaml, harnessURL, h.url)); err != nil {
		h.t.Fatal(err)
	}
	return h.d.Reload()
}

func writeConfig(path, text string) error { return os.WriteFile(path, []byte(text), 0o600) }

// metric is the sum of the counters or gauges of reg that have these
// labels, whatever their others (0 when there is none), as a PromQL sum
// over them would be: the first match alone was a series created at 0
// (pagerd_pages_total{via="none"}) where the test meant the one counted.
func metric(t testing.TB, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			want := map[string]string{}
			for i := 0; i+1 < len(labels); i += 2 {
				want[labels[i]] = labels[i+1]
			}
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
					delete(want, l.GetName())
				}
			}
			if len(want) > 0 {
				continue
			}
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			} else {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// Stores, clock and transports.

// redisStore is a store on a Redis of the test's own, its client going
// through hooks (a server's refusals the test plays). The client waits
// for a reply as long as the daemon's does (go-redis's defaults, which
// redisstore.ParseURL keeps, and the calls' own deadlines): with half a
// second, a redis-server the test's load kept off the CPU for that long
// failed a dispatcher's claim with "i/o timeout", and the test with it.
func redisStore(t testing.TB, hooks ...redis.Hook) (store.Store, *redistest.Server) {
	t.Helper()
	r := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	for _, h := range hooks {
		rdb.AddHook(h)
	}
	t.Cleanup(func() { rdb.Close() })
	return redisstore.New(rdb, "t"), r
}

func boltStore(t testing.TB) store.Store {
	t.Helper()
	s, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func stores(t *testing.T) map[string]func(*testing.T) store.Store {
	return map[string]func(*testing.T) store.Store{
		"redis":    func(t *testing.T) store.Store { s, _ := redisStore(t); return s },
		"embedded": func(t *testing.T) store.Store { return boltStore(t) },
	}
}

// fakeClock is the controllable clock the tests run on: no test waits for
// a ladder step, it moves the clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// recorder is a transport that remembers every page.
type recorder struct {
	mu   sync.Mutex
	msgs []notify.Message
	fail func(notify.Message) error
}

func (r *recorder) Notify(_ context.Context, m notify.Message) error {
	if r.fail != nil {
		if err := r.fail(m); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) lines(since time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		out = append(out, fmt.Sprintf("%s L%d %s %s", policy.Duration(m.At.Sub(since)), m.Level, m.User, m.Channel))
	}
	return out
}

// step moves the clock to at and lets every dispatcher work, concurrently.
func (h *harness) step(at time.Time) {
	h.t.Helper()
	h.clock.Set(at)
	var wg sync.WaitGroup
	for _, d := range h.disp {
		wg.Add(1)
		go func(d *dispatch.Dispatcher) {
			defer wg.Done()
			if _, err := d.RunOnce(context.Background()); err != nil {
				h.t.Error(err)
			}
		}(d)
	}
	wg.Wait()
}

// runUntil fires every deadline, in time order, up to end.
func (h *harness) runUntil(end time.Time) {
	h.t.Helper()
	h.step(h.clock.Now())
	for {
		at, ok, err := h.store.NextDue(context.Background())
		if err != nil {
			h.t.Fatal(err)
		}
		if !ok || at.After(end) {
			h.clock.Set(end)
			return
		}
		if at.Before(h.clock.Now()) {
			at = h.clock.Now()
		}
		h.step(at)
	}
}

// Requests.

// syncBuffer is what the daemon's logger writes to in tests.
type syncBuffer = logtest.Buffer

type response struct {
	code int
	body string
	hdr  http.Header
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, r.body)
	}
}

func (h *harness) do(method, path string, body string, hdr ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(b), resp.Header}
}

func (h *harness) api(method, path, body string) response {
	return h.do(method, path, body, "Authorization", "Bearer "+apiToken)
}

// amPayload is a webhook v4 body as Alertmanager sends it.
func amPayload(status, groupKey string, alerts ...map[string]string) string {
	var as []map[string]any
	for _, ls := range alerts {
		as = append(as, map[string]any{"status": status, "labels": ls, "annotations": map[string]string{"summary": "disk almost full"},
			"startsAt": "2025-09-10T05:59:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom/graph", "fingerprint": ""})
	}
	b, _ := json.Marshal(map[string]any{"version": "4", "groupKey": groupKey, "status": status, "receiver": "pagerd",
		"groupLabels": map[string]string{"alertname": "DiskFull"}, "commonLabels": alerts[0], "commonAnnotations": map[string]string{},
		"externalURL": "http://am:9093", "alerts": as})
	return string(b)
}

type listResp struct {
	Incidents []incidentView `json:"incidents"`
}

func (h *harness) list(query string) []incidentView {
	h.t.Helper()
	r := h.api("GET", "/api/v1/incidents"+query, "")
	if r.code != 200 {
		h.t.Fatalf("list: %d %s", r.code, r.body)
	}
	var l listResp
	r.json(h.t, &l)
	return l.Incidents
}

func (h *harness) incident(id string) incidentView {
	h.t.Helper()
	r := h.api("GET", "/api/v1/incidents/"+id, "")
	if r.code != 200 {
		h.t.Fatalf("get %s: %d %s", id, r.code, r.body)
	}
	var v incidentView
	r.json(h.t, &v)
	return v
}

// fire posts one critical alert of group g1 and returns its incident.
func fire(h *harness) string {
	h.t.Helper()
	return fireLabels(h, "g1", map[string]string{"alertname": "A", "severity": "critical"})
}

// waitUntil polls cond in real time (for the dispatcher's own goroutines,
// not for a ladder step: those run on the fake clock).
func waitUntil(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
