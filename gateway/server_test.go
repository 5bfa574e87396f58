package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/policy"
)

func TestAlertmanagerWebhook(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)))
			firing := amPayload("firing", `{}:{alertname="DiskFull"}`, map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db1"})
			r := h.do("POST", "/api/v1/alertmanager", firing, "Authorization", "Bearer "+amKey)
			if r.code != 200 {
				t.Fatalf("firing: %d %s", r.code, r.body)
			}
			incs := h.list("")
			if len(incs) != 1 || incs[0].Status != "triggered" || incs[0].Priority != "P0" || incs[0].Service != "api" || incs[0].Source != "alertmanager" {
				t.Fatalf("incidents after firing: %+v", incs)
			}
			id := incs[0].ID
			if incs[0].NextStepAt == nil || !incs[0].NextStepAt.Equal(fixedNow) {
				t.Fatalf("the first push must be due at once, got %v", incs[0].NextStepAt)
			}
			// The same group again (Alertmanager's repeat): same incident,
			// nobody paged again.
			if r := h.do("POST", "/api/v1/alertmanager/"+amKey, firing); r.code != 200 {
				t.Fatalf("repeat via the path key: %d %s", r.code, r.body)
			}
			incs = h.list("")
			if len(incs) != 1 || incs[0].ID != id || incs[0].Repeats != 1 {
				t.Fatalf("after a repeat: %+v", incs)
			}
			resolved := strings.ReplaceAll(firing, `"firing"`, `"resolved"`)
			if r := h.do("POST", "/api/v1/alertmanager", resolved, "Authorization", "Bearer "+amKey); r.code != 200 {
				t.Fatalf("resolved: %d %s", r.code, r.body)
			}
			var got incidentView
			r = h.api("GET", "/api/v1/incidents/"+id, "")
			r.json(t, &got)
			if got.Status != "resolved" || got.ResolvedBy != "alertmanager" || got.NextStepAt != nil {
				t.Fatalf("after resolved: %+v", got)
			}
			types := []string{}
			for _, e := range got.Timeline {
				types = append(types, e.Type)
			}
			if strings.Join(types, ",") != "trigger,resolve" {
				t.Fatalf("timeline %v", types)
			}
			// Labels, annotations and URLs are kept for the notification text.
			for _, want := range []string{`"instance":"db1"`, "http://prom/graph", "http://am:9093", "disk almost full"} {
				if !strings.Contains(string(got.Details), want) {
					t.Errorf("details lack %s: %s", want, got.Details)
				}
			}
		})
	}
}

func TestAlertmanagerFingerprintMode(t *testing.T) {
	h := newHarness(t)
	body := amPayload("firing", `{}:{alertname="Job"}`,
		map[string]string{"alertname": "Job", "job": "a", "severity": "warning"},
		map[string]string{"alertname": "Job", "job": "b", "severity": "critical"})
	if r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer batch-key-0000000000000000000000"); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	incs := h.list("?service=batch")
	if len(incs) != 2 {
		t.Fatalf("one incident per alert expected, got %d", len(incs))
	}
	prios := map[string]bool{}
	for _, i := range incs {
		prios[i.Priority] = true
	}
	if !prios["SEV-1"] || !prios["SEV-3"] {
		t.Fatalf("priorities %v", prios)
	}
}

func TestGroupTakesTheMostUrgentAlert(t *testing.T) {
	h := newHarness(t)
	body := amPayload("firing", `{}:{alertname="Mixed"}`,
		map[string]string{"alertname": "Mixed", "severity": "info"},
		map[string]string{"alertname": "Mixed", "severity": "critical", "instance": "x"})
	if r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	if incs := h.list(""); len(incs) != 1 || incs[0].Priority != "P0" {
		t.Fatalf("%+v", incs)
	}
}

func TestAlertmanagerBadInput(t *testing.T) {
	h := newHarness(t)
	good := amPayload("firing", "g", map[string]string{"alertname": "A"})
	auth := []string{"Authorization", "Bearer " + amKey}
	cases := []struct {
		name string
		body string
		hdr  []string
		code int
		want string
	}{
		{"no key", good, nil, 401, "missing integration key"},
		{"wrong key", good, []string{"Authorization", "Bearer nope"}, 401, "unknown Alertmanager integration key"},
		{"wrong content type", good, append(auth, "Content-Type", "text/plain"), 415, "text/plain is not supported"},
		{"malformed JSON", `{"version": "4",`, auth, 400, "JSON"},
		{"wrong version", strings.Replace(good, `"version":"4"`, `"version":"3"`, 1), auth, 400, "version"},
		{"no alerts", `{"version":"4","groupKey":"g","status":"firing","alerts":[]}`, auth, 400, "alerts"},
		{"wrong type", `{"version":"4","groupKey":"g","status":"firing","alerts":"many"}`, auth, 400, "alerts"},
		{"oversize", `{"version":"4","pad":"` + strings.Repeat("x", alertmanagerStreamLimit) + `"}`, auth, 413, "limit"},
		{"over the in-memory size, streamed, no alerts", `{"version":"4","groupKey":"g","status":"firing","pad":"` + strings.Repeat("x", alertmanagerBodyLimit) + `"}`, auth, 400, "alerts: missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/api/v1/alertmanager", tc.body, tc.hdr...)
			if r.code != tc.code || !strings.Contains(r.body, tc.want) {
				t.Fatalf("%d %s; want %d with %q", r.code, r.body, tc.code, tc.want)
			}
			var e map[string]string
			r.json(t, &e)
			if e["error"] == "" || e["request_id"] == "" {
				t.Fatalf("error body %v", e)
			}
		})
	}
	if incs := h.list(""); len(incs) != 0 {
		t.Fatalf("bad input stored incidents: %+v", incs)
	}
}

