package slack_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/slack"
)

// TestSlackPageThatMayBePostedIsNotPostedAgain: Slack documents
// internal_error and fatal_error as "possible some aspect of the
// operation succeeded", and a 500, 502 or 504 may come after the post was
// made: the direct message (a page) was posted again by the retries, a
// second page. It now fails as one that may have been sent. A 503 is not
// taken, and retried.
func TestSlackPageThatMayBePostedIsNotPostedAgain(t *testing.T) {
	for _, c := range []struct {
		name   string
		answer func(w http.ResponseWriter)
		posts  int32
	}{
		{"internal_error", func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"ok":false,"error":"internal_error"}`)) }, 1},
		{"fatal_error", func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"ok":false,"error":"fatal_error"}`)) }, 1},
		{"504", func(w http.ResponseWriter) { w.WriteHeader(http.StatusGatewayTimeout) }, 1},
		{"503", func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			var posts atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if posts.Add(1) == 1 {
					c.answer(w)
					return
				}
				_, _ = w.Write([]byte(`{"ok":true,"channel":"D1","ts":"1.2"}`))
			}))
			defer srv.Close()
			o := notify.DefaultChainOptions
			o.RetryBase = time.Millisecond
			n := notify.Chain(slack.NewNotifier(slack.New(slack.Options{Token: "xoxb-x", APIURL: srv.URL + "/", Timeout: 5 * time.Second})), o)
			err := n.Notify(t.Context(), notify.Message{Address: "U1", Text: "page", Incident: "i1", Level: 1})
			if got := posts.Load(); got != c.posts {
				t.Fatalf("posted %d times (err %v), want %d", got, err, c.posts)
			}
			if c.posts == 1 && !errors.Is(err, notify.ErrMaybeSent) {
				t.Fatalf("err %v, want may have been sent", err)
			}
		})
	}
}
