//go:build soak

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/redistest"
)

// The fault soak (`make soak`): the real binary, three replicas on one
// Redis (AOF with appendfsync always: an acknowledged write survives a
// kill -9 of Redis, so a page lost there is pagerd's), four people and four
// services on a ladder scaled to seconds (push at once, SMS at 2 s, call at
// 4 s; the second level at 6 s), alerts sent as Alertmanager sends them
// (one group each, a 429, a 5xx or no answer tried again with backoff, a
// 4xx never), and people acknowledging or resolving some incidents (through
// the API, or Alertmanager's resolved notification) at random times. Two
// streams of faults, a fault every 3-9 s in each, so they overlap at times:
// the replicas' (killed -9 and started again, or stopped with SIGSTOP for
// 1-8 s and continued; each at any moment, or as one of its pages arrives
// at the receiver, its request held open) and Redis's (SIGSTOP for 1-3 s,
// killed -9 and started again; at any moment, or as a page arrives). Then
// a quiet tail, and the checks, from what the receiver got and from the
// incidents' timelines through the API:
//
//   - every alert answered 2xx has its incident;
//   - MISSED: every step due before its incident was acknowledged or
//     resolved (by more than the lateness it is allowed: 1.5 s, a lease, a
//     storm window in the storm mode, and the length of each fault near it
//     plus a lease) was paged at least once;
//   - DUPLICATE: no step was paged twice, but for the documented window (a
//     page sent and not yet recorded when its replica was killed or
//     stopped, or Redis stalled or went down): those are "explained
//     duplicates", counted and listed, not failed;
//   - nothing was paged 1.5 s after the acknowledgement or resolve was
//     answered 2xx, nothing before it was due (but a step brought forward
//     by a failed page), nothing later than allowed, no page of a step no
//     ladder has, and every page sent is in its timeline (but one whose
//     replica died before it could record it, and nothing sent it again).
//
// It is not part of `make test`: it runs for minutes and is random. Every
// schedule (alerts, acknowledgements, faults) comes from one seed, printed
// at the start; PAGERD_SOAK_SEED replays it (the timing of the machine is
// not replayed). PAGERD_SOAK_DURATION is how long alerts and faults go on
// in each mode (default 2m); PAGERD_SOAK_MODE picks "plain" (storm bundling
// off), "storm" (on: a 3 s window, 2 pages at once) or both (the default),
// or "groups" (Alertmanager groups of 2-4 alerts, max_alerts 2, flapping:
// soak_groups_test.go says what it checks besides; PAGERD_SOAK_KEY=fingerprint
// sets its services to incident_key: fingerprint, soak_fingerprint_test.go);
// PAGERD_SOAK_RATE is alerts a second (default 1); PAGERD_SOAK_REPLICAS
// (default 3); PAGERD_SOAK_BREAKER sets notifiers.breaker.failures (0: off). When a run fails it prints the incidents concerned (pages,
// timeline, the replicas' log lines naming them) and keeps the replicas'
// logs and configs in the directory it names.

const (
	soakToken = "soak-api-token-0123456789"
	// soakLease is server.lease: the least that lets a page started at
	// the end of its claim's send window (3/4 of the lease) finish inside
	// the lease, with the webhook's 1 s timeout and a single try.
	soakLease = 4 * time.Second
	// soakSendTimeout is notifiers.webhook.timeout.
	soakSendTimeout = time.Second
	// soakSlack is the lateness allowed on a loaded 2-core machine with no
	// fault near, and the grace after an acknowledgement's answer for a
	// page already on its way.
	soakSlack = 1500 * time.Millisecond
	// soakInFlight is how soon after a page's step was worked a stop of
	// its replica finds the page past its question and not yet written
	// (frozenSending).
	soakInFlight = 50 * time.Millisecond
	// soakStormWindow is the storm mode's window (2 pages at once).
	soakStormWindow = 3 * time.Second
	// soakPeople is how many people and services there are.
	soakPeople = 4
)

// soakLadder is every person's ladder and the two levels, as offsets from
// the incident's creation: level 1 times out at 6 s.
var soakLadder = []struct {
	level   int
	channel string
	at      time.Duration
}{
	{1, "push", 0}, {1, "sms", 2 * time.Second}, {1, "voice", 4 * time.Second},
	{2, "push", 6 * time.Second}, {2, "sms", 8 * time.Second}, {2, "voice", 10 * time.Second},
}

// soakLevelPerson is who a service's level pages.
func soakLevelPerson(service, level int) string {
	if level == 1 {
		return fmt.Sprintf("p%d", service)
	}
	return fmt.Sprintf("p%d", (service+1)%soakPeople)
}

func soakKey(service int) string { return fmt.Sprintf("soak%028d", service) }

// soakConfig is the config of one replica process: its pages go to
// receiver/<proc>/<person>, so the receiver knows who sent each.
func soakConfig(receiver, proc string, storm bool, amURL, key string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  lease: %s\n  rate_limit: {per_second: 0}\n", soakLease)
	fmt.Fprintf(&b, "api:\n  tokens: [{name: soak, token: %s}]\n", soakToken)
	fmt.Fprintf(&b, "notifiers:\n  webhook: {timeout: %s, max_attempts: 1}\n", soakSendTimeout)
	if v := os.Getenv("PAGERD_SOAK_BREAKER"); v != "" {
		// 0 turns the breaker off: a replica stopped past the webhook's
		// timeout opened it before the stall watch
		// (TestFrozenReplicaKeepsItsBreakerClosed), and its missed pages
		// hid whatever else a run would find.
		fmt.Fprintf(&b, "  breaker: {failures: %s}\n", v)
	}
	if storm {
		fmt.Fprintf(&b, "  storm: {window: %s, immediate: 2}\n", soakStormWindow)
	} else {
		b.WriteString("  storm: {window: 0s}\n")
	}
	b.WriteString("users:\n")
	for i := range soakPeople {
		u := fmt.Sprintf("p%d", i)
		addr := fmt.Sprintf("%s/%s/%s", receiver, proc, u)
		fmt.Fprintf(&b, "  - id: %s\n    name: Person %d\n    contacts: [{channel: push, via: webhook, address: %q}, {channel: sms, via: webhook, address: %q}, {channel: voice, via: webhook, address: %q}]\n", u, i, addr, addr, addr)
		b.WriteString("    notification_rules:\n      high: [{after: 0s, channel: push}, {after: 2s, channel: sms}, {after: 4s, channel: voice}]\n")
	}
	b.WriteString("schedules:\n")
	for i := range soakPeople {
		fmt.Fprintf(&b, "  - name: s%d\n    time_zone: UTC\n    handoff: {weekday: monday, time: \"00:00\"}\n    tiers: [{name: primary, start: 2025-01-06, members: [%s]}]\n", i, soakLevelPerson(i, 1))
	}
	b.WriteString("escalation_policies:\n")
	for i := range soakPeople {
		fmt.Fprintf(&b, "  - name: e%d\n    repeat: 0\n    levels:\n      - {name: primary, targets: [{schedule: s%d, tier: primary}], timeout: 6s}\n      - {name: second, targets: [{user: %s}]}\n", i, i, soakLevelPerson(i, 2))
	}
	b.WriteString("services:\n")
	for i := range soakPeople {
		fmt.Fprintf(&b, "  - name: svc%d\n    priority_scheme: P0-P3\n    escalation_policy: e%d\n    integrations: {alertmanager_key: %s}\n", i, i, soakKey(i))
		if amURL != "" {
			fmt.Fprintf(&b, "    alertmanager_url: %s\n", amURL)
		}
		if key != "" && key != "group" {
			fmt.Fprintf(&b, "    incident_key: %s\n", key)
		}
	}
	return b.String()
}

