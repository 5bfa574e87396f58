package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pagerd/pagerd/internal/apiclient"
)

// BackupFunc writes a consistent copy of the store to w and returns the
// bytes written (boltstore.Store.Backup). Only the embedded store has one:
// Redis is backed up with Redis's own persistence.
type BackupFunc func(ctx context.Context, w io.Writer) (int64, error)

// backup answers GET /-/backup with a consistent copy of the embedded
// store, taken while pagerd serves: the online backup `pagerd backup
// --server` uses. The running daemon holds the database's file lock, so a
// consistent copy can only come from inside it. It takes an API token, as
// /-/reload does: the copy holds every incident and its alert details.
func (s *Server) backup(c echo.Context) error {
	if s.o.Backup == nil {
		return echo.NewHTTPError(http.StatusNotImplemented,
			"this pagerd keeps incidents in Redis: back up Redis itself (AOF or RDB, see docs/OPERATIONS.md)")
	}
	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "application/octet-stream")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="pagerd-`+s.now().UTC().Format("20060102T150405Z")+`.db"`)
	h.Set("Cache-Control", "no-store")
	// A large store over a slow link may take longer than the server's
	// write timeout; the copy is one read transaction, which never blocks
	// writers, so there is no reason to cut it off.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	n, err := s.o.Backup(c.Request().Context(), w)
	if err != nil {
		// The status is sent: abort the connection, so the client sees a
		// truncated body rather than a short file that looks whole.
		s.log.Error("backup failed", "err", err, "bytes", n)
		panic(http.ErrAbortHandler)
	}
	s.log.Info("backup sent", "bytes", n, "token", c.Get(ctxTokenName))
	return nil
}

// FetchBackup streams a running pagerd's online backup (GET
// <server>/-/backup, as `pagerd backup --server` takes it) into w. No
// overall timeout: a large store takes as long as it takes; connecting and
// the first byte are bounded (apiclient's shared client).
func FetchBackup(ctx context.Context, server, token string, w io.Writer) error {
	c := apiclient.Client{Server: server, Token: token}
	resp, err := c.Get(ctx, "/-/backup", "application/octet-stream")
	if err != nil {
		return fmt.Errorf("backup from %s: %w", server, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("backup from %s cut off: %w", server, err)
	}
	return nil
}
