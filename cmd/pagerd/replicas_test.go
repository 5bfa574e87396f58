package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/redistest"
)

// These tests run real `pagerd serve` processes on the ladder of
// testdata/replicas/ladder-seconds.yaml (the quickstart scaled down to
// seconds, plus a second level) and read the pages the log transport writes
// to each process's stdout. They prove the dispatcher fires every step from
// the deadlines in the store: on time, once, across replicas, a killed
// replica, a Redis restart and a restart of the embedded store.
//
// No test sleeps for a ladder step: they poll the pages with a deadline. The
// only fixed waits are the outages themselves (TestRedisRestartMidLadder and
// TestEmbeddedRestartMidLadder keep the store down until two steps are
// overdue) and a settle period after the last step, to see duplicates that
// would come late.

const ladderConfig = "testdata/replicas/ladder-seconds.yaml"

// ladder is what ladderConfig pages for a critical alert nobody
// acknowledges, as offsets from the incident's creation.
var ladder = []struct {
	step string
	at   time.Duration
}{
	{"L1 demo push", 0},
	{"L1 demo sms", 1 * time.Second},
	{"L1 demo voice", 2 * time.Second},
	{"L2 ops push", 4 * time.Second}, // level 1 times out after 4s
	{"L2 ops sms", 5 * time.Second},
	{"L2 ops voice", 6 * time.Second},
}

const (
	// ladderTimeout bounds the wait for the whole 6s ladder.
	ladderTimeout = 20 * time.Second
	// pollEvery is how often the tests look at the pages.
	pollEvery = 20 * time.Millisecond
	// earlySlack: a page never goes out before it is due; the slack only
	// covers timestamps truncated to milliseconds.
	earlySlack = 50 * time.Millisecond
	// lateSlack is how late a step may be in normal operation. The
	// dispatcher sleeps until the next deadline, so a step is typically a
	// few ms late; 750ms leaves room for a loaded 2-core CI machine and is
	// still well under the 1s between steps (and under the dispatcher's 1s
	// MaxSleep, so a dispatcher that only polled would not always pass).
	lateSlack = 750 * time.Millisecond
	// settle is how long the tests keep watching after the last expected
	// page, for duplicates: longer than the dispatcher's MaxSleep (1s), so
	// every replica has looked at the due set again.
	settle = 1200 * time.Millisecond
)

// page is one line the log transport wrote (or one webhook request).
type page struct {
	Time     time.Time `json:"time"`
	Incident string    `json:"incident"`
	Priority string    `json:"priority"`
	Level    int       `json:"level"`
	User     string    `json:"user"`
	Channel  string    `json:"channel"`
	Text     string    `json:"text"`
	// Incidents are an alert-storm message's incidents (Incident is then
	// its bundle).
	Incidents []string `json:"incidents"`

	from string    // the process that sent it: r0, r1, ...
	seen time.Time // when the test read it
	raw  string
}

func (p page) step() string { return fmt.Sprintf("L%d %s %s", p.Level, p.User, p.Channel) }

// pageSink collects the pages of several processes.
type pageSink struct {
	mu    sync.Mutex
	pages []page
	bad   []string // stdout lines that are not page lines
}

var logTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$`)

// writer is a process's stdout: one page per line.
func (s *pageSink) writer(from string) io.Writer { return &lineWriter{sink: s, from: from} }

type lineWriter struct {
	sink *pageSink
	from string
	buf  []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.sink.mu.Lock()
	defer w.sink.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		w.sink.addLocked(w.from, line, true)
	}
}

// addLocked parses one page line. Log lines must carry exactly the
// contract's fields, with time in RFC 3339 with milliseconds.
func (s *pageSink) addLocked(from, line string, strict bool) {
	var fields map[string]json.RawMessage
	var p page
	if err := json.Unmarshal([]byte(line), &fields); err != nil {
		s.bad = append(s.bad, from+": "+line)
		return
	}
	if strict {
		for _, k := range []string{"time", "incident", "priority", "level", "user", "channel", "text"} {
			if _, ok := fields[k]; !ok {
				s.bad = append(s.bad, fmt.Sprintf("%s: no %q: %s", from, k, line))
				return
			}
		}
		var ts string
		if json.Unmarshal(fields["time"], &ts) != nil || !logTime.MatchString(ts) {
			s.bad = append(s.bad, fmt.Sprintf("%s: time is not RFC 3339 with milliseconds: %s", from, line))
			return
		}
	}
	if err := json.Unmarshal([]byte(line), &p); err != nil {
		s.bad = append(s.bad, fmt.Sprintf("%s: %v: %s", from, err, line))
		return
	}
	p.from, p.seen, p.raw = from, time.Now(), line
	s.pages = append(s.pages, p)
}

func (s *pageSink) snapshot() []page {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]page(nil), s.pages...)
}

func (s *pageSink) badLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bad...)
}

// waitFor polls the pages until done says so, and fails the test with
// everything it saw (and the daemons' logs) when timeout passes first.
func (s *pageSink) waitFor(t *testing.T, what string, timeout time.Duration, done func([]page) bool, ds ...*daemon) []page {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ps := s.snapshot()
		if done(ps) {
			return ps
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v. Pages so far:\n%s%s", what, timeout, dump(ps, time.Time{}), logsOf(ds))
		}
		time.Sleep(pollEvery)
	}
}

func counts(ps []page) map[string]int {
	n := map[string]int{}
	for _, p := range ps {
		n[p.step()]++
	}
	return n
}

// hasSteps is a waitFor condition: every step was paged at least once.
func hasSteps(steps ...string) func([]page) bool {
	return func(ps []page) bool {
		n := counts(ps)
		for _, s := range steps {
			if n[s] == 0 {
				return false
			}
		}
		return true
	}
}

func allSteps() []string {
	var s []string
	for _, l := range ladder {
		s = append(s, l.step)
	}
	return s
}

func atLeast(n int) func([]page) bool { return func(ps []page) bool { return len(ps) >= n } }

// first returns the earliest page of a step.
func first(ps []page, step string) (page, bool) {
	var best page
	found := false
	for _, p := range ps {
		if p.step() == step && (!found || p.Time.Before(best.Time)) {
			best, found = p, true
		}
	}
	return best, found
}

func dump(ps []page, created time.Time) string {
	ps = append([]page(nil), ps...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Time.Before(ps[j].Time) })
	var b strings.Builder
	for _, p := range ps {
		off := ""
		if !created.IsZero() {
			off = fmt.Sprintf("+%.3fs ", p.Time.Sub(created).Seconds())
		}
		fmt.Fprintf(&b, "  %-8s %s %-15s %s\n", p.from, off, p.step(), p.raw)
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}

func logsOf(ds []*daemon) string {
	var b strings.Builder
	for i, d := range ds {
		if d == nil {
			continue
		}
		l := d.log()
		if len(l) > 8000 {
			l = "...\n" + l[len(l)-8000:]
		}
		fmt.Fprintf(&b, "\n--- stderr of replica %d (%s) ---\n%s", i, d.addr, l)
	}
	return b.String()
}

// startReplica starts `pagerd serve` like startDaemonWith, with its stdout
// (where the log transport pages) going to sink under the name from.
func startReplica(t *testing.T, sink *pageSink, from, config string, args ...string) *daemon {
	t.Helper()
	return startDaemonOut(t, sink.writer(from), from, config, freeAddr(t), args...)
}

// kill9 kills the process as a crash would, and reaps it.
func (d *daemon) kill9() {
	d.t.Helper()
	if err := d.cmd.Process.Kill(); err != nil {
		d.t.Fatal(err)
	}
	_ = d.cmd.Wait()
}

func postAlert(t *testing.T, d *daemon) time.Time {
	t.Helper()
	if code, body := d.post("/api/v1/alertmanager", "../../configs/examples/alertmanager-firing.json", "Authorization", "Bearer "+demoKey); code != 200 {
		t.Fatalf("alertmanager webhook: %d %s", code, body)
	}
	return time.Now()
}

type incidentDetail struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Priority  string    `json:"priority"`
	CreatedAt time.Time `json:"created_at"`
	Timeline  []struct {
		At      time.Time `json:"at"`
		Type    string    `json:"type"`
		Level   int       `json:"level"`
		User    string    `json:"user"`
		Channel string    `json:"channel"`
		Detail  string    `json:"detail"`
	} `json:"timeline"`
}

func (d *daemon) incident(id string) incidentDetail {
	d.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+d.addr+"/api/v1/incidents/"+id, nil)
	req.Header.Set("Authorization", "Bearer demo-api-token-change-me")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		d.t.Fatalf("GET incident %s: %d %s", id, resp.StatusCode, body)
	}
	var inc incidentDetail
	if err := json.Unmarshal(body, &inc); err != nil {
		d.t.Fatalf("GET incident %s: %v: %s", id, err, body)
	}
	return inc
}

// notified counts the timeline's notify entries by step.
func (inc incidentDetail) notified() map[string]int {
	n := map[string]int{}
	for _, e := range inc.Timeline {
		if e.Type == "notify" {
			n[fmt.Sprintf("L%d %s %s", e.Level, e.User, e.Channel)]++
		}
	}
	return n
}

func (inc incidentDetail) String() string {
	var b strings.Builder
	for _, e := range inc.Timeline {
		fmt.Fprintf(&b, "  %s +%.3fs %-14s L%d %s %s %s\n", e.At.Format(time.RFC3339Nano), e.At.Sub(inc.CreatedAt).Seconds(),
			e.Type, e.Level, e.User, e.Channel, e.Detail)
	}
	return b.String()
}

// checkOnce asserts the pages are the ladder, every step exactly once, for
// one incident.
func checkOnce(t *testing.T, ps []page, created time.Time) {
	t.Helper()
	n := counts(ps)
	for _, l := range ladder {
		if n[l.step] != 1 {
			t.Errorf("%s paged %d times, want exactly once", l.step, n[l.step])
		}
	}
	if len(ps) != len(ladder) {
		t.Errorf("%d pages, want %d (one per step)", len(ps), len(ladder))
	}
	for _, p := range ps {
		if p.Incident != ps[0].Incident {
			t.Errorf("pages for two incidents: %s and %s", ps[0].Incident, p.Incident)
		}
	}
	if t.Failed() {
		t.Logf("pages:\n%s", dump(ps, created))
	}
}

// lateness is how late each step's first page was against the config.
func lateness(ps []page, created time.Time) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, l := range ladder {
		if p, ok := first(ps, l.step); ok {
			out[l.step] = p.Time.Sub(created.Add(l.at))
		}
	}
	return out
}

// checkOnTime asserts the given steps went out when the config says, within
// [-earlySlack, late].
func checkOnTime(t *testing.T, ps []page, created time.Time, late time.Duration, steps ...string) {
	t.Helper()
	lt := lateness(ps, created)
	for _, s := range steps {
		if d := lt[s]; d < -earlySlack || d > late {
			t.Errorf("%s went out %v late (allowed %v to %v)", s, d, -earlySlack, late)
		}
	}
}

func latenessTable(ps []page, created time.Time) string {
	lt := lateness(ps, created)
	var b strings.Builder
	for _, l := range ladder {
		p, ok := first(ps, l.step)
		if !ok {
			fmt.Fprintf(&b, "  %-14s due +%v: never\n", l.step, l.at)
			continue
		}
		fmt.Fprintf(&b, "  %-14s due +%v  sent +%.3fs by %s  late %v\n", l.step, l.at, p.Time.Sub(created).Seconds(), p.from, lt[l.step].Round(time.Millisecond))
	}
	return b.String()
}

// checkTimeline asserts the incident's timeline records each step once.
func checkTimeline(t *testing.T, inc incidentDetail) {
	t.Helper()
	n := inc.notified()
	for _, l := range ladder {
		if n[l.step] != 1 {
			t.Errorf("timeline has %d notify entries for %s, want 1:\n%s", n[l.step], l.step, inc)
			return
		}
	}
	esc := 0
	for _, e := range inc.Timeline {
		if e.Type == "escalate" {
			esc++
		}
	}
	if esc != 1 {
		t.Errorf("timeline has %d escalations, want 1:\n%s", esc, inc)
	}
}

func checkStdout(t *testing.T, sink *pageSink) {
	t.Helper()
	if bad := sink.badLines(); len(bad) > 0 {
		t.Errorf("stdout carries lines that are not page lines (time RFC 3339 with ms, incident, priority, level, user, channel, text):\n%s",
			strings.Join(bad, "\n"))
	}
}

// untilAfter sleeps until at (an outage lasting until steps are overdue).
func untilAfter(at time.Time) { time.Sleep(time.Until(at)) }

// TestReplicasEachStepOnce: three replicas on one Redis fire every step of
// the ladder, escalation included, exactly once between them, on time.
func TestReplicasEachStepOnce(t *testing.T) {
	r := redistest.Start(t)
	sink := &pageSink{}
	var rs []*daemon
	for i := range 3 {
		rs = append(rs, startReplica(t, sink, fmt.Sprintf("r%d", i), ladderConfig, "--redis-url", r.URL()))
	}
	postAlert(t, rs[1])
	sink.waitFor(t, "the whole ladder", ladderTimeout, hasSteps(allSteps()...), rs...)
	time.Sleep(settle)
	ps := sink.snapshot()
	inc := rs[2].incident(ps[0].Incident)

	t.Logf("incident %s created %s; pages:\n%s", inc.ID, inc.CreatedAt.Format(time.RFC3339Nano), latenessTable(ps, inc.CreatedAt))
	checkOnce(t, ps, inc.CreatedAt)
	checkOnTime(t, ps, inc.CreatedAt, lateSlack, allSteps()...)
	// The same, as the offsets between the pages themselves.
	push, _ := first(ps, "L1 demo push")
	for _, l := range ladder[1:] {
		if p, ok := first(ps, l.step); ok {
			if d := p.Time.Sub(push.Time) - l.at; d < -lateSlack || d > lateSlack {
				t.Errorf("%s went out %v after the push, want %v ± %v", l.step, p.Time.Sub(push.Time), l.at, lateSlack)
			}
		}
	}
	for _, p := range ps {
		if p.Priority != "P0" || p.Incident != inc.ID || !strings.Contains(p.Text, inc.ID) {
			t.Errorf("page %s: want priority P0 for incident %s", p.raw, inc.ID)
		}
	}
	checkTimeline(t, inc)
	checkStdout(t, sink)
	by := map[string]int{}
	for _, p := range ps {
		by[p.from]++
	}
	t.Logf("pages by replica: %v", by)
	for _, d := range rs {
		d.stop()
	}
}

// TestReplicasShareOneStormBundle: twenty alerts for one person reach three
// replicas at once. Between them the replicas send the first three pushes
// at once and one storm message for the other seventeen when the window
// closes: one bundle, not one per replica, and every incident named once.
func TestReplicasShareOneStormBundle(t *testing.T) {
	r := redistest.Start(t)
	base, err := os.ReadFile(ladderConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "storm.yaml")
	if err := os.WriteFile(cfg, append(base, "\nnotifiers:\n  storm: {window: 2s, immediate: 3}\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	sink := &pageSink{}
	var rs []*daemon
	for i := range 3 {
		rs = append(rs, startReplica(t, sink, fmt.Sprintf("r%d", i), cfg, "--redis-url", r.URL()))
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"version":"4","groupKey":"storm-%d","status":"firing","receiver":"pagerd","externalURL":"http://am",`+
				`"alerts":[{"status":"firing","labels":{"alertname":"Storm%d","severity":"critical"},"annotations":{"summary":"storm %d"},`+
				`"startsAt":"2025-01-01T00:00:00Z","fingerprint":"f%d"}]}`, i, i, i, i)
			req, _ := http.NewRequest("POST", "http://"+rs[i%3].addr+"/api/v1/alertmanager", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+demoKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("alert %d: %d", i, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	named := func(ps []page) map[string]int {
		n := map[string]int{}
		for _, p := range ps {
			if p.User != "demo" || p.Channel != "push" {
				continue
			}
			if len(p.Incidents) == 0 {
				n[p.Incident]++
			}
			for _, id := range p.Incidents {
				n[id]++
			}
		}
		return n
	}
	sink.waitFor(t, "every incident named in a push", 15*time.Second, func(ps []page) bool { return len(named(ps)) == 20 }, rs...)
	time.Sleep(settle)
	var pushes []page
	for _, p := range sink.snapshot() {
		if p.User == "demo" && p.Channel == "push" {
			pushes = append(pushes, p)
		}
	}
	bundles := 0
	for _, p := range pushes {
		if len(p.Incidents) > 0 {
			bundles++
			if len(p.Incidents) != 17 || !strings.HasPrefix(p.Text, "[P0] 17 incidents (alert storm)") {
				t.Errorf("storm message from %s carries %d incidents: %s", p.from, len(p.Incidents), p.Text)
			}
		}
	}
	if len(pushes) != 4 || bundles != 1 {
		t.Errorf("%d pushes to demo, %d of them storm messages; want 3 at once and 1 storm message", len(pushes), bundles)
	}
	for id, n := range named(sink.snapshot()) {
		if n != 1 {
			t.Errorf("incident %s named in %d pushes", id, n)
		}
	}
	checkStdout(t, sink)
	for _, d := range rs {
		d.stop()
	}
}

// TestReplicaKilledMidLadder: the replica that sent the first page is
// killed -9; the others fire every remaining step, each at most twice (one
// duplicate only for a step the dead replica had in flight).
//
// The kill lands a few ms after the push line is written. The dispatcher
// sends, stores the new state and releases its claim within a millisecond or
// two, so the victim usually holds no claim any more and the survivors fire
// the rest on time. If it did still hold the claim, the survivors wait for
// the lease (30s by default, ladderConfig does not change it), so this test
// allows 45s. TestReplicaKilledWhileSending kills a replica that certainly
// holds the claim.
func TestReplicaKilledMidLadder(t *testing.T) {
	r := redistest.Start(t)
	sink := &pageSink{}
	var rs []*daemon
	for i := range 3 {
		rs = append(rs, startReplica(t, sink, fmt.Sprintf("r%d", i), ladderConfig, "--redis-url", r.URL()))
	}
	postAlert(t, rs[0])
	firstPage := sink.waitFor(t, "the first page", ladderTimeout, atLeast(1), rs...)[0]
	var victim int
	if _, err := fmt.Sscanf(firstPage.from, "r%d", &victim); err != nil {
		t.Fatal(err)
	}
	rs[victim].kill9()
	killed := time.Now()
	survivors := append(append([]*daemon{}, rs[:victim]...), rs[victim+1:]...)
	t.Logf("killed r%d, which sent %s, %v after it sent it", victim, firstPage.step(), killed.Sub(firstPage.Time).Round(time.Millisecond))

	sink.waitFor(t, "the rest of the ladder after the kill", 45*time.Second, hasSteps(allSteps()...), survivors...)
	time.Sleep(settle)
	ps := sink.snapshot()
	inc := survivors[0].incident(ps[0].Incident)
	t.Logf("incident %s created %s; pages:\n%s", inc.ID, inc.CreatedAt.Format(time.RFC3339Nano), latenessTable(ps, inc.CreatedAt))

	n := counts(ps)
	dups := 0
	for _, l := range ladder {
		switch {
		case n[l.step] == 0:
			t.Errorf("%s never paged", l.step)
		case n[l.step] > 2:
			t.Errorf("%s paged %d times, want at most twice", l.step, n[l.step])
		case n[l.step] == 2:
			dups++
		}
	}
	if dups > 1 {
		t.Errorf("%d steps paged twice; only the step in flight at the kill may be", dups)
	}
	for _, p := range ps {
		if p.from == fmt.Sprintf("r%d", victim) && p.seen.After(killed) {
			t.Errorf("a page from the killed replica: %s", p.raw)
		}
	}
	takeover := false
	for _, d := range survivors {
		takeover = takeover || strings.Contains(d.log(), "took over an incident whose claim ran out")
	}
	var after []string
	for _, p := range ps {
		if p.Time.After(killed) || p.Time.Equal(killed) {
			after = append(after, p.step())
		}
	}
	t.Logf("takeover needed: %v; steps sent after the kill: %v; duplicates: %d", takeover, after, dups)
	if takeover {
		// Late by up to the lease, no more.
		checkOnTime(t, ps, inc.CreatedAt, 30*time.Second+3*time.Second, after...)
	} else {
		// A dead replica that held nothing must not slow anyone down.
		checkOnTime(t, ps, inc.CreatedAt, lateSlack, after...)
	}
	checkStdout(t, sink)
	if dups > 0 || t.Failed() {
		t.Logf("pages:\n%s\ntimeline:\n%s", dump(ps, inc.CreatedAt), inc)
	}
	for _, d := range survivors {
		d.stop()
	}
}

// hookRecorder is the webhook demo's SMS goes to in
// TestReplicaKilledWhileSending. Each replica's config gives it its own
// path, so a request says which replica sends it. The first request is held
// until release: its replica is killed while it holds the incident's claim.
type hookRecorder struct {
	sink    *pageSink
	held    chan string // the replica whose request is held
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	n       int
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	from := strings.TrimPrefix(r.URL.Path, "/")
	h.sink.mu.Lock()
	h.sink.addLocked(from, string(body), false)
	h.sink.mu.Unlock()
	h.mu.Lock()
	h.n++
	hold := h.n == 1
	h.mu.Unlock()
	if hold {
		h.held <- from
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookRecorder) unblock() { h.once.Do(func() { close(h.release) }) }

// TestReplicaKilledWhileSending: a replica is killed -9 in the middle of a
// step (its SMS request is held open by the webhook), so it dies holding the
// incident's claim. When the lease ends another replica takes the incident
// over and fires the SMS again (the one duplicate a crash allows) and the
// voice step that came due meanwhile; the second level is on time.
//
// The lease comes from server.lease in the config (2s here), so the test
// does not wait the 30s default.
func TestReplicaKilledWhileSending(t *testing.T) {
	const lease = 2 * time.Second
	base, err := os.ReadFile(ladderConfig)
	if err != nil {
		t.Fatal(err)
	}
	const demoSMS = "- {channel: sms, via: log}" // demo's comes first
	if !bytes.Contains(base, []byte(demoSMS)) {
		t.Fatalf("%s has no %q", ladderConfig, demoSMS)
	}
	sink := &pageSink{}
	hook := &hookRecorder{sink: sink, held: make(chan string, 1), release: make(chan struct{})}
	hs := httptest.NewServer(hook)
	t.Cleanup(func() { hook.unblock(); hs.Close() })

	r := redistest.Start(t)
	dir := t.TempDir()
	var rs []*daemon
	for i := range 3 {
		cfg := bytes.Replace(base, []byte(demoSMS),
			fmt.Appendf(nil, "- {channel: sms, via: webhook, address: %q}", fmt.Sprintf("%s/r%d", hs.URL, i)), 1)
		cfg = fmt.Appendf(cfg, "\nserver:\n  lease: %s\n", lease)
		path := filepath.Join(dir, fmt.Sprintf("r%d.yaml", i))
		if err := os.WriteFile(path, cfg, 0o600); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, startReplica(t, sink, fmt.Sprintf("r%d", i), path, "--redis-url", r.URL()))
	}
	postAlert(t, rs[0])
	var victimName string
	select {
	case victimName = <-hook.held:
	case <-time.After(ladderTimeout):
		t.Fatalf("no SMS reached the webhook. Pages:\n%s%s", dump(sink.snapshot(), time.Time{}), logsOf(rs))
	}
	var victim int
	if _, err := fmt.Sscanf(victimName, "r%d", &victim); err != nil {
		t.Fatal(err)
	}
	rs[victim].kill9()
	killed := time.Now()
	hook.unblock()
	survivors := append(append([]*daemon{}, rs[:victim]...), rs[victim+1:]...)

	sink.waitFor(t, "the rest of the ladder after the takeover", ladderTimeout, func(ps []page) bool {
		return hasSteps(allSteps()...)(ps) && counts(ps)["L1 demo sms"] >= 2
	}, survivors...)
	time.Sleep(settle)
	ps := sink.snapshot()
	inc := survivors[0].incident(ps[0].Incident)
	t.Logf("killed %s while it sent the SMS, %v after the incident was created; pages:\n%s",
		victimName, killed.Sub(inc.CreatedAt).Round(time.Millisecond), latenessTable(ps, inc.CreatedAt))
	t.Logf("all pages:\n%s", dump(ps, inc.CreatedAt))

	n := counts(ps)
	for _, l := range ladder {
		want := 1
		if l.step == "L1 demo sms" {
			want = 2 // the one in flight at the kill, and the takeover's
		}
		if n[l.step] != want {
			t.Errorf("%s paged %d times, want %d", l.step, n[l.step], want)
		}
	}
	var retried []page
	for _, p := range ps {
		if p.step() == "L1 demo sms" && p.from != victimName {
			retried = append(retried, p)
		}
	}
	if len(retried) != 1 {
		t.Fatalf("want the SMS sent once by a survivor, got %d:\n%s", len(retried), dump(ps, inc.CreatedAt))
	}
	// The dead replica's claim began when the SMS came due (+1s), so the
	// takeover comes a lease later: the SMS about `lease` late, the voice
	// (due +2s) with it.
	smsLate := retried[0].Time.Sub(inc.CreatedAt.Add(time.Second))
	if smsLate < lease-earlySlack || smsLate > lease+lateSlack+500*time.Millisecond {
		t.Errorf("the SMS was sent again %v late; want about the lease, %v", smsLate, lease)
	}
	voice, _ := first(ps, "L1 demo voice")
	if voice.Time.Before(retried[0].Time.Add(-earlySlack)) || voice.Time.Sub(retried[0].Time) > lateSlack {
		t.Errorf("voice at %s, want it with the taken-over SMS at %s", voice.Time, retried[0].Time)
	}
	checkOnTime(t, ps, inc.CreatedAt, lateSlack, "L1 demo push", "L2 ops push", "L2 ops sms", "L2 ops voice")
	takeovers := 0
	for _, d := range survivors {
		takeovers += strings.Count(d.log(), "took over an incident whose claim ran out")
	}
	if takeovers != 1 {
		t.Errorf("survivors logged %d takeovers, want 1%s", takeovers, logsOf(survivors))
	}
	checkTimeline(t, inc)
	checkStdout(t, sink)
	for _, d := range survivors {
		d.stop()
	}
}

// waitRecorded waits until the store has the push: it is in the
// incident's timeline, so the dispatcher stored the step after sending it.
func waitRecorded(t *testing.T, d *daemon, id, step string) incidentDetail {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		inc := d.incident(id)
		if inc.notified()[step] > 0 {
			return inc
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not in the timeline of %s:\n%s", step, id, inc)
		}
		time.Sleep(pollEvery)
	}
}

