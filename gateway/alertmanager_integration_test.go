package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/policy"
)

// TestRealAlertmanager proves wire compatibility with the real thing: Debian's
// prometheus-alertmanager 0.25 sends to an in-process pagerd (on a real
// loopback listener, backed by a real Redis) through both of the ways users
// connect them, the webhook receiver and the pagerduty_configs receiver
// pointed at pagerd's /v2/enqueue. Each alert group must become exactly one
// incident per receiver, with the right priority, summary and details; a
// re-notification of a group must be a repeat, not a new incident; and the
// resolved notifications must resolve all of them. Alertmanager's own metrics
// must show every notification succeeded.
//
// On failure the test prints what Alertmanager sent and what pagerd answered
// (raw HTTP, captured on pagerd's listener), Alertmanager's debug log and
// pagerd's log.
func TestRealAlertmanager(t *testing.T) {
	amBin := amITLookAlertmanager(t)
	if len(amITPDKey) != 32 {
		t.Fatalf("amITPDKey must be 32 characters like a PagerDuty routing key, is %d", len(amITPDKey))
	}

	// pagerd, in process, on Redis, on a real listener whose traffic is
	// recorded.
	r := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tap := &amITTap{}
	h := newHarness(t, withStore(redisstore.New(rdb, "amit")), withConfig(amITConfig), withNow(time.Now),
		onListener(&amITTapListener{Listener: l, tap: tap}))
	pagerdLog := h.logs
	h.runFor(t)
	pagerdURL := "http://" + l.Addr().String()

	// Alertmanager, pointed at pagerd.
	tmpl, err := os.ReadFile(filepath.Join("testdata", "alertmanager", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	amCfg := strings.NewReplacer("@PAGERD_URL@", pagerdURL, "@AM_KEY@", amITKey, "@PD_KEY@", amITPDKey).Replace(string(tmpl))
	am := amITStartAlertmanager(t, amBin, amCfg)

	// Registered last, so it runs first: the processes are still up.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		t.Logf("--- what Alertmanager sent to pagerd and what pagerd answered (raw HTTP) ---\n%s", tap.dump())
		t.Logf("--- tail of Alertmanager's log (%s) ---\n%s", am.logPath, amITTail(am.logPath, 80))
		t.Logf("--- tail of pagerd's log (without the test's polling) ---\n%s", amITTailString(amITWithoutPolling(pagerdLog.String()), 60))
	})

	api := &amITClient{base: pagerdURL}
	start := time.Now()
	startsAt := start.Add(-time.Minute).UTC()
	diskDB1 := amITAlert{Labels: map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db1"},
		Annotations: map[string]string{"summary": "disk full on db1"}, GeneratorURL: amITGeneratorURL, StartsAt: startsAt}
	latency := amITAlert{Labels: map[string]string{"alertname": "HighLatency", "severity": "warning"},
		Annotations: map[string]string{"summary": "p99 latency above 2s"}, GeneratorURL: amITGeneratorURL, StartsAt: startsAt}

	// 1. Two alerts, two groups: one incident per group and receiver.
	am.postAlerts(t, diskDB1, latency)
	incs := api.waitFor(t, "an incident per alert group from each receiver (4)", func(m amITIncidents) bool { return len(m) == 4 })
	wantSummaries := map[string]string{
		"alertmanager/DiskFull":    "disk full on db1",
		"alertmanager/HighLatency": "p99 latency above 2s",
		// Alertmanager's default pagerduty.default.description ("__subject").
		"pagerduty/DiskFull":    "[FIRING:1] DiskFull (db1 critical)",
		"pagerduty/HighLatency": "[FIRING:1] HighLatency (warning)",
	}
	wantPriority := map[string]string{"DiskFull": "P0", "HighLatency": "P2"}
	for key, want := range wantSummaries {
		v, ok := incs[key]
		if !ok {
			t.Fatalf("no incident for %s; have %s", key, incs)
		}
		source, alertname, _ := strings.Cut(key, "/")
		if v.Status != policy.StatusTriggered || v.Priority != wantPriority[alertname] || v.Service != amITService ||
			v.Source != source || v.Summary != want {
			t.Errorf("%s: got status %s, priority %s, service %s, source %s, summary %q; want triggered, %s, %s, %s, %q",
				key, v.Status, v.Priority, v.Service, v.Source, v.Summary, wantPriority[alertname], amITService, source, want)
		}
		prefix := map[string]string{"alertmanager": "am:", "pagerduty": "pd:"}[source]
		if !strings.HasPrefix(v.DedupKey, prefix) {
			t.Errorf("%s: dedup key %q does not start with %q", key, v.DedupKey, prefix)
		}
	}
	for _, key := range []string{"alertmanager/DiskFull", "alertmanager/HighLatency"} {
		details := string(incs[key].Details)
		for _, want := range []string{amITGeneratorURL, am.url, `"receiver":"pagerd-webhook"`} {
			if !strings.Contains(details, want) {
				t.Errorf("%s: details lack %s: %s", key, want, details)
			}
		}
	}
	if d := string(incs["alertmanager/DiskFull"].Details); !strings.Contains(d, `"instance":"db1"`) {
		t.Errorf("alertmanager/DiskFull: details lack the instance label: %s", d)
	}
	if d := string(incs["pagerduty/DiskFull"].Details); !strings.Contains(d, am.url) {
		t.Errorf("pagerduty/DiskFull: details lack Alertmanager's client_url (%s): %s", am.url, d)
	}
	if t.Failed() {
		t.FailNow()
	}

	// 2. A second alert joins the DiskFull group: Alertmanager notifies both
	// receivers about the group again. Those are repeats of the open
	// incidents, not new ones.
	diskDB2 := diskDB1
	diskDB2.Labels = map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db2"}
	diskDB2.Annotations = map[string]string{"summary": "disk full on db2"}
	am.postAlerts(t, diskDB2)
	incs = api.waitFor(t, "Alertmanager's re-notification of the DiskFull group recorded as repeats", func(m amITIncidents) bool {
		return m["alertmanager/DiskFull"].Repeats >= 1 && m["pagerduty/DiskFull"].Repeats >= 1
	})
	for key, v := range incs {
		if v.Status != policy.StatusTriggered {
			t.Errorf("%s after the re-notification: status %s, want triggered", key, v.Status)
		}
	}

	// 3. Resolve everything: the resolved notifications of both receivers
	// resolve all four incidents.
	now := time.Now().UTC()
	for _, a := range []*amITAlert{&diskDB1, &diskDB2, &latency} {
		a.EndsAt = now
	}
	am.postAlerts(t, diskDB1, diskDB2, latency)
	incs = api.waitFor(t, "all four incidents resolved", func(m amITIncidents) bool {
		for _, v := range m {
			if v.Status != policy.StatusResolved {
				return false
			}
		}
		return true
	})
	for key, v := range incs {
		source, _, _ := strings.Cut(key, "/")
		if v.ResolvedBy != source || v.ResolvedAt == nil || v.NextStepAt != nil {
			t.Errorf("%s: resolved by %q at %v, next step %v; want resolved by %q, nothing pending", key, v.ResolvedBy, v.ResolvedAt, v.NextStepAt, source)
		}
	}
	tl := api.timeline(t, incs["alertmanager/DiskFull"].ID)
	if len(tl) < 2 || tl[0] != "trigger" || tl[len(tl)-1] != "resolve" {
		t.Errorf("alertmanager/DiskFull timeline %v: want trigger first and resolve last", tl)
	}

	// 4. Alertmanager saw only successes.
	sent, failed := am.notificationMetrics(t)
	for _, integration := range []string{"webhook", "pagerduty"} {
		if sent[integration] < 1 || failed[integration] != 0 {
			t.Errorf("Alertmanager integration %s: alertmanager_notifications_total %v, alertmanager_notifications_failed_total %v; want > 0 and 0",
				integration, sent[integration], failed[integration])
		}
	}
	t.Logf("done in %v; Alertmanager sent %v webhook and %v pagerduty notifications, none failed; pagerd counted the DiskFull re-notification as %d and %d repeats",
		time.Since(start).Round(time.Millisecond), sent["webhook"], sent["pagerduty"], incs["alertmanager/DiskFull"].Repeats, incs["pagerduty/DiskFull"].Repeats)
}

