package gateway

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/logtest"
)

// countingStore counts the reads /metrics makes (CountOpen, and List,
// which it must not need), to see that it stays cheap.
type countingStore struct {
	store.Store
	reads atomic.Int64
}

func (c *countingStore) List(ctx context.Context, f store.Filter) ([]*store.Incident, error) {
	c.reads.Add(1)
	return c.Store.List(ctx, f)
}

func (c *countingStore) CountOpen(ctx context.Context, limit int) (store.OpenCounts, error) {
	c.reads.Add(1)
	return c.Store.CountOpen(ctx, limit)
}

// metricsDaemon is the daemon on a store that counts its reads.
func metricsDaemon(t *testing.T) (*harness, *prometheus.Registry, *countingStore) {
	t.Helper()
	cs := &countingStore{Store: boltStore(t)}
	// With a heartbeat, whose counters are created for it.
	cfg := strings.Replace(testConfig, "      P0: {acknowledge: 5m}\n", "      P0: {acknowledge: 5m}\n    heartbeats: [{name: watchdog, interval: 1m}]\n", 1)
	h := newHarness(t, withStore(cs), withConfig(cfg), version("v1.2.3-test"))
	return h, h.reg, cs
}

// TestMetricsAtStart: build info, the reload timestamp and every labelled
// counter exist from the first scrape, at zero.
func TestMetricsAtStart(t *testing.T) {
	h, _, _ := metricsDaemon(t)
	body := h.do("GET", "/metrics", "").body
	for _, want := range []string{
		`pagerd_build_info{`, `version="v1.2.3-test"`,
		`pagerd_config_last_reload_successful 1`,
		`pagerd_config_reloads_total{result="failure"} 0`,
		`pagerd_alerts_received_total{outcome="created",service="api",source="alertmanager"} 0`,
		`pagerd_alerts_received_total{outcome="ignored",service="batch",source="pagerduty"} 0`,
		`pagerd_delivery_reports_total{channel="push",result="failed"} 0`,
		`pagerd_pages_total{channel="voice",result="failed",via="log"} 0`,
		`pagerd_escalations_total{level="2"} 0`,
		`pagerd_sla_breaches_total{target="resolution"} 0`,
		`pagerd_store_errors_total{op="list"} 0`,
		`pagerd_open_incidents{priority="P0",service="api",status="triggered"} 0`,
		`pagerd_open_incidents{priority="SEV-4",service="batch",status="acknowledged"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	ts := regexp.MustCompile(`(?m)^pagerd_config_last_reload_success_timestamp_seconds (\S+)$`).FindStringSubmatch(body)
	if ts == nil {
		t.Fatalf("no reload timestamp:\n%s", body)
	}
	if v, err := strconv.ParseFloat(ts[1], 64); err != nil || int64(v) != fixedNow.Unix() {
		t.Errorf("reload timestamp at start: %s, want the start time %d", ts[1], fixedNow.Unix())
	}
}

// TestPagesWithoutAContactCountedFromZero: a page (or storm message) to a
// person with no contact on its channel fails with via="none"; that series
// is there from the first scrape, at 0, on every channel, so that the
// first such failure is an increase that PagerdPagesFailing's rate() sees.
// (Before, it was created by the first failure, at 1, and rate() over it
// missed that failure.)
func TestPagesWithoutAContactCountedFromZero(t *testing.T) {
	h, _, _ := metricsDaemon(t)
	body := h.do("GET", "/metrics", "").body
	for _, ch := range []string{"push", "sms", "voice", "slack", "email"} {
		for _, want := range []string{
			`pagerd_pages_total{channel="` + ch + `",result="failed",via="none"} 0`,
			`pagerd_storm_bundles_total{channel="` + ch + `",result="failed",via="none"} 0`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	}
}

// TestMetricsOpenIncidents: open incidents by service, priority and status,
// read from the store at most once per ttl however often /metrics is asked.
func TestMetricsOpenIncidents(t *testing.T) {
	h, reg, cs := metricsDaemon(t)
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "critical"}), "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatal(r.body)
	}
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g2", map[string]string{"alertname": "B", "severity": "warning"}), "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatal(r.body)
	}
	id := h.list("?priority=P2")[0].ID
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", ""); r.code != 200 {
		t.Fatal(r.body)
	}
	const want = `
# HELP pagerd_open_incidents Incidents not resolved, by service, priority and status (triggered, acknowledged); read from the store at most every 15s.
# TYPE pagerd_open_incidents gauge
pagerd_open_incidents{priority="P0",service="api",status="acknowledged"} 0
pagerd_open_incidents{priority="P0",service="api",status="triggered"} 1
pagerd_open_incidents{priority="P1",service="api",status="acknowledged"} 0
pagerd_open_incidents{priority="P1",service="api",status="triggered"} 0
pagerd_open_incidents{priority="P2",service="api",status="acknowledged"} 1
pagerd_open_incidents{priority="P2",service="api",status="triggered"} 0
pagerd_open_incidents{priority="P3",service="api",status="acknowledged"} 0
pagerd_open_incidents{priority="P3",service="api",status="triggered"} 0
`
	before := cs.reads.Load()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want+batchZeros), "pagerd_open_incidents"); err != nil {
		t.Fatal(err)
	}
	// Cached: more scrapes inside the ttl read nothing, and show the same.
	if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", ""); r.code != 200 {
		t.Fatal(r.body)
	}
	for i := 0; i < 5; i++ {
		h.do("GET", "/metrics", "")
	}
	if n := cs.reads.Load() - before; n != 1 {
		t.Errorf("6 scrapes read the store %d times, want 1 (one count of the open incidents)", n)
	}
	// Past the ttl the store is read again.
	h.clock.Set(fixedNow.Add(15 * time.Second))
	resolvedWant := strings.Replace(want, `priority="P2",service="api",status="acknowledged"} 1`, `priority="P2",service="api",status="acknowledged"} 0`, 1)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(resolvedWant+batchZeros), "pagerd_open_incidents"); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsOpenIncidentsSkipUndecodable: one open incident whose record
// no longer decodes (written over in Redis here) does not take the gauge
// away: the others are still counted, pagerd_open_incidents_undecodable
// says one is not, and the log names it once, however many reads see it.
func TestMetricsOpenIncidentsSkipUndecodable(t *testing.T) {
	st, srv := redisStore(t)
	h := newHarness(t, withStore(st))
	for _, a := range []struct{ key, severity string }{{"g1", "critical"}, {"g2", "warning"}} {
		if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", a.key, map[string]string{"alertname": a.key, "severity": a.severity}), "Authorization", "Bearer "+amKey); r.code != 200 {
			t.Fatal(r.body)
		}
	}
	bad := h.list("?priority=P2")[0].ID
	rdb := srv.Client(t)
	keys, err := rdb.Keys(context.Background(), "t:*:inc:"+bad).Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("record key of %s: %v %v", bad, keys, err)
	}
	if err := rdb.Set(context.Background(), keys[0], "not an incident record", 0).Err(); err != nil {
		t.Fatal(err)
	}
	const want = `
