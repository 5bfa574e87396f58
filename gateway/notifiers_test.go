package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

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

// TestDaemonChainCapsConcurrency: notifiers.rate_limits.<via>.concurrency
// reaches the transport as the daemon builds it. With a concurrency of 1
// on the webhook transport, pages sent at once reach the receiver one at
// a time; the receiver records the most requests it held at once.
func TestDaemonChainCapsConcurrency(t *testing.T) {
	var inflight, most atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for m := most.Load(); n > m; m = most.Load() {
			if most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond) // long enough for the other pages to arrive, were they let through
		w.WriteHeader(http.StatusOK)
	}))
	defer recv.Close()
	tr := quickstartNotifiers(t, "\nnotifiers:\n  webhook: {timeout: 5s}\n  rate_limits:\n    webhook: {concurrency: 1}\n")
	const pages = 4
	errs := make(chan error, pages)
	for i := 0; i < pages; i++ {
		go func() {
			errs <- tr.byVia["webhook"].Notify(context.Background(), notify.Message{User: "demo", Channel: "push", Address: recv.URL + "/hook", Text: "x"})
		}()
	}
	for i := 0; i < pages; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("page: %v", err)
		}
	}
	if n := most.Load(); n != 1 {
		t.Fatalf("the receiver held %d pages at once, want 1 (notifiers.rate_limits.webhook.concurrency)", n)
	}
}

// quickstartNotifiers are the transports the daemon builds from the
// quickstart config with extra appended.
func quickstartNotifiers(t *testing.T, extra string) transports {
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
	tr, err := buildNotifiers(cfg, io.Discard, nil, 0, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
