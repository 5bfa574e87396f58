package gateway

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/notify"
)

// gathered reads the unlabelled gauge or counter name from reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	v, err := metricValue(reg, name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// metricValue is gathered for a goroutine other than the test's, which
// must not call t.Fatal.
func metricValue(reg *prometheus.Registry, name string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue(), nil
			}
			return m.GetGauge().GetValue(), nil
		}
	}
	return 0, fmt.Errorf("no %s registered", name)
}

// stalledFor reads pagerd_dispatch_stalled_seconds from reg.
func stalledFor(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	return gathered(t, reg, "pagerd_dispatch_stalled_seconds")
}

// runDispatcher runs d until the test ends; release, if not nil, is
// called first, to let its hung workers go.
func runDispatcher(t *testing.T, d *dispatch.Dispatcher, release func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	t.Cleanup(func() {
		if release != nil {
			release()
		}
		cancel()
		<-ran
	})
}

// TestStalledNamesTheReplicaWhoseWorkersHang: two replicas on one Redis,
// one whose every worker hangs on its provider. The other takes its claims
// over when their leases end and pages on, so the store's due set, which
// pagerd_dispatch_behind_seconds falls back on, shows nothing late on
// either; pagerd_dispatch_stalled_seconds is each replica's own, and grows
// with the clock on the hung one alone. (Before, no figure said which
// replica was stuck, and with the other paging none said one was.)
func TestStalledNamesTheReplicaWhoseWorkersHang(t *testing.T) {
	st, _ := redisStore(t)
	h := newHarness(t, withStore(st), withConfig(dispatchConfig+"notifiers: {storm: {window: 0s}}\n"), replicas(0))
	hang := &hangingTransport{entered: make(chan struct{}, 4), release: make(chan struct{})}
	hung, hungReg := h.dispatcher(func(o *dispatch.Options) {
		o.Notifiers = map[string]notify.Notifier{"log": hang, "webhook": hang}
		o.Workers = 2
		o.MaxSleep = 10 * time.Millisecond
	})
	healthy, healthyReg := h.dispatcher(func(o *dispatch.Options) {
		o.Workers = 2
		o.MaxSleep = 10 * time.Millisecond
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
	runDispatcher(t, hung, func() { close(hang.release) })
	for range 2 {
		select {
		case <-hang.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the hung replica's two workers never reached the provider")
		}
	}
	runDispatcher(t, healthy, nil)
	post("g3")
	waitUntil(t, 10*time.Second, "the healthy replica to page g3", func() bool { return len(h.rec.lines(fixedNow)) == 1 })

	// paged are the incidents the healthy replica paged (the hung one's
	// pages go to hang, not to the recorder).
	paged := func() int {
		h.rec.mu.Lock()
		defer h.rec.mu.Unlock()
		ids := map[string]bool{}
		for _, m := range h.rec.msgs {
			ids[m.Incident] = true
		}
		return len(ids)
	}
	for i, after := range []time.Duration{5 * time.Minute, 10 * time.Minute} {
		h.clock.Set(fixedNow.Add(after))
		// The healthy replica looks at the due set every 10 ms, and takes
		// over the hung one's two incidents, whose leases have ended.
		waitUntil(t, 10*time.Second, fmt.Sprintf("the healthy replica's figure to come down %v on", after), func() bool { return stalledFor(t, healthyReg) < 1 })
		if got := stalledFor(t, hungReg); got != after.Seconds() {
			t.Fatalf("%v on, the hung replica's pagerd_dispatch_stalled_seconds is %v, want %v", after, got, after.Seconds())
		}
		if i == 0 {
			// What the hung replica held is paged by the other once
			// its leases end: the store has nothing late for
			// pagerd_dispatch_behind_seconds to show, on either.
			waitUntil(t, 10*time.Second, "the healthy replica to take over g1 and g2", func() bool { return paged() == 3 })
		}
	}
	select {
	case <-hang.entered:
		t.Fatal("a third page reached the hung provider: the test did not hang every worker")
	default:
	}
}

// slowProvider takes step of the test clock over every page, as a
// provider that answers slowly would take of the real one.
type slowProvider struct {
	mu    sync.Mutex
	clock *fakeClock
	step  time.Duration
	pages int
	// during reads the figure while a page is being sent.
	during func()
}

func (p *slowProvider) Notify(context.Context, notify.Message) error {
	p.during()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clock.Set(p.clock.Now().Add(p.step))
	p.pages++
	return nil
}

func (p *slowProvider) sent() int { p.mu.Lock(); defer p.mu.Unlock(); return p.pages }

// TestStalledStaysLowThroughAStorm: a burst of 120 incidents worked by two
// workers, each page taking a second of the clock, is two minutes of
// work: pagerd_dispatch_stalled_seconds stays within a few seconds all
// along (a worker finishes, or the loop looks, every second), far from
// PagerdDispatcherStuck's minute, which is for a replica that makes no
// progress at all.
func TestStalledStaysLowThroughAStorm(t *testing.T) {
	h := newHarness(t, withConfig(dispatchConfig+"notifiers: {storm: {window: 0s}}\n"), replicas(0))
	const incidents = 120
	for i := range incidents {
		if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", fmt.Sprintf("g%d", i), map[string]string{"alertname": "A", "severity": "critical"}),
			"Authorization", "Bearer "+amKey); r.code != 200 {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
	}
	var mu sync.Mutex
	worst := 0.0
	var unread error
	slow := &slowProvider{clock: h.clock, step: time.Second}
	d, reg := h.dispatcher(func(o *dispatch.Options) {
		o.Notifiers = map[string]notify.Notifier{"log": slow, "webhook": slow}
		o.Workers = 2
		o.MaxSleep = 10 * time.Millisecond
	})
	slow.during = func() {
		v, err := metricValue(reg, "pagerd_dispatch_stalled_seconds")
		mu.Lock()
		worst = max(worst, v)
		unread = cmp.Or(unread, err)
		mu.Unlock()
	}
	runDispatcher(t, d, nil)
	waitUntil(t, 2*time.Minute, "the storm's pages", func() bool { return slow.sent() >= incidents })
	if took := h.clock.Now().Sub(fixedNow); took < 2*time.Minute {
		t.Fatalf("the storm took %v of the clock, want 2 minutes: the test shows nothing", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if unread != nil {
		t.Fatal(unread)
	}
	t.Logf("pagerd_dispatch_stalled_seconds at most %v s over %v of storm", worst, h.clock.Now().Sub(fixedNow))
	if worst > 5 {
		t.Fatalf("pagerd_dispatch_stalled_seconds reached %v s in a storm worked through a page a second", worst)
	}
}
