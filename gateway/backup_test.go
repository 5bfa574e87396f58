package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
)

// failingBackup is an embedded store whose backup breaks half way.
type failingBackup struct{ store.Store }

func (failingBackup) Backup(ctx context.Context, w io.Writer) (int64, error) {
	n, _ := w.Write(bytes.Repeat([]byte{1}, 64<<10))
	return int64(n), errors.New("disk on fire")
}

// GET /-/backup streams the embedded store as it is, to API tokens only,
// and the copy restores with the incident and its pending steps.
func TestBackupEndpoint(t *testing.T) {
	h := newHarness(t)
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"severity": "critical"}),
		"Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("alert: %d %s", r.code, r.body)
	}
	if r := h.do("GET", "/-/backup", ""); r.code != 401 {
		t.Fatalf("backup without a token: %d", r.code)
	}
	if r := h.do("GET", "/-/backup", "", "Authorization", "Bearer "+amKey); r.code != 401 {
		t.Fatalf("backup with an integration key: %d", r.code)
	}
	r := h.api("GET", "/-/backup", "")
	if r.code != 200 || r.hdr.Get("Content-Type") != "application/octet-stream" ||
		!strings.Contains(r.hdr.Get("Content-Disposition"), `filename="pagerd-20250910T060000Z.db"`) {
		t.Fatalf("backup: %d %v", r.code, r.hdr)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	info, err := boltstore.Restore(strings.NewReader(r.body), dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Incidents != 1 || info.Pending != 1 {
		t.Fatalf("restored %+v, want the one incident with its steps pending", info)
	}
	rs, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	if at, ok, err := rs.NextDue(context.Background()); err != nil || !ok || at.After(fixedNow) {
		t.Fatalf("restored store's next step: %v %v %v, want one due at %v", at, ok, err, fixedNow)
	}
	if !strings.Contains(h.logs.String(), `"msg":"backup sent"`) || !strings.Contains(h.logs.String(), `"token":"ops"`) {
		t.Fatalf("backup not logged with the token's name:\n%s", h.logs)
	}
}

// A backup that fails half way aborts the connection: the client gets an
// error, never a short file that looks complete.
func TestBackupFailureAbortsTheStream(t *testing.T) {
	h := newHarness(t, withStore(failingBackup{boltStore(t)}))
	req, _ := http.NewRequest("GET", h.url+"/-/backup", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("a failed backup read as a whole body")
	}
}

// With Redis there is nothing to stream: the answer says what to do.
func TestBackupEndpointWithoutEmbeddedStore(t *testing.T) {
	st, _ := redisStore(t)
	h := newHarness(t, withStore(st))
	if r := h.api("GET", "/-/backup", ""); r.code != 501 || !strings.Contains(r.body, "back up Redis itself") {
		t.Fatalf("backup without an embedded store: %d %s", r.code, r.body)
	}
}

// TestBackupToAStalledClientIsCut: a backup download that stops making
// progress (a laptop asleep behind kubectl port-forward, a stopped
// `pagerd backup --server`, a stalled pipe) held the backup's read
// transaction for as long as the connection stayed open, with no limit:
// the store cannot reuse the pages it reads, so its file grew by every
// write meanwhile until the volume was full (alerts then answered 503,
// no step claimed), and once past the memory map every write waited for
// it. A backup that writes nothing for backupStall is cut, loudly (the
// client sees a truncated body), and its transaction ends; a slow link
// that keeps moving is not cut, however long it takes.
func TestBackupToAStalledClientIsCut(t *testing.T) {
	defer func(d time.Duration) { backupStall = d }(backupStall)
	backupStall = 300 * time.Millisecond
	dir := t.TempDir()
	st, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	writeBallast(t, dir)
	st, err = boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := newHarness(t, withStore(st))

	c, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /-/backup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + apiToken + "\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		t.Fatalf("backup: %v %q", err, buf[:n])
	}
	// The client reads no more: the socket buffers fill (the file is
	// larger than they hold) and the server's writes block.
	waitUntil(t, 5*time.Second, "the stalled backup cut", func() bool {
		return strings.Contains(h.logs.String(), `"msg":"backup failed"`)
	})
	if !strings.Contains(h.logs.String(), "made no progress") {
		t.Errorf("the log does not say why the backup was cut:\n%s", h.logs)
	}
	// What the buffers held, and then the end of a connection cut short:
	// never the end of a whole body.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the stalled backup's connection is still open: %v", err)
		}
	}

	// A slow client that keeps reading gets the whole backup. Its stall
	// bound is far above the 50 ms it pauses: with 5 s, a CI run sharing
	// two cores with other race-enabled test processes cut it once
	// (20 of its 21 MB read), the reader starved, not stalled.
	backupStall = 30 * time.Second
	req, _ := http.NewRequest("GET", h.url+"/-/backup", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got bytes.Buffer
	for {
		n, err := io.CopyN(&got, resp.Body, 1<<20)
		if err == io.EOF {
			break
		}
		if err != nil || n == 0 {
			t.Fatalf("slow download cut after %d bytes: %v", got.Len(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := boltstore.Restore(bytes.NewReader(got.Bytes()), filepath.Join(t.TempDir(), "r")); err != nil {
		t.Fatalf("the slow download does not restore: %v", err)
	}
}

// TestFetchBackupFromAStalledServerFails: `pagerd backup --server` whose
// download stops (a kubectl port-forward that lost its pod and keeps the
// local connection open, a pagerd stopped mid-copy) waited for the next
// byte for ever: a nightly backup job that never ends, so systemd's
// timer never starts the next, and nobody is told there are no more
// backups. It fails once no byte came for backupStall, and says so.
func TestFetchBackupFromAStalledServerFails(t *testing.T) {
	defer func(d time.Duration) { backupStall = d }(backupStall)
	backupStall = 300 * time.Millisecond
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(bytes.Repeat([]byte{1}, 64<<10))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	done := make(chan error, 1)
	go func() { done <- FetchBackup(context.Background(), srv.URL, apiToken, io.Discard) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no data for 300ms") {
			t.Fatalf("backup from a stalled server: %v, want it to say no data came", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("backup from a stalled server still waiting after 5s")
	}
}
