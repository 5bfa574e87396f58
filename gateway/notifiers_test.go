package gateway

import (
	"context"
	"encoding/json"
	"errors"
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
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
)

// TestDaemonChainOpensItsBreaker: the transports as the daemon builds them,
// with the config's breaker, against a webhook receiver that keeps answering
// 503. Each page is tried twice; after three such pages the circuit opens
// and the next page fails at once, without a request.
func TestDaemonChainOpensItsBreaker(t *testing.T) {
	var calls atomic.Int64
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	tr := quickstartNotifiers(t, "\nnotifiers:\n  webhook: {max_attempts: 2, timeout: 1s}\n  breaker: {failures: 3, cooldown: 1m}\n")
	ns := tr.byVia
	m := notify.Message{User: "demo", Channel: "push", Address: down.URL + "/hook", Text: "x"}
	for i := 0; i < 3; i++ {
		if err := ns["webhook"].Notify(context.Background(), m); err == nil || errors.Is(err, notify.ErrCircuitOpen) {
			t.Fatalf("page %d: %v, want the receiver's 503", i, err)
		}
	}
	if err := ns["webhook"].Notify(context.Background(), m); !errors.Is(err, notify.ErrCircuitOpen) {
		t.Fatalf("after three failed pages: %v, want the circuit open", err)
	}
	if n := calls.Load(); n != 6 {
		t.Fatalf("%d requests, want 6 (three pages, two tries each, none once open)", n)
	}
}

// webhookDownWatched is the daemon's transports with a breaker of failures
// and cooldown, its watches logging to logs, and a page m to a webhook
// receiver srv that answers every request 503.
func webhookDownWatched(t *testing.T, failures int, cooldown time.Duration) (*breakerWatches, *syncBuffer, transports, notify.Message, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	logs := &syncBuffer{}
	watches := newBreakerWatches(slog.New(slog.NewTextHandler(logs, nil)), prometheus.NewRegistry(), cooldown)
	tr := quickstartNotifiersWatched(t, fmt.Sprintf("\nnotifiers:\n  webhook: {max_attempts: 1, timeout: 1s}\n  breaker: {failures: %d, cooldown: %s}\n", failures, cooldown), watches)
	return watches, logs, tr, notify.Message{User: "demo", Channel: "push", Address: srv.URL + "/hook", Text: "x"}, srv
}

