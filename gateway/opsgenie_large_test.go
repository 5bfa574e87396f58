package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/notify"
	amopsgenie "github.com/prometheus/alertmanager/notify/opsgenie"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/types"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// TestOpsgenieLargeGroupFromAlertmanagerPages: Alertmanager's own
// opsgenie_configs, left to their defaults, send a group's every alert
// (labels, annotations, source) in the description of its create, and
// again in the description update with update_alerts. A group of a few
// hundred alerts (a zone down) makes that more than 256 KB. Opsgenie cuts
// a description to 15,000 characters, and so does pagerd, but pagerd
// refused the whole body with 413 first, which Alertmanager does not
// retry: the outage paged nobody. The create is taken, its description
// cut, and the update of the description to what the create sent is
// accepted. A group of 16,000 (a region down) is over the 8 MiB read
// whole: it was 413 too, and is read as a stream.
func TestOpsgenieLargeGroupFromAlertmanagerPages(t *testing.T) {
	for _, alerts := range []int{500, 16000} {
		t.Run(fmt.Sprint(alerts), func(t *testing.T) {
			h := newHarness(t, withConfig(ogConfig))
			sendOpsgenieGroup(t, h, alerts)
			incs := h.list("")
			if len(incs) != 1 || incs[0].Status != "triggered" || incs[0].Priority != "P0" {
				t.Fatalf("a group of %d critical alerts: %+v, want one P0 incident", alerts, incs)
			}
			streamed := strings.Count(h.logs.String(), "as a stream, its fields cut")
			if alerts > 10000 && streamed != 2 {
				t.Fatalf("%d alerts: %d requests read as a stream, want the create and the update", alerts, streamed)
			}
			if alerts < 10000 && streamed != 0 {
				t.Fatalf("%d alerts: %d requests read as a stream", alerts, streamed)
			}
		})
	}
}

// sendOpsgenieGroup sends a group of n critical alerts to the harness
// through Alertmanager's opsgenie_configs, with update_alerts.
func sendOpsgenieGroup(t *testing.T, h *harness, n int) {
	t.Helper()
	var conf amopsgenie.OpsGenieConfig
	if err := yaml.Unmarshal([]byte("api_key: "+ogKey+"\napi_url: "+h.url+"/\nupdate_alerts: true\n"), &conf); err != nil {
		t.Fatal(err)
	}
	conf.HTTPConfig = &commoncfg.HTTPClientConfig{}
	tmpl, err := template.FromGlobs([]string{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl.ExternalURL, _ = url.Parse("http://alertmanager.example:9093")
	notifier, err := amopsgenie.New(&conf, tmpl, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var as []*types.Alert
	for i := range n {
		as = append(as, &types.Alert{Alert: model.Alert{
			Labels: model.LabelSet{"alertname": "TargetDown", "severity": "critical", "job": "node", "namespace": "monitoring",
				"instance": model.LabelValue(fmt.Sprintf("node-%05d.eu-west-1.compute.internal:9100", i)), "zone": "eu-west-1a",
				"pod": model.LabelValue(fmt.Sprintf("node-exporter-%05x", i)), "container": "node-exporter", "endpoint": "https",
				"service": "node-exporter", "prometheus": "monitoring/k8s"},
			Annotations: model.LabelSet{"summary": "Target is down",
				"description": model.LabelValue(fmt.Sprintf("node-%05d has not answered a scrape for 5 minutes", i))},
			StartsAt:     fixedNow.Add(-5 * time.Minute),
			GeneratorURL: "http://prometheus.example:9090/graph?g0.expr=up%7Bjob%3D%22node%22%7D+%3D%3D+0&g0.tab=1",
		}})
	}
	ctx := notify.WithGroupKey(context.Background(), `{}:{alertname="TargetDown"}`)
	ctx = notify.WithReceiverName(ctx, "pagerd")
	ctx = notify.WithGroupLabels(ctx, model.LabelSet{"alertname": "TargetDown"})
	ctx = notify.WithNotificationReason(ctx, notify.ReasonFirstNotification)
	if _, err := notifier.Notify(ctx, as...); err != nil {
		t.Fatalf("Alertmanager's opsgenie_configs, a group of %d alerts: %v", n, err)
	}
}

// TestOpsgenieLargeBodyWaitsForItsTurnUnread: a body whose Content-Length
// is over the 8 MiB read whole is read as a stream, one at a time, and
// one that waits for its turn has read nothing yet. It read its first
// 8 MiB first, outside the bytes admission counts: Alertmanagers (two or
// three in HA, each retrying its 503s) sending a few groups of a region
// down held 8 MiB or more each while they waited, in a pod of 256 MiB.
// Closes, acknowledgements and the Alertmanager intake wait alike.
func TestOpsgenieLargeBodyWaitsForItsTurnUnread(t *testing.T) {
	old := requestTimeout
	requestTimeout = 300 * time.Millisecond
	t.Cleanup(func() { requestTimeout = old })
	h := newHarness(t, withConfig(ogConfig))
	body := `{"message":"m","description":"` + strings.Repeat("x", 12<<20) + `"}`
	for _, c := range []struct{ path, auth string }{
		{"/v2/alerts", "GenieKey " + ogKey},
		{"/v2/alerts/a/close?identifierType=alias", "GenieKey " + ogKey},
		{"/api/v1/alertmanager", "Bearer " + amKey},
	} {
		in := &readCount{r: strings.NewReader(body)}
		req := httptest.NewRequest("POST", c.path, in)
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", c.auth)
		rec := httptest.NewRecorder()
		h.d.server.streaming <- struct{}{} // another is being read
		h.d.Handler().ServeHTTP(rec, req)
		<-h.d.server.streaming
		if rec.Code != 503 {
			t.Fatalf("%s while another was read: %d %s", c.path, rec.Code, rec.Body)
		}
		if in.n > 0 {
			t.Errorf("%s: %d bytes read while it waited for its turn", c.path, in.n)
		}
	}
}

// readCount counts the bytes read of r.
type readCount struct {
	r io.Reader
	n int
}

func (c *readCount) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
