package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
)

// A backup taken while incidents are being written is a consistent store:
// it restores into a new data dir that opens, holds every incident stored
// before the backup began (with its pending steps and due entry), and no
// write half applied.
func TestBackupWhileWriting(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	var before []string
	for i := range 50 {
		id, _, err := s.Trigger(ctx, newIncident("api", fmt.Sprintf("before-%d", i), base.Add(time.Duration(i)*time.Second), 3), nil)
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, id)
	}
	var (
		stop    atomic.Bool
		written atomic.Int64
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			inc := newIncident("api", fmt.Sprintf("during-%d", i), base.Add(time.Hour), 3)
			if _, _, err := s.Trigger(ctx, inc, []store.Entry{{At: base, Type: "trigger"}}); err != nil {
				t.Error(err)
				return
			}
			inc.State.Pending = inc.State.Pending[1:] // the first step was sent
			if err := s.Update(ctx, inc, []store.Entry{{At: base, Type: "notify"}}); err != nil {
				t.Error(err)
				return
			}
			written.Add(1)
		}
	}()
	for written.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	var buf bytes.Buffer
	n, err := s.Backup(ctx, &buf)
	stop.Store(true)
	wg.Wait()
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("backup: %d bytes written, %d in the buffer, %v", n, buf.Len(), err)
	}

	dir := filepath.Join(t.TempDir(), "restored")
	info, err := Restore(&buf, dir)
	if err != nil {
		t.Fatal(err)
	}
	r := open(t, dir)
	checkSched(t, r)
	for _, id := range before {
		inc, err := r.Get(ctx, id)
		if err != nil {
			t.Fatalf("incident %s stored before the backup is not in it: %v", id, err)
		}
		if len(inc.State.Pending) != 3 {
			t.Errorf("incident %s restored with %d pending steps, want 3", id, len(inc.State.Pending))
		}
	}
	all, err := r.List(ctx, store.Filter{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != info.Incidents || info.Open != info.Incidents || info.Format != Format() {
		t.Fatalf("restore reported %+v; the store holds %d incidents", info, len(all))
	}
	during := 0
	for _, inc := range all {
		if !strings.HasPrefix(inc.DedupKey, "during-") {
			continue
		}
		during++
		// The trigger and the update were two transactions: either may be
		// in the backup, never a mix of them.
		tl, err := r.Timeline(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ok := (inc.Version == 1 && len(inc.State.Pending) == 3 && len(tl) == 1) ||
			(inc.Version == 2 && len(inc.State.Pending) == 2 && len(tl) == 2); !ok {
			t.Errorf("incident %s restored half written: version %d, %d pending, %d timeline entries",
				inc.ID, inc.Version, len(inc.State.Pending), len(tl))
		}
	}
	t.Logf("backup of %d bytes: %d incidents stored before it, %d of the %d written during it", n, len(before), during, written.Load())
	if during == 0 || int64(during) > written.Load()+1 {
		t.Fatalf("%d incidents written during the backup are in it, of %d written", during, written.Load())
	}
}

// The offline backup reads a stopped pagerd's data dir, and refuses one a
// running pagerd holds (its writes cannot be copied consistently from
// outside), pointing at the online backup.
func TestBackupDir(t *testing.T) {
	dir, ctx := t.TempDir(), context.Background()
	s := open(t, dir)
	id, _, err := s.Trigger(ctx, newIncident("api", "g1", base, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := BackupDir(ctx, dir, &bytes.Buffer{}); !errors.Is(err, ErrInUse) {
		t.Fatalf("BackupDir of a data dir in use: %v, want ErrInUse", err)
	}
	if d := time.Since(start); d > LockTimeout+time.Second {
		t.Fatalf("BackupDir of a data dir in use took %v", d)
	}
	s.Close()
	var buf bytes.Buffer
	if _, err := BackupDir(ctx, dir, &buf); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "r")
	if _, err := Restore(&buf, restored); err != nil {
		t.Fatal(err)
	}
	if inc, err := open(t, restored).Get(ctx, id); err != nil || len(inc.State.Pending) != 2 {
		t.Fatalf("restored incident: %+v %v", inc, err)
	}
	if _, err := BackupDir(ctx, t.TempDir(), &buf); err == nil || !strings.Contains(err.Error(), "no store in data dir") {
		t.Fatalf("BackupDir of an empty dir: %v", err)
	}
}

// A restore never overwrites anything, and leaves no half-written store:
// a data dir that is not empty, a file that is not a store, a truncated
// backup and one from a newer pagerd are all refused.
func TestRestoreRefuses(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	if _, _, err := s.Trigger(ctx, newIncident("api", "g1", base, 2), nil); err != nil {
		t.Fatal(err)
	}
	var good bytes.Buffer
	if _, err := s.Backup(ctx, &good); err != nil {
		t.Fatal(err)
	}
	var newer bytes.Buffer
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, []byte("9")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(ctx, &newer); err != nil {
		t.Fatal(err)
	}

	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "notes"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir string
		backup    []byte
		want      string
	}{
		{"non-empty dir", nonEmpty, good.Bytes(), "is not empty: restore into a new data dir"},
		{"not a store", "", []byte("hello, I am not a database"), "the backup is not a readable pagerd store"},
		{"truncated", "", good.Bytes()[:good.Len()/2], "the backup is not a readable pagerd store"},
		{"newer format", "", newer.Bytes(), "store format 9, this pagerd reads format 4 and older"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if dir == "" {
				dir = filepath.Join(t.TempDir(), "new")
			}
			_, err := Restore(bytes.NewReader(tc.backup), dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("restore: %v, want an error saying %q", err, tc.want)
			}
			if tc.dir == "" {
				if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("a refused restore left %s behind (%v)", dir, err)
				}
			} else if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Fatalf("a refused restore changed %s: %d entries", dir, len(entries))
			}
		})
	}
	// An empty existing directory is fine (a fresh volume, say).
	empty := t.TempDir()
	if info, err := Restore(bytes.NewReader(good.Bytes()), empty); err != nil || info.Incidents != 1 || info.Pending != 1 {
		t.Fatalf("restore into an empty dir: %+v %v", info, err)
	}
	// A new ext4 volume holds lost+found at its root, where the chart and
	// the manifests put the data dir: that is a fresh volume too.
	volume := t.TempDir()
	if err := os.Mkdir(filepath.Join(volume, "lost+found"), 0o700); err != nil {
		t.Fatal(err)
	}
	if info, err := Restore(bytes.NewReader(good.Bytes()), volume); err != nil || info.Incidents != 1 || info.Pending != 1 {
		t.Fatalf("restore into a new volume's root: %+v %v", info, err)
	}
}