const (
	amITService      = "checkout"
	amITKey          = "amit-webhook-key-0123456789abcdef"
	amITPDKey        = "amitpdroutingkey0123456789abcdef" // 32 characters, like PagerDuty's
	amITAPIToken     = "amit-api-token-0123456789"
	amITGeneratorURL = "http://prom/graph"
	// amITTimeout bounds each wait on Alertmanager.
	amITTimeout = 30 * time.Second
)

const amITConfig = `
api:
  tokens:
    - {name: amit, token: ` + amITAPIToken + `}
users:
  - {id: carol, name: Carol, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
schedules:
  - name: checkout-oncall
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [carol]}
escalation_policies:
  - name: checkout
    levels:
      - {name: primary, targets: [{schedule: checkout-oncall, tier: primary}]}
services:
  - name: ` + amITService + `
    priority_scheme: P0-P3
    escalation_policy: checkout
    integrations: {alertmanager_key: ` + amITKey + `, pagerduty_routing_key: ` + amITPDKey + `}
`

// amITLookAlertmanager finds prometheus-alertmanager or fails: CI must never
// skip this test silently.
func amITLookAlertmanager(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("prometheus-alertmanager"); err == nil {
		return p
	}
	for _, d := range []string{"/usr/bin", "/usr/local/bin", "/usr/sbin"} {
		p := filepath.Join(d, "prometheus-alertmanager")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatal("prometheus-alertmanager is not installed: run make test as root (it installs it) or apt-get install -y prometheus-alertmanager")
	return ""
}

// amITAlert is an alert as Alertmanager's API v2 takes it.
type amITAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"-"`
}

func (a amITAlert) MarshalJSON() ([]byte, error) {
	type plain amITAlert
	v := struct {
		plain
		EndsAt string `json:"endsAt,omitempty"`
	}{plain: plain(a)}
	if !a.EndsAt.IsZero() {
		v.EndsAt = a.EndsAt.Format(time.RFC3339Nano)
	}
	return json.Marshal(v)
}

// amITAlertmanager is a running prometheus-alertmanager.
type amITAlertmanager struct {
	url string
	// cfgPath is its config file, which reload reads again.
	cfgPath string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and been reaped
}

// amITStartAlertmanager starts prometheus-alertmanager with config on a free
// loopback port, clustering off, and waits until /-/ready answers 200. It is
// stopped on cleanup (SIGTERM, then SIGKILL after 5s).
func amITStartAlertmanager(t *testing.T, bin, config string) *amITAlertmanager {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		port, err := amITFreePort()
		if err != nil {
			t.Fatal(err)
		}
		am, err := amITLaunch(t, bin, cfgPath, dir, port, attempt)
		if err == nil {
			return am
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("prometheus-alertmanager did not start: %v", lastErr)
	return nil
}

func amITLaunch(t *testing.T, bin, cfgPath, dir string, port, attempt int) (*amITAlertmanager, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	storage := filepath.Join(dir, fmt.Sprintf("data-%d", attempt))
	logPath := filepath.Join(dir, fmt.Sprintf("alertmanager-%d.log", attempt))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	am := &amITAlertmanager{url: "http://" + addr, cfgPath: cfgPath, logPath: logPath, done: make(chan struct{})}
	am.cmd = exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.path="+storage,
		"--web.listen-address="+addr,
		"--web.external-url="+am.url,
		"--cluster.listen-address=", // no gossip: a single, private Alertmanager
		"--log.level=debug",
	)
	am.cmd.Dir = dir
	am.cmd.Stdout, am.cmd.Stderr = logFile, logFile
	am.cmd.SysProcAttr = &syscall.SysProcAttr{}
	amITSetPdeathsig(am.cmd.SysProcAttr)
	started := make(chan error, 1)
	go func() {
		// Linux sends the parent-death signal when the thread that forked
		// the child ends, not the process (golang/go#27505). Keep the
		// forking thread for as long as the child runs: locked, and never
		// unlocked, this goroutine's thread ends only after Wait.
		runtime.LockOSThread()
		if err := am.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = am.cmd.Wait()
		close(am.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	t.Cleanup(am.stop)

	deadline := time.Now().Add(15 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-am.done:
			return nil, fmt.Errorf("it exited (%v); its log:\n%s", am.cmd.ProcessState, amITTail(logPath, 40))
		default:
		}
		resp, err := client.Get(am.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return am, nil
			}
		}
		if time.Now().After(deadline) {
			am.stop()
			return nil, fmt.Errorf("GET /-/ready did not answer 200 within 15s (last: %v); its log:\n%s", err, amITTail(logPath, 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// amITSetPdeathsig asks the kernel to SIGKILL the child if the test binary
// dies, so Alertmanager never outlives a crashed test. Only Linux has the
// field; it is set by name so that this file still compiles elsewhere.
func amITSetPdeathsig(attr *syscall.SysProcAttr) {
	if runtime.GOOS != "linux" {
		return
	}
	if f := reflect.ValueOf(attr).Elem().FieldByName("Pdeathsig"); f.IsValid() && f.CanSet() {
		f.Set(reflect.ValueOf(syscall.SIGKILL))
	}
}

func (am *amITAlertmanager) stop() {
	select {
	case <-am.done:
		return
	default:
	}
	_ = am.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-am.done:
		return
	case <-time.After(5 * time.Second):
	}
	_ = am.cmd.Process.Kill()
	<-am.done
}

// reload writes config to Alertmanager's config file and has it reloaded
// (POST /-/reload, as systemd's ExecReload and the operator's kubectl
// rollout do): it answers once the new config is in force.
func (am *amITAlertmanager) reload(t *testing.T, config string) {
	t.Helper()
	if err := os.WriteFile(am.cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(am.url+"/-/reload", "", nil)
	if err != nil {
		t.Fatalf("POST /-/reload: %v", err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /-/reload: %d %s", resp.StatusCode, b)
	}
}

// postAlerts sends alerts to Alertmanager's API v2.
func (am *amITAlertmanager) postAlerts(t *testing.T, alerts ...amITAlert) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(am.url+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST /api/v2/alerts: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts %s: %d %s", body, resp.StatusCode, b)
	}
}

// notificationMetrics reads alertmanager_notifications_total and
// alertmanager_notifications_failed_total by integration.
func (am *amITAlertmanager) notificationMetrics(t *testing.T) (sent, failed map[string]float64) {
	t.Helper()
	resp, err := http.Get(am.url + "/metrics")
	if err != nil {
		t.Fatalf("GET Alertmanager /metrics: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("Alertmanager /metrics: %v", err)
	}
	byIntegration := func(name string) map[string]float64 {
		out := map[string]float64{}
		mf, ok := families[name]
		if !ok {
			t.Fatalf("Alertmanager has no metric %s", name)
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "integration" {
					out[lp.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
		return out
	}
	return byIntegration("alertmanager_notifications_total"), byIntegration("alertmanager_notifications_failed_total")
}

// amITIncidents are pagerd's incidents keyed "<source>/<alertname>".
type amITIncidents map[string]incidentView

func (m amITIncidents) String() string {
	var b strings.Builder
	for k, v := range m {
		fmt.Fprintf(&b, "\n  %s: id %s status %s priority %s repeats %d resolved_by %q summary %q dedup %q",
			k, v.ID, v.Status, v.Priority, v.Repeats, v.ResolvedBy, v.Summary, v.DedupKey)
	}
	return b.String()
}

// amITClient reads pagerd's incident API.
type amITClient struct {
	base string
}

func (c *amITClient) get(t *testing.T, path string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+amITAPIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

// incidents lists every incident, keyed by source and the alert group's
// alertname. Two incidents with one key, or one that belongs to neither
// alert group, fail the test at once: incidents are never deleted, so that
// can only get worse.
func (c *amITClient) incidents(t *testing.T) amITIncidents {
	t.Helper()
	var l struct {
		Incidents []incidentView `json:"incidents"`
	}
	c.get(t, "/api/v1/incidents", &l)
	out := amITIncidents{}
	for _, v := range l.Incidents {
		text := v.Summary + " " + string(v.Details)
		var name string
		switch disk, lat := strings.Contains(text, "DiskFull"), strings.Contains(text, "HighLatency"); {
		case disk && !lat:
			name = "DiskFull"
		case lat && !disk:
			name = "HighLatency"
		default:
			t.Fatalf("incident %s is about neither (or both) of the alert groups: %+v", v.ID, v)
		}
		key := v.Source + "/" + name
		if prev, dup := out[key]; dup {
			t.Fatalf("two incidents for %s: one Alertmanager notification was taken for a new alert: %s and %s\nall: %s",
				key, prev.ID, v.ID, out)
		}
		out[key] = v
	}
	if len(out) > 4 {
		t.Fatalf("more than one incident per alert group and receiver: %s", out)
	}
	return out
}

// waitFor polls pagerd every 100ms until cond holds for exactly the four
// incidents expected (two groups, two receivers), for at most amITTimeout.
func (c *amITClient) waitFor(t *testing.T, what string, cond func(amITIncidents) bool) amITIncidents {
	t.Helper()
	deadline := time.Now().Add(amITTimeout)
	for {
		m := c.incidents(t)
		if len(m) == 4 && cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; pagerd has %d incidents: %s", amITTimeout, what, len(m), m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// act acknowledges, resolves or escalates incident id as carol.
func (c *amITClient) act(t *testing.T, id, action string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+"/api/v1/incidents/"+id+"/"+action, strings.NewReader(`{"user":"carol"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+amITAPIToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d", action, resp.StatusCode)
	}
}

