package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
)

// fakeSilences is Alertmanager's silences API v2 as pagerd uses it:
// POST /api/v2/silences answers {"silenceID"} (400 for a matcher
// Alertmanager would refuse), DELETE /api/v2/silence/{id} expires one (404
// for one it does not know), GET /api/v2/silences lists them all with
// their state. It matches alerts as Alertmanager does, so a test can ask
// which alerts its silences silence. Given alerts, that handler answers
// the list of alerts and the status (fakeAlertmanagerAPI).
type fakeSilences struct {
	url string

	mu       sync.Mutex
	silences []fakeSilence
	// posts counts the POSTs; failPost is the number of the one that
	// answers 500 instead of making a silence (0: none).
	posts, failPost int
	// failDelete makes every DELETE answer 500.
	failDelete bool
}

type fakeSilence struct {
	ID       string
	Matchers []struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		IsRegex bool   `json:"isRegex"`
		IsEqual bool   `json:"isEqual"`
	} `json:"matchers"`
	CreatedBy string `json:"createdBy"`
	Comment   string `json:"comment"`
	Expired   bool
}

func newFakeSilences(t *testing.T, alerts ...http.Handler) *fakeSilences {
	t.Helper()
	f := &fakeSilences{}
	mux := http.NewServeMux()
	for _, h := range alerts {
		mux.Handle("GET /api/v2/alerts", h)
		mux.Handle("GET /api/v2/status", h)
	}
	mux.HandleFunc("POST /api/v2/silences", func(w http.ResponseWriter, r *http.Request) {
		var s fakeSilence
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil || len(s.Matchers) == 0 {
			http.Error(w, "bad silence", http.StatusBadRequest)
			return
		}
		for _, m := range s.Matchers {
			if _, err := regexp.Compile("^(?:" + m.Value + ")$"); m.IsRegex && err != nil {
				http.Error(w, "invalid regex", http.StatusBadRequest)
				return
			}
		}
		f.mu.Lock()
		f.posts++
		if f.posts == f.failPost {
			f.mu.Unlock()
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		s.ID = fmt.Sprintf("sil-%d", len(f.silences)+1)
		f.silences = append(f.silences, s)
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"silenceID": s.ID})
	})
	mux.HandleFunc("GET /api/v2/silences", func(w http.ResponseWriter, r *http.Request) {
		type status struct {
			State string `json:"state"`
		}
		type listed struct {
			fakeSilence
			ID     string `json:"id"`
			Status status `json:"status"`
		}
		out := []listed{}
		for _, s := range f.posted() {
			state := "active"
			if s.Expired {
				state = "expired"
			}
			out = append(out, listed{fakeSilence: s, ID: s.ID, Status: status{state}})
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("DELETE /api/v2/silence/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failDelete {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		for i := range f.silences {
			if f.silences[i].ID == r.PathValue("id") {
				f.silences[i].Expired = true
				return
			}
		}
		http.Error(w, "silence not found", http.StatusNotFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// posted are the silences made so far.
func (f *fakeSilences) posted() []fakeSilence {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeSilence(nil), f.silences...)
}

// silencedBy names the active silences that match an alert's labels, as
// Alertmanager matches them (a regex is anchored at both ends; a label
// the alert lacks has the empty value).
func (f *fakeSilences) silencedBy(labels map[string]string) []string {
	var ids []string
	for _, s := range f.posted() {
		matches := !s.Expired
		for _, m := range s.Matchers {
			v := labels[m.Name]
			if m.IsRegex {
				matches = matches && regexp.MustCompile("^(?:"+m.Value+")$").MatchString(v)
			} else {
				matches = matches && v == m.Value
			}
		}
		if matches {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// silenceConfig is testConfig with the api service silencing its
// acknowledged incidents at url.
func silenceConfig(url string) string {
	return strings.Replace(testConfig, "    targets:\n      P0: {acknowledge: 5m}\n",
		"    silence_on_acknowledge: {alertmanager_url: '"+url+"', duration: 2h}\n    targets:\n      P0: {acknowledge: 5m}\n", 1)
}

// TestSilenceOnAcknowledgeSaysWhatIsNotSilenced: acknowledging an incident
// silences in Alertmanager only the alerts its details kept, and the
// timeline says how many of the group's firing alerts that is and why the
// others are not silenced. A kept alert whose label value pagerd cut is
// silenced by a regex on the kept part, which matches the alert as
// Alertmanager holds it (an equality matcher on the cut value would match
// nothing); one whose label name was cut gets no silence and the timeline
// says so. Resolving expires exactly the silences made.
func TestSilenceOnAcknowledgeSaysWhatIsNotSilenced(t *testing.T) {
	// The value holds a newline past the cut: the regex must match it too.
	longValue := "/var/lib/" + strings.Repeat("x", 2*ingest.MaxLabelBytes) + "\n(tail)"
	longName := "n" + strings.Repeat("a", ingest.MaxLabelBytes+100)
	alert := func(i int) map[string]string {
		return map[string]string{"alertname": "DiskFull", "severity": "critical", "instance": fmt.Sprintf("db%02d", i)}
	}
	cutValue, cutName := alert(2), alert(4)
	cutValue["path"] = longValue
	cutName[longName] = "x"

	for _, tc := range []struct {
		name   string
		alerts []map[string]string
		// silenced are the indexes of the alerts the silences must
		// silence, all others must not be.
		silenced  []int
		entryType string
		says      []string
	}{
		{
			name: "more alerts than kept, a cut value and a cut name",
			alerts: func() []map[string]string {
				as := []map[string]string{alert(0), alert(1), cutValue, alert(3), cutName}
				for i := 5; i < 57; i++ {
					as = append(as, alert(i))
				}
				return as
			}(),
			silenced:  []int{0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19},
			entryType: "silenced",
			says: []string{
				"silenced 19 of 57 firing alerts; 37 were not kept (pagerd keeps at most 20 alerts of a group) and are not silenced",
				`1 alert silenced by a regex on the first KiB of label "path", all pagerd kept of the value`,
				"1 alert kept but not silenced: pagerd cut a label name, and a silence needs the whole name",
			},
		},
		{
			name: "more alerts than kept",
			alerts: func() []map[string]string {
				var as []map[string]string
				for i := range 57 {
					as = append(as, alert(i))
				}
				return as
			}(),
			silenced:  []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19},
			entryType: "silenced",
			says:      []string{"silenced 20 of 57 firing alerts; the other 37 were not kept (pagerd keeps at most 20 alerts of a group) and are not silenced; for {"},
		},
		{
			name:      "every alert kept",
			alerts:    []map[string]string{alert(0), alert(1)},
			silenced:  []int{0, 1},
			entryType: "silenced",
			says:      []string{"(until 2025-09-10T08:00:00Z): silenced 2 of 2 firing alerts; for {"},
		},
		{
			name:      "nothing that can be silenced",
			alerts:    []map[string]string{cutName},
			entryType: "not_silenced",
			says: []string{"No Alertmanager silences made: silenced 0 of 1 firing alert; " +
				"1 alert kept but not silenced: pagerd cut a label name, and a silence needs the whole name"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			am := newFakeSilences(t)
			h := newHarness(t, withConfig(silenceConfig(am.url)))
			id := fireAndAcknowledge(t, h, "g-"+tc.name, tc.alerts...)

			want := map[int]bool{}
			for _, i := range tc.silenced {
				want[i] = true
			}
			for i, labels := range tc.alerts {
				if by := am.silencedBy(labels); (len(by) == 1) != want[i] {
					t.Errorf("alert %d (%d labels) silenced by %v, want silenced: %v", i, len(labels), by, want[i])
				}
			}
			if got := len(am.posted()); got != len(tc.silenced) {
				t.Errorf("%d silences posted, want %d", got, len(tc.silenced))
			}
			for _, s := range am.posted() {
				if s.CreatedBy != "pagerd" || !strings.Contains(s.Comment, id) {
					t.Errorf("silence %s by %q, comment %q", s.ID, s.CreatedBy, s.Comment)
				}
				for _, m := range s.Matchers {
					// Only the cut value is matched by a regex, on what
					// pagerd kept of it.
					if m.IsRegex != (m.Name == "path") || !m.IsEqual {
						t.Errorf("silence %s: matcher %s isRegex %v isEqual %v", s.ID, m.Name, m.IsRegex, m.IsEqual)
					}
					if m.IsRegex && !strings.HasPrefix(m.Value, regexp.QuoteMeta("/var/lib/xxx")) {
						t.Errorf("silence %s: regex %.40q… is not on the kept prefix", s.ID, m.Value)
					}
				}
			}

			e := lastEntry(t, h, id, tc.entryType)
			for _, s := range tc.says {
				if !strings.Contains(e.Detail, s) {
					t.Errorf("timeline %s says %q\nwant it to say %q", e.Type, e.Detail, s)
				}
			}
			if logged := fmt.Sprintf(`"silenced":%d,"firing":%d,"detail":"`, len(tc.silenced), len(tc.alerts)); !strings.Contains(h.logs.String(), logged) {
				t.Errorf("no log line with %s", logged)
			}

			if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("resolve: %d %s", r.code, r.body)
			}
			h.step(h.clock.Now())
			for _, s := range am.posted() {
				if !s.Expired {
					t.Errorf("silence %s not expired on resolve", s.ID)
				}
			}
			if len(tc.silenced) > 0 {
				lastEntry(t, h, id, "unsilenced")
			}
		})
	}
}

// TestSilencesOfAFailedTryDoNotOutliveTheIncident: when one of an
// incident's silences cannot be made, those made in the same try stay in
// Alertmanager and the timeline does not name them. The retry reuses them
// (no duplicates), and a resolve expires them, also when it comes before
// the retry: left in place, they would mute the alerts when they fire
// again, and nobody would be paged.
func TestSilencesOfAFailedTryDoNotOutliveTheIncident(t *testing.T) {
	alerts := []map[string]string{
		{"alertname": "DiskFull", "instance": "db01"},
		{"alertname": "DiskFull", "instance": "db02"},
		{"alertname": "DiskFull", "instance": "db03"},
	}
	for _, retry := range []bool{true, false} {
		t.Run(fmt.Sprintf("retried first: %v", retry), func(t *testing.T) {
			am := newFakeSilences(t)
			am.failPost = 3
			h := newHarness(t, withConfig(silenceConfig(am.url)))
			id := fireAndAcknowledge(t, h, "g-partial", alerts...)
			if got := len(am.posted()); got != 2 {
				t.Fatalf("%d silences made by the failed try, want 2", got)
			}
			for _, e := range h.incident(id).Timeline {
				if e.Type == "silenced" {
					t.Fatalf("the failed try recorded %s", e.Detail)
				}
			}
			if retry {
				h.step(h.clock.Now().Add(time.Minute))
				if got := len(am.posted()); got != 3 {
					t.Errorf("%d silences after the retry, want 3: the retry must reuse the 2 made", got)
				}
				for i, labels := range alerts {
					if by := am.silencedBy(labels); len(by) != 1 {
						t.Errorf("alert %d silenced by %v, want one silence", i, by)
					}
				}
				if e := lastEntry(t, h, id, "silenced"); !strings.Contains(e.Detail, "silenced 3 of 3 firing alerts") {
					t.Errorf("silenced entry: %s", e.Detail)
				}
			}
			if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("resolve: %d %s", r.code, r.body)
			}
			h.step(h.clock.Now())
			for _, s := range am.posted() {
				if !s.Expired {
					t.Errorf("silence %s (%s) not expired on resolve", s.ID, s.Comment)
				}
			}
			for i, labels := range alerts {
				if by := am.silencedBy(labels); len(by) != 0 {
					t.Errorf("alert %d still silenced by %v after the resolve", i, by)
				}
			}
			e := lastEntry(t, h, id, "unsilenced")
			if !retry && !strings.Contains(e.Detail, "2 silences Alertmanager listed for the incident, which the timeline did not record") {
				t.Errorf("unsilenced entry: %s", e.Detail)
			}
		})
	}
}

// fireAndAcknowledge sends a firing group, acknowledges its incident as ann
// and lets the dispatcher do what that owes; it returns the incident's id.
func fireAndAcknowledge(t *testing.T, h *harness, group string, alerts ...map[string]string) string {
	t.Helper()
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", group, alerts...), "Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	var res struct{ Incidents []string }
	r.json(t, &res)
	id := res.Incidents[0]
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("acknowledge: %d %s", r.code, r.body)
	}
	h.step(h.clock.Now())
	return id
}

// lastEntry is the incident's last timeline entry of type typ.
func lastEntry(t *testing.T, h *harness, id, typ string) store.Entry {
	t.Helper()
	tl := h.incident(id).Timeline
	for i := len(tl) - 1; i >= 0; i-- {
		if tl[i].Type == typ {
			return tl[i]
		}
	}
	t.Fatalf("no %s entry in the timeline: %v", typ, tl)
	return store.Entry{}
}

// TestSilencesExpireAfterTheSettingIsReloadedAway: the silences an
// acknowledgement made are expired when the incident resolves, at the
// Alertmanager they were made at, even when a reload took
// silence_on_acknowledge out of the service or pointed it at another
// Alertmanager meanwhile. Left active, they would mute the alerts when
// they fire again, for up to the silence's whole duration: nobody paged.
func TestSilencesExpireAfterTheSettingIsReloadedAway(t *testing.T) {
	alert := map[string]string{"alertname": "DiskFull", "instance": "db01"}
	other := newFakeSilences(t)
	for _, tc := range []struct {
		name   string
		reload func(string) string
	}{
		{"setting removed", func(string) string { return testConfig }},
		{"url changed", func(string) string { return silenceConfig(other.url) }},
	} {
		for st, mk := range stores(t) {
			t.Run(tc.name+"/"+st, func(t *testing.T) {
				am := newFakeSilences(t)
				h := newHarness(t, withStore(mk(t)), withConfig(silenceConfig(am.url)))
				id := fireAndAcknowledge(t, h, "g-reload-"+tc.name, alert)
				if by := am.silencedBy(alert); len(by) != 1 {
					t.Fatalf("alert silenced by %v after the acknowledgement, want one silence", by)
				}
				if err := h.reload(tc.reload(am.url)); err != nil {
					t.Fatalf("reload: %v", err)
				}
				if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"user":"ann"}`); r.code != 200 {
					t.Fatalf("resolve: %d %s", r.code, r.body)
				}
				h.step(h.clock.Now())
				if by := am.silencedBy(alert); len(by) != 0 {
					t.Errorf("alert still silenced by %v after the resolve", by)
				}
				if e := lastEntry(t, h, id, "unsilenced"); !strings.Contains(e.Detail, am.posted()[0].ID) {
					t.Errorf("unsilenced entry: %s", e.Detail)
				}
				if n := len(other.posted()); n != 0 {
					t.Errorf("%d silences made at the other Alertmanager", n)
				}
			})
		}
	}
}

// TestSilencesNotExpiredSayUntilWhen: silences whose expiry is given up
// (their Alertmanager refused for a day) still mute the alerts; the
// timeline and an error log say where and until when, to expire them by
// hand: where without the password of a URL that carries one (sent as
// basic auth), which any API token could read in the timeline.
func TestSilencesNotExpiredSayUntilWhen(t *testing.T) {
	const password = "s3cret-am-pass"
	for _, withPassword := range []bool{false, true} {
		t.Run(fmt.Sprintf("password %v", withPassword), func(t *testing.T) {
			alert := map[string]string{"alertname": "DiskFull", "instance": "db01"}
			am := newFakeSilences(t)
			url, shown := am.url, am.url
			if withPassword {
				url = strings.Replace(am.url, "http://", "http://pagerd:"+password+"@", 1)
				shown = strings.Replace(am.url, "http://", "http://pagerd:xxxxx@", 1)
			}
			h := newHarness(t, withConfig(silenceConfig(url)))
			id := fireAndAcknowledge(t, h, "g-given-up", alert)
			if err := h.reload(testConfig); err != nil {
				t.Fatalf("reload: %v", err)
			}
			am.mu.Lock()
			am.failDelete = true
			am.mu.Unlock()
			if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("resolve: %d %s", r.code, r.body)
			}
			h.runUntil(h.clock.Now().Add(26 * time.Hour))
			e := lastEntry(t, h, id, "silence_failed")
			for _, want := range []string{"expired after", shown, "until 2025-09-10T08:00:00Z"} {
				if !strings.Contains(e.Detail, want) {
					t.Errorf("silence_failed entry lacks %q: %s", want, e.Detail)
				}
			}
			logs := h.logs.String()
			if !strings.Contains(logs, `"level":"ERROR","msg":"Alertmanager silences of a resolved incident could not be expired`) {
				t.Errorf("no error log of the silences left active:\n%s", logs)
			}
			if strings.Contains(e.Detail, password) || strings.Contains(logs, password) {
				t.Errorf("the timeline or the log shows the password")
			}
		})
	}
}

// TestSilencesExpireWhenTheIncidentIsReopened: an acknowledged incident put
// back to triggered, by a person's escalation (the service's write) or by
// a missing_status_update rule at its step (the dispatcher's), has the
// silences its acknowledgement made expired, as at a resolve. Left in
// place, they would mute the alert's notifications, its resolve too,
// while the incident pages again, and the acknowledgement's check for an
// end stops at the reopen: it would page until the silences end. Another
// acknowledgement silences again, and the resolve expires that.
func TestSilencesExpireWhenTheIncidentIsReopened(t *testing.T) {
	alert := map[string]string{"alertname": "DiskFull", "instance": "db01"}
	for _, how := range []string{"escalated", "missing status update"} {
		for st, mk := range stores(t) {
			t.Run(how+"/"+st, func(t *testing.T) {
				am := newFakeSilences(t)
				cfg := silenceConfig(am.url)
				if how == "missing status update" {
					cfg = withMissingStatusUpdate(t, cfg, "10m")
				}
				h := newHarness(t, withStore(mk(t)), withConfig(cfg))
				id := fireAndAcknowledge(t, h, "g-reopen", alert)
				if by := am.silencedBy(alert); len(by) != 1 {
					t.Fatalf("alert silenced by %v after the acknowledgement, want one silence", by)
				}
				if how == "escalated" {
					if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann"}`); r.code != 200 {
						t.Fatalf("escalate: %d %s", r.code, r.body)
					}
					h.step(h.clock.Now())
				} else {
					h.runUntil(h.clock.Now().Add(11 * time.Minute))
				}
				if s := h.incident(id).Status; s != "triggered" {
					t.Fatalf("incident %s, want triggered again", s)
				}
				if by := am.silencedBy(alert); len(by) != 0 {
					t.Errorf("alert still silenced by %v after the reopen", by)
				}
				if e := lastEntry(t, h, id, "unsilenced"); !strings.Contains(e.Detail, "re-opened") {
					t.Errorf("unsilenced entry: %s", e.Detail)
				}
				if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
					t.Fatalf("acknowledge again: %d %s", r.code, r.body)
				}
				h.step(h.clock.Now())
				if by := am.silencedBy(alert); len(by) != 1 {
					t.Fatalf("alert silenced by %v after the second acknowledgement, want one silence", by)
				}
				if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"user":"ann"}`); r.code != 200 {
					t.Fatalf("resolve: %d %s", r.code, r.body)
				}
				h.step(h.clock.Now())
				if by := am.silencedBy(alert); len(by) != 0 {
					t.Errorf("alert still silenced by %v after the resolve", by)
				}
			})
		}
	}
}

// TestAcknowledgementBeforeAReopensExpiryKeepsItsSilence: a reopen's
// expiry that Alertmanager refused is retried later; an acknowledgement
// in between wants the silence, so the expiry is owed no more. Done after
// the acknowledgement's silence, it would expire it, and the alert would
// notify again while the incident is acknowledged.
func TestAcknowledgementBeforeAReopensExpiryKeepsItsSilence(t *testing.T) {
	alert := map[string]string{"alertname": "DiskFull", "instance": "db01"}
	for st, mk := range stores(t) {
		t.Run(st, func(t *testing.T) {
			am := newFakeSilences(t)
			h := newHarness(t, withStore(mk(t)), withConfig(silenceConfig(am.url)))
			id := fireAndAcknowledge(t, h, "g-reack", alert)
			am.mu.Lock()
			am.failDelete = true
			am.mu.Unlock()
			if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("escalate: %d %s", r.code, r.body)
			}
			h.step(h.clock.Now())
			if by := am.silencedBy(alert); len(by) != 1 {
				t.Fatalf("alert silenced by %v, want the silence Alertmanager refused to expire", by)
			}
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("acknowledge again: %d %s", r.code, r.body)
			}
			am.mu.Lock()
			am.failDelete = false
			am.mu.Unlock()
			h.runUntil(h.clock.Now().Add(10 * time.Minute))
			if by := am.silencedBy(alert); len(by) != 1 {
				t.Errorf("alert silenced by %v while acknowledged again, want one silence", by)
			}
			if s := h.incident(id).Status; s != "acknowledged" {
				t.Errorf("incident %s, want acknowledged", s)
			}
		})
	}
}

// withMissingStatusUpdate adds a missing_status_update rule for every
// priority of the api service to cfg's policy (and takes out the batch
// service, of another scheme): an acknowledged incident without a status
// update for after is re-opened at the next level.
func withMissingStatusUpdate(t *testing.T, cfg, after string) string {
	t.Helper()
	const secondary = "      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n"
	out := strings.Replace(cfg, secondary, secondary+"    missing_status_update: [{priorities: [P0, P1, P2, P3], after: "+after+"}]\n", 1)
	batch := strings.Index(out, "  - name: batch\n")
	if out == cfg || batch < 0 {
		t.Fatal("config edit did not apply")
	}
	return out[:batch]
}

// TestReopenedIncidentWhoseSilenceIsNotExpiredYetIsNotResolvedByTheGroup:
// in group mode, db01's incident is acknowledged (pagerd silences db01)
// and db02 joins the group, notified alone (db01 is muted): a repeat,
// whose details name db02 only. The incident is re-opened, and the
// expiry of db01's silence is refused by Alertmanager (retried). db02
// resolves, and Alertmanager sends the group as resolved, db01 muted by
// pagerd's own silence. No longer acknowledged, the incident was resolved
// on it while db01 fired, muted: nobody paged until the expiry went
// through or the silence ended. It now stays open and paging, as an
// acknowledged one does, until Alertmanager lists none of the group.
func TestReopenedIncidentWhoseSilenceIsNotExpiredYetIsNotResolvedByTheGroup(t *testing.T) {
	db01 := map[string]string{"alertname": "DiskFull", "instance": "db01"}
	db02 := map[string]string{"alertname": "DiskFull", "instance": "db02"}
	for st, mk := range stores(t) {
		t.Run(st, func(t *testing.T) {
			alerts := &fakeAlertmanagerAPI{firing: 1, state: "suppressed"}
			am := newFakeSilences(t, alerts)
			h := newHarness(t, withStore(mk(t)), withConfig(silenceConfig(am.url)))
			id := fireAndAcknowledge(t, h, "g-mute", db01)
			if by := am.silencedBy(db01); len(by) != 1 {
				t.Fatalf("db01 silenced by %v after the acknowledgement, want one silence", by)
			}
			if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g-mute", db02), "Authorization", "Bearer "+amKey); r.code != 200 {
				t.Fatalf("db02 firing: %d %s", r.code, r.body)
			}
			am.mu.Lock()
			am.failDelete = true
			am.mu.Unlock()
			if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("escalate: %d %s", r.code, r.body)
			}
			h.step(h.clock.Now())
			if by := am.silencedBy(db01); len(by) != 1 {
				t.Fatalf("db01 silenced by %v, want the silence Alertmanager refused to expire", by)
			}
			if r := h.do("POST", "/api/v1/alertmanager", amPayload("resolved", "g-mute", db02), "Authorization", "Bearer "+amKey); r.code != 200 {
				t.Fatalf("group resolved: %d %s", r.code, r.body)
			}
			h.runUntil(h.clock.Now().Add(3 * time.Minute))
			if v := h.incident(id); v.Status != "triggered" {
				t.Fatalf("re-opened, db01 muted by pagerd's silence not expired yet: %s, want triggered; timeline %+v", v.Status, v.Timeline)
			}
		})
	}
}
