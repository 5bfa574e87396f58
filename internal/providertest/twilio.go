// Package providertest holds the fakes of pagerd's paging providers that
// every test uses: a Twilio and a PagerDuty that take what pagerd sends the
// way the real ones do, refuse what the real ones refuse, and sign the
// callbacks they make back to pagerd like the real ones, so the daemon's
// signature checks run in every test that goes through them. Each fake is
// an httptest server of its own, closed when the test ends.
package providertest

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The fake Twilio account: a SID and an auth token shaped like Twilio's (the
// config checks their shape), and the number pages come from.
const (
	TwilioSID   = "AC00000000000000000000000000000001"
	TwilioToken = "0123456789abcdef0123456789abcdef"
	TwilioFrom  = "+15555550000"
	// TwilioCallerID is a verified caller ID of the account
	// (OutgoingCallerIds), not one of its numbers: Twilio places calls
	// from it and refuses SMS.
	TwilioCallerID = "+15555550001"
	// TwilioFailsAtOnce is a number whose SMS Twilio creates with status
	// failed (error 30006, landline or unreachable carrier): answered
	// 201, and never delivered.
	TwilioFailsAtOnce = "+15555550666"
)

// Twilio is Twilio's REST API as twilio-go sees it (Messages and Calls):
// basic auth with the account SID and token, form-encoded parameters, 201
// with the resource as JSON, and Twilio's JSON errors (401, 400 for a
// number that is not E.164 or a call without a URL, 404, 500). It keeps
// the calls it placed with their status (queued, then as the test moves
// them on), and cancels or ends them as Twilio does.
type Twilio struct {
	// URL is where the fake listens: the api_url for pagerd.
	URL string

	mu    sync.Mutex
	token string // the auth token it takes, "" for TwilioToken
	// secondary is the secondary auth token made in the Console, ""
	// for none: the REST API takes it too, callbacks are signed with
	// the primary (token) until it is promoted.
	secondary string
	sent      []url.Values
	calls     []url.Values
	// status is each call's status, by SID: queued when placed, then
	// what the test sets (SetCallStatus) or a cancel makes of it.
	status map[string]string
	// updates are the updates of calls Twilio took, in order.
	updates   []CallUpdate
	reads     []string
	failFirst int
	// limitFirst and retryAfter: the next limitFirst requests are
	// answered 429 with retryAfter as their Retry-After ("" for none).
	limitFirst int
	retryAfter string
}

// NewTwilio starts a fake Twilio for the test.
func NewTwilio(t testing.TB) *Twilio {
	t.Helper()
	f := &Twilio{}
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	f.URL = s.URL
	return f
}

// RotateToken makes the fake take token as the account's auth token from
// now on, and refuse the old one, as Twilio does once a rotated token's
// predecessor is deleted.
func (f *Twilio) RotateToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = token
}

// AddSecondaryToken makes token the account's secondary auth token, as
// the Twilio Console's "Create secondary token" does: the REST API takes
// it beside the primary, and callbacks stay signed with the primary.
func (f *Twilio) AddSecondaryToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secondary = token
}

// PromoteSecondary makes the secondary auth token the primary, as the
// Console's "Promote to primary" does: the old primary is deleted (the
// REST API refuses it) and callbacks are signed with the new one.
func (f *Twilio) PromoteSecondary() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token, f.secondary = f.secondary, ""
}

// primary is the token callbacks are signed with.
func (f *Twilio) primary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cmp.Or(f.token, TwilioToken)
}

// FailFirst makes the next n requests fail with Twilio's 503 (20503,
// Service Unavailable: not taken, worth sending again).
func (f *Twilio) FailFirst(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failFirst = n
}

// RateLimitFirst makes the next n requests fail with Twilio's 429 (20429,
// Too Many Requests: the account's concurrency or rate limit; not taken),
// with retryAfter as the Retry-After header ("" for none).
func (f *Twilio) RateLimitFirst(n int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limitFirst, f.retryAfter = n, retryAfter
}

// Messages are the SMS Twilio took, in order, as their POSTed forms.
func (f *Twilio) Messages() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.sent...)
}

// Calls are the calls Twilio placed, in order, as their POSTed forms.
func (f *Twilio) Calls() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.calls...)
}

// CallUpdate is an update of a call Twilio took (POST to the call's
// resource): the call's SID, its POSTed form, and its status before and
// after.
type CallUpdate struct {
	SID          string
	Form         url.Values
	Before, Then string
}

