package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/freeport"
	"github.com/pagerd/pagerd/internal/logtest"
	"github.com/pagerd/pagerd/internal/redistest"
)

// These tests run the real binary the way README.md tells a new user to:
// `pagerd serve` on the quickstart config, the README's curl requests with
// the example payloads in configs/examples, a restart, and two daemons on one
// Redis.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the binary pagerdBinary built: each run of the
// package left 46 MB in the temp dir, and a day of runs filled a disk.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func pagerdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pagerd-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pagerd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type daemon struct {
	t     *testing.T
	cmd   *exec.Cmd
	addr  string
	logs  *bytes.Buffer
	pages *bytes.Buffer // stdout: the log transport's page lines
	mu    *sync.Mutex
	// logFile is where its log goes instead of logs, when set.
	logFile string
}

// freeAddr is a free loopback address for a daemon the test starts,
// below the ephemeral range (freeport): a port from ":0", closed and
// handed over, could be taken meanwhile as a connection's local end.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func startDaemon(t *testing.T, addr string, args ...string) *daemon {
	return startDaemonWith(t, "../../configs/quickstart.yaml", addr, args...)
}

func startDaemonWith(t *testing.T, config, addr string, args ...string) *daemon {
	t.Helper()
	return startDaemonOut(t, nil, "pagerd", config, addr, args...)
}

// startDaemonOut starts `pagerd serve` and waits until it is ready. Its
// stdout (the log transport's pages) goes to stdout, or to d.pages when nil.
func startDaemonOut(t *testing.T, stdout io.Writer, name, config, addr string, args ...string) *daemon {
	t.Helper()
	return startDaemonLog(t, stdout, "", name, config, addr, args...)
}

// startDaemonLog is startDaemonOut with its log written to the file
// logFile (when not ""), not kept in memory: a load run's log is hundreds
// of MB, which a buffer in the load generator's process would hold and copy
// as it grows, while pagerd waits on the pipe.
func startDaemonLog(t *testing.T, stdout io.Writer, logFile, name, config, addr string, args ...string) *daemon {
	t.Helper()
	return startDaemonEnv(t, nil, nil, stdout, logFile, name, config, addr, args...)
}

// startDaemonEnv is startDaemonLog with env (NAME=value) added to the
// daemon's environment, run by the command prefix when not empty (taskset
// and its arguments, say).
func startDaemonEnv(t *testing.T, prefix, env []string, stdout io.Writer, logFile, name, config, addr string, args ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, addr: addr, logs: &bytes.Buffer{}, pages: &bytes.Buffer{}, mu: &sync.Mutex{}, logFile: logFile}
	argv := append(append(append([]string(nil), prefix...), pagerdBinary(t), "serve", "--config", config, "--listen", addr), args...)
	d.cmd = exec.Command(argv[0], argv[1:]...)
	if env != nil {
		d.cmd.Env = append(os.Environ(), env...)
	}
	d.cmd.Stderr = lockedBuffer{d.mu, d.logs}
	if logFile != "" {
		f, err := os.Create(logFile)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		d.cmd.Stderr = f
	}
	d.cmd.Stdout = stdout
	if stdout == nil {
		d.cmd.Stdout = lockedBuffer{d.mu, d.pages}
	}
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.cmd.Process.Kill(); _ = d.cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become ready:\n%s", name, d.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemon) log() string {
	if d.logFile != "" {
		b, _ := os.ReadFile(d.logFile)
		return string(b)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// stop sends SIGTERM and expects a clean exit.
func (d *daemon) stop() {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			d.t.Fatalf("pagerd exited with %v:\n%s", err, d.log())
		}
	case <-time.After(35 * time.Second):
		d.t.Fatalf("pagerd did not stop on SIGTERM:\n%s", d.log())
	}
}

func (d *daemon) post(path, file string, hdr ...string) (int, string) {
	d.t.Helper()
	body, err := os.ReadFile(file)
	if err != nil {
		d.t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+d.addr+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type incidentList struct {
	Incidents []struct {
		ID, Status, Priority, Summary, Source string
	} `json:"incidents"`
}

func (d *daemon) incidents() incidentList {
	d.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+d.addr+"/api/v1/incidents", nil)
	req.Header.Set("Authorization", "Bearer demo-api-token-change-me")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var l incidentList
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		d.t.Fatal(err)
	}
	return l
}

