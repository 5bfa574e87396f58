package check

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose reads compose.yaml as `docker compose` does (compose-go,
// validated against the compose specification's schema).
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	dir := repo("deploy", "compose")
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "compose.yaml")},
		cli.WithWorkingDirectory(dir), cli.WithOsEnv, cli.WithConsistency(true), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cli.ProjectFromOptions(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The compose setup: it loads as `docker compose` would load it, Redis
// keeps an append-only file, Alertmanager's config passes Debian's amtool,
// pagerd's passes check-config with the secrets where compose mounts them,
// and the three run together here: an alert posted to Alertmanager becomes
// a pagerd incident in Redis, through the webhook as the files wire it.
func TestCompose(t *testing.T) {
	p := loadCompose(t)
	if got := strings.Join(p.ServiceNames(), " "); got != "alertmanager pagerd redis" {
		t.Fatalf("services %q", got)
	}
	pd, _ := p.GetService("pagerd")
	rd, _ := p.GetService("redis")
	am, _ := p.GetService("alertmanager")
	if pd.Build == nil || !strings.HasSuffix(pd.Build.Dockerfile, "deploy/container/Dockerfile") {
		t.Errorf("pagerd is not built from deploy/container/Dockerfile: %+v", pd.Build)
	}
	if !pd.ReadOnly || !slices.Contains(pd.CapDrop, "ALL") {
		t.Error("pagerd should run read-only with every capability dropped")
	}
	if g := pd.StopGracePeriod; g == nil || time.Duration(*g) < stopBudget(shutdownDelayOf(t, pd.Command)) {
		t.Errorf("pagerd's stop_grace_period %v: want at least %v (the page in flight: lease + send timeout, and a margin)", g, stopBudget(shutdownDelayOf(t, pd.Command)))
	}
	if d, ok := pd.DependsOn["redis"]; !ok || d.Condition != types.ServiceConditionHealthy || rd.HealthCheck == nil {
		t.Error("pagerd should wait for a healthy Redis")
	}
	cmd := strings.Join(rd.Command, " ")
	if !strings.Contains(cmd, "--appendonly yes") || !strings.Contains(cmd, "--appendfsync always") {
		t.Errorf("Redis runs %q: want the append-only file fsynced on every write", cmd)
	}
	if len(rd.Volumes) != 1 || rd.Volumes[0].Target != "/data" || rd.Volumes[0].Type != types.VolumeTypeVolume {
		t.Errorf("Redis keeps /data on %+v, want a named volume", rd.Volumes)
	}

	// Files as the containers see them, in a directory here.
	root := t.TempDir()
	secretFile := func(name string) string {
		s, ok := p.Secrets[name]
		if !ok {
			t.Fatalf("no secret %s", name)
		}
		return s.File
	}
	mountsOf := func(s types.ServiceConfig) *strings.Replacer {
		var pairs []string
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				pairs = append(pairs, v.Target, v.Source)
			}
		}
		for _, sec := range s.Secrets {
			pairs = append(pairs, "/run/secrets/"+sec.Source, secretFile(sec.Source))
		}
		return strings.NewReplacer(pairs...)
	}
	amConfig := func(pagerdURL string) string {
		var src string
		for _, v := range am.Volumes {
			if v.Target == "/etc/alertmanager/alertmanager.yml" {
				src = v.Source
			}
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("Alertmanager's config: %v", err)
		}
		out := mountsOf(am).Replace(strings.ReplaceAll(string(b), "http://pagerd:8080", pagerdURL))
		path := filepath.Join(root, "alertmanager.yml")
		if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	if out, err := exec.Command("amtool", "check-config", amConfig("http://pagerd:8080")).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	pagerdArgs := append([]string(nil), pd.Command...)
	m := mountsOf(pd)
	for i, a := range pagerdArgs {
		pagerdArgs[i] = m.Replace(a)
	}
	cfg := pagerdArgs[slices.Index(pagerdArgs, "--config")+1]
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgCopy := filepath.Join(root, "pagerd.yaml")
	if err := os.WriteFile(cfgCopy, []byte(m.Replace(string(b))), 0o600); err != nil {
		t.Fatal(err)
	}
	pagerdArgs[slices.Index(pagerdArgs, "--config")+1] = cfgCopy
	if out, err := pagerd(t, "check-config", cfgCopy); err != nil {
		t.Fatalf("pagerd check-config: %v\n%s", err, out)
	}

	// Run them: Redis with its compose command on a port here, pagerd with
	// its command pointed at that Redis, Alertmanager at that pagerd.
	redisPort := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	redisLogs := &syncBuffer{}
	rs := exec.Command(rd.Command[0], append(rd.Command[1:], "--port", redisPort, "--bind", "127.0.0.1", "--dir", t.TempDir())...)
	rs.Stdout, rs.Stderr = redisLogs, redisLogs
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Process.Kill(); _ = rs.Wait() })
	waitLog(t, redisLogs, "Ready to accept connections")
	for i, a := range pagerdArgs {
		pagerdArgs[i] = strings.ReplaceAll(a, "redis://redis:6379", "redis://127.0.0.1:"+redisPort)
	}
	// compose's own command line: its listen address, not one of ours.
	pagerdArgs, pagerdAddr := asDeployed(t, pagerdArgs, true)
	pagerdLogs := &syncBuffer{}
	ps := exec.Command(pagerdBin, pagerdArgs...)
	ps.Stdout, ps.Stderr = pagerdLogs, pagerdLogs
	if err := ps.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Process.Kill(); _ = ps.Wait() })
	waitReady(t, pagerdAddr, pagerdLogs)

	amAddr := freeAddr(t)
	amLogs := &syncBuffer{}
	ams := exec.Command("prometheus-alertmanager", "--config.file="+amConfig("http://"+pagerdAddr),
		"--storage.path="+t.TempDir(), "--web.listen-address="+amAddr, "--cluster.listen-address=")
	ams.Stdout, ams.Stderr = amLogs, amLogs
	if err := ams.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ams.Process.Kill(); _ = ams.Wait() })
	waitReady(t, amAddr, amLogs)
	alert := `[{"labels":{"alertname":"DiskFull","service":"db","severity":"critical"},"annotations":{"summary":"disk full on db1"}}]`
	resp, err := http.Post("http://"+amAddr+"/api/v2/alerts", "application/json", strings.NewReader(alert))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("posting to Alertmanager: %s", resp.Status)
	}
	token, _ := os.ReadFile(secretFile("api-token"))
	deadline := time.Now().Add(40 * time.Second) // group_wait is 10s
	for {
		req, _ := http.NewRequest("GET", "http://"+pagerdAddr+"/api/v1/incidents", nil)
		req.Header.Set("Authorization", "Bearer "+string(token))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var list struct {
			Incidents []struct{ Summary, Priority, Service string }
		}
		_ = json.Unmarshal(body, &list)
		if len(list.Incidents) == 1 {
			inc := list.Incidents[0]
			if inc.Priority != "P0" || inc.Service != "production" || !strings.Contains(inc.Summary, "disk full") {
				t.Fatalf("the incident from Alertmanager: %+v", inc)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no incident in pagerd %v after posting to Alertmanager (%d %s).\nAlertmanager:\n%s\npagerd:\n%s",
				40*time.Second, resp.StatusCode, body, amLogs, pagerdLogs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(pagerdLogs.String(), `"msg":"store: redis"`) {
		t.Fatalf("pagerd did not keep the incident in Redis:\n%s", pagerdLogs)
	}
}

// Compose bind-mounts a file secret with its owner and mode on the host
// (uid, gid and mode in the service's secrets apply to swarm only). One
// written 0600 (umask 077, a secrets tool) is unreadable to pagerd, uid
// 65532 in the container: pagerd refuses to start and says which file,
// who it runs as and what to run; after the README's chmod 0444 it reads
// them. Run as uid 65532 when the test runs as root (root reads any file),
// else with the files made unreadable to the test's own user.
func TestComposeSecretFilesUnreadableToPagerd(t *testing.T) {
	p := loadCompose(t)
	pd, _ := p.GetService("pagerd")
	// Not t.TempDir: its parent is open to the test's user only.
	root, err := os.MkdirTemp("", "pagerd-compose-secrets")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	secrets := filepath.Join(root, "secrets")
	if err := os.Mkdir(secrets, 0o755); err != nil {
		t.Fatal(err)
	}
	mode := os.FileMode(0o600)
	var cred *syscall.Credential
	if os.Getuid() == 0 {
		cred = &syscall.Credential{Uid: 65532, Gid: 65532}
	} else {
		mode = 0
	}
	var files []string
	for _, sec := range pd.Secrets {
		b, err := os.ReadFile(p.Secrets[sec.Source].File)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(secrets, sec.Source)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, mode); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	b, err := os.ReadFile(filepath.Join(p.WorkingDir, "pagerd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(root, "pagerd.yaml")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(string(b), "/run/secrets/", secrets+"/")), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "pagerd")
	exe, err := os.ReadFile(pagerdBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("serve", "--config", cfg, "--listen", freeAddr(t), "--data-dir", filepath.Join(root, "data"))
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("pagerd serve with secret files it cannot read: %v, want exit 1:\n%s", err, out)
	}
	for _, f := range files {
		if !strings.Contains(out, "open "+f+": permission denied: pagerd runs as uid ") || !strings.Contains(out, "chmod 0444") {
			t.Errorf("pagerd serve does not say it cannot read %s, as whom, and what to run:\n%s", f, out)
		}
	}
	// The README's step.
	for _, f := range files {
		if err := os.Chmod(f, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := run("check-config", cfg); err != nil || strings.Contains(out, "secret file") {
		t.Fatalf("pagerd check-config after chmod 0444: %v\n%s", err, out)
	}
}
