package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/ingest"
)

const batchKey = "batch-key-0000000000000000000000"

// noStorm is testConfig with storm bundling off, so each incident's first
// page is a message of its own.
const noStorm = testConfig + "notifiers: {storm: {window: 0s}}\n"

// manyAlerts is an Alertmanager notification of n firing alerts of one
// group, like the 683 KB one that made 5,000 incidents.
func manyAlerts(status, groupKey string, n int) string {
	sets := make([]map[string]string, 0, n)
	for i := range n {
		sets = append(sets, map[string]string{"alertname": "JobFailed", "severity": "critical", "job": fmt.Sprintf("job-%05d", i)})
	}
	return amPayload(status, groupKey, sets...)
}

func timelineTypes(v incidentView) string {
	var ts []string
	for _, e := range v.Timeline {
		ts = append(ts, e.Type)
	}
	return strings.Join(ts, ",")
}

// TestOneRequestOpensAtMostTheCap: in fingerprint mode a notification of
// 5,000 alerts opens 100 incidents and one overflow incident for the rest
// (not 5,000), is answered 200 (Alertmanager would drop a 4xx), and the
// overflow incident says in its timeline what was cut and still pages.
// When no alert is over the cap any more, the overflow incident resolves.
func TestOneRequestOpensAtMostTheCap(t *testing.T) {
	h := newHarness(t, withConfig(noStorm))
	r := h.do("POST", "/api/v1/alertmanager", manyAlerts("firing", "g-flood", 5000), "Authorization", "Bearer "+batchKey)
	if r.code != 200 {
		t.Fatalf("%d %.300s", r.code, r.body)
	}
	var res struct{ Incidents []string }
	r.json(t, &res)
	if len(res.Incidents) != ingest.MaxIncidentsPerMessage+1 {
		t.Fatalf("%d incidents, want %d", len(res.Incidents), ingest.MaxIncidentsPerMessage+1)
	}
	if n := len(h.list("?service=batch&limit=1000")); n != ingest.MaxIncidentsPerMessage+1 {
		t.Fatalf("%d incidents stored", n)
	}
	over := h.incident(res.Incidents[len(res.Incidents)-1])
	if !strings.HasSuffix(over.DedupKey, "#overflow") || over.Priority != "SEV-1" || !strings.HasPrefix(over.Summary, "900 more alerts, beyond the 100 incidents") {
		t.Fatalf("overflow incident: key %q, priority %s, summary %q", over.DedupKey, over.Priority, over.Summary)
	}
	if timelineTypes(over) != "trigger,truncated" {
		t.Fatalf("overflow timeline %s", timelineTypes(over))
	}
	note := over.Timeline[1].Detail
	for _, want := range []string{"held 5000 alerts; pagerd read the first 1000", "900 firing alerts beyond the first 100"} {
		if !strings.Contains(note, want) {
			t.Errorf("truncated entry %q lacks %q", note, want)
		}
	}
	if own := h.incident(res.Incidents[0]); strings.Contains(timelineTypes(own), "truncated") {
		t.Errorf("an incident of its own says it was truncated: %s", timelineTypes(own))
	}
	// It pages.
	h.step(fixedNow)
	paged := false
	h.rec.mu.Lock()
	for _, m := range h.rec.msgs {
		paged = paged || m.Incident == over.ID
	}
	h.rec.mu.Unlock()
	if !paged {
		t.Fatal("the overflow incident was not paged")
	}
	if v := h.incident(over.ID); !strings.Contains(timelineTypes(v), "notify") {
		t.Fatalf("no page in the overflow incident's timeline: %s", timelineTypes(v))
	}

	// The same group again with 40 alerts: nothing over the cap, so the
	// overflow incident resolves; the first 40 repeat.
	r = h.do("POST", "/api/v1/alertmanager", manyAlerts("firing", "g-flood", 40), "Authorization", "Bearer "+batchKey)
	var again struct{ Incidents, Resolved []string }
	r.json(t, &again)
	if r.code != 200 || len(again.Incidents) != 40 || len(again.Resolved) != 1 || again.Resolved[0] != over.ID {
		t.Fatalf("second notification: %d %.300s", r.code, r.body)
	}
	if v := h.incident(over.ID); v.Status != "resolved" {
		t.Fatalf("overflow incident %s", v.Status)
	}
}

// TestGroupModeReadsTheFirstAlerts: in group mode a notification over the
// alert cap is one incident that says what was left out, and pages.
func TestGroupModeReadsTheFirstAlerts(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/api/v1/alertmanager", manyAlerts("firing", "g-big", 1500), "Authorization", "Bearer "+amKey)
	var res struct{ Incidents []string }
	r.json(t, &res)
	if r.code != 200 || len(res.Incidents) != 1 {
		t.Fatalf("%d %.300s", r.code, r.body)
	}
	v := h.incident(res.Incidents[0])
	if timelineTypes(v) != "trigger,truncated" || !strings.Contains(v.Timeline[1].Detail, "left 500 out") || v.NextStepAt == nil {
		t.Fatalf("timeline %s %+v, next step %v", timelineTypes(v), v.Timeline, v.NextStepAt)
	}
}

