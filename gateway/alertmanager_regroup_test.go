package gateway

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/policy"
)

// amITRegroupConfig is an Alertmanager config sending every alert to
// pagerd's webhook, grouped by @GROUP_BY@.
const amITRegroupConfig = `
route:
  receiver: pagerd
  group_by: @GROUP_BY@
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: pagerd
    webhook_configs:
      - url: '@PAGERD_URL@/api/v1/alertmanager'
        send_resolved: true
        http_config:
          authorization: {type: Bearer, credentials: '@AM_KEY@'}
`

// TestRealAlertmanagerRegroupResolvesDroppedGroup: Alertmanager 0.25
// groups by alertname, and pagerd has an incident open for the group
// {alertname="DiskFull"} and one for {alertname="HighLatency"}. A reload
// of Alertmanager that groups by alertname and instance moves the DiskFull
// alert (which has an instance) to a new group, whose notification opens
// a new incident, and drops the old group without a resolved
// notification: its incident stayed open, paging, for good. pagerd's
// watch of Alertmanager's config (/api/v2/status) sees the change; it
// resolves nothing while Alertmanager has run less than StartMargin
// (pagerd's clock, moved ahead, reaches it), then resolves the old
// DiskFull incident, and leaves the new one and the HighLatency one
// (whose group, without an instance label, is still there) open.
func TestRealAlertmanagerRegroupResolvesDroppedGroup(t *testing.T) {
	amBin := amITLookAlertmanager(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pagerdURL := "http://" + l.Addr().String()
	amConfig := func(groupBy string) string {
		return strings.NewReplacer("@PAGERD_URL@", pagerdURL, "@AM_KEY@", amITKey, "@GROUP_BY@", groupBy).Replace(amITRegroupConfig)
	}
	am := amITStartAlertmanager(t, amBin, amConfig("[alertname]"))
	cfg := strings.Replace(amITConfig, "    escalation_policy: checkout\n", "    escalation_policy: checkout\n    alertmanager_url: "+am.url+"\n", 1)
	tap := &amITTap{}
	// pagerd's clock, which the test moves ahead: to the watch's next
	// look, and past Alertmanager's first minutes (StartMargin).
	var ahead atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	h := newHarness(t, withConfig(cfg), withNow(clock), maxSleep(100*time.Millisecond), onListener(&amITTapListener{Listener: l, tap: tap}))
	h.runFor(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- what Alertmanager sent to pagerd and what pagerd answered (raw HTTP) ---\n%s", tap.dump())
			t.Logf("--- tail of Alertmanager's log ---\n%s", amITTail(am.logPath, 60))
			t.Logf("--- tail of pagerd's log ---\n%s", amITTailString(amITWithoutPolling(h.logs.String()), 60))
		}
	})
	api := &amITClient{base: pagerdURL}
	// byGroup lists the incidents by their dedup key's group labels.
	byGroup := func() map[string]incidentView {
		var list struct {
			Incidents []incidentView `json:"incidents"`
		}
		api.get(t, "/api/v1/incidents", &list)
		out := map[string]incidentView{}
		for _, v := range list.Incidents {
			_, labels, _ := strings.Cut(v.DedupKey, ":{}:")
			if _, dup := out[labels]; dup {
				t.Fatalf("two incidents of group %s: %s and %s", labels, out[labels].ID, v.ID)
			}
			out[labels] = v
		}
		return out
	}
	const (
		oldDisk = `{alertname="DiskFull"}`
		newDisk = `{alertname="DiskFull", instance="db1"}`
		latency = `{alertname="HighLatency"}`
	)
	// states says each incident's group and status, for failures.
	states := func(m map[string]incidentView) string {
		var b strings.Builder
		for g, v := range m {
			fmt.Fprintf(&b, "\n  %s: %s %s resolved by %q", g, v.ID, v.Status, v.ResolvedBy)
		}
		return b.String()
	}
	wait := func(what string, cond func(map[string]incidentView) bool) map[string]incidentView {
		t.Helper()
		for deadline := time.Now().Add(amITTimeout); ; time.Sleep(100 * time.Millisecond) {
			m := byGroup()
			if cond(m) {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited %v for %s:%s", amITTimeout, what, states(m))
			}
		}
	}
	waitLog := func(what, line string) {
		t.Helper()
		for deadline := time.Now().Add(amITTimeout); !strings.Contains(h.logs.String(), line); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waited %v for %s (log %q)", amITTimeout, what, line)
			}
		}
	}
	open := func(m map[string]incidentView, groups ...string) bool {
		for _, g := range groups {
			if v, ok := m[g]; !ok || v.Status != policy.StatusTriggered {
				return false
			}
		}
		return true
	}

	// The watch's first look records the config Alertmanager runs.
	waitLog("the watch's first look", "watching the config of Alertmanager")
	startsAt := time.Now().Add(-time.Minute).UTC()
	am.postAlerts(t,
		amITAlert{Labels: map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": "db1"}, GeneratorURL: amITGeneratorURL, StartsAt: startsAt},
		amITAlert{Labels: map[string]string{"alertname": "HighLatency", "severity": "warning"}, GeneratorURL: amITGeneratorURL, StartsAt: startsAt})
	wait("an incident per group", func(m map[string]incidentView) bool { return len(m) == 2 && open(m, oldDisk, latency) })

	// group_by changes: the DiskFull alert moves to a new group, which
	// opens its own incident; Alertmanager says nothing of the old one.
	am.reload(t, amConfig("[alertname, instance]"))
	wait("the new DiskFull group's incident", func(m map[string]incidentView) bool { return len(m) == 3 && open(m, oldDisk, newDisk, latency) })

	// The watch's next look sees the change, but Alertmanager started
	// moments ago: that it lists no old DiskFull group is not believed.
	ahead.Store(int64(amresolve.ConfigEvery))
	waitLog("the change seen", "Alertmanager's config changed: its open incidents' groups are looked up")
	for deadline := time.Now().Add(amITTimeout); ; time.Sleep(100 * time.Millisecond) {
		if logs := h.logs.String(); strings.Contains(logs, "which groups it dropped is not known yet") || strings.Contains(logs, "incident resolved") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for the sweep after the change", amITTimeout)
		}
	}
	if m := byGroup(); len(m) != 3 || !open(m, oldDisk, newDisk, latency) {
		t.Fatalf("an Alertmanager that started less than %v ago resolved something:%s", amresolve.StartMargin, states(m))
	}

	// Once it has run StartMargin, the old group's incident is resolved.
	ahead.Store(int64(amresolve.StartMargin + 2*amresolve.ConfigEvery))
	m := wait("the old DiskFull incident resolved", func(m map[string]incidentView) bool { return m[oldDisk].Status == policy.StatusResolved })
	if len(m) != 3 || !open(m, newDisk, latency) {
		t.Fatalf("the incidents of the groups Alertmanager still has must stay open:%s", states(m))
	}
	var v incidentView
	api.get(t, "/api/v1/incidents/"+m[oldDisk].ID, &v)
	if v.ResolvedBy != "alertmanager" {
		t.Errorf("resolved by %q, want alertmanager", v.ResolvedBy)
	}
	var gone []string
	for _, e := range v.Timeline {
		if e.Type == amresolve.EntryGroupGone {
			gone = append(gone, e.Detail)
		}
	}
	want := "Alertmanager at " + am.url + " changed its config at "
	if len(gone) != 1 || !strings.HasPrefix(gone[0], want) ||
		!strings.Contains(gone[0], ` and has no group {alertname="DiskFull"} for receiver "pagerd" any more (a route or group_by change): resolved; `+
			`alerts of it still firing page in their new group's incident`) {
		t.Errorf("%s entries %q; want one saying why", amresolve.EntryGroupGone, gone)
	}
	// The sweep counts the resolve after the store has it, and logs it
	// after counting: read at once, the count raced the sweep.
	waitLog("the resolve counted", "it has no group of the incident any more: incident resolved")
	if got := metric(t, h.reg, "pagerd_alertmanager_groups_gone_total", "service", amITService); got != 1 {
		t.Errorf("pagerd_alertmanager_groups_gone_total %v, want 1", got)
	}
}