const demoKey = "demo0000000000000000000000000000"

func TestServeEmbeddedSurvivesRestart(t *testing.T) {
	dataDir := t.TempDir()
	addr := freeAddr(t)
	d := startDaemon(t, addr, "--data-dir", dataDir)
	if !strings.Contains(d.log(), `"msg":"store: embedded (single replica)"`) {
		t.Fatalf("serve does not say which store it uses:\n%s", d.log())
	}
	if code, body := d.post("/api/v1/alertmanager", "../../configs/examples/alertmanager-firing.json", "Authorization", "Bearer "+demoKey); code != 200 {
		t.Fatalf("alertmanager webhook: %d %s", code, body)
	}
	if code, body := d.post("/v2/enqueue", "../../configs/examples/pagerduty-trigger.json"); code != 202 {
		t.Fatalf("pagerduty event: %d %s", code, body)
	}
	before := d.incidents()
	if len(before.Incidents) != 2 {
		t.Fatalf("incidents: %+v", before)
	}
	// The quickstart user is paged at once through the log transport: one
	// JSON line per page on stdout, for each incident's push.
	deadline := time.Now().Add(10 * time.Second)
	for {
		d.mu.Lock()
		pages := d.pages.String()
		d.mu.Unlock()
		if strings.Count(pages, `"channel":"push"`) == 2 && strings.Contains(pages, before.Incidents[0].ID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no push page on stdout:\n%s\n%s", pages, d.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Pages carry the person's signed ack link (the quickstart sets
	// public_url and link_secret), and it opens.
	d.mu.Lock()
	pages := d.pages.String()
	d.mu.Unlock()
	link := regexp.MustCompile(`Ack: http://127\.0\.0\.1:8080(/ack/[A-Za-z0-9_.-]+)`).FindStringSubmatch(pages)
	if link == nil {
		t.Fatalf("the push carries no ack link:\n%s", pages)
	}
	if resp, err := http.Get("http://" + addr + link[1]); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %v %v", link[1], resp, err)
	} else {
		resp.Body.Close()
	}
	d.stop()

	d = startDaemon(t, addr, "--data-dir", dataDir)
	after := d.incidents()
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("after a restart:\n%+v\nbefore:\n%+v", after, before)
	}
	var firstAM string
	for _, i := range before.Incidents {
		if i.Source == "alertmanager" {
			firstAM = i.ID
		}
	}
	if code, body := d.post("/api/v1/alertmanager/"+demoKey, "../../configs/examples/alertmanager-resolved.json"); code != 200 ||
		body != `{"incidents":[],"resolved":["`+firstAM+`"],"status":"success"}`+"\n" {
		t.Fatalf("resolved: %d %s", code, body)
	}
	for _, i := range d.incidents().Incidents {
		if i.Source == "alertmanager" && i.Status != "resolved" {
			t.Fatalf("not resolved: %+v", i)
		}
	}
	d.stop()
}

func TestServeTwoReplicasOnRedis(t *testing.T) {
	r := redistest.Start(t)
	a := startDaemon(t, freeAddr(t), "--redis-url", r.URL())
	b := startDaemon(t, freeAddr(t), "--redis-url", r.URL())
	if !strings.Contains(a.log(), `"msg":"store: redis","mode":"standalone"`) {
		t.Fatalf("serve does not say which store it uses:\n%s", a.log())
	}
	if code, body := a.post("/api/v1/alertmanager", "../../configs/examples/alertmanager-firing.json", "Authorization", "Bearer "+demoKey); code != 200 {
		t.Fatalf("webhook to a: %d %s", code, body)
	}
	// The same group arriving at the other replica is a repeat, not a
	// second incident.
	if code, body := b.post("/api/v1/alertmanager", "../../configs/examples/alertmanager-firing.json", "Authorization", "Bearer "+demoKey); code != 200 {
		t.Fatalf("webhook to b: %d %s", code, body)
	}
	la, lb := a.incidents(), b.incidents()
	if len(la.Incidents) != 1 || fmt.Sprint(la) != fmt.Sprint(lb) {
		t.Fatalf("a sees %+v, b sees %+v", la, lb)
	}
	a.stop()
	b.stop()
}