func TestPagerDutyEvents(t *testing.T) {
	h := newHarness(t)
	trigger := `{"routing_key":"` + pdKey + `","event_action":"trigger","dedup_key":"db-down","payload":{"summary":"DB down","source":"db1","severity":"critical","custom_details":{"team":"storage"}}}`
	r := h.do("POST", "/v2/enqueue", trigger)
	if r.code != 202 || r.body != `{"status":"success","message":"Event processed","dedup_key":"db-down"}`+"\n" {
		t.Fatalf("trigger: %d %q", r.code, r.body)
	}
	incs := h.list("")
	if len(incs) != 1 || incs[0].Priority != "P0" || incs[0].Summary != "DB down" || incs[0].Source != "pagerduty" {
		t.Fatalf("%+v", incs)
	}
	ack := `{"routing_key":"` + pdKey + `","event_action":"acknowledge","dedup_key":"db-down"}`
	if r := h.do("POST", "/v2/enqueue", ack); r.code != 202 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	if incs := h.list(""); incs[0].Status != "acknowledged" || incs[0].AcknowledgedBy != "pagerduty" {
		t.Fatalf("after ack: %+v", incs[0])
	}
	res := strings.Replace(ack, "acknowledge", "resolve", 1)
	if r := h.do("POST", "/v2/enqueue", res); r.code != 202 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	if incs := h.list(""); incs[0].Status != "resolved" {
		t.Fatalf("after resolve: %+v", incs[0])
	}
	// Acknowledging something pagerd never saw is accepted, as PagerDuty does.
	if r := h.do("POST", "/v2/enqueue", strings.Replace(ack, "db-down", "never-seen", 1)); r.code != 202 {
		t.Fatalf("ack of unknown: %d %s", r.code, r.body)
	}
	// A trigger without a dedup key gets one.
	r = h.do("POST", "/v2/enqueue", strings.Replace(trigger, `"dedup_key":"db-down",`, "", 1))
	var ok struct {
		Status, Message string
		DedupKey        string `json:"dedup_key"`
	}
	r.json(t, &ok)
	if r.code != 202 || len(ok.DedupKey) != 32 {
		t.Fatalf("generated dedup key: %d %s", r.code, r.body)
	}

	for _, tc := range []struct {
		name, body string
		code       int
	}{
		{"missing action", `{"routing_key":"` + pdKey + `"}`, 400},
		{"malformed", `{"routing_key":`, 400},
		{"unknown routing key", strings.Replace(trigger, pdKey, "0123456789abcdef0123456789abcdef", 1), 400},
		{"oversize", `{"routing_key":"` + strings.Repeat("x", 600<<10) + `"}`, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/v2/enqueue", tc.body)
			var inv struct {
				Status, Message string
				Errors          []string
			}
			r.json(t, &inv)
			if r.code != tc.code || inv.Status != "invalid event" || inv.Message != "Event object is invalid" || len(inv.Errors) == 0 {
				t.Fatalf("%d %s", r.code, r.body)
			}
		})
	}
}

