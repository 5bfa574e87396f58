package gateway

import (
	"strings"
	"testing"
)

// pagerd_ready says at each scrape what /-/ready says: 0 while Redis is
// down, 1 once it is back.
func TestReadyMetric(t *testing.T) {
	st, r := redisStore(t)
	h := newHarness(t, withStore(st))
	ready := func() string {
		t.Helper()
		for _, l := range strings.Split(h.do("GET", "/metrics", "").body, "\n") {
			if strings.HasPrefix(l, "pagerd_ready ") {
				return strings.TrimPrefix(l, "pagerd_ready ")
			}
		}
		t.Fatal("no pagerd_ready in /metrics")
		return ""
	}
	if v := ready(); v != "1" {
		t.Fatalf("pagerd_ready %s with Redis up", v)
	}
	r.Stop(t)
	if v := ready(); v != "0" {
		t.Fatalf("pagerd_ready %s with Redis down", v)
	}
	r.Restart(t)
	if v := ready(); v != "1" {
		t.Fatalf("pagerd_ready %s after Redis came back", v)
	}
}
