//go:build load

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store/boltstore"
)

// Ingest under load, on the real binary: closed-loop capacity with the CPU
// each webhook costs, an open-loop latency run, and overload at 2x and 5x
// capacity, with an acknowledgement timed in the middle of it. Every time
// is from the request's scheduled send (no coordinated omission). The load
// generator shares the machine's cores with pagerd and Redis.

// procStat is a process's CPU time, peak resident memory so far, and its
// anonymous resident memory now (heap and stacks: resident memory less
// mapped files, such as the embedded store's, which the kernel can drop).
type procStat struct {
	cpu    time.Duration
	hwmKB  int
	anonKB int
}

// settleCPU waits until pagerd is idle (under a tenth of a core over half a
// second, for at most a minute) and says how long that took.
func settleCPU(t *testing.T, pid int) (time.Duration, procStat) {
	t.Helper()
	start := time.Now()
	last := readProc(t, pid)
	for time.Since(start) < time.Minute {
		time.Sleep(500 * time.Millisecond)
		now := readProc(t, pid)
		if now.cpu-last.cpu < 50*time.Millisecond {
			return time.Since(start) - 500*time.Millisecond, now
		}
		last = now
	}
	return time.Since(start), last
}

func readProc(t *testing.T, pid int) procStat {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	var st procStat
	st.cpu = time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
	s, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(s), "\n") {
		switch {
		case strings.HasPrefix(line, "VmHWM:"):
			st.hwmKB, _ = strconv.Atoi(strings.Fields(line)[1])
		case strings.HasPrefix(line, "RssAnon:"):
			st.anonKB, _ = strconv.Atoi(strings.Fields(line)[1])
		}
	}
	return st
}

// cpuSnap is the CPU time used so far by pagerd, by this process (the load
// generator), by Redis (on the Redis store) and by the whole machine
// (busy, and all of it, idle included): on a box the generator shares with
// pagerd, what each took says what a figure measures.
type cpuSnap struct{ pagerd, gen, redis, busy, all time.Duration }