func TestIncidentAPI(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "critical"}), "Authorization", "Bearer "+amKey)
	h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g2", map[string]string{"alertname": "B", "severity": "warning"}), "Authorization", "Bearer "+amKey)
	incs := h.list("?priority=P0")
	if len(incs) != 1 {
		t.Fatalf("priority filter: %+v", incs)
	}
	id := incs[0].ID

	if r := h.do("GET", "/api/v1/incidents", ""); r.code != 401 {
		t.Fatalf("no token: %d", r.code)
	}
	if r := h.do("GET", "/api/v1/incidents", "", "Authorization", "Bearer wrong"); r.code != 401 {
		t.Fatalf("wrong token: %d", r.code)
	}
	if r := h.api("GET", "/api/v1/incidents/00-nothing", ""); r.code != 404 {
		t.Fatalf("unknown id: %d %s", r.code, r.body)
	}
	if r := h.api("GET", "/api/v1/incidents?status=open", ""); r.code != 400 || !strings.Contains(r.body, "triggered") {
		t.Fatalf("bad status filter: %d %s", r.code, r.body)
	}
	if r := h.api("POST", "/api/v1/incidents/"+id+"/status", `{}`); r.code != 400 || !strings.Contains(r.body, "message") {
		t.Fatalf("status without message: %d %s", r.code, r.body)
	}
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"nobody"}`); r.code != 400 {
		t.Fatalf("unknown user: %d %s", r.code, r.body)
	}
	if r := h.api("POST", "/api/v1/incidents/"+id+"/snooze", ``); r.code != 404 {
		t.Fatalf("unknown action: %d %s", r.code, r.body)
	}

	var v incidentView
	r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`)
	r.json(t, &v)
	if r.code != 200 || v.Status != "acknowledged" || v.AcknowledgedBy != "ann" || v.NextStepAt != nil {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	r = h.api("POST", "/api/v1/incidents/"+id+"/status", `{"message":"failing over"}`)
	r.json(t, &v)
	if r.code != 200 || v.StatusUpdates != 1 {
		t.Fatalf("status: %d %s", r.code, r.body)
	}
	r = h.api("POST", "/api/v1/incidents/"+id+"/escalate", ``)
	r.json(t, &v)
	if r.code != 200 || v.Status != "triggered" || v.Level != 2 || v.LevelName != "secondary" {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	r = h.api("POST", "/api/v1/incidents/"+id+"/resolve", ``)
	r.json(t, &v)
	if r.code != 200 || v.Status != "resolved" || v.ResolvedBy != "api:ops" {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", ``); r.code != 409 {
		t.Fatalf("ack after resolve: %d %s", r.code, r.body)
	}
	r = h.api("GET", "/api/v1/incidents/"+id, "")
	r.json(t, &v)
	var types []string
	for _, e := range v.Timeline {
		types = append(types, e.Type+":"+e.Actor)
	}
	if got := strings.Join(types, " "); got != "trigger:alertmanager ack:ann status_update:api:ops escalate:api:ops resolve:api:ops" {
		t.Fatalf("timeline: %s", got)
	}
	if incs := h.list("?status=triggered"); len(incs) != 1 || incs[0].Priority != "P2" {
		t.Fatalf("status filter: %+v", incs)
	}

	var oc struct {
		Oncall []policy.OnCallEntry `json:"oncall"`
	}
	r = h.api("GET", "/api/v1/oncall?at=2025-09-10T06:00:00Z", "")
	r.json(t, &oc)
	if r.code != 200 || len(oc.Oncall) != 2 || oc.Oncall[0].User != "ann" {
		t.Fatalf("oncall: %d %s", r.code, r.body)
	}
	if r := h.api("GET", "/api/v1/oncall?schedule=none", ""); r.code != 404 {
		t.Fatalf("oncall unknown schedule: %d", r.code)
	}
}

// TestReadmeOncallAPIShape: README's row for GET /api/v1/oncall names the
// keys of the answer, which wraps the entries of `pagerd oncall -o json` in
// {"at", "oncall"}: a client written from the row alone looked for a list.
func TestReadmeOncallAPIShape(t *testing.T) {
	h := newHarness(t)
	r := h.api("GET", "/api/v1/oncall?at=2025-09-10T06:00:00Z", "")
	var answer map[string]json.RawMessage
	r.json(t, &answer)
	if r.code != 200 || len(answer) == 0 {
		t.Fatalf("oncall: %d %s", r.code, r.body)
	}
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "| `GET /api/v1/oncall") {
			row = line
		}
	}
	if row == "" {
		t.Fatal("README's HTTP API table has no row for GET /api/v1/oncall")
	}
	for key := range answer {
		if !strings.Contains(row, `"`+key+`"`) {
			t.Errorf("README's row for GET /api/v1/oncall does not name the answer's key %q:\n%s", key, row)
		}
	}
}

// TestRedisDown: with Redis gone, an alert is answered 503 (so Alertmanager
// retries), /-/ready goes red, and nothing is half-written; when Redis is
// back, the retry succeeds.
func TestRedisDown(t *testing.T) {
	st, r := redisStore(t)
	h := newHarness(t, withStore(st))
	body := amPayload("firing", "g", map[string]string{"alertname": "A", "severity": "critical"})
	r.Stop(t)
	resp := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey)
	if resp.code != 503 || resp.hdr.Get("Retry-After") == "" || !strings.Contains(resp.body, "nothing was stored") {
		t.Fatalf("with redis down: %d %s", resp.code, resp.body)
	}
	if resp := h.do("GET", "/-/ready", ""); resp.code != 503 {
		t.Fatalf("ready with redis down: %d", resp.code)
	}
	pd := `{"routing_key":"` + pdKey + `","event_action":"trigger","payload":{"summary":"x","source":"y","severity":"error"}}`
	if resp := h.do("POST", "/v2/enqueue", pd); resp.code != 503 {
		t.Fatalf("PD event with redis down: %d %s", resp.code, resp.body)
	}
	r.Restart(t)
	if resp := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey); resp.code != 200 {
		t.Fatalf("retry: %d %s", resp.code, resp.body)
	}
	// Ready once an alert is stored again (or 10 s after the refused one,
	// docs/RELIABILITY.md).
	if resp := h.do("GET", "/-/ready", ""); resp.code != 200 {
		t.Fatalf("ready after restart: %d", resp.code)
	}
	if incs := h.list(""); len(incs) != 1 {
		t.Fatalf("after retry: %d incidents", len(incs))
	}
}

