package gateway

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// TestIncidentListPages: the incident list goes past 1,000 with an opaque
// cursor, newest first, visiting every incident once while new ones keep
// arriving between pages; since and until filter by creation time; bad
// input is 400 and says what is wrong. On both stores.
func TestIncidentListPages(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			// A clock that moves a millisecond per incident, then stops,
			// so some share a millisecond (ties are settled by id).
			var tick atomic.Int64
			now := func() time.Time { return fixedNow.Add(time.Duration(tick.Load()/2) * time.Millisecond) }
			// More alerts than the default rate limit's burst.
			h := newHarness(t, withStore(mk(t)), withConfig(testConfig+"\nserver: {rate_limit: {per_second: 0}}\n"), withNow(now))
			fire := func(group string) {
				t.Helper()
				r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", group, map[string]string{"alertname": "A", "severity": "warning"}),
					"Authorization", "Bearer "+amKey)
				if r.code != 200 {
					t.Fatalf("alert: %d %s", r.code, r.body)
				}
				tick.Add(1)
			}
			const n = 1105
			for i := 0; i < n; i++ {
				fire(fmt.Sprintf("g%d", i))
			}
			var seen []string
			cursor := ""
			for page := 0; ; page++ {
				q := "?limit=1000"
				if page > 0 {
					q = "?limit=300&cursor=" + url.QueryEscape(cursor)
				}
				r := h.api("GET", "/api/v1/incidents"+q, "")
				var l struct {
					Incidents []incidentView `json:"incidents"`
					Cursor    string         `json:"cursor"`
				}
				r.json(t, &l)
				if r.code != 200 {
					t.Fatalf("page %d: %d %s", page, r.code, r.body)
				}
				for _, inc := range l.Incidents {
					seen = append(seen, inc.ID)
				}
				if l.Cursor == "" {
					break
				}
				if strings.Contains(l.Cursor, "-") || strings.Contains(l.Cursor, ".") {
					t.Errorf("the cursor is not opaque: %q", l.Cursor)
				}
				cursor = l.Cursor
				// Alerts keep coming while a client pages.
				tick.Add(10)
				fire(fmt.Sprintf("late%d", page))
				if page > 10 {
					t.Fatal("paging does not end")
				}
			}
			if len(seen) != n {
				t.Fatalf("paged through %d incidents, want %d", len(seen), n)
			}
			dup := map[string]bool{}
			for _, id := range seen {
				if dup[id] {
					t.Fatalf("%s listed twice", id)
				}
				dup[id] = true
			}
			if got := h.list("?limit=1"); len(got) != 1 || dup[got[0].ID] {
				t.Fatalf("the newest incident is a late one: %+v", got)
			}

			// since inclusive, until exclusive, on created_at.
			at := func(ms int) string {
				return fixedNow.Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano)
			}
			var ids []string
			for _, inc := range h.list("?since=" + url.QueryEscape(at(1)) + "&until=" + url.QueryEscape(at(3))) {
				if inc.CreatedAt.Before(fixedNow.Add(time.Millisecond)) || !inc.CreatedAt.Before(fixedNow.Add(3*time.Millisecond)) {
					t.Errorf("%s created at %s is outside [1ms, 3ms)", inc.ID, inc.CreatedAt)
				}
				ids = append(ids, inc.ID)
			}
			if len(ids) != 4 {
				t.Errorf("since 1ms until 3ms: %d incidents, want 4 (two per millisecond)", len(ids))
			}
			// The same with a cursor from a page of one.
			r := h.api("GET", "/api/v1/incidents?limit=1&since="+url.QueryEscape(at(1))+"&until="+url.QueryEscape(at(3)), "")
			var first struct {
				Incidents []incidentView `json:"incidents"`
				Cursor    string         `json:"cursor"`
			}
			r.json(t, &first)
			rest := h.list("?since=" + url.QueryEscape(at(1)) + "&until=" + url.QueryEscape(at(3)) + "&cursor=" + url.QueryEscape(first.Cursor))
			var again []string
			for _, inc := range append(first.Incidents, rest...) {
				again = append(again, inc.ID)
			}
			if !reflect.DeepEqual(again, ids) {
				t.Errorf("paged %v, whole %v", again, ids)
			}
			// The last page has no cursor.
			if r := h.api("GET", "/api/v1/incidents?since="+url.QueryEscape(at(1))+"&until="+url.QueryEscape(at(3)), ""); strings.Contains(r.body, `"cursor"`) {
				t.Errorf("a last page with a cursor: %s", r.body)
			}

			for _, tc := range []struct{ q, says string }{
				{"?since=yesterday", "since"},
				{"?until=2025-09-10", "RFC 3339"},
				{"?cursor=bm9wZQ", "cursor"},
				{"?cursor=@@@", "cursor"},
				{"?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("1.12.zz")), "cursor"},
				{"?limit=1001", "limit"},
				{"?limit=0", "limit"},
			} {
				if r := h.api("GET", "/api/v1/incidents"+tc.q, ""); r.code != 400 || !strings.Contains(r.body, tc.says) {
					t.Errorf("%s: %d %.200s", tc.q, r.code, r.body)
				}
			}
		})
	}
}

