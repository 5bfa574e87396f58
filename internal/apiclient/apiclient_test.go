package apiclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCall: a JSON call sends the token and the body, decodes a 2xx
// answer, and says pagerd's reason for a refusal, a cut answer and one
// that is not JSON.
func TestCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"API token required"}`))
			return
		}
		switch r.URL.Path {
		case "/echo":
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("content type %q", r.Header.Get("Content-Type"))
			}
			w.WriteHeader(http.StatusCreated)
			_, _ = io.Copy(w, r.Body)
		case "/text":
			http.Error(w, "no such thing", http.StatusNotFound)
		case "/html":
			_, _ = w.Write([]byte("<html>"))
		case "/cut":
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte(`{"a":`))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
	}))
	defer srv.Close()
	type pair struct {
		A string `json:"a"`
	}
	for _, tc := range []struct {
		name, token, path string
		want              string // an error containing this; "" is none
	}{
		{"ok", "tok", "/echo", ""},
		{"refused with a reason", "bad", "/echo", "POST /echo: pagerd answered 401 Unauthorized: API token required"},
		{"refused in text", "tok", "/text", "pagerd answered 404 Not Found: no such thing"},
		{"not json", "tok", "/html", "the answer is not what pagerd sends"},
		{"cut", "tok", "/cut", "reading the answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Client{Server: srv.URL + "/", Token: tc.token}
			var out pair
			err := c.Call(context.Background(), http.MethodPost, tc.path, pair{A: "x"}, &out)
			if tc.want == "" {
				if err != nil || out.A != "x" {
					t.Fatalf("Call = %+v, %v", out, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Call: %v; want %q", err, tc.want)
			}
		})
	}
	var refused *Error
	err := (&Client{Server: srv.URL, Token: "bad"}).Call(context.Background(), http.MethodGet, "/echo", nil, nil)
	if !errors.As(err, &refused) || refused.Code != http.StatusUnauthorized {
		t.Errorf("refusal %v is not an *Error", err)
	}
}

// TestGetStreams: Get hands back the answer to stream, or the refusal.
func TestGetStreams(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "text/plain" {
			http.Error(w, `{"error":"text only"}`, http.StatusNotAcceptable)
			return
		}
		_, _ = w.Write([]byte("line " + r.URL.RawQuery))
	}))
	defer srv.Close()
	c := &Client{Server: srv.URL, Token: "tok"}
	resp, err := c.Get(context.Background(), "/x?a=1", "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "line a=1" {
		t.Errorf("Get = %q, %v", b, err)
	}
	if _, err := c.Get(context.Background(), "/x", "*/*"); err == nil || err.Error() != "pagerd answered 406 Not Acceptable: text only" {
		t.Errorf("refused: %v", err)
	}
	if _, err := (&Client{Server: "http://[::1", Token: "tok"}).Get(context.Background(), "/x", ""); err == nil ||
		!strings.Contains(err.Error(), `--server "http://[::1"`) {
		t.Errorf("bad URL: %v", err)
	}
}