func TestReload(t *testing.T) {
	h := newHarness(t)
	body := amPayload("firing", "g", map[string]string{"alertname": "A"})
	if r := h.do("POST", "/-/reload", ""); r.code != 401 {
		t.Fatalf("reload without token: %d", r.code)
	}
	// A broken config is refused and the old one keeps working.
	if err := os.WriteFile(h.cfg, []byte(testConfig+"\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := h.api("POST", "/-/reload", ""); r.code != 500 || !strings.Contains(r.body, "bogus") {
		t.Fatalf("bad reload: %d %s", r.code, r.body)
	}
	if r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("old config after a refused reload: %d %s", r.code, r.body)
	}
	// A good one swaps in at once: the new key works, the old one no longer.
	if err := os.WriteFile(h.cfg, []byte(strings.Replace(testConfig, amKey, "rotated-key-00000000000000000000", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := h.api("POST", "/-/reload", ""); r.code != 200 {
		t.Fatalf("good reload: %d %s", r.code, r.body)
	}
	if r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer rotated-key-00000000000000000000"); r.code != 200 {
		t.Fatalf("new key: %d %s", r.code, r.body)
	}
	if r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey); r.code != 401 {
		t.Fatalf("old key after rotation: %d", r.code)
	}
	if r := h.do("GET", "/metrics", ""); !strings.Contains(r.body, `pagerd_config_reloads_total{result="failure"} 1`) ||
		!strings.Contains(r.body, `pagerd_alerts_received_total{outcome="created",service="api",source="alertmanager"} 1`) {
		t.Fatalf("metrics:\n%s", r.body)
	}
}

// TestSecretsNeverLogged sends keys in every place they travel and checks
// the logs.
func TestSecretsNeverLogged(t *testing.T) {
	h := newHarness(t)
	body := amPayload("firing", "g", map[string]string{"alertname": "A"})
	h.do("POST", "/api/v1/alertmanager/"+amKey, body)
	h.do("POST", "/api/v1/alertmanager/"+amKey+"x", body)
	h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey)
	h.do("POST", "/v2/enqueue", `{"routing_key":"`+pdKey+`","event_action":"trigger","payload":{"summary":"x","source":"y","severity":"error"}}`)
	h.api("GET", "/api/v1/incidents", "")
	h.log.Info("config", "cfg", h.config())
	logs := h.logs.String()
	if !strings.Contains(logs, "/api/v1/alertmanager/:key") {
		t.Fatalf("requests were not logged at all:\n%s", logs)
	}
	for _, secret := range []string{amKey, pdKey, apiToken} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret is in the logs:\n%s", logs)
		}
	}
}

// TestTwoServersShareRedis: two daemons on one Redis see the same incidents,
// and a repeat arriving at the other one is still a repeat.
func TestTwoServersShareRedis(t *testing.T) {
	r := redistest.Start(t)
	open := func() store.Store {
		rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true})
		t.Cleanup(func() { rdb.Close() })
		return redisstore.New(rdb, "shared")
	}
	a, b := newHarness(t, withStore(open())), newHarness(t, withStore(open()))
	body := amPayload("firing", "g", map[string]string{"alertname": "A", "severity": "critical"})
	a.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey)
	b.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey)
	la, lb := a.list(""), b.list("")
	if len(la) != 1 || len(lb) != 1 || la[0].ID != lb[0].ID || lb[0].Repeats != 1 {
		t.Fatalf("a sees %+v, b sees %+v", la, lb)
	}
	var v incidentView
	resp := b.api("POST", "/api/v1/incidents/"+la[0].ID+"/acknowledge", "")
	resp.json(t, &v)
	if a.list("")[0].Status != "acknowledged" {
		t.Fatal("an ack through b is not visible through a")
	}
}

// gatedStore holds Trigger until released, to catch a request in flight.
type gatedStore struct {
	store.Store
	entered chan struct{}
	release chan struct{}
}

func (g *gatedStore) Trigger(ctx context.Context, inc *store.Incident, tl []store.Entry) (string, store.Outcome, error) {
	close(g.entered)
	<-g.release
	return g.Store.Trigger(ctx, inc, tl)
}

