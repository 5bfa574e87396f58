package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// TestStreamReadsWhatDecodeReads: for the fixtures of real Alertmanager
// notifications, and for a notification of 5,000 alerts, reading as a
// stream gives the groups (keys, summaries, details, cuts) that reading
// whole gives, in both incident modes, while keeping only the alerts
// pagerd reads.
func TestStreamReadsWhatDecodeReads(t *testing.T) {
	bodies := map[string][]byte{}
	for _, f := range []string{"alertmanager-0.25-firing.json", "alertmanager-0.34-truncated.json", "alertmanager-resolved.json"} {
		bodies[f] = readFixture(t, f)
	}
	big := flood(5000, 1200)
	for i := range big.Alerts {
		big.Alerts[i].Annotations = map[string]string{"summary": fmt.Sprintf("disk %d full", i)}
	}
	b, err := json.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	bodies["5,000 alerts"] = b
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			whole, err := DecodeAlertmanager(body)
			if err != nil {
				t.Fatal(err)
			}
			streamed, err := DecodeAlertmanagerStream(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(whole.Alerts); len(streamed.Alerts) != min(n, MaxAlertsPerMessage) || streamed.Unread != max(0, n-MaxAlertsPerMessage) {
				t.Fatalf("streamed kept %d and counted %d of %d alerts", len(streamed.Alerts), streamed.Unread, n)
			}
			for _, byFingerprint := range []bool{false, true} {
				if got, want := streamed.Groups(byFingerprint), whole.Groups(byFingerprint); !reflect.DeepEqual(got, want) {
					t.Errorf("by fingerprint %v: streamed groups differ:\n%+v\nwhole:\n%+v", byFingerprint, got, want)
				}
			}
			if streamed.OverflowDedupKey() != whole.OverflowDedupKey() {
				t.Errorf("overflow key %q, whole %q", streamed.OverflowDedupKey(), whole.OverflowDedupKey())
			}
		})
	}
}

// TestStreamRefusesWhatCanNeverBeRead: a streamed notification is checked
// as one read whole is (its fields, its first alerts), and bad JSON is
// named with where it is; an alert past the ones read is only counted.
func TestStreamRefusesWhatCanNeverBeRead(t *testing.T) {
	alert := `{"status":"firing","labels":{"alertname":"A"}}`
	good := func(alerts string) string {
		return `{"version":"4","groupKey":"g","status":"firing","alerts":[` + alerts + `]}`
	}
	many := strings.Repeat(alert+",", MaxAlertsPerMessage)
	for _, c := range []struct{ name, body, want string }{
		{"not an object", `[1]`, "body: got JSON array, want an object"},
		{"syntax", `{"version":"4",,}`, "malformed JSON at byte"},
		{"cut short", good(alert)[:40], "malformed JSON at byte"},
		{"trailing data", good(alert) + `{}`, "unexpected data after the top-level object"},
		{"alerts not an array", `{"version":"4","groupKey":"g","status":"firing","alerts":"many"}`, "alerts: got JSON string, want an array"},
		{"alerts null", `{"version":"4","groupKey":"g","status":"firing","alerts":null}`, "alerts: missing or empty"},
		{"wrong version", `{"version":"3","groupKey":"g","status":"firing","alerts":[` + alert + `]}`, "version: \"3\" is not supported"},
		{"version of the wrong type", `{"version":4,"groupKey":"g","status":"firing","alerts":[` + alert + `]}`, "version: got JSON number, want a string"},
		{"a read alert without labels", good(`{"status":"firing"}`), "alerts[0].labels: missing or empty"},
		{"an unread alert without labels", good(many + `{"status":"firing"}`), ""},
		{"a later alerts replaces an earlier one", `{"version":"4","groupKey":"g","status":"firing","alerts":[{}],"Alerts":[` + alert + `]}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := DecodeAlertmanagerStream(strings.NewReader(c.body))
			if c.want == "" {
				if err != nil || len(m.Alerts) == 0 {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
			if _, ok := err.(*InputError); !ok {
				t.Fatalf("%T is not an input error: the sender would be told to retry", err)
			}
		})
	}
}

// failingReader fails every read: a body that could not be read to its end
// (over its size limit, or cut off).
type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// TestStreamSaysWhenTheBodyCouldNotBeRead: a body whose reading fails, in
// the middle or after its JSON ended, is that error (the intake answers
// it as such: 413 over the limit), not a 400 for JSON it never saw.
func TestStreamSaysWhenTheBodyCouldNotBeRead(t *testing.T) {
	over := errors.New("http: request body too large")
	body := `{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}`
	for name, r := range map[string]io.Reader{
		"after the JSON": io.MultiReader(strings.NewReader(body+"   "), failingReader{over}),
		"in the middle":  io.MultiReader(strings.NewReader(body[:60]), failingReader{over}),
		"at the start":   failingReader{over},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeAlertmanagerStream(r)
			if !errors.Is(err, over) {
				t.Fatalf("got %v, want the read error", err)
			}
		})
	}
}
