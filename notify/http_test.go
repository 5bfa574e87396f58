package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRedirectedPageIsNotSent: a webhook or ntfy URL that answers 301, 302
// or 303 (http to https, an endpoint moved) would be followed by net/http
// as a GET without the page, and the GET's 2xx (ntfy answers a GET of a
// topic with its web app) made the page sent though nothing was posted.
// Such a page fails, for good, saying where the redirect pointed (never
// the query, which can hold a token); a 307 or 308, which keeps the POST
// and its body, is followed and delivers the page.
func TestRedirectedPageIsNotSent(t *testing.T) {
	var posts, gets atomic.Int32
	var body atomic.Value
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
			b, _ := io.ReadAll(r.Body)
			body.Store(string(b))
		} else {
			gets.Add(1)
		}
	}))
	defer target.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+r.URL.Path+"?auth=s3cret", code)
		}))
		for name, n := range map[string]Notifier{"webhook": NewWebhook(nil, time.Second), "ntfy": NewNtfy(nil, time.Second)} {
			posts.Store(0)
			gets.Store(0)
			body.Store("")
			err := n.Notify(context.Background(), Message{Channel: "push", Address: redirect.URL + "/oncall-dan", Text: "disk full", Urgency: "high"})
			if code == 307 || code == 308 {
				if err != nil || posts.Load() != 1 || !strings.Contains(body.Load().(string), "disk full") {
					t.Errorf("%s %d: err %v; the target got %d POST with %q", name, code, err, posts.Load(), body.Load())
				}
				continue
			}
			want := name + ": " + strings.TrimPrefix(redirect.URL, "http://") + " answered " + strconv.Itoa(code) +
				" (redirect to " + target.URL + "/oncall-dan): point the contact at the final URL"
			if err == nil || err.Error() != want || IsTemporary(err) || errors.Is(err, ErrMaybeSent) {
				t.Errorf("%s %d: temporary %v err %v, want %q", name, code, IsTemporary(err), err, want)
			}
			if posts.Load()+gets.Load() != 0 {
				t.Errorf("%s %d: the redirect was followed: %d POST, %d GET", name, code, posts.Load(), gets.Load())
			}
		}
		redirect.Close()
	}
}

// TestAnswerLateIsMaybeSentNotRetried: the provider takes the page but
// answers after the timeout. The chain the daemon builds (3 tries) sent it
// 3 times, and said failed. Now it is sent once, the error says it may
// have been sent, it is not Temporary, and the breaker counts it (a
// provider that answers late is in trouble).
func TestAnswerLateIsMaybeSentNotRetried(t *testing.T) {
	var got atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		got.Add(1)
		select { // taken; the answer comes late
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	for name, n := range map[string]Notifier{"webhook": NewWebhook(nil, 50*time.Millisecond), "ntfy": NewNtfy(nil, 50*time.Millisecond)} {
		got.Store(0)
		chain := Chain(n, ChainOptions{Attempts: 3, RetryBase: time.Millisecond, BreakerFailures: 1, BreakerCooldown: time.Minute})
		err := chain.Notify(context.Background(), Message{Address: srv.URL + "/hook", Text: "x"})
		if got.Load() != 1 {
			t.Errorf("%s: one page, %d requests", name, got.Load())
		}
		if !errors.Is(err, ErrMaybeSent) || IsTemporary(err) || !strings.HasPrefix(err.Error(), "may have been sent: "+name+": ") {
			t.Errorf("%s: temporary %v err %v", name, IsTemporary(err), err)
		}
		if err := chain.Notify(context.Background(), Message{Address: srv.URL + "/hook", Text: "x"}); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("%s: the breaker did not count the late answer: %v", name, err)
		}
	}
}

// TestNotReachedIsRetried: a connection refused never reached the
// provider: it is Temporary (retried), not "may have been sent".
func TestNotReachedIsRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	err := NewWebhook(nil, time.Second).Notify(context.Background(), Message{Address: addr + "/hook", Text: "x"})
	if !IsTemporary(err) || errors.Is(err, ErrMaybeSent) {
		t.Fatalf("temporary %v err %v", IsTemporary(err), err)
	}
}

// TestRateLimitWithRetryAfterKeepsThePagesTurn: a webhook receiver or an
// ntfy server (Pushover alike) answers 429 with Retry-After: it took
// nothing, and says when it will. The chain retried inside the wait, gave
// the page up as failed and the breaker counted it, so five pages at the
// limit opened the host's circuit for its cooldown. Each page is now tried
// once and sent back for its turn (ErrOverRateLimit), as Slack's and
// Twilio's are; without Retry-After it is still retried.
func TestRateLimitWithRetryAfterKeepsThePagesTurn(t *testing.T) {
	var limited, posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		if limited.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	o := DefaultChainOptions
	o.RetryBase = time.Millisecond
	for _, tr := range []Notifier{NewWebhook(nil, time.Second), NewNtfy(nil, time.Second)} {
		posts.Store(0)
		limited.Store(int32(o.BreakerFailures + 1))
		chain := Chain(tr, o)
		for i := range o.BreakerFailures + 1 {
			err := chain.Notify(context.Background(), Message{Address: srv.URL + "/hook", Text: "x"})
			if d, over := OverRateLimitDelay(err); !over || d != 3*time.Second {
				t.Fatalf("%T page %d: err %v, want it sent back for 3s (the Retry-After)", tr, i+1, err)
			}
		}
		if err := chain.Notify(context.Background(), Message{Address: srv.URL + "/hook", Text: "x"}); err != nil {
			t.Fatalf("%T: the page after those rate limited: %v", tr, err)
		}
		if got := posts.Load(); got != int32(o.BreakerFailures+2) {
			t.Fatalf("%T: %d posts, want each page tried once", tr, got)
		}
	}
}
