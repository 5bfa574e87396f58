// Package apiclient is the one HTTP client of pagerd's own API, shared by
// everything that talks to a running pagerd (pagerd override, maintenance,
// report, handoff and backup): one place builds the URL, sends the token,
// bounds the answer and turns a refusal into an error that says the
// daemon's reason, so the commands cannot drift apart. It imports nothing
// of pagerd, so any package may use it.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

const (
	// CallTimeout bounds a whole JSON call made with the default client.
	CallTimeout = 30 * time.Second
	// MaxAnswer is the largest JSON answer Call reads.
	MaxAnswer = 8 << 20
	// maxRefusal is how much of a refusal's body is read for its reason.
	maxRefusal = 64 << 10
)

// defaultHTTP carries the calls of every Client without its own: built
// once, so calls reuse its connections (one TLS handshake, not one per
// call). It bounds connecting and the wait for the answer's first byte,
// not how long a stream takes; Call adds CallTimeout.
var defaultHTTP = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 30 * time.Second,
	IdleConnTimeout:       90 * time.Second,
	MaxIdleConnsPerHost:   4,
}}

// Client calls the API of one running pagerd.
type Client struct {
	// Server is pagerd's base URL, like https://pagerd.example.com.
	Server string
	// Token is the API token, sent as a bearer token.
	Token string
	// HTTP carries the calls; nil is a shared default that bounds
	// connecting and the first byte, with CallTimeout on each JSON call.
	HTTP *http.Client
}

// Error is a refusal: an answer that is not 2xx, with the reason pagerd
// gave (its {"error": ...} body, or the body's text).
type Error struct {
	// Code and Status are the answer's status, like 401 and
	// "401 Unauthorized".
	Code   int
	Status string
	// Message is pagerd's reason; empty if the answer had none.
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "pagerd answered " + e.Status
	}
	return "pagerd answered " + e.Status + ": " + e.Message
}

// CheckStatus is nil for a 2xx answer; otherwise it reads the answer's
// reason (and closes nothing: the caller still closes the body) and
// returns it as an *Error.
func CheckStatus(resp *http.Response) error {
	if resp.StatusCode/100 == 2 {
		return nil
	}
	e := &Error{Code: resp.StatusCode, Status: resp.Status}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRefusal))
	if err != nil {
		e.Message = fmt.Sprintf("(the reason could not be read: %v)", err)
		return e
	}
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		e.Message = body.Error
	} else {
		e.Message = string(bytes.TrimSpace(b))
	}
	return e
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// send makes the request and returns a 2xx answer, whose body the caller
// closes; a refusal is an *Error, with the body closed.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader, header http.Header) (*http.Response, error) {
	u := strings.TrimRight(c.Server, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("--server %q: %w", c.Server, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err // a *url.Error: it names the method and the URL
	}
	if err := CheckStatus(resp); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// Call sends body (nil: none) as JSON with method to path, and decodes the
// answer into out (nil: the answer is not read). Any 2xx answer is a
// success.
func (c *Client) Call(ctx context.Context, method, path string, body, out any) error {
	if c.HTTP == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, CallTimeout)
		defer cancel()
	}
	var rd io.Reader
	header := http.Header{}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
		header.Set("Content-Type", "application/json")
	}
	resp, err := c.send(ctx, method, path, rd, header)
	var refused *Error
	switch {
	case errors.As(err, &refused):
		return fmt.Errorf("%s %s: %w", method, path, err)
	case err != nil:
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	switch {
	case err != nil:
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	case len(b) > MaxAnswer:
		return fmt.Errorf("%s %s: the answer is larger than %d MiB", method, path, MaxAnswer>>20)
	case out == nil:
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not what pagerd sends: %w", method, path, err)
	}
	return nil
}

// Get sends a GET of path (with its query) accepting accept, and returns a
// 2xx answer for the caller to stream and close. It bounds no more than
// the client does: a long stream takes as long as it takes, and ctx ends
// it. A refusal is an *Error.
func (c *Client) Get(ctx context.Context, path, accept string) (*http.Response, error) {
	header := http.Header{}
	if accept != "" {
		header.Set("Accept", accept)
	}
	return c.send(ctx, http.MethodGet, path, nil, header)
}