// TestGracefulShutdown: stopping the daemon lets the request in flight
// finish and store its alert, then Run returns.
func TestGracefulShutdown(t *testing.T) {
	g := &gatedStore{Store: boltStore(t), entered: make(chan struct{}), release: make(chan struct{})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withStore(g), onListener(l))
	ctx, cancel := context.WithCancel(context.Background())
	served := h.run(ctx)
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+l.Addr().String()+"/api/v1/alertmanager",
			strings.NewReader(amPayload("firing", "g", map[string]string{"alertname": "A"})))
		req.Header.Set("Authorization", "Bearer "+amKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-g.entered
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned before the request in flight finished: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(g.release)
	if code := <-done; code != 200 {
		t.Fatalf("request in flight got %d", code)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if incs, _ := g.List(context.Background(), store.Filter{}); len(incs) != 1 {
		t.Fatal("the alert in flight was not stored")
	}
}

// TestShutdownDelay: once stopped with a shutdown delay, the daemon says
// it is not ready at once but still answers (an alert, a probe) until the
// delay is over; then it stops taking connections and Run returns. The
// delay is waited on a clock of the test's.
func TestShutdownDelay(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fire := make(chan time.Time)
	asked := make(chan time.Duration, 1)
	after := func(d time.Duration) <-chan time.Time { asked <- d; return fire }
	h := newHarness(t, onListener(l), shutdownDelay(5*time.Second, after))
	base := "http://" + l.Addr().String()
	get := func(path string) int {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := h.run(ctx)
	if code := get("/-/ready"); code != 200 {
		t.Fatalf("/-/ready before the stop: %d", code)
	}
	cancel()
	select {
	case d := <-asked:
		if d != 5*time.Second {
			t.Fatalf("waited %v, want the 5s delay", d)
		}
	case err := <-served:
		t.Fatalf("Run returned at once, with no shutdown delay: %v", err)
	}
	if code := get("/-/ready"); code != http.StatusServiceUnavailable {
		t.Fatalf("/-/ready during the shutdown delay: %d, want 503", code)
	}
	if code := get("/-/healthy"); code != 200 {
		t.Fatalf("/-/healthy during the shutdown delay: %d", code)
	}
	req, _ := http.NewRequest("POST", base+"/api/v1/alertmanager", strings.NewReader(amPayload("firing", "g", map[string]string{"alertname": "A"})))
	req.Header.Set("Authorization", "Bearer "+amKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("an alert during the shutdown delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("an alert during the shutdown delay: %d", resp.StatusCode)
	}
	select {
	case err := <-served:
		t.Fatalf("Run returned before the delay was over: %v", err)
	default:
	}
	fire <- time.Now()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the delay")
	}
	if _, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		t.Fatal("still taking connections after the delay")
	}
	if incs, _ := h.store.List(context.Background(), store.Filter{}); len(incs) != 1 {
		t.Fatalf("%d incidents stored, want the alert taken in during the delay", len(incs))
	}
}

func TestHealthAndReady(t *testing.T) {
	h := newHarness(t)
	for path, want := range map[string]int{"/-/healthy": 200, "/-/ready": 200, "/metrics": 200, "/nope": 404} {
		if r := h.do("GET", path, ""); r.code != want {
			t.Errorf("%s: %d, want %d", path, r.code, want)
		}
	}
}

// TestRepeatThatGetsWorseRaisesPriority: a warning group is P2; when a
// critical alert joins it, the repeat makes it P0 and pages again, which
// pagerd_escalations_total does not count.
func TestRepeatThatGetsWorseRaisesPriority(t *testing.T) {
	h := newHarness(t)
	warn := amPayload("firing", "g", map[string]string{"alertname": "A", "severity": "warning"})
	if r := h.do("POST", "/api/v1/alertmanager", warn, "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	id := h.list("")[0].ID
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", ""); r.code != 200 {
		t.Fatal(r.body)
	}
	worse := amPayload("firing", "g", map[string]string{"alertname": "A", "severity": "warning"}, map[string]string{"alertname": "A", "severity": "critical", "instance": "db2"})
	if r := h.do("POST", "/api/v1/alertmanager", worse, "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	var v incidentView
	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &v)
	if v.Priority != "P0" || v.Status != "triggered" || v.Repeats != 1 || v.NextStepAt == nil {
		t.Fatalf("after a critical alert joined: %+v", v)
	}
	last := v.Timeline[len(v.Timeline)-1]
	if last.Type != "escalate" || !strings.Contains(last.Detail, "priority raised from P2 to P0") {
		t.Fatalf("timeline ends with %+v", last)
	}
	// The raise pages the level the incident is at again: no
	// escalation (the reports do not count it either).
	escalationsCounted(t, h, map[string]float64{"1": 0, "2": 0})
	// The same critical group again changes nothing more.
	h.do("POST", "/api/v1/alertmanager", worse, "Authorization", "Bearer "+amKey)
	var again incidentView
	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &again)
	if len(again.Timeline) != len(v.Timeline) || again.Repeats != 2 {
		t.Fatalf("a second critical repeat changed the incident: %+v", again.Timeline)
	}
}

