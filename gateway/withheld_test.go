package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/gateway/store"
)

// fakeAlertmanagerAPI answers GET /api/v2/alerts with as many alerts as
// firing says, one per fingerprint in active, and those of held whose
// labels match every filter of the query (with their labels' model
// fingerprint, as Alertmanager lists them), GET /api/v2/status with
// its start time (started, a day before the test clock's start when
// zero) and config, or 503 while down (statusDown: the status alone),
// GET /api/v2/alerts/groups with groups (503 while down or groupsDown),
// and records the queries of alerts and of groups.
type fakeAlertmanagerAPI struct {
	mu         sync.Mutex
	firing     int
	active     []string
	held       []map[string]string
	started    time.Time
	down       bool
	statusDown bool
	queries    []string
	// state is the listed alerts' status.state ("active" when empty;
	// "suppressed" for silenced ones).
	state string
	// suppressed are fingerprints listed as silenced, whatever state says.
	suppressed []string
	// onAlerts, when set, runs once, at the next query of alerts, before
	// it is answered, and before any other query is: a check working
	// beside the one that ran it must not be answered before the change
	// the hook makes.
	onAlerts func()
	// auth is the basic auth of the last query ("user:password").
	auth string
	// config is the config the status carries (config.original); groups
	// the alert groups listed, held to the query's receiver.
	config       string
	groups       []amresolve.AlertGroup
	groupsDown   bool
	groupQueries []string
}