// TestServeRedisURLFromFile: --redis-url-file takes the URL from a file (a
// Secret mounted in the pod), so its password is not on the command line;
// a file that cannot be read or is empty, or both flags, stop serve with
// an error naming the file and never what it holds.
func TestServeRedisURLFromFile(t *testing.T) {
	r := redistest.Start(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "url")
	if err := os.WriteFile(file, []byte(r.URL()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, freeAddr(t), "--redis-url-file", file)
	if !strings.Contains(d.log(), `"msg":"store: redis"`) {
		t.Fatalf("serve did not use the Redis of --redis-url-file:\n%s", d.log())
	}
	d.stop()

	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing", []string{"--redis-url-file", filepath.Join(dir, "nope")}, "--redis-url-file: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"empty", []string{"--redis-url-file", empty}, "--redis-url-file: secret file " + empty + " is empty"},
		{"both", []string{"--redis-url-file", file, "--redis-url", r.URL()}, "--redis-url and --redis-url-file: give one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--config", "../../configs/quickstart.yaml", "--listen", freeAddr(t), "--data-dir", t.TempDir()}, tc.args...)
			out, err := exec.Command(pagerdBinary(t), args...).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) {
				t.Fatalf("serve %v: %v, want exit 1 saying %q:\n%s", tc.args, err, tc.want, out)
			}
		})
	}
}

