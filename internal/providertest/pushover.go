package providertest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Pushover's fake: the message and cancel-by-tag API pagerd calls,
// checking the application token, the user key and the emergency
// parameters as Pushover does (retry at least 30s, expire at most 3h), and
// the receipt callback Pushover makes when someone acknowledges an
// emergency message in the app.

// PushoverToken is the fake's application token, for notifiers.pushover.
const PushoverToken = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"

// PushoverUnknownUser is a user key shaped like one that the fake does not
// know: users/validate.json refuses it, as Pushover does a key nobody has.
const PushoverUnknownUser = "uUnknownUserKey000000000000000"

var pushoverKey = regexp.MustCompile(`^[A-Za-z0-9]{30}$`)

// PushoverMessage is one message the fake took.
type PushoverMessage struct {
	User, Title, Message, URL      string
	Priority, Retry, Expire        int
	Callback, Tags, Receipt        string
	Cancelled                      bool
	AcknowledgedBy, AcknowledgedOn string
}

// Pushover is a fake Pushover API.
type Pushover struct {
	// URL is the API's base: notifiers.pushover.api_url.
	URL string

	mu       sync.Mutex
	token    string // the application token it takes, "" for PushoverToken
	messages []PushoverMessage
	cancels  []string
	fail     int
	// validations are the user keys validated, in order.
	validations []string
}

// RotateToken makes the fake take token as the application token from now
// on, and refuse the old one.
func (f *Pushover) RotateToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = token
}

// NewPushover starts a fake Pushover for the test.
func NewPushover(t testing.TB) *Pushover {
	t.Helper()
	f := &Pushover{}
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	f.URL = s.URL
	return f
}

// FailNext makes the next n calls answer 500.
func (f *Pushover) FailNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = n
}

// Messages are the messages taken, in order.
func (f *Pushover) Messages() []PushoverMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]PushoverMessage(nil), f.messages...)
}

// Validations are the user keys checked through users/validate.json, in
// order.
func (f *Pushover) Validations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.validations...)
}

// Cancels are the tags cancelled, in order.
func (f *Pushover) Cancels() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cancels...)
}

func (f *Pushover) answer(w http.ResponseWriter, code int, v map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP answers as Pushover's API.
func (f *Pushover) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		f.answer(w, 400, map[string]any{"status": 0, "errors": []string{"bad request"}})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		f.answer(w, 500, map[string]any{"status": 0, "errors": []string{"internal error"}})
		return
	}
	if r.PostForm.Get("token") != cmp.Or(f.token, PushoverToken) {
		f.answer(w, 400, map[string]any{"status": 0, "token": "invalid", "errors": []string{"application token is invalid"}})
		return
	}
	if tag, ok := strings.CutPrefix(r.URL.Path, "/1/receipts/cancel_by_tag/"); ok {
		tag = strings.TrimSuffix(tag, ".json")
		f.cancels = append(f.cancels, tag)
		for i := range f.messages {
			if f.messages[i].Tags == tag {
				f.messages[i].Cancelled = true
			}
		}
		f.answer(w, 200, map[string]any{"status": 1, "canceled": 1})
		return
	}
	if r.URL.Path == "/1/users/validate.json" {
		f.validations = append(f.validations, r.PostForm.Get("user"))
		if u := r.PostForm.Get("user"); !pushoverKey.MatchString(u) || u == PushoverUnknownUser {
			f.answer(w, 400, map[string]any{"status": 0, "user": "invalid", "errors": []string{"user key is invalid"}})
			return
		}
		f.answer(w, 200, map[string]any{"status": 1, "group": 0, "devices": []string{"phone"}, "licenses": []string{"Android"}})
		return
	}
	if r.URL.Path != "/1/messages.json" {
		f.answer(w, 404, map[string]any{"status": 0, "errors": []string{"not found"}})
		return
	}
	p := r.PostForm
	m := PushoverMessage{User: p.Get("user"), Title: p.Get("title"), Message: p.Get("message"), URL: p.Get("url"),
		Callback: p.Get("callback"), Tags: p.Get("tags")}
	m.Priority, _ = strconv.Atoi(p.Get("priority"))
	m.Retry, _ = strconv.Atoi(p.Get("retry"))
	m.Expire, _ = strconv.Atoi(p.Get("expire"))
	var errs []string
	if !pushoverKey.MatchString(m.User) {
		errs = append(errs, "user identifier is invalid")
	}
	if m.Message == "" || len(m.Message) > 1024 {
		errs = append(errs, "message cannot be blank or over 1024 characters")
	}
	if m.Priority == 2 && (m.Retry < 30 || m.Expire < 1 || m.Expire > 10800) {
		errs = append(errs, "retry must be at least 30 and expire at most 10800 for emergency priority")
	}
	if len(errs) > 0 {
		f.answer(w, 400, map[string]any{"status": 0, "errors": errs})
		return
	}
	out := map[string]any{"status": 1, "request": fmt.Sprintf("req%d", len(f.messages))}
	if m.Priority == 2 {
		m.Receipt = fmt.Sprintf("r%029d", len(f.messages))
		out["receipt"] = m.Receipt
	}
	f.messages = append(f.messages, m)
	f.answer(w, 200, out)
}

// Acknowledge acknowledges the i-th message in the app, as the person
// with its user key on device: Pushover then POSTs the receipt callback
// the message named. It returns the callback's answer.
func (f *Pushover) Acknowledge(t testing.TB, i int, device string) int {
	t.Helper()
	f.mu.Lock()
	m := f.messages[i]
	f.messages[i].AcknowledgedBy, f.messages[i].AcknowledgedOn = m.User, device
	f.mu.Unlock()
	if m.Callback == "" {
		t.Fatalf("message %d has no callback", i)
	}
	return PushoverCallback(t, m.Callback, m.Receipt, m.User, device)
}

// PushoverCallback POSTs a receipt callback to url as Pushover does.
func PushoverCallback(t testing.TB, callback, receipt, user, device string) int {
	t.Helper()
	form := url.Values{"receipt": {receipt}, "acknowledged": {"1"}, "acknowledged_at": {strconv.FormatInt(time.Now().Unix(), 10)},
		"acknowledged_by": {user}, "acknowledged_by_device": {device}}
	resp, err := http.PostForm(callback, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
