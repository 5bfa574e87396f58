package pagerduty_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

func TestPagerDutyDedupKeyRoundTrip(t *testing.T) {
	for _, c := range []struct {
		incident, user string
		reopened       int
		key            string
	}{
		// Before any reopen, the key pagerd always sent: stored incidents
		// and PagerDuty's open alerts keep working.
		{"0a-06h0", "eng-a", 0, "pagerd:0a-06h0:eng-a"},
		{"0a-06h0:x", "eng-a", 0, "pagerd:0a-06h0:x:eng-a"},
		{"0a-06h0", "eng-a", 1, "pagerd:0a-06h0:eng-a:1"},
		{"0a-06h0", "eng-a", 12, "pagerd:0a-06h0:eng-a:12"},
		// A user id that is a number is not a count.
		{"0a-06h0", "7", 0, "pagerd:0a-06h0:7"},
		{"0a-06h0", "7", 3, "pagerd:0a-06h0:7:3"},
		{"b0a-06h0", "eng-a", 0, "pagerd:b0a-06h0:eng-a"},
	} {
		if k := pagerduty.DedupKey(c.incident, c.user, c.reopened); k != c.key {
			t.Errorf("DedupKey(%q, %q, %d) = %q, want %q", c.incident, c.user, c.reopened, k, c.key)
		}
		inc, user, n, ok := pagerduty.ParseDedupKey(c.key)
		if !ok || inc != c.incident || user != c.user || n != c.reopened {
			t.Errorf("ParseDedupKey(%q) = %q %q %d %v", c.key, inc, user, n, ok)
		}
	}
	// Not counts: read as the old form, the last part the user.
	for key, want := range map[string][2]string{"pagerd:0a-06h0:eng-a:01": {"0a-06h0:eng-a", "01"}, "pagerd:0a-06h0:eng-a:0": {"0a-06h0:eng-a", "0"}} {
		if inc, user, n, ok := pagerduty.ParseDedupKey(key); !ok || inc != want[0] || user != want[1] || n != 0 {
			t.Errorf("ParseDedupKey(%q) = %q %q %d %v", key, inc, user, n, ok)
		}
	}
	for _, bad := range []string{"", "pagerd:", "pagerd:x", "pagerd:x:", "other:x:y", "pagerd::1"} {
		if _, _, _, ok := pagerduty.ParseDedupKey(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestPagerDutyRefusalSaysWhy: a refusal carries PagerDuty's reason, as
// its Events API gives it (message and errors at the top of the body), so
// the timeline and the log say what to fix; the classes stay as they were.
func TestPagerDutyRefusalSaysWhy(t *testing.T) {
	for _, c := range []struct {
		status   int
		ct, body string
		want     string
		wantTemp bool
	}{
		{400, "application/json", `{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}`,
			"pagerduty: events API answered 400: Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)", false},
		{429, "application/json", `{"status":"throttle event","message":"Requests for this service are arriving too quickly."}`,
			"pagerduty: events API answered 429: Requests for this service are arriving too quickly.", true},
		{400, "application/json", `{"error":{"message":"Invalid Input Provided","errors":["bad thing"]}}`,
			"pagerduty: events API answered 400: Invalid Input Provided: bad thing", false},
		{400, "application/json", `{"message":"` + strings.Repeat("x", 2000) + `"}`,
			"pagerduty: events API answered 400: " + strings.Repeat("x", 509) + "…", false},
		{500, "text/html", `<html>oops</html>`, "pagerduty: events API answered 500", true},
		{502, "", ``, "pagerduty: events API answered 502", true},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.ct != "" {
				w.Header().Set("Content-Type", c.ct)
			}
			w.WriteHeader(c.status)
			_, _ = w.Write([]byte(c.body))
		}))
		p := pagerduty.New(srv.URL, nil, 0)
		err := p.Notify(t.Context(), notify.Message{Channel: "push", Address: "R0UT1NGKEY0123456789012345678901", Text: "x", Incident: "01INC", User: "dan"})
		if err == nil || err.Error() != c.want || notify.IsTemporary(err) != c.wantTemp {
			t.Errorf("%d %s:\n got %v (temporary %v)\nwant %s (temporary %v)", c.status, c.body[:min(len(c.body), 40)], err, notify.IsTemporary(err), c.want, c.wantTemp)
		}
		ferr := p.Forward(t.Context(), "R0UT1NGKEY0123456789012345678901", "pagerd:01INC:dan", "resolve")
		if want := strings.Replace(c.want, "pagerduty:", "pagerduty resolve:", 1); ferr == nil || ferr.Error() != want {
			t.Errorf("forward %d: got %v, want %s", c.status, ferr, want)
		}
		srv.Close()
	}
}

// TestPagerDutyLateAnswerIsRetriedButNotifiesOnce: PagerDuty takes the
// trigger and answers after the timeout. Unlike the other transports',
// the failure stays worth retrying and the chain the daemon builds sends
// the event again, with the same dedup key: PagerDuty folds the repeats
// into the alert the first opened, and the person is notified once.
func TestPagerDutyLateAnswerIsRetriedButNotifiesOnce(t *testing.T) {
	fake := providertest.NewPagerDuty(t)
	p := pagerduty.New(providertest.LateAnswers(t, fake).URL, nil, 100*time.Millisecond)
	o := notify.DefaultChainOptions
	o.RetryBase = time.Millisecond
	err := notify.Chain(p, o).Notify(t.Context(), notify.Message{Incident: "01INC", User: "dan", Channel: "push",
		Address: strings.Repeat("k", 32), Text: "[P0] api: down", Urgency: "high"})
	if !notify.IsTemporary(err) {
		t.Errorf("temporary %v err %v", notify.IsTemporary(err), err)
	}
	if ev, n := fake.Events(), fake.Notified(); len(ev) != o.Attempts || len(n) != 1 || n[0] != pagerduty.DedupKey("01INC", "dan", 0) {
		t.Errorf("%d events, notified %v", len(ev), n)
	}
}

// TestPagerDuty2xxNotSuccessIsNotSent: go-pagerduty takes any 2xx as
// taken, and the body was thrown away: a 200 from a proxy in the way
// (the events URL may be one), or an object whose status is not
// "success", counted the page as sent. It is tried again, and failed.
func TestPagerDuty2xxNotSuccessIsNotSent(t *testing.T) {
	for _, body := range []string{`{"status":"invalid event","message":"Event object is invalid"}`, `{}`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(body))
		}))
		p := pagerduty.New(srv.URL, nil, 0)
		err := p.Notify(t.Context(), notify.Message{Channel: "push", Address: "R0UT1NGKEY0123456789012345678901", Text: "x", Incident: "01INC", User: "dan"})
		if err == nil || !notify.IsTemporary(err) {
			t.Errorf("a 200 with %s: %v, want a failure worth retrying", body, err)
		}
		srv.Close()
	}
}