func (f *fakeAlertmanagerAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if hook := f.onAlerts; hook != nil && r.URL.Path == "/api/v2/alerts" {
		f.onAlerts = nil
		hook() // under the lock: a query that comes meanwhile waits for it
	}
	if r.Method == http.MethodGet && r.URL.Path == "/api/v2/alerts/groups" {
		f.groupQueries = append(f.groupQueries, r.URL.RawQuery)
		if f.down || f.groupsDown {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		// Alertmanager anchors the receiver's expression.
		re := regexp.MustCompile("^(?:" + r.URL.Query().Get("receiver") + ")$")
		out := []any{}
		for _, g := range f.groups {
			if r.URL.Query().Has("receiver") && !re.MatchString(g.Receiver) {
				continue
			}
			alerts := []any{}
			for _, fp := range g.Fingerprints {
				alerts = append(alerts, map[string]any{"fingerprint": fp, "labels": g.Labels})
			}
			out = append(out, map[string]any{"labels": g.Labels, "receiver": map[string]string{"name": g.Receiver}, "alerts": alerts})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	if r.Method != http.MethodGet || (r.URL.Path != "/api/v2/alerts" && r.URL.Path != "/api/v2/status") {
		http.NotFound(w, r)
		return
	}
	if r.URL.Path == "/api/v2/status" {
		if f.down || f.statusDown {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		started := f.started
		if started.IsZero() {
			started = fixedNow.Add(-24 * time.Hour)
		}
		// Alertmanager 0.25's shape (its config, which comes before,
		// left out): uptime is when it started.
		w.Header().Set("Content-Type", "application/json")
		config := f.config
		if config == "" {
			config = "route:\n  receiver: pagerd\n  group_by: [alertname]\n"
		}
		cb, _ := json.Marshal(config)
		_, _ = fmt.Fprintf(w, `{"cluster":{"peers":[],"status":"disabled"},"config":{"original":%s},"uptime":%q,"versionInfo":{"version":"0.25.0"}}`,
			cb, started.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		return
	}
	f.queries = append(f.queries, r.URL.RawQuery)
	if u, p, ok := r.BasicAuth(); ok {
		f.auth = u + ":" + p
	}
	if f.down {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	alerts := make([]string, 0, f.firing+len(f.active)+len(f.suppressed)+len(f.held))
	state := f.state
	if state == "" {
		state = "active"
	}
	// The firing alerts match the query's filters, as those Alertmanager
	// lists do: pagerd holds the answer to them.
	filters := map[string]string{}
	for _, m := range r.URL.Query()["filter"] {
		name, quoted, _ := strings.Cut(m, "=")
		v, err := strconv.Unquote(quoted)
		if err != nil {
			http.Error(w, "bad filter "+m, http.StatusBadRequest)
			return
		}
		filters[name] = v
	}
	labels := map[string]string{"alertname": "HighErrorRate", "instance": "api-3"}
	maps.Copy(labels, filters)
	lb, _ := json.Marshal(labels)
	for i := range f.firing {
		alerts = append(alerts, fmt.Sprintf(`{"labels":%s,"status":{"state":%q},"endsAt":"2025-09-10T07:00:00Z","fingerprint":"%016x"}`, lb, state, i))
	}
	for _, fp := range f.active {
		alerts = append(alerts, fmt.Sprintf(`{"labels":%s,"status":{"state":"active"},"endsAt":"2025-09-10T07:00:00Z","fingerprint":%q}`, lb, fp))
	}
	for _, fp := range f.suppressed {
		alerts = append(alerts, fmt.Sprintf(`{"labels":%s,"status":{"state":"suppressed"},"endsAt":"2025-09-10T07:00:00Z","fingerprint":%q}`, lb, fp))
	}
	for _, held := range f.held {
		// A label the alert lacks has the empty value, as Alertmanager
		// matches.
		matches := true
		for name, v := range filters {
			matches = matches && held[name] == v
		}
		if matches {
			hb, _ := json.Marshal(held)
			ls := make(model.LabelSet, len(held))
			for k, v := range held {
				ls[model.LabelName(k)] = model.LabelValue(v)
			}
			alerts = append(alerts, fmt.Sprintf(`{"labels":%s,"status":{"state":%q},"endsAt":"2025-09-10T07:00:00Z","fingerprint":%q}`, hb, state, ls.Fingerprint()))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("[" + strings.Join(alerts, ",") + "]"))
}

// set sets how many alerts fire and whether the API is down; the status
// is readable again.
func (f *fakeAlertmanagerAPI) set(firing int, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.firing, f.down, f.statusDown = firing, down, false
}

// hold sets the alerts listed by their labels (held).
func (f *fakeAlertmanagerAPI) hold(alerts ...map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held = alerts
}

// startedAt sets when Alertmanager started.
func (f *fakeAlertmanagerAPI) startedAt(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = t
}

func (f *fakeAlertmanagerAPI) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.queries...)
}

// withheldHarness is a daemon whose service api names the fake
// Alertmanager (alertmanager_url), with an incident of group
// HighErrorRate open and its resolve withheld: three alerts, max_alerts
// 2, all resolved. n is the number of replicas' dispatchers.
func withheldHarness(t *testing.T, am *fakeAlertmanagerAPI, n int, opts ...option) (*harness, string) {
	t.Helper()
	return withheldHarnessAt(t, am, n, func(u string) string { return u }, opts...)
}

// withheldHarnessAt is withheldHarness with the service's alertmanager_url
// made from the fake's by at.
func withheldHarnessAt(t *testing.T, am *fakeAlertmanagerAPI, n int, at func(string) string, opts ...option) (*harness, string) {
	t.Helper()
	srv := httptest.NewServer(am)
	t.Cleanup(srv.Close)
	cfg := strings.Replace(testConfig, "    targets:\n      P0: {acknowledge: 5m}\n",
		"    targets:\n      P0: {acknowledge: 5m}\n    alertmanager_url: "+at(srv.URL)+"\n", 1)
	h := newHarness(t, append([]option{withConfig(cfg), replicas(n)}, opts...)...)
	auth := []string{"Authorization", "Bearer " + amKey}
	if r := h.do("POST", "/api/v1/alertmanager", amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"}), auth...); r.code != 200 {
		t.Fatalf("firing: %d %s", r.code, r.body)
	}
	id := h.list("")[0].ID
	if r := h.do("POST", "/api/v1/alertmanager", amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}), auth...); r.code != 200 {
		t.Fatalf("resolved, cut: %d %s", r.code, r.body)
	}
	return h, id
}

// askedOnceForTheGroup fails unless Alertmanager was asked once, for the
// alerts of receiver pagerd and group HighErrorRate.
func askedOnceForTheGroup(t *testing.T, am *fakeAlertmanagerAPI) {
	t.Helper()
	asked := am.asked()
	if len(asked) != 1 || !strings.Contains(asked[0], "receiver=pagerd") || !strings.Contains(asked[0], "filter=alertname%3D%22HighErrorRate%22") {
		t.Fatalf("Alertmanager was asked %q; want once, for receiver pagerd and the group's labels", asked)
	}
}

// askedTwiceForTheGroup fails unless Alertmanager was asked twice, each
// time for the alerts of receiver pagerd and group HighErrorRate.
func askedTwiceForTheGroup(t *testing.T, am *fakeAlertmanagerAPI) {
	t.Helper()
	asked := am.asked()
	if len(asked) != 2 {
		t.Fatalf("Alertmanager was asked %q; want twice, for receiver pagerd and the group's labels", asked)
	}
	for _, q := range asked {
		if !strings.Contains(q, "receiver=pagerd") || !strings.Contains(q, "filter=alertname%3D%22HighErrorRate%22") {
			t.Fatalf("Alertmanager was asked %q; want twice, for receiver pagerd and the group's labels", asked)
		}
	}
}

// entryCounts counts an incident's timeline entries by type.
func entryCounts(v incidentView) map[string]int {
	out := map[string]int{}
	for _, e := range v.Timeline {
		out[e.Type]++
	}
	return out
}

// TestWithheldResolveConfirmedWithAlertmanager: a resolve withheld
// because Alertmanager's max_alerts cut the notification is checked with
// Alertmanager's API (the group's receiver and labels); none of the group
// firing any more, the incident is resolved, once, with the timeline
// saying it was confirmed, by whichever of two replicas took the job.
// Without the check it stayed open for good: Alertmanager sends nothing
// after a group's last resolved notification.
func TestWithheldResolveConfirmedWithAlertmanager(t *testing.T) {
	am := &fakeAlertmanagerAPI{}
	h, id := withheldHarness(t, am, 2)
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("before the check: %s, want triggered (withheld)", v.Status)
	}
	h.step(h.clock.Now())
	v := h.incident(id)
	if v.Status != "resolved" || v.ResolvedBy != "alertmanager" {
		t.Fatalf("after the check: %s by %q, want resolved by alertmanager; timeline %+v", v.Status, v.ResolvedBy, v.Timeline)
	}
	types := entryCounts(v)
	if types[amresolve.EntryConfirmed] != 1 || types["resolve"] != 1 {
		t.Fatalf("timeline %+v: want one %s and one resolve", v.Timeline, amresolve.EntryConfirmed)
	}
	for i, e := range v.Timeline {
		switch e.Type {
		case "resolve_withheld":
			if !strings.Contains(e.Detail, "pagerd asks Alertmanager at http://") {
				t.Errorf("the withheld resolve does not say pagerd asks: %q", e.Detail)
			}
		case "resolve":
			// A replica's page of level 1 may come after it, at the same time.
			if p := v.Timeline[i-1]; p.Type != amresolve.EntryConfirmed || !strings.Contains(p.Detail, "confirmed with Alertmanager") {
				t.Fatalf("the entry before the resolve: %+v; timeline %+v", p, v.Timeline)
			}
		}
	}
	askedOnceForTheGroup(t, am)
	// Nothing is left to do: later steps ask nothing and change nothing.
	h.runUntil(h.clock.Now().Add(10 * time.Minute))
	if n := len(am.asked()); n != 1 {
		t.Fatalf("Alertmanager asked %d times, want 1", n)
	}
	if _, err := h.store.GetJob(context.Background(), amresolve.JobKind, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the check's job after the resolve: %v, want none", err)
	}
	if got := entryCounts(h.incident(id)); got["resolve"] != 1 {
		t.Fatalf("resolved %d times", got["resolve"])
	}
}

// TestWithheldResolveStaysOpenUntilAlertmanagerConfirms: Alertmanager
// saying an alert of the group still fires, or not answering at all,
// keeps the incident open and paging (a missed page is worse than one too
// many), says so once in the timeline (and in the log when it cannot be
// asked), and asks again every minute; once it says none fires, the
// incident is resolved.
func TestWithheldResolveStaysOpenUntilAlertmanagerConfirms(t *testing.T) {
	for _, tc := range []struct {
		name       string
		firing     int
		down       bool
		statusDown bool
		entry      string
		log        string
	}{
		{"an alert still fires", 1, false, false, amresolve.EntryStillFiring, ""},
		{"Alertmanager unreachable", 0, true, false, amresolve.EntryUnconfirmed, "Alertmanager could not be asked"},
		// None fires, but whether Alertmanager has just started, and
		// so knows only part of the alerts, cannot be told.
		{"its status unreadable", 0, false, true, amresolve.EntryUnconfirmed, "when it started could not be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{firing: tc.firing, down: tc.down, statusDown: tc.statusDown}
			h, id := withheldHarness(t, am, 1)
			start := h.clock.Now()
			h.step(start)
			h.runUntil(start.Add(3*amresolve.RecheckEvery + time.Second))
			v := h.incident(id)
			if v.Status != "triggered" {
				t.Fatalf("%s, want triggered", v.Status)
			}
			if types := entryCounts(v); types[tc.entry] != 1 {
				t.Fatalf("timeline %+v: want one %s entry", v.Timeline, tc.entry)
			}
			if !strings.Contains(h.logs.String(), tc.log) {
				t.Fatalf("the log does not say %q", tc.log)
			}
			if n := len(am.asked()); n != 4 {
				t.Fatalf("Alertmanager asked %d times in 3 minutes, want 4 (at once, then every minute)", n)
			}
			if got := h.rec.lines(start); len(got) == 0 {
				t.Fatalf("the open incident paged nobody")
			}
			j, err := h.store.GetJob(context.Background(), amresolve.JobKind, id)
			if err != nil || !j.Due.After(h.clock.Now()) {
				t.Fatalf("the next check: %+v, %v; want a job due later", j, err)
			}
			am.set(0, false)
			h.runUntil(h.clock.Now().Add(amresolve.RecheckEvery))
			if v := h.incident(id); v.Status != "resolved" {
				t.Fatalf("once Alertmanager said none fires: %s, want resolved", v.Status)
			}
		})
	}
}

// TestWithheldResolveWaitsForARestartedAlertmanager: Alertmanager keeps
// alerts in memory, so just after it starts it lists none of the group
// until Prometheus sends them again, while its notification log (on
// disk) holds back the firing notification that would say they still
// fire for hours. Asked then, it said none fires and the incident was
// resolved with its group firing, nobody paged again. Now an
// Alertmanager that started less than StartMargin ago is not believed:
// the incident stays open (one timeline entry says why) and it is asked
// every minute, and resolved once it has run StartMargin.
func TestWithheldResolveWaitsForARestartedAlertmanager(t *testing.T) {
	am := &fakeAlertmanagerAPI{}
	h, id := withheldHarness(t, am, 1)
	start := h.clock.Now()
	am.startedAt(start.Add(-30 * time.Second))
	h.step(start)
	h.runUntil(start.Add(3*amresolve.RecheckEvery + time.Second))
	v := h.incident(id)
	if v.Status != "triggered" {
		t.Fatalf("Alertmanager started 30s before it said none fires: %s, want triggered; timeline %+v", v.Status, v.Timeline)
	}
	if types := entryCounts(v); types[amresolve.EntryRecentStart] != 1 || types[amresolve.EntryConfirmed] != 0 {
		t.Fatalf("timeline %+v: want one %s entry and no confirmation", v.Timeline, amresolve.EntryRecentStart)
	}
	for _, e := range v.Timeline {
		if e.Type == amresolve.EntryRecentStart && !strings.Contains(e.Detail, "started 30s ago (at 2025-09-10T05:59:30Z)") {
			t.Errorf("the %s entry does not say when Alertmanager started: %q", e.Type, e.Detail)
		}
	}
	if n := len(am.asked()); n != 4 {
		t.Fatalf("Alertmanager asked %d times in 3 minutes, want 4 (at once, then every minute)", n)
	}
	// Until it has run StartMargin, it is not believed; the first check
	// after that is.
	h.runUntil(start.Add(amresolve.StartMargin - 31*time.Second))
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("Alertmanager up for less than %s: %s, want triggered", amresolve.StartMargin, v.Status)
	}
	h.runUntil(start.Add(amresolve.StartMargin))
	v = h.incident(id)
	if v.Status != "resolved" || v.ResolvedBy != "alertmanager" {
		t.Fatalf("Alertmanager up for %s and none fires: %s by %q, want resolved by alertmanager; timeline %+v",
			amresolve.StartMargin, v.Status, v.ResolvedBy, v.Timeline)
	}
	if types := entryCounts(v); types[amresolve.EntryRecentStart] != 1 || types[amresolve.EntryConfirmed] != 1 {
		t.Fatalf("timeline %+v: want one %s entry and one confirmation", v.Timeline, amresolve.EntryRecentStart)
	}
}

