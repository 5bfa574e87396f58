package gateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
)

// TestShutdownCutsABackupItsClientStoppedReading: an online backup
// streams to a client that stopped reading (a stalled pipe in a `pagerd
// backup --server` job) when SIGTERM comes. The server's shutdown gave
// up after its timeout and left the connection open; the store's close
// then waited for the backup's read transaction, for good, and pagerd
// stopped only at SIGKILL. Now the connections left at the timeout are
// closed, and pagerd stops.
func TestShutdownCutsABackupItsClientStoppedReading(t *testing.T) {
	dir := t.TempDir()
	st, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	writeBallast(t, dir)
	cfgPath := filepath.Join(t.TempDir(), "pagerd.yaml")
	if err := os.WriteFile(cfgPath, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.LoadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: cfgPath, Config: cfg, Listener: l, DataDir: dir, ShutdownTimeout: 300 * time.Millisecond,
			Stdout: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	var c net.Conn
	waitUntil(t, 10*time.Second, "pagerd listening", func() bool {
		c, err = net.Dial("tcp", l.Addr().String())
		return err == nil
	})
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	if _, err := c.Write([]byte("GET /-/backup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + apiToken + "\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		t.Fatalf("backup: %v %q", err, buf[:n])
	}
	// The client reads no more: the server's writes fill the buffers and
	// block (waited for by the shutdown timeout running out after it).
	cancel()
	select {
	case err := <-done:
		t.Logf("pagerd stopped: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("pagerd did not stop 15 s after SIGTERM (shutdown timeout 300 ms): the store's close waits for the backup's read transaction")
	}
}

// writeBallast makes the store file in dir larger than the socket buffers
// can hold (about 20 MB), so that a backup to a client that stopped
// reading blocks in its writes.
func writeBallast(t *testing.T, dir string) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, boltstore.FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("test-ballast"))
		if err != nil {
			return err
		}
		for i := range 320 {
			v := make([]byte, 64<<10)
			for j := range v {
				v[j] = byte(i*31 + j*7)
			}
			if err := b.Put([]byte{byte(i >> 8), byte(i)}, v); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}
