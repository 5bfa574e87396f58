package dispatch

import (
	"encoding/json"
	"strings"
	"testing"
)

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
