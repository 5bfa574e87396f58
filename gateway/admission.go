package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/ingest"
)

// Admission keeps an overloaded daemon serving at capacity. Past it, every
// request in flight makes every other slower, until senders time out and
// retry, and the daemon spends itself on requests that will be thrown
// away (issue 12 measured goodput falling to 180–1,480 alerts/s with
// 10–50 s latencies at 3,000/s offered). So the intake takes at most
// MaxInflight alerts at once. Up to MaxQueue more wait for a slot, for at
// most QueueTimeout; one that finds the queue full, or no slot in time, is
// refused, before anything else is done with it but the read of its body
// (read: a slow sender must not hold a slot; no routing, no request id),
// with a 503 (PagerDuty's and Opsgenie's endpoints:
// a 429, as they answer) and Retry-After: their clients and Alertmanager
// retry, and the alerts taken keep their latency. Under sustained overload
// the queue stays full, so the excess is refused at once instead of after
// waiting out the timeout: a short burst still waits for a slot, a flood
// costs its refusals as little as possible.
// Refusals are counted, and logged when a streak starts, every
// admissionLogEvery while it lasts and when it ends, not one line each;
// the counting takes no lock, as it runs for every refused request.
// The API, ack links, callbacks, health, readiness and metrics are not
// behind it, so a person can act during a storm of alerts.
//
// The limit is fixed, not adaptive: the work per alert is known (one
// store write, its CPU bounded by the request caps), so a limit a few
// times what keeps the store busy (Little's law: capacity × the latency at
// capacity, a few tens here) keeps it busy without queueing; an adaptive
// limit would chase the noise of a small box.
//
// One thing lowers it: the pages the daemon owes. Each alert taken in
// leaves work for the dispatcher (its first page, later its ladder), and
// at capacity the intake took the CPU first: in the load run the
// dispatcher fell 5 s behind in 10 s at 10,000 alerts/s, and went on
// falling for as long as the flood lasted, so every page, the new
// incidents' first pages and the older ones' next steps, went out later
// and later. An alert refused is retried by its sender; a page owed is
// late for someone already promised one. So while the dispatcher is more
// than brakeBehind behind with due steps (dispatch.Dispatcher.Behind),
// the intake brakes: it halves the alerts it takes at once, every
// brakeEvery, down to a sixteenth of the slots, and refuses the rest at
// once, as above; back within half of brakeBehind, it adds a sixteenth of
// the slots every brakeEvery until it has them all. Halving finds a level
// the dispatcher keeps up with whatever the store: a fixed level of an
// eighth kept Redis's dispatcher within 0.6 s, but the embedded store's
// (whose limit is 256) fell 11 s behind at twice capacity (26 s with no
// brake). It limits alerts at once, not a rate: when the dispatcher is
// behind for want of something other than CPU (a provider that hangs),
// alerts taken in cost its pages little, and the slots left, each free
// again within a millisecond or so, still take alerts in at a thousand a
// second or more.
//
// Neither the limit nor the brake knows whose alerts it refuses, and under
// one service's flood every other service's alerts queued and were refused
// with it: its senders retry, but a page owed to a person nobody else is
// flooding came a retry later. So an alert of a sender (a service, by its
// key) with nothing else in flight or waiting that would wait or be refused
// takes one of a few reserved slots (reserveOf) instead, at once: a flood
// fills the slots with its own alerts and is refused past them, a quiet
// service's alert does not wait behind it. The reserve is small and
// bounded, so many quiet senders at once (an outage seen by every service)
// fall back on the limit as before.
type admission struct {
	next     http.Handler
	slots    chan struct{}
	maxQueue int64
	wait     time.Duration
	log      *slog.Logger
	refused  [len(intakeRoutes)]prometheus.Counter
	active   prometheus.Gauge

	// The brake (above): behind is how far behind the dispatcher is,
	// nil for none; limit is how many alerts it lets in at once now (all
	// the slots when not braking), floor and step its least and its
	// increase.
	behind      func() time.Duration
	brakeBehind time.Duration
	limit       atomic.Int64
	floor, step int64
	adjusted    atomic.Int64 // when limit was last looked at, Unix ns
	inflight    atomic.Int64 // alerts admitted and not yet answered
	// brakeLog is when the start of a brake was last logged (Unix ns),
	// brakeLogged whether the brake running now was: under a lasting
	// overload the brake comes and goes every second or so, and one
	// line each time would flood the log.
	brakeLog    atomic.Int64
	brakeLogged atomic.Bool

	// buffered is the bytes of alert bodies held now, at most
	// maxBuffered (read); bufferedOpen those of the route whose key is in
	// the body, at most a quarter of it.
	buffered, bufferedOpen atomic.Int64
	maxBuffered            int64
	// known says whether a request carries a key of the intake in its
	// headers (Alertmanager's, Opsgenie's): one that does not is passed to
	// its handler, which refuses it before it reads the body, without a
	// slot or a read. nil: every request's is taken as known. sender names
	// the service the key is of ("" when the headers do not say: a
	// PagerDuty event's key is in its body).
	known func(r *http.Request, route int) (sender string, ok bool)

	// reserve are the slots of senders with nothing else in flight or
	// waiting (above); senders counts each sender's alerts in flight or
	// waiting (string to *atomic.Int64; the keys are the services of the
	// configs in use since the start).
	reserve chan struct{}
	senders sync.Map

	queued  atomic.Int64
	streak  atomic.Int64 // refusals since the last calm
	since   atomic.Int64 // when the streak began, Unix ns
	lastLog atomic.Int64 // Unix ns
}

