package gateway

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
)

// hangingTransport is a provider call that hangs past its timeout: every
// page blocks, its context ignored, until the test releases them all.
type hangingTransport struct {
	entered chan struct{}
	release chan struct{}
}

func (h *hangingTransport) Notify(context.Context, notify.Message) error {
	h.entered <- struct{}{}
	<-h.release
	return nil
}

// scrapeBehind reads pagerd_dispatch_behind_seconds from reg's /metrics,
// as Prometheus would, and how long the scrape took.
func scrapeBehind(t *testing.T, reg *prometheus.Registry) (float64, time.Duration) {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	start := time.Now()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^pagerd_dispatch_behind_seconds (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no pagerd_dispatch_behind_seconds in /metrics:\n%s", body)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v, took
}

// TestBehindGrowsWhileEveryWorkerHangs: with every worker hung on a
// provider that outlasts its timeout, the dispatcher's loop claims
// nothing more, and pagerd_dispatch_behind_seconds still says how long
// the step it leaves due has waited, growing with the clock. (Before, it
// was what the loop noted at its last claim, 0 here, for as long as the
// workers hung: a wedged dispatcher paged nobody and showed nothing.)
func TestBehindGrowsWhileEveryWorkerHangs(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) { behindGrowsWhileEveryWorkerHangs(t, mk(t)) })
	}
}

func behindGrowsWhileEveryWorkerHangs(t *testing.T, st store.Store) {
	h := newHarness(t, withStore(st), withConfig(dispatchConfig+"notifiers: {storm: {window: 0s}}\n"), replicas(0))
	hang := &hangingTransport{entered: make(chan struct{}, 4), release: make(chan struct{})}
	d, reg := h.dispatcher(func(o *dispatch.Options) {
		o.Notifiers = map[string]notify.Notifier{"log": hang, "webhook": hang}
		o.Workers = 2
	})
	post := func(group string) {
		t.Helper()
		if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", group, map[string]string{"alertname": "A", "severity": "critical"}),
			"Authorization", "Bearer "+amKey); r.code != 200 {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
	}
	post("g1")
	post("g2")
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	defer func() { close(hang.release); cancel(); <-ran }()
	for range 2 {
		select {
		case <-hang.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the two workers' pages never reached the provider")
		}
	}
	// Both workers hang; a third incident's first page is due now, and
	// the loop, with no worker free, does not claim it.
	post("g3")
	d.Wake()

	h.clock.Set(fixedNow.Add(10 * time.Second))
	first, took := scrapeBehind(t, reg)
	// Due at fixedNow, queued up to store.FirstPageLead ahead of it.
	if first < 10 || first > 10+store.FirstPageLead.Seconds() {
		t.Fatalf("behind %v s with every worker hung and a page due for 10 s (scrape took %v), want 10 to 11", first, took)
	}
	h.clock.Set(fixedNow.Add(70 * time.Second))
	later, _ := scrapeBehind(t, reg)
	if later-first != 60 {
		t.Fatalf("behind %v s, then %v s a minute later with every worker still hung: want it 60 s more", first, later)
	}
	select {
	case <-hang.entered:
		t.Fatal("a third page reached the provider: the test did not hang every worker")
	default:
	}
}

// hangingNextDue is a store that does not answer NextDue (nor its context)
// until the test ends.
type hangingNextDue struct {
	store.Store
	release chan struct{}
}

func (s *hangingNextDue) NextDue(context.Context) (time.Time, bool, error) {
	<-s.release
	return time.Time{}, false, fmt.Errorf("no answer")
}

// TestBehindUnknownWhenTheStoreDoesNotAnswer: a dispatcher that is not
// claiming and a store that does not say when its earliest step is due:
// pagerd_dispatch_behind_seconds is NaN (not known), not 0 (caught up),
// and the scrape is not held up for longer than the reading's bound.
func TestBehindUnknownWhenTheStoreDoesNotAnswer(t *testing.T) {
	h := newHarness(t, withConfig(dispatchConfig), replicas(0))
	st := &hangingNextDue{Store: h.store, release: make(chan struct{})}
	t.Cleanup(func() { close(st.release) })
	_, reg := h.dispatcher(func(o *dispatch.Options) { o.Store = st })
	v, took := scrapeBehind(t, reg)
	if !math.IsNaN(v) {
		t.Fatalf("behind %v with a store that does not answer, want NaN", v)
	}
	if took > 5*time.Second {
		t.Fatalf("a scrape took %v with a store that does not answer", took)
	}
}
