package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// schemeConfig is testConfig with service api on scheme sc and a policy
// of its own whose first two levels time out per priority (the most
// urgent after primary, the others after 15m) and whose third pages ann
// and bob again: the shape where a priority the levels do not know stops
// the ladder. targets, when set, is api's targets block instead of
// testConfig's.
func schemeConfig(sc *policy.Scheme, primary, targets string) string {
	timeouts := fmt.Sprintf("{%s: %s, %s: 15m, %s: 15m, %s: 15m}", sc.Priorities[0], primary, sc.Priorities[1], sc.Priorities[2], sc.Priorities[3])
	pol := "escalation_policies:\n  - name: api-p\n    levels:\n" +
		"      - {name: primary, targets: [{schedule: s, tier: primary}], timeouts: " + timeouts + "}\n" +
		"      - {name: secondary, targets: [{schedule: s, tier: secondary}], timeouts: " + timeouts + "}\n" +
		"      - {name: everyone, targets: [{user: ann}, {user: bob}]}\n"
	if targets == "" {
		targets = "      " + sc.Priorities[0] + ": {acknowledge: 5m}\n"
	}
	c := strings.Replace(testConfig, "escalation_policies:\n", pol, 1)
	c = strings.Replace(c, "  - name: api\n    priority_scheme: P0-P3\n    escalation_policy: p\n",
		"  - name: api\n    priority_scheme: "+sc.Name+"\n    escalation_policy: api-p\n", 1)
	return strings.Replace(c, "      P0: {acknowledge: 5m}\n", targets, 1)
}

// TestReloadKeepsPrioritiesOfOpenIncidents: a reload that moves service
// api from P0–P3 to SEV-1–4 while a P0 incident of it is open is refused,
// naming the service, the priority, the incident and what to do, and the
// old config keeps escalating it (secondary at 5m, everyone at 10m).
// Taken, it left the incident with a priority no level knows: the
// secondary level, asked for its P0 timeout, had none, so the ladder
// stopped there and level 3 was never paged, with nothing said. A P2
// incident open beside it is named under its own priority. With both
// resolved, the new scheme is taken.
func TestReloadKeepsPrioritiesOfOpenIncidents(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(schemeConfig(policy.SchemeP, "5m", "")))
			id := fire(h)
			p2 := fireLabels(h, "g2", map[string]string{"alertname": "B", "severity": "warning"})
			h.step(fixedNow)
			sev := schemeConfig(policy.SchemeSEV, "5m", "")
			err := h.reload(sev)
			if err == nil {
				t.Error("a reload dropping the priority of an open incident was taken")
			} else {
				for _, want := range []string{
					"services[api].priority_scheme: 1 open incident (" + id + ") holds priority P0, which scheme SEV-1-4 does not have",
					"services[api].priority_scheme: 1 open incident (" + p2 + ") holds priority P2",
					"resolve them or keep the priority (priority_scheme P0-P3)",
				} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("refusal %q does not say %q", err, want)
					}
				}
				if got := h.config().Service("api").Scheme(); got != policy.SchemeP {
					t.Errorf("the refused config is in force (scheme %s)", got.Name)
				}
				r := h.api("POST", "/-/reload", "")
				if r.code != 500 || !strings.Contains(r.body, "holds priority P0") {
					t.Errorf("POST /-/reload: %d %s", r.code, r.body)
				}
			}
			h.runUntil(fixedNow.Add(11 * time.Minute))
			got := strings.Join(h.rec.lines(fixedNow), ",")
			if !strings.Contains(got, "5m L2 bob push") || !strings.Contains(got, "10m L3 ann push") || !strings.Contains(got, "10m L3 bob push") {
				t.Errorf("pages after the reload: %s; want secondary at 5m and everyone at 10m", got)
			}

			for _, inc := range []string{id, p2} {
				if r := h.api("POST", "/api/v1/incidents/"+inc+"/resolve", `{"user":"ann"}`); r.code != 200 {
					t.Fatalf("resolve: %d %s", r.code, r.body)
				}
			}
			if err := h.reload(sev); err != nil {
				t.Fatalf("the new scheme once the incident is resolved: %v", err)
			}
			if got := h.config().Service("api").Scheme(); got != policy.SchemeSEV {
				t.Errorf("scheme %s in force, want SEV-1-4", got.Name)
			}
		})
	}
}