// TestRedisRestartMidLadder: Redis goes away after the first page and comes
// back once two steps are overdue; they go out right after, none lost, none
// twice, and the rest of the ladder is on time.
func TestRedisRestartMidLadder(t *testing.T) {
	r := redistest.Start(t, redistest.WithAOF())
	sink := &pageSink{}
	d := startReplica(t, sink, "r0", ladderConfig, "--redis-url", r.URL())
	postAlert(t, d)
	firstPage := sink.waitFor(t, "the first page", ladderTimeout, atLeast(1), d)[0]
	inc := waitRecorded(t, d, firstPage.Incident, "L1 demo push")
	// ... and released its claim (Complete, right after the update):
	// killing Redis between the two would leave the incident claimed for
	// the 30s lease, which is not what this test is about.
	rc := r.Client(t)
	ctx := context.Background()
	for deadline := time.Now().Add(5 * time.Second); ; {
		keys, err := rc.Keys(ctx, "*claims*").Result()
		if err != nil {
			t.Fatal(err)
		}
		held := int64(0)
		for _, k := range keys {
			held += rc.HLen(ctx, k).Val()
		}
		if held == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the push's claim is still held (keys %v)", keys)
		}
		time.Sleep(pollEvery)
	}
	r.Kill(t)
	down := time.Now()
	if ps := sink.snapshot(); len(ps) != 1 {
		t.Fatalf("this machine is too slow for the test: Redis went down %v after the incident was created, with these pages out:\n%s",
			down.Sub(inc.CreatedAt), dump(ps, inc.CreatedAt))
	}
	// The one fixed wait: Redis stays down until the SMS (+1s) and the
	// voice call (+2s) are overdue.
	untilAfter(inc.CreatedAt.Add(2500 * time.Millisecond))
	if ps := sink.snapshot(); len(ps) != 1 {
		t.Fatalf("pages while Redis was down:\n%s", dump(ps, inc.CreatedAt))
	}
	restart := time.Now()
	r.Restart(t)
	up := time.Now()
	t.Logf("redis killed at +%.3fs, restarted at +%.3fs, answering at +%.3fs",
		down.Sub(inc.CreatedAt).Seconds(), restart.Sub(inc.CreatedAt).Seconds(), up.Sub(inc.CreatedAt).Seconds())

	sink.waitFor(t, "the ladder after Redis came back", ladderTimeout, hasSteps(allSteps()...), d)
	time.Sleep(settle)
	ps := sink.snapshot()
	t.Logf("pages:\n%s", latenessTable(ps, inc.CreatedAt))
	checkOnce(t, ps, inc.CreatedAt)
	for _, s := range []string{"L1 demo sms", "L1 demo voice"} {
		p, _ := first(ps, s)
		t.Logf("%s went out %v after Redis answered again", s, p.Time.Sub(up).Round(time.Millisecond))
		if p.Time.Before(restart.Add(-earlySlack)) || p.Time.Sub(up) > 3*time.Second {
			t.Errorf("%s went out at +%.3fs; want it within 3s of Redis answering again (+%.3fs)", s,
				p.Time.Sub(inc.CreatedAt).Seconds(), up.Sub(inc.CreatedAt).Seconds())
		}
	}
	checkOnTime(t, ps, inc.CreatedAt, lateSlack, "L1 demo push", "L2 ops push", "L2 ops sms", "L2 ops voice")
	checkTimeline(t, d.incident(inc.ID))
	checkStdout(t, sink)
	d.stop()
}

