package gateway

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/notify"
)

// breakerWatches tells the log and the metrics what the transports'
// circuit breakers do (notify.BreakerWatch), and how often this process
// stalled (notify.Stalls). A circuit that opens fails a provider's pages
// at once for its cooldown, and a failure the breaker leaves out because
// pagerd stalled is one nobody counted: both were seen only in each
// page's `notify_failed`.
type breakerWatches struct {
	log      *slog.Logger
	cooldown time.Duration
	opened   *prometheus.CounterVec
	stalled  *prometheus.CounterVec
}

// newBreakerWatches registers pagerd_breaker_opened_total,
// pagerd_breaker_stall_failures_total and the process's stall counters
// on reg, and starts the stall watch.
func newBreakerWatches(log *slog.Logger, reg prometheus.Registerer, cooldown time.Duration) *breakerWatches {
	notify.WatchStalls()
	w := &breakerWatches{log: log, cooldown: cooldown,
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_breaker_opened_total",
			Help: "Times a transport's circuit opened (its pages fail at once for notifiers.breaker.cooldown), by transport."}, []string{"via"}),
		stalled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_breaker_stall_failures_total",
			Help: "Failed pages the breaker did not count because pagerd stalled while they were on their way, by transport."}, []string{"via"}),
	}
	reg.MustRegister(w.opened, w.stalled,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pagerd_process_stalls_total",
			Help: "Times this process did not run for a second or more (stopped, its VM paused, starved of CPU)."},
			func() float64 { n, _ := notify.Stalls(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pagerd_process_stalled_seconds_total",
			Help: "Seconds this process did not run, in stalls of a second or more."},
			func() float64 { _, d := notify.Stalls(); return d.Seconds() }))
	return w
}

// forVia is the watch of one transport's breaker, its counters made at
// zero so that a rate() sees the first.
func (w *breakerWatches) forVia(via string) notify.BreakerWatch {
	if w == nil {
		return nil
	}
	return &breakerWatch{w: w, via: via, opened: w.opened.WithLabelValues(via), stalled: w.stalled.WithLabelValues(via)}
}

type breakerWatch struct {
	w       *breakerWatches
	via     string
	opened  prometheus.Counter
	stalled prometheus.Counter
}

func (b *breakerWatch) Opened(circuit string, failures int, test bool, err error) {
	b.opened.Inc()
	msg := "circuit open: pages through it fail at once, each recorded notify_failed and moving the person's ladder on, until a test page after the cooldown goes out"
	if test { // not failures == 1: breaker.failures may be 1
		msg = "circuit open again: its test page failed; pages through it fail at once until the next test after the cooldown"
	}
	b.w.log.Warn(msg, "via", b.via, "circuit", circuit, "failures_in_a_row", failures, "cooldown", b.w.cooldown.String(), "err", err)
}

func (b *breakerWatch) Closed(circuit string) {
	b.w.log.Info("circuit closed: a page through it went out (its test, or one on its way since before it opened); pages through it are sent again", "via", b.via, "circuit", circuit)
}

func (b *breakerWatch) StallFailure(circuit string, stall time.Duration, err error) {
	b.stalled.Inc()
	b.w.log.Warn("page failed while pagerd did not run (stopped, its VM paused, starved of CPU): not counted against the provider's circuit",
		"via", b.via, "circuit", circuit, "stall", stall.Round(time.Millisecond).String(), "err", err)
}