// timeline returns the entry types of an incident's timeline.
func (c *amITClient) timeline(t *testing.T, id string) []string {
	t.Helper()
	var v incidentView
	c.get(t, "/api/v1/incidents/"+id, &v)
	var types []string
	for _, e := range v.Timeline {
		types = append(types, e.Type)
	}
	return types
}

// amITFreePort returns a loopback port that was free a moment ago.
func amITFreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func amITTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return amITTailString(string(b), n)
}

func amITTailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// amITTap records the raw bytes of every connection to pagerd, so a failure
// shows exactly what Alertmanager sent and what pagerd answered.
type amITTap struct {
	mu    sync.Mutex
	conns []*amITTapConn
}

func (t *amITTap) dump() string {
	t.mu.Lock()
	conns := append([]*amITTapConn(nil), t.conns...)
	t.mu.Unlock()
	var b strings.Builder
	for i, c := range conns {
		s := c.String()
		if strings.HasPrefix(s, amITTapIn+"GET ") {
			continue // the test's own polling
		}
		fmt.Fprintf(&b, "=== connection %d from %s ===\n%s\n", i, c.RemoteAddr(), s)
	}
	if b.Len() == 0 {
		return "(Alertmanager never connected to pagerd)"
	}
	out := b.String()
	if len(out) > 2*amITDumpHalf {
		out = fmt.Sprintf("%s\n[... %d bytes cut ...]\n%s", out[:amITDumpHalf], len(out)-2*amITDumpHalf, out[len(out)-amITDumpHalf:])
	}
	return out
}

