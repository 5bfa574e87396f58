package gateway

import (
	"encoding/json"
	"testing"
	"time"
)

// amAlert is one alert of amBody: its status, labels and times.
type amAlert struct {
	st     string
	labels map[string]string
	starts time.Time
	ends   time.Time
}

// amBody is a webhook v4 body of group gk as Alertmanager sends it, with
// each alert's own status and times, and truncatedAlerts.
func amBody(status, gk string, truncated int, alerts ...amAlert) string {
	var as []map[string]any
	for _, a := range alerts {
		ends := "0001-01-01T00:00:00Z"
		if !a.ends.IsZero() {
			ends = a.ends.UTC().Format(time.RFC3339Nano)
		}
		as = append(as, map[string]any{"status": a.st, "labels": a.labels, "annotations": map[string]string{"summary": "s"},
			"startsAt": a.starts.UTC().Format(time.RFC3339Nano), "endsAt": ends, "generatorURL": "http://prom/graph"})
	}
	b, _ := json.Marshal(map[string]any{"version": "4", "groupKey": gk, "status": status, "receiver": "pagerd", "truncatedAlerts": truncated,
		"groupLabels": map[string]string{"alertname": "X"}, "commonLabels": map[string]string{"alertname": "X"}, "commonAnnotations": map[string]string{},
		"externalURL": "http://am:9093", "alerts": as})
	return string(b)
}

// am posts an Alertmanager notification with the integration key.
func (h *harness) am(key, body string) response {
	h.t.Helper()
	r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+key)
	if r.code != 200 {
		h.t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	return r
}

// lbl is the labels of alert X on instance inst at severity sev.
func lbl(name, sev, inst string) map[string]string {
	return map[string]string{"alertname": name, "severity": sev, "instance": inst}
}

// TestGroupFiringAnewAfterAWithheldResolvePages: a group larger than its
// receiver's max_alerts pages, and the person on call acknowledges it.
// Every alert of it resolves; Alertmanager's resolved notification leaves
// some out (truncatedAlerts), so pagerd withholds the resolve and, without
// alertmanager_url, the incident stays open and acknowledged. Hours later
// the group fires again: Alertmanager sends it whole (truncatedAlerts 0),
// and every alert of it started after the withheld resolve. pagerd took it
// as a repeat of the acknowledged incident and paged nobody: a new outage
// went unannounced until someone read the old incident. It is a new
// firing of a group that had ended: the old incident is resolved and the
// new one opens, and pages. A notification that names an alert that
// started before the withheld resolve (one left out then, firing since)
// stays a repeat and pages nobody.
func TestGroupFiringAnewAfterAWithheldResolvePages(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name  string
				fresh bool
			}{{"every alert new", true}, {"an alert left out then still fires", false}} {
				t.Run(tc.name, func(t *testing.T) {
					h := newHarness(t, withStore(open(t)), withConfig(noStorm))
					t0 := fixedNow
					a, b, old := lbl("X", "critical", "a"), lbl("X", "critical", "b"), lbl("X", "critical", "c")
					r := h.am(amKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: a, starts: t0}))
					var res struct{ Incidents []string }
					r.json(t, &res)
					id := res.Incidents[0]
					h.runUntil(t0.Add(time.Minute))
					if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
						t.Fatalf("acknowledge: %d %s", r.code, r.body)
					}
					h.clock.Set(t0.Add(time.Hour))
					h.am(amKey, amBody("resolved", "g", 1, amAlert{st: "resolved", labels: a, starts: t0, ends: t0.Add(59 * time.Minute)}))
					if v := h.incident(id); v.Status != "acknowledged" {
						t.Fatalf("after the resolve that left alerts out: %s, want acknowledged (withheld)", v.Status)
					}
					before := len(h.rec.lines(t0))
					at := t0.Add(20 * time.Hour)
					h.clock.Set(at)
					alerts := []amAlert{{st: "firing", labels: b, starts: at.Add(-time.Minute)}}
					if !tc.fresh {
						alerts = append(alerts, amAlert{st: "firing", labels: old, starts: t0.Add(30 * time.Minute)})
					}
					h.am(amKey, amBody("firing", "g", 0, alerts...))
					h.runUntil(at.Add(time.Minute))
					paged := h.rec.lines(t0)[before:]
					incs := h.list("")
					if !tc.fresh {
						if len(paged) != 0 || len(incs) != 1 || incs[0].Status != "acknowledged" {
							t.Fatalf("an alert firing since before the withheld resolve: pages %v, %d incidents (%s); want a repeat of the acknowledged incident", paged, len(incs), incs[0].Status)
						}
						return
					}
					if len(incs) != 2 || incs[0].Status != "triggered" || h.incident(id).Status != "resolved" {
						var got []string
						for _, v := range incs {
							got = append(got, v.ID+" "+string(v.Status))
						}
						t.Fatalf("incidents %v; want the old one (%s) resolved and a new one triggered", got, id)
					}
					if len(paged) == 0 {
						t.Fatalf("the group fired anew after it had resolved, and nobody was paged")
					}
					if !h.timelineHas(id, "resolve_confirmed", "every alert of it started after") {
						t.Errorf("the old incident's timeline does not say why it was resolved: %s", timelineTypes(h.incident(id)))
					}
				})
			}
		})
	}
}
