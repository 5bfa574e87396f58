//go:build load

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/internal/redistest"
)

// The load runs (`make load`): the real pagerd binary as shipped (default
// storm bundling, the real notifier chain), its pages going out on the
// webhook transport to a receiver in this process, and alerts sent open
// loop on a fixed schedule, every time measured from the alert's scheduled
// send. They print their figures; docs/BENCHMARKS.md records them. They are
// not part of `make test`: they take minutes and their figures depend on the
// machine.

// loadRunConfig is the defaults (storm window 10s, 3 pages at once; the
// default ladder) with one service per person (ann, bob, and p0 to p9),
// each paging its person on the webhook transport to the receiver.
func loadRunConfig(receiver string) string { return loadRunConfigFor(receiver, loadPeople) }

// loadRunConfigFor is loadRunConfig for the people named.
func loadRunConfigFor(receiver string, loadPeople []string) string {
	var b strings.Builder
	// The per-key rate limit is off: the runs measure the store, the
	// dispatcher and bundling under floods no Alertmanager would send one
	// key (10,000 single-alert requests in 5 s).
	b.WriteString("server:\n  rate_limit: {per_second: 0}\n")
	// PAGERD_LOAD_BRAKE sets server.admission.brake_behind, to compare
	// (1h: in effect no brake).
	// PAGERD_LOAD_INFLIGHT sets server.admission.max_inflight, to compare.
	var adm []string
	if v := os.Getenv("PAGERD_LOAD_BRAKE"); v != "" {
		adm = append(adm, "brake_behind: "+v)
	}
	if v := os.Getenv("PAGERD_LOAD_INFLIGHT"); v != "" {
		adm = append(adm, "max_inflight: "+v)
	}
	if len(adm) > 0 {
		fmt.Fprintf(&b, "  admission: {%s}\n", strings.Join(adm, ", "))
	}
	// PAGERD_LOAD_STORM sets notifiers.storm.window, to compare (0s:
	// no bundling, every page sent on its own).
	if v := os.Getenv("PAGERD_LOAD_STORM"); v != "" {
		fmt.Fprintf(&b, "notifiers:\n  storm: {window: %s}\n", v)
	}
	b.WriteString("api:\n  tokens: [{name: load, token: load-api-token-0123}]\nusers:\n")
	for _, u := range loadPeople {
		fmt.Fprintf(&b, "  - {id: %s, name: %s, contacts: [{channel: push, via: webhook, address: %q}, {channel: sms, via: webhook, address: %q}, {channel: voice, via: webhook, address: %q}]}\n",
			u, u, receiver+"/"+u, receiver+"/"+u, receiver+"/"+u)
	}
	b.WriteString("schedules:\n  - name: s\n    handoff: {weekday: monday, time: \"00:00\"}\n    tiers:\n")
	for _, u := range loadPeople {
		fmt.Fprintf(&b, "      - {name: %s, start: 2025-01-06, members: [%s]}\n", u, u)
	}
	b.WriteString("escalation_policies:\n")
	for _, u := range loadPeople {
		fmt.Fprintf(&b, "  - name: %s\n    levels: [{name: primary, targets: [{schedule: s, tier: %s}], timeout: 15m}]\n", u, u)
	}
	b.WriteString("services:\n")
	for _, u := range loadPeople {
		fmt.Fprintf(&b, "  - name: %s\n    priority_scheme: P0-P3\n    escalation_policy: %s\n    integrations: {alertmanager_key: %s}\n", u, u, loadKey(u))
	}
	return b.String()
}

var loadPeople = []string{"ann", "bob", "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"}

// loadKey is the integration key of a person's service.
func loadKey(user string) string { return fmt.Sprintf("load-%s-key-0123456789abcdef0123456789", user) }

// received is one message at the receiver.
type received struct {
	at        time.Time
	user      string
	channel   string
	incident  string
	incidents []string
}

// receiver is the far side of the webhook transport.
type receiver struct {
	mu   sync.Mutex
	msgs []received
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	var m struct {
		Incident  string   `json:"incident"`
		Incidents []string `json:"incidents"`
		User      string   `json:"user"`
		Channel   string   `json:"channel"`
	}
	if err := json.NewDecoder(req.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, received{at: at, user: m.User, channel: m.Channel, incident: m.Incident, incidents: m.Incidents})
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) snapshot() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.msgs...)
}

