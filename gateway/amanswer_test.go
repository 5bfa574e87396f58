package gateway

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestAlertmanagerAnswerWrittenByHandIsEncodingJSON: the answer written by
// hand is byte for byte what json.Encoder writes, newline included; an
// answer with a string encoding/json would escape is not written by hand.
func TestAlertmanagerAnswerWrittenByHandIsEncodingJSON(t *testing.T) {
	for _, tc := range []struct {
		a     amAnswer
		plain bool
	}{
		{amAnswer{Incidents: []string{}, Resolved: []string{}, Status: "success"}, true},
		{amAnswer{Incidents: []string{"02-06h49rspk43wypcf"}, Resolved: []string{}, Status: "success"}, true},
		{amAnswer{Incidents: []string{"02-06h49rspk43wypcf", "1f-06h49rspk5krveeb"}, Resolved: []string{"0a-x_y.z:1", "B"}, Status: "success"}, true},
		{amAnswer{Status: "success"}, true}, // nil lists are null
		{amAnswer{Incidents: []string{""}, Resolved: []string{}, Status: ""}, true},
		{amAnswer{Incidents: []string{"a<b"}, Resolved: []string{}, Status: "success"}, false},
		{amAnswer{Incidents: []string{}, Resolved: []string{`a"b`}, Status: "success"}, false},
		{amAnswer{Incidents: []string{"é"}, Resolved: []string{}, Status: "success"}, false},
		{amAnswer{Incidents: []string{"a b"}, Resolved: []string{}, Status: "success"}, false},
		{amAnswer{Incidents: []string{}, Resolved: []string{}, Status: "a&b"}, false},
	} {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(tc.a); err != nil {
			t.Fatal(err)
		}
		got, ok := tc.a.appendJSON(nil)
		if ok != tc.plain {
			t.Errorf("%+v: written by hand %v, want %v", tc.a, ok, tc.plain)
		}
		if ok && string(got) != want.String() {
			t.Errorf("%+v: by hand %q, encoding/json %q", tc.a, got, want.String())
		}
	}
}

// TestAlertmanagerAnswerHeadersAndPretty: the answer written by hand has
// the Content-Type c.JSON gave it, and ?pretty still indents it.
func TestAlertmanagerAnswerHeadersAndPretty(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g1", map[string]string{"alertname": "A", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	if ct := r.hdr.Get("Content-Type"); r.code != 200 || ct != "application/json" {
		t.Errorf("answer %d, Content-Type %q, want 200 application/json", r.code, ct)
	}
	r = h.do("POST", "/api/v1/alertmanager?pretty", amPayload("firing", "g2", map[string]string{"alertname": "B", "severity": "critical"}),
		"Authorization", "Bearer "+amKey)
	if r.code != 200 || !strings.Contains(r.body, "{\n  \"incidents\": [\n") {
		t.Errorf("?pretty: %d %q, want it indented", r.code, r.body)
	}
}
