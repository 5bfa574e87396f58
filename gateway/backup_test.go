package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

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