// sent is one alert: when it was scheduled, and the incident it opened.
type sent struct {
	user     string
	at       time.Time
	answered time.Time
	incident string
	err      string
}

// loadRun is one daemon, one receiver and a sender.
type loadRun struct {
	t      *testing.T
	d      *daemon
	recv   *receiver
	client *http.Client
	debug  string // the daemon's --debug-listen address, with PAGERD_LOAD_PROFILE
	redis  string // the Redis server's address, on the Redis store
	data   string // the data dir, on the embedded store
	mu     sync.Mutex
	sent   []*sent
	wg     sync.WaitGroup
	seq    int
}

func startLoad(t *testing.T, store string) *loadRun {
	t.Helper()
	recv := &receiver{}
	rs := httptest.NewServer(recv)
	t.Cleanup(rs.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "pagerd.yaml")
	if err := os.WriteFile(cfg, []byte(loadRunConfig(rs.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data-dir", filepath.Join(dir, "data")}
	var redisAddr string
	if store == "redis" {
		redisAddr = redistest.Start(t).Addr
		args = []string{"--redis-url", "redis://" + redisAddr}
	}
	var debug string
	if os.Getenv("PAGERD_LOAD_PROFILE") != "" {
		debug = freeAddr(t)
		args = append(args, "--debug-listen", debug)
	}
	// PAGERD_LOAD_PROCS sets pagerd's GOMAXPROCS, to compare (1: the
	// runtime hands goroutines over on one thread, not between two).
	// PAGERD_LOAD_CPUS starts pagerd on those CPUs (taskset -c), as on a
	// machine of that many: its default GOMAXPROCS is their number.
	var env, prefix []string
	if v := os.Getenv("PAGERD_LOAD_PROCS"); v != "" {
		env = []string{"GOMAXPROCS=" + v}
	}
	if v := os.Getenv("PAGERD_LOAD_CPUS"); v != "" {
		prefix = []string{"taskset", "-c", v}
	}
	d := startDaemonEnv(t, prefix, env, io.Discard, filepath.Join(dir, "pagerd.log"), "pagerd", cfg, freeAddr(t), args...)
	if os.Getenv("PAGERD_LOAD_PIN") != "" {
		pinApart(t, d.cmd.Process.Pid, redisAddr)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	data := ""
	if store != "redis" {
		data = filepath.Join(dir, "data")
	}
	return &loadRun{t: t, d: d, recv: recv, debug: debug, redis: redisAddr, data: data, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// profile saves a CPU profile of the daemon over the next d into
// $PAGERD_LOAD_PROFILE/name.pprof, in the background; wait for it with the
// returned function. Without PAGERD_LOAD_PROFILE it does nothing.
func (l *loadRun) profile(name string, d time.Duration) (wait func()) {
	return l.capture("profile", name+".pprof", d)
}

// trace saves an execution trace of the daemon over the next d into
// $PAGERD_LOAD_PROFILE/name.trace (for `go tool trace`), as profile does:
// it shows where a request's latency went, which a CPU profile cannot.
func (l *loadRun) trace(name string, d time.Duration) (wait func()) {
	return l.capture("trace", name+".trace", d)
}

func (l *loadRun) capture(kind, file string, d time.Duration) (wait func()) {
	dir := os.Getenv("PAGERD_LOAD_PROFILE")
	if dir == "" || l.debug == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", l.debug, kind, int(d.Seconds())))
		if err != nil {
			l.t.Errorf("%s %s: %v", kind, file, err)
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, file), b, 0o644)
		}
		if err != nil {
			l.t.Errorf("%s %s: %v", kind, file, err)
		}
	}()
	return func() { <-done }
}

// pinApart puts pagerd and Redis on the last core and this process (the
// load generator and the receiver) on the others, as when senders are
// other machines: at five times capacity the generator needs about a core
// of its own, and sharing the cores it measures itself as much as pagerd.
// PAGERD_LOAD_PIN turns it on; the figures then say so.
func pinApart(t *testing.T, pid int, redisAddr string) {
	t.Helper()
	n := runtime.NumCPU()
	if n < 2 {
		t.Fatal("PAGERD_LOAD_PIN needs two cores or more")
	}
	pin := func(pid int, cpus string) {
		if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput(); err != nil {
			t.Fatalf("taskset %d: %v\n%s", pid, err, out)
		}
	}
	last := strconv.Itoa(n - 1)
	pin(os.Getpid(), fmt.Sprintf("0-%d", n-2))
	pin(pid, last)
	if redisAddr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
		defer rdb.Close()
		info, err := rdb.Info(context.Background(), "server").Result()
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(info, "process_id:")
		rpid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0]))
		if err != nil {
			t.Fatalf("no process_id in INFO server: %v", err)
		}
		pin(rpid, last)
	}
	t.Logf("pinned: pagerd and Redis on core %s, the generator on cores 0-%d", last, n-2)
}

