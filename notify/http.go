package notify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// HTTPSender is the HTTP plumbing the transports that call a provider over
// plain HTTP share (webhook, ntfy, Pushover): one client, a timeout per
// request, and one reading of status codes, so that what is worth retrying
// is decided in one place.
type HTTPSender struct {
	name    string
	client  *http.Client
	timeout time.Duration
}

// MaxIdlePerHost is how many idle connections to one provider host the
// transports keep for the next pages (net/http's default keeps 2).
const MaxIdlePerHost = 64

// NewTransport is the HTTP transport for pages: net/http's default
// (proxy from the environment, its dial and TLS timeouts, HTTP/2), keeping
// up to MaxIdlePerHost idle connections a host. With the default 2, every
// connection but two of a burst of pages to one provider was closed when
// its page was answered, so in a storm nearly every page paid for a new
// connection and its TLS handshake, on the way to someone who is waiting.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = MaxIdlePerHost
	t.MaxIdleConns = 4 * MaxIdlePerHost
	return t
}

// NewHTTPSender makes the sender of the transport called name (which
// starts its errors). A nil client is a client of its own, on
// NewTransport; a timeout of zero or less is 10 seconds.
func NewHTTPSender(name string, client *http.Client, timeout time.Duration) HTTPSender {
	if client == nil {
		client = &http.Client{Transport: NewTransport()}
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return HTTPSender{name: name, client: client, timeout: timeout}
}

// maxAnswer is as much of an answer's body as is read.
const maxAnswer = 64 << 10

// Post sends one request built by build. Network errors are Temporary.
// check reads the answer, its status and up to 64 KiB of its body: nil is
// delivered, an error a refusal, which is Temporary when the status is 429
// or 5xx (the provider may take the same request later) and final
// otherwise. A nil check takes any 2xx. Errors name the host only: a URL
// can carry a token.
func (h HTTPSender) Post(ctx context.Context, build func(ctx context.Context) (*http.Request, error), check func(status int, body []byte) error) error {
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
	if check == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return nil
		}
		err = fmt.Errorf("%s: %s answered %d", h.name, req.URL.Host, resp.StatusCode)
	} else {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		if err = check(resp.StatusCode, body); err == nil {
			return nil
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return Temporary(err)
	}
	return err
}

// errorsWithoutURL drops the URL an *url.Error repeats, keeping its cause.
func errorsWithoutURL(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && u.Unwrap() != nil {
		return u.Unwrap()
	}
	return err
}
