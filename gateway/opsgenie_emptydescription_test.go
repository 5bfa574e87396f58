package gateway

import (
	"context"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/notify"
	amopsgenie "github.com/prometheus/alertmanager/notify/opsgenie"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/types"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/pagerd/pagerd/policy"
)

// TestOpsgenieEmptyDescriptionUpdateCloses: Alertmanager's
// opsgenie_configs with update_alerts and a description template that
// renders empty (description: '{{ .CommonAnnotations.description }}' for
// a group whose alerts do not share one, a common setting) send the
// create without a description and then the update of the description as
// {} (the field is omitempty). pagerd answered that update 422, so
// Alertmanager counted every notification of the group as failed and
// never recorded it as sent; its resolve then sent no close (nothing
// was notified), and the incident paged on after the alerts resolved.
// An update to the empty description the alert has is accepted, as one
// to the description it has always was; one to another is still 422.
func TestOpsgenieEmptyDescriptionUpdateCloses(t *testing.T) {
	h := newHarness(t, withConfig(ogConfig))
	var conf amopsgenie.OpsGenieConfig
	if err := yaml.Unmarshal([]byte("api_key: "+ogKey+"\napi_url: "+h.url+"/\nupdate_alerts: true\nsend_resolved: true\n"+
		"description: '{{ .CommonAnnotations.description }}'\n"), &conf); err != nil {
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
	alert := func(instance string, ends time.Time) *types.Alert {
		return &types.Alert{Alert: model.Alert{
			Labels:      model.LabelSet{"alertname": "DiskFull", "severity": "critical", "instance": model.LabelValue(instance)},
			Annotations: model.LabelSet{"summary": "disk full", "description": model.LabelValue("disk full on " + instance)},
			StartsAt:    fixedNow.Add(-5 * time.Minute), EndsAt: ends,
		}}
	}
	ctx := notify.WithGroupKey(context.Background(), `{}:{alertname="DiskFull"}`)
	ctx = notify.WithReceiverName(ctx, "pagerd")
	ctx = notify.WithGroupLabels(ctx, model.LabelSet{"alertname": "DiskFull"})
	if _, err := notifier.Notify(ctx, alert("db1", time.Time{}), alert("db2", time.Time{})); err != nil {
		t.Fatalf("Alertmanager's opsgenie_configs, a group without a common description: %v", err)
	}
	incs := h.list("")
	if len(incs) != 1 || incs[0].Status != policy.StatusTriggered {
		t.Fatalf("incidents %+v, want one triggered", incs)
	}
	past := fixedNow.Add(-time.Minute)
	if _, err := notifier.Notify(ctx, alert("db1", past), alert("db2", past)); err != nil {
		t.Fatalf("Alertmanager's close: %v", err)
	}
	if v := h.incident(incs[0].ID); v.Status != policy.StatusResolved {
		t.Fatalf("after the group resolved: %s", v.Status)
	}
	// The alert has a description now: an empty one is not it.
	h.og("POST", "/v2/alerts", `{"message":"m","alias":"d","description":"db1"}`, 202)
	if a := h.og("PUT", "/v2/alerts/d/description?identifierType=alias", `{}`, 422); a.Errors["description"] == "" {
		t.Errorf("an empty description for an alert that has one: %+v", a)
	}
}
