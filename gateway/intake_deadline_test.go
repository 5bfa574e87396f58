package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
)

// intakeRequest is one request to an alert intake route, as its sender
// sends it.
type intakeRequest struct {
	name, path, body string
	auth             string // Authorization
	code             int    // the answer when stored
}

// intakeRequests are a request of each alert intake route, alerts named
// tag. The Alertmanager notification is small, or with nearLimit just
// under the 8 MiB read whole; PagerDuty's and Opsgenie's are ordinary
// (their limits are 512 KB and 8 MiB).
func intakeRequests(t *testing.T, tag string, nearLimit bool) []intakeRequest {
	t.Helper()
	alert := func(pad string) string {
		return amPayload("firing", `{}:{alertname="`+tag+`"}`,
			map[string]string{"alertname": tag, "severity": "critical", "instance": "a", "pad": pad},
			map[string]string{"alertname": tag, "severity": "critical", "instance": "b", "pad": pad})
	}
	am := alert("")
	if nearLimit {
		// The size grows by per bytes for each byte of pad (the labels
		// are repeated in the payload).
		per := len(alert("p")) - len(am)
		am = alert(strings.Repeat("p", (alertmanagerBodyLimit-4096-len(am))/per))
		if len(am) > alertmanagerBodyLimit || len(am) < alertmanagerBodyLimit-8192 {
			t.Fatalf("the notification is %d bytes, not just under %d: the test tests something else", len(am), alertmanagerBodyLimit)
		}
	}
	return []intakeRequest{
		{name: "alertmanager", path: "/api/v1/alertmanager", body: am, auth: "Bearer " + amKey, code: http.StatusOK},
		{name: "pagerduty", path: "/v2/enqueue", code: http.StatusAccepted,
			body: `{"routing_key":"` + pdKey + `","event_action":"trigger","dedup_key":"` + tag + `","payload":{"summary":"DB down","source":"db1","severity":"critical"}}`},
		{name: "opsgenie", path: "/v2/alerts", body: `{"message":"DB down","alias":"` + tag + `"}`, auth: "GenieKey " + ogKey, code: http.StatusAccepted},
	}
}

