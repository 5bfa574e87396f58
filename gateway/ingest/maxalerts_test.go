package ingest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	amcommoncfg "github.com/prometheus/alertmanager/config/common"
	"github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/alertmanager/types"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
)

// TestResolvedButTruncatedByMaxAlertsIsNotAResolve: Alertmanager's webhook
// notifier cuts a group to the receiver's max_alerts before it computes
// the notification's status, and it sorts the group by instance. A group
// of three where api-1 and api-2 resolved and api-3 still fires is sent,
// with max_alerts 2, as status "resolved" with api-1 and api-2 and
// truncatedAlerts 1. Taken as the group's resolve, it resolved an
// incident while api-3 fired, and Alertmanager would not say so again
// before repeat_interval (4h by default). Groups must say the resolve is
// not certain; a resolved notification that left nothing out still is.
func TestResolvedButTruncatedByMaxAlertsIsNotAResolve(t *testing.T) {
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	past := time.Now().Add(-time.Minute).UTC()
	start := past.Add(-time.Hour)
	alert := func(instance string, end time.Time) *types.Alert {
		return amAlert(map[string]string{"alertname": "HighErrorRate", "instance": instance, "severity": "critical"}, nil, start, end, "")
	}
	for _, tc := range []struct {
		name      string
		maxAlerts uint64
		alerts    []*types.Alert
		unsure    bool
	}{
		{"one of three still fires, cut by max_alerts", 2, []*types.Alert{alert("api-3", time.Time{}), alert("api-1", past), alert("api-2", past)}, true},
		{"all resolved, nothing cut", 0, []*types.Alert{alert("api-1", past), alert("api-2", past), alert("api-3", past)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := webhook.New(&webhook.WebhookConfig{
				URL:        amcommoncfg.SecretTemplateURL(srv.URL),
				HTTPConfig: &commoncfg.HTTPClientConfig{},
				MaxAlerts:  tc.maxAlerts,
			}, newTemplate(t), discardLogger)
			if err != nil {
				t.Fatal(err)
			}
			// Alertmanager's dispatcher sorts a group before it flushes it.
			as := types.AlertSlice(tc.alerts)
			sort.Stable(as)
			if _, err := n.Notify(notifyContext(`{}:{alertname="HighErrorRate"}`, "pagerd", model.LabelSet{"alertname": "HighErrorRate"}), as...); err != nil {
				t.Fatal(err)
			}
			m, err := DecodeAlertmanager(got)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != StatusResolved {
				t.Fatalf("Alertmanager sent status %q, want resolved: %s", m.Status, got)
			}
			for _, byFingerprint := range []bool{false, true} {
				for _, g := range m.Groups(byFingerprint) {
					if byFingerprint && g.Overflow {
						// It holds the alerts left out, whose
						// status Alertmanager did not say.
						if g.Firing || g.ResolveUnsure == "" || !tc.unsure {
							t.Errorf("fingerprint mode, overflow incident: firing %v, unsure %q; want it there only when alerts were left out, its resolve unsure", g.Firing, g.ResolveUnsure)
						}
						continue
					}
					if byFingerprint {
						// Each listed alert's own status is certain.
						if g.Firing || g.ResolveUnsure != "" {
							t.Errorf("fingerprint mode %s: firing %v, unsure %q; want a certain resolve", g.DedupKey, g.Firing, g.ResolveUnsure)
						}
						continue
					}
					if g.Firing || (g.ResolveUnsure != "") != tc.unsure {
						t.Fatalf("group mode: firing %v, unsure %q; want unsure %v", g.Firing, g.ResolveUnsure, tc.unsure)
					}
					if tc.unsure && !strings.Contains(g.ResolveUnsure, "max_alerts") {
						t.Errorf("the reason does not name max_alerts: %q", g.ResolveUnsure)
					}
				}
			}
		})
	}
}

// TestFingerprintOfKey: the keys of a group's alerts in fingerprint mode
// are told from those of anything else. Group keys hold colons, so the
// key of another group whose group key starts with this one's and a
// colon, or that group's overflow incident, also begins with this
// group's prefix; those must never be taken for this group's alerts
// (pagerd would resolve them when Alertmanager does not list them in
// this group). Every key the group's own Groups makes is.
func TestFingerprintOfKey(t *testing.T) {
	m := &Message{GroupKey: `{}/{team="db"}:{alertname="DiskFull"}`, Status: StatusFiring, Alerts: []Alert{
		{Status: StatusFiring, Labels: map[string]string{"alertname": "DiskFull", "instance": "db1"}, Fingerprint: "0a1b2c3d4e5f6789"},
		{Status: StatusFiring, Labels: map[string]string{"alertname": "DiskFull", "instance": "db2"}},
	}}
	prefix := m.AlertKeyPrefix()
	for _, g := range m.Groups(true) {
		if _, ok := FingerprintOfKey(g.DedupKey, prefix); !ok {
			t.Errorf("%q, an alert's key of the group, not recognised", g.DedupKey)
		}
	}
	if fp, ok := FingerprintOfKey(prefix+"0a1b2c3d4e5f6789", prefix); !ok || fp != "0a1b2c3d4e5f6789" {
		t.Errorf("fingerprint %q, %v", fp, ok)
	}
	other := &Message{GroupKey: m.GroupKey + `:{x="y"}`}
	for _, key := range []string{
		"am:" + m.GroupKey,            // the group's own key in group mode
		m.OverflowDedupKey(),          // its overflow incident
		other.AlertKeyPrefix() + "0a", // an alert of a group whose key extends this one's
		other.OverflowDedupKey(),      // that group's overflow incident
		prefix,                        // no fingerprint at all
		"pd:" + prefix + "0a",         // another source
	} {
		if fp, ok := FingerprintOfKey(key, prefix); ok {
			t.Errorf("%q taken for an alert of the group, fingerprint %q", key, fp)
		}
	}
	if CapFingerprint("0a1b2c3d4e5f6789") != "0a1b2c3d4e5f6789" || len(CapFingerprint(strings.Repeat("f", 200))) > MaxFingerprintBytes {
		t.Errorf("CapFingerprint does not keep a fingerprint as its dedup key does")
	}
}

// TestFingerprintOfAnyKey: an alert's incident key in fingerprint mode
// gives its fingerprint whatever its group; overflow incidents and other
// sources' keys give none.
func TestFingerprintOfAnyKey(t *testing.T) {
	for _, gk := range []string{`{}:{alertname="DiskFull"}`, `{}/{team="db"}:{alertname="DiskFull"}`, "plain"} {
		m := &Message{GroupKey: gk}
		if fp, ok := FingerprintOfAnyKey(m.AlertKeyPrefix() + "0a1b2c3d4e5f6789"); !ok || fp != "0a1b2c3d4e5f6789" {
			t.Errorf("group %q: fingerprint %q, %v", gk, fp, ok)
		}
		for _, key := range []string{m.OverflowDedupKey(), m.AlertKeyPrefix(), "pd:" + m.AlertKeyPrefix() + "0a"} {
			if fp, ok := FingerprintOfAnyKey(key); ok {
				t.Errorf("%q taken for an alert's key, fingerprint %q", key, fp)
			}
		}
	}
}
