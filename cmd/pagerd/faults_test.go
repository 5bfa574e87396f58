package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/redistest"
)

// Faults that are not crashes, on the real binary: a stalled Redis, a
// Redis over its maxmemory, a store that refuses to record a page already
// sent, a full disk under the embedded store. docs/RELIABILITY.md lists what
// each proves.

// faultConfig pages one person on the webhook transport to receiver, with
// a short lease so a takeover comes quickly.
func faultConfig(t *testing.T, receiver string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
api:
  tokens: [{name: ops, token: demo-api-token-change-me}]
server:
  lease: 2s
users:
  - id: ann
    name: Ann
    contacts: [{channel: push, via: webhook, address: %q}, {channel: sms, via: webhook, address: %q}]
    notification_rules:
      high: [{after: 0s, channel: push}, {after: 1h, channel: sms}]
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers: [{name: primary, start: 2025-01-06, members: [ann]}]
escalation_policies:
  - name: p
    repeat: 2
    levels: [{name: primary, targets: [{schedule: s, tier: primary}], timeout: 2h}]
services:
  - name: demo
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: %s}
`, receiver+"/ann", receiver+"/ann", demoKey)
	path := filepath.Join(t.TempDir(), "pagerd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// hook is the far side of the webhook transport; onPage, when set, runs
// before each page is answered.
type hook struct {
	mu     sync.Mutex
	pages  []string // incident of each page, in arrival order
	onPage func()
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m struct{ Incident string }
	_ = json.NewDecoder(r.Body).Decode(&m)
	h.mu.Lock()
	h.pages = append(h.pages, m.Incident)
	f := h.onPage
	h.mu.Unlock()
	if f != nil {
		f()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hook) count() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.pages) }

// alertBody is a one-alert Alertmanager notification of its own group.
func alertBody(group string) string {
	return fmt.Sprintf(`{"version":"4","groupKey":%q,"status":"firing","receiver":"pagerd","externalURL":"http://am",`+
		`"alerts":[{"status":"firing","labels":{"alertname":"Fault","severity":"critical","group":%q},"annotations":{"summary":"fault test"},`+
		`"startsAt":"2025-01-01T00:00:00Z","fingerprint":"f0"}]}`, group, group)
}

// send posts an alert and returns the status, the body and how long the
// answer took.
func (d *daemon) send(group string) (int, string, time.Duration) {
	d.t.Helper()
	req, _ := http.NewRequest("POST", "http://"+d.addr+"/api/v1/alertmanager", strings.NewReader(alertBody(group)))
	req.Header.Set("Authorization", "Bearer "+demoKey)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		d.t.Fatalf("alert %s: %v (after %v)", group, err, time.Since(start))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(start)
}

// get does an API GET and returns the status and body.
func (d *daemon) get(path string) (int, string) {
	d.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+d.addr+path, nil)
	req.Header.Set("Authorization", "Bearer demo-api-token-change-me")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// readyWithin polls /-/ready until it answers want, and returns how long it
// took and the last body.
func (d *daemon) readyWithin(t *testing.T, want int, limit time.Duration) (time.Duration, string) {
	t.Helper()
	start := time.Now()
	for {
		code, body := d.get("/-/ready")
		if code == want {
			return time.Since(start), body
		}
		if time.Since(start) > limit {
			t.Fatalf("/-/ready answered %d %q for %v; want %d", code, body, limit, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFaultRedisStalled: Redis stops answering (SIGSTOP) with the alert's
// script already in its input buffer (the maintenance windows read and
// cached by an alert before). Ingestion answers 503 within its
// 5 s budget, without claiming that nothing was stored; reads are bounded
// too; readiness goes red. When Redis resumes the script runs, and the
// retry the 503 asked for lands on the same incident: one incident, one
// page. (Before: a 503 "nothing was stored" after ~20 s, then a second
// incident for a keyless PagerDuty retry.)
func TestFaultRedisStalled(t *testing.T) {
	r := redistest.Start(t)
	h := &hook{}
	rs := httptest.NewServer(h)
	defer rs.Close()
	d := startDaemonOut(t, io.Discard, "pagerd", faultConfig(t, rs.URL), freeAddr(t), "--redis-url", r.URL())
	// An alert first, so the maintenance windows are read and cached:
	// the stalled alert's own script must be what waits on Redis (with
	// nothing read yet, its window lookup waits instead, its script is
	// never sent, and "nothing was stored" is then true).
	if code, body, _ := d.send("warm"); code != 200 {
		t.Fatalf("the first alert: %d %s", code, body)
	}

	r.Pause(t)
	code, body, took := d.send("stalled")
	t.Logf("alert while Redis is stalled: %d after %v: %s", code, took.Round(time.Millisecond), body)
	if code != 503 || took > 7*time.Second || !strings.Contains(body, "may or may not have been stored") {
		t.Fatalf("want a 503 within 7 s that does not claim nothing was stored; got %d after %v: %s", code, took, body)
	}
	start := time.Now()
	if code, _ := d.get("/api/v1/incidents"); code != 503 || time.Since(start) > 7*time.Second {
		t.Fatalf("listing incidents while Redis is stalled: %d after %v", code, time.Since(start))
	}
	redAfter, why := d.readyWithin(t, 503, 10*time.Second)
	t.Logf("/-/ready red %v after asking: %s", redAfter.Round(time.Millisecond), strings.TrimSpace(why))

	r.Resume(t)
	greenAfter, _ := d.readyWithin(t, 200, 10*time.Second)
	t.Logf("/-/ready green %v after Redis resumed", greenAfter.Round(time.Millisecond))
	code, body, _ = d.send("stalled")
	if code != 200 {
		t.Fatalf("the retry: %d %s", code, body)
	}
	var list incidentList
	_, lb := d.get("/api/v1/incidents")
	if err := json.Unmarshal([]byte(lb), &list); err != nil || len(list.Incidents) != 2 {
		t.Fatalf("incidents after the stall and the retry: %s, want the first alert's and the stalled one's", lb)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.count() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := h.count(); n != 2 {
		h.mu.Lock()
		defer h.mu.Unlock()
		t.Fatalf("%d pages for the two incidents, want 2: pages of %v; incidents %s", n, h.pages, lb)
	}
}

// TestFaultRedisOverMaxmemory: Redis refuses every write (maxmemory with
// noeviction) while it still answers PING. Readiness goes red within
// seconds and an alert gets a 503 that says nothing was stored (Redis
// refused the script outright); when memory is freed readiness is green
// again and the alert is taken. (Before: /-/ready stayed 200 while every
// alert got a 503.)
func TestFaultRedisOverMaxmemory(t *testing.T) {
	r := redistest.Start(t)
	rdb := r.Client(t)
	h := &hook{}
	rs := httptest.NewServer(h)
	defer rs.Close()
	d := startDaemonOut(t, io.Discard, "pagerd", faultConfig(t, rs.URL), freeAddr(t), "--redis-url", r.URL())
	ctx := context.Background()
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	redAfter, why := d.readyWithin(t, 503, 10*time.Second)
	t.Logf("/-/ready red %v after maxmemory: %s", redAfter.Round(time.Millisecond), strings.TrimSpace(why))
	if !strings.Contains(why, "refuses writes") {
		t.Errorf("readiness does not say why: %q", why)
	}
	code, body, took := d.send("oom")
	if code != 503 || !strings.Contains(body, "nothing was stored") {
		t.Fatalf("alert over maxmemory: %d after %v: %s", code, took, body)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	// Green once the probe passes and the refused alert is 10 s old (no
	// alert has come to show writes work again).
	greenAfter, _ := d.readyWithin(t, 200, 20*time.Second)
	t.Logf("/-/ready green %v after maxmemory was lifted", greenAfter.Round(time.Millisecond))
	if code, body, _ := d.send("oom"); code != 200 {
		t.Fatalf("alert after recovery: %d %s", code, body)
	}
}

// TestFaultRecordRefusedAfterSend: the push goes out, and at that moment
// Redis starts refusing writes (the receiver sets maxmemory before it
// answers), so the step cannot be recorded and comes back after the lease,
// again and again while the fault lasts (three leases here). When Redis
// takes writes again the step is recorded without being sent again: one
// push. (Before: sent again once the lease ran out; with the embedded
// store on a full disk, once per lease for as long as it was full.)
func TestFaultRecordRefusedAfterSend(t *testing.T) {
	r := redistest.Start(t)
	rdb := r.Client(t)
	ctx := context.Background()
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	h := &hook{}
	var once sync.Once
	h.onPage = func() {
		once.Do(func() {
			if err := rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
				t.Error(err)
			}
		})
	}
	rs := httptest.NewServer(h)
	defer rs.Close()
	d := startDaemonOut(t, io.Discard, "pagerd", faultConfig(t, rs.URL), freeAddr(t), "--redis-url", r.URL())
	code, body, _ := d.send("refused")
	if code != 200 {
		t.Fatalf("alert: %d %s", code, body)
	}
	var res struct{ Incidents []string }
	_ = json.Unmarshal([]byte(body), &res)
	time.Sleep(6 * time.Second) // three leases of 2 s with writes refused
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	// The step is recorded once Redis takes writes (the dispatcher looks
	// again within its backoff, at most 5 s).
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, b := d.get("/api/v1/incidents/" + res.Incidents[0])
		if strings.Count(b, `"type":"notify"`) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the push was never recorded: %s\n%s", b, d.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond) // another lease, for a late duplicate
	if n := h.count(); n != 1 {
		t.Fatalf("the push went out %d times, want once", n)
	}
	_, b := d.get("/api/v1/incidents/" + res.Incidents[0])
	if n := strings.Count(b, `"type":"notify"`); n != 1 {
		t.Fatalf("the timeline records %d pushes, want 1: %s", n, b)
	}
}

// TestFaultEmbeddedDiskFull: the embedded store's disk fills up (a small
// tmpfs as the data dir). Writes fail, readiness goes red within seconds,
// and alerts get 503; when space is freed, readiness is green again and
// alerts are taken. Needs root to mount the tmpfs; without root the
// in-process TestStoreRefusingRecordsSendsAStepOnce and
// TestReadinessFollowsWrites (gateway) inject the same fault.
func TestFaultEmbeddedDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; gateway's TestReadinessFollowsWrites injects the fault instead")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); gateway's TestReadinessFollowsWrites injects the fault instead", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	h := &hook{}
	rs := httptest.NewServer(h)
	defer rs.Close()
	d := startDaemonOut(t, io.Discard, "pagerd", faultConfig(t, rs.URL), freeAddr(t), "--data-dir", filepath.Join(dir, "data"))
	if code, body, _ := d.send("before"); code != 200 {
		t.Fatalf("alert before the disk fills: %d %s", code, body)
	}
	// Fill the disk.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	refused := 0
	for i := 0; i < 200 && refused == 0; i++ {
		code, body, _ := d.send(fmt.Sprintf("full-%d", i))
		if code == 503 {
			refused++
			if !strings.Contains(body, "nothing was stored") {
				t.Errorf("a failed commit on a full disk: %s", body)
			}
		}
	}
	if refused == 0 {
		t.Fatal("200 alerts were all taken on a full disk")
	}
	redAfter, why := d.readyWithin(t, 503, 5*time.Second)
	t.Logf("/-/ready red %v after the first refused write: %s", redAfter.Round(time.Millisecond), strings.TrimSpace(why))
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// Freed: the next alert is taken, and readiness follows.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, _ := d.send("after")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alerts still refused after the disk was freed: %d\n%s", code, d.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	greenAfter, _ := d.readyWithin(t, 200, 10*time.Second)
	t.Logf("/-/ready green %v after space was freed", greenAfter.Round(time.Millisecond))
}

// TestFaultRedisEvictingPolicy: a Redis whose maxmemory-policy evicts any
// key (allkeys-lru, what many managed Redis offer) with a maxmemory deletes incidents after
// pagerd answered 200 for them. The audit that found it: 600 alerts
// answered 200, 525 gone, 6 pages, /-/ready 200 and nothing in the log.
// pagerd is not ready on such a Redis, from the start, and says why in the
// log and in /-/ready, with the fix; noeviction makes it ready. (The
// policy is set once the daemon runs, as the harness waits for it to be
// ready; TestNotReadyWhileRedisEvictsAnyKey has it from the start.)
func TestFaultRedisEvictingPolicy(t *testing.T) {
	r := redistest.Start(t)
	rdb := r.Client(t)
	ctx := context.Background()
	h := &hook{}
	rs := httptest.NewServer(h)
	defer rs.Close()
	d := startDaemonOut(t, io.Discard, "pagerd", faultConfig(t, rs.URL), freeAddr(t), "--redis-url", r.URL())
	// With a maxmemory: without one Redis evicts nothing, whatever its
	// policy (TestReadyOnAllKeysPolicyWithoutMaxmemory).
	for _, kv := range [][2]string{{"maxmemory", "1gb"}, {"maxmemory-policy", "allkeys-lru"}} {
		if err := rdb.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	_, why := d.readyWithin(t, 503, 10*time.Second)
	if !strings.Contains(why, "maxmemory-policy allkeys-lru") || !strings.Contains(why, "set maxmemory-policy noeviction") {
		t.Errorf("/-/ready does not name the policy and the fix: %q", why)
	}
	if !logHas(d, "ERROR", "maxmemory-policy allkeys-lru", "maxmemory-policy noeviction") {
		t.Errorf("no ERROR naming the policy and the fix:\n%s", d.log())
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	d.readyWithin(t, 200, 10*time.Second)
}

// TestFaultRedisWipedUnderDaemon: Redis (no persistence) restarts empty
// after the first page of a ladder: the incident and its remaining steps
// are gone, and nothing can page them. pagerd says so: /-/ready red, an
// ERROR, pagerd_store_data_lost_total. (Before: ready 200, only a
// connection EOF in the log.)
func TestFaultRedisWipedUnderDaemon(t *testing.T) {
	r := redistest.Start(t) // --save "" --appendonly no
	sink := &pageSink{}
	d := startReplica(t, sink, "r0", ladderConfig, "--redis-url", r.URL())
	postAlert(t, d)
	firstPage := sink.waitFor(t, "the first page", ladderTimeout, atLeast(1), d)[0]
	waitRecorded(t, d, firstPage.Incident, "L1 demo push")
	if got := scrape(t, d, "pagerd_store_data_lost_total"); got != "0" {
		t.Fatalf("pagerd_store_data_lost_total before the wipe: %q, want 0", got)
	}
	r.Kill(t)
	r.Restart(t) // empty: no persistence
	// The first answers may be the connections the restart closed.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, why := d.get("/-/ready")
		if code == 503 && strings.Contains(why, "lost its data") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/-/ready does not say the data was lost 10 s after the wipe: %d %q\n%s", code, why, d.log())
		}
	}
	// The probe counts and logs the loss after /-/ready says it, and the
	// log comes through a pipe: read at once, either could be missing yet.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		logged := logHas(d, "ERROR", "Redis lost pagerd's data: open incidents and their pending pages are gone")
		counted := scrape(t, d, "pagerd_store_data_lost_total")
		if logged && counted == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after /-/ready said the data was lost: pagerd_store_data_lost_total %q, want 1; an ERROR saying so: %v\n%s", counted, logged, d.log())
		}
	}
	d.stop()
}

// logHas says whether the daemon logged a line at level holding every part.
func logHas(d *daemon, level string, parts ...string) bool {
	for _, l := range strings.Split(d.log(), "\n") {
		ok := strings.Contains(l, `"level":"`+level+`"`)
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// scrape is the value of an unlabelled series in /metrics, "" when absent.
func scrape(t *testing.T, d *daemon, name string) string {
	t.Helper()
	_, body := d.get("/metrics")
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	return ""
}
