package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/replicaconfig"
	"github.com/pagerd/pagerd/policy"
)

// freshKeys are the keys of a service a config being rolled out adds.
const (
	freshAMKey = "fresh-am-key-0123456789abcdef012"
	freshPDKey = "freshpd0000000000000000000000000"
	freshOGKey = "fresh-og-key-0123456789abcdef012"
)

// withFresh is testConfig with the service fresh added, whose keys are
// freshAMKey, freshPDKey and freshOGKey.
const withFresh = testConfig + `  - name: fresh
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: ` + freshAMKey + `, pagerduty_routing_key: ` + freshPDKey + `, opsgenie_key: ` + freshOGKey + `}
`

// TestUnknownKeyWhileANewerConfigRollsOutIsRetried: a config that adds a
// service (and its keys) is being rolled out, one replica after another,
// and the Alertmanager (PagerDuty client, Opsgenie sender) of that service
// was set up with them: its alert reaches a replica still on the old
// config. That replica answered 401 (PagerDuty's "Invalid routing key"
// 400), which Alertmanager does not retry: the group was dropped until
// its next change or repeat_interval (4 h by default), a missed page,
// though the replica beside it, on the new config, would have stored it.
// While a live replica runs a config taken into use after this one's,
// such a key is answered 503, which every sender retries (and a load
// balancer may send to the new replica), and nothing is stored; with no
// newer config live, it is refused as before.
func TestUnknownKeyWhileANewerConfigRollsOutIsRetried(t *testing.T) {
	st, _ := redisStore(t)
	h := newHarness(t, withStore(st))
	am := amPayload("firing", "g-fresh", map[string]string{"alertname": "A", "severity": "critical"})
	pd := `{"routing_key":"` + freshPDKey + `","event_action":"trigger","dedup_key":"fresh","payload":{"summary":"DB down","source":"db1","severity":"critical"}}`
	requests := []struct {
		name, path, body, auth string
		refused                int
	}{
		{"alertmanager", "/api/v1/alertmanager", am, "Bearer " + freshAMKey, http.StatusUnauthorized},
		{"alertmanager key in the path", "/api/v1/alertmanager/" + freshAMKey, am, "", http.StatusUnauthorized},
		{"pagerduty", "/v2/enqueue", pd, "", http.StatusBadRequest},
		{"opsgenie", "/v2/alerts", `{"message":"DB down","alias":"fresh"}`, "GenieKey " + freshOGKey, http.StatusUnauthorized},
		{"opsgenie heartbeat", "/v2/heartbeats/nightly/ping", "", "GenieKey " + freshOGKey, http.StatusUnauthorized},
		// A ping the newer replicas' heartbeat misses pages for a
		// heartbeat that beats.
		{"heartbeat", "/api/v1/heartbeats/nightly/ping", "", "Bearer " + freshAMKey, http.StatusUnauthorized},
	}
	send := func(t *testing.T, path, body, auth string) response {
		t.Helper()
		if auth == "" {
			return h.do("POST", path, body)
		}
		return h.do("POST", path, body, "Authorization", auth)
	}
	// No other replica: a key of no service is refused.
	for _, q := range requests {
		if r := send(t, q.path, q.body, q.auth); r.code != q.refused {
			t.Errorf("%s, no rollout: %d %s, want %d", q.name, r.code, r.body, q.refused)
		}
	}
	newer, err := policy.Parse([]byte(withFresh), "new.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	b := replicaconfig.New(replicaconfig.Options{Store: h.store, Now: h.clock.Now, Logger: h.log, ID: "b"})
	h.clock.Set(fixedNow.Add(time.Minute))
	b.Loaded(newer)
	if err := b.Publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(fixedNow.Add(time.Minute + 2*time.Second)) // past the answer cached above
	for _, q := range requests {
		t.Run(q.name, func(t *testing.T) {
			r := send(t, q.path, q.body, q.auth)
			if r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, "b") || r.hdr.Get("Retry-After") == "" {
				t.Fatalf("a key the newer config of replica b has: %d %s (Retry-After %q), want 503 naming b, to retry", r.code, r.body, r.hdr.Get("Retry-After"))
			}
		})
	}
	if n := len(h.list("")); n != 0 {
		t.Errorf("%d incidents stored, want none", n)
	}
	// The key known on this replica too is taken as ever.
	if r := h.do("POST", "/api/v1/alertmanager", am, "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Errorf("a key of this config during the rollout: %d %s", r.code, r.body)
	}
}
