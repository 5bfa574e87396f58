package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/pagerd/pagerd/gateway/changes"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
)

// TestChangeEventsKeptListedAndHandedOff: a deploy tool's change event,
// sent with go-pagerduty's own client to /v2/change/enqueue, is answered
// 202 as PagerDuty answers it, stored, listed by GET /api/v1/changes and
// written in the handoff document's Recent Changes; it pages nobody and
// opens no incident. On both stores. (It was a 404 saying pagerd keeps no
// change events.)
func TestChangeEventsKeptListedAndHandedOff(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)))
			c := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(h.url))
			resp, err := c.CreateChangeEventWithContext(context.Background(), pagerduty.ChangeEvent{
				RoutingKey: pdKey,
				Payload: pagerduty.ChangeEventPayload{Summary: "deployed checkout v42", Source: "argo",
					CustomDetails: map[string]any{"build": 42}},
				Links: []pagerduty.ChangeEventLink{{Href: "https://ci.example.com/run/42", Text: "run 42"}, {Href: "https://example.com/other"}},
			})
			if err != nil || resp.Status != "success" || resp.Message != "Change event processed" {
				t.Fatalf("go-pagerduty's change event: %+v, %v", resp, err)
			}
			// Sent by hand, with PagerDuty's timestamp: dated by it.
			r := h.do("POST", "/v2/change/enqueue", `{"routing_key":"`+pdKey+`","payload":{"summary":"flag new-cart on","timestamp":"2025-09-09T12:00:00Z"}}`)
			var a enqueueAnswer
			r.json(t, &a)
			if r.code != 202 || a.Status != "success" || a.Message != "Change event processed" || !strings.HasPrefix(a.DedupKey, "ch-") {
				t.Fatalf("a change event: %d %s", r.code, r.body)
			}
			if n := len(h.list("")); n != 0 {
				t.Fatalf("%d incidents after change events", n)
			}
			if lines := h.rec.lines(time.Time{}); len(lines) != 0 {
				t.Fatalf("change events paged: %v", lines)
			}

			var page struct {
				Changes []changes.Change `json:"changes"`
				More    bool             `json:"more"`
			}
			r = h.api("GET", "/api/v1/changes?service=api", "")
			r.json(t, &page)
			if r.code != 200 || len(page.Changes) != 2 {
				t.Fatalf("GET /api/v1/changes: %d %s", r.code, r.body)
			}
			got := page.Changes[0] // newest first
			if got.Service != "api" || got.Summary != "deployed checkout v42" || got.Source != "argo" || !got.At.Equal(fixedNow) ||
				len(got.Links) != 2 || got.Links[0].Href != "https://ci.example.com/run/42" || string(got.Details) != `{"build":42}` {
				t.Fatalf("the change listed: %+v", got)
			}
			if !page.Changes[1].At.Equal(time.Date(2025, 9, 9, 12, 0, 0, 0, time.UTC)) || !page.Changes[1].ReceivedAt.Equal(fixedNow) {
				t.Fatalf("the change with a timestamp: %+v", page.Changes[1])
			}
			r = h.api("GET", "/api/v1/changes?since=2025-09-10T00:00:00Z&limit=1", "")
			page.Changes = nil
			r.json(t, &page)
			if r.code != 200 || len(page.Changes) != 1 || page.Changes[0].Summary != "deployed checkout v42" || page.More {
				t.Fatalf("GET /api/v1/changes?since=: %d %s", r.code, r.body)
			}
			r = h.api("GET", "/api/v1/changes?until=2025-09-10T00:00:00Z&limit=1", "")
			page.Changes = nil
			r.json(t, &page)
			if r.code != 200 || len(page.Changes) != 1 || page.Changes[0].Summary != "flag new-cart on" {
				t.Fatalf("GET /api/v1/changes?until=: %d %s", r.code, r.body)
			}
			if r := h.api("GET", "/api/v1/changes?service=nope", ""); r.code != 404 {
				t.Fatalf("an unknown service: %d %s", r.code, r.body)
			}
			if r := h.do("GET", "/api/v1/changes", ""); r.code != 401 {
				t.Fatalf("without a token: %d %s", r.code, r.body)
			}

			r = h.api("GET", "/api/v1/reports/handoff?schedule=s&at=2025-09-14T22:00:00Z", "")
			want := "## Recent Changes\n" +
				"- Tue 2025-09-09 12:00 api: flag new-cart on\n" +
				"- Wed 2025-09-10 06:00 api: deployed checkout v42 (from argo) https://ci.example.com/run/42\n" +
				"- Impact: [Any issues observed]\n"
			if r.code != 200 || !strings.Contains(r.body, want) {
				t.Fatalf("the handoff document: %d\n%s\nwant in it:\n%s", r.code, r.body, want)
			}
		})
	}
}