// TestWithheldResolveNotCheckedAfterTheGroupFiresAgain: a firing
// notification after the withheld resolve ends the need to ask:
// Alertmanager tells pagerd when the group changes again.
func TestWithheldResolveNotCheckedAfterTheGroupFiresAgain(t *testing.T) {
	am := &fakeAlertmanagerAPI{}
	h, id := withheldHarness(t, am, 1)
	auth := []string{"Authorization", "Bearer " + amKey}
	// Received after the withheld resolve: one received with it (within
	// the shared clock's skew) may be older, and the check goes on.
	h.clock.Set(h.clock.Now().Add(5 * time.Second))
	if r := h.do("POST", "/api/v1/alertmanager", amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"}), auth...); r.code != 200 {
		t.Fatalf("firing again: %d %s", r.code, r.body)
	}
	h.runUntil(h.clock.Now().Add(5 * time.Minute))
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("after a firing repeat: %s, want triggered", v.Status)
	}
	if n := len(am.asked()); n != 0 {
		t.Fatalf("Alertmanager asked %d times, want none", n)
	}
}

// TestWithheldResolveConfirmedAsTheGroupFiresAgainStaysOpen: the group
// fires again (a repeat of the incident) after the check read the
// incident and before it wrote the resolve. A repeat does not change the
// incident's version, so the write went through and closed an incident
// whose group fires: Alertmanager, which counts the firing notification
// delivered, says nothing more for its repeat_interval (4 hours by
// default), and nobody was paged. The store now refuses the write, and
// the check, reading the incident again, sees the repeat and leaves it
// open.
func TestWithheldResolveConfirmedAsTheGroupFiresAgainStaysOpen(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{}
			bu := &beforeUpdate{Store: open(t)}
			h, id := withheldHarness(t, am, 1, withStore(bu))
			auth := []string{"Authorization", "Bearer " + amKey}
			bu.fn = func() {
				if r := h.do("POST", "/api/v1/alertmanager", amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"}), auth...); r.code != 200 {
					t.Errorf("firing again: %d %s", r.code, r.body)
				}
			}
			bu.only = func(inc *store.Incident) bool { return !inc.Open() }
			bu.armed.Store(true)
			h.step(h.clock.Now())
			if bu.armed.Load() {
				t.Fatal("the check wrote no resolve: the test tests nothing")
			}
			if n := len(am.asked()); n != 1 {
				t.Fatalf("Alertmanager asked %d times, want once", n)
			}
			v := h.incident(id)
			if v.Status != "triggered" {
				t.Fatalf("the group fired again as the check resolved it: %s, want triggered; timeline %+v", v.Status, v.Timeline)
			}
			if types := entryCounts(v); types[amresolve.EntryConfirmed] != 0 || types["resolve"] != 0 {
				t.Fatalf("timeline %+v: a confirmation or resolve of an incident left open", v.Timeline)
			}
			if inc, err := h.store.Get(context.Background(), id); err != nil || inc.Repeats != 1 {
				t.Fatalf("the repeat: %+v, %v; want the incident repeated once", inc, err)
			}
		})
	}
}

