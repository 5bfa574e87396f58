package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pagerd/pagerd/gateway/history"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/report"
)

// knownWeek makes four incidents through the daemon, on its clock, in the
// week of Monday 2025-09-08 (testConfig's report week: Monday 00:00 UTC):
//
//	a  06:00 P0, ann acknowledges at 06:03 (3m), resolves at 06:30
//	b  07:00 P2, nobody answers ann (push, SMS at 2m, call at 5m); at 15m
//	   it escalates to bob, who acknowledges at 07:20 (20m), resolves 08:00
//	c  09:00 P1, resolved by Alertmanager at 09:02 unacknowledged: a
//	   false-positive candidate
//	d  10:00 P0, still open at 10:01
//
// and returns their ids in that order.
func knownWeek(h *harness) []string {
	h.t.Helper()
	at := func(hm string) time.Time {
		t, _ := time.Parse("2006-01-02 15:04", "2025-09-10 "+hm)
		return t
	}
	alert := func(status, group, severity string) string {
		r := h.do("POST", "/api/v1/alertmanager", amPayload(status, group, map[string]string{"alertname": "Alert" + group, "severity": severity}),
			"Authorization", "Bearer "+amKey)
		if r.code != 200 {
			h.t.Fatalf("webhook: %d %s", r.code, r.body)
		}
		var res struct{ Incidents []string }
		r.json(h.t, &res)
		if len(res.Incidents) == 0 {
			return ""
		}
		return res.Incidents[0]
	}
	act := func(id, action, user string) {
		if r := h.api("POST", "/api/v1/incidents/"+id+"/"+action, `{"user":"`+user+`"}`); r.code != 200 {
			h.t.Fatalf("%s %s: %d %s", action, id, r.code, r.body)
		}
	}
	h.clock.Set(at("06:00"))
	a := alert("firing", "a", "critical")
	h.runUntil(at("06:03"))
	act(a, "acknowledge", "ann")
	h.runUntil(at("06:30"))
	act(a, "resolve", "ann")

	h.runUntil(at("07:00"))
	b := alert("firing", "b", "warning")
	h.runUntil(at("07:20"))
	act(b, "acknowledge", "bob")
	h.runUntil(at("08:00"))
	act(b, "resolve", "bob")

	h.runUntil(at("09:00"))
	c := alert("firing", "c", "error")
	h.runUntil(at("09:02"))
	alert("resolved", "c", "error")

	h.runUntil(at("10:00"))
	d := alert("firing", "d", "critical")
	h.runUntil(at("10:01"))
	return []string{a, b, c, d}
}

// incidentsOf reads incidents through the incident API, as report reads
// them (report.Incident decodes the API's JSON).
func incidentsOf(h *harness, ids []string) []report.Incident {
	h.t.Helper()
	var out []report.Incident
	for _, id := range ids {
		r := h.api("GET", "/api/v1/incidents/"+id, "")
		if r.code != 200 {
			h.t.Fatalf("get %s: %d %s", id, r.code, r.body)
		}
		var inc report.Incident
		r.json(h.t, &inc)
		out = append(out, inc)
	}
	return out
}

