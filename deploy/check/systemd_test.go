package check

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// unitKey reads the value of a key of the unit (the last one wins).
func unitKey(unit, key string) string {
	v := ""
	for _, m := range regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(key)+`=(.*)$`).FindAllStringSubmatch(unit, -1) {
		v = m[1]
	}
	return v
}

// The systemd unit passes `systemd-analyze verify` (unknown keys and
// missing binaries count as failures: verify only warns about them),
// scores as hardened by `systemd-analyze security`, and its ExecStart is a
// command line pagerd serves with.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile(repo("deploy", "systemd", "pagerd.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for key, want := range map[string]string{
		"DynamicUser": "yes", "StateDirectory": "pagerd", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
		"ExecReload": "/bin/kill -HUP $MAINPID", "Restart": "on-failure",
	} {
		if got := unitKey(unit, key); got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	stopSec, err := time.ParseDuration(unitKey(unit, "TimeoutStopSec"))
	if want := stopBudget(shutdownDelayOf(t, strings.Fields(unitKey(unit, "ExecStart")))); err != nil || stopSec < want {
		t.Errorf("TimeoutStopSec=%s: want at least %v (the page in flight: lease + send timeout, and a margin)", unitKey(unit, "TimeoutStopSec"), want)
	}
	const installed = "/usr/local/bin/pagerd"
	if !strings.HasPrefix(unitKey(unit, "ExecStart"), installed+" serve ") {
		t.Fatalf("ExecStart=%s does not run %s serve", unitKey(unit, "ExecStart"), installed)
	}
	// verify needs ExecStart's binary to exist: check a copy that runs the
	// release binary from where the test has it.
	dir := t.TempDir()
	copyPath := filepath.Join(dir, "pagerd.service")
	if err := os.WriteFile(copyPath, []byte(strings.ReplaceAll(unit, installed, pagerdBin)), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	verify := exec.Command("systemd-analyze", "verify", "--man=no", copyPath)
	verify.Stdout, verify.Stderr = &out, &out
	if err := verify.Run(); err != nil || out.Len() != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out.String())
	}
	// A unit with a typo fails this check (verify only warns), so the
	// check above can fail.
	typo := filepath.Join(dir, "typo.service")
	_ = os.WriteFile(typo, []byte(strings.ReplaceAll(strings.ReplaceAll(unit, installed, pagerdBin), "NoNewPrivileges=", "NoNewPrivilege=")), 0o644)
	if out, _ := exec.Command("systemd-analyze", "verify", "--man=no", typo).CombinedOutput(); !strings.Contains(string(out), "Unknown key") {
		t.Fatalf("verify did not flag an unknown key: %s", out)
	}
	// Exposure 2.0 or less is what systemd calls OK (0 is the best, 10 the worst).
	sec, err := exec.Command("systemd-analyze", "security", "--offline=true", "--threshold=20", copyPath).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: the unit is exposed above 2.0: %v\n%s", err, sec)
	}
	t.Logf("%s", regexp.MustCompile(`Overall exposure level.*`).Find(sec))

	// ExecStart as pagerd sees it, with the config and state directory
	// where systemd would put them.
	args := strings.Fields(unitKey(unit, "ExecStart"))[1:]
	state := t.TempDir()
	for i, a := range args {
		switch a {
		case "/etc/pagerd/pagerd.yaml":
			args[i] = repo("configs", "quickstart.yaml")
		case "/var/lib/pagerd":
			args[i] = state
		}
	}
	addr := freeAddr(t)
	cmd := exec.Command(pagerdBin, append(args, "--listen", addr)...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	waitReady(t, addr, logs)
	if _, err := os.Stat(filepath.Join(state, "pagerd.db")); err != nil {
		t.Fatalf("the store is not in the StateDirectory: %v", err)
	}
	// ExecReload's SIGHUP reloads the config rather than killing pagerd.
	if err := cmd.Process.Signal(sighup); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logs, "config reloaded")
}