func (r *ingestRun) cpuNow() cpuSnap {
	t := r.t
	t.Helper()
	c := cpuSnap{pagerd: readProc(t, r.d.cmd.Process.Pid).cpu, gen: readProc(t, os.Getpid()).cpu}
	if r.redisPID > 0 {
		c.redis = readProc(t, r.redisPID).cpu
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	// cpu  user nice system idle iowait irq softirq steal ...
	line, _, _ := strings.Cut(string(b), "\n")
	for i, f := range strings.Fields(line)[1:] {
		if i > 7 {
			break // guest time is in user time already
		}
		n, _ := strconv.ParseInt(f, 10, 64)
		d := time.Duration(n) * time.Second / 100
		c.all += d
		if i != 3 && i != 4 {
			c.busy += d
		}
	}
	return c
}

// cpuShares says how many cores each used between two snapshots.
func cpuShares(a, b cpuSnap, wall time.Duration) string {
	core := func(d time.Duration) float64 { return d.Seconds() / wall.Seconds() }
	return fmt.Sprintf("cores used: pagerd %.2f, load generator %.2f, Redis %.2f, the machine %.2f of %.0f",
		core(b.pagerd-a.pagerd), core(b.gen-a.gen), core(b.redis-a.redis), core(b.busy-a.busy), core(b.all-a.all))
}

// redisPID is the Redis server's process id, from INFO.
func redisPID(t *testing.T, addr string) int {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	info, err := rdb.Info(context.Background(), "server").Result()
	if err != nil {
		t.Fatalf("INFO server: %v", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, _ := strconv.Atoi(v)
			return pid
		}
	}
	t.Fatal("INFO server: no process_id")
	return 0
}

// shot is one request's outcome.
type shot struct {
	code    int // 0: no answer (timeout, connection error)
	latency time.Duration
	// behind is how late the generator sent it: its connection was still
	// waiting for the answer before, or the generator had no CPU. It is
	// part of latency (no coordinated omission), reported on its own so a
	// generator that cannot keep up is not mistaken for a slow server.
	behind time.Duration
}

// ingestRun drives one daemon.
type ingestRun struct {
	t      *testing.T
	l      *loadRun
	d      *daemon
	client *http.Client
	seq    atomic.Int64
	// redisPID is the Redis server's process, on the Redis store.
	redisPID int
}

func startIngest(t *testing.T, store string) *ingestRun {
	t.Helper()
	l := startLoad(t, store)
	tr := &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute}
	r := &ingestRun{t: t, l: l, d: l.d, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	if l.redis != "" {
		r.redisPID = redisPID(t, l.redis)
	}
	return r
}

// sender is one keep-alive connection that writes requests as bytes and
// reads just the status and the body's length of each answer: a load
// generator that shares the cores with pagerd has to cost little per
// request (net/http's client costs about as much CPU as a refusal does on
// the server), or at 5x capacity it measures itself.
type sender struct {
	r    *ingestRun
	conn net.Conn
	br   *bufio.Reader
	buf  []byte
}

// post sends one alert of a new group, for one of the people, and reports
// what came back; latency is from at (its scheduled send).
func (s *sender) post(at time.Time) shot {
	r := s.r
	n := r.seq.Add(1)
	user := loadPeople[int(n)%len(loadPeople)]
	s.buf = s.buf[:0]
	body := fmt.Appendf(nil, `{"version":"4","groupKey":"ingest-%d-%d","status":"firing","receiver":"pagerd","externalURL":"http://am","alerts":[{"status":"firing","labels":{"alertname":"Load","severity":"warning","group":"ingest-%d-%d"},"annotations":{"summary":"load"},"startsAt":"2025-01-01T00:00:00Z","fingerprint":"f"}]}`,
		os.Getpid(), n, os.Getpid(), n)
	s.buf = fmt.Appendf(s.buf, "POST /api/v1/alertmanager HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		r.d.addr, loadKey(user), len(body))
	s.buf = append(s.buf, body...)
	behind := time.Since(at)
	code, err := s.roundTrip()
	if err != nil {
		if s.conn != nil {
			s.conn.Close()
			s.conn = nil
		}
		code = 0
	}
	return shot{code: code, latency: time.Since(at), behind: behind}
}

func (s *sender) close() {
	if s.conn != nil {
		s.conn.Close()
	}
}

func (s *sender) roundTrip() (int, error) {
	if s.conn == nil {
		c, err := net.DialTimeout("tcp", s.r.d.addr, 10*time.Second)
		if err != nil {
			return 0, err
		}
		s.conn, s.br = c, bufio.NewReaderSize(c, 4096)
	}
	_ = s.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.conn.Write(s.buf); err != nil {
		return 0, err
	}
	line, err := s.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 {
		return 0, fmt.Errorf("short status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, err
	}
	length, closing := -1, false
	for {
		h, err := s.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(h) <= 2 {
			break
		}
		k, v, _ := strings.Cut(strings.TrimSpace(string(h)), ":")
		switch strings.ToLower(k) {
		case "content-length":
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		case "connection":
			closing = strings.EqualFold(strings.TrimSpace(v), "close")
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("answer %d without a Content-Length", code)
	}
	if _, err := s.br.Discard(length); err != nil {
		return 0, err
	}
	if closing {
		s.conn.Close()
		s.conn = nil
	}
	return code, nil
}

// closedLoop runs senders back to back for d and returns the shots. A
// sender refused waits before it sends again, as Alertmanager does (its
// first retry comes after 250-750 ms: exponential backoff from 500 ms,
// ±50%); one that sent again at once would measure how fast pagerd
// refuses, not how much it takes in.
func (r *ingestRun) closedLoop(senders int, d time.Duration) []shot {
	var mu sync.Mutex
	var out []shot
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < senders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []shot
			snd := &sender{r: r}
			defer snd.close()
			for time.Now().Before(end) {
				sh := snd.post(time.Now())
				mine = append(mine, sh)
				if sh.code != http.StatusOK {
					time.Sleep(min(time.Duration(250+rand.IntN(500))*time.Millisecond, time.Until(end)))
				}
			}
			mu.Lock()
			out = append(out, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// openLoop offers rate requests a second for d, as wrk2 does: a fixed set
// of connections, each sending its share at their scheduled times; a
// request that cannot be sent on time (its connection still waits for the
// previous answer) is sent late and timed from when it was due, so a slow
// server is never hidden (no coordinated omission) and the generator's own
// cost stays bounded. It returns the shots and how long it took from the
// first scheduled send to the last answer.
func (r *ingestRun) openLoop(rate int, d time.Duration) ([]shot, time.Duration) {
	n := int(float64(rate) * d.Seconds())
	out := make([]shot, n)
	start := time.Now().Add(100 * time.Millisecond)
	const conns = 512
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			snd := &sender{r: r}
			defer snd.close()
			for i := w; i < n; i += conns {
				at := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
				if wait := time.Until(at); wait > 0 {
					time.Sleep(wait)
				}
				out[i] = snd.post(at)
			}
		}(w)
	}
	wg.Wait()
	return out, time.Since(start)
}

// summary describes shots: how many of each code, the accepted ones'
// latency, the refused ones' latency.
type summary struct {
	total, ok, refused, timeouts int
	codes                        map[int]int
	okLat, refusedLat, behind    []time.Duration
	// served is each answered request's time from its actual send to its
	// answer: the server's share of latency when the generator is late;
	// servedRefused is the refused ones'.
	served, servedRefused []time.Duration
}

// slowWindows says where the answers slower than over went, in 100 ms
// windows of send time (shots sent in order at rate a second): how many
// there were, how many the slowest window had and when, and how many
// windows had any. The p99 of an open loop is 1% of its requests, and
// whether they are spread or one stall of a few hundred ms (a storm's
// flush, a GC) is what says where to look. PAGERD_LOAD_WINDOWS lists
// every window that had any, to compare where two commits differ.
func slowWindows(shots []shot, rate int, over time.Duration) string {
	per := rate / 10
	slow, windows, worst, worstAt := 0, 0, 0, 0
	var worstLat time.Duration
	var each []string // with PAGERD_LOAD_WINDOWS: every window with any
	if os.Getenv("PAGERD_LOAD_WINDOWS") != "" {
		each = []string{}
	}
	for w := 0; w*per < len(shots); w++ {
		window := shots[w*per : min((w+1)*per, len(shots))]
		n := 0
		var latest time.Duration // the window's slowest answer
		for _, x := range window {
			if x.code != 0 {
				latest = max(latest, x.latency)
				if x.latency > over {
					n++
				}
			}
		}
		if n > 0 {
			windows++
			if each != nil {
				each = append(each, fmt.Sprintf("%.1f s: %d (%s)", float64(w)/10, n, ms(latest)))
			}
		}
		if n > worst {
			worst, worstAt, worstLat = n, w, latest
		}
		slow += n
	}
	out := fmt.Sprintf("%d answers over %s, in %d of %d windows of 100 ms; the most in one, %d of %d (worst %s), at %.1f s",
		slow, ms(over), windows, (len(shots)+per-1)/per, worst, per, ms(worstLat), float64(worstAt)/10)
	if len(each) > 0 {
		out += "; by window (answers over, the window's worst): " + strings.Join(each, ", ")
	}
	return out
}

func summarize(shots []shot) summary {
	s := summary{total: len(shots), codes: map[int]int{}}
	for _, x := range shots {
		s.codes[x.code]++
		s.behind = append(s.behind, x.behind)
		if x.code != 0 {
			s.served = append(s.served, x.latency-x.behind)
		}
		switch {
		case x.code == 200:
			s.ok++
			s.okLat = append(s.okLat, x.latency)
		case x.code == 0:
			s.timeouts++
		default:
			s.refused++
			s.refusedLat = append(s.refusedLat, x.latency)
			s.servedRefused = append(s.servedRefused, x.latency-x.behind)
		}
	}
	return s
}

func (s summary) String() string {
	return fmt.Sprintf("%d sent: %d accepted (p50 %s p99 %s max %s), %d refused (p50 %s p99 %s max %s), %d no answer; codes %v; generator behind schedule p50 %s p99 %s; from actual send to answer p50 %s p99 %s (refused: p50 %s p99 %s)",
		s.total, s.ok, ms(pct(s.okLat, .5)), ms(pct(s.okLat, .99)), ms(pct(s.okLat, 1)),
		s.refused, ms(pct(s.refusedLat, .5)), ms(pct(s.refusedLat, .99)), ms(pct(s.refusedLat, 1)), s.timeouts, s.codes,
		ms(pct(s.behind, .5)), ms(pct(s.behind, .99)), ms(pct(s.served, .5)), ms(pct(s.served, .99)),
		ms(pct(s.servedRefused, .5)), ms(pct(s.servedRefused, .99)))
}

// TestLoadIngest measures, per store: latency at 1,000/s open loop on the
// fresh daemon; closed-loop capacity (32 senders, 10 s) and pagerd's CPU
// per accepted webhook; then 2x and 5x capacity open loop for 30 s each, with an
// acknowledgement through the API in the middle; RSS at the end; and how
// long SIGTERM takes afterwards.
func TestLoadIngest(t *testing.T) {
	for _, store := range []string{"redis", "embedded"} {
		t.Run(store, func(t *testing.T) {
			r := startIngest(t, store)
			pid := r.d.cmd.Process.Pid
			// The peak of anonymous memory, sampled, as /proc keeps no
			// peak of it.
			var peakAnon atomic.Int64
			sampled := make(chan struct{})
			stopSampling := make(chan struct{})
			go func() {
				defer close(sampled)
				for {
					if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
						for _, line := range strings.Split(string(b), "\n") {
							if f := strings.Fields(line); len(f) > 1 && f[0] == "RssAnon:" {
								if kb, _ := strconv.ParseInt(f[1], 10, 64); kb > peakAnon.Load() {
									peakAnon.Store(kb)
								}
							}
						}
					}
					select {
					case <-stopSampling:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			}()
			// Latency at 1,000/s first, on the fresh daemon: after the
			// closed loop it would measure the dispatcher working off the
			// storm bundles of tens of thousands of incidents instead.
			r.openLoop(1000, 3*time.Second) // warm up
			traced := r.l.trace(store+"-1000", 3*time.Second)
			profiled1000 := r.l.profile(store+"-1000", 9*time.Second)
			allocs1000 := r.l.capture("allocs", store+"-1000.allocs.pprof", 9*time.Second)
			cpu1000, calls1000 := r.cpuNow(), r.l.redisCalls()
			phases := []phase{{name: "open loop 1,000/s", from: time.Now()}}
			shots, took1000 := r.openLoop(1000, 10*time.Second)
			cpu1000After := r.cpuNow()
			shares1000 := cpuShares(cpu1000, cpu1000After, took1000)
			calls1000s := perWebhook(calls1000, r.l.redisCalls(), len(shots))
			traced()
			profiled1000()
			allocs1000()
			at1000 := summarize(shots)
			t.Logf("%s open loop 1,000/s for 10 s: %s", store, at1000)
			t.Logf("%s open loop 1,000/s: %s", store, slowWindows(shots, 1000, 10*time.Millisecond))
			t.Logf("%s open loop 1,000/s: pagerd CPU %s per webhook; %s", store,
				((cpu1000After.pagerd - cpu1000.pagerd) / time.Duration(max(len(shots), 1))).Round(100*time.Nanosecond), shares1000)
			if calls1000s != "" {
				t.Logf("%s open loop 1,000/s: %s", store, calls1000s)
			}

			phases = append(phases, phase{name: "closed loop", from: time.Now()})
			r.closedLoop(32, 2*time.Second) // warm up
			before, callsBefore := readProc(t, pid), r.l.redisCalls()
			start, cpuBefore := time.Now(), r.cpuNow()
			profiled := r.l.profile(store+"-closed-loop", 9*time.Second)
			behindOf := sampleBehind(r.d)
			closed := summarize(r.closedLoop(32, 10*time.Second))
			took := time.Since(start)
			closedAfter := r.cpuNow()
			shares := cpuShares(cpuBefore, closedAfter, took)
			after := readProc(t, pid)
			profiled()
			behindMax, brakes := behindOf()
			capacity := float64(closed.ok) / took.Seconds()
			cpuPer, runPer := time.Duration(0), time.Duration(0)
			if closed.ok > 0 {
				cpuPer = (after.cpu - before.cpu) / time.Duration(closed.ok)
				own := func(c cpuSnap) time.Duration { return c.pagerd + c.gen + c.redis }
				runPer = (own(closedAfter) - own(cpuBefore)) / time.Duration(closed.ok)
			}
			t.Logf("%s closed loop, 32 senders, 10 s: %.0f webhooks/s; pagerd CPU %s per accepted webhook (%.0f%% of a core); %s",
				store, capacity, cpuPer, 100*(after.cpu-before.cpu).Seconds()/took.Seconds(), closed)
			t.Logf("%s closed loop: the dispatcher at most %.2f s behind with due steps (sampled every 500 ms), over 500 ms in %d of %d samples; %s; %s",
				store, behindMax.Seconds(), brakes.braked, brakes.samples, brakes, shares)
			// The dispatcher may still be paging the loop's incidents: that
			// work is part of each webhook's cost, and a faster intake that
			// leaves more of it behind must not look cheaper.
			if backlog, settled := settleCPU(t, pid); closed.ok > 0 {
				t.Logf("%s closed loop: pagerd settled %.1f s after the loop; CPU %s per accepted webhook with the dispatch it left",
					store, backlog.Seconds(), ((settled.cpu - before.cpu) / time.Duration(closed.ok)).Round(100*time.Nanosecond))
			}
			if calls := perWebhook(callsBefore, r.l.redisCalls(), closed.ok); calls != "" {
				t.Logf("%s closed loop: %s", store, calls)
			}

			for _, x := range overloads(t) {
				rate := int(capacity) * x
				var ackLat time.Duration
				var ackCode int
				ackDone := make(chan struct{})
				go func() {
					defer close(ackDone)
					time.Sleep(15 * time.Second)
					ackLat, ackCode = r.ackOne()
				}()
				phases = append(phases, phase{name: fmt.Sprintf("open loop %dx", x), from: time.Now()})
				profiled := r.l.profile(fmt.Sprintf("%s-%dx", store, x), 20*time.Second)
				behindOf := sampleBehind(r.d)
				cpuBefore, callsBefore := r.cpuNow(), r.l.redisCalls()
				shots, took := r.openLoop(rate, 30*time.Second)
				cpuAfter := r.cpuNow()
				shares := cpuShares(cpuBefore, cpuAfter, took)
				over := summarize(shots)
				profiled()
				behindMax, brakes := behindOf()
				backlog, _ := settleCPU(t, pid)
				<-ackDone
				goodput := float64(over.ok) / took.Seconds()
				t.Logf("%s open loop %dx capacity (%d/s) for 30 s, last answer after %s: goodput %.0f/s (%.0f%% of capacity); %s; an acknowledgement in the middle: %d in %s",
					store, x, rate, took.Round(time.Millisecond), goodput, 100*goodput/capacity, over, ackCode, ms(ackLat))
				t.Logf("%s open loop %dx: the dispatcher at most %.2f s behind with due steps, over 500 ms in %d of %d samples; %s; pagerd settled %.1f s after the last answer; %s",
					store, x, behindMax.Seconds(), brakes.braked, brakes.samples, brakes, backlog.Seconds(), shares)
				t.Logf("%s open loop %dx: %s", store, x, requestCosts(cpuBefore, cpuAfter, over, cpuPer))
				t.Logf("%s open loop %dx: %s", store, x, ceilingNote(x, runPer, genCPU(cpuBefore, cpuAfter, over), refusalCPU(cpuBefore, cpuAfter, over, cpuPer)))
				if calls := perWebhook(callsBefore, r.l.redisCalls(), over.ok); calls != "" {
					t.Logf("%s open loop %dx: %s", store, x, calls)
				}
			}
			for _, line := range stormLateness(t, r.d.logFile, phases) {
				t.Logf("%s %s", store, line)
			}
			close(stopSampling)
			<-sampled
			t.Logf("%s: pagerd peak RSS %d MB, of which anonymous memory (heap, stacks) at most %d MB; the rest is mapped files (the embedded store's, which the kernel can drop)",
				store, readProc(t, pid).hwmKB/1024, peakAnon.Load()/1024)
			stop := time.Now()
			_ = r.d.cmd.Process.Signal(syscall.SIGTERM)
			_ = r.d.cmd.Wait()
			t.Logf("%s: exited %s after SIGTERM", store, time.Since(stop).Round(time.Millisecond))
			if r.l.data != "" {
				info, err := boltstore.Inspect(filepath.Join(r.l.data, boltstore.FileName))
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: the store holds %d incidents in %.1f MB, %d bytes an incident", store, info.Incidents,
					float64(info.Size)/(1<<20), info.Size/int64(max(info.Incidents, 1)))
			}
		})
	}
}

// phase is a part of a load run, from its start to the next one's.
type phase struct {
	name string
	from time.Time
}

// stormLateness says, for each phase, how late the storm messages pagerd
// sent in it went out: from the log's "storm bundle sent" lines, whose
// "late" is from the storm's due time (its window's end) to the send. A
// storm closes some seconds after the alerts that made it, so a phase
// counts the messages sent from its start to the next phase's.
func stormLateness(t *testing.T, logFile string, phases []phase) []string {
	f, err := os.Open(logFile)
	if err != nil {
		t.Errorf("storm messages' lateness: %v", err)
		return nil
	}
	defer f.Close()
	late := make([][]time.Duration, len(phases))
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if !bytes.Contains(sc.Bytes(), []byte(`"msg":"storm bundle sent"`)) {
			continue
		}
		var l struct {
			Time time.Time `json:"time"`
			Late string    `json:"late"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Errorf("storm messages' lateness: %v in %s", err, sc.Bytes())
			return nil
		}
		d, err := time.ParseDuration(l.Late)
		if err != nil {
			t.Errorf("storm messages' lateness: %q: %v", l.Late, err)
			return nil
		}
		for i := len(phases) - 1; i >= 0; i-- {
			if !l.Time.Before(phases[i].from) {
				late[i] = append(late[i], d)
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Errorf("storm messages' lateness: %v", err)
	}
	out := make([]string, len(phases))
	for i, p := range phases {
		out[i] = fmt.Sprintf("%s: %d storm messages sent, late p50 %s max %s (from their window's end)",
			p.name, len(late[i]), ms(pct(late[i], .5)), ms(pct(late[i], 1)))
	}
	return out
}

// requestCosts estimates what a refusal cost pagerd and what a request
// cost the generator in an overload run: pagerd's CPU less what the
// accepted alerts cost each in the closed loop (perAccepted), over the
// refused; the generator's CPU over all it sent. At twice capacity pagerd
// refuses more than it takes in, so on a box the generator shares these
// two decide how much CPU is left for the alerts taken in.
func requestCosts(a, b cpuSnap, s summary, perAccepted time.Duration) string {
	refusals := "no refusals"
	if s.refused > 0 {
		refusals = fmt.Sprintf("pagerd's CPU per refusal about %s (its CPU less %s for each accepted alert, over %d refused)",
			refusalCPU(a, b, s, perAccepted).Round(100*time.Nanosecond), perAccepted.Round(100*time.Nanosecond), s.refused)
	}
	return fmt.Sprintf("%s; the generator's CPU per request sent %s", refusals, genCPU(a, b, s).Round(100*time.Nanosecond))
}

// refusalCPU is pagerd's CPU per refusal between a and b: its CPU less
// perAccepted for each alert it took in, over the refusals; 0 for none.
func refusalCPU(a, b cpuSnap, s summary, perAccepted time.Duration) time.Duration {
	if s.refused == 0 {
		return 0
	}
	return max(0, (b.pagerd-a.pagerd)-time.Duration(s.ok)*perAccepted) / time.Duration(s.refused)
}

// genCPU is the generator's CPU per request sent between a and b.
func genCPU(a, b cpuSnap, s summary) time.Duration {
	return (b.gen - a.gen) / time.Duration(max(1, s.total))
}

// goodputCeiling is the most goodput, as a share of capacity, that the
// box allows at x times capacity offered while the generator shares its
// cores. Capacity C was measured in the closed loop with the run
// spending perAccepted on each accepted webhook (all of it: pagerd,
// Redis and the generator; not what else the machine ran, so that a
// neighbour does not count as the run's); each request of the open loop costs
// the generator gen, and each refusal costs pagerd refusal. Spending the
// closed loop's CPU again, A·perAccepted + (x·C − A)·(gen + refusal) =
// C·perAccepted, so A/C = (perAccepted − x·s) / (perAccepted − s), s =
// gen + refusal: what the excess costs to send and to refuse comes out of
// the alerts taken in, whatever pagerd does with the rest of its time.
func goodputCeiling(x float64, perAccepted, gen, refusal time.Duration) float64 {
	f, c := float64(perAccepted), float64(gen+refusal)
	if f <= c {
		return 0
	}
	return max(0, (f-x*c)/(f-c))
}

// ceilingNote says what goodputCeiling allows at x times capacity, with
// pagerd's refusals as measured and free, and how cheap the generator's
// request and pagerd's refusal must be together for 90%.
func ceilingNote(x int, perAccepted, gen, refusal time.Duration) string {
	need := time.Duration(0.1 * float64(perAccepted) / (float64(x) - 0.9))
	return fmt.Sprintf("the most goodput the box allows with the generator on its cores, at this run's costs (%s of CPU per webhook in the closed loop, pagerd's, Redis's and the generator's, %s of the generator's per request): %.0f%% at pagerd's %s a refusal, %.0f%% were its refusals free; 90%% needs the generator's request and pagerd's refusal under %s together",
		perAccepted.Round(100*time.Nanosecond), gen.Round(100*time.Nanosecond), 100*goodputCeiling(float64(x), perAccepted, gen, refusal),
		refusal.Round(100*time.Nanosecond), 100*goodputCeiling(float64(x), perAccepted, gen, 0), need.Round(100*time.Nanosecond))
}

// braking counts the samples of sampleBehind in which the dispatcher was
// past the default brake_behind (500 ms), where the intake brakes unless
// PAGERD_LOAD_BRAKE moves it, and the intake's limit (pagerd_ingest_limit)
// over the samples: its least and its mean.
type braking struct {
	braked, samples int
	limitMin        float64
	limitSum        float64
	limits          int
}

// String says how far the intake braked.
func (b braking) String() string {
	if b.limits == 0 {
		return "the intake's limit not read"
	}
	return fmt.Sprintf("the intake's limit at least %.0f, %.1f on average", b.limitMin, b.limitSum/float64(b.limits))
}

// sampleBehind reads pagerd_dispatch_behind_seconds and pagerd_ingest_limit
// every 500 ms until the returned function is called, which returns the
// most the first was, how often it was past 500 ms, and the limit's least
// and mean. Not more often: a scrape costs pagerd CPU the load run counts
// (it listed the open incidents, 5% of the closed loop at every 100 ms,
// before the count of them was made cheap and it is still a scrape).
func sampleBehind(d *daemon) func() (time.Duration, braking) {
	stop, done := make(chan struct{}), make(chan struct{})
	var most time.Duration
	var b braking
	go func() {
		defer close(done)
		for {
			m := metricValues(d, "pagerd_dispatch_behind_seconds", "pagerd_ingest_limit")
			if v, ok := m["pagerd_dispatch_behind_seconds"]; ok {
				late := time.Duration(v * float64(time.Second))
				most = max(most, late)
				b.samples++
				if late > 500*time.Millisecond {
					b.braked++
				}
			}
			if v, ok := m["pagerd_ingest_limit"]; ok {
				if b.limits == 0 || v < b.limitMin {
					b.limitMin = v
				}
				b.limitSum += v
				b.limits++
			}
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	return func() (time.Duration, braking) {
		close(stop)
		<-done
		return most, b
	}
}

// metricValues reads unlabelled metrics of d's /metrics, in one scrape.
func metricValues(d *daemon, names ...string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get("http://" + d.addr + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if ok && slices.Contains(names, name) {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				out[name] = f
			}
		}
	}
	return out
}

// overloads are the multiples of capacity offered open loop: 2 and 5, or
// the comma-separated list in PAGERD_LOAD_OVERLOAD ("none" for none, to
// measure capacity alone while working on the CPU it costs).
func overloads(t *testing.T) []int {
	v := os.Getenv("PAGERD_LOAD_OVERLOAD")
	switch v {
	case "":
		return []int{2, 5}
	case "none":
		return nil
	}
	var xs []int
	for _, f := range strings.Split(v, ",") {
		x, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || x < 1 {
			t.Fatalf("PAGERD_LOAD_OVERLOAD=%q: want multiples of capacity such as 2,5, or none", v)
		}
		xs = append(xs, x)
	}
	return xs
}

// ackOne acknowledges the newest open incident through the API and times
// the acknowledgement.
func (r *ingestRun) ackOne() (time.Duration, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+r.d.addr+"/api/v1/incidents?status=triggered&limit=1", nil)
	req.Header.Set("Authorization", "Bearer load-api-token-0123")
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, 0
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	i := strings.Index(string(b), `"id":"`)
	if i < 0 {
		return 0, resp.StatusCode
	}
	id := string(b[i+6 : i+6+strings.IndexByte(string(b[i+6:]), '"')])
	start := time.Now()
	req, _ = http.NewRequestWithContext(ctx, "POST", "http://"+r.d.addr+"/api/v1/incidents/"+id+"/acknowledge", strings.NewReader(`{"user":"ann"}`))
	req.Header.Set("Authorization", "Bearer load-api-token-0123")
	req.Header.Set("Content-Type", "application/json")
	resp, err = r.client.Do(req)
	if err != nil {
		return time.Since(start), 0
	}
	resp.Body.Close()
	return time.Since(start), resp.StatusCode
}

// TestGoodputCeiling checks the arithmetic of goodputCeiling on the costs
// of a run at 2x (a run at 3bf98f6: 392 µs of the machine per webhook
// in the closed loop, the generator's request 40.6 µs, pagerd's
// refusal 42.4 µs; it took in 75% of capacity).
func TestGoodputCeiling(t *testing.T) {
	us := func(f float64) time.Duration { return time.Duration(f * float64(time.Microsecond)) }
	for _, tc := range []struct {
		x                   float64
		f, gen, refusal     float64
		wantLeast, wantMost float64
	}{
		{2, 392, 40.6, 42.4, 0.73, 0.74},
		{2, 392, 40.6, 0, 0.88, 0.89},
		{1, 392, 40.6, 42.4, 1, 1},                         // nothing refused: capacity
		{5, 392, 40.6, 42.4, 0, 0},                         // the excess alone takes more than the machine
		{2, 100, 60, 50, 0, 0},                             // a request dearer than a webhook
		{2, 392, 392 / 11.0 / 2, 392 / 11.0 / 2, 0.9, 0.9}, // ceilingNote's bound for 90%
	} {
		got := goodputCeiling(tc.x, us(tc.f), us(tc.gen), us(tc.refusal))
		if got < tc.wantLeast-0.001 || got > tc.wantMost+0.001 {
			t.Errorf("goodputCeiling(%vx, %v µs, %v µs, %v µs) = %.4f, want %.2f–%.2f", tc.x, tc.f, tc.gen, tc.refusal, got, tc.wantLeast, tc.wantMost)
		}
	}
}
