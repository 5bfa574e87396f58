// Package sharedclock gives every replica of pagerd one clock: the Redis
// server's. Deadlines, leases, storm and dedup windows, heartbeats and ack
// links' expiries are times that one replica writes and another reads;
// read on hosts whose clocks disagree, a lease that ends on the claimer's
// clock has ended long ago on a host running a minute ahead, which takes
// the incident over and pages again, and every step comes due early there.
// So a replica measures how far its host's clock is from Redis's (TIME,
// corrected by half the round trip), now and then, and runs on Redis's
// time: the server's time at the last reading plus the time elapsed since
// on the host's monotonic clock, which an NTP step of the host's wall
// clock does not move. A reading only says that Redis read its clock
// somewhere in the round trip, and one that waited on one side (a dial
// retried while Redis restarted, a replica stalled before it read the
// answer) is off by up to half of it; so a reading that agrees with the
// last ones moves the clock only within what both allow (narrow). The
// offset is a metric (pagerd_clock_offset_seconds) and, past a threshold,
// a warning: a host clock that far off is wrong for everything else on
// the host, and when every replica shows the same offset it is Redis's
// clock, which pages then run on, that is wrong.
package sharedclock

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Source is the server whose clock the replicas share
// (redisstore.Store).
type Source interface {
	ServerTime(ctx context.Context) (time.Time, error)
}

// Options configure a Clock.
type Options struct {
	// Source is the clock the replicas share; nil: the host's (the
	// embedded store: one replica), whose steps Run still reports.
	Source Source
	// Wall is the host's clock (default time.Now).
	Wall func() time.Time
	// Mono is the time elapsed on the host's monotonic clock, which no
	// step of the wall clock moves (default: since the clock was built,
	// on time.Now's monotonic reading). It times the intervals between
	// readings of Source.
	Mono func() time.Duration
	// Every is how often Source is read, and the host's clock checked for
	// steps (default 10s).
	Every time.Duration
	// Warn is the offset past which the log warns (default 3s): make it a
	// fraction of the lease, which is what a replica that is not on the
	// shared clock would have to be off by to page twice. A reading whose
	// round trip is past it is not taken once one is in use.
	Warn time.Duration
	// Tries are the readings taken at each sync, of which the one with
	// the shortest round trip counts (default 3).
	Tries    int
	Logger   *slog.Logger
	Registry prometheus.Registerer
}

// maxDrift is how far Redis's clock may run apart from the host's
// monotonic clock, as a fraction of the time elapsed: 1/2000 (500 ppm),
// ntpd's largest slew. It widens what an earlier reading says of Redis's
// time now (narrow). A clock slewed faster (chrony's default allows far
// more) can leave two readings with no time in common: the new one is
// then taken as it is, as every reading was before narrowing, so the
// error stays within half its round trip.
const maxDrift = 2000

// roughErr is the error past which a reading is rough: one taken while a
// dial was retried, a pool filled or the replica stalled, off by up to
// half its round trip. A first reading so rough is taken (the host's clock
// may be off by far more) and read again at once, and every second within
// Every of it until one is not rough: one waited for the next reading, 10 s,
// and a replica started while Redis restarted ran up to 150 ms ahead for as
// long, its pages early (the soak's seed 556741321).
const roughErr = 10 * time.Millisecond

// stepTolerance is how far the host's wall clock may move apart from its
// monotonic clock between two looks before it counts as a step (an NTP
// step, a VM resumed from suspend); NTP's slewing moves it far less.
const stepTolerance = time.Second

// Clock is Source's clock as this replica reads it. Until Source first
// answers, and without a Source, it is the host's clock.
type Clock struct {
	o      Options
	offset prometheus.Gauge
	rtt    prometheus.Gauge
	fails  prometheus.Counter
	steps  prometheus.Counter
	resync chan struct{}
	// start is when Mono counts from by default: then the wall clock's
	// own monotonic reading gives both clocks in one read (clocks).
	start        time.Time
	monoFromWall bool

	// reading is the last reading of Source (nil until it answered), and
	// looked the host's two clocks at the last look for a step: read by
	// every Now, so without a lock.
	reading atomic.Pointer[reading]
	looked  atomic.Pointer[hostClocks]

	mu sync.Mutex // Sync's warnings
	// warned is whether the last offset was past Warn.
	warned bool

	// read is closed once Source first answered (at New without one).
	read     chan struct{}
	readOnce sync.Once
	// first is the host's monotonic clock at the first reading (Run's
	// fast readings while it is rough).
	first atomic.Int64
}