// TestReportsAPI: GET /api/v1/reports over a known week made through the
// daemon gives the figures counted by hand, and exactly what the report
// package makes of the same incidents read one by one from the incident
// API, in every format; GET /api/v1/reports/history streams those
// incidents, oldest first. On both stores.
func TestReportsAPI(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(newStore(t)), withConfig(rolesConfig))
			ids := knownWeek(h)
			const q = "?from=2025-09-08&to=2025-09-15"

			r := h.do("GET", "/api/v1/reports"+q, "", "Authorization", "Bearer viewer-token-0123")
			if r.code != 200 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "application/json") {
				t.Fatalf("report: %d %s %s", r.code, r.hdr.Get("Content-Type"), r.body)
			}
			var got report.Report
			r.json(t, &got)
			// By hand.
			tot := got.Total
			if tot.Incidents != 4 || tot.Acknowledged != 2 || tot.Resolved != 3 ||
				time.Duration(tot.MTTA.Mean) != 11*time.Minute+30*time.Second || tot.MTTA.Count != 2 ||
				tot.Escalated.Count != 1 || tot.FalsePositives.Count != 1 || tot.FalsePositives.Of != 4 ||
				time.Duration(tot.MTTR.Median) != 30*time.Minute || tot.MTTR.Count != 3 {
				t.Errorf("figures: %+v", tot)
			}
			if !got.From.Equal(time.Date(2025, 9, 8, 0, 0, 0, 0, time.UTC)) || !got.AsOf.Equal(h.clock.Now()) {
				t.Errorf("period %s to %s as of %s", got.From, got.To, got.AsOf)
			}
			pages := map[string]int{}
			for _, c := range tot.Pages.ByChannel {
				pages[c.Channel] = c.Pages
			}
			// a: ann's push and SMS (2m, before she answered at 3m); b:
			// ann's push, SMS and call (5m), then from 15m bob's push,
			// SMS and call (at 20m, as he answered); c: ann's push and
			// SMS (at 2m, as it resolved); d: ann's push.
			if want := map[string]int{"push": 5, "sms": 4, "voice": 2}; fmt.Sprint(pages) != fmt.Sprint(want) {
				t.Errorf("pages by channel %v, want %v", pages, want)
			}

			// The same as report makes of the incidents, one by one.
			cfg := h.config()
			want, err := report.Build(cfg, report.Options{From: got.From, To: got.To, AsOf: h.clock.Now()}, incidentsOf(h, ids))
			if err != nil {
				t.Fatal(err)
			}
			for format, write := range map[string]func(*report.Report, io.Writer) error{
				"json": (*report.Report).WriteJSON, "text": (*report.Report).WriteText, "markdown": (*report.Report).WriteMarkdown,
				"csv": (*report.Report).WriteCSV, "payroll": (*report.Report).WritePayrollCSV,
			} {
				var b bytes.Buffer
				if err := write(want, &b); err != nil {
					t.Fatal(err)
				}
				r := h.api("GET", "/api/v1/reports"+q+"&format="+format, "")
				if r.code != 200 || r.body != b.String() {
					t.Errorf("format %s: %d, differs from report's own:\n%s\n--- want ---\n%s", format, r.code, r.body, b.String())
				}
			}

			// The history stream: those incidents, oldest first, as the
			// incident API shows them.
			r = h.api("GET", history.HistoryPath+q, "")
			if r.code != 200 || r.hdr.Get("Content-Type") != history.NDJSON {
				t.Fatalf("history: %d %s %s", r.code, r.hdr.Get("Content-Type"), r.body)
			}
			lines := strings.Split(strings.TrimSpace(r.body), "\n")
			api := incidentsOf(h, ids)
			if len(lines) != 4 {
				t.Fatalf("history: %d lines:\n%s", len(lines), r.body)
			}
			for i, line := range lines {
				var inc report.Incident
				if err := json.Unmarshal([]byte(line), &inc); err != nil {
					t.Fatal(err)
				}
				g, _ := json.Marshal(inc)
				w, _ := json.Marshal(api[i])
				if !bytes.Equal(g, w) {
					t.Errorf("history line %d:\n%s\nthe incident API says:\n%s", i, g, w)
				}
			}
			// With open=true, what is still open from before from comes
			// too: d, created 10:00, for a window after it.
			r = h.api("GET", history.HistoryPath+"?from=2025-09-10T10:00:00.001Z&to=2025-09-10T11:00:00Z&open=true", "")
			if r.code != 200 || strings.Count(r.body, "\n") != 1 || !strings.Contains(r.body, `"id":"`+ids[3]+`"`) {
				t.Errorf("history with open: %d %s", r.code, r.body)
			}
			if r = h.api("GET", history.HistoryPath+"?from=2025-09-10T10:00:00.001Z&to=2025-09-10T11:00:00Z", ""); r.code != 200 || r.body != "" {
				t.Errorf("an empty history: %d %q", r.code, r.body)
			}
		})
	}
}

