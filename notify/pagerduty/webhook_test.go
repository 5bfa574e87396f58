package pagerduty_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// receiver records what a webhook asked of pagerd.
type receiver struct {
	notify.Receiver
	acted []string
	// reopened is the incident's reopen count: an acknowledgement of a
	// page with a lower one changes nothing (ReopenedSince).
	reopened int
	// gone are people no longer in the config.
	gone map[string]bool
	// resolved: the incident is resolved in pagerd already.
	resolved bool
	// notes are what NotApplied was asked to note.
	notes []string
}

func (r *receiver) Act(_ context.Context, target, user string, a notify.Action) (notify.Acted, error) {
	r.acted = append(r.acted, target+" "+user+" "+string(a))
	return notify.Acted{Changed: true, Incident: target}, nil
}

func (r *receiver) EscalateFrom(_ context.Context, user string, p notify.Page) (notify.Acted, error) {
	r.acted = append(r.acted, p.Target+" "+user+" escalate")
	return notify.Acted{Changed: true, Incident: p.Target}, nil
}

func (r *receiver) AcknowledgePage(ctx context.Context, user string, p notify.Page) (notify.Acted, error) {
	if p.Reopened < r.reopened {
		return notify.Acted{Incident: p.Target, ReopenedSince: true}, nil
	}
	return r.Act(ctx, p.Target, user, notify.Acknowledge)
}

func (r *receiver) ResolvePage(ctx context.Context, user string, p notify.Page) (notify.Acted, error) {
	return r.Act(ctx, p.Target, user, notify.Resolve)
}

func (r *receiver) NotApplied(_ context.Context, user string, p notify.Page, a notify.Action, why string) (notify.Acted, error) {
	if r.resolved {
		return notify.Acted{Incident: p.Target, AlreadyResolved: true}, nil
	}
	r.notes = append(r.notes, p.Target+" "+user+" "+string(a)+" by "+p.By+": "+why)
	return notify.Acted{Incident: p.Target}, nil
}

func (r *receiver) KnowsUser(user string) bool { return !r.gone[user] }

func (r *receiver) FirstAnswer(context.Context, string) (bool, error) { return true, nil }

// PagedVia: carol's alert of every incident was pushed to her.
func (r *receiver) PagedVia(_ context.Context, _, user, via string) (bool, error) {
	return user == "carol" && via == "pagerduty", nil
}

// postWebhook has wh take a signed webhook of eventType for carol's alert
// of incident 01incident keyed with the reopen count, and returns its
// status.
func postWebhook(t *testing.T, wh *pagerduty.Webhook, eventType string, reopened int) int {
	t.Helper()
	return postWebhookBy(t, wh, eventType, reopened, `"agent":{"id":"PCAROL1","summary":"Carol","type":"user_reference"},`)
}

// postWebhookBy is postWebhook with the event's agent as given (a JSON
// member and its comma, or "" for none).
func postWebhookBy(t *testing.T, wh *pagerduty.Webhook, eventType string, reopened int, agent string) int {
	t.Helper()
	body := `{"event":{"id":"01ABC","event_type":"` + eventType + `","occurred_at":"2025-09-10T06:00:00Z",` + agent + `"data":{"id":"Q1","type":"incident","incident_key":"` +
		pagerduty.DedupKey("01incident", "carol", reopened) + `"}}}`
	r := httptest.NewRequest(http.MethodPost, pagerduty.WebhookPath, strings.NewReader(body))
	r.Header.Set("X-PagerDuty-Signature", providertest.PagerDutySign([]byte(body), providertest.PagerDutyWebhookSecret))
	w := httptest.NewRecorder()
	if err := wh.ServeWebhook(w, r); err != nil {
		t.Fatalf("%s: %v", eventType, err)
	}
	return w.Code
}

