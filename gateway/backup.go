package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
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
	// write timeout: the copy is not bounded as a whole, but each write
	// to the client is (stallWriter), so a client that stopped reading
	// does not hold the copy's read transaction, and with it every page
	// the store frees meanwhile, for as long as its connection stays open.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	sw := &stallWriter{w: w, rc: rc, stall: backupStall}
	n, err := s.o.Backup(c.Request().Context(), sw)
	if err != nil {
		if sw.stalled != nil {
			err = sw.stalled // the store reports the request's end, which the cut brought
		}
		// The status is sent: abort the connection, so the client sees a
		// truncated body rather than a short file that looks whole.
		s.log.Error("backup failed", "err", err, "bytes", n)
		panic(http.ErrAbortHandler)
	}
	// The end of the body goes out after this: it gets its own stall.
	_ = rc.SetWriteDeadline(time.Now().Add(backupStall))
	s.log.Info("backup sent", "bytes", n, "token", c.Get(ctxTokenName))
	return nil
}

// FetchBackup streams a running pagerd's online backup (GET
// <server>/-/backup, as `pagerd backup --server` takes it) into w. No
// overall timeout: a large store takes as long as it takes; connecting and
// the first byte are bounded (apiclient's shared client), and so is each
// wait for the next bytes (backupStall): a download that stops (a kubectl
// port-forward that lost its pod and keeps the local connection open)
// fails rather than hang a nightly backup job for good.
func FetchBackup(ctx context.Context, server, token string, w io.Writer) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stalled := fmt.Errorf("no data for %s", backupStall)
	timer := time.AfterFunc(backupStall, func() { cancel(stalled) })
	defer timer.Stop()
	c := apiclient.Client{Server: server, Token: token}
	resp, err := c.Get(ctx, "/-/backup", "application/octet-stream")
	if err != nil {
		return fmt.Errorf("backup from %s: %w", server, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, progress{resp.Body, timer, backupStall}); err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, stalled) {
			err = cause
		}
		return fmt.Errorf("backup from %s cut off: %w", server, err)
	}
	return nil
}

// progress pushes timer back by stall at each read that brings data.
type progress struct {
	r     io.Reader
	timer *time.Timer
	stall time.Duration
}

func (p progress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.timer.Reset(p.stall)
	}
	return n, err
}

// backupStall is how long a backup's write to its client may take: a
// download that stops (its client stopped reading) is cut after it.
var backupStall = time.Minute

// stallWriter bounds each write of a backup to its client by stall. While
// a backup runs, the store cannot reuse the pages it has yet to copy, so
// its file grows by every write meanwhile; a download that stopped (a
// laptop asleep behind kubectl port-forward, a stopped `pagerd backup`)
// held them for as long as its connection stayed open, until the volume
// was full and alerts were refused. A slow link that keeps moving is
// never cut.
type stallWriter struct {
	w     io.Writer
	rc    *http.ResponseController
	stall time.Duration
	// stalled is the error of the write that ran out of time, if one did.
	stalled error
}

func (s *stallWriter) Write(p []byte) (int, error) {
	// A writer that cannot take a deadline (ErrNotSupported: a wrapper
	// in front of the connection) writes unbounded, as before, rather than
	// fail every backup.
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.stall)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, fmt.Errorf("bound the backup's write: %w", err)
	}
	n, err := s.w.Write(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("the client made no progress for %s: %w", s.stall, err)
		s.stalled = err
	}
	return n, err
}
