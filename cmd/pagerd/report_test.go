package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/changes"
	"github.com/pagerd/pagerd/gateway/overrides"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
	"github.com/pagerd/pagerd/report"
)

// These tests run the real binary: incidents made through `pagerd serve`,
// then `pagerd report` and `pagerd handoff` over them, through the API
// while it serves and from its data dir once it has stopped.

const (
	teamConfig  = "testdata/report/team.yaml"
	teamKey     = "team0000000000000000000000000000"
	viewerToken = "viewer-token-0123"
	opsToken    = "ops-token-0123456789"
)

// request sends a request to the daemon and returns the answer.
func (d *daemon) request(method, path, token, body string) (int, string) {
	d.t.Helper()
	req, _ := http.NewRequest(method, "http://"+d.addr+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// teamAlert sends host-n's alert, firing or resolved; it returns the
// incident a firing one opened.
func teamAlert(d *daemon, n int, status string) string {
	d.t.Helper()
	body := fmt.Sprintf(`{"version":"4","groupKey":"{}:{alertname=\"Load\"}","status":%q,"receiver":"pagerd",
"groupLabels":{"alertname":"Load"},"commonLabels":{"alertname":"Load","severity":"critical"},"externalURL":"http://am:9093",
"alerts":[{"status":%q,"labels":{"alertname":"Load","severity":"critical","instance":"host-%d"},
"annotations":{"summary":"load on host-%d"},"startsAt":"2025-09-10T06:00:00Z","endsAt":"0001-01-01T00:00:00Z",
"fingerprint":"%016x"}]}`, status, status, n, n, n)
	code, b := d.request("POST", "/api/v1/alertmanager", teamKey, body)
	var out struct{ Incidents []string }
	if code != 200 || json.Unmarshal([]byte(b), &out) != nil || (status == "firing" && len(out.Incidents) != 1) {
		d.t.Fatalf("alert %d %s: %d %s", n, status, code, b)
	}
	if status == "firing" {
		return out.Incidents[0]
	}
	return ""
}

// waitPages waits until the log transport has printed n pages in all.
func (d *daemon) waitPages(n int) {
	d.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		d.mu.Lock()
		got := strings.Count(d.pages.String(), `"channel":"push"`)
		d.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%d pages of %d after 15s:\n%s", got, n, d.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReportAndHandoffOnRealHistory: three incidents made through the
// daemon: one acknowledged and resolved by ann, one resolved by
// Alertmanager unacknowledged (a false-positive candidate), one escalated
// to bob and left open. `pagerd report` through the API gives the figures
// counted by hand, and exactly what the report package makes of the same
// incidents read one by one from the incident API; the daemon's own
// GET /api/v1/reports agrees, and so does `pagerd report --data-dir` once
// the daemon has stopped. `pagerd handoff` lists the open incident.
func TestReportAndHandoffOnRealHistory(t *testing.T) {
	dataDir := t.TempDir()
	d := startDaemonWith(t, teamConfig, freeAddr(t), "--data-dir", dataDir)
	from := time.Now().UTC().Add(-time.Minute)
	act := func(id, action string) {
		t.Helper()
		if code, b := d.request("POST", "/api/v1/incidents/"+id+"/"+action, opsToken, `{"user":"ann"}`); code != 200 {
			t.Fatalf("%s %s: %d %s", action, id, code, b)
		}
	}
	// Each page is waited for before the incident changes, so that every
	// incident was paged: an acknowledgement before the push would cancel it.
	done := teamAlert(d, 1, "firing")
	d.waitPages(1)
	act(done, "acknowledge")
	act(done, "resolve")
	flapped := teamAlert(d, 2, "firing")
	d.waitPages(2)
	teamAlert(d, 2, "resolved")
	open := teamAlert(d, 3, "firing")
	d.waitPages(3)
	act(open, "escalate")
	d.waitPages(4) // bob's push
	to := time.Now().UTC().Add(time.Hour)
	period := []string{"--config", teamConfig, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339)}
	env := []string{"PAGERD_API_TOKEN=" + viewerToken}

	// The daemon records a page right after sending it: wait until the
	// fourth is in the history.
	var viaServer report.Report
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, errOut, code := pagerdCmd(t, env, append([]string{"report", "--server", "http://" + d.addr, "-o", "json"}, period...)...)
		if code != 0 {
			t.Fatalf("pagerd report --server: exit %d\n%s", code, errOut)
		}
		if err := json.Unmarshal([]byte(out), &viaServer); err != nil {
			t.Fatal(err)
		}
		if viaServer.Total.Pages.Total == 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// By hand.
	tot := viaServer.Total
	if tot.Incidents != 3 || tot.Alerts != 3 || tot.Acknowledged != 1 || tot.Resolved != 2 || tot.MTTA.Count != 1 ||
		tot.Escalated.Count != 1 || tot.FalsePositives.Count != 1 || tot.Pages.Total != 4 || len(tot.Pages.ByChannel) != 1 ||
		tot.Pages.ByChannel[0] != (report.ChannelCount{Channel: "push", Pages: 4}) {
		t.Errorf("figures: %+v", tot)
	}
	var checks []string
	for _, c := range tot.Checks {
		checks = append(checks, c.Figure+" "+c.Status)
	}
	if strings.Join(checks, ", ") != "mtta met, escalation_rate missed" {
		t.Errorf("checks: %v", checks)
	}
	if len(viaServer.Engineers) != 2 || viaServer.Engineers[0].User != "ann" || viaServer.Engineers[0].Pages.Total != 3 ||
		viaServer.Engineers[1].User != "bob" || viaServer.Engineers[1].Pages.Total != 1 {
		t.Errorf("engineers: %+v", viaServer.Engineers)
	}

	// The report package's own figures of the incidents, read one by one.
	cfg, err := policy.LoadFile(teamConfig)
	if err != nil {
		t.Fatal(err)
	}
	var incs []report.Incident
	for _, id := range []string{done, flapped, open} {
		code, b := d.request("GET", "/api/v1/incidents/"+id, viewerToken, "")
		var inc report.Incident
		if code != 200 || json.Unmarshal([]byte(b), &inc) != nil {
			t.Fatalf("incident %s: %d %s", id, code, b)
		}
		incs = append(incs, inc)
	}
	own, err := report.Build(cfg, report.Options{From: viaServer.From, To: viaServer.To, AsOf: viaServer.AsOf}, incs)
	if err != nil {
		t.Fatal(err)
	}
	same := func(what string, got *report.Report) {
		t.Helper()
		g, w := *got, *own
		g.AsOf = w.AsOf
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if !bytes.Equal(gj, wj) {
			t.Errorf("%s differs from the report package's own:\n%s\n--- want ---\n%s", what, gj, wj)
		}
	}
	same("pagerd report --server", &viaServer)

	// The daemon computes the same.
	q := "?from=" + from.Format(time.RFC3339) + "&to=" + to.Format(time.RFC3339)
	code, b := d.request("GET", "/api/v1/reports"+q, viewerToken, "")
	var viaAPI report.Report
	if code != 200 || json.Unmarshal([]byte(b), &viaAPI) != nil {
		t.Fatalf("GET /api/v1/reports: %d %s", code, b)
	}
	same("GET /api/v1/reports", &viaAPI)
	if code, b := d.request("GET", "/api/v1/reports"+q+"&format=markdown", viewerToken, ""); code != 200 || !strings.Contains(b, "| Incidents | 3 |") {
		t.Errorf("GET /api/v1/reports as markdown: %d\n%s", code, b)
	}

	// Bob takes ann's primary shift over the next handoff, by an override
	// made at run time: the document of that handoff names him on both
	// sides, covering for ann, the rotation's person. (The next one: an
	// override cannot take a shift that began already, whose past stays.)
	now := time.Now().UTC()
	handoff := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	handoff = handoff.AddDate(0, 0, 7-((int(handoff.Weekday())+6)%7)) // the Monday 00:00 after now
	ov := fmt.Sprintf(`{"tier":"primary","user":"bob","start":%q,"end":%q,"reason":"swap"}`,
		handoff.Add(-time.Hour).Format(time.RFC3339), handoff.Add(time.Hour).Format(time.RFC3339))
	if code, b := d.request("POST", "/api/v1/schedules/team/overrides", opsToken, ov); code != 201 {
		t.Fatalf("override: %d %s", code, b)
	}

	// The handoff document lists the open incident, escalated to bob;
	// without a config, the daemon makes the same with its own.
	at := handoff.Add(time.Minute).Format(time.RFC3339Nano)
	out, errOut, code := pagerdCmd(t, env, "handoff", "--config", teamConfig, "--server", "http://"+d.addr, "--at", at)
	if code != 0 || !strings.HasPrefix(out, "# On-Call Handoff - ") || !strings.Contains(out, "- Incident: "+open+" (api)") ||
		!strings.Contains(out, "- Outgoing: Primary: Bob (covering for Ann until ") || !strings.Contains(out, "- Incoming: Primary: Bob (covering for Ann until ") {
		t.Errorf("pagerd handoff: exit %d %s\n%s", code, errOut, out)
	}
	byDaemon, errOut, code := pagerdCmd(t, env, "handoff", "--server", "http://"+d.addr, "--schedule", "team", "--at", at)
	if code != 0 || byDaemon != out {
		t.Errorf("pagerd handoff --server without --config: exit %d %s\n%s\n--- with the config ---\n%s", code, errOut, byDaemon, out)
	}

	// While the daemon holds the data dir, it says where to go instead.
	_, errOut, code = pagerdCmd(t, nil, append([]string{"report", "--data-dir", dataDir}, period...)...)
	if code != 1 || !strings.Contains(errOut, "is in use by a running pagerd: read the history through it with --server URL") {
		t.Errorf("report on a data dir in use: exit %d %s", code, errOut)
	}
	// Without a token, it says how to give one.
	_, errOut, code = pagerdCmd(t, []string{"PAGERD_API_TOKEN="}, append([]string{"report", "--server", "http://" + d.addr}, period...)...)
	if code != 1 || !strings.Contains(errOut, "--token-file FILE or $PAGERD_API_TOKEN") {
		t.Errorf("report without a token: exit %d %s", code, errOut)
	}
	d.stop()

	// Stopped: the same from its data dir.
	out, errOut, code = pagerdCmd(t, nil, append([]string{"report", "--data-dir", dataDir, "-o", "json"}, period...)...)
	var viaDir report.Report
	if code != 0 || json.Unmarshal([]byte(out), &viaDir) != nil {
		t.Fatalf("pagerd report --data-dir: exit %d %s\n%s", code, errOut, out)
	}
	same("pagerd report --data-dir", &viaDir)
	out, errOut, code = pagerdCmd(t, nil, append([]string{"report", "--data-dir", dataDir}, period...)...)
	if code != 0 || !strings.Contains(out, "Escalated                   1 of 3 (33.3%), missed  < 20%") {
		t.Errorf("pagerd report as text: exit %d %s\n%s", code, errOut, out)
	}
	out, _, code = pagerdCmd(t, nil, append([]string{"report", "--data-dir", dataDir, "--payroll"}, period...)...)
	if code != 0 || out != "week,user,name,billable_minutes,billable_hours,comp_days,incidents,on_call_minutes,on_call_hours,weekend_minutes,weekend_hours,after_hours_minutes,after_hours_hours\n" {
		t.Errorf("payroll without a compensation policy: exit %d %q", code, out)
	}
	// At the same time as above: the handoff nearest a later now is the
	// next one when now passed Thursday noon (UTC) meanwhile, which bob's
	// override does not cover.
	out, errOut, code = pagerdCmd(t, nil, "handoff", "--config", teamConfig, "--data-dir", dataDir, "--at", at, "-o", "json")
	var doc report.HandoffDoc
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Open) != 1 || doc.Open[0].ID != open || doc.Schedule != "team" ||
		len(doc.Outgoing) == 0 || doc.Outgoing[0].User != "bob" || doc.Incoming[0].User != "bob" {
		t.Errorf("pagerd handoff --data-dir -o json: exit %d %s\n%s", code, errOut, out)
	}
}

// TestReportRefusals: what pagerd report and handoff cannot do, they say,
// naming the flag.
func TestReportRefusals(t *testing.T) {
	redisCfg := filepath.Join(t.TempDir(), "redis.yaml")
	b, err := os.ReadFile(qstart)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("server:\n"), []byte("server:\n  redis: {url: \"redis://127.0.0.1:1\"}\n"), 1)
	if err := os.WriteFile(redisCfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--config", qstart, "--to", "2025-09-15"}, "--from is required"},
		{[]string{"report", "--config", qstart, "--from", "monday", "--to", "2025-09-15"}, `--from: "monday" is neither a date`},
		{[]string{"report", "--config", qstart, "--from", "2025-09-08", "--to", "2025-09-15", "-o", "pdf"}, `-o "pdf"`},
		{[]string{"report", "--config", qstart, "--from", "2025-09-08", "--to", "2025-09-15", "-o", "json", "--payroll"}, "--payroll writes CSV"},
		{[]string{"report", "--config", qstart, "--from", "2025-09-08", "--to", "2025-09-15", "--data-dir", empty}, "no store in data dir"},
		// A period no report covers is named as such, whatever the history.
		{[]string{"report", "--config", qstart, "--from", "2025-09-15", "--to", "2025-09-08", "--data-dir", empty}, "--to must be after --from"},
		{[]string{"report", "--config", qstart, "--from", "2025-09-15", "--to", "2025-09-15", "--data-dir", empty}, "--to must be after --from"},
		{[]string{"report", "--config", qstart, "--from", "2025-09-15", "--to", "2025-09-08", "--server", "http://127.0.0.1:1"}, "--to must be after --from"},
		{[]string{"report", "--config", qstart, "--from", "2005-09-15", "--to", "2025-09-15", "--data-dir", empty}, "is longer than 520 weeks"},
		{[]string{"report", "--config", redisCfg, "--from", "2025-09-08", "--to", "2025-09-15"}, "the config keeps incidents in Redis (server.redis): read them through a running pagerd with --server URL"},
		{[]string{"report", "--config", qstart, "--from", "2025-09-08", "--to", "2025-09-15", "--server", "http://x", "--data-dir", empty}, "read from one or the other"},
		{[]string{"handoff", "--config", aivo, "--schedule", "nope"}, `--schedule: no schedule "nope" is defined`},
		{[]string{"handoff", "--schedule", "team"}, "--config FILE is required, unless --server URL"},
	} {
		_, errOut, code := pagerd(t, tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("pagerd %s: exit %d %q, want %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}

// storeWeeks puts incidents written as the incident API writes them (the
// report package's test weeks) in a new data dir, as the daemon stores
// them, and returns the dir.
func storeWeeks(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var incs []report.Incident
	if err := json.Unmarshal(b, &incs); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, ri := range incs {
		shard, err := store.ShardOfID(ri.ID)
		if err != nil {
			t.Fatal(err)
		}
		key := ""
		for n := 0; key == "" || store.ShardOf(ri.Service, key) != shard; n++ { // a dedup key of the id's shard
			key = fmt.Sprintf("%s/%d", ri.ID, n)
		}
		inc := &store.Incident{ID: ri.ID, Service: ri.Service, DedupKey: key, Source: "alertmanager", Summary: ri.Summary,
			CreatedAt: ri.CreatedAt, UpdatedAt: ri.CreatedAt, LastSeen: ri.CreatedAt, Details: ri.Details,
			State: policy.Incident{ID: ri.ID, Service: ri.Service, Status: policy.Status(ri.Status), Priority: ri.Priority,
				TriggeredAt: ri.CreatedAt, AcknowledgedAt: ri.AcknowledgedAt, AcknowledgedBy: ri.AcknowledgedBy,
				ResolvedAt: ri.ResolvedAt, ResolvedBy: ri.ResolvedBy}}
		tl := make([]store.Entry, len(ri.Timeline))
		for i, e := range ri.Timeline {
			tl[i] = store.Entry(e)
		}
		if _, _, err := st.Trigger(context.Background(), inc, tl); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// storeChanges puts change events written as GET /api/v1/changes writes
// them (the report package's test changes) in the data dir, each received
// when it happened, as the daemon stores them.
func storeChanges(t *testing.T, dir, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var list []changes.Change
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, c := range list {
		log := &changes.Log{Store: st, Now: func() time.Time { return c.At }}
		if _, err := log.Record(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReportPaysRunTimeOverrides: the time on call in pagerd report's
// payroll goes by who held the shifts, overrides made at run time
// included, as the daemon's own report counts it: Engineer C took two
// days of Engineer A's primary week through the API.
// madeOverride is a run-time override of aion-r's on-call schedule, made
// through the API at a time.
type madeOverride struct {
	at  time.Time
	req overrides.Request
}

// aionSwap is Engineer C covering Engineer A's primary shift on Wednesday
// and Thursday of the week of Oct 6, made on Oct 1.
var aionSwap = madeOverride{time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), overrides.Request{Tier: "primary", User: "eng-c", Reason: "swap",
	Start: time.Date(2025, 10, 8, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 10, 10, 0, 0, 0, 0, time.UTC)}}

// storeAionOverrides is the report package's aion-r week in a store, with
// the overrides made in it, in order, each at its time.
func storeAionOverrides(t *testing.T, made ...madeOverride) string {
	t.Helper()
	dir := storeWeeks(t, "../../report/testdata/aion-r-week.json")
	cfg, err := policy.LoadFile("../../configs/aion-r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var clock time.Time
	ov := overrides.New(overrides.Options{Store: st, Config: func() *policy.Config { return cfg }, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return clock }})
	for _, m := range made {
		clock = m.at
		if _, err := ov.Create(context.Background(), "aion-r-oncall", m.req, "api:ops"); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// aionPayroll is pagerd report --payroll of the aion-r week of
// 2025-10-06 from the store in dir, made on 2025-10-13: its standard
// output and error.
func aionPayroll(t *testing.T, dir string) (o, e *bytes.Buffer) {
	t.Helper()
	old := now
	now = func() time.Time { return time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC) }
	defer func() { now = old }()
	o, e = new(bytes.Buffer), new(bytes.Buffer)
	if code := run([]string{"report", "--config", "../../configs/aion-r.yaml", "--from", "2025-10-06", "--to", "2025-10-13", "--payroll", "--data-dir", dir}, o, e); code != 0 {
		t.Fatalf("exit %d: %s", code, e.String())
	}
	return o, e
}

func TestReportPaysRunTimeOverrides(t *testing.T) {
	dir := storeAionOverrides(t, aionSwap)
	o, e := aionPayroll(t, dir)
	// A: five days of the week (7,200 minutes); C: the two days (2,880).
	want := "week,user,name,billable_minutes,billable_hours,comp_days,incidents,on_call_minutes,on_call_hours,weekend_minutes,weekend_hours,after_hours_minutes,after_hours_hours\n" +
		"2025-10-06,eng-a,Engineer A,660,11.00,3,01-p1 01-p2 01-p3 01-p4,7200,120.00,270,4.50,390,6.50\n" +
		"2025-10-06,eng-b,Engineer B,90,1.50,0,01-p5,10080,168.00,0,0.00,90,1.50\n" +
		"2025-10-06,eng-c,Engineer C,0,0.00,0,,2880,48.00,0,0.00,0,0.00\n" +
		"2025-10-06,lead-x,Team Lead X,0,0.00,0,,10080,168.00,0,0.00,0,0.00\n"
	if o.String() != want {
		t.Errorf("payroll:\n%s\nwant\n%s", o.String(), want)
	}
	// The week's 01-p8 is still open: the CSV cannot say its time is to
	// come, so the command does.
	if want := "pagerd report: 1 incident(s) of paid services still open earn nothing yet: once resolved, they are paid in the week they were created: run this report again then, and pay only the incidents it adds (pay.incidents in -o json names each)\n"; e.String() != want {
		t.Errorf("stderr %q, want %q", e.String(), want)
	}
}

// TestReadmeReportCommands: the commands README's Reports section shows
// print what it shows: run on the report package's hand-checked weeks,
// put in a store, they give its goldens (which README's samples are
// checked against, report.TestReadmeShowsTheGoldens).
func TestReadmeReportCommands(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	aivoDir := storeWeeks(t, "../../report/testdata/aivo-weeks.json")
	aionDir := storeWeeks(t, "../../report/testdata/aion-r-week.json")
	storeChanges(t, aionDir, "../../report/testdata/aion-r-changes.json")
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		command string
		dir     string
		now     time.Time
		golden  string
	}{
		{"pagerd report --config configs/aivo.yaml --from 2025-09-29 --to 2025-10-13 -o markdown", aivoDir,
			time.Date(2025, 10, 13, 8, 0, 0, 0, ny), "aivo-report.md"},
		{"pagerd report --config configs/aivo.yaml --from 2025-09-29 --to 2025-10-13", aivoDir,
			time.Date(2025, 10, 13, 8, 0, 0, 0, ny), "aivo-report.txt"},
		{"pagerd report --config configs/aion-r.yaml --from 2025-10-06 --to 2025-10-13 --payroll", aionDir,
			time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC), "aion-r-payroll.csv"},
		{"pagerd handoff --config configs/aivo.yaml --at 2025-10-13T07:45:00-04:00", aivoDir, time.Time{}, "aivo-handoff.txt"},
		{"pagerd handoff --config configs/aion-r.yaml --at 2025-10-12T22:00:00Z", aionDir, time.Time{}, "aion-r-handoff.md"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			if !strings.Contains(string(readme), "$ "+strings.Replace(tc.command, " --", " --server https://pagerd.example.com --", 1)) &&
				!strings.Contains(string(readme), "$ "+tc.command) {
				t.Errorf("README does not show %q", tc.command)
			}
			args := strings.Fields(strings.ReplaceAll(tc.command, "configs/", "../../configs/"))[1:]
			args = append(args, "--data-dir", tc.dir)
			old := now
			now = func() time.Time { return tc.now }
			defer func() { now = old }()
			var o, e bytes.Buffer
			if code := run(args, &o, &e); code != 0 {
				t.Fatalf("exit %d: %s", code, e.String())
			}
			want, err := os.ReadFile("../../report/testdata/golden/" + tc.golden)
			if err != nil {
				t.Fatal(err)
			}
			if o.String() != string(want) {
				t.Errorf("%s prints:\n%s\n--- the golden %s ---\n%s", tc.command, o.String(), tc.golden, want)
			}
		})
	}
}

// TestPayrollSaysWhoItCouldNotPay: 01-p5 was acknowledged in PagerDuty by
// an agent whose PagerDuty name matches nobody in the config (recorded as
// "pagerduty:Bee Engineer") and then resolved by Alertmanager: two hours
// of after-hours work that the report cannot give to anyone. The payroll
// CSV left it out and the command said nothing (only the text report had
// a line, and it said nobody had acknowledged it), so payroll run from the
// CSV silently did not pay Engineer B for the evening.
func TestPayrollSaysWhoItCouldNotPay(t *testing.T) {
	b, err := os.ReadFile("../../report/testdata/aion-r-week.json")
	if err != nil {
		t.Fatal(err)
	}
	var incs []report.Incident
	if err := json.Unmarshal(b, &incs); err != nil {
		t.Fatal(err)
	}
	found := false
	for i := range incs {
		inc := &incs[i]
		if inc.ID != "01-p5" {
			continue
		}
		found = true
		inc.AcknowledgedBy, inc.ResolvedBy = "pagerduty:Bee Engineer", "alertmanager"
		for j := range inc.Timeline {
			e := &inc.Timeline[j]
			switch e.Type {
			case report.EntryAck:
				e.Actor, e.User = "pagerduty:Bee Engineer", "pagerduty:Bee Engineer"
			case report.EntryResolve:
				e.Actor, e.User = "alertmanager", ""
			}
		}
	}
	if !found {
		t.Fatal("no 01-p5 in the week")
	}
	if b, err = json.Marshal(incs); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "week.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := storeWeeks(t, file)
	o, e := aionPayroll(t, dir)
	if strings.Contains(o.String(), "01-p5") {
		t.Fatalf("01-p5 paid to someone:\n%s", o.String())
	}
	// 01-p7, never acknowledged and resolved by Alertmanager, was nobody's
	// work: not named.
	want := "pagerd report: 1 resolved incident(s) of paid services were acknowledged by someone not in the config, so the CSV pays nobody for them: 01-p5 (acknowledged by pagerduty:Bee Engineer): pay them by hand\n"
	if !strings.Contains(e.String(), want) {
		t.Errorf("stderr %q lacks %q", e.String(), want)
	}
}

// TestReportSaysOldRunTimeOverridesAreGone: the store keeps a run-time
// override 30 days after it ends, and the next change of the schedule
// drops older ones. Engineer C covered Engineer A's primary shift on
// Wednesday and Thursday of the week of Oct 6; a new override made on
// Nov 20 dropped that one. A report of that week made on Dec 1 paid A the
// whole week on call (10,080 minutes) and C nothing, and said "overrides
// applied" as if it had seen them all. The time is still counted by the
// rotation (the swap is gone), but the report now says that it could not
// see run-time overrides that ended before Nov 1.
func TestReportSaysOldRunTimeOverridesAreGone(t *testing.T) {
	dir := storeAionOverrides(t, aionSwap, madeOverride{time.Date(2025, 11, 20, 0, 0, 0, 0, time.UTC), overrides.Request{Tier: "primary", User: "eng-b", Reason: "dentist",
		Start: time.Date(2025, 11, 21, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 11, 22, 0, 0, 0, 0, time.UTC)}})
	old := now
	now = func() time.Time { return time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC) }
	defer func() { now = old }()
	var o, e bytes.Buffer
	if code := run([]string{"report", "--config", "../../configs/aion-r.yaml", "--from", "2025-10-06", "--to", "2025-10-13", "--data-dir", dir}, &o, &e); code != 0 {
		t.Fatalf("exit %d: %s", code, e.String())
	}
	want := "overrides made at run time that ended before Sat 2025-11-01 00:00 may no longer be kept (the store drops them 30 days after they end): time on call before then may be counted without them"
	if !strings.Contains(o.String(), want) {
		t.Errorf("the report does not say %q:\n%s", want, o.String())
	}
	// Nor does payroll run from the CSV go unwarned.
	o.Reset()
	e.Reset()
	if code := run([]string{"report", "--config", "../../configs/aion-r.yaml", "--from", "2025-10-06", "--to", "2025-10-13", "--payroll", "--data-dir", dir}, &o, &e); code != 0 {
		t.Fatalf("exit %d: %s", code, e.String())
	}
	if !strings.Contains(e.String(), "pagerd report: note: "+want+"\n") {
		t.Errorf("--payroll stderr does not say %q:\n%s", want, e.String())
	}
}