// TestWithheldResolveWithoutAlertmanagerURL: a service that names no
// Alertmanager keeps today's behaviour (the resolve stays withheld, no
// job), and pagerd says at start that such groups cannot resolve on their
// own; of a service in fingerprint mode, that an alert max_alerts leaves
// out cannot.
func TestWithheldResolveWithoutAlertmanagerURL(t *testing.T) {
	h := newHarness(t)
	if !strings.Contains(h.logs.String(), "services[api].alertmanager_url: not set, so an alert group larger than its Alertmanager receiver's max_alerts cannot resolve on its own") {
		t.Fatalf("the start's log does not say it: %s", h.logs.String())
	}
	if !strings.Contains(h.logs.String(), "services[batch].alertmanager_url: not set, so an alert that its Alertmanager receiver's max_alerts leaves out") {
		t.Fatalf("the start's log does not say what fingerprint mode loses without it: %s", h.logs.String())
	}
	auth := []string{"Authorization", "Bearer " + amKey}
	h.do("POST", "/api/v1/alertmanager", amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"}), auth...)
	id := h.list("")[0].ID
	h.do("POST", "/api/v1/alertmanager", amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}), auth...)
	if _, err := h.store.GetJob(context.Background(), amresolve.JobKind, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a check job without an Alertmanager URL: %v", err)
	}
	h.runUntil(h.clock.Now().Add(5 * time.Minute))
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("%s, want triggered", v.Status)
	}
}

