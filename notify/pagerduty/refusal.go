package pagerduty

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	gopd "github.com/PagerDuty/go-pagerduty"

	"github.com/pagerd/pagerd/internal/textcut"
)

// The Events API v2 says why it refused an event at the top of its answer
// ({"status":"invalid event","message":"Event object is invalid",
// "errors":["Length of 'routing_key' is incorrect (should be 32
// characters)"]}), and go-pagerduty's client reads only the REST API's
// {"error":{…}}, so its APIError carries the status code alone. A refusal
// pagerd records or logs without the reason sends whoever reads it to
// PagerDuty's documentation to guess: refusalReader, under the client,
// reads the reason into the call's refusal on its way past.

// maxRefusalBytes bounds what is read of a refusal for its reason; what
// follows is left for the client, and the reason given up.
const maxRefusalBytes = 16 << 10

// maxReasonBytes bounds the reason as it goes into an error.
const maxReasonBytes = 512

// refusal is the reason PagerDuty gave for refusing one event.
type refusal struct {
	Message string   `json:"message"`
	Errors  []string `json:"errors"`
}

type refusalKey struct{}

// withRefusal has refusalReader fill r with the reason of a refusal
// answered to the requests made with ctx.
func withRefusal(ctx context.Context, r *refusal) context.Context {
	return context.WithValue(ctx, refusalKey{}, r)
}

// text is the reason to append to "events API answered <code>": PagerDuty's
// message and errors, or those of a REST-style error object, or nothing.
func (r *refusal) text(apiErr gopd.APIError) string {
	msg, errs := r.Message, r.Errors
	if msg == "" && len(errs) == 0 && apiErr.APIError.Valid {
		msg, errs = apiErr.APIError.ErrorObject.Message, apiErr.APIError.ErrorObject.Errors
	}
	parts := make([]string, 0, 1+len(errs))
	for _, s := range append([]string{msg}, errs...) {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + textcut.Bytes(strings.Join(parts, ": "), maxReasonBytes, textcut.Ellipsis)
}

// refusalReader is the client's transport: it passes every request to
// base and, for an answer of 400 or more in JSON to a request whose
// context carries a refusal (withRefusal), reads the reason into it,
// leaving the body whole for the client.
type refusalReader struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t refusalReader) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	r, _ := req.Context().Value(refusalKey{}).(*refusal)
	if err != nil || r == nil || resp.StatusCode < 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return resp, err
	}
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxRefusalBytes))
	if rerr == nil && len(b) < maxRefusalBytes {
		_ = json.Unmarshal(b, r)
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	return resp, nil
}
