package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/twilio"
	"github.com/pagerd/pagerd/policy"
)

// TestProviderCheckDoesNotBlameTwilioForItsOwn500: the recheck of a
// Twilio account that passed, answered 500 by Twilio (its own error, not
// a refusal of the token), said "something changed at the provider":
// Twilio's transport marks a 5xx as an answer that may have come after the
// request was taken (notify.ErrMaybeSent), which is not notify.Temporary,
// so the blip was read as a refusal, and the person reading the log at
// night looked for a revoked token.
func TestProviderCheckDoesNotBlameTwilioForItsOwn500(t *testing.T) {
	fake := providertest.NewTwilio(t)
	var broken atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"code": 20500, "message": "Internal Server Error", "status": 500}`))
			return
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	tw, err := twilio.New(twilio.Options{AccountSID: providertest.TwilioSID, AuthToken: providertest.TwilioToken,
		From: providertest.TwilioFrom, APIURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	p := newProviderCheck(map[string]providerProbe{"twilio": {account: tw.Check}},
		slog.New(slog.NewTextHandler(&logs, nil)), prometheus.NewRegistry())
	cfg, ctx := &policy.Config{}, context.Background()
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	p.check(ctx, cfg, t0)
	if strings.Contains(logs.String(), "provider check failed") {
		t.Fatalf("the first check failed:\n%s", logs.String())
	}
	broken.Store(true)
	p.check(ctx, cfg, t0.Add(providerRecheckPassed))
	out := logs.String()
	if !strings.Contains(out, "provider check failed") {
		t.Fatalf("no failure logged:\n%s", out)
	}
	if strings.Contains(out, "something changed at the provider") {
		t.Errorf("Twilio's 500 is said to be a change at the provider:\n%s", out)
	}
}