// TestHugeAnnotationAndGroupKeyAreNotStoredWhole: a 7.9 MB annotation and a
// 100 KB groupKey are cut before they are stored; the incident says so, the
// answer to a reader is small, and a repeat of the same alert lands on the
// same incident and notes the cut again. On both stores.
func TestHugeAnnotationAndGroupKeyAreNotStoredWhole(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)))
			groupKey := strings.Repeat("{}:{alertname=\"Big\"}", 100<<10/20)
			var m map[string]any
			if err := json.Unmarshal([]byte(amPayload("firing", groupKey, map[string]string{"alertname": "Big", "severity": "critical"})), &m); err != nil {
				t.Fatal(err)
			}
			m["alerts"].([]any)[0].(map[string]any)["annotations"] = map[string]string{"summary": "big", "description": strings.Repeat("d", 7900<<10)}
			body, _ := json.Marshal(m)
			var ids []string
			for range 2 {
				r := h.do("POST", "/api/v1/alertmanager", string(body), "Authorization", "Bearer "+amKey)
				var res struct{ Incidents []string }
				r.json(t, &res)
				if r.code != 200 || len(res.Incidents) != 1 {
					t.Fatalf("%d %.300s", r.code, r.body)
				}
				ids = append(ids, res.Incidents[0])
			}
			if ids[0] != ids[1] {
				t.Fatalf("the repeat opened another incident: %v", ids)
			}
			r := h.api("GET", "/api/v1/incidents/"+ids[0], "")
			if len(r.body) > 2*ingest.MaxDetailsBytes {
				t.Fatalf("a reader gets %d bytes", len(r.body))
			}
			var v incidentView
			r.json(t, &v)
			if len(v.DedupKey) > len("am:")+ingest.MaxGroupKeyBytes || v.Repeats != 1 || v.Summary != "big" {
				t.Fatalf("dedup key of %d bytes, repeats %d, summary %q", len(v.DedupKey), v.Repeats, v.Summary)
			}
			if timelineTypes(v) != "trigger,truncated,truncated" {
				t.Fatalf("timeline %s", timelineTypes(v))
			}
			for _, want := range []string{"groupKey of 100.0 KiB", `annotation values or URLs cut to 4096 bytes in the details: 1 (the largest, "description", was 7.7 MiB)`} {
				if !strings.Contains(v.Timeline[1].Detail, want) {
					t.Errorf("truncated entry %q lacks %q", v.Timeline[1].Detail, want)
				}
			}
			if !strings.Contains(string(v.Details), "truncated_by_pagerd") {
				t.Error("details do not say they were cut")
			}
			metrics := h.do("GET", "/metrics", "").body
			for _, want := range []string{
				`pagerd_alerts_truncated_total{limit="annotation",service="api",source="alertmanager"} 2`,
				`pagerd_alerts_truncated_total{limit="group_key",service="api",source="alertmanager"} 2`,
				`pagerd_alerts_truncated_total{limit="alerts",service="api",source="alertmanager"} 0`,
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
			if !strings.Contains(h.logs.String(), "alert truncated to fit pagerd's limits") {
				t.Error("the truncation is not logged")
			}
		})
	}
}

// TestDefaultRateLimit: with no server.rate_limit in the config, one
// integration key gets a burst of 1,000 notifications, then 503 with
// Retry-After (Alertmanager retries it with backoff), while another
// service's key is unaffected.
func TestDefaultRateLimit(t *testing.T) {
	h := newHarness(t)
	if rl := h.config().Server.RateLimit; rl.PerSecond != 100 || rl.Burst != 1000 {
		t.Fatalf("default rate limit %+v", *rl)
	}
	// Cheap requests: refused after the limit is applied, storing nothing.
	start := time.Now()
	passed := 0
	var r response
	for ; passed < 3000; passed++ {
		r = h.do("POST", "/api/v1/alertmanager", "{", "Authorization", "Bearer "+amKey)
		if r.code != 400 {
			break
		}
	}
	// The burst, plus what 100 a second refilled meanwhile.
	refilled := int(time.Since(start).Seconds()*100) + 1
	if passed < 1000 || passed > 1000+refilled {
		t.Fatalf("%d requests passed before one was throttled, want 1000 to %d", passed, 1000+refilled)
	}
	if r.code != 503 || r.hdr.Get("Retry-After") == "" || !strings.Contains(r.body, "server.rate_limit") {
		t.Fatalf("over the burst: %d %s", r.code, r.body)
	}
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g", map[string]string{"alertname": "A"}), "Authorization", "Bearer "+batchKey); r.code != 200 {
		t.Fatalf("another key: %d %s", r.code, r.body)
	}
}