// TestServeReloadsOnSIGHUP: a bad config is refused and the old one keeps
// working; a good one is swapped in.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	orig, err := os.ReadFile("../../configs/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "pagerd.yaml")
	write := func(b []byte) {
		if err := os.WriteFile(cfg, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(orig)
	d := startDaemonWith(t, cfg, freeAddr(t), "--data-dir", t.TempDir())
	hup := func(want string) {
		t.Helper()
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(d.log(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log after SIGHUP:\n%s", want, d.log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	write(append(append([]byte{}, orig...), "\nnot_a_setting: 1\n"...))
	hup("config reload failed; keeping the old config")
	if code, body := d.post("/api/v1/alertmanager", "../../configs/examples/alertmanager-firing.json", "Authorization", "Bearer "+demoKey); code != 200 {
		t.Fatalf("the old config stopped working after a refused reload: %d %s", code, body)
	}
	const rotated = "rotated0000000000000000000000000"
	write(bytes.Replace(orig, []byte("alertmanager_key: "+demoKey), []byte("alertmanager_key: "+rotated), 1))
	hup(`"msg":"config reloaded"`)
	if code, _ := d.post("/api/v1/alertmanager", "../../configs/examples/alertmanager-firing.json", "Authorization", "Bearer "+rotated); code != 200 {
		t.Fatalf("the rotated key does not work after SIGHUP: %d", code)
	}
	d.stop()
}

// TestServeRaisesOneThreadToTwo: on one CPU (taskset), where Go's default
// GOMAXPROCS is 1, pagerd serve runs Go code on two threads and says so;
// GOMAXPROCS set in the environment is kept as it is.
func TestServeRaisesOneThreadToTwo(t *testing.T) {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		t.Fatalf("taskset (util-linux) is needed: %v", err)
	}
	for _, tc := range []struct {
		env  []string
		want string
		says bool
	}{{nil, "2", true}, {[]string{"GOMAXPROCS=1"}, "1", false}} {
		t.Run(fmt.Sprint(tc.env), func(t *testing.T) {
			d := startDaemonEnv(t, []string{taskset, "-c", "0"}, tc.env, io.Discard, "", "pagerd", "../../configs/quickstart.yaml", freeAddr(t), "--data-dir", t.TempDir())
			code, body := d.get("/metrics")
			m := regexp.MustCompile(`(?m)^go_sched_gomaxprocs_threads (\d+)$`).FindStringSubmatch(body)
			if code != 200 || m == nil {
				t.Fatalf("/metrics: %d, no go_sched_gomaxprocs_threads:\n%s", code, body)
			}
			procs := m[1]
			if procs != tc.want {
				t.Errorf("GOMAXPROCS %s on one CPU with %v, want %s:\n%s", procs, tc.env, tc.want, d.log())
			}
			if says := strings.Contains(d.log(), `"msg":"GOMAXPROCS raised`); says != tc.says {
				t.Errorf("the log says GOMAXPROCS was raised: %v, want %v:\n%s", says, tc.says, d.log())
			}
		})
	}
}

// TestServeDebugListen: --debug-listen serves Go's profiler on its own
// address, and the API's address does not serve it.
func TestServeDebugListen(t *testing.T) {
	dbg := freeAddr(t)
	d := startDaemon(t, freeAddr(t), "--data-dir", t.TempDir(), "--debug-listen", dbg)
	resp, err := http.Get("http://" + dbg + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "serve") {
		t.Fatalf("the debug address answered %d %q, want 200 and the command line", resp.StatusCode, b)
	}
	resp, err = http.Get("http://" + d.addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Fatal("the API's address serves the profiler")
	}
	d.stop()
}

// TestServeLogPerSecond: with --log-per-second 2, a burst of new incidents
// writes at most 2 "incident opened" lines a second, and the rest are
// counted in "log lines dropped" lines: every incident is in the written
// lines or the counts, those of pagerd's last second too. A negative
// figure is refused.
func TestServeLogPerSecond(t *testing.T) {
	d := startDaemon(t, freeAddr(t), "--data-dir", t.TempDir(), "--log-per-second", "2")
	accepted := 0
	for i := range 20 {
		if code, _, _ := d.send(fmt.Sprintf("burst-%d", i)); code == 200 {
			accepted++
		}
	}
	if accepted < 5 {
		t.Fatalf("%d of 20 alerts accepted", accepted)
	}
	// Stopped at once, within the second of the last lines dropped (most
	// often): their count is said as pagerd exits, not lost with the
	// second's timer.
	d.stop()
	written, dropped, perSecond := 0, 0, map[string]int{}
	for _, l := range logtest.Lines(t, d.log()) {
		switch {
		case l["msg"] == "incident opened":
			written++
			perSecond[l["time"].(string)[:19]]++
		case l["msg"] == "log lines dropped" && l["message"] == "incident opened" && l["level"] == "INFO":
			dropped += int(l["dropped"].(float64))
		}
	}
	for sec, n := range perSecond {
		if n > 2 {
			t.Fatalf("%d incident opened lines in %s, want 2 at most:\n%s", n, sec, d.log())
		}
	}
	if written+dropped != accepted || dropped == 0 {
		t.Fatalf("%d incident opened lines and %d counted dropped, want %d in all, some dropped:\n%s", written, dropped, accepted, d.log())
	}
	_, errOut, code := pagerd(t, "serve", "--config", "../../configs/quickstart.yaml", "--log-per-second", "-1")
	if code == 0 || !strings.Contains(errOut, "--log-per-second -1: use 0 (every line) or more") {
		t.Errorf("--log-per-second -1: exit %d, stderr %q", code, errOut)
	}
}

// TestServeShutdownDelay: with --shutdown-delay, SIGTERM turns /-/ready
// red while pagerd still answers, and pagerd exits cleanly once the delay
// is over (gateway's TestShutdownDelay checks the delay on a fake clock).
func TestServeShutdownDelay(t *testing.T) {
	const delay = 2 * time.Second
	d := startDaemon(t, freeAddr(t), "--data-dir", t.TempDir(), "--shutdown-delay", delay.String())
	done := make(chan error, 1)
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	go func() { done <- d.cmd.Wait() }()
	waitStopping(t, d, delay/2)
	select {
	case err := <-done:
		t.Fatalf("pagerd exited %v after SIGTERM, within its %v delay: %v", time.Since(stopped), delay, err)
	case <-time.After(delay / 4):
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pagerd exited with %v:\n%s", err, d.log())
		}
		if took := time.Since(stopped); took < delay {
			t.Fatalf("pagerd exited %v after SIGTERM, before its %v delay", took, delay)
		}
	case <-time.After(delay + 30*time.Second):
		t.Fatalf("pagerd did not exit after its shutdown delay:\n%s", d.log())
	}
}

// waitStopping waits, up to within, for /-/ready to turn red after a
// SIGTERM, the daemon still answering in its shutdown delay.
func waitStopping(t *testing.T, d *daemon, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + d.addr + "/-/ready")
		if err != nil {
			t.Fatalf("/-/ready refused during the shutdown delay: %v\n%s", err, d.log())
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/-/ready still %d %v after SIGTERM", resp.StatusCode, within)
		}
	}
}

