package gateway

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Admission keeps an overloaded daemon serving at capacity. Past it, every
// request in flight makes every other slower, until senders time out and
// retry, and the daemon spends itself on requests that will be thrown
// away (issue 12 measured goodput falling to 180–1,480 alerts/s with
// 10–50 s latencies at 3,000/s offered). So the intake takes at most
// MaxInflight alerts at once; one that finds no slot within QueueTimeout
// is refused at once, before anything else is done with it (no routing,
// no request id, its body unread), with a 503 (PagerDuty's and
// Opsgenie's endpoints: a 429, as they answer) and Retry-After: their
// clients and Alertmanager retry, and the alerts taken keep their latency.
// Refusals are counted, and logged when a streak starts, every
// admissionLogEvery while it lasts and when it ends, not one line each.
// The API, ack links, callbacks, health, readiness and metrics are not
// behind it, so a person can act during a storm of alerts.
//
// The limit is fixed, not adaptive: the work per alert is known (one
// store write, its CPU bounded by the request caps), so a limit a few
// times what keeps the store busy (Little's law: capacity × the latency at
// capacity, a few tens here) keeps it busy without queueing; an adaptive
// limit would chase the noise of a small box.
type admission struct {
	next    http.Handler
	slots   chan struct{}
	wait    time.Duration
	log     *slog.Logger
	refused *prometheus.CounterVec
	active  prometheus.Gauge

	mu      sync.Mutex
	streak  int
	since   time.Time
	lastLog time.Time
}

// Admission defaults.
const (
	defaultMaxInflight  = 64
	defaultQueueTimeout = 20 * time.Millisecond
)

// admissionLogEvery is how often an overload streak is logged.
const admissionLogEvery = 10 * time.Second

func newAdmission(next http.Handler, reg prometheus.Registerer, log *slog.Logger, max int, wait time.Duration) *admission {
	if max <= 0 {
		max = defaultMaxInflight
	}
	if wait <= 0 {
		wait = defaultQueueTimeout
	}
	a := &admission{next: next, slots: make(chan struct{}, max), wait: wait, log: log,
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_ingest_refused_total",
			Help: "Alerts refused at once because the intake was at its limit of alerts in flight (server.admission); senders retry."}, []string{"route"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pagerd_ingest_inflight",
			Help: "Alerts being taken in right now (at most server.admission.max_inflight)."}),
	}
	reg.MustRegister(a.refused, a.active)
	for _, r := range []string{"/api/v1/alertmanager", "/v2/enqueue", opsgenieAlertsPath} {
		a.refused.WithLabelValues(r)
	}
	return a
}

// intakeRoute is the metric label of an alert intake path, or "" for any
// other path (which admission lets through untouched).
func intakeRoute(r *http.Request) string {
	if r.Method != http.MethodPost {
		return ""
	}
	switch p := r.URL.Path; {
	case p == "/api/v1/alertmanager" || strings.HasPrefix(p, "/api/v1/alertmanager/"):
		return "/api/v1/alertmanager"
	case p == "/v2/enqueue":
		return "/v2/enqueue"
	case p == opsgenieAlertsPath:
		return opsgenieAlertsPath
	}
	return ""
}

// ServeHTTP admits an alert or refuses it, and passes anything else on.
func (a *admission) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := intakeRoute(r)
	if route == "" {
		a.next.ServeHTTP(w, r)
		return
	}
	if !a.acquire(r) {
		a.refuse(w, route)
		return
	}
	a.active.Inc()
	defer func() {
		a.active.Dec()
		<-a.slots
	}()
	a.calm()
	a.next.ServeHTTP(w, r)
}

func (a *admission) acquire(r *http.Request) bool {
	select {
	case a.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-r.Context().Done():
		return false
	}
}

func (a *admission) refuse(w http.ResponseWriter, route string) {
	a.refused.WithLabelValues(route).Inc()
	a.mu.Lock()
	if a.streak == 0 {
		a.since = time.Now()
	}
	a.streak++
	if now := time.Now(); now.Sub(a.lastLog) >= admissionLogEvery {
		a.lastLog = now
		a.log.Warn("intake at its limit of alerts in flight: refusing alerts (senders retry)", "refused", a.streak,
			"since", a.since, "max_inflight", cap(a.slots))
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	if route == "/v2/enqueue" {
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"status":"throttle event","message":"Requests are arriving too quickly. Please retry later."}` + "\n"))
		return
	}
	if route == opsgenieAlertsPath {
		// Opsgenie's 429, which its clients and Alertmanager's
		// opsgenie_configs retry.
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"message":"You are making too many requests! pagerd is taking in as many alerts as it can; this one was not stored: retry","took":0}` + "\n"))
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"error":"pagerd is taking in as many alerts as it can; this one was not stored: retry"}` + "\n"))
}

// calm ends an overload streak, saying how many were refused.
func (a *admission) calm() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.streak == 0 || time.Since(a.lastLog) < time.Second {
		return
	}
	a.log.Info("intake below its limit again", "refused", a.streak, "for", time.Since(a.since).Round(time.Millisecond).String())
	a.streak = 0
}