// Admission defaults.
const (
	defaultMaxInflight  = 64
	defaultQueueTimeout = 20 * time.Millisecond
	// DefaultBrakeBehind is how far behind with due steps the dispatcher
	// may fall before the intake brakes: ten times the p99 lateness of a
	// step at 300 alerts/s over 3 replicas in the load run (50 ms; none
	// over 500 ms), so a busy box that keeps up does not brake, and the
	// issue's own bound on a step's lateness (p99 < 500 ms).
	DefaultBrakeBehind = 500 * time.Millisecond
)

// brakeEvery is how often the brake looks at the dispatcher: a claim
// takes a few milliseconds, so its lateness moves within this.
const brakeEvery = 100 * time.Millisecond

// admissionLogEvery is how often an overload streak is logged.
const admissionLogEvery = 10 * time.Second

// The intake routes, as metric labels; the index is a route's number.
var intakeRoutes = [...]string{"/api/v1/alertmanager", "/v2/enqueue", opsgenieAlertsPath}

// Route numbers, for intakeRoutes.
const (
	routeNone = iota - 1
	routeAlertmanager
	routeEnqueue
	routeOpsgenie
)

// admissionLimits bound the intake (ServerOptions says what each is).
type admissionLimits struct {
	maxInflight, maxQueue int
	queueTimeout          time.Duration
	behind                func() time.Duration
	brakeBehind           time.Duration
	maxBuffered           int64 // bytes of bodies held at once (0: defaultMaxBuffered)
	known                 func(r *http.Request, route int) (sender string, ok bool)
}

// reserveOf is how many slots are kept for alerts of senders with nothing
// else in flight or waiting: a sixteenth of the slots (4 of Redis's 64),
// at least 1.
func reserveOf(slots int) int { return max(1, slots/16) }