// TestWithheldResolveKeepsAlertmanagerPasswordSecret: an alertmanager_url
// with credentials (http://user:password@host, sent as basic auth, as
// for an Alertmanager behind an authenticating proxy) is asked with them,
// but the password shows in no timeline entry (any API token and the
// console read those) and no log line: they name the Alertmanager with
// the password blanked.
func TestWithheldResolveKeepsAlertmanagerPasswordSecret(t *testing.T) {
	const password = "s3cret-am-pass"
	am := &fakeAlertmanagerAPI{down: true}
	h, id := withheldHarnessAt(t, am, 1, func(u string) string { return strings.Replace(u, "http://", "http://pagerd:"+password+"@", 1) })
	start := h.clock.Now()
	h.step(start)
	am.set(1, false)
	h.runUntil(start.Add(amresolve.RecheckEvery + time.Second))
	am.set(0, false)
	h.runUntil(h.clock.Now().Add(amresolve.RecheckEvery))
	v := h.incident(id)
	if v.Status != "resolved" {
		t.Fatalf("%s, want resolved; timeline %+v", v.Status, v.Timeline)
	}
	if am.auth != "pagerd:"+password {
		t.Fatalf("Alertmanager was asked with basic auth %q, want the URL's", am.auth)
	}
	types := entryCounts(v)
	for _, typ := range []string{"resolve_withheld", amresolve.EntryUnconfirmed, amresolve.EntryStillFiring, amresolve.EntryConfirmed} {
		if types[typ] != 1 {
			t.Fatalf("timeline %+v: want one %s", v.Timeline, typ)
		}
	}
	for _, e := range v.Timeline {
		if strings.Contains(e.Detail, password) {
			t.Errorf("the %s entry shows the password: %q", e.Type, e.Detail)
		}
		if e.Type == amresolve.EntryConfirmed && !strings.Contains(e.Detail, "http://pagerd:xxxxx@") {
			t.Errorf("the %s entry does not name the Alertmanager: %q", e.Type, e.Detail)
		}
	}
	if strings.Contains(h.logs.String(), password) {
		t.Errorf("the log shows the password")
	}
}