// TestRateLimitPerIntegrationKey: over server.rate_limit, Alertmanager gets
// 503 with Retry-After (which it retries; it would drop a 429 until the
// group's next flush) and PagerDuty clients PagerDuty's 429 throttle
// answer; nothing over the limit is stored. A PagerDuty acknowledge or
// resolve is not held back by the triggers' limit.
func TestRateLimitPerIntegrationKey(t *testing.T) {
	h := newHarness(t)
	if err := os.WriteFile(h.cfg, []byte(testConfig+"\nserver: {rate_limit: {per_second: 0.02, burst: 2}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	var codes []int
	for i := 0; i < 3; i++ {
		r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", fmt.Sprintf("g%d", i), map[string]string{"alertname": "A"}), "Authorization", "Bearer "+amKey)
		codes = append(codes, r.code)
		// 503, which Alertmanager's webhook retries with backoff; it
		// would hold a 429 until the group's next flush.
		if r.code == 503 && (r.hdr.Get("Retry-After") == "" || !strings.Contains(r.body, "server.rate_limit")) {
			t.Fatalf("throttled without Retry-After or a reason: %s", r.body)
		}
	}
	if fmt.Sprint(codes) != "[200 200 503]" {
		t.Fatalf("codes %v", codes)
	}
	if n := len(h.list("")); n != 2 {
		t.Fatalf("%d incidents stored", n)
	}
	pd := `{"routing_key":"` + pdKey + `","event_action":"trigger","payload":{"summary":"x","source":"y","severity":"error"}}`
	h.do("POST", "/v2/enqueue", pd)
	h.do("POST", "/v2/enqueue", pd)
	r := h.do("POST", "/v2/enqueue", pd)
	if r.code != 429 || !strings.Contains(r.body, `"status":"throttle event"`) {
		t.Fatalf("third event: %d %s", r.code, r.body)
	}
	// Acknowledgements and resolves have a bucket of their own: a flood
	// of triggers made them wait, and they end pages.
	for _, action := range []string{"acknowledge", "resolve"} {
		ev := `{"routing_key":"` + pdKey + `","event_action":"` + action + `","dedup_key":"x"}`
		if r := h.do("POST", "/v2/enqueue", ev); r.code != 202 {
			t.Fatalf("an %s after the triggers ran out the limit: %d %s, want 202", action, r.code, r.body)
		}
	}
}

// TestClientAddressTrustsOnlyConfiguredProxies: X-Forwarded-For is believed
// from a trusted proxy's address only.
func TestClientAddressTrustsOnlyConfiguredProxies(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "10.1.2.3:5555"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	if got := ipExtractor(nil)(req); got != "10.1.2.3" {
		t.Fatalf("no trusted proxies: %s", got)
	}
	if got := ipExtractor([]string{"10.0.0.0/8"})(req); got != "203.0.113.9" {
		t.Fatalf("trusted proxy: %s", got)
	}
	if got := ipExtractor([]string{"192.168.0.0/16"})(req); got != "10.1.2.3" {
		t.Fatalf("untrusted peer: %s", got)
	}
}

// TestForwardedHeadersTrustOnlyConfiguredProxies: the scheme and the
// client address forwarded headers claim are believed from the peers in
// server.trusted_proxies only, never from a private peer merely for being
// private (on a pod network every client is one), and a configured
// server.public_url is what absolute links are made of, whatever they
// claim. Through the daemon's handler, with the calendar feed's URL (the
// one absolute link made from a request) and the request log's address.
func TestForwardedHeadersTrustOnlyConfiguredProxies(t *testing.T) {
	const host = "pagerd.internal:8080"
	for name, tc := range map[string]struct {
		server           string // the config's server section
		peer             string
		wantURL, wantLog string
	}{
		"no proxies, a private peer":      {"", "10.1.2.3:5555", "http://" + host + "/feeds/", `"remote":"10.1.2.3"`},
		"no proxies, a loopback peer":     {"", "127.0.0.1:5555", "http://" + host + "/feeds/", `"remote":"127.0.0.1"`},
		"a listed proxy":                  {"{trusted_proxies: [10.0.0.0/8]}", "10.1.2.3:5555", "https://" + host + "/feeds/", `"remote":"203.0.113.9"`},
		"a private peer not listed":       {"{trusted_proxies: [10.0.0.0/8]}", "192.168.1.5:5555", "http://" + host + "/feeds/", `"remote":"192.168.1.5"`},
		"public_url, no proxies":          {"{public_url: \"http://pagerd.example.com\"}", "10.1.2.3:5555", "http://pagerd.example.com/feeds/", `"remote":"10.1.2.3"`},
		"public_url, from a listed proxy": {"{public_url: \"http://pagerd.example.com\", trusted_proxies: [10.0.0.0/8]}", "10.1.2.3:5555", "http://pagerd.example.com/feeds/", `"remote":"203.0.113.9"`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig
			if tc.server != "" {
				cfg = "server: " + tc.server + "\n" + cfg
			}
			h := newHarness(t, withConfig(cfg))
			req := httptest.NewRequest("GET", "/api/v1/schedules/s/feed", nil)
			req.RemoteAddr, req.Host = tc.peer, host
			req.Header.Set("Authorization", "Bearer "+apiToken)
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			// Headers pagerd reads from nobody.
			req.Header.Set("X-Forwarded-Host", "evil.example")
			req.Header.Set("Forwarded", "for=198.51.100.7;proto=https;host=evil.example")
			rec := httptest.NewRecorder()
			h.d.Handler().ServeHTTP(rec, req)
			var got struct{ URL string }
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
				t.Fatalf("feed URL: %d %s", rec.Code, rec.Body)
			}
			if !strings.HasPrefix(got.URL, tc.wantURL) {
				t.Errorf("feed URL %q, want it under %q", got.URL, tc.wantURL)
			}
			if logs := h.logs.String(); !strings.Contains(logs, `"route":"/api/v1/schedules/:schedule/feed"`) || !strings.Contains(logs, tc.wantLog) {
				t.Errorf("the request is not logged with %s:\n%s", tc.wantLog, logs)
			}
		})
	}
}

// TestAlertmanagerStreamSlowerThanTheDeadlineIsStored: a notification
// read as a stream that takes longer to arrive (or to decode, on a busy
// machine) than a request may wait for the store is still stored: its
// writes get the request's time again once it is read. Before, they found
// the deadline gone and answered 503, and Alertmanager's retry took as
// long again: the group never paged. And a stream whose first 8 MiB came
// after the deadline, with no other stream being read, was refused half
// of the time as if another were ("another notification over 8 MiB was
// being read"): the free slot and the deadline raced in one select. The
// deadline is shortened to 300 ms; each notification's first 8 MiB come
// after 600 ms and its last bytes after 900 ms, three times.
func TestAlertmanagerStreamSlowerThanTheDeadlineIsStored(t *testing.T) {
	old := requestTimeout
	requestTimeout = 300 * time.Millisecond
	t.Cleanup(func() { requestTimeout = old }) // after the daemon's end
	h := newHarness(t)
	// Few alerts, so that what the notification does once read is
	// quick even under the race detector; large ones, so it is read as a
	// stream.
	pad := strings.Repeat("p", 3<<20)
	for n := 0; n < 3; n++ {
		alerts := make([]map[string]string, 3)
		for i := range alerts {
			alerts[i] = map[string]string{"alertname": "InstanceDown", "instance": fmt.Sprintf("node-%d", i), "pad": pad}
		}
		body := amPayload("firing", fmt.Sprintf(`{}:{alertname="InstanceDown",n="%d"}`, n), alerts...)
		head := alertmanagerBodyLimit - 1000
		if len(body) <= alertmanagerBodyLimit+1000 {
			t.Fatalf("the notification is %d bytes, not over %d: the test tests nothing", len(body), alertmanagerBodyLimit)
		}
		pr, pw := io.Pipe()
		step := requestTimeout
		go func() {
			_, _ = io.WriteString(pw, body[:head])
			time.Sleep(2 * step)
			_, _ = io.WriteString(pw, body[head:len(body)-1000])
			time.Sleep(step)
			_, _ = io.WriteString(pw, body[len(body)-1000:])
			pw.Close()
		}()
		req, err := http.NewRequest("POST", h.url+"/api/v1/alertmanager", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+amKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("notification %d, read past the deadline: %d %s", n, resp.StatusCode, b)
		}
		var res struct{ Incidents []string }
		if err := json.Unmarshal(b, &res); err != nil || len(res.Incidents) != 1 {
			t.Fatalf("notification %d: answer %s: %v", n, b, err)
		}
		if inc := h.incident(res.Incidents[0]); inc.Status != "triggered" {
			t.Fatalf("incident %s is %s", inc.ID, inc.Status)
		}
	}
}

