package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
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
//
// A page's request whose process stalled (stopped, its VM paused) since
// its claim looked at the incident (WithStallMark) asks whether the page
// is still due (WithStillDue) before its body goes out, and is called off
// if it is not (CalledOff); the question's time is not the request's
// (holdTimeout).
// Its send, counted on the time the process runs (WithRunningTimeout),
// would otherwise go out when the process ran again, seconds after an
// acknowledgement that came meanwhile (the fault soak: a call 8.5 s after
// its acknowledgement was answered, its replica stopped twice as the call
// started).
func NewTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = MaxIdlePerHost
	t.MaxIdleConns = 4 * MaxIdlePerHost
	// Shorter than the idle timeouts of common servers (nginx: 75 s): a
	// page written on a connection the server is closing fails after its
	// request was written, and is then "may have been sent", not retried.
	t.IdleConnTimeout = 30 * time.Second
	return askAfterStall{t}
}

// askAfterStall is NewTransport's: it gives a page's request a body that
// asks, as the transport reads it to write the request (after the headers,
// before a byte of the body goes out, on HTTP/1 and HTTP/2 alike), whether
// the page is still due if the process stalled since the question was
// last asked (StillDueAfterStall). A request without its body is not one
// a provider acts on.
type askAfterStall struct{ next *http.Transport }

// RoundTrip sends r with its body asking after a stall.
func (a askAfterStall) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || checkOf(r.Context()) == nil {
		return a.next.RoundTrip(r)
	}
	ctx := r.Context()
	r2 := *r // a RoundTripper does not change its caller's request
	r2.Body = &dueBody{ReadCloser: r.Body, ctx: ctx}
	if get := r.GetBody; get != nil {
		// The transport sends again, on a new connection, a request
		// whose first connection failed before it went out.
		r2.GetBody = func() (io.ReadCloser, error) {
			b, err := get()
			if err != nil {
				return nil, err
			}
			return &dueBody{ReadCloser: b, ctx: ctx}, nil
		}
	}
	return a.next.RoundTrip(&r2)
}

// CloseIdleConnections closes the transport's idle connections
// (http.Client.CloseIdleConnections).
func (a askAfterStall) CloseIdleConnections() { a.next.CloseIdleConnections() }

// dueBody is a request body that asks, before its first byte is read,
// whether its page is still due after a stall. Not after: net/http reads
// a body once more when it has written its Content-Length's worth, to
// see that it holds no more, and a stall just before that read (the
// process stopped as the page was written) called off a page the
// provider had whole, and acted on: it rang the person, and the
// dispatcher, told nothing went out, recorded nothing.
type dueBody struct {
	io.ReadCloser
	ctx context.Context
	// read says a byte of the body was handed to the transport: the
	// request is on its way, and is not called off.
	read bool
}

func (b *dueBody) Read(p []byte) (int, error) {
	if !b.read {
		if err := StillDueAfterStall(b.ctx); err != nil {
			return 0, err
		}
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.read = true
	}
	return n, err
}

// NewHTTPSender makes the sender of the transport called name (which
// starts its errors). A nil client is a client of its own, on
// NewTransport; a timeout of zero or less is 10 seconds. The sender
// follows only the redirects that keep the page (KeepMethodOnRedirect).
func NewHTTPSender(name string, client *http.Client, timeout time.Duration) HTTPSender {
	if client == nil {
		client = &http.Client{Transport: NewTransport()}
	}
	client = KeepMethodOnRedirect(client)
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return HTTPSender{name: name, client: client, timeout: timeout}
}

// RedirectError is a redirect that a page does not follow: one that would
// change its method (301, 302 and 303 turn a POST into a GET without its
// body). Followed, the GET's 2xx (ntfy answers a GET of a topic with its
// web app) made the page sent though nothing was posted.
type RedirectError struct {
	// Status is the redirect's status code.
	Status int
	// To is where it pointed.
	To *url.URL
}

// Error names where the redirect pointed without what can hold a secret
// (a user and password, the query).
func (e *RedirectError) Error() string {
	to := url.URL{Scheme: e.To.Scheme, Host: e.To.Host, Path: e.To.Path}
	return fmt.Sprintf("answered %d (redirect to %s)", e.Status, to.String())
}