// newAdmission bounds next's intake: at most maxInflight alerts in flight
// (0: the default) and maxQueue waiting (0: twice maxInflight), each for at
// most queueTimeout; with behind, the brake (0 brakeBehind: the default).
func newAdmission(next http.Handler, reg prometheus.Registerer, log *slog.Logger, l admissionLimits) *admission {
	slots, queue, wait := l.maxInflight, l.maxQueue, l.queueTimeout
	if slots <= 0 {
		slots = defaultMaxInflight
	}
	if queue <= 0 {
		// Twice the slots: at capacity the queue drains in a little less
		// than the default queue timeout, so it rides out a sender that
		// sends in bursts (at 2x capacity in the load run, a queue as
		// long as the slots let them go idle between bursts: goodput
		// 81-90%; twice as long: 85-95%), and still refuses most of a
		// flood at once (refusals p50 1.5-1.8 ms; four times as long:
		// 22 ms, most of them waiting out the timeout).
		queue = 2 * slots
	}
	if wait <= 0 {
		wait = defaultQueueTimeout
	}
	if l.brakeBehind <= 0 {
		l.brakeBehind = DefaultBrakeBehind
	}
	if l.maxBuffered <= 0 {
		l.maxBuffered = defaultMaxBuffered
	}
	a := &admission{next: next, slots: make(chan struct{}, slots), reserve: make(chan struct{}, reserveOf(slots)), maxQueue: int64(queue), wait: wait, log: log, maxBuffered: l.maxBuffered, known: l.known,
		behind: l.behind, brakeBehind: l.brakeBehind, floor: int64(max(1, slots/16)), step: int64(max(1, slots/16)),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pagerd_ingest_inflight",
			Help: "Alerts being taken in right now (at most server.admission.max_inflight, and a sixteenth of it more for services with nothing else in flight)."}),
	}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pagerd_ingest_refused_total",
		Help: "Alerts refused at once because the intake was at its limit of alerts in flight and waiting (server.admission) or of bodies held (64 MiB; PagerDuty events a quarter of it), or braking while the dispatcher is behind with due pages; senders retry."}, []string{"route"})
	for i, r := range intakeRoutes {
		a.refused[i] = refused.WithLabelValues(r)
	}
	a.limit.Store(int64(slots))
	limit := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pagerd_ingest_limit",
		Help: "Alerts the intake takes in at once now: server.admission.max_inflight, fewer while it brakes because the dispatcher is behind with due pages."},
		func() float64 {
			if a.behind == nil {
				return float64(cap(a.slots))
			}
			return float64(a.brakeLimit()) // a look, as an alert's: not left where the last overload left it
		})
	reg.MustRegister(refused, a.active, limit)
	return a
}

// intakeRoute is the number of an alert intake path, or routeNone for any
// other path (which admission lets through untouched).
func intakeRoute(r *http.Request) int {
	if r.Method != http.MethodPost {
		return routeNone
	}
	switch p := r.URL.Path; {
	case p == "/api/v1/alertmanager" || strings.HasPrefix(p, "/api/v1/alertmanager/"):
		return routeAlertmanager
	case p == "/v2/enqueue" || p == changeEnqueuePath: // a change event is read and limited as an alert event is
		return routeEnqueue
	case p == opsgenieAlertsPath:
		return routeOpsgenie
	}
	return routeNone
}

// ServeHTTP admits an alert or refuses it, and passes anything else on.
func (a *admission) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := intakeRoute(r)
	if route == routeNone {
		a.next.ServeHTTP(w, r)
		return
	}
	sender := ""
	if a.known != nil {
		var ok bool
		if sender, ok = a.known(r, route); !ok {
			a.next.ServeHTTP(w, r) // no slot, no body read: its handler answers 401 before it reads the body
			return
		}
	}
	body, ok := a.read(r, route)
	if body != nil {
		defer body.pool.Add(-int64(cap(body.b)))
	}
	if !ok {
		a.refuse(w, route, refusedBodies)
		return
	}
	if body != nil && body.err != nil {
		a.next.ServeHTTP(w, r) // no slot: it is answered at the read error
		return
	}
	quiet := false
	if sender != "" {
		c := a.senderCount(sender)
		quiet = c.Add(1) == 1
		defer c.Add(-1)
	}
	got := noSlot
	if n := a.inflight.Add(1); !a.braked(n) {
		got = a.acquire(r, quiet)
	} else if quiet && a.takeReserve() {
		got = reservedSlot
	}
	if got != sharedSlot {
		a.inflight.Add(-1)
	}
	switch got {
	case noSlot:
		if route == routeEnqueue && endsPages(body, r.Header.Get("Content-Encoding")) {
			a.next.ServeHTTP(w, r) // no slot: it ends work
			return
		}
		a.refuse(w, route, refusedSlots)
		return
	case reservedSlot:
		defer func() { <-a.reserve }()
	default:
		defer func() {
			a.inflight.Add(-1)
			<-a.slots
		}()
	}
	a.active.Inc()
	defer a.active.Dec()
	a.calm()
	a.next.ServeHTTP(w, r)
}

