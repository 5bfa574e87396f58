package gateway

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pagerd/pagerd/policy"
)

// keysConfig is testConfig with n services more, each with its own
// Alertmanager, PagerDuty and Opsgenie keys.
func keysConfig(t testing.TB, n int) *policy.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString(testConfig)
	for i := range n {
		fmt.Fprintf(&b, "  - name: svc%d\n    priority_scheme: P0-P3\n    escalation_policy: p\n", i)
		fmt.Fprintf(&b, "    integrations: {alertmanager_key: am-%d-0123456789abcdef0123456789, pagerduty_routing_key: pd%030d, opsgenie_key: og-%d-0123456789abcdef01234567}\n", i, i, i)
	}
	cfg, err := policy.Parse([]byte(b.String()), "keys.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestServiceByIntegrationKey: a key finds its service and field, only
// among the fields asked for; a key of no service, a near miss, a key
// with a character more or less and an empty key find none; and a
// reloaded config is looked up in, not the one before it.
func TestServiceByIntegrationKey(t *testing.T) {
	cfg := keysConfig(t, 3)
	for _, tc := range []struct {
		key, field   string
		fields       []string
		service, got string
	}{
		{key: amKey, fields: []string{"alertmanager_key"}, service: "api", got: "alertmanager_key"},
		{key: pdKey, fields: []string{"pagerduty_routing_key"}, service: "api", got: "pagerduty_routing_key"},
		{key: pdKey, fields: []string{"alertmanager_key"}},
		{key: pdKey, service: "api", got: "pagerduty_routing_key"},
		{key: "batch-key-0000000000000000000000", service: "batch", got: "alertmanager_key"},
		{key: "og-1-0123456789abcdef01234567", fields: []string{"opsgenie_key", "alertmanager_key"}, service: "svc1", got: "opsgenie_key"},
		{key: "am-2-0123456789abcdef0123456789", service: "svc2", got: "alertmanager_key"},
		{key: "am-2-0123456789abcdef012345678"},
		{key: "am-2-0123456789abcdef01234567890"},
		{key: "am-2-0123456789abcdef0123456788"},
		{key: "not a key at all"},
		{key: ""},
	} {
		svc, field := serviceByIntegrationKey(cfg, tc.key, tc.fields...)
		got := ""
		if svc != nil {
			got = svc.Name
		}
		if got != tc.service || field != tc.got {
			t.Errorf("key %q, fields %v: %q, %q; want %q, %q", tc.key, tc.fields, got, field, tc.service, tc.got)
		}
		if svc != nil && svc != cfg.Service(got) {
			t.Errorf("key %q: a service that is not the config's own", tc.key)
		}
	}
	// A reload: api's and batch's keys swapped.
	swapped := strings.NewReplacer(amKey, "batch-key-0000000000000000000000", "batch-key-0000000000000000000000", amKey).Replace(testConfig)
	moved, err := policy.Parse([]byte(swapped), "keys.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if svc := serviceByAlertmanagerKey(moved, amKey); svc == nil || svc.Name != "batch" {
		t.Errorf("after a reload the key finds %v, want batch", svc)
	}
	if svc := serviceByAlertmanagerKey(cfg, amKey); svc == nil || svc.Name != "api" {
		t.Errorf("the config before it, again: %v, want api", svc)
	}
}

// BenchmarkServiceByIntegrationKey is the lookup every alert makes twice
// (admission and its handler), in configs of 12 and 500 services, with
// the loop it replaced for comparison.
func BenchmarkServiceByIntegrationKey(b *testing.B) {
	for _, n := range []int{10, 498} {
		cfg := keysConfig(b, n)
		key := fmt.Sprintf("am-%d-0123456789abcdef0123456789", n/2)
		want := cfg.Service(fmt.Sprintf("svc%d", n/2))
		b.Run(fmt.Sprintf("%d services", n+2), func(b *testing.B) {
			for b.Loop() {
				if svc := serviceByAlertmanagerKey(cfg, key); svc != want {
					b.Fatal("not found")
				}
			}
		})
		b.Run(fmt.Sprintf("%d services, every key compared", n+2), func(b *testing.B) {
			for b.Loop() {
				var found *policy.Service
				for i := range cfg.Services {
					for _, k := range cfg.Services[i].Integrations.Keys() {
						if slices.Contains([]string{"alertmanager_key"}, k.Field) && secretEqual(key, *k.Key) {
							found = &cfg.Services[i]
						}
					}
				}
				if found != want {
					b.Fatal("not found")
				}
			}
		})
	}
}