// TestRestoreKilledBeforeItFinished: a restore killed (SIGKILL, an OOM, a
// job's deadline) leaves its file, half written, and no store. pagerd
// serve on that data dir refuses to start and says why, where it made a
// new, empty store: every incident of the backup gone from sight and from
// paging, without a word. The next restore replaces the file.
func TestRestoreKilledBeforeItFinished(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	inc := newIncident("api", "g1", base, 2)
	if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	var good bytes.Buffer
	if _, err := s.Backup(ctx, &good); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, restoringName), good.Bytes()[:good.Len()/3], 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(dir); !errors.Is(err, ErrRestoreUnfinished) || !strings.Contains(err.Error(), "run pagerd restore again") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("open after a killed restore: %v, want it refused", err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused open made a store: %v", err)
	}
	if info, err := Restore(bytes.NewReader(good.Bytes()), dir); err != nil || info.Incidents != 1 {
		t.Fatalf("restore again: %+v %v", info, err)
	}
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, err := st.Get(ctx, inc.ID); err != nil || !got.Open() {
		t.Fatalf("the restored store's incident: %+v (%v)", got, err)
	}
}

// A backup stops when its reader goes away.
func TestBackupCancelled(t *testing.T) {
	s := open(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Backup(ctx, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("backup with a cancelled context: %v", err)
	}
}

// blockedWriter is a backup's destination that takes nothing until
// released: a client downloading GET /-/backup over a slow link.
type blockedWriter struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.started) })
	<-w.release
	return len(p), nil
}

// A backup streamed to a slow client holds one read transaction for as
// long as the download takes. bbolt grows its memory map by mapping the
// file again, which waits for every read transaction to end: without room
// mapped ahead, the first write that grows the file past the map would
// wait for the download, and every write after it (new incidents, the
// dispatcher's claims of due pages) with it. Writes go on while the
// backup is stuck.
func TestWritesGoOnWhileABackupIsStuck(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	w := &blockedWriter{started: make(chan struct{}), release: make(chan struct{})}
	backup := make(chan error, 1)
	go func() {
		_, err := s.Backup(ctx, w)
		backup <- err
	}()
	<-w.started
	defer func() {
		close(w.release)
		if err := <-backup; err != nil {
			t.Error(err)
		}
	}()

	// Past several of the map sizes bbolt doubles through from a new
	// file's (32 KiB, 64 KiB, ... 8 MiB): the read transaction keeps the
	// pages each write frees, so the file grows fast.
	details := []byte(`{"note":"` + strings.Repeat("x", 4<<10) + `"}`)
	for i := range 512 {
		inc := newIncident("api", fmt.Sprintf("during-backup-%d", i), base, 1)
		inc.Details = details
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, _, err := s.Trigger(wctx, inc, nil)
		cancel()
		if err != nil {
			t.Fatalf("write %d while a backup is stuck: %v (file %d bytes)", i, err, s.fileSize(t))
		}
	}
	if size := s.fileSize(t); size < 8<<20 {
		t.Fatalf("the file grew to %d bytes only: the test no longer crosses the map sizes it means to", size)
	}
}

func (s *Store) fileSize(t *testing.T) int64 {
	fi, err := os.Stat(filepath.Join(s.dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