// The slots an alert may take (acquire).
const (
	noSlot       = iota
	sharedSlot   // one of max_inflight, within the brake's limit
	reservedSlot // one of the reserve of senders with nothing else in flight
)

// senderCount is the count of sender's alerts in flight or waiting.
func (a *admission) senderCount(sender string) *atomic.Int64 {
	if c, ok := a.senders.Load(sender); ok {
		return c.(*atomic.Int64)
	}
	c, _ := a.senders.LoadOrStore(sender, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// takeReserve takes a reserved slot if one is free, without waiting.
func (a *admission) takeReserve() bool {
	select {
	case a.reserve <- struct{}{}:
		return true
	default:
		return false
	}
}

// endsPages reports whether body, a PagerDuty Events API event the intake
// would refuse, acknowledges or resolves: one is served without a slot,
// as the API's and the ack links' acknowledgements are (which admission
// never sees), since it ends pages and the work of them, and the Events
// API is how some tools acknowledge. It is decoded (decompressed first,
// as the handler does, when its Content-Encoding is gzip) to tell only on
// the way to a refusal.
func endsPages(body *heldBody, encoding string) bool {
	if body == nil || !body.whole || len(body.b) > ingest.MaxEventBytes {
		return false
	}
	b, err := ingest.DecodeContent(encoding, body.b)
	if err != nil {
		return false
	}
	var ev struct {
		Action string `json:"event_action"`
	}
	return json.Unmarshal(b, &ev) == nil && (ev.Action == ingest.ActionAcknowledge || ev.Action == ingest.ActionResolve)
}

// intakeBodyLimits are what admission reads of a route's body before it
// takes a slot: what each handler reads whole, and one byte more, to tell
// a body over it (an Alertmanager notification over it is read on as a
// stream, readAlertmanager).
var intakeBodyLimits = [len(intakeRoutes)]int64{
	routeAlertmanager: alertmanagerBodyLimit,
	routeEnqueue:      ingest.MaxEventBytes,
	routeOpsgenie:     ingest.MaxOpsgenieBytes,
}

// firstRead is the buffer an alert's body is first read into: a few
// single-alert notifications' worth.
const firstRead = 4 << 10

// defaultMaxBuffered bounds the bytes of alert bodies held at once, read
// and being read: a few thousand alerts' worth, or eight of the largest
// Alertmanager notifications read whole.
const defaultMaxBuffered = 64 << 20

// read reads an alert's body before it takes a slot, and leaves it in
// r.Body for the handler (heldBody). A sender that trickles its body, or
// sends its headers and then nothing, holds a connection until the
// server's read timeout, but not a slot: when a slot was taken before the
// body was read, 64 such connections (the default limit; no credentials
// needed, the PagerDuty routing key is in the body) refused every alert
// for a minute at a time. The bytes held are bounded by maxBuffered,
// counted as they arrive, not as a Content-Length promises them, so
// holding the buffer takes sending it; past it ok is false, and the alert
// is refused as over capacity. Only requests with a key read them
// (known): a sender without one cannot fill the buffer, but for the
// PagerDuty Events API, whose routing key is in the body, so its bodies
// have a quarter of it to themselves, and a sender without a key that
// fills that stops the alerts of no other intake. A body over
// Content-Length's limit is not read (nil): its handler answers 413 at
// once, or reads it as a stream in its turn, one at a time (streamHead).
// The caller gives back cap(body.b) to body.pool when it is done.
func (a *admission) read(r *http.Request, route int) (body *heldBody, ok bool) {
	limit := intakeBodyLimits[route]
	if r.ContentLength > limit {
		return nil, true
	}
	// The buffer starts small and doubles as bytes come, so that what is
	// counted follows what arrived (at most twice it), not what a
	// Content-Length promises: 32 connections that promised 512 KiB and
	// sent nothing held the PagerDuty events' pool. A body whose length is
	// known ends in a buffer of that length and the byte more that sees
	// the end.
	end := limit + 1
	if r.ContentLength >= 0 {
		end = min(end, r.ContentLength+1)
	}
	body = &heldBody{rest: r.Body, pool: &a.buffered}
	most := a.maxBuffered
	if route == routeEnqueue {
		body.pool, most = &a.bufferedOpen, a.maxBuffered/4
	}
	for {
		if len(body.b) == cap(body.b) {
			if int64(len(body.b)) > limit {
				break // over the limit: the handler says so, or streams the rest
			}
			size := min(max(firstRead, 2*int64(cap(body.b))), end)
			if size <= int64(cap(body.b)) {
				size = min(2*int64(cap(body.b)), limit+1) // longer than it said: net/http ends it
			}
			if body.pool.Add(size-int64(cap(body.b))) > most {
				body.pool.Add(int64(cap(body.b)) - size) // what it holds already, the caller gives back
				return body, false
			}
			b := make([]byte, len(body.b), size)
			copy(b, body.b)
			body.b = b
		}
		n, err := r.Body.Read(body.b[len(body.b):cap(body.b)])
		body.b = body.b[:len(body.b)+n]
		if err == io.EOF {
			body.whole = true
			break
		}
		if err != nil {
			body.err = err
			break
		}
	}
	r.Body = body
	return body, true
}

// heldBody is an alert's body as admission read it (read): b, then the
// error that ended the read, or the rest of the body (nothing, when whole).
type heldBody struct {
	b     []byte
	off   int
	whole bool  // b is all of the body
	err   error // the read error that ended b
	rest  io.ReadCloser
	pool  *atomic.Int64 // the admission's count its bytes are in
}

func (h *heldBody) Read(p []byte) (int, error) {
	if h.off < len(h.b) {
		n := copy(p, h.b[h.off:])
		h.off += n
		return n, nil
	}
	if h.err != nil {
		return 0, h.err
	}
	if h.whole {
		return 0, io.EOF
	}
	return h.rest.Read(p)
}

func (h *heldBody) Close() error { return h.rest.Close() }

// readAtMost reads body up to n bytes, as io.ReadAll of an io.LimitReader
// does; what admission read of a body it hands over without a copy, when
// it is the whole body, or the n bytes asked for of one read on as a
// stream (streamHead): copied, that was as much again for each request
// waiting for its streaming turn, which admission does not count.
func readAtMost(body io.Reader, n int64) ([]byte, error) {
	if h, ok := body.(*heldBody); ok && h.off == 0 && h.err == nil && (h.whole && int64(len(h.b)) <= n || int64(len(h.b)) == n) {
		h.off = len(h.b)
		return h.b, nil
	}
	return io.ReadAll(io.LimitReader(body, n))
}

// braked says whether the brake refuses an alert that would be the nth
// in flight or waiting.
func (a *admission) braked(n int64) bool {
	if a.behind == nil {
		return false
	}
	l := a.brakeLimit()
	return l < int64(cap(a.slots)) && n > l
}

// brakeLimit is how many alerts the brake lets in at once now; every
// brakeEvery one caller adjusts it.
func (a *admission) brakeLimit() int64 {
	now := time.Now().UnixNano()
	if last := a.adjusted.Load(); now-last >= int64(brakeEvery) && a.adjusted.CompareAndSwap(last, now) {
		a.adjust(time.Duration(now - last))
	}
	return a.limit.Load()
}

// adjust halves the limit while the dispatcher is more than brakeBehind
// behind, and raises it by a step for every brakeEvery since the last look
// while it is within half of that: only alerts make the brake look, and
// the first alert after a quiet spell must not find the brake where the
// last overload left it. It says so in the log when braking starts and
// when it ends.
func (a *admission) adjust(since time.Duration) {
	late, was := a.behind(), a.limit.Load()
	all := int64(cap(a.slots))
	l := was
	switch {
	case late > a.brakeBehind:
		l = max(a.floor, l/2)
	case late < a.brakeBehind/2:
		l = min(all, l+a.step*max(1, int64(since/brakeEvery)))
	}
	a.limit.Store(l)
	now := time.Now().UnixNano()
	switch {
	case was == all && l < all && now-a.brakeLog.Load() >= int64(admissionLogEvery):
		a.brakeLog.Store(now)
		a.brakeLogged.Store(true)
		a.log.Warn("intake braking: the dispatcher is behind with due pages; taking in fewer alerts at once until it catches up (senders retry; logged at most every 10s)",
			"behind", late.Round(time.Millisecond).String(), "brake_behind", a.brakeBehind.String(), "max_inflight_now", l)
	case was < all && l == all && a.brakeLogged.Swap(false):
		a.log.Info("intake no longer braking: the dispatcher caught up", "behind", late.Round(time.Millisecond).String(),
			"braking_for", time.Duration(now-a.brakeLog.Load()).Round(time.Millisecond).String())
	}
}

// acquire takes a slot: at once, or after waiting in the queue if it has
// room, for up to the queue timeout. A quiet sender's alert (one with
// nothing else in flight or waiting) takes a reserved slot rather than
// wait, while one is free.
func (a *admission) acquire(r *http.Request, quiet bool) int {
	select {
	case a.slots <- struct{}{}:
		return sharedSlot
	default:
	}
	if quiet && a.takeReserve() {
		return reservedSlot
	}
	if a.queued.Add(1) > a.maxQueue {
		a.queued.Add(-1)
		return noSlot
	}
	defer a.queued.Add(-1)
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return sharedSlot
	case <-t.C:
		return noSlot
	case <-r.Context().Done():
		return noSlot
	}
}

// The refusals' answers, made once: a refusal is the one answer pagerd
// gives thousands of times a second when it is over capacity.
var (
	refusalContentType = []string{"application/json"}
	retryAfter         = []string{"1"}
	refusalBodies      = [len(intakeRoutes)][]byte{
		routeAlertmanager: []byte(`{"error":"pagerd is taking in as many alerts as it can; this one was not stored: retry"}` + "\n"),
		routeEnqueue:      []byte(`{"status":"throttle event","message":"Requests are arriving too quickly. Please retry later."}` + "\n"),
		// Opsgenie's 429, which its clients and Alertmanager's
		// opsgenie_configs retry.
		routeOpsgenie: []byte(`{"message":"You are making too many requests! pagerd is taking in as many alerts as it can; this one was not stored: retry","took":0}` + "\n"),
	}
	refusalCodes = [len(intakeRoutes)]int{
		routeAlertmanager: http.StatusServiceUnavailable,
		routeEnqueue:      http.StatusTooManyRequests,
		routeOpsgenie:     http.StatusTooManyRequests,
	}
)

// Why an alert is refused, for the streak's log line.
const (
	refusedSlots  = iota // every slot taken (or braked) and the queue full or waited out
	refusedBodies        // the bodies held at their bound
)

func (a *admission) refuse(w http.ResponseWriter, route int, why int) {
	a.refused[route].Inc()
	now := time.Now().UnixNano()
	if a.streak.Add(1) == 1 {
		a.since.Store(now)
	}
	if last := a.lastLog.Load(); now-last >= int64(admissionLogEvery) && a.lastLog.CompareAndSwap(last, now) {
		if why == refusedBodies {
			a.log.Warn("intake at its bound of alert bodies held: refusing alerts (senders retry)", "refused", a.streak.Load(),
				"since", time.Unix(0, a.since.Load()), "held_bytes", a.buffered.Load(), "held_bytes_pagerduty_events", a.bufferedOpen.Load(),
				"max_bytes", a.maxBuffered, "max_bytes_pagerduty_events", a.maxBuffered/4)
		} else {
			a.log.Warn("intake at its limit of alerts in flight: refusing alerts (senders retry)", "refused", a.streak.Load(),
				"since", time.Unix(0, a.since.Load()), "max_inflight", cap(a.slots), "max_queue", a.maxQueue)
		}
	}
	h := w.Header()
	h["Content-Type"] = refusalContentType
	h["Retry-After"] = retryAfter
	w.WriteHeader(refusalCodes[route])
	_, _ = w.Write(refusalBodies[route])
}

// calm ends an overload streak, saying how many were refused; it costs an
// alert taken in one atomic load when there is none.
func (a *admission) calm() {
	if a.streak.Load() == 0 || time.Now().UnixNano()-a.lastLog.Load() < int64(time.Second) {
		return
	}
	n := a.streak.Swap(0) // only one of the alerts calming at once gets n > 0
	if n == 0 {
		return
	}
	a.log.Info("intake below its limit again", "refused", n, "for", time.Since(time.Unix(0, a.since.Load())).Round(time.Millisecond).String())
}