// docsDown is a store whose documents cannot be written.
type docsDown struct{ store.Store }

func (docsDown) PutDocs(context.Context, string, int64, map[string][]byte, []string) (int64, error) {
	return 0, fmt.Errorf("%w: connection refused", store.ErrUnavailable)
}

// TestChangeEventRefusals: what can never be stored is a 400 in
// PagerDuty's error shape, saying what is wrong (go-pagerduty's client
// shows it); an unknown routing key is answered as /v2/enqueue answers
// it; a store that does not take the change is a 503, never a 2xx; a
// gzip body is taken as /v2/enqueue takes it.
func TestChangeEventRefusals(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ body, want string }{
		{`{"routing_key":"` + pdKey + `","payload":{"source":"argo"}}`, `'payload.summary' is missing or blank`},
		{`{"routing_key":"` + pdKey + `"}`, `'payload' is missing`},
		{`{"routing_key":"` + pdKey + `","payload":{"summary":"x","timestamp":"yesterday"}}`, `'payload.timestamp' is not a valid ISO 8601 timestamp`},
		{`{"routing_key":"` + pdKey + `","payload":{"summary":"x"},"links":[{"text":"no href"}]}`, `'links[0].href' is missing or blank`},
		{`{"routing_key":"` + pdKey + `","payload":{"summary":"x"}`, `Malformed JSON`},
		{`{"payload":{"summary":"x"}}`, `'routing_key' is missing or blank`},
		{`{"routing_key":"unknown-key","payload":{"summary":"x"}}`, `Invalid routing key`},
	} {
		r := h.do("POST", "/v2/change/enqueue", tc.body)
		if r.code != 400 || !strings.Contains(r.body, `"status":"invalid event"`) || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: %d %s, want 400 saying %s", tc.body, r.code, r.body, tc.want)
		}
	}
	if r := h.do("POST", "/v2/enqueue", `{"routing_key":"unknown-key","event_action":"trigger","payload":{"summary":"x","source":"y","severity":"info"}}`); r.code != 400 ||
		!strings.Contains(r.body, "Invalid routing key") {
		t.Fatalf("/v2/enqueue answers an unknown key otherwise now: %d %s", r.code, r.body)
	}
	c := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(h.url))
	_, err := c.CreateChangeEventWithContext(context.Background(), pagerduty.ChangeEvent{RoutingKey: pdKey, Payload: pagerduty.ChangeEventPayload{Source: "argo"}})
	var apiErr pagerduty.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(err.Error(), "'payload.summary' is missing or blank") {
		t.Fatalf("go-pagerduty's change event without a summary: %v", err)
	}

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"routing_key":"` + pdKey + `","payload":{"summary":"gzipped deploy"}}`))
	_ = zw.Close()
	if r := h.do("POST", "/v2/change/enqueue", gz.String(), "Content-Encoding", "gzip"); r.code != 202 {
		t.Fatalf("a gzip change event: %d %s", r.code, r.body)
	}

	down := newHarness(t, withStore(docsDown{boltStore(t)}))
	r := down.do("POST", "/v2/change/enqueue", `{"routing_key":"`+pdKey+`","payload":{"summary":"deployed"}}`)
	if r.code != 503 || !strings.Contains(r.body, "Please retry") || r.hdr.Get("Retry-After") == "" {
		t.Fatalf("the store down: %d %s, want 503", r.code, r.body)
	}
}

// TestChangesBounded: a service keeps its newest changes.MaxPerService
// changes, and none received more than changes.Keep ago: a chatty deploy
// tool cannot fill the store. On both stores.
func TestChangesBounded(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(t)
			clock := &fakeClock{t: fixedNow}
			log := &changes.Log{Store: st, Now: clock.Now}
			ctx := context.Background()
			for i := range changes.MaxPerService + 5 {
				clock.Set(fixedNow.Add(time.Duration(i) * time.Second))
				if _, err := log.Record(ctx, changes.Change{Service: "api", Summary: fmt.Sprintf("deploy %d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			stored := func() int {
				docs, _, err := st.ListDocs(ctx, changes.Kind("api"))
				if err != nil {
					t.Fatal(err)
				}
				return len(docs)
			}
			list, err := log.List(ctx, []string{"api"}, time.Time{}, time.Time{}, 0)
			if err != nil || stored() != changes.MaxPerService || len(list) != changes.MaxPerService ||
				list[0].Summary != fmt.Sprintf("deploy %d", changes.MaxPerService+4) || list[len(list)-1].Summary != "deploy 5" {
				t.Fatalf("after %d changes: %d stored, %d listed (%v)", changes.MaxPerService+5, stored(), len(list), err)
			}
			// Past Keep, they are listed no more, and the next write
			// drops them.
			clock.Set(fixedNow.Add(changes.Keep + time.Hour))
			if list, _ := log.List(ctx, []string{"api"}, time.Time{}, time.Time{}, 0); len(list) != 0 {
				t.Fatalf("%d changes listed past Keep", len(list))
			}
			if _, err := log.Record(ctx, changes.Change{Service: "api", Summary: "a month later"}); err != nil {
				t.Fatal(err)
			}
			if n := stored(); n != 1 {
				t.Fatalf("%d changes stored after a write past Keep, want 1", n)
			}
		})
	}
}

// TestChangeEventsGoThroughAdmission: a change event is read and limited
// by admission as an alert event is (its routing key is in its body too):
// a sender trickling change events cannot hold the intake's slots.
func TestChangeEventsGoThroughAdmission(t *testing.T) {
	if got := intakeRoute(httptest.NewRequest("POST", changeEnqueuePath, nil)); got != routeEnqueue {
		t.Fatalf("POST %s is intake route %d, want %d (/v2/enqueue's)", changeEnqueuePath, got, routeEnqueue)
	}
}

// TestBackupCarriesChanges: the embedded store's backup (GET /-/backup,
// pagerd backup) carries the change events, as it carries overrides and
// maintenance windows: restored, the handoff document still has them.
func TestBackupCarriesChanges(t *testing.T) {
	h := newHarness(t)
	if r := h.do("POST", "/v2/change/enqueue", `{"routing_key":"`+pdKey+`","payload":{"summary":"deployed checkout v42"}}`); r.code != 202 {
		t.Fatalf("a change event: %d %s", r.code, r.body)
	}
	r := h.api("GET", "/-/backup", "")
	if r.code != 200 {
		t.Fatalf("backup: %d", r.code)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := boltstore.Restore(strings.NewReader(r.body), dir); err != nil {
		t.Fatal(err)
	}
	rs, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	list, err := (&changes.Log{Store: rs, Now: func() time.Time { return fixedNow }}).List(context.Background(), []string{"api"}, time.Time{}, time.Time{}, 0)
	if err != nil || len(list) != 1 || list[0].Summary != "deployed checkout v42" {
		t.Fatalf("restored changes %+v, %v", list, err)
	}
}

// TestChangeEventsRateLimitedApart: change events are held to the
// per-key rate limit as alert events are (429, PagerDuty's answer), in a
// bucket of their own: a deploy tool's burst does not hold back the
// service's alerts.
func TestChangeEventsRateLimitedApart(t *testing.T) {
	h := newHarness(t, withConfig(testConfig+"server: {rate_limit: {per_second: 0.02, burst: 1}}\n"))
	change := `{"routing_key":"` + pdKey + `","payload":{"summary":"deploy"}}`
	if r := h.do("POST", "/v2/change/enqueue", change); r.code != 202 {
		t.Fatalf("the first change: %d %s", r.code, r.body)
	}
	if r := h.do("POST", "/v2/change/enqueue", change); r.code != 429 || !strings.Contains(r.body, "throttle event") || r.hdr.Get("Retry-After") == "" {
		t.Fatalf("a change past the rate: %d %s, want 429", r.code, r.body)
	}
	if r := h.do("POST", "/v2/enqueue", `{"routing_key":"`+pdKey+`","event_action":"trigger","payload":{"summary":"db down","source":"db1","severity":"critical"}}`); r.code != 202 {
		t.Fatalf("an alert after the changes' limit: %d %s", r.code, r.body)
	}
}

// TestChangesOfOneServiceAtOnceAreAllKept: a deploy tool sends the
// changes of 40 components under one routing key at once. Each write
// reads the service's changes and writes at the version read: at once,
// they conflicted, and past the retries some were refused (on the
// embedded store 8 of 20, 28 of 40), answered 503 to a client that does
// not retry. Taken in turn, every one is kept. Both stores.
func TestChangesOfOneServiceAtOnceAreAllKept(t *testing.T) {
	const n = 40
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			l := &changes.Log{Store: open(t).(store.Docs)}
			errs := make(chan error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := l.Record(context.Background(), changes.Change{Service: "api", Summary: fmt.Sprintf("deploy component %d", i)})
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("a change refused: %v", err)
				}
			}
			if list, err := l.List(context.Background(), []string{"api"}, time.Time{}, time.Time{}, 0); err != nil || len(list) != n {
				t.Fatalf("%d changes listed (%v), want %d", len(list), err, n)
			}
		})
	}
}

// TestChangeEventsBoundedBelowTheAlertsRate: server.rate_limit allows a
// key 100 requests a second, burst 1,000, for alerts; a deploy tool stuck
// in a loop at that pace had every one of its changes read and rewrite
// the service's kept changes, keeping the store busy beside the pages.
// Change events take at most changes.Burst at once and
// changes.MaxPerSecond after: the one past the burst is refused 429,
// and the service's alerts are still taken.
func TestChangeEventsBoundedBelowTheAlertsRate(t *testing.T) {
	h := newHarness(t, withConfig(testConfig+"server: {rate_limit: {per_second: 100, burst: 1000}}\n"))
	h.d.server.o.Changes = &changes.Log{Store: countingDocs{}} // the bound, not the store, is under test
	change := `{"routing_key":"` + pdKey + `","payload":{"summary":"deploy"}}`
	for i := range changes.Burst {
		if r := h.do("POST", "/v2/change/enqueue", change); r.code != 202 {
			t.Fatalf("change %d of the burst: %d %s", i+1, r.code, r.body)
		}
	}
	if r := h.do("POST", "/v2/change/enqueue", change); r.code != 429 {
		t.Fatalf("a change past the changes' burst, under the alerts' limit: %d %s, want 429", r.code, r.body)
	}
	if r := h.do("POST", "/v2/enqueue", `{"routing_key":"`+pdKey+`","event_action":"trigger","payload":{"summary":"db down","source":"db1","severity":"critical"}}`); r.code != 202 {
		t.Fatalf("an alert after the changes' limit: %d %s", r.code, r.body)
	}
}

// countingDocs is a store.Docs that takes every write and holds nothing.
type countingDocs struct{ store.Docs }

func (countingDocs) ListDocs(context.Context, string) (map[string][]byte, int64, error) {
	return nil, 0, nil
}

func (countingDocs) PutDocs(context.Context, string, int64, map[string][]byte, []string) (int64, error) {
	return 1, nil
}

// TestChangeKeptWithinMaxBytes: a change is read and rewritten with every
// later one of its service, so one is kept in changes.MaxBytes at most:
// its custom details are left out past it (said), then its links from
// the last. A change that fits keeps everything. Both stores.
func TestChangeKeptWithinMaxBytes(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			l := &changes.Log{Store: open(t).(store.Docs)}
			var links []changes.Link
			for range 5 {
				links = append(links, changes.Link{Href: "https://ci.example.com/" + long(1000)})
			}
			big, err := l.Record(context.Background(), changes.Change{Service: "api", Summary: "deploy v2",
				Details: json.RawMessage(`{"manifest":"` + long(3000) + `"}`), Links: links})
			if err != nil {
				t.Fatal(err)
			}
			small, err := l.Record(context.Background(), changes.Change{Service: "api", Summary: "deploy v3",
				Details: json.RawMessage(`{"build":42}`), Links: links[:1]})
			if err != nil {
				t.Fatal(err)
			}
			list, err := l.List(context.Background(), []string{"api"}, time.Time{}, time.Time{}, 0)
			if err != nil || len(list) != 2 {
				t.Fatalf("listed %d (%v), want 2", len(list), err)
			}
			for _, c := range list {
				b, _ := json.Marshal(c)
				switch c.ID {
				case big.ID:
					if len(b) > changes.MaxBytes || c.Details != nil || !c.DetailsDropped || len(c.Links) == 0 || len(c.Links) == 5 {
						t.Errorf("the large change kept in %d bytes, details %d bytes (dropped %v), %d links; want at most %d bytes, no details, some links",
							len(b), len(c.Details), c.DetailsDropped, len(c.Links), changes.MaxBytes)
					}
				case small.ID:
					if string(c.Details) != `{"build":42}` || c.DetailsDropped || len(c.Links) != 1 {
						t.Errorf("the small change kept as %s", b)
					}
				}
			}
		})
	}
}
