package gateway

import (
	"strings"
	"testing"
	"time"
)

// apiByFingerprint is testConfig with service api keying Alertmanager's
// alerts by fingerprint, not by group.
var apiByFingerprint = strings.Replace(testConfig,
	"    escalation_policy: p\n    integrations: {alertmanager_key: ",
	"    escalation_policy: p\n    incident_key: fingerprint\n    integrations: {alertmanager_key: ", 1)

// TestReloadKeepsIncidentKeyWhileAlertsAreOpen: a reload moves service api
// from incident_key group to fingerprint while an incident of an
// Alertmanager group is open. Taken, Alertmanager's next notification of
// the group found no incident under the new key and opened (and paged)
// a second one, and its resolve closed only that one: the first paged on
// and escalated to bob at 15m for an alert that had ended. It is refused,
// naming the incident, the old config goes on paging and resolving it,
// and once nothing is open the change is taken.
func TestReloadKeepsIncidentKeyWhileAlertsAreOpen(t *testing.T) {
	if apiByFingerprint == testConfig {
		t.Fatal("edit did not apply")
	}
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)))
			id := fire(h)
			h.step(fixedNow)
			err := h.reload(apiByFingerprint)
			if err == nil {
				t.Fatal("a reload changing incident_key with an incident of Alertmanager's open was taken")
			}
			for _, want := range []string{"services[api].incident_key: 1 open incident (" + id + ")", "resolve them or keep incident_key group"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refusal %q does not say %q", err, want)
				}
			}
			if got := h.config().Service("api").IncidentKey; got != "group" {
				t.Fatalf("incident_key %s in force after the refusal", got)
			}
			r := h.do("POST", "/api/v1/alertmanager", amPayload("resolved", "g1", map[string]string{"alertname": "A", "severity": "critical"}),
				"Authorization", "Bearer "+amKey)
			if r.code != 200 || !strings.Contains(r.body, id) {
				t.Fatalf("Alertmanager's resolve: %d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(16 * time.Minute))
			if got := strings.Join(h.rec.lines(fixedNow), ","); got != "0s L1 ann push" {
				t.Errorf("pages: %s", got)
			}
			if err := h.reload(apiByFingerprint); err != nil {
				t.Fatalf("the change once nothing is open: %v", err)
			}
		})
	}
}

// TestReloadChangingIncidentKeyRefusedWhenTheStoreCannotSay: whether the
// service has open incidents from Alertmanager is the store's to say;
// when it cannot, the change is refused rather than guessed.
func TestReloadChangingIncidentKeyRefusedWhenTheStoreCannotSay(t *testing.T) {
	ls := &listRefusing{Store: boltStore(t)}
	h := newHarness(t, withStore(ls))
	ls.refuse.Store(true)
	err := h.reload(apiByFingerprint)
	if err == nil || !strings.Contains(err.Error(), "services[api].incident_key changes from group to fingerprint, and the store did not say") {
		t.Fatalf("reload while the store cannot list: %v", err)
	}
	ls.refuse.Store(false)
	if err := h.reload(apiByFingerprint); err != nil {
		t.Fatalf("reload once the store answers: %v", err)
	}
}