// cmdStat is how many times Redis ran a command, and the time it spent in
// it (a script's time includes the commands it calls, which are counted
// on their own too).
type cmdStat struct{ calls, usec int64 }

// redisCalls is how many times Redis ran each command so far, and for how
// long (INFO commandstats), on the Redis store; nil on the embedded one.
func (l *loadRun) redisCalls() map[string]cmdStat {
	if l.redis == "" {
		return nil
	}
	rdb := redis.NewClient(&redis.Options{Addr: l.redis})
	defer rdb.Close()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		l.t.Errorf("INFO commandstats: %v", err)
		return nil
	}
	calls := map[string]cmdStat{}
	for _, line := range strings.Split(info, "\n") {
		// cmdstat_evalsha:calls=123,usec=456,usec_per_call=...
		name, rest, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		n, rest, _ := strings.Cut(rest, ",")
		var st cmdStat
		st.calls, _ = strconv.ParseInt(n, 10, 64)
		if u, ok := strings.CutPrefix(rest, "usec="); ok {
			u, _, _ = strings.Cut(u, ",")
			st.usec, _ = strconv.ParseInt(u, 10, 64)
		}
		calls[name] = st
	}
	return calls
}

// perWebhook says how many Redis commands of each kind ran per webhook
// between two redisCalls, most first, and how long Redis spent in scripts
// per webhook (the rest of its CPU is reading, parsing and answering
// commands: what fewer round trips save).
func perWebhook(before, after map[string]cmdStat, webhooks int) string {
	if after == nil || webhooks == 0 {
		return ""
	}
	type c struct {
		name string
		n    int64
	}
	var cs []c
	var total int64
	for name, n := range after {
		if d := n.calls - before[name].calls; d > 0 {
			cs = append(cs, c{name, d})
			total += d
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].n > cs[j].n })
	scripts := time.Duration(after["evalsha"].usec-before["evalsha"].usec) * time.Microsecond / time.Duration(webhooks)
	parts := []string{fmt.Sprintf("%.2f Redis commands per webhook (Redis's time in scripts %s per webhook)",
		float64(total)/float64(webhooks), scripts.Round(100*time.Nanosecond))}
	for _, x := range cs {
		parts = append(parts, fmt.Sprintf("%s %.2f", x.name, float64(x.n)/float64(webhooks)))
	}
	return strings.Join(parts, ", ")
}

// fire sends one alert for user at its scheduled time, without waiting.
func (l *loadRun) fire(user string, at time.Time) {
	l.mu.Lock()
	l.seq++
	s := &sent{user: user, at: at}
	group := fmt.Sprintf("load-%s-%d-%d", user, l.seq, rand.Int64())
	l.sent = append(l.sent, s)
	l.mu.Unlock()
	body := fmt.Sprintf(`{"version":"4","groupKey":%q,"status":"firing","receiver":"pagerd","groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am","alerts":[{"status":"firing","labels":{"alertname":"Load","severity":"critical","group":%q},"annotations":{"summary":"load test alert"},"startsAt":"2025-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"f"}]}`, group, group)
	addr := l.d.addr // the replica it goes to, as the caller chose it now
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		time.Sleep(time.Until(at))
		req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/alertmanager", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+loadKey(user))
		req.Header.Set("Content-Type", "application/json")
		resp, err := l.client.Do(req)
		answered := time.Now()
		if err != nil {
			l.mu.Lock()
			s.err = err.Error()
			l.mu.Unlock()
			return
		}
		defer resp.Body.Close()
		var res struct{ Incidents []string }
		b, _ := io.ReadAll(resp.Body)
		l.mu.Lock()
		defer l.mu.Unlock()
		if resp.StatusCode != 200 || json.Unmarshal(b, &res) != nil || len(res.Incidents) != 1 {
			s.err = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(b))
			return
		}
		s.incident, s.answered = res.Incidents[0], answered
	}()
}

