package gateway

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"
	"testing/iotest"
)

// TestIntakeBodyThatCouldNotBeReadIsRetried: a body whose read fails part
// way (the sender went quiet past the server's read timeout, its
// connection broke) stored nothing, and the same request may well
// succeed: each intake answers 503, which its senders retry. It was 400,
// which Alertmanager drops: a sender slow once lost its alerts.
func TestIntakeBodyThatCouldNotBeReadIsRetried(t *testing.T) {
	h := newHarness(t, withConfig(ogConfig))
	for _, c := range append(bodyIntakes(), bodyIntake{"/v2/alerts/disk/close?identifierType=alias", []string{"Authorization", "GenieKey " + ogKey}}) {
		for _, length := range []int64{-1, 100, 9 << 20} {
			if length > 512<<10 && c.path == "/v2/enqueue" {
				continue // over PagerDuty's limit: 413 unread
			}
			body := io.MultiReader(strings.NewReader(`{"receiver":"`), iotest.ErrReader(errors.New("i/o timeout")))
			rec := postIntake(h, c.path, body, length, c.hdr...)
			if rec.Code != http.StatusServiceUnavailable || !strings.Contains(strings.ToLower(rec.Body.String()), "retry") ||
				strings.Contains(rec.Body.String(), "invalid") {
				t.Errorf("%s, Content-Length %d, a body whose read failed: %d %s", c.path, length, rec.Code, rec.Body)
			}
		}
	}
	if n := len(h.list("")); n != 0 {
		t.Fatalf("%d incidents from bodies that could not be read", n)
	}
}

// TestIntakeBodyWithMalformedChunkedEncodingIsRefused: a body whose
// chunked encoding net/http cannot parse fails the same way however often
// it is sent: each intake answers 400, not a 503 that says nothing was
// stored and to retry.
func TestIntakeBodyWithMalformedChunkedEncodingIsRefused(t *testing.T) {
	h := newHarness(t, withConfig(ogConfig))
	for _, c := range bodyIntakes() {
		for _, chunked := range []string{"zz\r\n{}\r\n0\r\n\r\n", "2\r\n{}XX0\r\n\r\n", "2\n{}\r\n0\r\n\r\n"} {
			rec := postIntake(h, c.path, httputil.NewChunkedReader(strings.NewReader(chunked)), -1, c.hdr...)
			if rec.Code != http.StatusBadRequest || strings.Contains(strings.ToLower(rec.Body.String()), "retry") {
				t.Errorf("%s, chunked %q: %d %s, want 400", c.path, chunked, rec.Code, rec.Body)
			}
		}
	}
}

// TestIntakeAlertmanagerStreamBrokenOffIsRetried: a notification read as
// a stream (over 8 MiB) whose sender hung up part way ends in an
// unexpected EOF from the body, not from the sender's JSON: it is
// answered and logged as a body that could not be read (503, retried), as
// the same notification read whole is, not as malformed JSON (400, which
// Alertmanager drops and its operator takes for its own bug).
func TestIntakeAlertmanagerStreamBrokenOffIsRetried(t *testing.T) {
	h := newHarness(t, withConfig(ogConfig))
	for _, length := range []int64{100, 9 << 20} {
		body := io.MultiReader(strings.NewReader(`{"receiver":"`), iotest.ErrReader(io.ErrUnexpectedEOF))
		rec := postIntake(h, "/api/v1/alertmanager", body, length, "Authorization", "Bearer "+amKey)
		if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "malformed") {
			t.Errorf("Content-Length %d, a body broken off: %d %s, want 503", length, rec.Code, rec.Body)
		}
	}
}

// postIntake posts body to the daemon's handler as JSON with the
// Content-Length given (-1: unknown) and the headers (name, value, ...).
func postIntake(h *harness, path string, body io.Reader, length int64, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, body)
	req.ContentLength = length
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.d.Handler().ServeHTTP(rec, req)
	return rec
}

// bodyIntake is an intake's path and the headers that authenticate it.
type bodyIntake struct {
	path string
	hdr  []string
}

// bodyIntakes are the intakes that read an alert's body: Alertmanager's,
// PagerDuty's (its key is in the body) and Opsgenie's create.
func bodyIntakes() []bodyIntake {
	return []bodyIntake{
		{"/api/v1/alertmanager", []string{"Authorization", "Bearer " + amKey}},
		{"/v2/enqueue", nil},
		{"/v2/alerts", []string{"Authorization", "GenieKey " + ogKey}},
	}
}