// reading is Source's time when the host's monotonic clock read mono,
// within err either way, and the offset measured then.
type reading struct {
	server time.Time
	mono   time.Duration
	err    time.Duration
	off    time.Duration
}

// hostClocks are the host's wall and monotonic clocks read at once.
type hostClocks struct {
	wall time.Time
	mono time.Duration
}

// New builds a clock; Sync or Run read Source.
func New(o Options) *Clock {
	if o.Wall == nil {
		o.Wall = time.Now
	}
	start := time.Now()
	monoFromWall := o.Mono == nil
	if o.Mono == nil {
		o.Mono = func() time.Duration { return time.Since(start) }
	}
	if o.Every <= 0 {
		o.Every = 10 * time.Second
	}
	if o.Warn <= 0 {
		o.Warn = 3 * time.Second
	}
	if o.Tries <= 0 {
		o.Tries = 3
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	c := &Clock{o: o, resync: make(chan struct{}, 1), start: start, monoFromWall: monoFromWall, read: make(chan struct{}),
		offset: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pagerd_clock_offset_seconds",
			Help: "How far Redis's clock, which pagerd's replicas run on (deadlines, leases, windows), is ahead of this host's clock (negative: behind), measured with TIME corrected by half the round trip. Far from 0 on one replica: its host's clock is off (NTP); the same on every replica: Redis's host's clock is, and pages run on it. NaN until Redis first answered, and on the embedded store."}),
		rtt: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pagerd_clock_round_trip_seconds",
			Help: "Round trip of the last reading of Redis's clock: half of it bounds the error of pagerd_clock_offset_seconds."}),
		fails: prometheus.NewCounter(prometheus.CounterOpts{Name: "pagerd_clock_sync_failures_total",
			Help: "Readings of Redis's clock that failed, or were not taken because their round trip was past the warning threshold (a slow reading may be off by half its round trip); the replica runs on its last reading and its host's monotonic clock meanwhile."}),
		steps: prometheus.NewCounter(prometheus.CounterOpts{Name: "pagerd_clock_steps_total",
			Help: "Steps of this host's wall clock apart from its monotonic clock by more than a second (an NTP step, a VM resumed from suspend). On Redis pagerd runs on Redis's clock and reads it again at once; on the embedded store deadlines are wall-clock times, and a step forward brings every step due within it forward to now, a step back delays them by as much."}),
	}
	c.offset.Set(math.NaN())
	if o.Source == nil {
		close(c.read)
	}
	w, m := c.clocks()
	c.looked.Store(&hostClocks{wall: w, mono: m})
	o.Registry.MustRegister(c.offset, c.rtt, c.fails, c.steps)
	return c
}

// Now is Source's time: its last reading plus the time elapsed since on
// the host's monotonic clock; the host's clock until Source first
// answered, and without a Source. When the host's wall clock moved apart
// from its monotonic clock since the last reading (an NTP step, a resumed
// VM), Run reads Source again at once.
func (c *Clock) Now() time.Time {
	if c.o.Source == nil {
		return c.o.Wall()
	}
	r := c.reading.Load()
	if r == nil {
		return c.o.Wall()
	}
	w, m := c.clocks()
	if l := c.looked.Load(); stepped(w.Round(0).Sub(l.wall.Round(0)), m-l.mono) {
		select {
		case c.resync <- struct{}{}:
		default:
		}
	}
	return r.server.Add(m - r.mono)
}

// clocks reads the host's wall and monotonic clocks: in one read when the
// wall clock carries a monotonic reading and Mono counts from start. Every
// read of Mono goes through it, so that the two ways never mix.
func (c *Clock) clocks() (time.Time, time.Duration) {
	w := c.o.Wall()
	if c.monoFromWall && w.Round(0) != w {
		return w, w.Sub(c.start)
	}
	return w, c.o.Mono()
}

// stepped says whether the wall clock moved apart from the monotonic one:
// wall and mono are the times each says passed.
func stepped(wall, mono time.Duration) bool {
	d := wall - mono
	return d > stepTolerance || d < -stepTolerance
}

// checkStep looks for a step of the host's wall clock since the last look:
// counted, and logged.
func (c *Clock) checkStep() {
	w, m := c.clocks()
	l := c.looked.Swap(&hostClocks{wall: w, mono: m})
	if d := w.Round(0).Sub(l.wall.Round(0)) - (m - l.mono); stepped(d, 0) {
		c.steps.Inc()
		if c.o.Source != nil {
			c.o.Logger.Warn("clock: this host's wall clock stepped; pagerd runs on Redis's clock, read again now",
				"step", d.Round(time.Millisecond).String())
		} else {
			c.o.Logger.Warn("clock: this host's wall clock stepped; deadlines are wall-clock times, so steps due within a step forward go out now, and a step back delays them by as much",
				"step", d.Round(time.Millisecond).String())
		}
	}
}