// send posts the request's body, its last 20 bytes after late, and
// returns the answer.
func (q intakeRequest) send(ctx context.Context, t *testing.T, url string, late time.Duration) (int, string, error) {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, q.body[:len(q.body)-20])
		if late > 0 {
			time.Sleep(late)
		}
		_, _ = io.WriteString(pw, q.body[len(q.body)-20:])
		pw.Close()
	}()
	req, err := http.NewRequestWithContext(ctx, "POST", url+q.path, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if q.auth != "" {
		req.Header.Set("Authorization", q.auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// shortDeadline shortens the request timeout to d for the test; call it
// before newHarness, so that the old one is back only after the daemon's
// end.
func shortDeadline(t *testing.T, d time.Duration) {
	old := requestTimeout
	requestTimeout = d
	t.Cleanup(func() { requestTimeout = old })
}

// TestIntakeBodySlowerThanTheDeadlineIsStored: an alert whose body takes
// longer to arrive (or to decode, on a busy machine) than a request may
// wait for the store is still stored, on every intake route: its writes
// get their whole time once the body is read and decoded. Before, the
// time counted from the request's start, so the writes found it gone and
// answered 503, and the sender's retry took as long again: an alert that
// never pages. The Alertmanager notification is just under 8 MiB (read
// whole: the streamed ones had this fixed already); the deadline is
// shortened to 300 ms and each body's last bytes come after 600 ms.
func TestIntakeBodySlowerThanTheDeadlineIsStored(t *testing.T) {
	shortDeadline(t, 300*time.Millisecond)
	h := newHarness(t, withConfig(ogConfig))
	for _, q := range intakeRequests(t, "SlowBody", true) {
		t.Run(q.name, func(t *testing.T) {
			before := len(h.list(""))
			code, body, err := q.send(context.Background(), t, h.url, 2*requestTimeout)
			if err != nil {
				t.Fatal(err)
			}
			if code != q.code {
				t.Fatalf("a body read past the deadline: %d %.300s, want %d", code, body, q.code)
			}
			if n := len(h.list("")); n != before+1 {
				t.Fatalf("%d incidents, want %d", n, before+1)
			}
		})
	}
	// Opsgenie's close, the other write of the intake, read as late.
	close := intakeRequest{path: "/v2/alerts/SlowBody/close?identifierType=alias", body: `{"note":"read late"}`,
		auth: "GenieKey " + ogKey}
	if code, body, err := close.send(context.Background(), t, h.url, 2*requestTimeout); err != nil || code != http.StatusAccepted {
		t.Fatalf("a close read past the deadline: %d %s %v", code, body, err)
	}
	for _, v := range h.list("") {
		if v.DedupKey == ingest.OpsgenieDedupKey("SlowBody") && v.Status != "resolved" {
			t.Fatalf("the close read past the deadline left the alert %s", v.Status)
		}
	}
}

// heldTriggers is a store whose triggers wait, while hold is set, until
// the test releases them (they are then stored) or their context ends,
// as a store that does not answer. A trigger without a deadline fails
// at once instead, so a test sees it.
type heldTriggers struct {
	store.Store
	hold    atomic.Bool
	entered chan context.Context // each held trigger's context, if not nil
	release chan struct{}        // one held trigger goes on
}

func (s *heldTriggers) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	if !s.hold.Load() {
		return s.Store.Trigger(ctx, inc, tl)
	}
	if _, ok := ctx.Deadline(); !ok {
		return "", 0, errors.New("a trigger without a deadline")
	}
	if s.entered != nil {
		s.entered <- ctx
	}
	select {
	case <-s.release:
		return s.Store.Trigger(ctx, inc, tl)
	case <-ctx.Done():
		return "", 0, fmt.Errorf("%w: %w: %w", store.ErrUnavailable, store.ErrOutcomeUnknown, ctx.Err())
	}
}

// TestIntakeStoreWaitIsBounded: the store budget an intake request gets
// once its body is read still ends: a store that does not answer gets the
// sender a 503 to retry on, within the request timeout, on every intake
// route, not a wait as long as the store's.
func TestIntakeStoreWaitIsBounded(t *testing.T) {
	shortDeadline(t, 300*time.Millisecond)
	st := &heldTriggers{Store: boltStore(t)}
	st.hold.Store(true)
	h := newHarness(t, withStore(st), withConfig(ogConfig))
	for _, q := range intakeRequests(t, "Hanging", false) {
		t.Run(q.name, func(t *testing.T) {
			start := time.Now()
			code, body, err := q.send(context.Background(), t, h.url, 0)
			if err != nil {
				t.Fatal(err)
			}
			if code != http.StatusServiceUnavailable {
				t.Fatalf("the store did not answer: %d %.300s, want 503", code, body)
			}
			if took := time.Since(start); took > 10*requestTimeout {
				t.Fatalf("answered after %s, the request timeout is %s", took, requestTimeout)
			}
		})
	}
}

// TestIntakeSenderHangingUpStillStores: a sender that hangs up once its
// alert is sent (its own timeout, say) does not cancel the alert's store
// writes: it is stored and pages, and the sender's retry lands on it.
// Cancelled, they would stop halfway, and the page wait for the retry.
func TestIntakeSenderHangingUpStillStores(t *testing.T) {
	st := &heldTriggers{Store: boltStore(t), entered: make(chan context.Context), release: make(chan struct{})}
	st.hold.Store(true)
	requests := make(chan context.Context, 1)
	h := newHarness(t, withStore(st), withConfig(ogConfig), requestContexts(requests, func(r *http.Request) bool { return r.Method == http.MethodPost }))
	for _, q := range intakeRequests(t, "HungUp", false) {
		t.Run(q.name, func(t *testing.T) {
			before := len(h.list(""))
			write := hangUpWhileWriting(t, func(ctx context.Context) error {
				_, _, err := q.send(ctx, t, h.url, 0)
				return err
			}, requests, st.entered)
			if err := write.Err(); err != nil {
				t.Fatalf("the sender hanging up cancelled the alert's store writes: %v", err)
			}
			st.release <- struct{}{}
			waitUntil(t, 5*time.Second, "the alert stored", func() bool { return len(h.list("")) == before+1 })
		})
	}
}

// requestContexts sends the context of each request the server gets that
// match takes to requests, as it starts.
func requestContexts(requests chan<- context.Context, match func(*http.Request) bool) option {
	return serving(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) {
				requests <- r.Context()
			}
			next.ServeHTTP(w, r)
		})
	})
}

// hangUpWhileWriting sends a request with send and hangs up once the
// server has it (its context arrives on requests) and one of its store
// writes is held (that write's context arrives on entered); it returns
// the write's context once the server has seen the sender go, for the
// test to check that the hang-up did not cancel it.
func hangUpWhileWriting(t *testing.T, send func(context.Context) error, requests, entered <-chan context.Context) context.Context {
	t.Helper()
	ctx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	sent := make(chan error, 1)
	go func() { sent <- send(ctx) }()
	reqCtx := <-requests
	write := <-entered
	hangUp()
	if err := <-sent; err == nil {
		t.Fatal("the sender did not hang up")
	}
	select {
	case <-reqCtx.Done(): // the server saw the sender go
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not see the sender hang up")
	}
	return write
}