// soakFault is one fault, as planned and as it happened.
type soakFault struct {
	at       time.Duration // from the start, planned
	kind     string        // kill, freeze, redis-stall, redis-restart, and each -mid-send (as a page arrives)
	slot     int           // kill: which replica
	length   time.Duration // kill: down time; stall: its length; restart: down time
	start    time.Time     // when it began (zero: never happened)
	end      time.Time     // when it ended (replica or Redis answering again)
	target   string        // the process killed
	trigger  string        // mid-send: the page that triggered it
	happened bool
	fired    chan struct{} // a mid-send fault's page came
}

// soakAlert is one alert, as planned and as answered.
type soakAlert struct {
	n        int
	at       time.Duration // from the start, planned
	service  int
	end      string        // "", ack, resolve-api, resolve-am
	endAfter time.Duration // after the alert's answer
	rng      *rand.Rand

	sent      time.Time
	answered  time.Time // 2xx; zero: never
	status    []int     // every answer (0: a network error)
	refused   string    // a 4xx's body
	incident  string
	endSent   time.Time // the acknowledgement's or resolve's first try
	endAnswer time.Time // its 2xx
	endStatus []int
	endErr    string
}

// soakPage is one message at the receiver.
type soakPage struct {
	at        time.Time
	from      string // r0.1: replica slot 0, its first process
	user      string
	channel   string
	level     int
	incident  string
	incidents []string
}

type soakProc struct {
	name    string
	addr    string
	log     string
	cmd     *exec.Cmd
	done    chan struct{}
	started time.Time
}

type soak struct {
	t     *testing.T
	storm bool
	mode  string // plain, storm, groups
	// key is the groups mode's incident_key: group, or fingerprint
	// (PAGERD_SOAK_KEY).
	key string
	am  *soakAM // the groups mode's Alertmanager
	// groupsConfirm is, in the groups mode, how long after its answer
	// each withheld resolve at a group's end was confirmed.
	groupsConfirm []time.Duration
	// groupsLate counts, in the groups mode, the firings a minute or more
	// after a withheld resolve that found its incident still open:
	// judged, then of those a new incident (the group had ended) and a
	// repeat of the one still paging.
	groupsLate [3]int
	dir        string
	bin        string
	recv       string
	redis      *redistest.Server
	client     *http.Client

	mu     sync.Mutex
	slots  []*soakProc // nil while down
	gen    []int
	procs  []*soakProc // every process started
	pages  []soakPage
	faults []*soakFault
	armed  []*soakFault // mid-send faults waiting for a page
	errs   []string     // harness trouble, reported
}

func soakEnv(name string, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func TestSoak(t *testing.T) {
	dur, err := time.ParseDuration(soakEnv("PAGERD_SOAK_DURATION", "2m"))
	if err != nil {
		t.Fatalf("PAGERD_SOAK_DURATION: %v", err)
	}
	seed := uint64(time.Now().UnixNano() % 1e9)
	if v := os.Getenv("PAGERD_SOAK_SEED"); v != "" {
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("PAGERD_SOAK_SEED: %v", err)
		}
	}
	rate, err := strconv.ParseFloat(soakEnv("PAGERD_SOAK_RATE", "1"), 64)
	if err != nil || rate <= 0 {
		t.Fatalf("PAGERD_SOAK_RATE: %q", os.Getenv("PAGERD_SOAK_RATE"))
	}
	replicas, err := strconv.Atoi(soakEnv("PAGERD_SOAK_REPLICAS", "3"))
	if err != nil || replicas < 2 {
		t.Fatalf("PAGERD_SOAK_REPLICAS: %q (at least 2)", os.Getenv("PAGERD_SOAK_REPLICAS"))
	}
	modes := []string{"plain", "storm"}
	if m := os.Getenv("PAGERD_SOAK_MODE"); m != "" {
		modes = strings.Split(m, ",")
	}
	key := soakEnv("PAGERD_SOAK_KEY", "group")
	if key != "group" && key != "fingerprint" {
		t.Fatalf("PAGERD_SOAK_KEY: %q is not group or fingerprint", key)
	}
	t.Logf("soak: seed %d (PAGERD_SOAK_SEED=%d replays the schedules), %v a mode, %g alerts/s, %d replicas, lease %v, breaker failures %s, groups' incident_key %s",
		seed, seed, dur, rate, replicas, soakLease, soakEnv("PAGERD_SOAK_BREAKER", "5 (as shipped)"), key)
	for _, mode := range modes {
		if mode != "plain" && mode != "storm" && mode != "groups" {
			t.Fatalf("PAGERD_SOAK_MODE: %q is not plain, storm or groups", mode)
		}
		t.Run(mode, func(t *testing.T) { runSoak(t, mode, key, seed, dur, rate, replicas) })
	}
}