// amITDumpHalf is how much of the start and of the end of the capture a
// failure prints: Alertmanager retrying for 30s sends a lot.
const amITDumpHalf = 24 << 10

// amITWithoutPolling drops the log lines of the test's own GET requests.
func amITWithoutPolling(log string) string {
	var keep []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"msg":"request","method":"GET"`) {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

type amITTapListener struct {
	net.Listener
	tap *amITTap
}

func (l *amITTapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &amITTapConn{Conn: c}
	l.tap.mu.Lock()
	l.tap.conns = append(l.tap.conns, tc)
	l.tap.mu.Unlock()
	return tc, nil
}

const (
	amITTapIn    = "\n>>> to pagerd\n"
	amITTapOut   = "\n<<< from pagerd\n"
	amITTapLimit = 1 << 20
)

type amITTapConn struct {
	net.Conn
	mu   sync.Mutex
	last string
	b    bytes.Buffer
}

func (c *amITTapConn) record(dir string, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) == 0 || c.b.Len() > amITTapLimit {
		return
	}
	if c.last != dir {
		c.b.WriteString(dir)
		c.last = dir
	}
	c.b.Write(p)
}

func (c *amITTapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.record(amITTapIn, p[:n])
	return n, err
}

func (c *amITTapConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.record(amITTapOut, p[:n])
	return n, err
}

func (c *amITTapConn) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

// TestRealAlertmanagerMaxAlertsGroupResolves: a group of three alerts
// behind a webhook receiver with max_alerts 2. Alertmanager's resolved
// notification of it keeps two and says truncatedAlerts 1, and it is the
// last it sends: pagerd withholds that resolve (the left-out alert might
// fire), so the incident stayed open for good. With alertmanager_url,
// pagerd asks Alertmanager, finds nothing of the group firing, and
// resolves it; not before Alertmanager has run amresolve.StartMargin
// (read from the real /api/v2/status), which pagerd's clock, moved
// ahead, reaches.
func TestRealAlertmanagerMaxAlertsGroupResolves(t *testing.T) {
	amBin := amITLookAlertmanager(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pagerdURL := "http://" + l.Addr().String()
	tmpl, err := os.ReadFile(filepath.Join("testdata", "alertmanager", "maxalerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	am := amITStartAlertmanager(t, amBin, strings.NewReplacer("@PAGERD_URL@", pagerdURL, "@AM_KEY@", amITKey).Replace(string(tmpl)))
	cfg := strings.Replace(amITConfig, "    escalation_policy: checkout\n", "    escalation_policy: checkout\n    alertmanager_url: "+am.url+"\n", 1)
	tap := &amITTap{}
	// pagerd's clock, which the test moves ahead past Alertmanager's
	// first minutes (amresolve.StartMargin).
	var ahead atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	h := newHarness(t, withConfig(cfg), withNow(clock), maxSleep(100*time.Millisecond), onListener(&amITTapListener{Listener: l, tap: tap}))
	h.runFor(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- what Alertmanager sent to pagerd and what pagerd answered (raw HTTP) ---\n%s", tap.dump())
			t.Logf("--- tail of Alertmanager's log ---\n%s", amITTail(am.logPath, 60))
			t.Logf("--- tail of pagerd's log ---\n%s", amITTailString(amITWithoutPolling(h.logs.String()), 60))
		}
	})
	api := &amITClient{base: pagerdURL}
	one := func(what string, cond func(incidentView) bool) incidentView {
		t.Helper()
		deadline := time.Now().Add(amITTimeout)
		for {
			var list struct {
				Incidents []incidentView `json:"incidents"`
			}
			api.get(t, "/api/v1/incidents", &list)
			if len(list.Incidents) > 1 {
				t.Fatalf("%d incidents for one group: %+v", len(list.Incidents), list.Incidents)
			}
			if len(list.Incidents) == 1 && cond(list.Incidents[0]) {
				return list.Incidents[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited %v for %s: %+v", amITTimeout, what, list.Incidents)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	startsAt := time.Now().Add(-time.Minute).UTC()
	alerts := make([]amITAlert, 3)
	for i := range alerts {
		alerts[i] = amITAlert{Labels: map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": fmt.Sprintf("db%d", i+1)},
			GeneratorURL: amITGeneratorURL, StartsAt: startsAt}
	}
	am.postAlerts(t, alerts...)
	// On a loaded machine Alertmanager may notify the group before it has
	// taken all three alerts in (group_wait 1s); its next notification,
	// a group_interval later, holds them all, cut to max_alerts 2.
	v := one("the group's incident, Alertmanager's notification cut to max_alerts 2 (truncatedAlerts 1)", func(v incidentView) bool {
		return v.Status == policy.StatusTriggered && strings.Contains(string(v.Details), `"truncated_alerts":1`)
	})
	ended := time.Now().UTC()
	for i := range alerts {
		alerts[i].EndsAt = ended
	}
	am.postAlerts(t, alerts...)
	// Alertmanager started moments ago (its /api/v2/status says when):
	// that none of the group fires is not believed yet.
	resolves := func() string {
		var types []string
		for _, typ := range api.timeline(t, v.ID) {
			if strings.HasPrefix(typ, "resolve") {
				types = append(types, typ)
			}
		}
		return strings.Join(types, " ")
	}
	for deadline := time.Now().Add(amITTimeout); resolves() != "resolve_withheld "+amresolve.EntryRecentStart; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for the resolve withheld, then not believed from an Alertmanager just started: %s", amITTimeout, resolves())
		}
	}
	ahead.Store(int64(amresolve.StartMargin))
	v = one("the incident resolved", func(v incidentView) bool { return v.Status == policy.StatusResolved })
	if got, want := resolves(), "resolve_withheld "+amresolve.EntryRecentStart+" resolve_confirmed resolve"; got != want {
		t.Fatalf("timeline's resolves %q, want %q: withheld, not believed from an Alertmanager just started, then confirmed", got, want)
	}
}