// CallSID is the SID of the nth call placed (0-based), as Twilio answered
// it.
func CallSID(n int) string { return fmt.Sprintf("CA%032d", n+1) }

// ReplySID is a new SID for an SMS a person sends to the Twilio number,
// unlike every one before, as Twilio gives each message it takes: pagerd
// acts on a reply once by its SID.
func ReplySID() string { return fmt.Sprintf("SMf%031x", replySIDs.Add(1)) }

var replySIDs atomic.Int64

// MessageSID is the SID of the nth SMS Twilio took (0-based, as
// Messages lists them), as Twilio answered it.
func MessageSID(n int) string { return fmt.Sprintf("SM%032d", n+1) }

// SetCallStatus moves a call on, as the phone network does: ringing,
// in-progress (answered), completed, busy, no-answer, failed.
func (f *Twilio) SetCallStatus(sid, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[sid] = status
}

// CallStatus is a call's status now ("" for a call Twilio never placed).
func (f *Twilio) CallStatus(sid string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status[sid]
}

// CallUpdates are the updates of calls Twilio took, in order.
func (f *Twilio) CallUpdates() []CallUpdate {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]CallUpdate(nil), f.updates...)
}

// ServeHTTP answers as Twilio's REST API.
func (f *Twilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fail := func(code, twCode int, msg string) {
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": twCode, "message": msg, "more_info": "https://www.twilio.com/docs/errors", "status": code})
	}
	f.mu.Lock()
	token, secondary := cmp.Or(f.token, TwilioToken), f.secondary
	f.mu.Unlock()
	user, pass, ok := r.BasicAuth()
	if !ok || user != TwilioSID || pass != token && (secondary == "" || pass != secondary) {
		fail(401, 20003, "Authenticate")
		return
	}
	if r.Method == http.MethodGet {
		f.read(w, r, fail)
		return
	}
	isCall := r.URL.Path == "/2010-04-01/Accounts/"+TwilioSID+"/Calls.json"
	callSID, isUpdate := strings.CutPrefix(r.URL.Path, "/2010-04-01/Accounts/"+TwilioSID+"/Calls/")
	callSID, isUpdate = strings.CutSuffix(callSID, ".json")
	isUpdate = isUpdate && callSID != "" && !strings.Contains(callSID, "/")
	if r.Method != http.MethodPost || (r.URL.Path != "/2010-04-01/Accounts/"+TwilioSID+"/Messages.json" && !isCall && !isUpdate) {
		fail(404, 20404, "The requested resource was not found")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		fail(400, 21600, "expected a form, got "+ct)
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(400, 21600, err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failFirst > 0 {
		f.failFirst--
		fail(503, 20503, "Service Unavailable")
		return
	}
	if f.limitFirst > 0 {
		f.limitFirst--
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		fail(429, 20429, "Too Many Requests")
		return
	}
	if isUpdate {
		f.update(w, r, callSID, fail)
		return
	}
	if !strings.HasPrefix(r.PostForm.Get("To"), "+") {
		fail(400, 21211, "Invalid 'To' Phone Number")
		return
	}
	if isCall {
		if r.PostForm.Get("Url") == "" {
			fail(400, 21205, "Url parameter is required")
			return
		}
		f.calls = append(f.calls, r.PostForm)
		sid := CallSID(len(f.calls) - 1)
		if f.status == nil {
			f.status = map[string]string{}
		}
		f.status[sid] = "queued"
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(map[string]any{"sid": sid, "status": "queued"})
		return
	}
	if r.PostForm.Get("To") == TwilioFailsAtOnce {
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(map[string]any{"sid": "SM" + strings.Repeat("9", 32), "status": "failed", "error_code": 30006,
			"to": r.PostForm.Get("To"), "from": r.PostForm.Get("From"), "body": r.PostForm.Get("Body")})
		return
	}
	f.sent = append(f.sent, r.PostForm)
	w.WriteHeader(201)
	_ = json.NewEncoder(w).Encode(map[string]any{"sid": MessageSID(len(f.sent) - 1), "status": "queued",
		"to": r.PostForm.Get("To"), "from": r.PostForm.Get("From"), "body": r.PostForm.Get("Body")})
}

// update answers a POST to a call's resource as Twilio does (f.mu held):
// Status=canceled hangs up a call still queued or ringing and leaves one
// answered or over as it is, answering 200 with the call either way;
// Status=completed ends it whatever its state; a redirect (Url, Twiml)
// of a call not in progress is refused (21220). A call the account
// never placed is a 404.
func (f *Twilio) update(w http.ResponseWriter, r *http.Request, sid string, fail func(code, twCode int, msg string)) {
	before, ok := f.status[sid]
	if !ok {
		fail(404, 20404, "The requested resource /2010-04-01/Accounts/"+TwilioSID+"/Calls/"+sid+".json was not found")
		return
	}
	then := before
	switch status := r.PostForm.Get("Status"); {
	case status == "canceled":
		if before == "queued" || before == "ringing" {
			then = "canceled"
		}
	case status == "completed":
		if before == "queued" || before == "ringing" || before == "in-progress" {
			then = "completed"
		}
	case status != "":
		fail(400, 20001, "Invalid Status: "+status)
		return
	case r.PostForm.Get("Url") != "" || r.PostForm.Get("Twiml") != "":
		if before != "in-progress" {
			fail(400, 21220, "Call is not in-progress. Cannot redirect.")
			return
		}
	}
	f.status[sid] = then
	f.updates = append(f.updates, CallUpdate{SID: sid, Form: r.PostForm, Before: before, Then: then})
	_ = json.NewEncoder(w).Encode(map[string]any{"sid": sid, "account_sid": TwilioSID, "status": then})
}

// read answers the reads pagerd's start check makes: the account, its
// incoming numbers filtered by PhoneNumber (the account owns TwilioFrom
// only), and its verified caller IDs filtered the same way (TwilioCallerID
// only).
func (f *Twilio) read(w http.ResponseWriter, r *http.Request, fail func(code, twCode int, msg string)) {
	f.mu.Lock()
	f.reads = append(f.reads, r.URL.Path)
	f.mu.Unlock()
	switch r.URL.Path {
	case "/2010-04-01/Accounts/" + TwilioSID + ".json":
		_ = json.NewEncoder(w).Encode(map[string]any{"sid": TwilioSID, "status": "active", "friendly_name": "pagerd test"})
	case "/2010-04-01/Accounts/" + TwilioSID + "/IncomingPhoneNumbers.json":
		numbers := []map[string]any{}
		if n := r.URL.Query().Get("PhoneNumber"); n == TwilioFrom {
			numbers = append(numbers, map[string]any{"sid": "PN00000000000000000000000000000001", "phone_number": TwilioFrom})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"incoming_phone_numbers": numbers, "page": 0, "page_size": 1,
			"next_page_uri": nil, "uri": r.URL.RequestURI()})
	case "/2010-04-01/Accounts/" + TwilioSID + "/OutgoingCallerIds.json":
		ids := []map[string]any{}
		if n := r.URL.Query().Get("PhoneNumber"); n == TwilioCallerID {
			ids = append(ids, map[string]any{"sid": "PN00000000000000000000000000000002", "account_sid": TwilioSID, "phone_number": TwilioCallerID,
				"friendly_name": "(555) 555-0001", "date_created": "Thu, 04 Sep 2025 10:00:00 +0000", "date_updated": "Thu, 04 Sep 2025 10:00:00 +0000",
				"uri": "/2010-04-01/Accounts/" + TwilioSID + "/OutgoingCallerIds/PN00000000000000000000000000000002.json"})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"outgoing_caller_ids": ids, "page": 0, "page_size": 1, "start": 0, "end": len(ids) - 1,
			"first_page_uri": r.URL.RequestURI(), "next_page_uri": nil, "previous_page_uri": nil, "uri": r.URL.RequestURI()})
	default:
		fail(404, 20404, "The requested resource was not found")
	}
}

// Reads are the paths of the GET requests Twilio took, in order.
func (f *Twilio) Reads() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reads...)
}

// TwilioSign is Twilio's X-Twilio-Signature: base64 HMAC-SHA1, keyed with
// the auth token, over the URL Twilio called followed by the POST
// parameters sorted by name, each name then value.
func TwilioSign(token, u string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := u
	for _, k := range keys {
		s += k + form.Get(k)
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Callback posts form to one of pagerd's Twilio callbacks at u, signed as
// Twilio signs it with the fake account's primary token, and returns the
// answer's status and body.
func (f *Twilio) Callback(t testing.TB, u string, form url.Values) (int, string) {
	t.Helper()
	return TwilioPost(t, u, form, TwilioSign(f.primary(), u, form))
}

// TwilioPost posts form to u with the signature given (a forged one, or
// none when it is empty), as Twilio posts its callbacks.
func TwilioPost(t testing.TB, u string, form url.Values, signature string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signature != "" {
		req.Header.Set("X-Twilio-Signature", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