// fingerprintHarness is a daemon whose service batch (incident_key:
// fingerprint) names the fake Alertmanager, with an incident each for
// alerts api-1 and api-2 of group HighErrorRate (fingerprints fp-api-1,
// fp-api-2), and then the group's notification cut to max_alerts 2:
// api-0, sorted before them, pushed api-2 out (truncatedAlerts 1). It
// returns the incidents by instance (the group's overflow incident, which
// holds the alert left out, is not among them). n is the number of replicas'
// dispatchers.
func fingerprintHarness(t *testing.T, am *fakeAlertmanagerAPI, n int, opts ...option) (*harness, map[string]string) {
	t.Helper()
	srv := httptest.NewServer(am)
	t.Cleanup(srv.Close)
	cfg := strings.Replace(testConfig, "    incident_key: fingerprint\n", "    incident_key: fingerprint\n    alertmanager_url: "+srv.URL+"\n", 1)
	h := newHarness(t, append([]option{withConfig(cfg), replicas(n)}, opts...)...)
	auth := []string{"Authorization", "Bearer " + batchKey}
	if r := h.do("POST", "/api/v1/alertmanager", amTruncated("firing", 0, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"}), auth...); r.code != 200 {
		t.Fatalf("firing: %d %s", r.code, r.body)
	}
	if r := h.do("POST", "/api/v1/alertmanager", amTruncated("firing", 1, [2]string{"api-0", "firing"}, [2]string{"api-1", "firing"}), auth...); r.code != 200 {
		t.Fatalf("firing, cut: %d %s", r.code, r.body)
	}
	ids := map[string]string{}
	for _, v := range h.list("") {
		if strings.HasSuffix(v.DedupKey, "#overflow") {
			continue // holds the alert left out, which may fire
		}
		ids[strings.TrimPrefix(v.DedupKey, `am:{}:{alertname="HighErrorRate"}:fp-`)] = v.ID
	}
	if len(ids) != 3 || ids["api-0"] == "" || ids["api-1"] == "" || ids["api-2"] == "" {
		t.Fatalf("incidents %v, want one for each of api-0, api-1, api-2", ids)
	}
	return h, ids
}

// TestFingerprintModeAlertLeftOutByMaxAlertsResolves: in fingerprint
// mode, an alert whose incident is open and that Alertmanager's
// max_alerts then left out of its group's notifications is reported
// neither firing nor resolved: when it resolved, its incident stayed open,
// and paged, for good. A cut notification now has pagerd ask Alertmanager
// once which alerts of the group fire: the incident of api-2, which no
// longer does, is resolved, once, across two replicas; those of api-0
// and api-1, which still fire, stay open; nothing is asked after.
func TestFingerprintModeAlertLeftOutByMaxAlertsResolves(t *testing.T) {
	am := &fakeAlertmanagerAPI{active: []string{"fp-api-0", "fp-api-1"}}
	h, ids := fingerprintHarness(t, am, 2)
	h.step(h.clock.Now())
	v := h.incident(ids["api-2"])
	if v.Status != "resolved" || v.ResolvedBy != "alertmanager" {
		t.Fatalf("api-2, left out and no longer firing: %s by %q, want resolved by alertmanager; timeline %+v", v.Status, v.ResolvedBy, v.Timeline)
	}
	if types := entryCounts(v); types[amresolve.EntryConfirmed] != 1 || types["resolve"] != 1 {
		t.Fatalf("timeline %+v: want one %s and one resolve", v.Timeline, amresolve.EntryConfirmed)
	}
	for _, e := range v.Timeline {
		if e.Type == amresolve.EntryConfirmed && !strings.Contains(e.Detail, "(fingerprint fp-api-2) fires no more") {
			t.Errorf("the %s entry does not name the alert: %q", e.Type, e.Detail)
		}
	}
	for _, inst := range []string{"api-0", "api-1"} {
		if v := h.incident(ids[inst]); v.Status != "triggered" || entryCounts(v)[amresolve.EntryConfirmed] != 0 {
			t.Fatalf("%s, still firing: %s, want triggered; timeline %+v", inst, v.Status, v.Timeline)
		}
	}
	// Twice for the firing notification that cut the group: which of
	// its alerts fire, and which active ones lack an incident (the
	// overflow check, am_overflow).
	askedTwiceForTheGroup(t, am)
	h.runUntil(h.clock.Now().Add(10 * time.Minute))
	if n := len(am.asked()); n != 2 {
		t.Fatalf("Alertmanager asked %d times, want 2: the next cut notification asks again", n)
	}
	if got := entryCounts(h.incident(ids["api-2"])); got["resolve"] != 1 {
		t.Fatalf("resolved %d times", got["resolve"])
	}
	for _, inst := range []string{"api-0", "api-1"} {
		if v := h.incident(ids[inst]); v.Status != "triggered" && v.Status != "acknowledged" {
			t.Fatalf("%s: %s, want open", inst, v.Status)
		}
	}
}

// TestFingerprintModeAlertLeftOutStaysOpenUntilAlertmanagerConfirms:
// while Alertmanager cannot be asked, or has just started (and knows only
// the alerts Prometheus has sent it again since), an incident whose alert
// it does not list stays open and pagerd asks again every minute; then it
// is resolved.
func TestFingerprintModeAlertLeftOutStaysOpenUntilAlertmanagerConfirms(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(am *fakeAlertmanagerAPI, now time.Time)
	}{
		{"Alertmanager unreachable", func(am *fakeAlertmanagerAPI, _ time.Time) { am.set(0, true) }},
		{"its status unreadable", func(am *fakeAlertmanagerAPI, _ time.Time) { am.statusDown = true }},
		{"Alertmanager started 30s ago", func(am *fakeAlertmanagerAPI, now time.Time) { am.startedAt(now.Add(-30 * time.Second)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			am := &fakeAlertmanagerAPI{active: []string{"fp-api-0", "fp-api-1"}}
			tc.fault(am, fixedNow)
			h, ids := fingerprintHarness(t, am, 1)
			start := h.clock.Now()
			h.runUntil(start.Add(3*amresolve.RecheckEvery + time.Second))
			if v := h.incident(ids["api-2"]); v.Status != "triggered" {
				t.Fatalf("%s, want triggered; timeline %+v", v.Status, v.Timeline)
			}
			// The overflow check (am_overflow) asks once more, at once;
			// not believed, it opens the overflow incident, which is
			// asked about again every minute too (askAgain).
			if n := len(am.asked()); n != 8 {
				t.Fatalf("Alertmanager asked %d times in 3 minutes, want 8 (twice at once, then twice every minute)", n)
			}
			if !strings.Contains(h.logs.String(), "Alertmanager's answer is not trusted") {
				t.Fatalf("the log does not say why the incidents stay open")
			}
			am.set(0, false)
			am.startedAt(time.Time{})
			h.runUntil(h.clock.Now().Add(amresolve.RecheckEvery))
			if v := h.incident(ids["api-2"]); v.Status != "resolved" {
				t.Fatalf("once Alertmanager answered: %s, want resolved; timeline %+v", v.Status, v.Timeline)
			}
			if v := h.incident(ids["api-1"]); v.Status == "resolved" {
				t.Fatalf("api-1, still firing, was resolved")
			}
		})
	}
}

// TestAutoResolveNoteAtReload: a reload that takes a service's
// alertmanager_url away logs the note start would have logged; it was
// logged at start only, so a service that lost its URL at a reload went
// unmentioned while its cut groups could no longer resolve.
func TestAutoResolveNoteAtReload(t *testing.T) {
	h, _ := withheldHarness(t, &fakeAlertmanagerAPI{}, 1)
	note := "services[api].alertmanager_url: not set"
	if strings.Contains(h.logs.String(), note) {
		t.Fatalf("noted at start with the URL set:\n%s", h.logs.String())
	}
	if err := h.reload(testConfig); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.logs.String(), note) {
		t.Fatalf("the reload that took the URL away logs no note:\n%s", h.logs.String())
	}
}

