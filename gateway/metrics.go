package gateway

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	commonversion "github.com/prometheus/common/version"

	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// metrics are the HTTP layer's Prometheus series: requests, and alerts the
// intake truncated. They hang off a registry the caller passes in; there
// are no package-level globals. The incident service, the dispatcher and
// the config holder count their own. docs/METRICS.md describes every one
// (a test keeps the two in step).
type metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	truncated *prometheus.CounterVec

	mu             sync.Mutex
	initialisedFor map[string]bool
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pagerd_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pagerd_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		truncated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pagerd_alerts_truncated_total",
			Help: "Alerts truncated to fit pagerd's per-request limits, by source, service and limit (alerts, incidents, group_key, fingerprint, label, annotation, details).",
		}, []string{"source", "service", "limit"}),
		initialisedFor: map[string]bool{},
	}
	reg.MustRegister(m.requests, m.duration, m.truncated)
	return m
}

// loaded creates the counters of a config's services at zero, so a rate()
// over them works from the first scrape and an absent series always means
// something.
func (m *metrics) loaded(cfg *policy.Config) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, svc := range cfg.Services {
		if m.initialisedFor[svc.Name] {
			continue
		}
		m.initialisedFor[svc.Name] = true
		for _, limit := range ingest.CutLimits {
			m.truncated.WithLabelValues("alertmanager", svc.Name, limit)
		}
	}
}

// RegisterBuildInfo registers pagerd_build_info{version, revision, branch,
// goversion, goos, goarch, tags}, always 1: which build is running is the
// first question of any incident review. The binary calls it once.
func RegisterBuildInfo(reg prometheus.Registerer, version string) {
	commonversion.Version = version
	reg.MustRegister(versioncollector.NewCollector("pagerd"))
}

// openIncidentsLimit bounds how many incidents of one status a scrape reads.
const openIncidentsLimit = 10000

// undecodableLogLines bounds the Error lines one read of the open
// incidents writes about records that do not decode: a store full of them
// (a replica older than the records it reads) names them all over a few
// reads instead of flooding the log at once.
const undecodableLogLines = 10

// openIncidents is pagerd_open_incidents{service,priority,status}, read from
// the store. /metrics must stay cheap and must not hammer Redis when several
// Prometheus servers scrape it, so the counts are read at most once per ttl
// (the store's CountOpen, bounded by openIncidentsLimit and a timeout) and served
// from the cache in between. Every service and priority of the config is
// reported, at 0 when nothing is open. When the store does not answer, the
// series are left out (and pagerd_store_errors_total{op="count_open"}
// counts it) rather than reported stale.
//
// An open incident whose record does not decode is in none of those
// counts (its service, priority and status are what cannot be read) but
// must not go unseen either: it is an open incident pagerd can no longer
// read. pagerd_open_incidents_undecodable says how many there are, beside
// the counts and from the same read (a gauge, not a counter: they are a
// state of the store, and a counter bumped on every read would rise with
// the scrape rate), and each is logged at Error once, by its incident id,
// while it stays so.
type openIncidents struct {
	store  store.Store
	config func() *policy.Config
	now    func() time.Time
	log    *slog.Logger
	ttl    time.Duration
	desc   *prometheus.Desc
	bad    *prometheus.Desc

	mu          sync.Mutex
	readAt      time.Time
	counts      map[[3]string]int
	undecodable int
	logged      map[string]bool // undecodable incidents already logged
	ok          bool
}

func newOpenIncidents(st store.Store, config func() *policy.Config, now func() time.Time, log *slog.Logger) *openIncidents {
	return &openIncidents{store: st, config: config, now: now, log: log, ttl: 15 * time.Second,
		desc: prometheus.NewDesc("pagerd_open_incidents",
			"Incidents not resolved, by service, priority and status (triggered, acknowledged); read from the store at most every 15s.",
			[]string{"service", "priority", "status"}, nil),
		bad: prometheus.NewDesc("pagerd_open_incidents_undecodable",
			"Open incidents whose stored record does not decode, left out of pagerd_open_incidents; each is logged once with its incident id.",
			nil, nil),
		logged: map[string]bool{}}
}

// Describe sends the two descriptors.
func (o *openIncidents) Describe(ch chan<- *prometheus.Desc) {
	ch <- o.desc
	ch <- o.bad
}

// Collect sends the counts, reading the store when the cache is older than
// the ttl.
func (o *openIncidents) Collect(ch chan<- prometheus.Metric) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if now := o.now(); o.readAt.IsZero() || now.Sub(o.readAt) >= o.ttl {
		o.readAt = now
		o.ok = o.read()
	}
	if !o.ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(o.bad, prometheus.GaugeValue, float64(o.undecodable))
	counts := map[[3]string]int{}
	for _, svc := range o.config().Services {
		for _, pr := range svc.Scheme().Priorities {
			for _, st := range []policy.Status{policy.StatusTriggered, policy.StatusAcknowledged} {
				counts[[3]string{svc.Name, pr, string(st)}] = 0
			}
		}
	}
	for k, n := range o.counts {
		counts[k] = n
	}
	keys := make([][3]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		if a[1] != b[1] {
			return a[1] < b[1]
		}
		return a[2] < b[2]
	})
	for _, k := range keys {
		ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, float64(counts[k]), k[0], k[1], k[2])
	}
}

// read fills the cache from the store, and reports whether it answered.
func (o *openIncidents) read() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := o.store.CountOpen(ctx, openIncidentsLimit)
	if err != nil {
		o.log.Warn("metrics: open incidents not counted", "err", err)
		return false
	}
	o.counts = make(map[[3]string]int, len(n.ByKey))
	for k, v := range n.ByKey {
		o.counts[[3]string{k.Service, k.Priority, string(k.Status)}] = v
	}
	o.undecodable = len(n.Undecodable)
	o.logUndecodable(n.Undecodable)
	return true
}

// logUndecodable logs each undecodable incident not logged yet, in id
// order, up to undecodableLogLines of them (the rest on later reads), and
// forgets those that decode again or are gone, so the memory of what was
// logged stays the size of what is broken.
func (o *openIncidents) logUndecodable(bad map[string]error) {
	ids := make([]string, 0, len(bad))
	for id := range bad {
		if !o.logged[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for id := range o.logged {
		if _, still := bad[id]; !still {
			delete(o.logged, id)
		}
	}
	for i, id := range ids {
		if i == undecodableLogLines {
			break
		}
		o.logged[id] = true
		o.log.Error("metrics: open incident record does not decode: not counted in pagerd_open_incidents",
			"incident", id, "err", bad[id], "undecodable", len(bad))
	}
}