// TestReportsAPIRefusals: what can never succeed is a 400 that says why;
// reading takes a token.
func TestReportsAPIRefusals(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		path, want string
		code       int
	}{
		{"/api/v1/reports?to=2025-09-15", "from is required", 400},
		{"/api/v1/reports?from=2025-09-08", "to is required", 400},
		{"/api/v1/reports?from=last+week&to=2025-09-15", "neither a date", 400},
		{"/api/v1/reports?from=2025-09-15&to=2025-09-08", "must be after from", 400},
		{"/api/v1/reports?from=2000-01-03&to=2025-09-08", "longer than 520 weeks", 400},
		{"/api/v1/reports?from=2025-09-08&to=2025-09-15&format=pdf", `pdf`, 400},
		{history.HistoryPath + "?from=2025-09-08&to=2025-09-15&open=maybe", `maybe`, 400},
	} {
		if r := h.api("GET", tc.path, ""); r.code != tc.code || !strings.Contains(r.body, tc.want) {
			t.Errorf("GET %s: %d %s, want %d %q", tc.path, r.code, r.body, tc.code, tc.want)
		}
	}
	for _, p := range []string{"/api/v1/reports?from=2025-09-08&to=2025-09-15", history.HistoryPath + "?from=2025-09-08&to=2025-09-15"} {
		if r := h.do("GET", p, ""); r.code != 401 {
			t.Errorf("GET %s without a token: %d", p, r.code)
		}
	}
}

// histogramCount is how many observations a histogram of reg has with
// these labels.
func histogramCount(t testing.TB, h *harness, name string, labels ...string) uint64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue next
				}
			}
			return m.GetHistogram().GetSampleCount()
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// TestRetentionOnceADayAcrossReplicas: with three replicas on one store,
// the retention job runs once a day, on one of them: resolved incidents
// whose server.retention has passed go (the API no longer has them), the
// open one and the one resolved since stay.
func TestRetentionOnceADayAcrossReplicas(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(newStore(t)), withConfig("server: {retention: 7d}\n"+testConfig), replicas(3))
			ids := knownWeek(h) // a, b, c resolved on 2025-09-10; d open
			if err := h.d.EnsureJobs(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := h.d.EnsureJobs(context.Background()); err != nil { // a second replica starting
				t.Fatal(err)
			}
			runs := func() uint64 { return histogramCount(t, h, "pagerd_store_operation_duration_seconds", "op", "expire") }
			start := h.clock.Now()
			h.step(start.Add(time.Minute)) // the first run: nothing is old enough
			if runs() != 1 {
				t.Fatalf("the first run: %d Expire calls, want 1", runs())
			}
			// Another resolved the next day, inside retention when a
			// week has passed since the first three.
			h.clock.Set(start.Add(24 * time.Hour))
			e := fire(h)
			if r := h.api("POST", "/api/v1/incidents/"+e+"/resolve", ""); r.code != 200 {
				t.Fatal(r.body)
			}
			for day := 1; day <= 7; day++ {
				h.step(start.Add(time.Duration(day)*24*time.Hour + time.Minute))
				h.step(start.Add(time.Duration(day)*24*time.Hour + 2*time.Minute)) // nothing more that day
				if runs() != uint64(day+1) {
					t.Fatalf("day %d: %d Expire calls in all, want one a day", day, runs())
				}
			}
			for _, id := range ids[:3] {
				if r := h.api("GET", "/api/v1/incidents/"+id, ""); r.code != 404 {
					t.Errorf("%s, resolved more than 7d ago, is still there: %d", id, r.code)
				}
			}
			for _, id := range []string{ids[3], e} {
				if r := h.api("GET", "/api/v1/incidents/"+id, ""); r.code != 200 {
					t.Errorf("%s is gone: %d", id, r.code)
				}
			}
			if n := metric(t, h.reg, "pagerd_incidents_expired_total"); n != 3 {
				t.Errorf("pagerd_incidents_expired_total %v, want 3", n)
			}
			j, err := h.store.GetJob(context.Background(), history.RetentionKind, history.RetentionKey)
			if err != nil || !j.Due.Equal(start.Add(8*24*time.Hour+time.Minute)) {
				t.Errorf("the next run: %+v %v", j, err)
			}
		})
	}
}