// TestServeSecondSignalStopsAtOnce: a second SIGTERM or SIGINT during the
// shutdown delay (an operator's second Ctrl-C) ends pagerd at once rather
// than being ignored for the rest of the delay.
func TestServeSecondSignalStopsAtOnce(t *testing.T) {
	d := startDaemon(t, freeAddr(t), "--data-dir", t.TempDir(), "--shutdown-delay", "5m")
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitStopping(t, d, 10*time.Second)
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
			t.Fatalf("pagerd ended with %v after a second signal, want killed by SIGINT", err)
		}
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done // before the cleanup's Wait
		t.Fatalf("pagerd still ran 10 s after a second signal in its 5m shutdown delay:\n%s", d.log())
	}
}

// TestServeRefusesMissingSecrets: the seed configs load for check-config
// without their secrets, but `pagerd serve` refuses to start until every
// one is set, and says which, never printing the ones it has.
func TestServeRefusesMissingSecrets(t *testing.T) {
	unsetSeedSecrets(t)
	run := func() (string, int) {
		t.Helper()
		cmd := exec.Command(pagerdBinary(t), "serve", "--config", "../../configs/aivo.yaml", "--listen", freeAddr(t), "--data-dir", t.TempDir())
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return errOut.String(), code
	}
	out, code := run()
	if code != 1 || !strings.Contains(out, "pagerd serve:") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, s := range seedSecrets[:14] { // AIVO's
		if !strings.Contains(out, "environment variable "+s+" is not set") {
			t.Errorf("serve does not name %s:\n%s", s, out)
		}
	}
	// All but one set: that one is named, and no value is printed.
	for i, s := range seedSecrets[:14] {
		t.Setenv(s, fmt.Sprintf("secret-value-%02d-0123456789abcdef", i))
	}
	t.Setenv("AIVO_SLACK_BOT_TOKEN", "xoxb-secret-value-slack-0123456789")
	t.Setenv("AIVO_TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef")
	t.Setenv("AIVO_TWILIO_FROM", "+15555550100")
	t.Setenv("AIVO_TWILIO_AUTH_TOKEN", "")
	out, code = run()
	if code != 1 || strings.Count(out, "environment variable") != 1 ||
		!strings.Contains(out, "../../configs/aivo.yaml: notifiers.twilio.auth_token: environment variable AIVO_TWILIO_AUTH_TOKEN is set but empty") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if strings.Contains(out, "secret-value-") || strings.Contains(out, "AC0123456789") {
		t.Errorf("serve printed a secret:\n%s", out)
	}
}

// TestServeSaysWhatToDoWhenThePortIsTaken: `make run` on a machine where
// 127.0.0.1:8080 is taken stopped with the kernel's words alone ("listen:
// listen tcp ...: bind: address already in use"); it says now that another
// program has the address, and what to change: the address and public_url.
func TestServeSaysWhatToDoWhenThePortIsTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cmd := exec.Command(pagerdBinary(t), "serve", "--config", "../../configs/quickstart.yaml", "--listen", l.Addr().String(), "--data-dir", t.TempDir())
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("pagerd serve on a taken address: %v\n%s", err, errOut.String())
	}
	out := errOut.String()
	for _, want := range []string{"pagerd serve: listen tcp " + l.Addr().String(), "address already in use: another program listens there",
		"--listen", "server.public_url"} {
		if !strings.Contains(out, want) {
			t.Errorf("pagerd serve on a taken address does not say %q:\n%s", want, out)
		}
	}
}

