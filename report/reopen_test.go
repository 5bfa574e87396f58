package report

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// reopenedSEV1 is an AION-R SEV-1 as the store records it when an
// escalation re-opens it after the first acknowledgement: Engineer A
// acknowledges at 3m and posts no status update, so at 33m the "no status
// update for 30m" rule escalates it to the secondary, Engineer B, who
// acknowledges at 35m; Engineer A resolves it at 5h. The engine keeps the
// first acknowledgement's time but the last acknowledger's name
// (policy.Incident.AcknowledgedAt, AcknowledgedBy), and so does the record.
func reopenedSEV1(t testing.TB) Incident {
	inc := incident(time.UTC, "01-r1", "aion-r-platform", "SEV-1", "2025-10-08 20:00", "Model serving down in us-east", alertmanager("ServingDown", 1),
		page(0, 1, "eng-a", "push"), ack(3*m, 1, "eng-a"),
		escalate(33*m, 2, "no status update for 30m"), page(33*m, 2, "eng-b", "push"), page(35*m, 2, "eng-b", "sms"),
		ack(36*m, 2, "eng-b"), statusUpdate(40*m, "eng-b", "failing over to us-west"), resolve(5*time.Hour, "eng-a"))
	inc.AcknowledgedBy = "eng-b" // what the record says: the last acknowledger
	return inc
}

// TestReopenedIncidentCreditsTheFirstAcknowledgement: MTTA is the time to
// the first acknowledgement, so it is the first acknowledger's response
// that counts, in their figures, and the pay for the incident goes to them,
// not to whoever acknowledged it again after it re-opened.
func TestReopenedIncidentCreditsTheFirstAcknowledgement(t *testing.T) {
	cfg := loadSeed(t, "aion-r.yaml")
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC)},
		[]Incident{reopenedSEV1(t)})
	if err != nil {
		t.Fatal(err)
	}
	wantStats(t, "MTTA", r.Total.MTTA, 1, "3m", "3m", "3m")
	got := map[string]string{}
	for _, e := range r.Engineers {
		got[e.User] = fmt.Sprintf("acknowledged by them %d, MTTA %d %s", e.AcknowledgedByThem, e.MTTA.Count, time.Duration(e.MTTA.Mean))
	}
	for user, want := range map[string]string{
		"eng-a": "acknowledged by them 1, MTTA 1 3m0s",
		"eng-b": "acknowledged by them 0, MTTA 0 0s",
	} {
		if got[user] != want {
			t.Errorf("%s: %s, want %s", user, got[user], want)
		}
	}
	var pay []string
	for _, p := range r.Pay.Incidents {
		pay = append(pay, fmt.Sprintf("%s %s %dmin %dd", p.Incident, p.User, p.BillableMinutes, p.CompDays))
	}
	// Wednesday 20:00 to Thursday 01:00, all after hours: 5h, one comp day.
	if got := strings.Join(pay, "; "); got != "01-r1 eng-a 300min 1d" {
		t.Errorf("pay %s, want 01-r1 eng-a 300min 1d", got)
	}
}

// TestHandoffShowsWhereAReopenedIncidentStands: an escalation re-opens an
// acknowledged incident and pages the next level until someone
// acknowledges again. The handoff document lists it as it stands at the
// handoff: not acknowledged while the next level is being paged, then
// owned by whoever acknowledged it since, at the time they did (the
// timeline's: the record's acknowledged_at is Engineer A's, the first).
func TestHandoffShowsWhereAReopenedIncidentStands(t *testing.T) {
	cfg := loadSeed(t, "aion-r.yaml")
	// A SEV-2 on Sunday 21:00 UTC: Engineer A acknowledges at 21:03 and
	// posts nothing, so at 21:33 it escalates to Engineer B; B
	// acknowledges at 22:10. Open throughout.
	inc := incident(time.UTC, "01-r2", "aion-r-platform", "SEV-2", "2025-10-12 21:00", "Feature store timeouts", alertmanager("FeatureStoreTimeouts", 1),
		page(0, 1, "eng-a", "push"), ack(3*m, 1, "eng-a"),
		escalate(33*m, 2, "no status update for 30m"), page(33*m, 2, "eng-b", "push"), page(35*m, 2, "eng-b", "sms"),
		ack(70*m, 2, "eng-b"))
	inc.AcknowledgedBy = "eng-b" // the record: first time, last acknowledger
	for _, tc := range []struct {
		at    string
		state string
		owner string
	}{
		{"2025-10-12T21:20:00Z", "acknowledged by Engineer A at Sun 2025-10-12 21:03;", "- Owner: Engineer A"},
		{"2025-10-12T22:00:00Z", "not acknowledged", "- Owner: [If not resolved]"},
		{"2025-10-12T23:30:00Z", "acknowledged by Engineer B at Sun 2025-10-12 22:10;", "- Owner: Engineer B"},
	} {
		at, err := time.Parse(time.RFC3339, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Handoff(cfg, "aion-r-oncall", at, []Incident{inc})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Open) != 1 {
			t.Fatalf("at %s: open %+v", tc.at, d.Open)
		}
		md := d.String()
		for _, want := range []string{tc.state, tc.owner} {
			if !strings.Contains(md, want) {
				t.Errorf("at %s the document lacks %q:\n%s", tc.at, want, md)
			}
		}
	}
}