# HELP pagerd_open_incidents Incidents not resolved, by service, priority and status (triggered, acknowledged); read from the store at most every 15s.
# TYPE pagerd_open_incidents gauge
pagerd_open_incidents{priority="P0",service="api",status="acknowledged"} 0
pagerd_open_incidents{priority="P0",service="api",status="triggered"} 1
pagerd_open_incidents{priority="P1",service="api",status="acknowledged"} 0
pagerd_open_incidents{priority="P1",service="api",status="triggered"} 0
pagerd_open_incidents{priority="P2",service="api",status="acknowledged"} 0
pagerd_open_incidents{priority="P2",service="api",status="triggered"} 0
pagerd_open_incidents{priority="P3",service="api",status="acknowledged"} 0
pagerd_open_incidents{priority="P3",service="api",status="triggered"} 0
`
	const wantBad = `
# HELP pagerd_open_incidents_undecodable Open incidents whose stored record does not decode, left out of pagerd_open_incidents; each is logged once with its incident id.
# TYPE pagerd_open_incidents_undecodable gauge
pagerd_open_incidents_undecodable 1
`
	for read := range 2 {
		h.clock.Set(fixedNow.Add(time.Duration(read) * time.Minute)) // past the ttl: a read each time
		if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want+batchZeros+wantBad), "pagerd_open_incidents", "pagerd_open_incidents_undecodable"); err != nil {
			t.Fatalf("read %d: %v", read+1, err)
		}
	}
	var named int
	for _, l := range logtest.Lines(t, h.logs.String()) {
		if l["level"] == "ERROR" && strings.Contains(fmt.Sprint(l["msg"]), "does not decode") && l["incident"] == bad {
			named++
		}
	}
	if named != 1 {
		t.Errorf("%d Error lines name %s as not decoding after two reads, want 1:\n%s", named, bad, h.logs.String())
	}
}

// batchZeros are the open-incident series of testConfig's second service.
var batchZeros = func() string {
	var b strings.Builder
	for _, pr := range []string{"SEV-1", "SEV-2", "SEV-3", "SEV-4"} {
		for _, st := range []string{"acknowledged", "triggered"} {
			b.WriteString(`pagerd_open_incidents{priority="` + pr + `",service="batch",status="` + st + "\"} 0\n")
		}
	}
	return b.String()
}()

