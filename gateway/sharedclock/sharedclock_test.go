package sharedclock_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/sharedclock"
	"github.com/pagerd/pagerd/internal/logtest"
)

// world is true time, a host's two clocks and a server, all moved by the
// test: the host's wall clock is off true time by skew, its monotonic
// clock counts true time, and the server answers with true time after
// half the round trip, which the other half follows.
type world struct {
	mu    sync.Mutex
	now   time.Time
	mono  time.Duration
	skew  time.Duration
	rtt   time.Duration
	fails bool
	// hangs: the server does not answer until the reading gives up (a
	// network that drops packets, a dial that times out).
	hangs bool
	// slow: the server answers this long after it is asked, in real time
	// (Redis busy at start), or not at all if the reading gives up first.
	slow time.Duration
	// late: the server reads its clock at the end of the round trip (the
	// command queued behind a slow one, or a congested way there), not
	// half way through it.
	late bool
	// ahead is how far the server's clock is ahead of true time (a
	// failover to a host whose clock differs, a step, a drift).
	ahead time.Duration
	// answers, while any are left, say how each reading goes, one each.
	answers []answer
}

// answer is how one reading goes.
type answer int

const (
	// fails: refused (a dead pooled connection after Redis restarted).
	fails answer = iota
	// requestWaits: the request waits a round trip of oneSided before
	// the server reads its clock, and the answer comes at once: a dial
	// that go-redis retries (5 times, 100 ms apart) until a restarting
	// Redis listens, a wait for a free connection of the pool.
	requestWaits
	// answerWaits: the server reads its clock at once and the answer
	// takes oneSided to be read: the replica stalled between sending and
	// reading (SIGSTOP, a VM paused, CPU starved), or Redis stalled after
	// it ran the command.
	answerWaits
)

// oneSided is the round trip of a reading delayed on one side: within
// the soak's lease/10 (400 ms), so the reading is taken.
const oneSided = 300 * time.Millisecond

var start = time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)

func (w *world) pass(d time.Duration) { w.now = w.now.Add(d); w.mono += d }