// Shared reports whether Now is the time every replica reads alike:
// Source's once it answered, or the host's without a Source (the
// embedded store: one replica). Until Source first answers, Now is the
// host's clock, which may be minutes off another replica's.
func (c *Clock) Shared() bool {
	return c.o.Source == nil || c.reading.Load() != nil
}

// Offset is how far Source's clock was ahead of the host's at the last
// reading; ok is false until Source answered.
func (c *Clock) Offset() (offset time.Duration, ok bool) {
	if r := c.reading.Load(); r != nil {
		return r.off, true
	}
	return 0, false
}

// Sync reads Source's clock Tries times and keeps the reading of the
// shortest round trip, taken to be Source's time half way through it,
// within half of it, and narrowed by the last reading (narrow); once a
// reading is in use, one whose round trip is past Warn is not taken (an
// error: the last goes on). It looks for a step of the host's wall clock
// first, so that one is counted once, not taken for an offset.
func (c *Clock) Sync(ctx context.Context) error { return c.syncing(ctx, false) }

// syncing is Sync; extra says that it reads again because the reading in
// use is rough (roughErr), so that one that fails or is past Warn is not a
// failure: it is not better, and the reading at Every is still to come
// (a Redis that answers TIME in 1.5 s failed every such reading, each
// giving up after a second, and counted ten failures in Every).
func (c *Clock) syncing(ctx context.Context, extra bool) error {
	c.checkStep()
	if c.o.Source == nil {
		return nil
	}
	first := c.reading.Load() == nil
	if err := c.sync(ctx, extra); err != nil {
		return err
	}
	if first && c.rough() && ctx.Err() == nil {
		// A first reading is taken whatever its round trip; the dial that
		// made it slow is done now, and one more reading narrows it.
		_ = c.sync(ctx, true)
	}
	return nil
}

// rough says whether the reading in use is rough (roughErr).
func (c *Clock) rough() bool {
	r := c.reading.Load()
	return r != nil && r.err > roughErr
}

// sync is Sync's reading of Source.
func (c *Clock) sync(ctx context.Context, extra bool) error {
	var best struct {
		server, wall time.Time
		mono, rtt    time.Duration
	}
	var err error
	found := false
	for range c.o.Tries {
		wall, before := c.clocks()
		t, e := c.o.Source.ServerTime(ctx)
		_, after := c.clocks()
		if e != nil {
			err = e
			continue
		}
		rtt := after - before
		if !found || rtt < best.rtt {
			best.server, best.wall, best.mono, best.rtt = t, wall.Add(rtt/2), before+rtt/2, rtt
			found = true
		}
	}
	if !found {
		if extra {
			// Read again because the reading in use is rough, within the
			// second to the next: one that fails leaves that reading in
			// use, as it would have been without it, and the reading at
			// Every, which waits up to Every, is counted as ever.
			return nil
		}
		c.fails.Inc()
		return err
	}
	if best.rtt > c.o.Warn && c.reading.Load() != nil {
		if extra {
			return nil
		}
		// Redis read its clock anywhere in the round trip: taken half
		// way through, a slow reading may be off by half of it, which
		// would move this replica's clock, its send windows and its
		// judgement of the others' leases, by as much at once. The last
		// reading, carried on the monotonic clock, is better.
		c.fails.Inc()
		c.rtt.Set(best.rtt.Seconds())
		return fmt.Errorf("redis answered TIME in %s at best, past %s: running on the last reading",
			best.rtt.Round(time.Millisecond), c.o.Warn)
	}
	server, bound := best.server, best.rtt/2
	if last := c.reading.Load(); last != nil {
		server, bound = narrow(last, server, best.mono, bound)
	}
	off := server.Sub(best.wall.Round(0))
	c.reading.Store(&reading{server: server, mono: best.mono, err: bound, off: off})
	c.readOnce.Do(func() { c.first.Store(int64(best.mono)); close(c.read) })
	warn := off > c.o.Warn || off < -c.o.Warn
	c.mu.Lock()
	was := c.warned
	c.warned = warn
	c.mu.Unlock()
	c.offset.Set(off.Seconds())
	c.rtt.Set(best.rtt.Seconds())
	switch {
	case warn && !was:
		c.o.Logger.Warn("clock: this host's clock is off Redis's, which pagerd runs on; fix NTP on this host, or on Redis's if every replica says the same",
			"offset", off.Round(time.Millisecond).String(), "warn_past", c.o.Warn.String(), "round_trip", best.rtt.Round(time.Microsecond).String())
	case !warn && was:
		c.o.Logger.Info("clock: this host's clock agrees with Redis's again", "offset", off.Round(time.Millisecond).String())
	}
	return nil
}