// TestAlertmanagerNotificationOverTheInMemorySize: a group of 12,000
// alerts, over the 8 MiB read whole (Alertmanager sends them all unless
// its receiver sets max_alerts), is read as a stream: stored, paged, and
// it says how many alerts were left unread. While one is read, another
// waits its turn, and is answered 503 (retried) if its deadline comes
// first.
func TestAlertmanagerNotificationOverTheInMemorySize(t *testing.T) {
	h := newHarness(t)
	alerts := make([]map[string]string, 12000)
	pad := strings.Repeat("p", 600)
	for i := range alerts {
		alerts[i] = map[string]string{"alertname": "InstanceDown", "instance": fmt.Sprintf("node-%05d", i), "pad": pad}
	}
	body := amPayload("firing", `{}:{alertname="InstanceDown"}`, alerts...)
	if len(body) <= alertmanagerBodyLimit {
		t.Fatalf("the notification is %d bytes, not over %d: the test tests nothing", len(body), alertmanagerBodyLimit)
	}
	r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatalf("a notification of %d bytes: %d %s", len(body), r.code, r.body)
	}
	var res struct{ Incidents []string }
	r.json(t, &res)
	if len(res.Incidents) != 1 {
		t.Fatalf("incidents %v", res.Incidents)
	}
	inc := h.incident(res.Incidents[0])
	if !strings.Contains(string(inc.Details), `"alerts_unread":11000`) || !h.timelineHas(inc.ID, "truncated", "held 12000 alerts") {
		t.Fatalf("the incident does not say what was left unread: %.300s", inc.Details)
	}
	if !strings.Contains(h.logs.String(), "as a stream") {
		t.Errorf("not logged:\n%s", h.logs.String())
	}
	h.step(h.clock.Now())
	if n := len(h.rec.lines(fixedNow)); n == 0 {
		t.Error("nobody was paged")
	}

	h.d.server.streaming <- struct{}{} // another is being read
	start := time.Now()
	r = h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey)
	<-h.d.server.streaming
	if r.code != 503 || !strings.Contains(r.body, "not stored: retry") {
		t.Fatalf("while another was read: %d %s", r.code, r.body)
	}
	t.Logf("answered 503 after %s waiting for its turn", time.Since(start).Round(time.Millisecond))
}