func (w *world) trueNow() time.Time  { w.mu.Lock(); defer w.mu.Unlock(); return w.now }
func (w *world) Wall() time.Time     { w.mu.Lock(); defer w.mu.Unlock(); return w.now.Add(w.skew) }
func (w *world) Mono() time.Duration { w.mu.Lock(); defer w.mu.Unlock(); return w.mono }
func (w *world) ServerTime(ctx context.Context) (time.Time, error) {
	w.mu.Lock()
	if w.hangs {
		w.mu.Unlock()
		<-ctx.Done()
		return time.Time{}, ctx.Err()
	}
	if slow := w.slow; slow > 0 {
		w.mu.Unlock()
		select {
		case <-time.After(slow):
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
		w.mu.Lock()
	}
	defer w.mu.Unlock()
	if w.fails {
		return time.Time{}, errors.New("down")
	}
	if len(w.answers) > 0 {
		a := w.answers[0]
		w.answers = w.answers[1:]
		switch a {
		case fails:
			return time.Time{}, errors.New("EOF")
		case requestWaits:
			w.pass(oneSided)
			return w.now.Add(w.ahead), nil
		case answerWaits:
			t := w.now.Add(w.ahead)
			w.pass(oneSided)
			return t, nil
		}
	}
	if w.late {
		w.pass(w.rtt)
		return w.now.Add(w.ahead), nil
	}
	w.pass(w.rtt / 2)
	t := w.now.Add(w.ahead)
	w.pass(w.rtt / 2)
	return t, nil
}

func newClock(t *testing.T, w *world, warn time.Duration) (*sharedclock.Clock, *prometheus.Registry, *logtest.Buffer) {
	reg := prometheus.NewRegistry()
	logs := &logtest.Buffer{}
	c := sharedclock.New(sharedclock.Options{Source: w, Wall: w.Wall, Mono: w.Mono, Warn: warn, Registry: reg,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	return c, reg, logs
}

// TestOffsetIsMeasured: a host whose clock is off Redis's by seconds or
// minutes, either way, measures the offset to within the round trip's
// half, exports it, and runs on Redis's time; past the threshold it warns,
// once, and says when it agrees again.
func TestOffsetIsMeasured(t *testing.T) {
	for _, skew := range []time.Duration{0, 2 * time.Second, 5 * time.Second, -time.Minute, 10 * time.Minute} {
		t.Run(skew.String(), func(t *testing.T) {
			w := &world{now: start, skew: skew, rtt: 4 * time.Millisecond}
			c, reg, logs := newClock(t, w, 3*time.Second)
			if got := c.Now(); !got.Equal(w.Wall()) {
				t.Errorf("before the first reading Now = %v, want the host's clock %v", got, w.Wall())
			}
			if err := c.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			off, ok := c.Offset()
			if !ok || (off+skew).Abs() > w.rtt/2 {
				t.Errorf("offset %v, want %v within %v", off, -skew, w.rtt/2)
			}
			if got := value(t, reg, "pagerd_clock_offset_seconds"); (time.Duration(got*1e9) + skew).Abs() > w.rtt/2 {
				t.Errorf("pagerd_clock_offset_seconds %v, want %v", got, (-skew).Seconds())
			}
			w.pass(7 * time.Second)
			if got := c.Now(); got.Sub(w.now).Abs() > w.rtt/2 {
				t.Errorf("Now %v, want Redis's time %v", got, w.now)
			}
			warned := strings.Count(logs.String(), "this host's clock is off Redis's")
			if want := skew.Abs() > 3*time.Second; (warned == 1) != want || warned > 1 {
				t.Errorf("warned %d times at offset %v, want %v", warned, -skew, want)
			}
			if err := c.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(logs.String(), "this host's clock is off Redis's"); n != warned {
				t.Errorf("warned again at the next reading (%d, was %d)", n, warned)
			}
			w.skew = 0
			if err := c.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if again := strings.Contains(logs.String(), "agrees with Redis's again"); again != (warned == 1) {
				t.Errorf("said it agrees again: %v, after warning %d times", again, warned)
			}
		})
	}
}

// TestStepOfTheHostClock: the host's wall clock steps back 5 minutes (an
// NTP step) and, later, forward 10 (a VM resumed): the clock goes on on
// Redis's time, counts each step and says so, and reads Redis again.
func TestStepOfTheHostClock(t *testing.T) {
	w := &world{now: start, rtt: 2 * time.Millisecond}
	c, reg, logs := newClock(t, w, 3*time.Second)
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, step := range []time.Duration{-5 * time.Minute, 10 * time.Minute} {
		w.pass(time.Second)
		w.skew += step
		if got := c.Now(); got.Sub(w.now).Abs() > w.rtt {
			t.Errorf("after a step of %v Now = %v, want Redis's time %v", step, got, w.now)
		}
		if err := c.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := value(t, reg, "pagerd_clock_steps_total"); got != float64(i+1) {
			t.Errorf("pagerd_clock_steps_total %v, want %d", got, i+1)
		}
		if off, _ := c.Offset(); (off + w.skew).Abs() > w.rtt {
			t.Errorf("offset %v after the step, want %v", off, -w.skew)
		}
	}
	if n := strings.Count(logs.String(), "wall clock stepped"); n != 2 {
		t.Errorf("said %d times that the clock stepped, want 2:\n%s", n, logs)
	}
}

// TestHostClockWithoutSource: on the embedded store the clock is the
// host's, steps included, and they are counted and said.
func TestHostClockWithoutSource(t *testing.T) {
	w := &world{now: start}
	reg := prometheus.NewRegistry()
	logs := &logtest.Buffer{}
	c := sharedclock.New(sharedclock.Options{Wall: w.Wall, Mono: w.Mono, Registry: reg, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	w.pass(time.Second)
	w.skew = time.Hour
	if got := c.Now(); !got.Equal(w.Wall()) {
		t.Errorf("Now %v, want the host's clock %v", got, w.Wall())
	}
	if !c.Shared() {
		t.Error("Shared false without a Source: the host's clock is the one replica's clock")
	}
	select {
	case <-c.Read():
	default:
		t.Error("Read not closed without a Source: the host's clock is the clock")
	}
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := value(t, reg, "pagerd_clock_steps_total"); got != 1 {
		t.Errorf("pagerd_clock_steps_total %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "deadlines are wall-clock times") {
		t.Errorf("the step was not said:\n%s", logs)
	}
}

// TestSourceDown: a failed reading leaves the last in use, on the host's
// monotonic clock, and is counted.
func TestSourceDown(t *testing.T) {
	w := &world{now: start, skew: time.Minute, rtt: 2 * time.Millisecond}
	c, reg, _ := newClock(t, w, 3*time.Second)
	if c.Shared() {
		t.Error("Shared before Redis answered: Now is the host's clock, a minute off")
	}
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !c.Shared() {
		t.Error("not Shared once Redis answered")
	}
	w.fails = true
	w.pass(time.Minute)
	if err := c.Sync(context.Background()); err == nil {
		t.Fatal("Sync on a server that fails: no error")
	}
	if got := c.Now(); got.Sub(w.now).Abs() > w.rtt {
		t.Errorf("Now %v, want Redis's time %v", got, w.now)
	}
	if got := value(t, reg, "pagerd_clock_sync_failures_total"); got != 1 {
		t.Errorf("pagerd_clock_sync_failures_total %v, want 1", got)
	}
	if !c.Shared() {
		t.Error("not Shared after a failed reading: the last one is still in use")
	}
}

// value is the value of reg's one metric named name, a gauge or a
// counter.
func value(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// BenchmarkNow: the daemon reads the clock at every step, page and
// request, from every worker at once; on the host's clocks, as it runs.
func BenchmarkNow(b *testing.B) {
	w := &world{now: time.Now(), rtt: time.Millisecond}
	c := sharedclock.New(sharedclock.Options{Source: w})
	if err := c.Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Now()
		}
	})
}

// BenchmarkTimeNow is what the daemon read before, for comparison.
func BenchmarkTimeNow(b *testing.B) {
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			time.Now()
		}
	})
}

// TestRunReadsSoonOnceSourceAnswers: a replica that started while Redis
// was down runs on its host's clock until Redis answers, and then on
// Redis's within seconds, not at the next of its 10 s readings.
func TestRunReadsSoonOnceSourceAnswers(t *testing.T) {
	w := &world{now: start, skew: time.Hour, fails: true}
	c := sharedclock.New(sharedclock.Options{Source: w, Wall: w.Wall, Mono: w.Mono, Every: time.Hour})
	if err := c.Sync(context.Background()); err == nil {
		t.Fatal("Sync on a server that fails: no error")
	}
	select {
	case <-c.Read():
		t.Fatal("Read closed before Redis answered")
	default:
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	w.mu.Lock()
	w.fails = false
	w.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if off, ok := c.Offset(); ok {
			if off != -time.Hour {
				t.Errorf("offset %v, want -1h", off)
			}
			select {
			case <-c.Read():
			default:
				t.Error("Read not closed once Redis answered")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("not on Redis's clock 5 s after it answered")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSlowReadingKeepsTheLast: Redis is slow to answer (8 s round trips,
// every try: a flood, a slow command ahead of TIME) and reads its clock
// at the end of each. Taken half way through, such a reading is 4 s off,
// which moves the replica's clock by as much at once: its claims' send
// windows and its judgement of the others' leases shift by it, and two
// replicas wrong in opposite ways are further apart than a lease leaves
// room for. A reading whose round trip is past Warn is not taken while
// an earlier one is in use: it counts as a failed reading, and the clock
// goes on on the last reading.
func TestSlowReadingKeepsTheLast(t *testing.T) {
	w := &world{now: start, rtt: 2 * time.Millisecond}
	c, reg, _ := newClock(t, w, 3*time.Second)
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.pass(10 * time.Second)
	w.rtt, w.late = 8*time.Second, true
	if err := c.Sync(context.Background()); err == nil {
		t.Error("a reading with an 8 s round trip was taken")
	}
	if got := c.Now(); got.Sub(w.now).Abs() > 10*time.Millisecond {
		t.Errorf("Now %v after a slow reading, want Redis's time %v (off by %v)", got, w.now, got.Sub(w.now))
	}
	if got := value(t, reg, "pagerd_clock_sync_failures_total"); got != 1 {
		t.Errorf("pagerd_clock_sync_failures_total %v, want 1", got)
	}
	// Quick again: taken.
	w.rtt, w.late = 2*time.Millisecond, false
	w.skew = 5 * time.Second
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if off, _ := c.Offset(); (off + w.skew).Abs() > w.rtt {
		t.Errorf("offset %v after a quick reading, want %v", off, -w.skew)
	}
}

// TestSlowFirstReadingIsTaken: with no reading yet the replica runs on its
// host's clock, which may be off by far more than a slow reading: the
// first reading is taken whatever its round trip.
func TestSlowFirstReadingIsTaken(t *testing.T) {
	w := &world{now: start, rtt: 8 * time.Second, skew: time.Hour}
	c, _, _ := newClock(t, w, 3*time.Second)
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.Now(); got.Sub(w.now).Abs() > w.rtt/2 {
		t.Errorf("Now %v, want Redis's time %v within %v", got, w.now, w.rtt/2)
	}
}

// TestRunReadsSoonOnceAnUnreachableSourceAnswers: a replica started while
// Redis was unreachable (its readings hang until they give up, not refused
// at once) reads Redis's clock within seconds of it answering: readings
// before the first give up after a second, as they are retried, not after
// Every (10 s), which held its claims for as long (the daemon claims
// nothing until the first reading).
func TestRunReadsSoonOnceAnUnreachableSourceAnswers(t *testing.T) {
	w := &world{now: start, skew: time.Hour, hangs: true}
	c := sharedclock.New(sharedclock.Options{Source: w, Wall: w.Wall, Mono: w.Mono, Every: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(1500 * time.Millisecond) // a reading hangs meanwhile
	w.mu.Lock()
	w.hangs = false
	w.mu.Unlock()
	select {
	case <-c.Read():
	case <-time.After(5 * time.Second):
		t.Fatal("not on Redis's clock 5 s after it answered")
	}
}

// TestRunReadsARedisSlowerThanASecondAtStart: a Redis busy at start that
// answers TIME in 1.5 s is read, as a first reading whatever its round
// trip is (TestSlowFirstReadingIsTaken), though readings before the first
// give up after a second: one that may take up to Every goes on beside
// them. (Every reading giving up after a second, the replica never read
// Redis's clock while Redis was that slow, and claimed on its host's.)
func TestRunReadsARedisSlowerThanASecondAtStart(t *testing.T) {
	w := &world{now: start, skew: time.Hour, slow: 1500 * time.Millisecond}
	c := sharedclock.New(sharedclock.Options{Source: w, Wall: w.Wall, Mono: w.Mono, Every: time.Hour, Tries: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-c.Read():
	case <-time.After(6 * time.Second):
		t.Fatal("Redis's clock not read in 6 s, though it answers in 1.5")
	}
	if got := c.Now(); got.Sub(w.Wall()).Abs() < 59*time.Minute {
		t.Errorf("Now %v: the host's clock, not Redis's (an hour behind it)", got)
	}
}

// TestOneSidedReadingDoesNotMoveTheClock: after Redis restarted (or a
// replica resumed from a stop) one reading of a sync answered and the
// others failed, and that one waited 300 ms on one side only: the request
// (go-redis retrying its dial until Redis listened), Redis reading its
// clock at the end, or the answer (the replica stalled before reading it),
// Redis reading its clock at the start. Taken half way through, it put
// the replica's clock 150 ms ahead (pages early, and recorded at its own
// time: the soak's seed 76324111) or behind (pages late), and anything up
// to lease/20 could be so. The last reading, 10 s old, bounds Redis's
// time to within its round trip and the drift since: the new one may
// narrow that, never move the clock outside it.
func TestOneSidedReadingDoesNotMoveTheClock(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    answer
	}{{"request waited", requestWaits}, {"answer waited", answerWaits}} {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{now: start, skew: 2 * time.Second, rtt: time.Millisecond}
			c, reg, _ := newClock(t, w, 400*time.Millisecond)
			if err := c.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			w.pass(10 * time.Second)
			w.answers = []answer{fails, tc.a, fails}
			if err := c.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			// 10 s at the drift allowed (500 ppm) and the first reading's
			// half round trip.
			const bound = 6 * time.Millisecond
			if got := c.Now(); got.Sub(w.now).Abs() > bound {
				t.Errorf("Now %v after a reading that waited %v on one side, want Redis's time %v within %v (off by %v)",
					got, oneSided, w.now, bound, got.Sub(w.now))
			}
			if got := value(t, reg, "pagerd_clock_offset_seconds"); (time.Duration(got*1e9) + w.skew).Abs() > bound {
				t.Errorf("pagerd_clock_offset_seconds %v, want %v within %v", got, (-w.skew).Seconds(), bound)
			}
			// A quick reading again: as close as its round trip allows.
			w.pass(10 * time.Second)
			if err := c.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := c.Now(); got.Sub(w.now).Abs() > w.rtt {
				t.Errorf("Now %v after a quick reading, want Redis's time %v within %v", got, w.now, w.rtt)
			}
		})
	}
}

// TestSlowRedisKeepsTheClockOnIt: Redis answers every reading in 300 ms
// (slow for everyone, within lease/10), its clock drifts from the host's
// by 200 ppm, then steps a second forward (a failover to a host whose
// clock is ahead) and back: the replica's clock stays on Redis's within
// half a round trip, readings that disagree with the last ones (a clock
// that moved) taken as they are.
func TestSlowRedisKeepsTheClockOnIt(t *testing.T) {
	for _, rtt := range []time.Duration{300 * time.Millisecond, time.Millisecond} {
		t.Run(rtt.String(), func(t *testing.T) {
			w := &world{now: start, skew: -time.Minute, rtt: rtt}
			c, _, _ := newClock(t, w, 400*time.Millisecond)
			for i := range 40 {
				switch i {
				case 20:
					w.ahead += time.Second
				case 30:
					w.ahead -= 700 * time.Millisecond
				}
				if err := c.Sync(context.Background()); err != nil {
					t.Fatal(err)
				}
				if got, want := c.Now(), w.now.Add(w.ahead); got.Sub(want).Abs() > rtt/2+time.Millisecond {
					t.Fatalf("reading %d: Now %v, want Redis's time %v within %v (off by %v)", i, got, want, rtt/2, got.Sub(want))
				}
				w.pass(10 * time.Second)
				w.ahead += 2 * time.Millisecond // 200 ppm of 10 s
			}
		})
	}
}

// TestRoughFirstReadingIsReadAgain: a replica started while Redis
// restarted takes its first reading through a dial go-redis retried (300
// ms, waited on the request's side) and the sync's other tries fail. Taken
// alone it put the replica's clock 150 ms ahead until the next reading,
// 10 s on: the soak's seed 556741321 paged 46 steps 107–150 ms early. A
// first reading that rough is read again at once, which narrows it. And a
// Redis slow for everyone (every round trip past Warn) is read again
// without that counting as a failed reading.
func TestRoughFirstReadingIsReadAgain(t *testing.T) {
	t.Run("dial retried", func(t *testing.T) {
		w := &world{now: start, skew: 2 * time.Second, rtt: time.Millisecond,
			answers: []answer{requestWaits, fails, fails}}
		c, reg, _ := newClock(t, w, 400*time.Millisecond)
		if err := c.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := c.Now(); got.Sub(w.now).Abs() > w.rtt {
			t.Errorf("Now %v after a first reading that waited %v on one side, want Redis's time %v within %v (off by %v)",
				got, oneSided, w.now, w.rtt, got.Sub(w.now))
		}
		if got := value(t, reg, "pagerd_clock_sync_failures_total"); got != 0 {
			t.Errorf("pagerd_clock_sync_failures_total %v, want 0", got)
		}
	})
	t.Run("slow for everyone", func(t *testing.T) {
		w := &world{now: start, skew: 2 * time.Second, rtt: 300 * time.Millisecond}
		c, reg, _ := newClock(t, w, 200*time.Millisecond)
		if err := c.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Offset(); !ok {
			t.Error("a slow first reading was not taken")
		}
		if got := value(t, reg, "pagerd_clock_sync_failures_total"); got != 0 {
			t.Errorf("pagerd_clock_sync_failures_total %v after one Sync whose reading was taken, want 0", got)
		}
	})
}

// TestRunReadsARoughFirstReadingAgainSoon: the first reading and the one
// taken again at once both waited on one side (Redis still loading, the
// pool dialling anew): Run reads again every second, not at Every (an
// hour here), until a reading is not rough.
func TestRunReadsARoughFirstReadingAgainSoon(t *testing.T) {
	w := &world{now: start, skew: 2 * time.Second, rtt: time.Millisecond,
		answers: []answer{requestWaits, fails, fails, requestWaits, fails, fails}}
	c := sharedclock.New(sharedclock.Options{Source: w, Wall: w.Wall, Mono: w.Mono, Every: time.Hour, Warn: 400 * time.Millisecond})
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	off := c.Now().Sub(w.trueNow())
	if off.Abs() < 100*time.Millisecond {
		t.Fatalf("the test's readings were not rough: off by %v", off)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		off := c.Now().Sub(w.trueNow())
		if off.Abs() <= w.rtt {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still off Redis's clock by %v 5 s after a rough first reading", off)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// slowRedis answers TIME after slow in real time, with the true time
// read half way through; the host's clocks are the real ones, its wall
// clock off by skew.
type slowRedis struct {
	slow time.Duration
	skew time.Duration
}

func (s slowRedis) Wall() time.Time { return time.Now().Add(s.skew) }
func (s slowRedis) ServerTime(ctx context.Context) (time.Time, error) {
	select {
	case <-time.After(s.slow / 2):
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	t := time.Now()
	select {
	case <-time.After(s.slow / 2):
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	return t, nil
}

// TestRoughReadingsAgainAreNotFailures: Redis busy at start answers TIME
// in 1.5 s, within Warn (3 s): the first reading (the patient one) is
// taken, rough (off by up to 750 ms), and read again every second while
// it is rough. Those readings give up after the second to the next and
// fail every time; counted, they raised pagerd_clock_sync_failures_total
// once a second for Every after the first reading (PagerdClockUnread
// fires on increases 10 minutes apart) and logged "cannot read Redis's
// clock" while the replica was on it: the reading at Every, which waits
// up to Every, is taken as before.
func TestRoughReadingsAgainAreNotFailures(t *testing.T) {
	s := slowRedis{slow: 1500 * time.Millisecond, skew: time.Hour}
	reg := prometheus.NewRegistry()
	logs := &logtest.Buffer{}
	c := sharedclock.New(sharedclock.Options{Source: s, Wall: s.Wall, Every: 6 * time.Second, Tries: 1, Registry: reg,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-c.Read():
	case <-time.After(6 * time.Second):
		t.Fatal("Redis's clock not read in 6 s, though it answers in 1.5")
	}
	before := value(t, reg, "pagerd_clock_sync_failures_total")
	logged := strings.Count(logs.String(), "cannot read Redis's clock")
	time.Sleep(5 * time.Second)
	if got := value(t, reg, "pagerd_clock_sync_failures_total") - before; got != 0 {
		t.Errorf("pagerd_clock_sync_failures_total rose by %v in the 5 s after a first reading of a Redis answering in 1.5 s, want 0", got)
	}
	if got := strings.Count(logs.String(), "cannot read Redis's clock") - logged; got != 0 {
		t.Errorf("%d more warnings that Redis's clock cannot be read while the replica ran on it", got)
	}
	if off, ok := c.Offset(); !ok || (off+time.Hour).Abs() > time.Second {
		t.Errorf("offset %v (%v), want -1h", off, ok)
	}
}
