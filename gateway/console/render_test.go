package console

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRenderFailsWhole: a template that fails halfway (here the incident
// page given a body it cannot read) answers 500 with nothing of the page,
// rather than the part written before the error under a 200, and the
// error is logged.
func TestRenderFailsWhole(t *testing.T) {
	var logs bytes.Buffer
	c := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w := httptest.NewRecorder()
	c.render(w, http.StatusOK, "incident.html", page{Title: "P0 disk almost full", Body: 42})
	if w.Code != http.StatusInternalServerError {
		t.Errorf("a page that failed halfway: %d, want 500", w.Code)
	}
	if body := w.Body.String(); strings.Contains(body, "<html") || strings.Contains(body, "disk almost full") {
		t.Errorf("a page that failed halfway went out in part:\n%s", body)
	}
	if !strings.Contains(logs.String(), "console: page not rendered") {
		t.Errorf("not logged: %s", logs.String())
	}

	w = httptest.NewRecorder()
	c.render(w, http.StatusNotFound, "error.html", page{Title: "Not Found", Error: "No such incident."})
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "No such incident.") ||
		w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("a page made whole: %d %q\n%s", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
}
