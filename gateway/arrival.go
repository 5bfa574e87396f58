package gateway

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// arrivals stamps alerts as they arrive (ServerOptions.Received) on the
// clock the replicas share, allowing for this process's own stalls. A
// request's handler starts only once the process runs: one that reached
// the socket while the process was stopped (a VM paused, SIGSTOP, a
// machine starved for seconds) is read after the stop, stamped then, and
// may be a firing its sender gave up on, sent again elsewhere and then
// resolved while it waited: stamped at its reading, its write opened an
// incident for the ended alerts, which paged (the groups soak, seed
// 680918085, a replica stopped 15 s; incident.Alert.Received). So a watch
// ticks every tick; a request read while the watch has not ticked for
// more than gap, or within grace after such a stop ended, is stamped at
// the stop's start: it may have arrived any time during it.
type arrivals struct {
	now func() time.Time // the shared clock; zero while not on it
	// mono is the host's monotonic clock (time.Now's reading), which the
	// gaps between ticks are measured on: the shared clock moves by its
	// readings too (a re-sync after a Redis failover), which is no stop.
	mono  func() time.Time
	tick  time.Duration
	gap   time.Duration
	grace time.Duration
	// log, when set, says each stop the watch sees.
	log *slog.Logger

	// seen is the watch's state, replaced whole at each tick (one
	// writer, the watch) and read by every alert request without a
	// lock.
	seen atomic.Pointer[watched]
}

// watched is what the watch has seen.
type watched struct {
	last     time.Time // its last tick, on the shared clock
	lastMono time.Time // and on mono
	stopFrom time.Time // the latest stop it saw: from its last tick before
	stopEnd  time.Time // to its first tick after, on mono
}

// newArrivals watches on now (a tick every 100ms; a stop is a gap of
// over a second between ticks, a GC pause or a scheduler's delay far
// less; its grace two seconds, time for the requests queued meanwhile to
// be read).
func newArrivals(now func() time.Time, log *slog.Logger) *arrivals {
	return &arrivals{now: now, mono: time.Now, tick: 100 * time.Millisecond, gap: time.Second, grace: 2 * time.Second, log: log}
}

// run ticks until ctx ends.
func (a *arrivals) run(ctx context.Context) {
	t := time.NewTicker(a.tick)
	defer t.Stop()
	for {
		a.ticked()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ticked notes a tick: a stop when the last was more than gap ago.
func (a *arrivals) ticked() {
	now, mono := a.now(), a.mono()
	if now.IsZero() {
		return
	}
	w := watched{last: now, lastMono: mono}
	if p := a.seen.Load(); p != nil {
		w.stopFrom, w.stopEnd = p.stopFrom, p.stopEnd
		if stopped := mono.Sub(p.lastMono); stopped > a.gap {
			w.stopFrom, w.stopEnd = p.last, mono
			if a.log != nil {
				a.log.Warn("this process was stopped (paused, or starved of CPU): alerts read until shortly after are taken as arriving at the stop's start",
					"stopped_for", stopped.Round(time.Millisecond), "from", p.last.UTC().Truncate(time.Millisecond), "grace", a.grace)
			}
		}
	}
	a.seen.Store(&w)
}

// stamp is when r, whose handling starts now, arrived (both zero while
// not on the shared clock): at the latest, when the kernel stamped its
// arrival (arrivalAge), or now; at the earliest, that too, or the start
// of a stop of the process it may have waited through when that is
// earlier. The kernel's stamp is no earliest near a stop's end: a paused
// VM's kernel takes nothing, and what was sent to it meanwhile is stamped
// as it resumes (TestArrivalsKernelStampAfterAStopIsNotTheEarliest). One
// from more than gap before the stop ended was taken while the kernel ran
// (SIGSTOP, a process starved of CPU): it is when the request came, both
// earliest and latest; the stop's start would place a firing received
// during the stop, after a resolve taken elsewhere, before that resolve,
// and turn it down (TestArrivalsKernelStampWithinAStopIsTheArrival).
func (a *arrivals) stamp(r *http.Request) (earliest, latest time.Time) {
	now, mono := a.now(), a.mono()
	if now.IsZero() {
		return now, now
	}
	age, stamped := arrivalAge(r)
	latest = now.Add(-age)
	earliest = latest
	w := a.seen.Load()
	from, sinceEnd, stopped := time.Time{}, time.Duration(0), false
	switch {
	case w == nil:
	case mono.Sub(w.lastMono) > a.gap:
		// Stopped, and read before the watch ticked again: the stop
		// ended a moment ago.
		from, stopped = w.last, true
	case !w.stopEnd.IsZero() && mono.Sub(w.stopEnd) < a.grace:
		from, sinceEnd, stopped = w.stopFrom, mono.Sub(w.stopEnd), true
	}
	if stopped && (!stamped || age <= sinceEnd+a.gap) && from.Before(earliest) {
		earliest = from
	}
	return earliest, latest
}

// arrivedAt is what a connection read with the kernel's receive stamps
// (stampListener, Linux) knows of its data: the arrival of the latest
// segment read, in Unix nanoseconds on the host's clock (zero: none yet).
type arrivedAt struct{ arrived atomic.Int64 }

func (a *arrivedAt) arrival() *arrivedAt { return a }

type arrivalKey struct{}

// withArrival is the server's ConnContext: a request's context carries its
// connection's arrivedAt.
func withArrival(ctx context.Context, c net.Conn) context.Context {
	if s, ok := c.(interface{ arrival() *arrivedAt }); ok {
		return context.WithValue(ctx, arrivalKey{}, s.arrival())
	}
	return ctx
}

// headersKey keys a request's headers' arrival (stampHeaders).
type headersKey struct{}

// stampHeaders is the server's outermost handler: it keeps in each
// request's context its connection's arrivedAt as the server hands the
// request over, its headers read and its body not yet: the arrival of
// its headers. Read later, the connection's stamp is of the latest
// segment read by then: admission reads an alert's body before its
// handler runs, and a resolve whose body came seconds after its headers
// (a large notification on a slow link) was placed after a firing sent
// after it, and resolved the incident of an alert that fires.
func stampHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a, _ := r.Context().Value(arrivalKey{}).(*arrivedAt); a != nil {
			r = r.WithContext(context.WithValue(r.Context(), headersKey{}, a.arrived.Load()))
		}
		next.ServeHTTP(w, r)
	})
}

// maxArrivalAge bounds the age a kernel stamp may give a request: older,
// the host's clock was more likely stepped back since than the process
// stopped that long, and the request is taken as read (arrivals).
const maxArrivalAge = 10 * time.Minute

// arrivalAge is how long ago r's headers reached this host, by the
// kernel's stamp of their last segment (stampHeaders), when its
// connection was read with stamps (false otherwise): a request that
// waited in the socket while the process was stopped arrived that long
// before it was read.
func arrivalAge(r *http.Request) (time.Duration, bool) {
	ns, _ := r.Context().Value(headersKey{}).(int64)
	if ns == 0 {
		return 0, false
	}
	age := time.Since(time.Unix(0, ns)) // the host's wall clock, as the stamp's
	if age < 0 || age > maxArrivalAge {
		return 0, false
	}
	return age, true
}
