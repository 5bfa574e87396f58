package notify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// httpSender is the HTTP plumbing the webhook and ntfy transports share: one
// client, a timeout per request, and one reading of status codes.
type httpSender struct {
	name    string
	client  *http.Client
	timeout time.Duration
}

func newHTTPSender(name string, client *http.Client, timeout time.Duration) httpSender {
	if client == nil {
		client = &http.Client{}
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return httpSender{name: name, client: client, timeout: timeout}
}

// post sends one request built by build. 2xx is delivered; 429, 5xx and
// network errors are Temporary; other answers are not. Errors name the
// host only: a URL can carry a token.
func (h httpSender) post(ctx context.Context, build func(ctx context.Context) (*http.Request, error)) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := build(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", h.name, err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return Temporary(fmt.Errorf("%s: %s: %w", h.name, req.URL.Host, errorsWithoutURL(err)))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return Temporary(fmt.Errorf("%s: %s answered %d", h.name, req.URL.Host, resp.StatusCode))
	default:
		return fmt.Errorf("%s: %s answered %d", h.name, req.URL.Host, resp.StatusCode)
	}
}

// errorsWithoutURL drops the URL an *url.Error repeats, keeping its cause.
func errorsWithoutURL(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && u.Unwrap() != nil {
		return u.Unwrap()
	}
	return err
}