// TestServeLogIsJSONDuringARedisOutage: with Redis away, go-redis's own
// complaints go through pagerd's logger: every line on stderr stays a JSON
// object, so the log parser works exactly when an outage is investigated.
func TestServeLogIsJSONDuringARedisOutage(t *testing.T) {
	dead := freeAddr(t) // nothing listens there
	addr := freeAddr(t)
	d := &daemon{t: t, addr: addr, logs: &bytes.Buffer{}, pages: &bytes.Buffer{}, mu: &sync.Mutex{}}
	d.cmd = exec.Command(pagerdBinary(t), "serve", "--config", "../../configs/quickstart.yaml", "--listen", addr, "--redis-url", "redis://"+dead)
	d.cmd.Stderr = lockedBuffer{d.mu, d.logs}
	d.cmd.Stdout = lockedBuffer{d.mu, d.pages}
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.cmd.Process.Kill(); _ = d.cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(d.log(), `"component":"go-redis"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no go-redis line in the log:\n%s", d.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.stop()
	for _, line := range strings.Split(strings.TrimSpace(d.log()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("not a JSON log line: %q", line)
		}
	}
}

// readmeQuickstart is README's Quickstart section.
func readmeQuickstart(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	qs := readme[strings.Index(readme, "## Quickstart"):]
	return qs[:strings.Index(qs[3:], "\n## ")+3]
}

// TestReadmeQuickstartOrder: README's quickstart keeps the incident id in a
// variable (never a hard-coded id) and goes fire, push, SMS, acknowledge.
func TestReadmeQuickstartOrder(t *testing.T) {
	qs := readmeQuickstart(t)
	last := -1
	for _, step := range []string{
		"$ make run",
		"$ INCIDENT=$(curl -s -X POST 127.0.0.1:8080/api/v1/alertmanager",
		`"channel":"push"`,
		`"channel":"sms"`,
		"$ curl -s -X POST 127.0.0.1:8080/api/v1/incidents/$INCIDENT/acknowledge",
		`"status":"acknowledged"`,
	} {
		i := strings.Index(qs, step)
		if i < 0 || i < last {
			t.Fatalf("README's quickstart does not have %q after the step before it", step)
		}
		last = i
	}
	if regexp.MustCompile(`/incidents/[0-9a-z]{2}-[0-9a-z]{10,}`).MatchString(qs) {
		t.Error("README's quickstart hard-codes an incident id in a command")
	}
	// It shows one run's id, times and links: it says a new user's differ,
	// so the id echoed back is not taken for a mismatch.
	if !strings.Contains(qs, "Your incident id, the times and the signed ack links will differ") {
		t.Error("README's quickstart shows one run's incident id and times without saying that yours differ")
	}
}

// TestReadmeQuickstartStartLog: the lines README's quickstart shows
// `make run` printing are the ones pagerd prints on the quickstart config,
// level and message, in order, up to "pagerd serving". A line added at
// start (the collector's tuning, the note on alertmanager_url) had left
// the README showing less than a new user sees.
func TestReadmeQuickstartStartLog(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	block := readme[strings.Index(readme, "$ make run\n"):]
	block = block[:strings.Index(block, "```")]
	type line struct{ Level, Msg string }
	parse := func(text string) []line {
		var out []line
		for _, l := range strings.Split(text, "\n") {
			var v line
			if !strings.HasPrefix(l, "{") || json.Unmarshal([]byte(l), &v) != nil || v.Msg == "" {
				continue
			}
			out = append(out, v)
			if v.Msg == "pagerd serving" {
				break
			}
		}
		return out
	}
	want := parse(block)
	if len(want) == 0 || want[len(want)-1].Msg != "pagerd serving" {
		t.Fatalf("README's make run block shows no log ending in \"pagerd serving\":\n%s", block)
	}
	d := startDaemon(t, freeAddr(t), "--data-dir", t.TempDir())
	got := parse(d.log())
	if !slices.Equal(got, want) {
		t.Fatalf("pagerd serve on the quickstart config logs\n%+v\nbefore it serves; README shows\n%+v", got, want)
	}
}

// TestServeWarnsWhenPublicURLIsAnotherPort: README has a user whose port
// 8080 is taken run `make run LISTEN=127.0.0.1:18080`; pagerd listened
// there, but the quickstart's public_url still said http://127.0.0.1:8080,
// so the ack links in its pages led to whatever else listened at 8080, and
// nothing said so. It warns at start now, and not when public_url is where
// it listens.
func TestServeWarnsWhenPublicURLIsAnotherPort(t *testing.T) {
	const warn = `"level":"WARN","msg":"server.public_url http://127.0.0.1:8080 is port 8080 of this host, but pagerd listens on `
	addr := freeAddr(t)
	d := startDaemon(t, addr, "--data-dir", t.TempDir())
	if !strings.Contains(d.log(), warn+addr+":") {
		t.Errorf("pagerd on the quickstart config at %s did not warn that its ack links lead to port 8080:\n%s", addr, d.log())
	}

	b, err := os.ReadFile("../../configs/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	addr = freeAddr(t)
	cfg := strings.Replace(string(b), "public_url: http://127.0.0.1:8080", "public_url: http://"+addr, 1)
	path := filepath.Join(t.TempDir(), "quickstart.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d = startDaemonWith(t, path, addr, "--data-dir", t.TempDir())
	if strings.Contains(d.log(), "server.public_url") {
		t.Errorf("pagerd whose public_url is where it listens warned of it:\n%s", d.log())
	}

	// A reload that moves public_url away is warned of as a start is.
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.log(), `"msg":"config reloaded"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload in the log after SIGHUP:\n%s", d.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(d.log(), warn+addr+":") {
		t.Errorf("a reload to public_url http://127.0.0.1:8080 while pagerd listens on %s was not warned of:\n%s", addr, d.log())
	}
}

// TestReadmeQuickstartPageAndTimeline: the page line and the timeline
// README's quickstart shows have the fields pagerd prints, and the page's
// ack link the token version pagerd signs. A token version and a timeline
// field added since had left the README showing what no user sees.
func TestReadmeQuickstartPageAndTimeline(t *testing.T) {
	qs := readmeQuickstart(t)
	var shownPush map[string]any
	for _, l := range strings.Split(qs, "\n") {
		if strings.HasPrefix(l, "{") && strings.Contains(l, `"channel":"push"`) {
			if err := json.Unmarshal([]byte(l), &shownPush); err != nil {
				t.Fatalf("README's push line is not JSON: %v\n%s", err, l)
			}
			break
		}
	}
	if shownPush == nil {
		t.Fatal("README's quickstart shows no push line")
	}
	i := strings.Index(qs, `"timeline":`)
	if i < 0 {
		t.Fatal("README's quickstart shows no timeline")
	}
	var shownTimeline []map[string]any
	dec := json.NewDecoder(strings.NewReader(qs[i+len(`"timeline":`):]))
	if err := dec.Decode(&shownTimeline); err != nil {
		t.Fatalf("README's timeline is not JSON: %v", err)
	}

	d := startDaemon(t, freeAddr(t), "--data-dir", t.TempDir())
	code, body := d.post("/api/v1/alertmanager", "../../configs/examples/alertmanager-firing.json", "Authorization", "Bearer "+demoKey)
	if code != 200 {
		t.Fatalf("alertmanager webhook: %d %s", code, body)
	}
	var opened struct{ Incidents []string }
	if err := json.Unmarshal([]byte(body), &opened); err != nil || len(opened.Incidents) != 1 {
		t.Fatalf("alertmanager webhook: %s", body)
	}
	id := opened.Incidents[0]
	var push map[string]any
	for deadline := time.Now().Add(10 * time.Second); push == nil; {
		for _, l := range strings.Split(d.pagesOut(), "\n") {
			if strings.Contains(l, `"channel":"push"`) {
				if err := json.Unmarshal([]byte(l), &push); err != nil {
					t.Fatalf("page line is not JSON: %q", l)
				}
			}
		}
		if push == nil && time.Now().After(deadline) {
			t.Fatalf("no push page in 10 s; stdout:\n%s", d.pagesOut())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := slices.Sorted(maps.Keys(push)), slices.Sorted(maps.Keys(shownPush)); !slices.Equal(got, want) {
		t.Errorf("the push line has the fields %v; README shows %v", got, want)
	}
	token := func(text any) string {
		s, _ := text.(string)
		if i := strings.Index(s, "/ack/"); i >= 0 && len(s) >= i+9 {
			return s[i+5 : i+9] // the base64 of "vN|": the token's version
		}
		return ""
	}
	if got, want := token(push["text"]), token(shownPush["text"]); got == "" || got != want {
		t.Errorf("the push's ack link begins %q; README shows %q", got, want)
	}

	code, ackAnswer := d.request("POST", "/api/v1/incidents/"+id+"/acknowledge", "demo-api-token-change-me", `{"user":"demo"}`)
	if code != 200 {
		t.Fatalf("acknowledge: %d %s", code, ackAnswer)
	}
	code, body = d.get("/api/v1/incidents/" + id)
	if code != 200 {
		t.Fatalf("GET incident: %d %s", code, body)
	}
	var inc struct{ Timeline []map[string]any }
	if err := json.Unmarshal([]byte(body), &inc); err != nil {
		t.Fatal(err)
	}
	// The answers and log lines README shows, with "..." for what it
	// leaves out, are what pagerd wrote: a field added between two that
	// README shows side by side (last_acknowledged_at, after
	// acknowledged_by) had left the README showing an answer no user gets.
	line := func(prefix, contains string) string {
		for _, l := range strings.Split(qs, "\n") {
			if strings.HasPrefix(l, prefix) && strings.Contains(l, contains) {
				return l
			}
		}
		t.Fatalf("README's quickstart shows no line beginning %q with %q", prefix, contains)
		return ""
	}
	readmeID := regexp.MustCompile(`\$ echo "\$INCIDENT"\n(\S+)\n`).FindStringSubmatch(qs)
	if readmeID == nil {
		t.Fatal("README's quickstart does not show the incident id after echo \"$INCIDENT\"")
	}
	check := func(what, shown, got string) {
		t.Helper()
		shown = strings.ReplaceAll(shown, readmeID[1], id)
		if !readmeShows(shown, got) {
			t.Errorf("%s: README shows\n%s\npagerd wrote\n%s", what, shown, got)
		}
	}
	check("the acknowledge answer", line(`{"id":`, `"acknowledged_by"`), strings.TrimSpace(ackAnswer))
	shownInc, _, _ := strings.Cut(line(`{"id":`, `"timeline":`), `"timeline":`)
	gotInc, _, _ := strings.Cut(body, `"timeline":`)
	check("the incident", shownInc, gotInc)
	logLine := func(msg string) string {
		for _, l := range strings.Split(d.log(), "\n") {
			if strings.Contains(l, `"msg":"`+msg+`"`) {
				return l
			}
		}
		t.Fatalf("pagerd logged no %q:\n%s", msg, d.log())
		return ""
	}
	check("the log of the incident opened", line(`{"time":"...","level":"INFO","msg":"incident opened"`, ""), logLine("incident opened"))
	shownAck := regexp.MustCompile("`(\\{\"time\":\"\\.\\.\\.\",\"level\":\"INFO\",\"msg\":\"incident acknowledged\"[^`]*)`").FindStringSubmatch(qs)
	if shownAck == nil {
		t.Fatal("README's quickstart shows no log of the acknowledgement")
	}
	check("the log of the acknowledgement", shownAck[1], logLine("incident acknowledged"))
	// Each entry README shows against the first of its type pagerd wrote
	// (README's SMS is a notify as the push is).
	for _, shown := range shownTimeline {
		var got map[string]any
		for _, e := range inc.Timeline {
			if e["type"] == shown["type"] {
				got = e
				break
			}
		}
		if got == nil {
			t.Errorf("README shows a %v entry; pagerd wrote none: %s", shown["type"], body)
			continue
		}
		if g, w := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(shown)); !slices.Equal(g, w) {
			t.Errorf("a %v entry has the fields %v; README shows %v", shown["type"], g, w)
		}
	}
}

// readmeShows reports whether got is what README shows as shown: README
// writes "..." for what varies or is left out, and every run of text
// between two of them is in got, in order, the first at its start and the
// last at its end. A timestamp stands for any timestamp.
func readmeShows(shown, got string) bool {
	ts := regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+Z"`)
	shown, got = ts.ReplaceAllString(shown, `"T"`), ts.ReplaceAllString(got, `"T"`)
	pieces := strings.Split(shown, "...")
	if len(pieces) == 1 {
		return shown == got
	}
	if !strings.HasPrefix(got, pieces[0]) || !strings.HasSuffix(got, pieces[len(pieces)-1]) {
		return false
	}
	rest := got[len(pieces[0]):]
	for _, p := range pieces[1 : len(pieces)-1] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	return len(rest) >= len(pieces[len(pieces)-1])
}
