package gateway

import (
	"strings"
	"testing"
)

// TestConfigWarningsLoggedAtStartAndReload: what check-config warns about
// is logged at warn level when pagerd serve takes the config into use, at
// start and at a reload, so a config deployed without check-config does
// not page nobody (or stop paging a P0) without a word. Before, serve
// logged none of them.
func TestConfigWarningsLoggedAtStartAndReload(t *testing.T) {
	h := newHarness(t)
	stops := `"level":"WARN","msg":"config: escalation_policies[p].repeat: P0 and P1 incidents of service \"api\" that nobody acknowledges stop paging`
	if !strings.Contains(h.logs.String(), stops) {
		t.Fatalf("the start's log does not warn that P0 paging stops (repeat: 0):\n%s", h.logs.String())
	}
	gap := strings.Replace(testConfig, `      - {name: secondary, start: 2025-01-06, members: [bob]}`,
		`      - {name: secondary, layers: [{name: later, start: 2099-01-05, members: [bob]}]}`, 1)
	if gap == testConfig {
		t.Fatal("the secondary tier was not replaced: the test tests nothing")
	}
	if err := h.reload(gap); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.logs.String(), `"msg":"config: schedules[s].tiers[secondary]: nobody holds the tier until 2099-01-05 00:00 (UTC)`) {
		t.Fatalf("the reload's log does not warn that the secondary tier is held by nobody:\n%s", h.logs.String())
	}
}

// TestShadowNotesLoggedAtWarn: a transport left in dry_run (or a service
// in shadow mode) pages nobody through it; pagerd serve says so at warn
// level when it takes such a config into use, as check-config notes it,
// so a dry_run left on after a trial is not silent.
func TestShadowNotesLoggedAtWarn(t *testing.T) {
	h := newHarness(t)
	note := `"level":"WARN","msg":"config: notifiers.log.dry_run: true, so pages via log (6 contacts) are recorded in the timelines and never sent`
	if strings.Contains(h.logs.String(), note) {
		t.Fatalf("warned at start without dry_run:\n%s", h.logs.String())
	}
	if err := h.reload("notifiers: {log: {dry_run: true}}\n" + testConfig); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.logs.String(), note) {
		t.Fatalf("the reload that set dry_run logs no warning:\n%s", h.logs.String())
	}
}