// TestAPIEscalateFromLevelEscalatesOnce: a client escalating on a person's
// behalf names the level the escalation is from (from_level); the same
// request repeated is refused with 409 and changes nothing (at the last
// level, the level is not paged again either), and from_level is checked.
// pagerd_escalations_total counts it once.
func TestAPIEscalateFromLevelEscalatesOnce(t *testing.T) {
	h := newHarness(t)
	id := fire(h)
	h.runUntil(fixedNow.Add(time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann","from_level":1}`); r.code != 200 {
		t.Fatalf("escalate from level 1: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(2 * time.Minute))
	h.clock.Set(fixedNow.Add(3 * time.Minute))
	r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann","from_level":1}`)
	if r.code != 409 || !strings.Contains(r.body, "already escalated from level 1: the incident is at level 2 (secondary)") {
		t.Fatalf("escalate from level 1 again: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(4 * time.Minute))
	if got := strings.Join(h.rec.lines(fixedNow), "; "); strings.Count(got, "bob push") != 1 {
		t.Fatalf("pages: %s, want bob's push once (the repeat must not restart level 2)", got)
	}
	for _, body := range []string{`{"from_level":0}`, `{"from_level":-1}`} {
		if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", body); r.code != 400 {
			t.Fatalf("escalate %s: %d %s", body, r.code, r.body)
		}
	}
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"from_level":2}`); r.code != 400 {
		t.Fatalf("acknowledge with from_level: %d %s", r.code, r.body)
	}
	if v := h.incident(id); v.Level != 2 || v.Status != "triggered" {
		t.Fatalf("after the refusals: level %d, %s", v.Level, v.Status)
	}
	escalationsCounted(t, h, map[string]float64{"2": 1}) // the API's, once
}

// TestAPIEscalateFromLevelAtTheLastLevelEscalatesOnce: at the last level
// an escalation pages that level again rather than leaving it, so
// from_level alone cannot tell a request retried from one made on the
// incident as it stands now. from_level_at, the level_started_at the
// client read (or when the page it answers went out), can: the request
// repeated is refused with 409 and the level is paged again once. A time
// read to the second stands for that whole second: it never refuses the
// escalation it asks for. The incident read again escalates again.
func TestAPIEscalateFromLevelAtTheLastLevelEscalatesOnce(t *testing.T) {
	h := newHarness(t)
	id := fire(h)
	h.clock.Set(fixedNow.Add(30*time.Second + 500*time.Millisecond))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"level":"secondary"}`); r.code != 200 {
		t.Fatalf("escalate to the last level: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(40 * time.Second))
	var read struct {
		Level          int       `json:"level"`
		LevelStartedAt time.Time `json:"level_started_at"`
	}
	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &read)
	if read.Level != 2 || !read.LevelStartedAt.Equal(fixedNow.Add(30*time.Second+500*time.Millisecond)) {
		t.Fatalf("the incident read: level %d since %v", read.Level, read.LevelStartedAt)
	}
	// Read to the second, as a shell's date would write it.
	body := `{"user":"ann","from_level":2,"from_level_at":"` + read.LevelStartedAt.Truncate(time.Second).Format(time.RFC3339) + `"}`
	h.clock.Set(fixedNow.Add(time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", body); r.code != 200 {
		t.Fatalf("escalate from the last level as read: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(70 * time.Second))
	r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", body)
	if r.code != 409 || !strings.Contains(r.body, "already escalated from level 2: the incident is at level 2 (secondary) since "+
		fixedNow.Add(time.Minute).UTC().Format(time.RFC3339)) {
		t.Fatalf("the same request again: %d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(2 * time.Minute))
	if got := strings.Join(h.rec.lines(fixedNow), "; "); strings.Count(got, "bob push") != 2 {
		t.Fatalf("pages: %s; want bob's push twice (reaching the level, the first request)", got)
	}

	h.api("GET", "/api/v1/incidents/"+id, "").json(t, &read)
	again := `{"user":"ann","from_level":2,"from_level_at":"` + read.LevelStartedAt.Format(time.RFC3339Nano) + `"}`
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", again); r.code != 200 {
		t.Fatalf("escalate from the level as read again: %d %s", r.code, r.body)
	}
	for _, body := range []string{`{"from_level":2,"from_level_at":"yesterday"}`, `{"from_level_at":"2025-09-10T02:00:00Z"}`} {
		if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", body); r.code != 400 {
			t.Fatalf("escalate %s: %d %s", body, r.code, r.body)
		}
	}
}

// TestAPIEscalateFromALevelNoLongerConfiguredSaysNoEmptyName: the 409 for
// an escalation made already names the level the incident is at only
// when the config still has it (a reload took it out here): "level 2",
// never "level 2 ()".
func TestAPIEscalateFromALevelNoLongerConfiguredSaysNoEmptyName(t *testing.T) {
	h := newHarness(t)
	id := fire(h)
	h.runUntil(fixedNow.Add(time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann","from_level":1}`); r.code != 200 {
		t.Fatalf("escalate from level 1: %d %s", r.code, r.body)
	}
	oneLevel := strings.Replace(testConfig, "      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n", "", 1)
	if oneLevel == testConfig {
		t.Fatal("the policy's second level was not taken out")
	}
	if err := h.reload(oneLevel); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(fixedNow.Add(2 * time.Minute))
	// From level 1 as it was before the escalation: made already.
	r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann","from_level":1,"from_level_at":"`+fixedNow.Format(time.RFC3339)+`"}`)
	if r.code != 409 || !strings.Contains(r.body, "already escalated from level 1: the incident is at level 2 since ") || strings.Contains(r.body, "()") {
		t.Fatalf("escalate from level 1 again, level 2 gone from the config: %d %s", r.code, r.body)
	}
}

// TestStreamWaitEndsWhenTheSenderHangsUp: a notification over 8 MiB
// waiting for its streaming turn whose sender gives up (its own timeout,
// Alertmanager's is 10 s by default) stops waiting then: it held a
// connection, and for a body sent without a length the 8 MiB admission
// read (which count against the bodies the intake holds at once), until
// the request timeout.
func TestStreamWaitEndsWhenTheSenderHangsUp(t *testing.T) {
	old := requestTimeout
	requestTimeout = time.Minute
	t.Cleanup(func() { requestTimeout = old })
	h := newHarness(t, withConfig(ogConfig))
	h.d.server.streaming <- struct{}{} // another is being read
	defer func() { <-h.d.server.streaming }()
	for _, path := range []string{"/api/v1/alertmanager", "/v2/alerts"} {
		ctx, cancel := context.WithCancel(context.Background())
		body := strings.Repeat(" ", alertmanagerBodyLimit+10)
		req := httptest.NewRequest("POST", path, strings.NewReader(body)).WithContext(ctx)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+amKey)
		if path == "/v2/alerts" {
			req.Header.Set("Authorization", "GenieKey "+ogKey)
		}
		done := make(chan struct{})
		rec := httptest.NewRecorder()
		go func() { defer close(done); h.d.Handler().ServeHTTP(rec, req) }()
		select {
		case <-done:
			t.Fatalf("%s: answered %d %s without waiting for its turn", path, rec.Code, rec.Body)
		case <-time.After(100 * time.Millisecond): // waiting for its turn
		}
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still waiting for its turn 10 s after its sender hung up", path)
		}
	}
}
