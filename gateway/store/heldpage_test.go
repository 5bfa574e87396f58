package store

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// TestEncodeHeldPageIsJSONMarshal: both forms are what json.Marshal writes
// for the page, without and with Sent, whatever the page says.
func TestEncodeHeldPageIsJSONMarshal(t *testing.T) {
	for _, p := range []HeldPage{
		{},
		{Incident: "0f-x", Deadline: "d1", Service: "api", Priority: "P0", Rank: 0, Urgency: "high", Level: 2,
			Summary: `disk "almost" full <3`, Due: time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC), Via: "pagerduty"},
		{Incident: "0f-y", Sent: true},
	} {
		held, sent, err := EncodeHeldPage(p)
		if err != nil {
			t.Fatal(err)
		}
		p.Sent = false
		want, _ := json.Marshal(p)
		p.Sent = true
		wantSent, _ := json.Marshal(p)
		if !bytes.Equal(held, want) || !bytes.Equal(sent, wantSent) {
			t.Errorf("EncodeHeldPage(%+v) = %s, %s; want %s, %s", p, held, sent, want, wantSent)
		}
	}
}