// narrow is Source's time when the host's monotonic clock read mono, and
// how far off it may be, from a new reading (server, within bound) and the
// last one, carried to mono on the monotonic clock and widened by the
// drift allowed since: the middle of the times both allow. A reading's
// round trip bounds its error but not its sign: one whose request waited
// (a dial go-redis retried until a restarting Redis listened, a wait for a
// pooled connection) is ahead by up to half of it, one whose answer waited
// (the replica stalled before reading it) behind; taken alone, such a
// reading 300 ms long moved the clock 150 ms and every page with it, and
// up to Warn/2 could be so. Narrowed, it moves the clock no further than
// the last reading allows, and a quick one still narrows a slow last one.
// Readings that allow no time in common say that Redis's clock moved (a
// failover to another host, a step of its host's clock, a VM resumed): the
// new one is taken as it is.
func narrow(last *reading, server time.Time, mono, bound time.Duration) (time.Time, time.Duration) {
	since := mono - last.mono
	was := last.server.Add(since)
	wasErr := last.err + since.Abs()/maxDrift
	lo, hi := server.Add(-bound), server.Add(bound)
	if l := was.Add(-wasErr); l.After(lo) {
		lo = l
	}
	if h := was.Add(wasErr); h.Before(hi) {
		hi = h
	}
	if hi.Before(lo) {
		return server, bound
	}
	half := hi.Sub(lo) / 2
	return lo.Add(half), half
}

// Read is closed once Now is Source's clock: at its first reading, and at
// once without a Source.
func (c *Clock) Read() <-chan struct{} { return c.read }

// Run reads Source, and looks for steps of the host's wall clock, every
// Every, and at once when Now saw the host's wall clock step, until ctx
// ends; every second until Source first answers, each reading giving up
// after a second, so that a replica that started while Redis was down is
// on its clock soon after it answers, with one that waits up to Every
// beside them, so that a Redis slower than that at start is read too;
// and every second within Every of the first reading while the reading in
// use is rough (roughErr), without counting one past Warn as failed. A
// reading that fails leaves the last one in use; the first failure of a
// streak is logged.
func (c *Clock) Run(ctx context.Context) {
	failing := false
	// patient is a reading before the first that may take up to Every,
	// while it goes on: a Redis busy at start that answers TIME in more
	// than the second the others wait is read by it (a first reading is
	// taken whatever its round trip), where the others alone never read
	// it, and the replica ran on its host's clock as long as Redis was
	// that slow. At most one is in flight, its failure not logged (the
	// others' are).
	var patient chan struct{}
	defer func() {
		if patient != nil {
			<-patient
		}
	}()
	for {
		wait := c.o.Every
		if c.o.Source != nil && (c.reading.Load() == nil || c.rough() && c.sinceFirst() < c.o.Every) {
			wait = min(wait, time.Second)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-c.resync:
			t.Stop()
		}
		if wait < c.o.Every && c.reading.Load() == nil && !inFlight(patient) {
			patient = make(chan struct{})
			go func(done chan struct{}) {
				defer close(done)
				sctx, cancel := context.WithTimeout(ctx, c.o.Every)
				defer cancel()
				_ = c.Sync(sctx)
			}(patient)
		}
		// A reading gives up after the wait to the next: until the first,
		// a second, so that one hanging on an unreachable Redis does not
		// hold the first reading (and the claims that wait for it) for
		// Every once Redis answers.
		sctx, cancel := context.WithTimeout(ctx, wait)
		err := c.syncing(sctx, wait < c.o.Every && c.reading.Load() != nil)
		cancel()
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			c.o.Logger.Warn("clock: cannot read Redis's clock; running on the last reading", "err", err)
		case err == nil && failing:
			c.o.Logger.Info("clock: reading Redis's clock again")
		}
		failing = err != nil
	}
}

// sinceFirst is the time since the first reading on the host's monotonic
// clock.
func (c *Clock) sinceFirst() time.Duration {
	_, m := c.clocks()
	return m - time.Duration(c.first.Load())
}

// inFlight says whether a reading whose done channel is done goes on.
func inFlight(done chan struct{}) bool {
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}
