package ingest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	amopsgenie "github.com/prometheus/alertmanager/notify/opsgenie"
	"github.com/prometheus/alertmanager/types"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// opsgenieRequest is one request Alertmanager's notifier made.
type opsgenieRequest struct {
	method, path, query, auth string
	body                      []byte
}

// TestAlertmanagerOpsgenieNotifier points Alertmanager's own
// opsgenie_configs (notify/opsgenie, with api_url) at a server that
// decodes with this package: a firing group is a create whose alias is the
// group's and whose details carry its common labels, so the priority
// template and the labels route; the resolved group closes that alias.
func TestAlertmanagerOpsgenieNotifier(t *testing.T) {
	var mu sync.Mutex
	var got []opsgenieRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, opsgenieRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), b})
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"result":"Request will be processed","took":0.001,"requestId":"x"}`)
	}))
	t.Cleanup(srv.Close)
	var conf amopsgenie.OpsGenieConfig
	cfgYAML := "api_key: og-key-1\napi_url: " + srv.URL + "/\n" +
		"priority: '{{ if eq .CommonLabels.severity \"critical\" }}P1{{ else }}P3{{ end }}'\ntags: 'env:prod,{{ .CommonLabels.team }}'\n"
	if err := yaml.Unmarshal([]byte(cfgYAML), &conf); err != nil {
		t.Fatal(err)
	}
	conf.HTTPConfig = &commoncfg.HTTPClientConfig{}
	n, err := amopsgenie.New(&conf, newTemplate(t), discardLogger)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db1", "team": "db"}
	ctx := notifyContext(`{}:{alertname="DiskFull"}`, "pagerd", model.LabelSet{"alertname": "DiskFull"})
	for _, a := range []*types.Alert{
		amAlert(labels, map[string]string{"summary": "disk full on db1"}, t0, time.Time{}, "http://prom/graph"),
		amAlert(labels, map[string]string{"summary": "disk full on db1"}, t0, past, "http://prom/graph"),
	} {
		if _, err := n.Notify(ctx, a); err != nil {
			t.Fatalf("Alertmanager's notifier failed: %v", err)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d requests, want a create and a close", len(got))
	}
	create, closing := got[0], got[1]
	if create.method != "POST" || create.path != "/v2/alerts" || create.auth != "GenieKey og-key-1" {
		t.Fatalf("create: %s %s auth %q", create.method, create.path, create.auth)
	}
	a, p := DecodeOpsgenieAlert(create.body)
	if p != nil {
		t.Fatalf("create refused: %v: %s", p, create.body)
	}
	ls := a.Labels("severity")
	if len(a.Alias) != 64 || a.Priority != "P1" || ls["team"] != "db" || ls["instance"] != "db1" || ls["env"] != "prod" || ls["severity"] != "critical" {
		t.Errorf("decoded alias %q priority %s labels %v from %s", a.Alias, a.Priority, ls, create.body)
	}
	if !strings.Contains(a.Message, "DiskFull") {
		t.Errorf("message %q", a.Message)
	}
	if closing.method != "POST" || closing.path != "/v2/alerts/"+a.Alias+"/close" || closing.query != "identifierType=alias" {
		t.Fatalf("close: %s %s?%s, want the create's alias", closing.method, closing.path, closing.query)
	}
	if _, p := DecodeOpsgenieAction(closing.body); p != nil {
		t.Fatalf("close body refused: %v: %s", p, closing.body)
	}
}