// TestDaemonBreakerOpeningIsLoggedAndCounted: a circuit that opens fails
// every page to its provider at once for the cooldown; the operator saw it
// only in each page's notify_failed. The daemon's breakers log it at WARN,
// with the transport, the host and the failures that opened it, and count
// it in pagerd_breaker_opened_total{via}.
func TestDaemonBreakerOpeningIsLoggedAndCounted(t *testing.T) {
	watches, logs, tr, m, srv := webhookDownWatched(t, 3, time.Minute)
	if got := testutil.ToFloat64(watches.opened.WithLabelValues("webhook")); got != 0 {
		t.Fatalf("pagerd_breaker_opened_total before any page: %v", got)
	}
	for i := 0; i < 3; i++ {
		_ = tr.byVia["webhook"].Notify(context.Background(), m)
	}
	if got := testutil.ToFloat64(watches.opened.WithLabelValues("webhook")); got != 1 {
		t.Fatalf("pagerd_breaker_opened_total{via=webhook} = %v after three failed pages, want 1", got)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	if !strings.Contains(logs.String(), `level=WARN msg="circuit open: pages through it fail at once`) || !strings.Contains(logs.String(), "via=webhook circuit="+host+" failures_in_a_row=3") {
		t.Fatalf("the circuit's opening was not logged with its transport, host and failures:\n%s", logs.String())
	}
	// A failure left out for a stall (notify's TestBreakerTellsItsWatch
	// has the breaker's side) is counted and logged with its length.
	watches.forVia("webhook").StallFailure(host, 3700*time.Millisecond, notify.ErrMaybeSent)
	if got := testutil.ToFloat64(watches.stalled.WithLabelValues("webhook")); got != 1 {
		t.Fatalf("pagerd_breaker_stall_failures_total{via=webhook} = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "not counted against the provider's circuit\" via=webhook circuit="+host+" stall=3.7s") {
		t.Fatalf("the failure left out for a stall was not logged with its length:\n%s", logs.String())
	}
}

// TestDaemonBreakerOfOneFailureOpeningIsNotATestFailed: with
// breaker.failures: 1 (open at the first failure), every opening was
// logged "circuit open again: its test page failed" though no test had
// been made: the watch read a failed test from "opened after 1 failure".
// The first opening is logged as one (notify's TestBreakerTellsItsWatch
// has a failed test told as one).
func TestDaemonBreakerOfOneFailureOpeningIsNotATestFailed(t *testing.T) {
	_, logs, tr, m, _ := webhookDownWatched(t, 1, time.Second)
	_ = tr.byVia["webhook"].Notify(context.Background(), m)
	if !strings.Contains(logs.String(), `msg="circuit open: pages through it fail at once`) || strings.Contains(logs.String(), "open again") {
		t.Fatalf("a circuit of one failure opening for the first time was not logged as an opening:\n%s", logs.String())
	}
}

// TestDaemonChainGivesEachPagerDutyServiceItsCircuit: PagerDuty rate
// limits each routing key (a service's integration) on its own. One
// team's service throttled in its storm opened the one PagerDuty circuit,
// and every other team's pages through PagerDuty failed at once for the
// cooldown; now only that routing key's circuit opens.
func TestDaemonChainGivesEachPagerDutyServiceItsCircuit(t *testing.T) {
	pd := providertest.NewPagerDuty(t)
	const storming, quiet = "R0STORMINGSERVICEKEY000000000000", "R0QUIETSERVICEKEY00000000000000"
	pd.Throttle(storming)
	tr := quickstartNotifiers(t, "\nnotifiers:\n  pagerduty: {events_url: \""+pd.URL+"\", timeout: 1s}\n  breaker: {failures: 3, cooldown: 1m}\n")
	page := func(key string) error {
		return tr.byVia["pagerduty"].Notify(context.Background(), notify.Message{Incident: "inc-" + key, User: "demo", Channel: "push", Address: key, Text: "x"})
	}
	for i := 0; i < 3; i++ {
		if err := page(storming); err == nil || errors.Is(err, notify.ErrCircuitOpen) {
			t.Fatalf("page %d to the throttled service: %v, want its 429", i, err)
		}
	}
	if err := page(storming); !errors.Is(err, notify.ErrCircuitOpen) {
		t.Fatalf("after three throttled pages: %v, want that service's circuit open", err)
	}
	if err := page(quiet); err != nil {
		t.Fatalf("a page to another PagerDuty service: %v, want it sent", err)
	}
	if n := len(pd.Events()); n != 1 {
		t.Fatalf("PagerDuty took %d events, want the other service's one", n)
	}
}

// TestDaemonChainCapsConcurrency: notifiers.rate_limits.<via>.concurrency
// reaches the transport as the daemon builds it. The receiver holds every
// request until the test lets it go, so nothing depends on how fast the
// machine is: with a cap of 2, five pages sent at once put exactly two
// requests in the receiver and leave three waiting; a page sent then, its
// context already cancelled, fails waiting for one of the 2 connections
// (without the cap it would fail in the HTTP request instead);
// each request let go lets one waiting page in; and every page arrives once.
func TestDaemonChainCapsConcurrency(t *testing.T) {
	const limit, pages = 2, 5
	var (
		mu        sync.Mutex
		inside    int                // requests the receiver holds now
		most      int                // the most it held at once
		delivered = map[string]int{} // answered requests, by page text
	)
	held := func() (now, high int) {
		mu.Lock()
		defer mu.Unlock()
		return inside, most
	}
	release := make(chan struct{})
	var releaseAll sync.Once
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m notify.Message
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		inside++
		most = max(most, inside)
		mu.Unlock()
		defer func() { mu.Lock(); inside--; mu.Unlock() }()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		mu.Lock()
		delivered[m.Text]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer recv.Close()
	defer releaseAll.Do(func() { close(release) }) // before Close, which waits for the held requests
	// A timeout far past the waits below: a page never times out and
	// retries, which would blur what the receiver counts.
	tr := quickstartNotifiers(t, fmt.Sprintf("\nnotifiers:\n  webhook: {timeout: 5m}\n  rate_limits:\n    webhook: {concurrency: %d}\n", limit))
	webhook := tr.byVia["webhook"]
	page := func(text string) notify.Message {
		return notify.Message{User: "demo", Channel: "push", Address: recv.URL + "/hook", Text: text}
	}

	var returned atomic.Int64
	errs := make(chan error, pages)
	for i := 0; i < pages; i++ {
		go func() {
			err := webhook.Notify(context.Background(), page(fmt.Sprintf("page %d", i)))
			returned.Add(1)
			errs <- err
		}()
	}
	waitUntil(t, 10*time.Second, fmt.Sprintf("%d requests held by the receiver", limit), func() bool {
		now, _ := held()
		return now == limit
	})
	if n := returned.Load(); n != 0 {
		t.Fatalf("%d pages returned while the receiver held every request, want none", n)
	}

	// Every slot is taken, so a page whose context is already over must
	// fail waiting for one, never reaching the receiver.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := webhook.Notify(ctx, page("cancelled"))
	if want := fmt.Sprintf("waiting for one of the provider's %d connections", limit); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a cancelled page with every slot taken: %v, want it %s", err, want)
	}

	// Let one request go: its page returns and one waiting page takes its slot.
	release <- struct{}{}
	waitUntil(t, 10*time.Second, fmt.Sprintf("one page returned and a waiting one let in (%d held)", limit), func() bool {
		now, _ := held()
		return returned.Load() == 1 && now == limit
	})
	if err := <-errs; err != nil {
		t.Fatalf("first page let go: %v", err)
	}

	releaseAll.Do(func() { close(release) })
	for i := 1; i < pages; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("page: %v", err)
		}
	}
	if _, high := held(); high != limit {
		t.Fatalf("the receiver held %d pages at once, want %d (notifiers.rate_limits.webhook.concurrency)", high, limit)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 0; i < pages; i++ {
		if n := delivered[fmt.Sprintf("page %d", i)]; n != 1 {
			t.Errorf("page %d delivered %d times, want once", i, n)
		}
	}
	if n := len(delivered); n != pages {
		t.Errorf("%d distinct pages delivered, want %d: %v", n, pages, delivered)
	}
}

