package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/redistest"
)

// TestServeReplicasPublishTheirConfigs: two replicas on one Redis record
// which config they run in the store at start, and one that reloads a
// changed file records it at once: its /metrics counts both configs
// (pagerd_config_replicas, by the first 12 hex digits of the file's
// SHA-256), which PagerdConfigsDiffer alerts on. Before, nothing said
// replicas ran different configs.
func TestServeReplicasPublishTheirConfigs(t *testing.T) {
	orig, err := os.ReadFile("../../configs/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	short := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:])[:12] }
	r := redistest.Start(t)
	dir := t.TempDir()
	ca, cb := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	for _, f := range []string{ca, cb} {
		if err := os.WriteFile(f, orig, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a := startDaemonWith(t, ca, freeAddr(t), "--redis-url", r.URL())
	b := startDaemonWith(t, cb, freeAddr(t), "--redis-url", r.URL())
	metricsSay := func(d *daemon, want ...string) {
		t.Helper()
		var body string
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			_, body = d.get("/metrics")
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(body, w+"\n")
			}
			if ok {
				return
			}
		}
		t.Fatalf("/metrics does not say %q:\n%s", want, grepLines(body, "pagerd_config_replicas"))
	}
	// b started second: its first write read a's entry.
	metricsSay(b, `pagerd_config_replicas{hash="`+short(orig)+`"} 2`)

	changed := bytes.Replace(orig, []byte("alertmanager_key: "+demoKey), []byte("alertmanager_key: rotated0000000000000000000000000"), 1)
	if err := os.WriteFile(cb, changed, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	metricsSay(b, `pagerd_config_replicas{hash="`+short(orig)+`"} 1`, `pagerd_config_replicas{hash="`+short(changed)+`"} 1`)
	a.stop()
	b.stop()
}

// grepLines are the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