// KeepMethodOnRedirect is a copy of c that follows only the redirects that
// keep a request's method and body (307 and 308, up to 10 as net/http
// does, then c's own CheckRedirect if any), and fails the others with a
// *RedirectError: a page posted to a URL that answers 301, 302 or 303 is
// not delivered, whatever the GET that net/http would make next answers.
func KeepMethodOnRedirect(c *http.Client) *http.Client {
	cc := *c
	next := c.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.Method != via[len(via)-1].Method {
			status := 0
			if req.Response != nil {
				status = req.Response.StatusCode
			}
			return &RedirectError{Status: status, To: req.URL}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cc
}

// maxAnswer is as much of an answer's body as is read.
const maxAnswer = 64 << 10

// Post sends one request built by build. A network error before the
// request was written (no connection, a TLS handshake that failed) is
// Temporary; one after it (a timeout awaiting the answer, the connection
// reset) is MaybeSent: the provider may have taken the page, and sending
// it again would page twice. A redirect that would change the method is a
// final error (KeepMethodOnRedirect). check reads the answer, its status
// and up to 64 KiB of its body: nil is delivered, an error a refusal,
// classed by its status (Answered): a 429 with a Retry-After a page may
// wait (ProviderRetryAfter) sends it back for its turn (OverRateLimit);
// Temporary for 429 otherwise and 503 (the provider did not take it),
// MaybeSent for any other 5xx, final for the rest. A 2xx whose body was
// cut (the connection reset, the timeout) is MaybeSent, whatever check
// would make of what arrived. A nil check takes any 2xx.
// Errors name the host only (a URL can carry a token), a redirect's
// target its path too.
func (h HTTPSender) Post(ctx context.Context, build func(ctx context.Context) (*http.Request, error), check func(status int, body []byte) error) error {
	ctx, cancel := WithRunningTimeout(ctx, h.timeout)
	defer cancel()
	ctx, wrote := TraceWrite(ctx)
	req, err := build(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", h.name, err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		var re *RedirectError
		if errors.As(err, &re) {
			return fmt.Errorf("%s: %s %w: point the contact at the final URL", h.name, req.URL.Host, re)
		}
		err = fmt.Errorf("%s: %s: %w", h.name, req.URL.Host, errorsWithoutURL(err))
		if wrote.Load() {
			return MaybeSent(err)
		}
		if off := CalledOff(ctx, h.name); off != nil {
			return off
		}
		return Temporary(err)
	}
	defer resp.Body.Close()
	if check == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return nil
		}
		err = fmt.Errorf("%s: %s answered %d", h.name, req.URL.Host, resp.StatusCode)
	} else {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		if rerr != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
			// The provider took the request (its 2xx), and its answer
			// was cut (the connection reset, or the timeout, after the
			// status line): what is left of it is no refusal. Read as
			// one, a push Pushover took was recorded as reaching nobody
			// and not cancelled when the incident was acknowledged.
			return MaybeSent(fmt.Errorf("%s: %s answered %d, its answer cut: %w", h.name, req.URL.Host, resp.StatusCode, rerr))
		}
		if err = check(resp.StatusCode, body); err == nil {
			return nil
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if d, ok := ProviderRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			// Not taken, and the provider said when it will be: the
			// page keeps its turn then rather than be retried inside
			// the wait, given up and counted by the breaker.
			return OverRateLimit(d, fmt.Sprintf("%s: %s answered 429 with Retry-After", h.name, req.URL.Host))
		}
	}
	return Answered(resp.StatusCode, err)
}

// Answered classes err, a provider's answer of status (400 or more) to a
// request written whole. 429 and 503 say it was not taken (the provider
// is busy or down), worth sending again (Temporary). Any other 5xx may
// come after the provider acted on it (a 500 mid-way, a 502 or 504 from
// a gateway in front of it that had passed the request on), so a page is
// not sent again (MaybeSent): a second SMS or call is a second page. A
// 4xx is a refusal that will not change.
func Answered(status int, err error) error {
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return Temporary(err)
	case status >= 500:
		return MaybeSent(err)
	}
	return err
}

// TraceWrite makes ctx record, for the requests made with it, whether one
// was written whole to the provider: after that, a failure may come after
// the provider took the request (MaybeSent); before, it surely did not.
func TraceWrite(ctx context.Context) (context.Context, *atomic.Bool) {
	wrote := new(atomic.Bool)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}), wrote
}

// errorsWithoutURL drops the URL an *url.Error repeats, keeping its cause.
func errorsWithoutURL(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && u.Unwrap() != nil {
		return u.Unwrap()
	}
	return err
}