func runSoak(t *testing.T, mode, key string, seed uint64, dur time.Duration, rate float64, replicas int) {
	storm := mode == "storm"
	dir, err := os.MkdirTemp("", "pagerd-soak-")
	if err != nil {
		t.Fatal(err)
	}
	s := &soak{t: t, storm: storm, mode: mode, dir: dir, bin: pagerdBinary(t),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}}
	rs := httptest.NewServer(http.HandlerFunc(s.receive))
	defer rs.Close()
	s.recv = rs.URL
	if mode == "groups" {
		s.key = key
		s.am = newSoakAM()
		ams := httptest.NewServer(s.am)
		defer ams.Close()
		s.am.url = ams.URL
	}
	s.redis = redistest.Start(t, redistest.WithAOF()) // appendfsync always
	s.slots = make([]*soakProc, replicas)
	s.gen = make([]int, replicas)
	for i := range replicas {
		if err := s.startSlot(i); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for i := range s.slots {
			s.killSlot(i)
		}
	}()

	// The schedules, all from the seed.
	rng := rand.New(rand.NewPCG(seed, 1))
	var alerts []*soakAlert
	var groups []*soakGroup
	if mode == "groups" {
		groups = planGroups(rng, seed, dur, rate)
	}
	for at, n := time.Duration(0), 0; mode != "groups"; n++ {
		at += time.Duration(rng.ExpFloat64() / rate * float64(time.Second))
		if at >= dur {
			break
		}
		a := &soakAlert{n: n, at: at, service: rng.IntN(soakPeople), rng: rand.New(rand.NewPCG(seed, uint64(n)+100))}
		switch x := rng.Float64(); {
		case x < 0.35:
			a.end = "ack"
		case x < 0.50:
			a.end = "resolve-am"
		case x < 0.60:
			a.end = "resolve-api"
		}
		a.endAfter = time.Duration(200+rng.IntN(12000)) * time.Millisecond
		alerts = append(alerts, a)
	}
	// Two streams of faults, each a fault every 3-9 s, one at a time: the
	// replicas' and Redis's, so that they overlap at times.
	var streams [2][]*soakFault
	for k := range streams {
		for at := time.Duration(0); ; {
			at += time.Duration(3000+rng.IntN(6000)) * time.Millisecond
			if at >= dur {
				break
			}
			f := &soakFault{at: at, fired: make(chan struct{}, 1)}
			x := rng.Float64()
			switch {
			case k == 0 && x < 0.35:
				f.kind, f.slot, f.length = "kill", rng.IntN(replicas), time.Duration(300+rng.IntN(2700))*time.Millisecond
			case k == 0 && x < 0.60:
				f.kind, f.length = "kill-mid-send", time.Duration(300+rng.IntN(2700))*time.Millisecond
			case k == 0 && x < 0.80:
				f.kind, f.slot, f.length = "freeze", rng.IntN(replicas), time.Duration(1000+rng.IntN(7000))*time.Millisecond
			case k == 0:
				f.kind, f.length = "freeze-mid-send", time.Duration(1000+rng.IntN(7000))*time.Millisecond
			case x < 0.30:
				f.kind, f.length = "redis-stall", time.Duration(1000+rng.IntN(2000))*time.Millisecond
			case x < 0.60:
				f.kind, f.length = "redis-stall-mid-send", time.Duration(1000+rng.IntN(2000))*time.Millisecond
			case x < 0.80:
				f.kind, f.length = "redis-restart", time.Duration(rng.IntN(2000))*time.Millisecond
			default:
				f.kind, f.length = "redis-restart-mid-send", time.Duration(rng.IntN(2000))*time.Millisecond
			}
			streams[k] = append(streams[k], f)
			s.faults = append(s.faults, f)
		}
	}

	start := time.Now()
	var wg sync.WaitGroup
	for _, a := range alerts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(start.Add(a.at)))
			s.fire(a)
		}()
	}
	var faults sync.WaitGroup
	for _, stream := range streams {
		faults.Add(1)
		go func() {
			defer faults.Done()
			for _, f := range stream {
				time.Sleep(time.Until(start.Add(f.at)))
				s.inject(f)
			}
		}()
	}
	for _, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runGroup(g, start)
		}()
	}
	if mode == "groups" {
		faults.Add(1)
		go func() {
			defer faults.Done()
			s.runAMOutages(planAMOutages(seed, dur), start)
		}()
	}
	faults.Wait()
	wg.Wait()
	// Everything up; then the quiet tail: the last alert's ladder (10 s)
	// and a lease, a storm window, the slack, and a dispatcher's sleep.
	for i := range s.slots {
		if s.proc(i) == nil {
			if err := s.startSlot(i); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The quiet tail: until each step of the last ladders could have
	// gone out as late as it is allowed, and a second more.
	quiet := time.Now().Add(soakLease + soakSlack + time.Second)
	for _, a := range alerts {
		for _, l := range soakLadder {
			if due := a.answered.Add(l.at); !a.answered.IsZero() && due.Add(s.allowance(due)+time.Second).After(quiet) {
				quiet = due.Add(s.allowance(due) + time.Second)
			}
		}
	}
	if mode == "groups" {
		quiet = s.groupsQuiet(groups, quiet)
	}
	time.Sleep(time.Until(quiet))
	if mode == "groups" {
		var found []soakProblem
		if s.key == "fingerprint" {
			alerts, found = s.judgeFingerprint(groups, start)
		} else {
			alerts, found = s.judgeGroups(groups, start)
		}
		s.check(alerts, seed, start, found)
		s.groupsSummary(groups, seed)
		return
	}
	s.check(alerts, seed, start, nil)
}

// receive is the far side of the webhook transport.
func (s *soak) receive(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	var m struct {
		Incident  string   `json:"incident"`
		Incidents []string `json:"incidents"`
		User      string   `json:"user"`
		Channel   string   `json:"channel"`
		Level     int      `json:"level"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	from, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	p := soakPage{at: at, from: from, user: m.User, channel: m.Channel, level: m.Level, incident: m.Incident, incidents: m.Incidents}
	s.mu.Lock()
	s.pages = append(s.pages, p)
	var f *soakFault
	if len(s.armed) > 0 {
		f, s.armed = s.armed[0], s.armed[1:]
	}
	s.mu.Unlock()
	if f != nil {
		f.trigger = fmt.Sprintf("%s %s %s %s", from, m.User, m.Channel, m.Incident)
		switch f.kind {
		case "kill-mid-send", "freeze-mid-send":
			// Killed (or stopped) with its request held open: it
			// cannot record the page.
			slot := -1
			s.mu.Lock()
			for i, pr := range s.slots {
				if pr != nil && pr.name == from {
					slot = i
				}
			}
			s.mu.Unlock()
			if slot >= 0 {
				f.slot, f.target, f.start = slot, from, time.Now()
				if f.kind == "kill-mid-send" {
					s.killSlot(slot)
				} else {
					s.signalSlot(slot, syscall.SIGSTOP)
				}
				f.happened = true
			}
		case "redis-stall-mid-send":
			f.start = time.Now()
			s.redis.Pause(s.t)
			f.happened = true
		case "redis-restart-mid-send":
			// Killed as the page arrives: its record finds Redis gone.
			f.start = time.Now()
			s.redis.Kill(s.t)
			f.happened = true
		}
		f.fired <- struct{}{}
		time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
	}
	// A receiver that takes its time, so that faults find pages on their
	// way (well inside the webhook's 1 s timeout).
	time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
	w.WriteHeader(http.StatusNoContent)
}

// inject makes one fault happen, and returns once it is over.
func (s *soak) inject(f *soakFault) {
	switch f.kind {
	case "kill":
		pr := s.proc(f.slot)
		if pr == nil {
			return
		}
		f.target, f.start = pr.name, time.Now()
		s.killSlot(f.slot)
		f.happened = true
		time.Sleep(f.length)
		s.restartSlot(f)
	case "freeze":
		pr := s.proc(f.slot)
		if pr == nil {
			return
		}
		f.target, f.start = pr.name, time.Now()
		s.signalSlot(f.slot, syscall.SIGSTOP)
		f.happened = true
		time.Sleep(f.length)
		s.signalSlot(f.slot, syscall.SIGCONT)
		f.end = time.Now()
	case "kill-mid-send", "redis-stall-mid-send", "redis-restart-mid-send", "freeze-mid-send":
		s.mu.Lock()
		s.armed = append(s.armed, f)
		s.mu.Unlock()
		select {
		case <-f.fired:
		case <-time.After(10 * time.Second):
			s.mu.Lock()
			n := len(s.armed)
			s.armed = slices.DeleteFunc(s.armed, func(g *soakFault) bool { return g == f })
			disarmed := len(s.armed) < n
			s.mu.Unlock()
			if disarmed {
				return // no page came
			}
			<-f.fired
		}
		if !f.happened {
			return
		}
		switch f.kind {
		case "kill-mid-send":
			time.Sleep(f.length)
			s.restartSlot(f)
			return
		case "freeze-mid-send":
			time.Sleep(time.Until(f.start.Add(f.length)))
			s.signalSlot(f.slot, syscall.SIGCONT)
			f.end = time.Now()
			return
		}
		time.Sleep(time.Until(f.start.Add(f.length)))
		if f.kind == "redis-restart-mid-send" {
			s.redis.Restart(s.t)
		} else {
			s.redis.Resume(s.t)
		}
		f.end = time.Now()
	case "redis-stall":
		f.start = time.Now()
		s.redis.Pause(s.t)
		f.happened = true
		time.Sleep(f.length)
		s.redis.Resume(s.t)
		f.end = time.Now()
	case "redis-restart":
		f.start = time.Now()
		s.redis.Kill(s.t)
		f.happened = true
		time.Sleep(f.length)
		s.redis.Restart(s.t)
		f.end = time.Now()
	}
}

func (s *soak) restartSlot(f *soakFault) {
	if err := s.startSlot(f.slot); err != nil {
		s.mu.Lock()
		s.errs = append(s.errs, fmt.Sprintf("restarting replica %d after %s: %v", f.slot, f.kind, err))
		s.mu.Unlock()
	}
	f.end = time.Now()
}

func (s *soak) proc(i int) *soakProc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slots[i]
}

// startSlot starts a replica process in slot i and waits until it is ready.
func (s *soak) startSlot(i int) error {
	s.mu.Lock()
	s.gen[i]++
	name := fmt.Sprintf("r%d.%d", i, s.gen[i])
	s.mu.Unlock()
	cfg := filepath.Join(s.dir, name+".yaml")
	amURL := ""
	if s.am != nil {
		amURL = s.am.url
	}
	if err := os.WriteFile(cfg, []byte(soakConfig(s.recv, name, s.storm, amURL, s.key)), 0o600); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	logPath := filepath.Join(s.dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer lf.Close()
	pr := &soakProc{name: name, addr: addr, log: logPath, done: make(chan struct{}), started: time.Now()}
	pr.cmd = exec.Command(s.bin, "serve", "--config", cfg, "--listen", addr, "--redis-url", s.redis.URL())
	pr.cmd.Stdout, pr.cmd.Stderr = lf, lf
	pr.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := pr.cmd.Start(); err != nil {
		return err
	}
	go func() { _ = pr.cmd.Wait(); close(pr.done) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-pr.done:
			return fmt.Errorf("%s exited at start; its log: %s", name, logPath)
		default:
		}
		if time.Now().After(deadline) {
			_ = pr.cmd.Process.Kill()
			<-pr.done
			return fmt.Errorf("%s not ready within 30 s; its log: %s", name, logPath)
		}
	}
	s.mu.Lock()
	s.slots[i] = pr
	s.procs = append(s.procs, pr)
	s.mu.Unlock()
	return nil
}

// signalSlot signals slot i's process, if it runs.
func (s *soak) signalSlot(i int, sig syscall.Signal) {
	if pr := s.proc(i); pr != nil {
		_ = pr.cmd.Process.Signal(sig)
	}
}

// killSlot kills slot i's process -9, if it runs, and reaps it.
func (s *soak) killSlot(i int) {
	s.mu.Lock()
	pr := s.slots[i]
	s.slots[i] = nil
	s.mu.Unlock()
	if pr != nil {
		_ = pr.cmd.Process.Kill()
		<-pr.done
	}
}

// live is a replica that runs, picked with rng.
func (s *soak) live(rng *rand.Rand) *soakProc {
	s.mu.Lock()
	defer s.mu.Unlock()
	var up []*soakProc
	for _, pr := range s.slots {
		if pr != nil {
			up = append(up, pr)
		}
	}
	if len(up) == 0 {
		return nil
	}
	return up[rng.IntN(len(up))]
}

func soakAlertBody(a *soakAlert, status string) string {
	ends := "0001-01-01T00:00:00Z"
	if status == "resolved" {
		ends = time.Now().UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf(`{"version":"4","groupKey":"{}:{soak=\"%d\"}","status":%q,"receiver":"pagerd","externalURL":"http://am",`+
		`"groupLabels":{"soak":"%d"},"commonLabels":{"alertname":"Soak","severity":"critical"},`+
		`"alerts":[{"status":%q,"labels":{"alertname":"Soak","severity":"critical","soak":"%d"},"annotations":{"summary":"soak alert %d"},`+
		`"startsAt":"2025-01-01T00:00:00Z","endsAt":%q,"fingerprint":"%016x"}]}`, a.n, status, a.n, status, a.n, a.n, ends, a.n)
}

// post sends a request to a live replica as Alertmanager (and a person)
// would: a network error, a 429 or a 5xx is tried again with backoff, for
// up to 90 s; anything else is the answer.
func (s *soak) post(rng *rand.Rand, path, auth, body string, statuses *[]int) (int, string) {
	backoff := 100 * time.Millisecond
	for deadline := time.Now().Add(90 * time.Second); ; {
		if pr := s.live(rng); pr != nil {
			req, _ := http.NewRequest("POST", "http://"+pr.addr+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+auth)
			resp, err := s.client.Do(req)
			code, b := 0, ""
			if err == nil {
				bb, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				code, b = resp.StatusCode, string(bb)
			}
			*statuses = append(*statuses, code)
			if code != 0 && code != 429 && code < 500 {
				return code, b
			}
		}
		if time.Now().After(deadline) {
			return 0, "gave up after 90 s"
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
}

// fire sends the alert, then acknowledges or resolves its incident.
func (s *soak) fire(a *soakAlert) {
	a.sent = time.Now()
	code, body := s.post(a.rng, "/api/v1/alertmanager", soakKey(a.service), soakAlertBody(a, "firing"), &a.status)
	if code/100 != 2 {
		a.refused = fmt.Sprintf("%d %s", code, body)
		return
	}
	var res struct{ Incidents []string }
	if err := json.Unmarshal([]byte(body), &res); err != nil || len(res.Incidents) != 1 {
		a.refused = fmt.Sprintf("%d but not one incident: %s", code, body)
		return
	}
	a.answered, a.incident = time.Now(), res.Incidents[0]
	if a.end == "" {
		return
	}
	time.Sleep(a.endAfter)
	a.endSent = time.Now()
	switch a.end {
	case "ack", "resolve-api":
		action := map[string]string{"ack": "acknowledge", "resolve-api": "resolve"}[a.end]
		code, body = s.post(a.rng, "/api/v1/incidents/"+a.incident+"/"+action, soakToken,
			fmt.Sprintf(`{"user":%q}`, soakLevelPerson(a.service, 1)), &a.endStatus)
	case "resolve-am":
		code, body = s.post(a.rng, "/api/v1/alertmanager", soakKey(a.service), soakAlertBody(a, "resolved"), &a.endStatus)
	}
	if code/100 != 2 {
		a.endErr = fmt.Sprintf("%d %s", code, body)
		return
	}
	a.endAnswer = time.Now()
}

// soakStep is one step of one incident's ladder, and what came of it.
type soakStep struct {
	user, channel string
	level         int
	due           time.Time
	pages         []soakPage
	recorded      int
}

// allowance is how late a step due at due may be: the slack, a lease (a
// claim held by a replica that died), a storm window in the storm mode,
// and for each fault that began from a little before the step to that
// base allowance after it, the fault's length and a lease (a claim that
// came back late, or whose replica was stopped, is left to run out).
func (s *soak) allowance(due time.Time) time.Duration {
	base := soakSlack + soakLease
	if s.storm {
		base += soakStormWindow
	}
	al := base
	for _, f := range s.faults {
		if !f.happened {
			continue
		}
		end := f.end
		if end.IsZero() {
			end = f.start
		}
		if end.After(due.Add(-soakLease-soakSlack)) && f.start.Before(due.Add(base)) {
			al += end.Sub(f.start) + soakLease
		}
	}
	return al
}

// frozenSending says whether p came from a replica that was stopped
// (SIGSTOP) with p on its way, resumed less than a second before p
// arrived, and could not have called p off: stopped when the
// acknowledgement or resolve was sent, or after, when the page had started
// before it was answered (startedBefore: its claim's look at the incident
// came before the acknowledgement, and a page's first try looks no more).
// A page whose replica stalled a second or more since its claim asks
// whether it is still due before its request goes out
// (notify.NewTransport), and is called off by the acknowledgement: so only
// a stop too short for the stall watch to see (under a second), or one
// that ended while Redis was stalled or down (a question the store cannot
// answer in time lets the page go), explains it. Before that question, the
// fault soak's 10-minute run (seed 432485353) rang a phone 8.5 s after
// its acknowledgement, its replica stopped twice in a row as the call
// started. The receiver may record p just before the injector records the
// stop's end.
//
// A stop that began between the acknowledgement's send and its answer
// explains it too, but only with Redis down or stalled at the SIGCONT:
// the page's question may have gone out before the store took the
// acknowledgement and run out of time during the stop, and a question
// that runs out of time across a stall is asked again, which only a
// store that cannot answer lets go (the 10-minute soak, seed 556741321:
// a stop tens of milliseconds before the acknowledgements were answered, and Redis
// stalled from 1.1 s before the SIGCONT).
//
// A stop that began within soakInFlight of the page's start (startedAt,
// its timeline entry's time: when its claim's step was worked, before its
// send) explains it too, at any length: the page was most likely past its
// question, its request handed to the transport and not yet written, and
// it went out as the process ran again (docs/RELIABILITY.md: a call in
// flight cannot be taken back). The fingerprint soak, seed 4417209: a
// freeze-mid-send set off by a sibling page of the same burst stopped two
// pages 2 and 4 ms after their step was worked; both arrived 12 ms after
// the SIGCONT, after their resolves.
func (s *soak) frozenSending(p soakPage, endSent, endAnswer, startedAt time.Time, startedBefore bool) string {
	const race = 100 * time.Millisecond
	for _, f := range s.faults {
		if !f.happened || !isFreeze(f) || f.target != p.from || f.end.IsZero() ||
			p.at.Before(f.end.Add(-race)) || !p.at.Before(f.end.Add(time.Second)) {
			continue
		}
		before := f.start.Before(endSent) || startedBefore && f.start.Before(p.at)
		if !before && !f.start.Before(endAnswer) {
			continue
		}
		why := ""
		switch {
		case before && f.end.Sub(f.start) < time.Second:
			why = "too short for the stall watch"
		case before && !startedAt.IsZero() && !f.start.Before(startedAt) && f.start.Sub(startedAt) <= soakInFlight:
			why = fmt.Sprintf("stopped %v after its step was worked: in flight, past its question", f.start.Sub(startedAt).Round(time.Millisecond))
		}
		for _, g := range s.faults {
			if g.happened && strings.HasPrefix(g.kind, "redis-") && !g.start.After(p.at) && (g.end.IsZero() || !g.end.Before(f.end)) {
				why = fmt.Sprintf("Redis %s from %v before the SIGCONT", g.kind, f.end.Sub(g.start).Round(time.Millisecond))
			}
		}
		if why != "" {
			return fmt.Sprintf("%s stopped (%s of %v) from before it and sent the page %v after its SIGCONT (%s)", f.target, f.kind,
				f.end.Sub(f.start).Round(time.Millisecond), p.at.Sub(f.end).Round(time.Millisecond), why)
		}
	}
	return ""
}

// stopped says whether f took away the replica that sent p before it
// could record it: killed or stopped (SIGSTOP) within 2 s after p
// arrived, or later by as long as Redis was stalled or down meanwhile
// (the record waited for it).
func (s *soak) stopped(f *soakFault, p soakPage) bool {
	switch f.kind {
	case "kill", "kill-mid-send", "freeze", "freeze-mid-send":
		window := 2 * time.Second
		for _, g := range s.faults {
			if g.happened && strings.HasPrefix(g.kind, "redis-") && !g.end.IsZero() &&
				g.start.After(p.at.Add(-time.Second)) && g.start.Before(p.at.Add(2*time.Second)) {
				window += g.end.Sub(g.start)
			}
		}
		return f.happened && f.target == p.from && !f.start.Before(p.at.Add(-500*time.Millisecond)) && f.start.Before(p.at.Add(window))
	}
	return false
}

func isFreeze(f *soakFault) bool { return f.kind == "freeze" || f.kind == "freeze-mid-send" }

// killedSending says which page's replica was killed or stopped before it
// could record it.
func (s *soak) killedSending(ps []soakPage) string {
	for _, p := range ps {
		for _, f := range s.faults {
			if s.stopped(f, p) {
				return fmt.Sprintf("%s (%s) %v after the page arrived", f.target, f.kind, f.start.Sub(p.at).Round(time.Millisecond))
			}
		}
	}
	return ""
}

// explain says which fault may have sent a step twice: the replica that
// sent an earlier copy was killed or stopped within 2 s after it arrived
// (sent, not yet recorded), or Redis was stalled or down around it (the
// record refused or lost, and the step taken over). A copy a stopped
// replica sent within a second of its SIGCONT is the one duplicate per
// freeze docs/RELIABILITY.md leaves ("What remains"): reported as such.
// A storm message's page whose holder was stopped across the message, or
// died before it recorded the hold, is no longer explained: the step's
// next claim finds the message's note in the timeline and does not page
// it again (docs/RELIABILITY.md, "The documented storm duplicate"), but
// for Redis faults around it, which may have held the note back.
func (s *soak) explain(earlier []soakPage, later soakPage) string {
	for _, p := range earlier {
		for _, f := range s.faults {
			if !f.happened {
				continue
			}
			if s.stopped(f, p) {
				return fmt.Sprintf("%s %s %v after its copy arrived; sent again by %s %v later",
					f.target, f.kind, f.start.Sub(p.at).Round(time.Millisecond), later.from, later.at.Sub(p.at).Round(time.Millisecond))
			}
			if isFreeze(f) && !f.end.IsZero() && f.target == later.from && !later.at.Before(f.end) && later.at.Before(f.end.Add(time.Second)) {
				return fmt.Sprintf("sent by %s %v after its SIGCONT (%s of %v): the freeze's one duplicate",
					later.from, later.at.Sub(f.end).Round(time.Millisecond), f.kind, f.end.Sub(f.start).Round(time.Millisecond))
			}
			if strings.HasPrefix(f.kind, "redis-") {
				end := f.end
				if end.IsZero() {
					end = later.at
				}
				if end.After(p.at.Add(-time.Second)) && f.start.Before(p.at.Add(2*time.Second)) {
					return fmt.Sprintf("%s (%v) from %v after the first copy arrived; sent again by %s %v later", f.kind,
						end.Sub(f.start).Round(time.Millisecond), f.start.Sub(p.at).Round(time.Millisecond), later.from, later.at.Sub(p.at).Round(time.Millisecond))
				}
			}
		}
	}
	return ""
}

func (s *soak) check(alerts []*soakAlert, seed uint64, start time.Time, found []soakProblem) {
	t := s.t
	s.mu.Lock()
	pages := append([]soakPage(nil), s.pages...)
	errs := append([]string(nil), s.errs...)
	s.mu.Unlock()
	reader := s.live(rand.New(rand.NewPCG(1, 2)))

	var problems []string
	bad := map[string]bool{} // incidents to show
	problem := func(inc, format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
		if inc != "" {
			bad[inc] = true
		}
	}
	for _, e := range errs {
		problem("", "harness: %s", e)
	}
	for _, p := range found {
		problem(p.inc, "%s", p.text)
	}

	// The steps each incident should page, by (incident, user, channel).
	type key struct{ inc, user, channel string }
	steps := map[key]*soakStep{}
	incAlert := map[string]*soakAlert{}
	details := map[string]incidentDetail{}
	var answered, refused, endsDone, endsFailed, failedRecorded int
	for _, a := range alerts {
		if a.answered.IsZero() {
			refused++
			problem("", "alert %d (svc%d) not taken: %s (answers %v)", a.n, a.service, a.refused, a.status)
			continue
		}
		answered++
		if prev, ok := incAlert[a.incident]; ok {
			problem(a.incident, "alerts %d and %d (distinct groups) answered with one incident %s", prev.n, a.n, a.incident)
			continue
		}
		incAlert[a.incident] = a
		if a.end != "" {
			if a.endAnswer.IsZero() {
				endsFailed++
				problem(a.incident, "alert %d: %s of %s not taken: %s (answers %v)", a.n, a.end, a.incident, a.endErr, a.endStatus)
			} else {
				endsDone++
			}
		}
		code, body := s.get(reader, "/api/v1/incidents/"+a.incident)
		var inc incidentDetail
		if code != 200 || json.Unmarshal([]byte(body), &inc) != nil || inc.CreatedAt.IsZero() {
			problem(a.incident, "alert %d answered 2xx with incident %s, which the API does not have: %d %.300s", a.n, a.incident, code, body)
			continue
		}
		details[a.incident] = inc
		for _, l := range soakLadder {
			u := soakLevelPerson(a.service, l.level)
			steps[key{a.incident, u, l.channel}] = &soakStep{user: u, channel: l.channel, level: l.level, due: inc.CreatedAt.Add(l.at)}
		}
		for _, e := range inc.Timeline {
			// A page recorded failed "may have been sent" (a send
			// timed out, its replica stopped mid-send) is recorded too.
			if e.Type == "notify_failed" {
				failedRecorded++
			}
			if e.Type == "notify" || e.Type == "notify_failed" {
				if st := steps[key{a.incident, e.User, e.Channel}]; st != nil {
					st.recorded++
				}
			}
		}
	}

	// The pages, onto their steps.
	stormMsgs, unknown := 0, 0
	for _, p := range pages {
		ids := []string{p.incident}
		if len(p.incidents) > 0 {
			ids = p.incidents
			stormMsgs++
		}
		for _, id := range ids {
			st := steps[key{id, p.user, p.channel}]
			if st == nil {
				unknown++
				problem(id, "a page nobody expected: %s to %s on %s (level %d) from %s at +%.3fs", id, p.user, p.channel, p.level, p.from, p.at.Sub(start).Seconds())
				continue
			}
			st.pages = append(st.pages, p)
		}
	}

	var late []time.Duration
	var missed, dups, explained, cut, lateBad, afterEnd, early int
	var explainedWhy, unrecordedWhy, explainedAfter []string
	unrecorded := 0
	keys := make([]key, 0, len(steps))
	for k := range steps {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].inc != keys[j].inc {
			return keys[i].inc < keys[j].inc
		}
		return steps[keys[i]].due.Before(steps[keys[j]].due)
	})
	for _, k := range keys {
		st := steps[k]
		a := incAlert[k.inc]
		inc := details[k.inc]
		// When the incident stopped paging: its acknowledgement or
		// resolve as the timeline has it.
		var endAt time.Time
		for _, e := range inc.Timeline {
			if e.Type == "ack" || e.Type == "resolve" {
				endAt = e.At
				break
			}
		}
		if a.end != "" && endAt.IsZero() && !a.endAnswer.IsZero() {
			problem(k.inc, "%s %s answered 2xx at +%.3fs, and the timeline has no ack or resolve", a.end, k.inc, a.endAnswer.Sub(start).Seconds())
		}
		al := s.allowance(st.due)
		sort.Slice(st.pages, func(i, j int) bool { return st.pages[i].at.Before(st.pages[j].at) })
		what := fmt.Sprintf("%s L%d %s %s (due +%.3fs)", k.inc, st.level, st.user, st.channel, st.due.Sub(start).Seconds())
		if len(st.pages) == 0 {
			switch {
			case endAt.IsZero() || endAt.After(st.due.Add(al)):
				missed++
				problem(k.inc, "MISSED: %s never paged; allowed %v late, stopped at %s", what, al.Round(time.Millisecond), soakAt(endAt, start))
			case endAt.After(st.due):
				cut++ // due, not yet sent (late within its allowance) when it was stopped
			}
			continue
		}
		first := st.pages[0]
		l := first.at.Sub(st.due)
		late = append(late, l)
		// A failed page (notify_failed) brings the person's next step
		// forward: early then is on purpose.
		forward := false
		for _, e := range inc.Timeline {
			forward = forward || (e.Type == "notify_failed" && e.User == st.user && !e.At.After(first.at))
		}
		if l < -earlySlack && !forward {
			early++
			problem(k.inc, "EARLY: %s paged %v before it was due", what, -l)
		}
		if l > al {
			lateBad++
			problem(k.inc, "LATE: %s paged %v late, allowed %v", what, l.Round(time.Millisecond), al.Round(time.Millisecond))
		}
		if !a.endAnswer.IsZero() {
			for _, p := range st.pages {
				if p.at.After(a.endAnswer.Add(soakSlack)) {
					// A replica stopped with the page on its way (past
					// its last look at the incident) sends it when it
					// resumes: docs/RELIABILITY.md's one page per freeze.
					startedBefore, startedAt := false, time.Time{}
					for _, e := range inc.Timeline {
						if e.Type == "notify" && e.User == p.user && e.Channel == p.channel && e.Level == p.level && !e.At.After(a.endAnswer) {
							startedBefore = true
							if startedAt.IsZero() {
								startedAt = e.At
							}
						}
					}
					if why := s.frozenSending(p, a.endSent, a.endAnswer, startedAt, startedBefore); why != "" {
						explainedAfter = append(explainedAfter, fmt.Sprintf("%s: paged %v after the %s was answered 2xx: %s", what, p.at.Sub(a.endAnswer).Round(time.Millisecond), a.end, why))
						continue
					}
					afterEnd++
					problem(k.inc, "PAGED AFTER %s: %s paged by %s at +%.3fs, %v after the %s was answered 2xx",
						strings.ToUpper(a.end), what, p.from, p.at.Sub(start).Seconds(), p.at.Sub(a.endAnswer).Round(time.Millisecond), a.end)
				}
			}
		}
		for i := 1; i < len(st.pages); i++ {
			if why := s.explain(st.pages[:i], st.pages[i]); why != "" {
				explained++
				explainedWhy = append(explainedWhy, fmt.Sprintf("%s: %s", what, why))
				continue
			}
			dups++
			problem(k.inc, "DUPLICATE: %s paged by %s at +%.3fs and again by %s at +%.3fs; no kill or Redis fault around the first",
				what, st.pages[i-1].from, st.pages[i-1].at.Sub(start).Seconds(), st.pages[i].from, st.pages[i].at.Sub(start).Seconds())
		}
		if st.recorded == 0 {
			// Sent and never recorded: allowed only for a page whose
			// replica died before it could record it, when nothing
			// sent it again (its incident stopped meanwhile).
			if why := s.killedSending(st.pages); why != "" {
				unrecorded++
				unrecordedWhy = append(unrecordedWhy, fmt.Sprintf("%s: %s", what, why))
			} else {
				problem(k.inc, "UNRECORDED: %s paged %d times, in the timeline 0 times", what, len(st.pages))
			}
		}
	}

	// The summary.
	slices.Sort(late)
	faultsBy := map[string]int{}
	for _, f := range s.faults {
		if f.happened {
			faultsBy[f.kind]++
		}
	}
	mode := "plain (storm bundling off)"
	if s.storm {
		mode = fmt.Sprintf("storm (window %v, 2 at once)", soakStormWindow)
	}
	if s.mode == "groups" {
		mode = fmt.Sprintf("groups (of 2-4 alerts, max_alerts %d, group_interval %v; an alert below is an incident)", soakMaxAlerts, soakGroupInterval)
		if s.key == "fingerprint" {
			mode = fmt.Sprintf("groups, incident_key fingerprint (of 2-4 alerts, max_alerts %d, group_interval %v; an alert below is an incident: an alert's, or a group's overflow)", soakMaxAlerts, soakGroupInterval)
		}
	}
	t.Logf("soak %s, seed %d, ran %v: alerts %d (answered 2xx %d, not taken %d), acks/resolves %d taken, %d not; incidents %d; "+
		"messages at the receiver %d (storm messages %d), steps paged %d of %d; faults %v; late p50 %v p99 %v max %v; "+
		"pages recorded failed %d; duplicates explained %d, unexplained %d; sent and never recorded (sender killed) %d; missed %d; stopped before their (late) page %d; late beyond allowance %d; paged after ack/resolve %d (and %d by a replica stopped with it on its way); early %d; pages of unknown steps %d",
		mode, seed, time.Since(start).Round(time.Second), len(alerts), answered, refused, endsDone, endsFailed, len(details),
		len(pages), stormMsgs, len(late), len(steps), faultsBy, soakPct(late, .5), soakPct(late, .99), soakPct(late, 1),
		failedRecorded, explained, dups, unrecorded, missed, cut, lateBad, afterEnd, len(explainedAfter), early, unknown)
	for _, w := range explainedWhy {
		t.Logf("explained duplicate: %s", w)
	}
	for _, w := range unrecordedWhy {
		t.Logf("sent, never recorded: %s", w)
	}
	for _, w := range explainedAfter {
		t.Logf("explained page after ack/resolve: %s", w)
	}
	var fl strings.Builder
	for _, f := range s.faults {
		if f.happened {
			fmt.Fprintf(&fl, "  +%.3fs %-21s %-6s %v %s\n", f.start.Sub(start).Seconds(), f.kind, f.target, soakLen(f), f.trigger)
		}
	}
	if len(problems) == 0 {
		t.Logf("faults:\n%s", fl.String())
		_ = os.RemoveAll(s.dir)
		return
	}
	var b strings.Builder
	for _, p := range problems {
		b.WriteString("  " + p + "\n")
	}
	replay := fmt.Sprintf("PAGERD_SOAK_SEED=%d PAGERD_SOAK_MODE=%s", seed, s.mode)
	if s.key == "fingerprint" {
		replay += " PAGERD_SOAK_KEY=fingerprint"
	}
	if s.am != nil && soakEnv("PAGERD_SOAK_AM_DOWN", "") != "" {
		replay += " PAGERD_SOAK_AM_DOWN=1"
	}
	t.Errorf("soak %s, seed %d (replay: %s): %d problems:\n%s\nfaults:\n%s",
		mode, seed, replay, len(problems), b.String(), fl.String())
	shown := 0
	for id := range bad {
		if shown++; shown > 10 {
			break
		}
		var pl strings.Builder
		for _, p := range pages {
			if p.incident == id || slices.Contains(p.incidents, id) {
				fmt.Fprintf(&pl, "  +%.3fs %-6s L%d %s %s %s\n", p.at.Sub(start).Seconds(), p.from, p.level, p.user, p.channel, p.incident)
			}
		}
		inc := details[id]
		t.Logf("incident %s (created +%.3fs) pages at the receiver:\n%stimeline:\n%s", id, inc.CreatedAt.Sub(start).Seconds(), pl.String(), inc)
		var lines []string
		for _, pr := range s.procs {
			b, _ := os.ReadFile(pr.log)
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, id) {
					lines = append(lines, pr.name+": "+line)
				}
			}
		}
		if len(lines) > 0 {
			t.Logf("replicas' log lines naming %s:\n%s", id, strings.Join(lines, "\n"))
		}
	}
	t.Logf("the replicas' logs and configs are in %s", s.dir)
}

// get is an API GET on a replica.
func (s *soak) get(pr *soakProc, path string) (int, string) {
	req, _ := http.NewRequest("GET", "http://"+pr.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+soakToken)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func soakAt(at, start time.Time) string {
	if at.IsZero() {
		return "never"
	}
	return fmt.Sprintf("+%.3fs", at.Sub(start).Seconds())
}

func soakLen(f *soakFault) time.Duration {
	if f.end.IsZero() {
		return 0
	}
	return f.end.Sub(f.start).Round(time.Millisecond)
}

func soakPct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(p*float64(len(d))+0.5) - 1
	i = max(0, min(i, len(d)-1))
	return d[i].Round(time.Millisecond)
}

// TestSoakCheckerExplainsAStopInFlight: the checker's reading of a page
// after a resolve from a replica stopped 3 s, as in the fingerprint soak
// of seed 4417209. A stop that began 4 ms after the page's step was
// worked explains it (in flight, past its question); one that began a
// second after does not: the page would have asked after the stop, and a
// page that goes out then is a problem.
func TestSoakCheckerExplainsAStopInFlight(t *testing.T) {
	base := time.Date(2026, 12, 7, 13, 41, 47, 887e6, time.UTC)
	for _, tc := range []struct {
		after     time.Duration // the stop's start after the step was worked
		explained bool
	}{
		{4 * time.Millisecond, true},
		{soakInFlight, true},
		{time.Second, false},
	} {
		stop := base.Add(tc.after)
		s := &soak{t: t, faults: []*soakFault{{kind: "freeze-mid-send", target: "r1.10", start: stop, end: stop.Add(3 * time.Second), happened: true}}}
		p := soakPage{at: stop.Add(3*time.Second + 12*time.Millisecond), from: "r1.10", user: "p1", channel: "voice", level: 2}
		resolveSent := stop.Add(10 * time.Millisecond)
		why := s.frozenSending(p, resolveSent, resolveSent.Add(3*time.Millisecond), base, true)
		if (why != "") != tc.explained {
			t.Errorf("a stop %v after the step: explained %q, want explained %v", tc.after, why, tc.explained)
		}
	}
}
