package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// barrierSilencer answers each Silence only once want calls are in
// flight together (or after a second, so a Silencer called one call at a
// time still ends), and records how many were.
type barrierSilencer struct {
	want int

	mu       sync.Mutex
	inFlight int
	most     int
	all      chan struct{}
}

func (b *barrierSilencer) Silence(ctx context.Context, base string, ms []Matcher, end time.Time, by, comment string) (string, error) {
	b.mu.Lock()
	b.inFlight++
	b.most = max(b.most, b.inFlight)
	if b.inFlight == b.want {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(time.Second):
	}
	b.mu.Lock()
	b.inFlight--
	b.mu.Unlock()
	return "id-" + ms[0].Value, nil
}

func (b *barrierSilencer) Expire(ctx context.Context, base, id string) error { return nil }

func (b *barrierSilencer) Made(ctx context.Context, base, incident string) ([]Silence, error) {
	return nil, nil
}

// TestSilencesAreMadeAtOnce: an incident's silences are made concurrently,
// so up to 20 calls to a slow Alertmanager fit in the claim's lease (one
// after another, they take up to 20 times the call timeout, and the lease
// runs out and another replica silences again), and the ids come back in
// the alerts' order.
func TestSilencesAreMadeAtOnce(t *testing.T) {
	b := &barrierSilencer{want: 5, all: make(chan struct{})}
	d := &Dispatcher{o: Options{Silencer: b}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var plan [][]Matcher
	for i := range b.want {
		plan = append(plan, []Matcher{{Name: "instance", Value: fmt.Sprint(i)}})
	}
	ids, err := d.makeSilences(context.Background(), "http://am", &store.Incident{ID: "inc-1"}, plan, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if b.most != b.want {
		t.Errorf("at most %d silences made at once, want all %d", b.most, b.want)
	}
	if got := strings.Join(ids, ","); got != "id-0,id-1,id-2,id-3,id-4" {
		t.Errorf("ids %s, want them in the alerts' order", got)
	}
}

// TestCommentIncident: the incident a silence's comment names is read from
// where silenceComment writes it, whatever the summary says, and whatever
// the name of someone who acknowledged in PagerDuty or Opsgenie says (as
// stored before policy.Config.ExternalActor wrote it without ": "); a
// silence someone else made names none.
func TestCommentIncident(t *testing.T) {
	inc := &store.Incident{ID: "08-abc", Summary: "disk full: incident 08-other (db1)"}
	inc.State.AcknowledgedBy = "ann"
	outside := &store.Incident{ID: "08-def", Summary: "db down"}
	outside.State.AcknowledgedBy = "pagerduty:Ops: incident 08-other (team"
	for comment, want := range map[string]string{
		silenceComment(inc):                                  "08-abc",
		silenceComment(outside):                              "08-def",
		"Acknowledged in pagerd by bob: incident 08-xyz (x)": "08-xyz",
		"maintenance: incident 08-abc (db)":                  "",
		"Acknowledged in pagerd by bob":                      "",
	} {
		if got := commentIncident(comment); got != want {
			t.Errorf("commentIncident(%q) = %q, want %q", comment, got, want)
		}
	}
}

// TestSilencePlanSays: what the timeline says of the silences for the
// cases the whole-daemon test (gateway's TestSilenceOnAcknowledge...)
// does not reach: alerts nobody knows of (over pagerd's alerts per
// notification, or cut by Alertmanager's max_alerts) and details stored
// before they counted the firing alerts.
func TestSilencePlanSays(t *testing.T) {
	for _, tc := range []struct {
		name, details string
		silences      int
		complete      bool
		says          string
	}{
		{"all kept", `{"source":"alertmanager","alerts_total":1,"alerts_firing":1,"alerts":[{"status":"firing","labels":{"a":"1"}}]}`,
			1, true, "silenced 1 of 1 firing alert"},
		{"unread and cut by Alertmanager", `{"source":"alertmanager","truncated_alerts":7,"alerts_total":1,"alerts_firing":1,"alerts_unread":5,` +
			`"alerts":[{"status":"firing","labels":{"a":"1"}}]}`, 1, false,
			"silenced 1 of 1 firing alert; Alertmanager's notification held 5 alerts more, which pagerd did not read (it reads 1000) and are not silenced; " +
				"Alertmanager left 7 alerts out of its notification (max_alerts); they are not silenced"},
		{"stored before alerts_firing, some left out", `{"source":"alertmanager","alerts_total":30,"alerts_omitted":10,` +
			`"alerts":[{"status":"firing","labels":{"a":"1"}},{"status":"resolved","labels":{"a":"2"}}]}`, 1, false,
			"silenced 1 of 1 firing alert pagerd kept; the group had more alerts, which pagerd did not keep (nor count how many fire), and they are not silenced"},
		{"a firing alert without labels", `{"source":"alertmanager","alerts_total":2,"alerts_firing":2,"alerts":[` +
			`{"status":"firing","labels":{"a":"1"}},{"status":"firing","labels":{}}]}`, 1, false,
			"silenced 1 of 2 firing alerts; 1 alert kept but not silenced: no labels to match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planSilences(json.RawMessage(tc.details))
			if len(p.silences) != tc.silences || p.complete() != tc.complete || p.say() != tc.says {
				t.Errorf("%d silences, complete %v, says %q\nwant %d, %v, %q", len(p.silences), p.complete(), p.say(), tc.silences, tc.complete, tc.says)
			}
		})
	}
	if p := planSilences(json.RawMessage(`{"source":"pagerduty"}`)); len(p.silences) != 0 || !strings.HasPrefix(p.say(), "silenced 0 of 0") {
		t.Errorf("details of another source: %+v", p)
	}
}

// TestUnresolvedRefusesAlertsWithoutLabels: pagerd holds Alertmanager's
// answer to the group's labels, so an alert listed without its labels
// (an API that only looks like Alertmanager's) would count as not
// firing, and its incident would resolve. It is an error instead: the
// incident stays open and pagerd asks again.
func TestUnresolvedRefusesAlertsWithoutLabels(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `[{"fingerprint":"0123456789abcdef","status":{"state":"active"}}]`)
	}))
	defer srv.Close()
	a := &AlertmanagerSilencer{}
	group := map[string]string{"alertname": "DiskFull"}
	if n, err := a.Firing(context.Background(), srv.URL, "pagerd", group); err == nil {
		t.Fatalf("Firing = %d, nil; want an error", n)
	}
	if fps, err := a.Fingerprints(context.Background(), srv.URL, "pagerd", group); err == nil {
		t.Fatalf("Fingerprints = %v, nil; want an error", fps)
	}
}
