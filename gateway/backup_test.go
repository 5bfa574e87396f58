package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
)

func backupServer(t *testing.T, backup BackupFunc) (*harness, *boltstore.Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pagerd.yaml")
	if err := os.WriteFile(path, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st := boltStore(t).(*boltstore.Store)
	if backup == nil {
		backup = st.Backup
	}
	logs := &syncBuffer{}
	srv, err := New(Options{ConfigPath: path, Config: cfg, Store: st, Now: func() time.Time { return fixedNow },
		Logger: slog.New(slog.NewJSONHandler(logs, nil)), Backup: backup})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &harness{t: t, srv: srv, http: hs, store: st, cfg: path, logs: logs}, st
}

// GET /-/backup streams the embedded store as it is, to API tokens only,
// and the copy restores with the incident and its pending steps.
func TestBackupEndpoint(t *testing.T) {
	h, _ := backupServer(t, nil)
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
	h, _ := backupServer(t, func(ctx context.Context, w io.Writer) (int64, error) {
		n, _ := w.Write(bytes.Repeat([]byte{1}, 64<<10))
		return int64(n), errors.New("disk on fire")
	})
	req, _ := http.NewRequest("GET", h.http.URL+"/-/backup", nil)
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
	h := newHarness(t, boltStore(t))
	if r := h.api("GET", "/-/backup", ""); r.code != 501 || !strings.Contains(r.body, "back up Redis itself") {
		t.Fatalf("backup without an embedded store: %d %s", r.code, r.body)
	}
}