// TestEmbeddedRestartMidLadder: the single replica on the embedded store is
// stopped after the first page and started again on the same data
// directory once two steps are overdue; they go out right after the start,
// the push is not repeated, and the rest of the ladder is on time.
func TestEmbeddedRestartMidLadder(t *testing.T) {
	dataDir := t.TempDir()
	sink := &pageSink{}
	d := startReplica(t, sink, "first", ladderConfig, "--data-dir", dataDir)
	postAlert(t, d)
	firstPage := sink.waitFor(t, "the first page", ladderTimeout, atLeast(1), d)[0]
	inc := waitRecorded(t, d, firstPage.Incident, "L1 demo push")
	// The claim is released right after the update the timeline shows; the
	// embedded store cannot be read while pagerd holds it, so give it a
	// moment (a step in flight at SIGTERM is another matter).
	time.Sleep(50 * time.Millisecond)
	d.stop()
	down := time.Now()
	if ps := sink.snapshot(); len(ps) != 1 {
		t.Fatalf("this machine is too slow for the test: pagerd stopped %v after the incident was created, with these pages out:\n%s",
			down.Sub(inc.CreatedAt), dump(ps, inc.CreatedAt))
	}
	// The one fixed wait: pagerd stays down until the SMS (+1s) and the
	// voice call (+2s) are overdue.
	untilAfter(inc.CreatedAt.Add(2500 * time.Millisecond))
	start := time.Now()
	d2 := startReplica(t, sink, "second", ladderConfig, "--data-dir", dataDir)
	ready := time.Now()
	t.Logf("stopped at +%.3fs, started again at +%.3fs, ready at +%.3fs",
		down.Sub(inc.CreatedAt).Seconds(), start.Sub(inc.CreatedAt).Seconds(), ready.Sub(inc.CreatedAt).Seconds())

	sink.waitFor(t, "the ladder after the restart", ladderTimeout, hasSteps(allSteps()...), d, d2)
	time.Sleep(settle)
	ps := sink.snapshot()
	t.Logf("pages:\n%s", latenessTable(ps, inc.CreatedAt))
	checkOnce(t, ps, inc.CreatedAt)
	for _, p := range ps {
		if want := "second"; p.step() != "L1 demo push" && p.from != want {
			t.Errorf("%s sent by the %s process, want the %s", p.step(), p.from, want)
		}
	}
	for _, s := range []string{"L1 demo sms", "L1 demo voice"} {
		p, _ := first(ps, s)
		t.Logf("%s went out %v after the second start (%v after ready)", s, p.Time.Sub(start).Round(time.Millisecond), p.Time.Sub(ready).Round(time.Millisecond))
		if p.Time.Before(start) || p.Time.Sub(ready) > 3*time.Second {
			t.Errorf("%s went out at +%.3fs; want it right after the start (+%.3fs, ready +%.3fs)", s,
				p.Time.Sub(inc.CreatedAt).Seconds(), start.Sub(inc.CreatedAt).Seconds(), ready.Sub(inc.CreatedAt).Seconds())
		}
	}
	checkOnTime(t, ps, inc.CreatedAt, lateSlack, "L1 demo push", "L2 ops push", "L2 ops sms", "L2 ops voice")
	checkTimeline(t, d2.incident(inc.ID))
	checkStdout(t, sink)
	d2.stop()
}

