package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/internal/redistest"
)

// syncLog is a process's stderr, read while it runs.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *syncLog) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// startServe starts `pagerd serve` without waiting for it to be ready.
func startServe(t *testing.T, args ...string) (*syncLog, <-chan error) {
	t.Helper()
	cmd := exec.Command(pagerdBinary(t), append([]string{"serve", "--config", backupConfig, "--listen", freeAddr(t)}, args...)...)
	logs := &syncLog{}
	cmd.Stderr = logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return logs, done
}

// exits expects the process to exit 1 within timeout, saying want.
func exits(t *testing.T, logs *syncLog, done <-chan error, timeout time.Duration, want string) {
	t.Helper()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Fatalf("pagerd serve exited with %v, want exit 1:\n%s", err, logs)
		}
	case <-time.After(timeout):
		t.Fatalf("pagerd serve still running after %v, want it to refuse:\n%s", timeout, logs)
	}
	if !strings.Contains(logs.String(), want) {
		t.Fatalf("pagerd serve's error does not say %q:\n%s", want, logs)
	}
}

func serveExits(t *testing.T, timeout time.Duration, want string, args ...string) {
	t.Helper()
	logs, done := startServe(t, args...)
	exits(t, logs, done, timeout, want)
}

// A data dir written by a newer pagerd is refused at start, with what to
// do, and left as it was.
func TestServeRefusesNewerStoreFormat(t *testing.T) {
	dir := t.TempDir()
	d := startDaemonWith(t, backupConfig, freeAddr(t), "--data-dir", dir)
	if _, err := fire(d, 1); err != nil {
		t.Fatal(err)
	}
	d.stop()
	setFormat(t, filepath.Join(dir, "pagerd.db"), "5")
	serveExits(t, 10*time.Second, "store written by a newer pagerd: store format 5, this pagerd reads format 4 and older: run the newer pagerd, or restore a backup taken before the upgrade",
		"--data-dir", dir)
	// The backup tools refuse it too, rather than copy what nobody can read.
	if _, errOut, code := pagerdCmd(t, nil, "backup", "--data-dir", dir, filepath.Join(t.TempDir(), "b.db")); code != 1 ||
		!strings.Contains(errOut, "store format 5") {
		t.Fatalf("backup of a newer store: exit %d: %s", code, errOut)
	}
}

func setFormat(t *testing.T, path, format string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("format"), []byte(format)) }); err != nil {
		t.Fatal(err)
	}
}

// Redis data of a newer schema is refused at start; and when Redis was
// down at start, the daemon stops as soon as Redis is back with it.
func TestServeRefusesNewerRedisSchema(t *testing.T) {
	r := redistest.Start(t, redistest.WithAOF())
	if err := r.Client(t).Set(context.Background(), "pagerd:schema", "7", 0).Err(); err != nil {
		t.Fatal(err)
	}
	want := "redis data written by a newer pagerd: schema 7 under prefix \"pagerd\", this pagerd reads schema 1 and older"
	serveExits(t, 15*time.Second, want, "--redis-url", r.URL())

	r.Stop(t)
	logs, done := startServe(t, "--redis-url", r.URL())
	time.Sleep(3 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("pagerd serve exited (%v) while Redis was down; it should wait for it:\n%s", err, logs)
	default:
	}
	r.Restart(t)
	exits(t, logs, done, 20*time.Second, want)
}