// TestMetricsDocumented: every pagerd_* metric /metrics serves is described
// in docs/METRICS.md, and the page names no metric that does not exist.
func TestMetricsDocumented(t *testing.T) {
	h, reg, _ := metricsDaemon(t)
	h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "critical"}), "Authorization", "Bearer "+amKey)
	doc, err := os.ReadFile("../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "pagerd_") {
			served[mf.GetName()] = true
			if !strings.Contains(string(doc), "| `"+mf.GetName()+"` |") {
				t.Errorf("docs/METRICS.md does not describe %s", mf.GetName())
			}
		}
	}
	for _, m := range regexp.MustCompile("\\| `(pagerd_[a-z_]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		// Served only on Redis (this daemon runs on the embedded
		// store): TestEvictedKeysGauge reads it.
		redisOnly := m[1] == "pagerd_redis_evicted_keys"
		// Served only for a transport whose provider is checked (this
		// daemon pages through log alone): TestProviderCheckAtStart
		// reads it.
		checkedOnly := m[1] == "pagerd_provider_check_ok"
		if !served[m[1]] && !redisOnly && !checkedOnly {
			t.Errorf("docs/METRICS.md describes %s, which /metrics does not serve", m[1])
		}
	}
	if len(served) < 17 {
		t.Errorf("only %d pagerd metrics served: %v", len(served), served)
	}
}