// TestReloadKeepingPrioritiesOfOpenIncidentsIsTaken: a reload that keeps
// the scheme of a service with an open incident, changing its levels'
// timeouts and adding targets for another priority, is taken, and the
// open incident escalates by the new timeouts (secondary's 3m: everyone
// at 8m, not 10m).
func TestReloadKeepingPrioritiesOfOpenIncidentsIsTaken(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(schemeConfig(policy.SchemeP, "5m", "")))
			fire(h)
			h.step(fixedNow)
			if err := h.reload(schemeConfig(policy.SchemeP, "3m", "      P0: {acknowledge: 5m}\n      P1: {acknowledge: 10m}\n")); err != nil {
				t.Fatalf("a reload keeping every priority: %v", err)
			}
			if got := h.config().Service("api").Targets["P1"].Acknowledge; !got.IsSet() {
				t.Error("the reload is not in force: no P1 target")
			}
			h.runUntil(fixedNow.Add(9 * time.Minute))
			if got := strings.Join(h.rec.lines(fixedNow), ","); !strings.Contains(got, "8m L3 ann push") {
				t.Errorf("pages %s; want everyone at 8m, by the new timeout", got)
			}
		})
	}
}

// TestReloadChangingASchemeRefusedWhenTheStoreCannotSay: whether a
// service moved to another scheme has open incidents of the priorities it
// loses is the store's to say; when it cannot, the reload is refused. A
// reload keeping the scheme does not ask the store, so it is taken all
// the same.
func TestReloadChangingASchemeRefusedWhenTheStoreCannotSay(t *testing.T) {
	ls := &listRefusing{Store: boltStore(t)}
	h := newHarness(t, withStore(ls), withConfig(schemeConfig(policy.SchemeP, "5m", "")))
	ls.refuse.Store(true)
	sev := schemeConfig(policy.SchemeSEV, "5m", "")
	err := h.reload(sev)
	if err == nil || !strings.Contains(err.Error(), "services[api].priority_scheme changes from P0-P3 to SEV-1-4, and the store did not say whether the service has open incidents") {
		t.Fatalf("reload while the store cannot list: %v", err)
	}
	if got := h.config().Service("api").Scheme(); got != policy.SchemeP {
		t.Fatalf("the refused config is in force (scheme %s)", got.Name)
	}
	if err := h.reload(schemeConfig(policy.SchemeP, "3m", "")); err != nil {
		t.Fatalf("a reload keeping the scheme while the store cannot list: %v", err)
	}
	ls.refuse.Store(false)
	if err := h.reload(sev); err != nil {
		t.Fatalf("reload once the store answers: %v", err)
	}
}

// TestReloadThatChangesWhoIsOnCallSaysSo: a reload that edits a rotation's
// members moves whoever's turn it is at once; the person now on call was
// told nothing, so the log says who was and who is, per tier changed, and
// nothing of the tiers it left alone.
func TestReloadThatChangesWhoIsOnCallSaysSo(t *testing.T) {
	h := newHarness(t)
	cfg := strings.Replace(testConfig, "{name: primary, start: 2025-01-06, members: [ann]}", "{name: primary, start: 2025-01-06, members: [bob]}", 1)
	if cfg == testConfig {
		t.Fatal("config edit did not apply")
	}
	if err := h.reload(cfg); err != nil {
		t.Fatalf("reload: %v", err)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, `"msg":"config reload changed who is on call now: tell them","schedule":"s","tier":"primary","was":"ann","now":"bob"`) {
		t.Errorf("no warning naming the handover:\n%s", logs)
	}
	if strings.Contains(logs, `"tier":"secondary"`) {
		t.Errorf("a warning about a tier the reload left alone:\n%s", logs)
	}
}