// result is what a load run measured.
type result struct {
	sent map[string]*sent // by incident
	errs int
	msgs []received
}

// finish waits for every alert to be answered and then until end, for the
// pages still to come.
func (l *loadRun) finish(end time.Time) result {
	r := l.collect(end)
	l.d.stop()
	return r
}

// collect is finish without stopping the daemon.
func (l *loadRun) collect(end time.Time) result {
	l.wg.Wait()
	time.Sleep(time.Until(end))
	r := result{sent: map[string]*sent{}, msgs: l.recv.snapshot()}
	for _, s := range l.sent {
		if s.err != "" {
			r.errs++
			l.t.Logf("alert failed: %s", s.err)
			continue
		}
		r.sent[s.incident] = s
	}
	return r
}

// named is, for each incident, when a message first named it (alone or in
// a storm message) and whether that message was a storm message.
func (r result) named() (map[string]time.Time, map[string]bool) {
	at, bundled := map[string]time.Time{}, map[string]bool{}
	note := func(id string, t time.Time, b bool) {
		if old, ok := at[id]; !ok || t.Before(old) {
			at[id], bundled[id] = t, b
		}
	}
	for _, m := range r.msgs {
		if m.channel != "push" {
			continue
		}
		if len(m.incidents) == 0 {
			note(m.incident, m.at, false)
		}
		for _, id := range m.incidents {
			note(id, m.at, true)
		}
	}
	return at, bundled
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// TestLoadStormBurst: 50 alerts 1–2 s apart to each of ten people at once.
// Every incident is named in a page within the window + 1 s; the pages that
// go out at once (the first of each person's burst) within 50 ms at p99.
func TestLoadStormBurst(t *testing.T) {
	for _, store := range []string{"embedded", "redis"} {
		t.Run(store, func(t *testing.T) {
			l := startLoad(t, store)
			start := time.Now().Add(500 * time.Millisecond)
			end := start
			for _, u := range loadPeople[2:] {
				at := start.Add(time.Duration(rand.Int64N(int64(time.Second))))
				for i := 0; i < 50; i++ {
					l.fire(u, at)
					at = at.Add(time.Second + time.Duration(rand.Int64N(int64(time.Second))))
				}
				if at.After(end) {
					end = at
				}
			}
			r := l.finish(end.Add(12 * time.Second))
			named, bundled := r.named()
			var atOnce, all []time.Duration
			for id, s := range r.sent {
				n, ok := named[id]
				if !ok {
					t.Errorf("incident %s was never named in a page", id)
					continue
				}
				all = append(all, n.Sub(s.at))
				if !bundled[id] {
					atOnce = append(atOnce, n.Sub(s.at))
				}
			}
			pushes := 0
			for _, m := range r.msgs {
				if m.channel == "push" {
					pushes++
				}
			}
			t.Logf("%s: %d alerts to 10 people, %d failed; %d push messages; %d pages at once: p50 %s p99 %s max %s; every incident named: p50 %s p99 %s max %s",
				store, len(r.sent), r.errs, pushes, len(atOnce), ms(pct(atOnce, .5)), ms(pct(atOnce, .99)), ms(pct(atOnce, 1)),
				ms(pct(all, .5)), ms(pct(all, .99)), ms(pct(all, 1)))
			if r.errs > 0 || len(r.sent) != 500 {
				t.Errorf("%d alerts failed", r.errs)
			}
			if p := pct(atOnce, .99); p > 50*time.Millisecond {
				t.Errorf("pages at once p99 %s, target 50 ms", ms(p))
			}
			if m := pct(all, 1); m > 11*time.Second {
				t.Errorf("an incident was first named %s after its alert, target window + 1 s", ms(m))
			}
		})
	}
}

// TestLoadStormFlood: 10,000 alerts in 5 s to ann, and ten alerts to bob
// spread over the same minute. Ann's first page within 1 s; one message
// naming all of hers within the window + 1 s; fewer than 20 messages per
// channel to her in the first minute; bob's pages on time (p99 < 100 ms).
func TestLoadStormFlood(t *testing.T) {
	for _, store := range []string{"embedded", "redis"} {
		t.Run(store, func(t *testing.T) {
			l := startLoad(t, store)
			start := time.Now().Add(time.Second)
			const n = 10000
			for i := 0; i < n; i++ {
				l.fire("ann", start.Add(time.Duration(i)*5*time.Second/n))
			}
			for i := 0; i < 10; i++ {
				l.fire("bob", start.Add(time.Duration(i)*6*time.Second+300*time.Millisecond))
			}
			r := l.finish(start.Add(62 * time.Second))
			named, _ := r.named()
			var first time.Time
			annMsgs := map[string]int{}
			var allNamedBy time.Time
			var bob, bobAccepted []time.Duration
			missing := 0
			for id, s := range r.sent {
				nat, ok := named[id]
				if s.user == "bob" {
					bobAccepted = append(bobAccepted, s.answered.Sub(s.at))
					if ok {
						bob = append(bob, nat.Sub(s.at))
					} else {
						missing++
					}
					continue
				}
				if !ok {
					missing++
					continue
				}
				if nat.After(allNamedBy) {
					allNamedBy = nat
				}
			}
			bundles := 0
			for _, m := range r.msgs {
				if m.user != "ann" || m.at.After(start.Add(time.Minute)) {
					continue
				}
				annMsgs[m.channel]++
				if first.IsZero() || m.at.Before(first) {
					first = m.at
				}
				if len(m.incidents) > 0 && m.channel == "push" {
					bundles++
				}
			}
			// Each of bob's alerts, in the order sent: when it was due
			// after the flood's start, when it was answered and when its
			// page came, after it was due (a late page says whether the
			// time went before the answer or after it).
			var each []string
			for _, s := range l.sent {
				if s.user != "bob" {
					continue
				}
				paged := "never"
				if nat, ok := named[s.incident]; ok && s.err == "" {
					paged = ms(nat.Sub(s.at))
				}
				answered := "refused: " + s.err
				if s.err == "" {
					answered = ms(s.answered.Sub(s.at))
				}
				each = append(each, fmt.Sprintf("at %s answered %s paged %s", ms(s.at.Sub(start)), answered, paged))
			}
			t.Logf("%s: bob's alerts: %s", store, strings.Join(each, "; "))
			sort.Slice(bob, func(i, j int) bool { return bob[i] < bob[j] })
			t.Logf("%s: %d alerts accepted, %d failed, %d never named; ann: first page %s after the first alert, all %d named %s after it, in %d storm messages; messages to ann in the first minute by channel %v; bob's pages late p50 %s p99 %s max %s (his alerts answered after p50 %s max %s)",
				store, len(r.sent), r.errs, missing, ms(first.Sub(start)), n-r.errs, ms(allNamedBy.Sub(start)), bundles, annMsgs,
				ms(pct(bob, .5)), ms(pct(bob, .99)), ms(pct(bob, 1)), ms(pct(bobAccepted, .5)), ms(pct(bobAccepted, 1)))
			var acc []time.Duration
			for _, s := range r.sent {
				acc = append(acc, s.answered.Sub(s.at))
			}
			t.Logf("%s: every alert answered after p50 %s p99 %s max %s", store, ms(pct(acc, .5)), ms(pct(acc, .99)), ms(pct(acc, 1)))
			if d := first.Sub(start); first.IsZero() || d > time.Second {
				t.Errorf("ann's first page %s after the first alert, target < 1 s", ms(d))
			}
			if d := allNamedBy.Sub(start); missing > 0 || d > 11*time.Second {
				t.Errorf("all of ann's incidents named %s after the first alert (%d never), target window + 1 s", ms(d), missing)
			}
			for ch, c := range annMsgs {
				if c >= 20 {
					t.Errorf("%d %s messages to ann in the first minute, target < 20", c, ch)
				}
			}
			if p := pct(bob, .99); len(bob) != 10 || p > 100*time.Millisecond {
				t.Errorf("bob's pages: %d, p99 %s late, target < 100 ms", len(bob), ms(p))
			}
		})
	}
}
