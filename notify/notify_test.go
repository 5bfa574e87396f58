package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLogWritesOneJSONLinePerPage(t *testing.T) {
	var b bytes.Buffer
	l := NewLog(&b)
	at := time.Date(2025, 9, 10, 6, 2, 0, 123e6, time.UTC)
	for _, ch := range []string{"push", "sms"} {
		if err := l.Notify(context.Background(), Message{At: at, Incident: "0a-x", Service: "api", Priority: "P0", Urgency: "high",
			Level: 1, User: "ann", Channel: ch, Address: "+15555550100", Text: "[P0] api: disk full"}); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"time": "2025-09-10T06:02:00.123Z", "incident": "0a-x", "service": "api", "priority": "P0", "urgency": "high",
		"level": 1.0, "user": "ann", "channel": "sms", "text": "[P0] api: disk full"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if strings.Contains(b.String(), "5555550100") {
		t.Fatal("the log transport printed a phone number")
	}
}

// A transport's own reading of the answer (Pushover's) says what was
// taken; the sender still decides what is worth retrying by the status.
func TestHTTPSenderCheck(t *testing.T) {
	refuse := func(status int, body []byte) error {
		if status == http.StatusOK && string(body) == "taken" {
			return nil
		}
		return errors.New("refused: " + string(body))
	}
	for _, tc := range []struct {
		code      int
		body      string
		ok, retry bool
	}{{200, "taken", true, false}, {200, "no", false, false}, {400, "bad", false, false}, {429, "slow down", false, true}, {503, "down", false, true}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.code)
			io.WriteString(w, tc.body)
		}))
		h := NewHTTPSender("test", srv.Client(), time.Second)
		err := h.Post(context.Background(), func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
		}, refuse)
		srv.Close()
		if (err == nil) != tc.ok || IsTemporary(err) != tc.retry || (err != nil && !strings.Contains(err.Error(), tc.body)) {
			t.Errorf("%d %q: temporary %v err %v", tc.code, tc.body, IsTemporary(err), err)
		}
	}
}

func TestWebhookStatusCodes(t *testing.T) {
	for _, tc := range []struct {
		code  int
		retry bool
		ok    bool
	}{{200, false, true}, {204, false, true}, {400, false, false}, {404, false, false}, {429, true, false}, {500, false, false}, {502, false, false},
		{503, true, false}, {504, false, false}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("content type %q", r.Header.Get("Content-Type"))
			}
			w.WriteHeader(tc.code)
		}))
		err := NewWebhook(srv.Client(), time.Second).Notify(context.Background(), Message{Address: srv.URL + "/hook?token=s3cret"})
		srv.Close()
		if retry := IsTemporary(err); (err == nil) != tc.ok || retry != tc.retry {
			t.Errorf("%d: temporary %v err %v", tc.code, IsTemporary(err), err)
		}
		// A 5xx but 503 may come after the provider acted on it (a 500
		// mid-way, a gateway's 502 or 504 after passing it on): a page
		// sent again on it was a second page.
		if maybe := errors.Is(err, ErrMaybeSent); maybe != (tc.code >= 500 && tc.code != 503) {
			t.Errorf("%d: may have been sent %v, err %v", tc.code, maybe, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the URL's secret: %v", err)
		}
	}
	if err := NewWebhook(nil, time.Second).Notify(context.Background(), Message{}); err == nil || IsTemporary(err) {
		t.Fatal("a contact without a URL must fail for good")
	}
}

type flaky struct{ fails int }

func (f *flaky) Notify(context.Context, Message) error {
	if f.fails > 0 {
		f.fails--
		return Temporary(errors.New("try again"))
	}
	return nil
}

func TestRetryStopsAtAttemptsAndContext(t *testing.T) {
	if n, err := Retry(context.Background(), &flaky{fails: 2}, Message{}, 3, time.Millisecond); err != nil || n != 3 {
		t.Fatalf("n %d err %v", n, err)
	}
	if n, err := Retry(context.Background(), &flaky{fails: 5}, Message{}, 3, time.Millisecond); err == nil || n != 3 {
		t.Fatalf("n %d err %v", n, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Retry(ctx, &flaky{fails: 100}, Message{}, 100, 50*time.Millisecond); err == nil || time.Since(start) > time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestNtfyPublishesThePage(t *testing.T) {
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, body = r, string(b)
	}))
	defer srv.Close()
	n := NewNtfy(srv.Client(), time.Second)
	m := Message{Address: srv.URL + "/oncall-ann", Priority: "P0", Service: "api", Urgency: "high", Text: "[P0] api: disk full", AckURL: "https://pagerd.example.com/ack/x"}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got.URL.Path != "/oncall-ann" || body != m.Text || got.Header.Get("Priority") != "5" || got.Header.Get("Title") != "[P0] api" ||
		got.Header.Get("Click") != m.AckURL || got.Header.Get("Actions") != "http, Acknowledge, "+m.AckURL+"/acknowledge, method=POST, clear=true" {
		t.Fatalf("published %s %q %v", got.URL.Path, body, got.Header)
	}
	m.Urgency = "low"
	_ = n.Notify(context.Background(), m)
	if got.Header.Get("Priority") != "3" {
		t.Fatalf("low urgency priority %q", got.Header.Get("Priority"))
	}
}

// TestHTTPErrorsDoNotShowTheURL: a network failure names the host, never
// the URL, whose query can hold a token.
func TestHTTPErrorsDoNotShowTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // now nothing listens there
	for _, n := range []Notifier{NewWebhook(nil, time.Second), NewNtfy(nil, time.Second)} {
		err := n.Notify(context.Background(), Message{Address: addr + "/hook?token=s3cret", Text: "x"})
		if err == nil || !IsTemporary(err) || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("%T: temporary %v err %v", n, IsTemporary(err), err)
		}
	}
}