// quickstartNotifiers are the transports the daemon builds from the
// quickstart config with extra appended.
func quickstartNotifiers(t *testing.T, extra string) transports {
	t.Helper()
	return quickstartNotifiersWatched(t, extra, nil)
}

// quickstartNotifiersWatched is quickstartNotifiers whose breakers tell
// watches.
func quickstartNotifiersWatched(t *testing.T, extra string, watches *breakerWatches) transports {
	t.Helper()
	base, err := os.ReadFile("../configs/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pagerd.yaml")
	if err := os.WriteFile(path, append(base, extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := buildNotifiers(cfg, nil, io.Discard, nil, 0, time.Now, watches)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestDaemonTransportsKeepTheirConnections: pages sent at once to one
// provider reuse the connections of the pages before them. With
// net/http's default pool, which keeps 2 idle connections a host, every
// wave of 16 pages at once opened 14 new ones (a TLS handshake each to a
// real provider, in the middle of a storm): 44 connections for three
// waves. The receiver holds each wave until all 16 are in, so the waves
// are concurrent whatever the machine.
func TestDaemonTransportsKeepTheirConnections(t *testing.T) {
	const wave, waves = 16, 3
	var opened atomic.Int64
	var arrived sync.WaitGroup
	recv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived.Done()
		arrived.Wait()
	}))
	recv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	recv.Start()
	defer recv.Close()
	tr := quickstartNotifiers(t, "")
	for w := 0; w < waves; w++ {
		arrived.Add(wave)
		var sent sync.WaitGroup
		for i := 0; i < wave; i++ {
			sent.Add(1)
			go func() {
				defer sent.Done()
				m := notify.Message{User: "demo", Channel: "push", Address: recv.URL + "/hook", Text: fmt.Sprintf("wave %d page %d", w, i)}
				if err := tr.byVia["webhook"].Notify(context.Background(), m); err != nil {
					t.Errorf("wave %d page %d: %v", w, i, err)
				}
			}()
		}
		sent.Wait()
	}
	if n := opened.Load(); n > wave {
		t.Fatalf("%d connections opened for %d waves of %d pages at once, want at most %d: each wave should reuse the last one's", n, waves, wave, wave)
	}
}
