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
	base, err := os.ReadFile("../configs/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pagerd.yaml")
	extra := "\nnotifiers:\n  webhook: {max_attempts: 2, timeout: 1s}\n  breaker: {failures: 3, cooldown: 1m}\n"
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