// TestWithheldNoteStoredThenRefusedIsNotNothingStored: a withheld
// resolve's note is stored, then its check is refused: the 503 asks
// Alertmanager to retry, but must not say nothing was stored, since the
// incident's timeline holds the note.
func TestWithheldNoteStoredThenRefusedIsNotNothingStored(t *testing.T) {
	am := &fakeAlertmanagerAPI{}
	am.set(3, false)
	fs := &faultyStore{Store: boltStore(t)}
	h, id := withheldHarness(t, am, 1, withStore(fs))
	before := entryCounts(h.incident(id))["resolve_withheld"]
	fs.refuseJobs.Store(true)
	r := h.do("POST", "/api/v1/alertmanager", amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}),
		"Authorization", "Bearer "+amKey)
	after := entryCounts(h.incident(id))["resolve_withheld"]
	if after != before+1 {
		t.Fatalf("resolve_withheld notes %d -> %d, want one more (answer %d %s)", before, after, r.code, r.body)
	}
	if r.code != http.StatusServiceUnavailable || strings.Contains(r.body, "nothing was stored") {
		t.Fatalf("answer %d %q, want a 503 that does not say nothing was stored", r.code, strings.TrimSpace(r.body))
	}
}

// TestCutCheckStoredThenRefusedIsNotNothingStored: in fingerprint mode, a
// notification Alertmanager cut to max_alerts stores the check of the
// alerts it left out; then the look for the group's overflow incident is
// refused. The 503 asks Alertmanager to retry, but must not say nothing
// was stored: the check was.
func TestCutCheckStoredThenRefusedIsNotNothingStored(t *testing.T) {
	am := &fakeAlertmanagerAPI{}
	srv := httptest.NewServer(am)
	t.Cleanup(srv.Close)
	fs := &faultyStore{Store: boltStore(t), refuseFind: func(k string) bool { return strings.HasSuffix(k, "#overflow") }}
	cfg := strings.Replace(testConfig, "    incident_key: fingerprint\n", "    incident_key: fingerprint\n    alertmanager_url: "+srv.URL+"\n", 1)
	h := newHarness(t, withConfig(cfg), withStore(fs), replicas(0))
	r := h.do("POST", "/api/v1/alertmanager", amTruncated("resolved", 1, [2]string{"api-9", "resolved"}), "Authorization", "Bearer "+batchKey)
	if r.code != http.StatusServiceUnavailable || strings.Contains(r.body, "nothing was stored") {
		t.Fatalf("answer %d %q, want a 503 that does not say nothing was stored", r.code, strings.TrimSpace(r.body))
	}
	// Due now (the mark of the group's resolve, GroupResolved, is due
	// later).
	cs, err := fs.Store.ClaimDue(context.Background(), fixedNow.Add(time.Minute), time.Minute, 10)
	if err != nil || len(cs) != 1 || cs[0].Job == nil || cs[0].Job.Kind != amresolve.JobKindGroup {
		t.Fatalf("due: %+v, %v; want the check of the alerts left out", cs, err)
	}
}