// TestWebhookEscalatedChangesNothing: PagerDuty's incident.escalated is
// its own escalation policy moving the incident pagerd pushed to one
// person, not that person asking pagerd to escalate. It is accepted and
// acts on nothing (the ladder goes on in pagerd), however often it is
// delivered; incident.acknowledged on the same incident acts.
func TestWebhookEscalatedChangesNothing(t *testing.T) {
	rec := &receiver{}
	wh := &pagerduty.Webhook{Receiver: rec, Secret: func() string { return providertest.PagerDutyWebhookSecret }}
	post := func(eventType string) int { return postWebhook(t, wh, eventType, 0) }
	for range 2 {
		if code := post("incident.escalated"); code != http.StatusNoContent {
			t.Fatalf("incident.escalated: %d, want 204", code)
		}
	}
	if len(rec.acted) != 0 {
		t.Fatalf("incident.escalated acted: %v", rec.acted)
	}
	if code := post("incident.acknowledged"); code != http.StatusNoContent || len(rec.acted) != 1 || rec.acted[0] != "01incident carol acknowledge" {
		t.Fatalf("incident.acknowledged: %d, acted %v", code, rec.acted)
	}
}

// TestWebhookAcknowledgementOfAnAlertBeforeTheReopen: the webhook passes
// the count its dedup key carries with an acknowledgement; one of an alert
// from before the incident's latest reopen acts on nothing, is answered
// 204 (PagerDuty must not deliver it again) and logged at INFO. A resolve
// from the same old alert resolves.
func TestWebhookAcknowledgementOfAnAlertBeforeTheReopen(t *testing.T) {
	rec := &receiver{reopened: 1}
	var logs bytes.Buffer
	wh := &pagerduty.Webhook{Receiver: rec, Secret: func() string { return providertest.PagerDutyWebhookSecret },
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	post := func(eventType string, reopened int) int { return postWebhook(t, wh, eventType, reopened) }
	if code := post("incident.acknowledged", 0); code != http.StatusNoContent || len(rec.acted) != 0 {
		t.Fatalf("acknowledgement of the alert before the reopen: %d, acted %v", code, rec.acted)
	}
	if !strings.Contains(logs.String(), "level=INFO") || !strings.Contains(logs.String(), "not applied") {
		t.Fatalf("not logged at INFO: %q", logs.String())
	}
	if code := post("incident.acknowledged", 1); code != http.StatusNoContent || len(rec.acted) != 1 || rec.acted[0] != "01incident carol acknowledge" {
		t.Fatalf("acknowledgement of the alert after the reopen: %d, acted %v", code, rec.acted)
	}
	if code := post("incident.resolved", 0); code != http.StatusNoContent || len(rec.acted) != 2 || rec.acted[1] != "01incident carol resolve" {
		t.Fatalf("resolve from the alert before the reopen: %d, acted %v", code, rec.acted)
	}
}

// TestWebhookForAPersonNoLongerInTheConfigIsLogged: an acknowledgement of
// an alert pushed to a person a reload has taken out of the config since
// acts on nothing (nobody pagerd knows acts) and is answered 204, but is
// logged at WARN, where it was dropped in silence: someone acknowledged in
// PagerDuty and pagerd's ladder went on paging the next level.
func TestWebhookForAPersonNoLongerInTheConfigIsLogged(t *testing.T) {
	rec := &receiver{gone: map[string]bool{"carol": true}}
	var logs bytes.Buffer
	wh := &pagerduty.Webhook{Receiver: rec, Secret: func() string { return providertest.PagerDutyWebhookSecret },
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if code := postWebhook(t, wh, "incident.acknowledged", 0); code != http.StatusNoContent || len(rec.acted) != 0 {
		t.Fatalf("acknowledgement for a person no longer in the config: %d, acted %v", code, rec.acted)
	}
	if got := logs.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "no longer in the config") ||
		!strings.Contains(got, "user=carol") || !strings.Contains(got, "incident=01incident") {
		t.Fatalf("not logged at WARN with the incident and person: %q", got)
	}
}

// TestWebhookResolveNotByAPersonIsNotApplied: a PagerDuty service's
// auto-resolve timeout (4 hours by default on many services) resolves
// PagerDuty's incident by itself, and its incident.resolved (agent the
// service, or none) resolved pagerd's incident, whose problem was still
// there: its unresolved rules and status-update escalations stopped and
// nobody was paged for them. Only a person's resolve (agent a user's
// reference) acts; any other is answered 204 (PagerDuty must not deliver
// it again), acts on nothing, is noted in the incident's timeline and
// logged at WARN naming the incident and the agent. Once pagerd's
// incident is resolved (pagerd's own resolve coming back), it is neither.
func TestWebhookResolveNotByAPersonIsNotApplied(t *testing.T) {
	for name, agent := range map[string]string{
		"a service's auto-resolve": `"agent":{"id":"PF9KMXH","summary":"API Service","type":"service_reference"},`,
		"an integration":           `"agent":{"id":"PINTEG1","summary":"Events API v2","type":"generic_events_api_inbound_integration_reference"},`,
		"no agent":                 ``,
		"an agent of no type":      `"agent":{"summary":"Carol"},`,
	} {
		t.Run(name, func(t *testing.T) {
			rec := &receiver{}
			var logs bytes.Buffer
			wh := &pagerduty.Webhook{Receiver: rec, Secret: func() string { return providertest.PagerDutyWebhookSecret },
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			if code := postWebhookBy(t, wh, "incident.resolved", 0, agent); code != http.StatusNoContent || len(rec.acted) != 0 {
				t.Fatalf("resolve by %s: %d, acted %v", name, code, rec.acted)
			}
			if len(rec.notes) != 1 || !strings.HasPrefix(rec.notes[0], "01incident carol resolve by ") || !strings.Contains(rec.notes[0], "stays open") {
				t.Fatalf("not noted in the incident's timeline: %q", rec.notes)
			}
			got := logs.String()
			if !strings.Contains(got, "level=WARN") || !strings.Contains(got, "not made by a person") || !strings.Contains(got, "stays open") ||
				!strings.Contains(got, "incident=01incident") || !strings.Contains(got, "agent_type=") {
				t.Fatalf("not logged at WARN with the incident and the agent: %q", got)
			}
			// Resolved in pagerd already: no news.
			rec.resolved, rec.notes = true, nil
			logs.Reset()
			if code := postWebhookBy(t, wh, "incident.resolved", 0, agent); code != http.StatusNoContent || len(rec.acted) != 0 || len(rec.notes) != 0 {
				t.Fatalf("resolve by %s of an incident resolved in pagerd: %d, acted %v, noted %q", name, code, rec.acted, rec.notes)
			}
			if strings.Contains(logs.String(), "level=WARN") {
				t.Fatalf("pagerd's own resolve coming back was warned of: %q", logs.String())
			}
		})
	}
	// A person's resolve resolves, whoever it was pushed to.
	rec := &receiver{}
	wh := &pagerduty.Webhook{Receiver: rec, Secret: func() string { return providertest.PagerDutyWebhookSecret }}
	for i, agent := range []string{`"agent":{"id":"PCAROL1","summary":"Carol","type":"user_reference"},`, `"agent":{"id":"PCAROL1","summary":"Carol","type":"user"},`} {
		if code := postWebhookBy(t, wh, "incident.resolved", 0, agent); code != http.StatusNoContent || len(rec.acted) != i+1 || rec.acted[i] != "01incident carol resolve" {
			t.Fatalf("a person's resolve (%s): %d, acted %v", agent, code, rec.acted)
		}
	}
}

// TestWebhookMergeIsAnAcknowledgementNotAResolve: PagerDuty resolves an
// incident a person merged into another (resolve_reason
// merge_resolve_reason, agent the person who merged) and moves its alert,
// still open, to the other one. It resolved pagerd's incident while the
// alert still fired. Now it acknowledges it as that person's (a merge of
// an alert from before the latest reopen does not), notes the merge and
// the incident it went into, and never resolves. A merge made by no
// person is noted and changes nothing, as any resolve not made by a
// person.
func TestWebhookMergeIsAnAcknowledgementNotAResolve(t *testing.T) {
	merge := `"resolve_reason":{"type":"merge_resolve_reason","incident":{"id":"Q7","type":"incident_reference","summary":"[#7] database latency"}},`
	post := func(wh *pagerduty.Webhook, reopened int, agent string) int {
		t.Helper()
		body := `{"event":{"id":"01ABC","event_type":"incident.resolved",` + agent + `"data":{"id":"Q1","type":"incident",` + merge +
			`"incident_key":"` + pagerduty.DedupKey("01incident", "carol", reopened) + `"}}}`
		r := httptest.NewRequest(http.MethodPost, pagerduty.WebhookPath, strings.NewReader(body))
		r.Header.Set("X-PagerDuty-Signature", providertest.PagerDutySign([]byte(body), providertest.PagerDutyWebhookSecret))
		w := httptest.NewRecorder()
		if err := wh.ServeWebhook(w, r); err != nil {
			t.Fatal(err)
		}
		return w.Code
	}
	carol := `"agent":{"id":"PCAROL1","summary":"Carol","type":"user_reference"},`
	newWebhook := func(rec *receiver) *pagerduty.Webhook {
		return &pagerduty.Webhook{Receiver: rec, Secret: func() string { return providertest.PagerDutyWebhookSecret }}
	}

	rec := &receiver{}
	if code := post(newWebhook(rec), 0, carol); code != http.StatusNoContent || len(rec.acted) != 1 || rec.acted[0] != "01incident carol acknowledge" {
		t.Fatalf("carol's merge: %d, acted %v, want an acknowledgement only", code, rec.acted)
	}
	if len(rec.notes) != 1 || !strings.HasPrefix(rec.notes[0], "01incident carol resolve by Carol: merged in PagerDuty: alert pagerd:01incident:carol into incident Q7 ([#7] database latency) by Carol: ") ||
		!strings.Contains(rec.notes[0], "stays open") {
		t.Fatalf("the merge is not noted: %q", rec.notes)
	}
	note := strings.TrimPrefix(rec.notes[0], "01incident carol resolve by Carol: ")
	if key, ok := pagerduty.MergedKey(note); !ok || key != "pagerd:01incident:carol" {
		t.Fatalf("the note does not name the alert merged away: %q, %v", key, ok)
	}

	rec = &receiver{reopened: 1}
	if code := post(newWebhook(rec), 0, carol); code != http.StatusNoContent || len(rec.acted) != 0 {
		t.Fatalf("merge of the alert from before the reopen: %d, acted %v", code, rec.acted)
	}
	if len(rec.notes) != 1 || !strings.Contains(rec.notes[0], "merged in PagerDuty: alert pagerd:01incident:carol ") {
		t.Fatalf("the merge of the old alert is not noted: %q", rec.notes)
	}

	rec = &receiver{}
	if code := post(newWebhook(rec), 0, ""); code != http.StatusNoContent || len(rec.acted) != 0 {
		t.Fatalf("merge without an agent: %d, acted %v", code, rec.acted)
	}
	if len(rec.notes) != 1 || !strings.Contains(rec.notes[0], "merged in PagerDuty: alert pagerd:01incident:carol into incident Q7") || !strings.Contains(rec.notes[0], "stays open") {
		t.Fatalf("the merge without an agent is not noted: %q", rec.notes)
	}
	if _, ok := pagerduty.MergedKey(strings.TrimPrefix(rec.notes[0], "01incident carol resolve by : ")); !ok {
		t.Fatalf("the note of the merge without an agent does not name the alert: %q", rec.notes[0])
	}
	for _, note := range []string{"merged in PagerDuty: alert someone-elses into incident Q7", "resolved in PagerDuty by no agent", "merged in PagerDuty: alert pagerd:01incident:carol"} {
		if key, ok := pagerduty.MergedKey(note); ok {
			t.Fatalf("MergedKey(%q) = %q", note, key)
		}
	}

	rec = &receiver{resolved: true}
	if code := post(newWebhook(rec), 0, carol); code != http.StatusNoContent || len(rec.notes) != 0 {
		t.Fatalf("merge of an incident resolved in pagerd: %d, noted %q", code, rec.notes)
	}
}

// TestWebhookSignedBodyThatDoesNotDecodeIsLogged: a webhook PagerDuty
// signed whose body pagerd cannot read (a payload of a form it does not
// know) is answered 400, which PagerDuty does not deliver again: an
// acknowledgement in it is lost for good. It was answered and nothing
// more; it is logged at WARN, so someone sees that PagerDuty's
// acknowledgements no longer reach pagerd.
func TestWebhookSignedBodyThatDoesNotDecodeIsLogged(t *testing.T) {
	var logs bytes.Buffer
	wh := &pagerduty.Webhook{Receiver: &receiver{}, Secret: func() string { return providertest.PagerDutyWebhookSecret },
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	body := `{"event":{"id":"01ABC","event_type":"incident.acknowledged","data":["not","an","object"]}}`
	r := httptest.NewRequest(http.MethodPost, pagerduty.WebhookPath, strings.NewReader(body))
	r.Header.Set("X-PagerDuty-Signature", providertest.PagerDutySign([]byte(body), providertest.PagerDutyWebhookSecret))
	err := wh.ServeWebhook(httptest.NewRecorder(), r)
	var re *notify.RequestError
	if !errors.As(err, &re) || re.Status != http.StatusBadRequest {
		t.Fatalf("a signed body that does not decode: %v, want a 400", err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "could not be read") {
		t.Fatalf("not logged at WARN: %q", logs.String())
	}
}

// TestMergedAlertNamesItsService: a merge's note names the PagerDuty
// service it was made in when the webhook does (data.service), and reads
// back its key and that service; a note that names none (a webhook
// without it, or one noted before notes named it) reads back as a merge
// in no service in particular, which the dispatcher takes for every one.
func TestMergedAlertNamesItsService(t *testing.T) {
	const key = "pagerd:01incident:carol"
	for note, want := range map[string][2]string{
		pagerduty.MergedNote(key, "PPUSH01 (Carol's push)", "Q7", "Carol", "rest"):                                     {key, "PPUSH01"},
		pagerduty.MergedNote(key, "", "Q7", "Carol", "rest"):                                                           {key, ""},
		"merged in PagerDuty: alert " + key + " into incident Q7 ([#7] database latency) by Carol: PagerDuty resolved": {key, ""},
	} {
		k, s, ok := pagerduty.MergedAlert(note)
		if !ok || k != want[0] || s != want[1] {
			t.Errorf("MergedAlert(%q) = %q, %q, %v; want %q, %q", note, k, s, ok, want[0], want[1])
		}
	}

	var rec receiver
	wh := &pagerduty.Webhook{Receiver: &rec, Secret: func() string { return providertest.PagerDutyWebhookSecret }}
	body := `{"event":{"id":"01ABC","event_type":"incident.resolved","agent":{"id":"PCAROL1","summary":"Carol","type":"user_reference"},` +
		`"data":{"id":"Q1","type":"incident","service":{"id":"PPUSH01","type":"service_reference","summary":"Carol push"},` +
		`"resolve_reason":{"type":"merge_resolve_reason","incident":{"id":"Q7","type":"incident_reference"}},"incident_key":"` + key + `"}}}`
	r := httptest.NewRequest(http.MethodPost, pagerduty.WebhookPath, strings.NewReader(body))
	r.Header.Set("X-PagerDuty-Signature", providertest.PagerDutySign([]byte(body), providertest.PagerDutyWebhookSecret))
	w := httptest.NewRecorder()
	if err := wh.ServeWebhook(w, r); err != nil || w.Code != http.StatusNoContent || len(rec.notes) != 1 {
		t.Fatalf("merge: %v %d, notes %q", err, w.Code, rec.notes)
	}
	if _, s, ok := pagerduty.MergedAlert(strings.TrimPrefix(rec.notes[0], "01incident carol resolve by Carol: ")); !ok || s != "PPUSH01" {
		t.Fatalf("the merge's note %q names service %q (%v), want PPUSH01", rec.notes[0], s, ok)
	}
}