// TestHistoryJobsRunWhileEnsured: a replica starting runs its store jobs
// (retention and handoff documents, due already) while it ensures them;
// the jobs as the daemon builds them have their defaults from the start,
// so the two do not race (go test -race).
func TestHistoryJobsRunWhileEnsured(t *testing.T) {
	post := func(context.Context, string, *report.HandoffDoc) error { return nil }
	h := newHarness(t, withConfig("server: {retention: 7d}\n"+testConfig), postingHandoffs(post))
	now := h.clock.Now()
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if _, err := h.d.retention.Run(ctx, &store.Job{Kind: history.RetentionKind, Key: history.RetentionKey, Due: now}); err != nil {
			t.Error(err)
		}
	}()
	go func() {
		defer wg.Done()
		if _, err := h.d.handoffs.Run(ctx, &store.Job{Kind: history.HandoffKind, Key: "s", Due: now}); err != nil {
			t.Error(err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := h.d.EnsureJobs(ctx); err != nil {
			t.Error(err)
		}
	}()
	wg.Wait()
}

// TestHandoffPostedOnceAtTheHandoff: with a poster (Options.PostHandoff;
// Slack's is TestHandoffPostedToSlackOnceAcrossReplicas), each schedule's
// handoff document is posted once at its handoff, whatever the number of
// replicas, with the outgoing week (d, left open, escalated at 10:15
// too), and the next one is scheduled.
func TestHandoffPostedOnceAtTheHandoff(t *testing.T) {
	var mu sync.Mutex
	var posted []*report.HandoffDoc
	post := func(_ context.Context, schedule string, doc *report.HandoffDoc) error {
		mu.Lock()
		defer mu.Unlock()
		if schedule != doc.Schedule {
			t.Errorf("posted for %s a document of %s", schedule, doc.Schedule)
		}
		posted = append(posted, doc)
		return nil
	}
	h := newHarness(t, postingHandoffs(post), replicas(2))
	ids := knownWeek(h)
	for range 2 {
		if err := h.d.EnsureJobs(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	monday := time.Date(2025, 9, 15, 0, 0, 0, 0, time.UTC)
	h.step(monday.Add(-time.Second))
	if len(posted) != 0 {
		t.Fatal("posted before the handoff")
	}
	h.step(monday)
	h.step(monday.Add(time.Minute))
	mu.Lock()
	defer mu.Unlock()
	if len(posted) != 1 {
		t.Fatalf("%d documents posted, want 1", len(posted))
	}
	d := posted[0]
	if !d.Handoff.Equal(monday) || d.Incidents != 4 || len(d.Open) != 1 || d.Open[0].ID != ids[3] || len(d.Escalations) != 2 ||
		len(d.FalsePositives) != 1 || !strings.Contains(d.String(), "# On-Call Handoff") {
		t.Errorf("the document: %+v\n%s", d, d)
	}
	j, err := h.store.GetJob(context.Background(), history.HandoffKind, "s")
	if err != nil || !j.Due.Equal(monday.Add(7*24*time.Hour)) {
		t.Errorf("the next handoff's job: %+v %v", j, err)
	}
}

// TestHandoffAPI: GET /api/v1/reports/handoff answers the document the
// daemon makes with its config, in the schedule's template or as JSON,
// the same as history.Handoff makes of the store; what cannot be answered
// says why.
func TestHandoffAPI(t *testing.T) {
	h := newHarness(t)
	ids := knownWeek(h)
	monday := time.Date(2025, 9, 15, 0, 0, 0, 0, time.UTC)
	want, err := history.Handoff(context.Background(), history.Store{Store: h.store}, h.config(), "s", monday)
	if err != nil {
		t.Fatal(err)
	}
	r := h.api("GET", history.HandoffPath+"?schedule=s&at=2025-09-15T00:00:00Z", "")
	if r.code != 200 || r.body != want.String() || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/markdown") ||
		!strings.Contains(r.body, "- Incident: "+ids[3]+" (api)") {
		t.Errorf("text: %d %s\n%s\n--- want ---\n%s", r.code, r.hdr.Get("Content-Type"), r.body, want)
	}
	r = h.api("GET", history.HandoffPath+"?at=2025-09-15T00:00:00Z&format=json", "") // the only schedule
	var doc report.HandoffDoc
	if r.json(t, &doc); r.code != 200 || doc.Incidents != 4 || !doc.Handoff.Equal(monday) || len(doc.Open) != 1 {
		t.Errorf("json: %d %s", r.code, r.body)
	}
	// Without at: the daemon's now (Wednesday 10:01), the handoff before.
	r = h.api("GET", history.HandoffPath+"?format=json", "")
	if r.json(t, &doc); r.code != 200 || !doc.Handoff.Equal(monday.Add(-7*24*time.Hour)) || !doc.At.Equal(h.clock.Now()) {
		t.Errorf("now: %d %s", r.code, r.body)
	}
	for _, tc := range []struct {
		q, want string
		code    int
	}{
		{"?schedule=nope", `no schedule \"nope\" is defined`, 404},
		{"?at=monday", "use RFC 3339", 400},
		{"?format=pdf", "use text", 400},
	} {
		if r := h.api("GET", history.HandoffPath+tc.q, ""); r.code != tc.code || !strings.Contains(r.body, tc.want) {
			t.Errorf("GET %s: %d %s", tc.q, r.code, r.body)
		}
	}
}

// TestHandoffDocumentFollowsAReloadThatMovesTheHandoff: a reload on
// Wednesday moves the schedule's handoff from Monday 00:00 to Monday 08:00
// (as correcting a schedule to its document's stated handoff does). The
// next document is posted once, at the new handoff. (Before: the job
// stayed due at Monday 00:00, where it posted the 08:00 handoff's
// document eight hours early, and posted it again at 08:00.)
func TestHandoffDocumentFollowsAReloadThatMovesTheHandoff(t *testing.T) {
	var mu sync.Mutex
	var posted []string
	var h *harness
	post := func(_ context.Context, _ string, doc *report.HandoffDoc) error {
		mu.Lock()
		defer mu.Unlock()
		posted = append(posted, h.clock.Now().UTC().Format("Mon 15:04")+" handoff "+doc.Handoff.UTC().Format("Mon 15:04"))
		return nil
	}
	h = newHarness(t, postingHandoffs(post))
	if err := h.d.EnsureJobs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.reload(strings.Replace(testConfig, `handoff: {weekday: monday, time: "00:00"}`, `handoff: {weekday: monday, time: "08:00"}`, 1)); err != nil {
		t.Fatal(err)
	}
	// What the daemon does after a reload.
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.runUntil(time.Date(2025, 9, 15, 9, 0, 0, 0, time.UTC))
	mu.Lock()
	defer mu.Unlock()
	if len(posted) != 1 || posted[0] != "Mon 08:00 handoff Mon 08:00" {
		t.Fatalf("documents posted: %q, want one at Mon 08:00", posted)
	}
}

// paidRolesConfig is rolesConfig with its service paid for incident time.
var paidRolesConfig = strings.Replace(rolesConfig, "    escalation_policy: p\n    integrations: {alertmanager_key: "+amKey,
	"    escalation_policy: p\n    compensation: pay\n    integrations: {alertmanager_key: "+amKey, 1) +
	"business_hours:\n  - {name: office, time_zone: UTC, days: [mon, tue, wed, thu, fri], start: \"09:00\", end: \"17:00\"}\n" +
	"compensation:\n  - {name: pay, business_hours: office, minimum: 30m}\n"

// TestPayrollFromTheAPISaysWhatIsStillOpen: the payroll CSV has no room
// to say that incidents still open earn nothing yet (pagerd report
// --payroll says so on stderr); from the API, a script paying from it
// was not told at all. Pagerd-Pay-Open says how many, on every format.
func TestPayrollFromTheAPISaysWhatIsStillOpen(t *testing.T) {
	h := newHarness(t, withConfig(paidRolesConfig))
	knownWeek(h) // d still open
	for _, format := range []string{"payroll", "json", "csv"} {
		r := h.api("GET", "/api/v1/reports?from=2025-09-08&to=2025-09-15&format="+format, "")
		if r.code != 200 || r.hdr.Get(HeaderPayOpen) != "1" {
			t.Errorf("format %s: %d, %s: %q, want 1\n%s", format, r.code, HeaderPayOpen, r.hdr.Get(HeaderPayOpen), r.body)
		}
	}
	if r := h.api("GET", "/api/v1/reports?from=2025-09-08&to=2025-09-15&format=payroll", ""); r.hdr.Get(HeaderPayUnknownAcknowledger) != "0" {
		t.Errorf("%s: %q, want 0: everyone who acknowledged is in the config", HeaderPayUnknownAcknowledger, r.hdr.Get(HeaderPayUnknownAcknowledger))
	}
	h = newHarness(t, withConfig(rolesConfig)) // nothing paid: nothing to say
	knownWeek(h)
	if r := h.api("GET", "/api/v1/reports?from=2025-09-08&to=2025-09-15&format=payroll", ""); r.code != 200 || r.hdr.Values(HeaderPayOpen) != nil {
		t.Errorf("without pay: %d, %s: %q", r.code, HeaderPayOpen, r.hdr.Values(HeaderPayOpen))
	}
}

// TestPayrollFromTheAPISaysWhomItCouldNotPay: an incident of a paid
// service acknowledged by someone the config does not know (an API token
// acting on nobody's behalf, a PagerDuty user outside it) is paid to
// nobody. pagerd report --payroll says so on stderr and format=json in
// pay.unknown_acknowledger; the payroll CSV from the API said nothing, and
// a script paying from it left that person unpaid without a word.
// Pagerd-Pay-Unknown-Acknowledger says how many, on every format.
func TestPayrollFromTheAPISaysWhomItCouldNotPay(t *testing.T) {
	h := newHarness(t, withConfig(paidRolesConfig))
	h.clock.Set(time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC))
	labels := map[string]string{"alertname": "AlertZ", "severity": "critical"}
	id := fireLabels(h, "z", labels)
	h.runUntil(h.clock.Now().Add(3 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{}`); r.code != 200 {
		t.Fatalf("acknowledge: %d %s", r.code, r.body)
	}
	h.runUntil(h.clock.Now().Add(30 * time.Minute))
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("resolved", "z", labels), "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	for _, format := range []string{"payroll", "json", "csv"} {
		r := h.api("GET", "/api/v1/reports?from=2025-09-08&to=2025-09-15&format="+format, "")
		if r.code != 200 || r.hdr.Get(HeaderPayUnknownAcknowledger) != "1" {
			t.Errorf("format %s: %d, %s: %q, want 1\n%s", format, r.code, HeaderPayUnknownAcknowledger, r.hdr.Get(HeaderPayUnknownAcknowledger), r.body)
		}
	}
}