// TestReplicaStoppedWhileSending: a replica told to stop (SIGTERM, a rolling
// deploy) while a page is in flight finishes that step, records it and
// releases the incident before it exits: the SMS goes out once, nobody takes
// anything over, and the rest of the ladder is on time even with the
// default 30s lease.
func TestReplicaStoppedWhileSending(t *testing.T) {
	base, err := os.ReadFile(ladderConfig)
	if err != nil {
		t.Fatal(err)
	}
	const demoSMS = "- {channel: sms, via: log}"
	sink := &pageSink{}
	hook := &hookRecorder{sink: sink, held: make(chan string, 1), release: make(chan struct{})}
	hs := httptest.NewServer(hook)
	t.Cleanup(func() { hook.unblock(); hs.Close() })
	r := redistest.Start(t)
	dir := t.TempDir()
	var rs []*daemon
	for i := range 2 {
		cfg := bytes.Replace(base, []byte(demoSMS),
			fmt.Appendf(nil, "- {channel: sms, via: webhook, address: %q}", fmt.Sprintf("%s/r%d", hs.URL, i)), 1)
		path := filepath.Join(dir, fmt.Sprintf("r%d.yaml", i))
		if err := os.WriteFile(path, cfg, 0o600); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, startReplica(t, sink, fmt.Sprintf("r%d", i), path, "--redis-url", r.URL()))
	}
	postAlert(t, rs[0])
	var victimName string
	select {
	case victimName = <-hook.held:
	case <-time.After(ladderTimeout):
		t.Fatalf("no SMS reached the webhook%s", logsOf(rs))
	}
	var victim int
	if _, err := fmt.Sscanf(victimName, "r%d", &victim); err != nil {
		t.Fatal(err)
	}
	if err := rs[victim].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- rs[victim].cmd.Wait() }()
	time.Sleep(300 * time.Millisecond) // the provider is slow to answer
	hook.unblock()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the stopped replica exited with %v%s", err, logsOf(rs))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stopped replica did not exit")
	}
	survivor := rs[1-victim]
	sink.waitFor(t, "the rest of the ladder", ladderTimeout, hasSteps(allSteps()...), survivor)
	time.Sleep(settle)
	ps := sink.snapshot()
	inc := survivor.incident(ps[0].Incident)
	t.Logf("pages:\n%s", latenessTable(ps, inc.CreatedAt))
	for step, n := range counts(ps) {
		if n != 1 {
			t.Errorf("%s paged %d times, want once", step, n)
		}
	}
	checkOnTime(t, ps, inc.CreatedAt, lateSlack, "L1 demo push", "L1 demo voice", "L2 ops push", "L2 ops sms", "L2 ops voice")
	if strings.Contains(survivor.log(), "took over") || strings.Contains(rs[victim].log(), "step failed") {
		t.Errorf("the step in flight was not finished by the stopping replica%s", logsOf(rs))
	}
	survivor.stop()
}