// alwaysConflicts is a store whose incident writes, while armed, always
// find the incident changed since it was read: others writing it all the
// time, past the incident service's retries.
type alwaysConflicts struct {
	store.Store
	armed atomic.Bool
}

func (s *alwaysConflicts) Update(ctx context.Context, inc *store.Incident, tl []store.Entry) error {
	if s.armed.Load() {
		return store.ErrConflict
	}
	return s.Store.Update(ctx, inc, tl)
}

// TestAPIActionLostToConcurrentWritesIs503: an acknowledgement that lost
// to other writers at every try stored nothing, and a retry may well
// succeed: 503 with Retry-After and a message that says so, as the ack
// link answers it. (Before: 500 "internal error" without Retry-After;
// automation that does not retry a 500 dropped the acknowledgement.)
func TestAPIActionLostToConcurrentWritesIs503(t *testing.T) {
	st := &alwaysConflicts{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(dispatchConfig))
	id := fire(h)
	st.armed.Store(true)
	r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`)
	st.armed.Store(false)
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("status %s", v.Status)
	}
	if r.code != http.StatusServiceUnavailable || r.hdr.Get("Retry-After") == "" || !strings.Contains(r.body, "nothing was stored: retry") {
		t.Fatalf("an acknowledgement that lost to concurrent writes: %d %q Retry-After %q", r.code, r.body, r.hdr.Get("Retry-After"))
	}
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("the retry: %d %s", r.code, r.body)
	}
}

// TestRepeatStoredThenLostToConflictsIsNotNothingStored: a repeat is
// stored, then raising its priority loses to concurrent writes at every
// try: the 503 says the notification may have been stored, not that
// nothing was (it was: the repeat).
func TestRepeatStoredThenLostToConflictsIsNotNothingStored(t *testing.T) {
	st := &alwaysConflicts{Store: boltStore(t)}
	h := newHarness(t, withStore(st), withConfig(dispatchConfig))
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "info"}),
		"Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatalf("first: %d %s", r.code, r.body)
	}
	var res struct{ Incidents []string }
	r.json(t, &res)
	id := res.Incidents[0]
	before := h.incident(id)
	st.armed.Store(true)
	r = h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	st.armed.Store(false)
	if after := h.incident(id); after.Repeats != before.Repeats+1 {
		t.Fatalf("the repeat was not stored (repeats %d -> %d); the test needs it stored", before.Repeats, after.Repeats)
	}
	if r.code != http.StatusServiceUnavailable || strings.Contains(r.body, "nothing was stored") || !strings.Contains(r.body, "may or may not") {
		t.Fatalf("a repeat stored, its raise lost to concurrent writes: %d %s", r.code, r.body)
	}
}
