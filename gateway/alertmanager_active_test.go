package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
)

// TestRealAlertmanagerActiveLeavesOutSilenced asks Debian's real
// Alertmanager, as the check of alerts a resolved notification left out
// does (AlertmanagerSilencer.Active), about a group of two firing alerts
// of which a person silenced one: Firing counts both, Active only the one
// that would page, and ActiveFingerprints lists its fingerprint alone.
// (Counted, a silenced alert would open an incident and page for what
// someone chose to mute.)
func TestRealAlertmanagerActiveLeavesOutSilenced(t *testing.T) {
	am := amITStartAlertmanager(t, amITLookAlertmanager(t), "route:\n  receiver: pagerd\nreceivers:\n  - name: pagerd\n")
	startsAt := time.Now().Add(-time.Minute).UTC()
	am.postAlerts(t,
		amITAlert{Labels: map[string]string{"alertname": "Left", "instance": "a"}, StartsAt: startsAt},
		amITAlert{Labels: map[string]string{"alertname": "Left", "instance": "b"}, StartsAt: startsAt})
	silence, _ := json.Marshal(map[string]any{
		"matchers": []map[string]any{{"name": "instance", "value": "b", "isRegex": false, "isEqual": true}},
		"startsAt": time.Now().UTC().Format(time.RFC3339), "endsAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"createdBy": "test", "comment": "muted by a person"})
	resp, err := http.Post(am.url+"/api/v2/silences", "application/json", bytes.NewReader(silence))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("silence: %d", resp.StatusCode)
	}
	amc := &dispatch.AlertmanagerSilencer{Timeout: 10 * time.Second}
	ctx := context.Background()
	group := map[string]string{"alertname": "Left"}
	// Alertmanager marks an alert silenced when it next looks at it: wait
	// for that, not for a set time.
	deadline := time.Now().Add(30 * time.Second)
	for {
		active, err := amc.Active(ctx, am.url, "pagerd", group)
		if err != nil {
			t.Fatal(err)
		}
		firing, err := amc.Firing(ctx, am.url, "pagerd", group)
		if err != nil {
			t.Fatal(err)
		}
		if active == 1 && firing == 2 {
			// The overflow check and a stale resolve's check in
			// fingerprint mode hold the active ones by fingerprint.
			fps, err := amc.ActiveFingerprints(ctx, am.url, "pagerd", group)
			if want := amITFingerprint(map[string]string{"alertname": "Left", "instance": "a"}); err != nil || len(fps) != 1 || fps[0] != want {
				t.Fatalf("ActiveFingerprints %q, %v; want [%s], the alert not silenced", fps, err, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Active %d, Firing %d; want 1 (the silenced alert left out) and 2", active, firing)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