// TestMetricsRegisteredDocumented: every pagerd_* metric the daemon's code
// registers is described in docs/METRICS.md, also one that a scrape of the
// test daemon does not serve (a vector with no series yet, such as
// pagerd_provider_check_ok, which has one only for a transport whose
// provider is checked): TestMetricsDocumented sees only what is served, and
// an alert rule on a metric the page leaves out leaves whoever is paged by
// it nothing to read. The names are the string literals of the code (not
// its tests), as the alert rules' check in deploy/check reads them.
func TestMetricsRegisteredDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`"(pagerd_[a-z_]+)"`)
	found := map[string]bool{}
	err = filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != ".." && (d.Name() == "deploy" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range name.FindAllStringSubmatch(string(src), -1) {
			found[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 30 {
		t.Fatalf("only %d metric names found in the code: %v", len(found), found)
	}
	// Literals of that form that are not metrics.
	delete(found, "pagerd_incident") // the Slack card's metadata event type (notify/slack)
	for m := range found {
		if !strings.Contains(string(doc), "| `"+m+"` |") {
			t.Errorf("docs/METRICS.md does not describe %s, which the daemon registers", m)
		}
	}
}

// TestAlertsDocumented: the table of docs/OPERATIONS.md, "Monitor", lists
// exactly the alerts deploy/prometheus/pagerd-rules.yml ships, and no page
// of the docs names an alert that is not shipped: an operator told to
// alert on a metric with a rule of a given name (PagerdUndecodableIncidents)
// looks for it among the rules they loaded, and finds nothing to say the
// failure goes unseen.
func TestAlertsDocumented(t *testing.T) {
	rules, err := os.ReadFile("../deploy/prometheus/pagerd-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	shipped := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*- alert: (\w+)`).FindAllStringSubmatch(string(rules), -1) {
		shipped[m[1]] = true
	}
	if len(shipped) < 20 {
		t.Fatalf("only %d alerts found in the rules: %v", len(shipped), shipped)
	}
	ops, err := os.ReadFile("../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	_, monitor, ok := strings.Cut(string(ops), "\n## Monitor\n")
	if !ok {
		t.Fatal(`docs/OPERATIONS.md has no "## Monitor" section`)
	}
	monitor, _, _ = strings.Cut(monitor, "\n## ")
	alert := regexp.MustCompile("`(Pagerd[A-Z][A-Za-z0-9]*)`")
	tabled := map[string]bool{}
	for _, line := range strings.Split(monitor, "\n") {
		if !strings.HasPrefix(line, "| `Pagerd") {
			continue
		}
		first, _, _ := strings.Cut(line[1:], "|")
		for _, m := range alert.FindAllStringSubmatch(first, -1) {
			tabled[m[1]] = true
		}
	}
	for a := range shipped {
		if !tabled[a] {
			t.Errorf("docs/OPERATIONS.md's alert table lacks %s, which deploy/prometheus ships", a)
		}
	}
	for a := range tabled {
		if !shipped[a] {
			t.Errorf("docs/OPERATIONS.md's alert table lists %s, which deploy/prometheus does not ship", a)
		}
	}
	docs, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range append(docs, "../README.md") {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`\bPagerd[A-Z][A-Za-z0-9]*`).FindAllString(string(b), -1) {
			if !shipped[m] {
				t.Errorf("%s names the alert %s, which deploy/prometheus does not ship", strings.TrimPrefix(path, "../"), m)
			}
		}
	}
}

// TestAlertsRefusedRuleSeesEveryIntakeRoute: an alert, event or heartbeat
// ping refused for good at each route where they arrive is counted under a
// route that PagerdAlertsRefused (deploy/prometheus) selects: a route
// renamed in the server, or left out of the rule, would refuse alerts
// with no alert about it.
func TestAlertsRefusedRuleSeesEveryIntakeRoute(t *testing.T) {
	rules, err := os.ReadFile("../deploy/prometheus/pagerd-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	_, rule, ok := strings.Cut(string(rules), "- alert: PagerdAlertsRefused\n")
	if !ok {
		t.Fatal("deploy/prometheus ships no PagerdAlertsRefused")
	}
	rule, _, _ = strings.Cut(rule, "- alert:")
	m := regexp.MustCompile(`route=~"([^"]+)"`).FindStringSubmatch(rule)
	if m == nil {
		t.Fatalf("PagerdAlertsRefused selects no routes:\n%s", rule)
	}
	selected := regexp.MustCompile("^(?:" + m[1] + ")$")
	h, reg, _ := metricsDaemon(t)
	wrong := []string{"Authorization", "Bearer not-a-key"}
	for _, req := range []struct {
		path, body string
		hdr        []string
	}{
		{"/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A"}), wrong},
		{"/api/v1/alertmanager/not-a-key", amPayload("firing", "g1", map[string]string{"alertname": "A"}), nil},
		{"/v2/enqueue", `{"routing_key":"not-a-key","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"critical"}}`, nil},
		{"/v2/alerts", `{"message":"m"}`, []string{"Authorization", "GenieKey not-a-key"}},
		{"/v2/alerts/a1/close?identifierType=alias", `{}`, []string{"Authorization", "GenieKey not-a-key"}},
		{"/api/v1/heartbeats/watchdog/ping", "", wrong},
		{"/v2/heartbeats/watchdog/ping", "", []string{"Authorization", "GenieKey not-a-key"}},
	} {
		if r := h.do("POST", req.path, req.body, req.hdr...); r.code < 400 || r.code >= 500 || r.code == 429 {
			t.Fatalf("POST %s with a wrong key: %d %s, want a 4xx", req.path, r.code, r.body)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	routes := 0
	for _, mf := range mfs {
		if mf.GetName() != "pagerd_http_requests_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			var route, code string
			for _, l := range s.GetLabel() {
				switch l.GetName() {
				case "route":
					route = l.GetValue()
				case "code":
					code = l.GetValue()
				}
			}
			if !strings.HasPrefix(code, "4") {
				continue
			}
			routes++
			if !ingestionRoutes[route] {
				t.Errorf("%s answered %s, and is not one of the intake's routes", route, code)
			}
			if !selected.MatchString(route) {
				t.Errorf("alerts refused at %s (%s) are not selected by PagerdAlertsRefused (route=~%q)", route, code, m[1])
			}
		}
	}
	if routes != len(ingestionRoutes) {
		t.Errorf("refusals counted at %d routes, want the intake's %d", routes, len(ingestionRoutes))
	}
}

// TestReloadRefusesMissingSecrets: a reload to a config whose secret is not
// there is refused like a broken one: the old config keeps paging, and
// pagerd_config_last_reload_successful says so.
func TestReloadRefusesMissingSecrets(t *testing.T) {
	h, reg, _ := metricsDaemon(t)
	t.Setenv("PAGERD_TEST_UNSET_LINK_SECRET", "")
	if err := os.Unsetenv("PAGERD_TEST_UNSET_LINK_SECRET"); err != nil { // t.Setenv cannot unset
		t.Fatal(err)
	}
	if err := writeConfig(h.cfg, testConfig+"\nserver: {link_secret: \"${PAGERD_TEST_UNSET_LINK_SECRET}\"}\n"); err != nil {
		t.Fatal(err)
	}
	err := h.d.Reload()
	if err == nil || !strings.Contains(err.Error(), "server.link_secret: environment variable PAGERD_TEST_UNSET_LINK_SECRET is not set") {
		t.Fatalf("reload: %v", err)
	}
	if h.config().Server.LinkSecret.Reveal() != "" || h.config().Service("api") == nil {
		t.Fatal("the refused config was swapped in")
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP pagerd_config_last_reload_successful Whether the last config (re)load succeeded (1) or was refused and the old config kept (0).
# TYPE pagerd_config_last_reload_successful gauge
pagerd_config_last_reload_successful 0
`), "pagerd_config_last_reload_successful"); err != nil {
		t.Fatal(err)
	}
}

// TestStoreOpsAllInitialised: every operation the instrumented store times
// has its error counter created at zero. (Before: only instrument.go was
// read, and job_add, timed in instrument_jobs.go, was left out.)
func TestStoreOpsAllInitialised(t *testing.T) {
	var src []byte
	for _, name := range []string{"instrument.go", "instrument_jobs.go"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	known := map[string]bool{}
	for _, op := range storeOps {
		known[op] = true
	}
	for _, m := range regexp.MustCompile(`observe\("([a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		if !known[m[1]] {
			t.Errorf("store operation %q is not in storeOps", m[1])
		}
	}
}

// TestPageMetricsFollowReload: a contact a reload adds has its page
// counters from the next scrape, at zero, as those of the config at start.
func TestPageMetricsFollowReload(t *testing.T) {
	h, _, _ := metricsDaemon(t)
	want := `pagerd_pages_total{channel="push",result="sent",via="webhook"} 0`
	if body := h.do("GET", "/metrics", "").body; strings.Contains(body, want) {
		t.Fatalf("the config at start already has %s", want)
	}
	cfg := strings.Replace(testConfig, "{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}\n  - {id: bob",
		"{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}\n  - {id: cal, name: Cal, contacts: [{channel: push, via: webhook, address: \"http://127.0.0.1:9/push\"}]}\n  - {id: bob", 1)
	if cfg == testConfig {
		t.Fatal("the test config changed: no user added")
	}
	if err := h.reload(cfg); err != nil {
		t.Fatal(err)
	}
	if body := h.do("GET", "/metrics", "").body; !strings.Contains(body, want) {
		t.Errorf("after the reload /metrics lacks %s", want)
	}
}
