package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	amcommoncfg "github.com/prometheus/alertmanager/config/common"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/types"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
)

var discardLogger = slog.New(slog.DiscardHandler)

// amAlert builds an Alertmanager alert; a non-zero end in the past makes it
// resolved, as in Alertmanager itself.
func amAlert(labels, annotations map[string]string, start, end time.Time, generator string) *types.Alert {
	ls := model.LabelSet{}
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	as := model.LabelSet{}
	for k, v := range annotations {
		as[model.LabelName(k)] = model.LabelValue(v)
	}
	return &types.Alert{Alert: model.Alert{
		Labels: ls, Annotations: as, StartsAt: start, EndsAt: end, GeneratorURL: generator,
	}}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newTemplate(t *testing.T) *template.Template {
	t.Helper()
	tmpl, err := template.FromGlobs([]string{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl.ExternalURL = mustURL(t, "http://alertmanager.example:9093")
	return tmpl
}

// notifyContext is the context Alertmanager's dispatcher hands a notifier.
func notifyContext(groupKey, receiver string, groupLabels model.LabelSet) context.Context {
	ctx := notify.WithGroupKey(context.Background(), groupKey)
	ctx = notify.WithReceiverName(ctx, receiver)
	ctx = notify.WithGroupLabels(ctx, groupLabels)
	ctx = notify.WithNotificationReason(ctx, notify.ReasonFirstNotification)
	return ctx
}

var (
	t0       = time.Date(2025, 10, 6, 14, 2, 11, 123456789, time.UTC)
	past     = time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	future   = time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	amScenes = []struct {
		name      string
		key       string
		labels    model.LabelSet
		alerts    []*types.Alert
		truncated uint64
	}{
		{
			name:   "firing group of two",
			key:    `{}:{alertname="HighErrorRate"}`,
			labels: model.LabelSet{"alertname": "HighErrorRate"},
			alerts: []*types.Alert{
				amAlert(map[string]string{"alertname": "HighErrorRate", "instance": "api-1", "severity": "critical"},
					map[string]string{"summary": "API error rate above 5%", "description": "12%"}, t0, time.Time{}, "http://prom/graph?a=1&b=<2>"),
				amAlert(map[string]string{"alertname": "HighErrorRate", "instance": "api-2", "severity": "critical"},
					map[string]string{"summary": "API error rate above 5%"}, t0.Add(time.Second), future, ""),
			},
		},
		{
			name:   "resolved group",
			key:    `{}/{team="db"}:{alertname="DiskFull"}`,
			labels: model.LabelSet{"alertname": "DiskFull"},
			alerts: []*types.Alert{
				amAlert(map[string]string{"alertname": "DiskFull", "instance": "db-1"}, nil, t0, past, "http://prom/graph"),
			},
		},
		{
			name:   "mixed group, truncated by max_alerts",
			key:    `{}:{namespace="checkout"}`,
			labels: model.LabelSet{"namespace": "checkout"},
			alerts: []*types.Alert{
				amAlert(map[string]string{"alertname": "CrashLooping", "namespace": "checkout", "pod": "a", "ünïcode": "välue ✓"}, map[string]string{"runbook_url": "https://rb/x"}, t0, time.Time{}, ""),
				amAlert(map[string]string{"alertname": "CrashLooping", "namespace": "checkout", "pod": "b"}, nil, t0, past, ""),
			},
			truncated: 7,
		},
	}
)

// TestDecodeAlertmanagerReproducesWebhookMessage builds the message exactly
// as Alertmanager 0.34's webhook notifier does and checks that our own
// struct decodes every field of it.
func TestDecodeAlertmanagerReproducesWebhookMessage(t *testing.T) {
	for _, sc := range amScenes {
		t.Run(sc.name, func(t *testing.T) {
			ctx := notifyContext(sc.key, "pagerd", sc.labels)
			data := notify.GetTemplateData(ctx, newTemplate(t), sc.alerts, discardLogger)
			key, err := notify.ExtractGroupKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wire := &webhook.Message{Version: "4", Data: data, GroupKey: key.String(), TruncatedAlerts: sc.truncated}
			body, err := json.Marshal(wire)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeAlertmanager(body)
			if err != nil {
				t.Fatalf("DecodeAlertmanager: %v\n%s", err, body)
			}
			assertMatchesTemplateData(t, got, wire)
		})
	}
}

func assertMatchesTemplateData(t *testing.T, got *Message, want *webhook.Message) {
	t.Helper()
	check := func(field string, g, w any) {
		t.Helper()
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s = %#v, want %#v", field, g, w)
		}
	}
	check("Version", got.Version, want.Version)
	check("GroupKey", got.GroupKey, want.GroupKey)
	check("TruncatedAlerts", got.TruncatedAlerts, want.TruncatedAlerts)
	check("Status", got.Status, want.Status)
	check("Receiver", got.Receiver, want.Receiver)
	check("GroupLabels", got.GroupLabels, map[string]string(want.GroupLabels))
	check("CommonLabels", got.CommonLabels, map[string]string(want.CommonLabels))
	check("CommonAnnotations", got.CommonAnnotations, map[string]string(want.CommonAnnotations))
	check("ExternalURL", got.ExternalURL, want.ExternalURL)
	if len(got.Alerts) != len(want.Alerts) {
		t.Fatalf("got %d alerts, want %d", len(got.Alerts), len(want.Alerts))
	}
	for i, w := range want.Alerts {
		g := got.Alerts[i]
		p := fmt.Sprintf("Alerts[%d].", i)
		check(p+"Status", g.Status, w.Status)
		check(p+"Labels", g.Labels, map[string]string(w.Labels))
		check(p+"Annotations", g.Annotations, map[string]string(w.Annotations))
		check(p+"GeneratorURL", g.GeneratorURL, w.GeneratorURL)
		check(p+"Fingerprint", g.Fingerprint, w.Fingerprint)
		if !g.StartsAt.Equal(w.StartsAt) {
			t.Errorf("%sStartsAt = %v, want %v", p, g.StartsAt, w.StartsAt)
		}
		if !g.EndsAt.Equal(w.EndsAt) {
			t.Errorf("%sEndsAt = %v, want %v", p, g.EndsAt, w.EndsAt)
		}
	}
}

// TestAlertmanagerWebhookNotifierEndToEnd runs Alertmanager's real webhook
// notifier against a server that decodes with DecodeAlertmanager, so the
// bytes on the wire (encoder, headers, everything) are Alertmanager's own.
func TestAlertmanagerWebhookNotifierEndToEnd(t *testing.T) {
	var (
		mu   sync.Mutex
		msgs []*Message
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m, err := DecodeAlertmanager(body)
		if err != nil {
			t.Errorf("DecodeAlertmanager: %v\n%s", err, body)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		msgs = append(msgs, m)
		mu.Unlock()
	}))
	defer srv.Close()

	for _, sc := range amScenes {
		t.Run(sc.name, func(t *testing.T) {
			conf := &webhook.WebhookConfig{
				URL:        amcommoncfg.SecretTemplateURL(srv.URL + "/api/v1/alertmanager/key"),
				HTTPConfig: &commoncfg.HTTPClientConfig{},
			}
			n, err := webhook.New(conf, newTemplate(t), discardLogger)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			msgs = nil
			mu.Unlock()
			if _, err := n.Notify(notifyContext(sc.key, "pagerd", sc.labels), sc.alerts...); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(msgs) != 1 {
				t.Fatalf("server decoded %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if m.GroupKey != sc.key || len(m.Alerts) != len(sc.alerts) {
				t.Fatalf("decoded groupKey %q with %d alerts, want %q with %d", m.GroupKey, len(m.Alerts), sc.key, len(sc.alerts))
			}
			for i, a := range m.Alerts {
				if want := sc.alerts[i].Fingerprint().String(); a.Fingerprint != want {
					t.Errorf("alert %d fingerprint %q, want %q", i, a.Fingerprint, want)
				}
			}
			if g := m.Groups(false); len(g) != 1 || g[0].DedupKey != "am:"+sc.key {
				t.Errorf("group mode: %+v", g)
			}
		})
	}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeAlertmanagerFixtures(t *testing.T) {
	tests := []struct {
		file          string
		status        string
		truncated     uint64
		alerts        int
		groupKey      string
		firstStart    time.Time
		firstEnd      time.Time
		firstFP       string
		firstSummary  string
		groupSummary  string
		fingerprintOK bool
	}{
		{
			file: "alertmanager-0.25-firing.json", status: "firing", alerts: 2,
			groupKey:     `{}:{alertname="HighErrorRate"}`,
			firstStart:   time.Date(2025, 10, 6, 14, 2, 11, 123000000, time.UTC),
			firstFP:      "4d2a0e5f0c1b9a31",
			firstSummary: "API error rate above 5%",
			groupSummary: "API error rate above 5%",
		},
		{
			file: "alertmanager-0.34-truncated.json", status: "firing", alerts: 2, truncated: 3,
			groupKey:     `{}/{team="payments"}:{namespace="checkout"}`,
			firstStart:   time.Date(2026, 1, 12, 3, 15, 0, 0, time.UTC),
			firstEnd:     time.Date(2026, 1, 12, 3, 20, 0, 0, time.UTC),
			firstFP:      "0b5a1f6e3c2d7e11",
			firstSummary: "KubePodCrashLooping",
			groupSummary: "KubePodCrashLooping (2 alerts)",
		},
		{
			file: "alertmanager-resolved.json", status: "resolved", alerts: 1,
			groupKey:     `{}:{alertname="DiskWillFillIn4Hours"}`,
			firstStart:   time.Date(2025, 10, 7, 9, 0, 0, 0, time.UTC),
			firstEnd:     time.Date(2025, 10, 7, 10, 30, 0, 0, time.UTC),
			firstFP:      "e1f2a3b4c5d6e7f8",
			firstSummary: "Disk /dev/sda1 on db-1 will fill within 4 hours",
			groupSummary: "Disk /dev/sda1 on db-1 will fill within 4 hours",
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, err := DecodeAlertmanager(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if m.Version != "4" || m.Status != tt.status || m.TruncatedAlerts != tt.truncated || len(m.Alerts) != tt.alerts || m.GroupKey != tt.groupKey {
				t.Fatalf("decoded %+v", m)
			}
			a := m.Alerts[0]
			if !a.StartsAt.Equal(tt.firstStart) || !a.EndsAt.Equal(tt.firstEnd) || a.Fingerprint != tt.firstFP {
				t.Errorf("first alert %+v", a)
			}
			if m.ExternalURL != "http://alertmanager.example:9093" || m.Receiver == "" || len(m.CommonLabels) == 0 || len(m.GroupLabels) == 0 {
				t.Errorf("message fields %+v", m)
			}
			g := m.Groups(false)
			if len(g) != 1 || g[0].Summary != tt.groupSummary || g[0].Firing != (tt.status == "firing") {
				t.Errorf("group mode = %+v", g)
			}
			fg := m.Groups(true)
			if tt.truncated > 0 {
				// The alerts Alertmanager left out have the
				// overflow incident, last.
				if last := fg[len(fg)-1]; !last.Overflow || last.Firing != (tt.status == "firing") {
					t.Errorf("fingerprint mode, truncated: last group %+v, want the overflow incident", last)
				}
				fg = fg[:len(fg)-1]
			}
			if len(fg) != tt.alerts || fg[0].Summary != tt.firstSummary || fg[0].DedupKey != "am:"+tt.groupKey+":"+tt.firstFP {
				t.Errorf("fingerprint mode = %+v", fg)
			}
		})
	}
}

func TestDecodeAlertmanagerInvalid(t *testing.T) {
	valid := func(mut func(m map[string]any)) string {
		m := map[string]any{
			"version": "4", "groupKey": "{}:{a=\"b\"}", "status": "firing", "receiver": "r",
			"alerts": []any{map[string]any{"status": "firing", "labels": map[string]any{"alertname": "A"}}},
		}
		if mut != nil {
			mut(m)
		}
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	alert0 := func(m map[string]any) map[string]any { return m["alerts"].([]any)[0].(map[string]any) }
	tests := []struct {
		name string
		body string
		want string
	}{
		{"empty body", "", "body: empty; want an Alertmanager webhook JSON object"},
		{"whitespace only", " \n", "body: empty; want"},
		{"syntax error with offset", `{"version": "4",,}`, "malformed JSON at byte 17: invalid character ','"},
		{"truncated JSON", `{"version": "4"`, "malformed JSON at byte 15: unexpected end of input"},
		{"trailing data", valid(nil) + ` {"x":1}`, "unexpected data after the top-level object"},
		{"trailing garbage", valid(nil) + "x", "malformed JSON at byte"},
		{"array body", `[1,2]`, "body: got JSON array, want an object"},
		{"string body", `"hello"`, "body: got JSON string, want an object"},
		{"null body", `null`, "body: got JSON null, want an object"},
		{"version wrong type", valid(func(m map[string]any) { m["version"] = 4 }), "version: got JSON number, want a string"},
		{"version missing", valid(func(m map[string]any) { delete(m, "version") }), `version: missing; only Alertmanager webhook payload version "4" is supported`},
		{"version 3", valid(func(m map[string]any) { m["version"] = "3" }), `version: "3" is not supported; only Alertmanager webhook payload version "4"`},
		{"groupKey empty", valid(func(m map[string]any) { m["groupKey"] = " " }), "groupKey: missing or empty"},
		{"groupKey missing", valid(func(m map[string]any) { delete(m, "groupKey") }), "groupKey: missing or empty"},
		{"status missing", valid(func(m map[string]any) { delete(m, "status") }), "status: missing; want firing or resolved"},
		{"status bad", valid(func(m map[string]any) { m["status"] = "pending" }), `status: "pending" is not one of firing, resolved`},
		{"truncatedAlerts negative", valid(func(m map[string]any) { m["truncatedAlerts"] = -1 }), "truncatedAlerts: got JSON number -1, want a non-negative integer"},
		{"truncatedAlerts string", valid(func(m map[string]any) { m["truncatedAlerts"] = "3" }), "truncatedAlerts: got JSON string, want a non-negative integer"},
		{"commonLabels value number", valid(func(m map[string]any) { m["commonLabels"] = map[string]any{"a": 1} }), "commonLabels: got JSON number, want a string"},
		{"groupLabels array", valid(func(m map[string]any) { m["groupLabels"] = []any{} }), "groupLabels: got JSON array, want an object of strings"},
		{"no alerts", valid(func(m map[string]any) { m["alerts"] = []any{} }), "alerts: missing or empty"},
		{"alerts missing", valid(func(m map[string]any) { delete(m, "alerts") }), "alerts: missing or empty"},
		{"alerts object", valid(func(m map[string]any) { m["alerts"] = map[string]any{} }), "alerts: got JSON object, want an array"},
		{"alert null", valid(func(m map[string]any) { m["alerts"] = []any{nil} }), "alerts[0]: got JSON null, want an object"},
		{"alert number", valid(func(m map[string]any) { m["alerts"] = []any{alert0(m), 5} }), "alerts[1]: got JSON number, want an object"},
		{"alert no labels", valid(func(m map[string]any) { alert0(m)["labels"] = map[string]any{} }), "alerts[0].labels: missing or empty; every alert needs at least one label"},
		{"alert labels missing", valid(func(m map[string]any) { delete(alert0(m), "labels") }), "alerts[0].labels: missing or empty"},
		{"alert label value type", valid(func(m map[string]any) { alert0(m)["labels"] = map[string]any{"a": true} }), "alerts[0].labels: got JSON bool, want a string"},
		{"alert status bad", valid(func(m map[string]any) { alert0(m)["status"] = "suppressed" }), `alerts[0].status: "suppressed" is not one of firing, resolved`},
		{"alert status missing", valid(func(m map[string]any) { delete(alert0(m), "status") }), "alerts[0].status: missing; want firing or resolved"},
		{"alert startsAt bad", valid(func(m map[string]any) { alert0(m)["startsAt"] = "yesterday" }), `alerts[0].startsAt: "yesterday" is not an RFC 3339 time`},
		{"alert endsAt number", valid(func(m map[string]any) { alert0(m)["endsAt"] = 17 }), "alerts[0].endsAt: got JSON number, want a string"},
		{"alert fingerprint number", valid(func(m map[string]any) { alert0(m)["fingerprint"] = 17 }), "alerts[0].fingerprint: got JSON number, want a string"},
		{"long bad value is cut", valid(func(m map[string]any) { m["status"] = strings.Repeat("x", 5000) }), `…" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeAlertmanager([]byte(tt.body))
			if err == nil {
				t.Fatalf("accepted %s as %+v", tt.body, m)
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T %v is not *InputError", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if m != nil {
				t.Errorf("message %+v returned with an error", m)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error message is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestDecodeAlertmanagerTolerates(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"unknown fields everywhere", `{"version":"4","groupKey":"k","status":"firing","x":{"y":[1]},"alerts":[{"status":"firing","labels":{"a":"b"},"silenceURL":"u","z":null}]}`},
		{"null maps and times", `{"version":"4","groupKey":"k","status":"resolved","groupLabels":null,"alerts":[{"status":"resolved","labels":{"a":"b"},"annotations":null,"startsAt":null,"endsAt":null}]}`},
		{"trailing whitespace", "{\"version\":\"4\",\"groupKey\":\"k\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":\"b\"}}]}\n\r\n\t "},
		{"leading whitespace", "\n  {\"version\":\"4\",\"groupKey\":\"k\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":\"b\"}}]}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeAlertmanager([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Alerts) != 1 || m.Alerts[0].Labels["a"] != "b" {
				t.Errorf("decoded %+v", m)
			}
		})
	}
}

func alertOf(status string, labels map[string]string, annotations map[string]string) Alert {
	return Alert{Status: status, Labels: labels, Annotations: annotations}
}

func TestGroupsGroupMode(t *testing.T) {
	lbl := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name        string
		msg         Message
		wantFiring  bool
		wantLabels  []map[string]string
		wantSummary string
	}{
		{
			name: "common summary annotation wins",
			msg: Message{GroupKey: "g", Status: "firing", CommonAnnotations: lbl("summary", "  Payments down  "), CommonLabels: lbl("alertname", "X"),
				Alerts: []Alert{alertOf("firing", lbl("alertname", "X", "severity", "critical"), lbl("summary", "other"))}},
			wantFiring:  true,
			wantLabels:  []map[string]string{lbl("alertname", "X", "severity", "critical")},
			wantSummary: "Payments down",
		},
		{
			name: "first firing alert's summary, resolved ones skipped",
			msg: Message{GroupKey: "g", Status: "firing", CommonLabels: lbl("alertname", "X"),
				Alerts: []Alert{
					alertOf("resolved", lbl("alertname", "X", "i", "0"), lbl("summary", "old news")),
					alertOf("firing", lbl("alertname", "X", "i", "1"), lbl("summary", "  ")),
					alertOf("firing", lbl("alertname", "X", "i", "2"), lbl("summary", "disk full on b")),
				}},
			wantFiring:  true,
			wantLabels:  []map[string]string{lbl("alertname", "X", "i", "1"), lbl("alertname", "X", "i", "2")},
			wantSummary: "disk full on b",
		},
		{
			name: "alertname with count and shared instance",
			msg: Message{GroupKey: "g", Status: "firing", CommonLabels: lbl("alertname", "HighLatency", "instance", "web-1"),
				Alerts: []Alert{
					alertOf("firing", lbl("alertname", "HighLatency", "instance", "web-1", "path", "/a"), nil),
					alertOf("firing", lbl("alertname", "HighLatency", "instance", "web-1", "path", "/b"), nil),
					alertOf("firing", lbl("alertname", "HighLatency", "instance", "web-1", "path", "/c"), nil),
				}},
			wantFiring:  true,
			wantLabels:  []map[string]string{lbl("alertname", "HighLatency", "instance", "web-1", "path", "/a"), lbl("alertname", "HighLatency", "instance", "web-1", "path", "/b"), lbl("alertname", "HighLatency", "instance", "web-1", "path", "/c")},
			wantSummary: "HighLatency (3 alerts) on web-1",
		},
		{
			name: "count only counts firing alerts, instances differ",
			msg: Message{GroupKey: "g", Status: "firing",
				Alerts: []Alert{
					alertOf("firing", lbl("alertname", "Down", "instance", "a"), nil),
					alertOf("resolved", lbl("alertname", "Down", "instance", "b"), nil),
					alertOf("firing", lbl("alertname", "Down", "instance", "c"), nil),
				}},
			wantFiring:  true,
			wantLabels:  []map[string]string{lbl("alertname", "Down", "instance", "a"), lbl("alertname", "Down", "instance", "c")},
			wantSummary: "Down (2 alerts)",
		},
		{
			name: "single alert with instance",
			msg: Message{GroupKey: "g", Status: "firing",
				Alerts: []Alert{alertOf("firing", lbl("alertname", "Down", "instance", "db-1:9100"), nil)}},
			wantFiring:  true,
			wantLabels:  []map[string]string{lbl("alertname", "Down", "instance", "db-1:9100")},
			wantSummary: "Down on db-1:9100",
		},
		{
			name: "one alert lacks the instance label",
			msg: Message{GroupKey: "g", Status: "firing",
				Alerts: []Alert{alertOf("firing", lbl("alertname", "Down", "instance", "a"), nil), alertOf("firing", lbl("alertname", "Down"), nil)}},
			wantFiring:  true,
			wantLabels:  []map[string]string{lbl("alertname", "Down", "instance", "a"), lbl("alertname", "Down")},
			wantSummary: "Down (2 alerts)",
		},
		{
			name: "no alertname anywhere",
			msg: Message{GroupKey: "g", Status: "firing",
				Alerts: []Alert{alertOf("firing", lbl("job", "x"), nil), alertOf("firing", lbl("job", "y"), nil)}},
			wantFiring:  true,
			wantLabels:  []map[string]string{lbl("job", "x"), lbl("job", "y")},
			wantSummary: "Alertmanager alert (2 alerts)",
		},
		{
			name: "resolved group covers all alerts",
			msg: Message{GroupKey: "g", Status: "resolved",
				Alerts: []Alert{alertOf("resolved", lbl("alertname", "Down", "severity", "critical"), nil), alertOf("resolved", lbl("alertname", "Down", "severity", "warning"), nil)}},
			wantFiring:  false,
			wantLabels:  []map[string]string{lbl("alertname", "Down", "severity", "critical"), lbl("alertname", "Down", "severity", "warning")},
			wantSummary: "Down (2 alerts)",
		},
		{
			name: "firing message without firing alerts falls back to all",
			msg: Message{GroupKey: "g", Status: "firing",
				Alerts: []Alert{alertOf("resolved", lbl("alertname", "Odd"), nil)}},
			wantFiring:  true,
			wantLabels:  []map[string]string{lbl("alertname", "Odd")},
			wantSummary: "Odd",
		},
		{
			name: "long summary is capped",
			msg: Message{GroupKey: "g", Status: "firing", CommonAnnotations: lbl("summary", strings.Repeat("é", 3000)),
				Alerts: []Alert{alertOf("firing", lbl("alertname", "X"), nil)}},
			wantFiring:  true,
			wantLabels:  []map[string]string{lbl("alertname", "X")},
			wantSummary: strings.Repeat("é", MaxSummaryRunes-1) + "…",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs := tt.msg.Groups(false)
			if len(gs) != 1 {
				t.Fatalf("got %d groups, want 1", len(gs))
			}
			g := gs[0]
			if g.DedupKey != "am:g" {
				t.Errorf("DedupKey = %q", g.DedupKey)
			}
			if g.Firing != tt.wantFiring {
				t.Errorf("Firing = %v, want %v", g.Firing, tt.wantFiring)
			}
			if !reflect.DeepEqual(g.Labels, tt.wantLabels) {
				t.Errorf("Labels = %v, want %v", g.Labels, tt.wantLabels)
			}
			if g.Summary != tt.wantSummary {
				t.Errorf("Summary = %q, want %q", g.Summary, tt.wantSummary)
			}
			if len(g.Titles) != len(g.Labels) {
				t.Errorf("%d titles for %d label sets", len(g.Titles), len(g.Labels))
			}
			if n := utf8.RuneCountInString(g.Summary); n > MaxSummaryRunes {
				t.Errorf("summary has %d runes", n)
			}
			if !json.Valid(g.Details) {
				t.Errorf("Details not valid JSON: %s", g.Details)
			}
		})
	}
}

func TestGroupsFingerprintMode(t *testing.T) {
	withFP := alertOf("firing", map[string]string{"alertname": "A", "instance": "h1"}, map[string]string{"summary": "A broke"})
	withFP.Fingerprint = "00000000000000aa"
	noFP := alertOf("resolved", map[string]string{"alertname": "B", "instance": "h2", "severity": "warning"}, nil)
	wantFP := model.LabelSet{"alertname": "B", "instance": "h2", "severity": "warning"}.Fingerprint().String()
	bare := alertOf("firing", map[string]string{"job": "x"}, nil)
	bareFP := model.LabelSet{"job": "x"}.Fingerprint().String()
	dupFirst := alertOf("firing", map[string]string{"alertname": "A", "instance": "h1"}, nil)
	dupFirst.Fingerprint = "00000000000000bb"
	dupLast := dupFirst
	dupLast.Status = "resolved"

	tests := []struct {
		name string
		msg  Message
		want []AlertGroup // Details unchecked here
	}{
		{
			name: "given and computed fingerprints",
			msg:  Message{GroupKey: "{}:{a=\"b\"}", Status: "firing", Alerts: []Alert{withFP, noFP, bare}},
			want: []AlertGroup{
				{DedupKey: `am:{}:{a="b"}:00000000000000aa`, Firing: true, Labels: []map[string]string{withFP.Labels}, Titles: []string{"A on h1: A broke"}, Summary: "A broke"},
				{DedupKey: `am:{}:{a="b"}:` + wantFP, Firing: false, Labels: []map[string]string{noFP.Labels}, Titles: []string{"B on h2"}, Summary: "B on h2"},
				{DedupKey: `am:{}:{a="b"}:` + bareFP, Firing: true, Labels: []map[string]string{bare.Labels}, Titles: []string{"Alertmanager alert"}, Summary: "Alertmanager alert"},
			},
		},
		{
			name: "repeated fingerprint keeps the last occurrence",
			msg:  Message{GroupKey: "g", Status: "firing", Alerts: []Alert{dupFirst, withFP, dupLast}},
			want: []AlertGroup{
				{DedupKey: "am:g:00000000000000bb", Firing: false, Labels: []map[string]string{dupLast.Labels}, Titles: []string{"A on h1"}, Summary: "A on h1"},
				{DedupKey: "am:g:00000000000000aa", Firing: true, Labels: []map[string]string{withFP.Labels}, Titles: []string{"A on h1: A broke"}, Summary: "A broke"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.msg.Groups(true)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d groups, want %d", len(got), len(tt.want))
			}
			for i := range got {
				var d struct {
					Status string `json:"status"`
					Alerts []struct {
						Fingerprint string `json:"fingerprint"`
					} `json:"alerts"`
				}
				if err := json.Unmarshal(got[i].Details, &d); err != nil {
					t.Fatal(err)
				}
				if len(d.Alerts) != 1 || "am:"+tt.msg.GroupKey+":"+d.Alerts[0].Fingerprint != got[i].DedupKey {
					t.Errorf("group %d details %s do not match key %s", i, got[i].Details, got[i].DedupKey)
				}
				wantStatus := map[bool]string{true: "firing", false: "resolved"}[tt.want[i].Firing]
				if d.Status != wantStatus {
					t.Errorf("group %d details status %q, want %q", i, d.Status, wantStatus)
				}
				got[i].Details = nil
				if !reflect.DeepEqual(got[i], tt.want[i]) {
					t.Errorf("group %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestComputedFingerprintMatchesAlertmanager checks that a fingerprint
// computed for an alert that lacks one equals what Alertmanager would send.
func TestComputedFingerprintMatchesAlertmanager(t *testing.T) {
	for _, sc := range amScenes {
		for _, a := range sc.alerts {
			labels := map[string]string{}
			for k, v := range a.Labels {
				labels[string(k)] = string(v)
			}
			if got, want := fingerprintOf(Alert{Labels: labels}), a.Fingerprint().String(); got != want {
				t.Errorf("fingerprint of %v = %s, want %s", labels, got, want)
			}
		}
	}
}

// TestComputedFingerprintIsModels: fingerprintOf is model.LabelSet's
// fingerprint and its String for any labels (none, odd bytes, a hash with
// leading zero digits), and takes at most two allocations (the sorted
// names, the digits) where copying into a LabelSet and fmt took four.
func TestComputedFingerprintIsModels(t *testing.T) {
	sets := []map[string]string{nil, {}, {"": ""}, {"a": "\xff\x00"}, {"\xff": "b", "a": "\u00e9"}, {"alertname": "A", "instance": "db1", "severity": "critical"}}
	zeros := 0
	for i := 0; zeros < 3; i++ {
		ls := map[string]string{"alertname": "A", "n": strconv.Itoa(i)}
		if fp := (model.LabelSet{"alertname": "A", "n": model.LabelValue(strconv.Itoa(i))}).Fingerprint(); fp < 1<<56 {
			sets = append(sets, ls)
			zeros++
		}
	}
	for _, labels := range sets {
		ls := make(model.LabelSet, len(labels))
		for k, v := range labels {
			ls[model.LabelName(k)] = model.LabelValue(v)
		}
		if got, want := fingerprintOf(Alert{Labels: labels}), ls.Fingerprint().String(); got != want {
			t.Errorf("fingerprint of %q = %s, want %s", labels, got, want)
		}
	}
	a := Alert{Labels: map[string]string{"alertname": "A", "instance": "db1", "severity": "critical"}}
	if n := testing.AllocsPerRun(100, func() { _ = fingerprintOf(a) }); n > 2 {
		t.Errorf("a fingerprint takes %.0f allocations, want at most 2", n)
	}
}

func TestGroupsDetails(t *testing.T) {
	start := time.Date(2025, 10, 6, 8, 0, 0, 0, time.FixedZone("EDT", -4*3600))
	alerts := make([]Alert, 0, 500)
	for i := range 500 {
		status := "firing"
		if i < 100 {
			status = "resolved" // resolved ones first: Details must still show firing ones first
		}
		alerts = append(alerts, Alert{
			Status: status, Labels: map[string]string{"alertname": "Flood", "i": fmt.Sprint(i)},
			Annotations: map[string]string{"description": "<b>&"}, StartsAt: start, GeneratorURL: "http://g/?a=1&b=2",
		})
	}
	m := &Message{
		Version: "4", GroupKey: `{}:{alertname="Flood"}`, Status: "firing", Receiver: "pagerd", TruncatedAlerts: 12,
		GroupLabels: map[string]string{"alertname": "Flood"}, CommonLabels: map[string]string{"alertname": "Flood"},
		ExternalURL: "http://am", Alerts: alerts,
	}
	g := m.Groups(false)[0]
	if g.Summary != "Flood (400 alerts)" || len(g.Labels) != 400 {
		t.Errorf("summary %q with %d label sets", g.Summary, len(g.Labels))
	}
	if len(g.Details) > 8<<10 {
		t.Errorf("details are %d bytes for 500 alerts", len(g.Details))
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, g.Details); err != nil || !bytes.Equal(compact.Bytes(), g.Details) {
		t.Errorf("details not compact JSON (%v): %s", err, g.Details)
	}
	var d map[string]any
	if err := json.Unmarshal(g.Details, &d); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"source": "alertmanager", "status": "firing", "receiver": "pagerd", "group_key": `{}:{alertname="Flood"}`,
		"external_url": "http://am", "truncated_alerts": 12.0, "alerts_total": 500.0, "alerts_omitted": 480.0,
		"group_labels": map[string]any{"alertname": "Flood"}, "common_labels": map[string]any{"alertname": "Flood"},
	} {
		if !reflect.DeepEqual(d[k], want) {
			t.Errorf("details[%q] = %#v, want %#v", k, d[k], want)
		}
	}
	if _, ok := d["common_annotations"]; ok {
		t.Errorf("empty common_annotations kept: %s", g.Details)
	}
	da := d["alerts"].([]any)
	if len(da) != MaxDetailAlerts {
		t.Fatalf("details keep %d alerts, want %d", len(da), MaxDetailAlerts)
	}
	first := da[0].(map[string]any)
	wantFirst := map[string]any{
		"status": "firing", "labels": map[string]any{"alertname": "Flood", "i": "100"},
		"annotations": map[string]any{"description": "<b>&"}, "starts_at": "2025-10-06T08:00:00-04:00",
		"generator_url": "http://g/?a=1&b=2",
		"fingerprint":   fingerprintOf(alerts[100]),
	}
	if !reflect.DeepEqual(first, wantFirst) {
		t.Errorf("first detail alert = %#v, want %#v", first, wantFirst)
	}
	if !bytes.Contains(g.Details, []byte(`"<b>&"`)) {
		t.Errorf("details HTML-escaped: %s", g.Details)
	}

	// A small message: no omitted count, no truncated count, and zero times left out.
	small := &Message{GroupKey: "k", Status: "resolved", Alerts: []Alert{{Status: "resolved", Labels: map[string]string{"a": "b"},
		StartsAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}}}
	sd := string(small.Groups(false)[0].Details)
	for _, absent := range []string{"alerts_omitted", "truncated_alerts", "ends_at", "0001", "generator_url", "annotations"} {
		if strings.Contains(sd, absent) {
			t.Errorf("small details contain %q: %s", absent, sd)
		}
	}
	if !strings.Contains(sd, `"alerts_total":1`) || !strings.Contains(sd, `"starts_at":"2025-01-01T00:00:00Z"`) {
		t.Errorf("small details: %s", sd)
	}
}

func TestGroupsOfEmptyMessage(t *testing.T) {
	var m Message
	g := m.Groups(false)
	if len(g) != 1 || g[0].DedupKey == "" || g[0].Summary != fallbackSummary || !json.Valid(g[0].Details) {
		t.Errorf("group of empty message = %+v", g)
	}
	if fg := m.Groups(true); len(fg) != 0 {
		t.Errorf("fingerprint groups of empty message = %+v", fg)
	}
}

func TestTruncateRunes(t *testing.T) {
	tests := []struct {
		s        string
		n        int
		ellipsis string
		want     string
	}{
		{"short", 10, "…", "short"},
		{"exactly10!", 10, "…", "exactly10!"},
		{"eleven chr!", 10, "…", "eleven ch…"},
		{"日本語のテキスト", 4, "…", "日本語…"},
		{"日本語のテキスト", 4, "", "日本語の"},
		{"abc", 0, "…", "…"},
	}
	for _, tt := range tests {
		if got := truncateRunes(tt.s, tt.n, tt.ellipsis); got != tt.want {
			t.Errorf("truncateRunes(%q, %d, %q) = %q, want %q", tt.s, tt.n, tt.ellipsis, got, tt.want)
		}
	}
}

func FuzzDecodeAlertmanager(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "alertmanager-*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed fixtures: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":"4","groupKey":"k","status":"firing","alerts":[{"status":"firing","labels":{"a":"b"}},{"status":"resolved","labels":{"a":"b"}}]}`))
	f.Add([]byte(`{"version":"4","groupKey":"","status":"firing","alerts":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeAlertmanager(body)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.Msg == "" {
				t.Fatalf("error %T %v is not a non-empty *InputError", err, err)
			}
			if m != nil {
				t.Fatal("message returned with an error")
			}
			return
		}
		if len(m.Alerts) == 0 || m.Version != "4" || m.GroupKey == "" {
			t.Fatalf("invalid message accepted: %+v", m)
		}
		for _, byFP := range []bool{false, true} {
			gs := m.Groups(byFP)
			if len(gs) == 0 {
				t.Fatalf("Groups(%v) returned no groups", byFP)
			}
			keys := map[string]bool{}
			for _, g := range gs {
				if g.DedupKey == "" || g.Summary == "" {
					t.Fatalf("Groups(%v): empty key or summary: %+v", byFP, g)
				}
				if keys[g.DedupKey] {
					t.Fatalf("Groups(%v): duplicate key %q", byFP, g.DedupKey)
				}
				keys[g.DedupKey] = true
				if utf8.RuneCountInString(g.Summary) > MaxSummaryRunes {
					t.Fatalf("summary of %d runes", utf8.RuneCountInString(g.Summary))
				}
				if !json.Valid(g.Details) {
					t.Fatalf("invalid details JSON: %s", g.Details)
				}
				if len(g.Labels) == 0 {
					t.Fatalf("Groups(%v): no label sets", byFP)
				}
			}
		}
		// Decoding is stable: what we decoded re-encodes and decodes to the same.
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := DecodeAlertmanager(again)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
		if m2.GroupKey != m.GroupKey || len(m2.Alerts) != len(m.Alerts) || !maps.Equal(m2.Alerts[0].Labels, m.Alerts[0].Labels) {
			t.Fatalf("round trip changed the message")
		}
	})
}

// TestGroupTitles: each alert of a group is named, so a page can say which
// one raised the incident: alertname, instance, summary annotation.
func TestGroupTitles(t *testing.T) {
	m := Message{GroupKey: "g", Status: "firing", Alerts: []Alert{
		alertOf("firing", map[string]string{"alertname": "HighLatency", "severity": "warning"}, nil),
		alertOf("firing", map[string]string{"alertname": "DiskFull", "instance": "db2"}, map[string]string{"summary": "disk full on db2"}),
		alertOf("resolved", map[string]string{"alertname": "Gone"}, nil),
	}}
	g := m.Groups(false)[0]
	want := []string{"HighLatency", "DiskFull on db2: disk full on db2"}
	if !reflect.DeepEqual(g.Titles, want) {
		t.Errorf("Titles = %q, want %q (firing alerts only, in order)", g.Titles, want)
	}
}

// BenchmarkDecodeAlertmanager is one single-alert notification as
// Alertmanager sends it, decoded and checked.
func BenchmarkDecodeAlertmanager(b *testing.B) {
	body := []byte(`{"version":"4","groupKey":"{}:{alertname=\"DiskFull\"}","truncatedAlerts":0,"status":"firing","receiver":"pagerd",
"groupLabels":{"alertname":"DiskFull"},"commonLabels":{"alertname":"DiskFull","severity":"critical","instance":"db1"},
"commonAnnotations":{"summary":"disk full on db1"},"externalURL":"http://alertmanager:9093",
"alerts":[{"status":"firing","labels":{"alertname":"DiskFull","severity":"critical","instance":"db1"},
"annotations":{"summary":"disk full on db1"},"startsAt":"2025-09-10T06:00:00.123Z","endsAt":"0001-01-01T00:00:00Z",
"generatorURL":"http://prometheus:9090/graph?g0.expr=up","fingerprint":"a1b2c3d4e5f60718"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeAlertmanager(body); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeOneAgreesWithTheDecoder: decodeOne decodes good input in place
// and hands the rest to decodeWhy; both must give the same message, and
// the same error, for every body as decodeWhy alone.
func FuzzDecodeOneAgreesWithTheDecoder(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "alertmanager-*.json"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{``, ` `, `null`, `[]`, `"x"`, `{}`, `{} {}`, `{}x`, `{"version":4}`, `{"alerts":[1]}`,
		`{"alerts":[{"labels":{"a":1}}]}`, `{"version":"4"`, `{"groupLabels":null,"version":"4"}  `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast, slow wireMessage
		errFast, errSlow := decodeOne(body, &fast, ""), decodeWhy(body, &slow, "")
		if fmt.Sprint(errFast) != fmt.Sprint(errSlow) {
			t.Fatalf("decodeOne: %v; decodeWhy: %v", errFast, errSlow)
		}
		if errFast == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("decodeOne: %+v; decodeWhy: %+v", fast, slow)
		}
		var a, b wireAlert
		errFast, errSlow = decodeOne(body, &a, "alerts[0]"), decodeWhy(body, &b, "alerts[0]")
		if fmt.Sprint(errFast) != fmt.Sprint(errSlow) || errFast == nil && !reflect.DeepEqual(a, b) {
			t.Fatalf("alert: decodeOne: %v %+v; decodeWhy: %v %+v", errFast, a, errSlow, b)
		}
	})
}
