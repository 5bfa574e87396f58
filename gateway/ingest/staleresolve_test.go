package ingest

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestEndedUncovered: a resolve covers the firing alerts an incident
// recorded unless one of them started after the resolve's end of it, or
// the resolve lists its whole group and not it; times a sender leaves out
// are not compared, and a resolve that lists part of its group names no
// alert as left out.
func TestEndedUncovered(t *testing.T) {
	t0 := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	alert := func(inst, status string, start, end time.Time) Alert {
		return Alert{Status: status, Labels: map[string]string{"alertname": "A", "instance": inst}, StartsAt: start, EndsAt: end, Fingerprint: "fp-" + inst}
	}
	// recorded are the details a firing notification of these alerts
	// leaves on its incident.
	recorded := func(alerts ...Alert) []byte {
		return (&Message{GroupKey: "g", Status: StatusFiring, Alerts: alerts}).Groups(false)[0].Details
	}
	for _, tc := range []struct {
		name            string
		firing          []Alert
		resolve         *Message
		newer, unlisted bool
	}{
		{"the same firing ended", []Alert{alert("a", StatusFiring, t0, time.Time{})},
			&Message{Alerts: []Alert{alert("a", StatusResolved, t0, t0.Add(time.Minute))}}, false, false},
		{"a firing after the end", []Alert{alert("a", StatusFiring, t0.Add(2*time.Minute), time.Time{})},
			&Message{Alerts: []Alert{alert("a", StatusResolved, t0, t0.Add(time.Minute))}}, true, false},
		{"an earlier start merged in", []Alert{alert("a", StatusFiring, t0.Add(5*time.Second), time.Time{})},
			&Message{Alerts: []Alert{alert("a", StatusResolved, t0, t0.Add(time.Minute))}}, false, false},
		{"no end: the start compared", []Alert{alert("a", StatusFiring, t0.Add(2*time.Minute), time.Time{})},
			&Message{Alerts: []Alert{alert("a", StatusResolved, t0, time.Time{})}}, true, false},
		{"no recorded start", []Alert{alert("a", StatusFiring, time.Time{}, time.Time{})},
			&Message{Alerts: []Alert{alert("a", StatusResolved, t0, t0.Add(time.Minute))}}, false, false},
		{"an alert the whole group does not name", []Alert{alert("a", StatusFiring, t0, time.Time{}), alert("b", StatusFiring, t0, time.Time{})},
			&Message{Alerts: []Alert{alert("a", StatusResolved, t0, t0.Add(time.Minute))}}, false, true},
		{"an alert a cut notification does not name", []Alert{alert("a", StatusFiring, t0, time.Time{}), alert("b", StatusFiring, t0, time.Time{})},
			&Message{TruncatedAlerts: 1, Alerts: []Alert{alert("a", StatusResolved, t0, t0.Add(time.Minute))}}, false, false},
		{"a resolved alert recorded", []Alert{alert("a", StatusFiring, t0, time.Time{}), alert("b", StatusResolved, t0, t0.Add(time.Second))},
			&Message{Alerts: []Alert{alert("a", StatusResolved, t0, t0.Add(time.Minute))}}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.resolve.GroupKey, tc.resolve.Status = "g", StatusResolved
			u := tc.resolve.Ended().Uncovered(recorded(tc.firing...))
			if (u.Newer != "") != tc.newer || (u.Unlisted != "") != tc.unlisted || u.Stale() != (tc.newer || tc.unlisted) {
				t.Fatalf("uncovered %+v, want newer %v, unlisted %v", u, tc.newer, tc.unlisted)
			}
		})
	}
}

// TestNothingNewer: a firing notification holds nothing newer than an
// incident recorded when every firing alert of it was recorded, by
// fingerprint, started no later (firing, or resolved since); an alert
// not recorded, one that started later, one with no start, and a
// notification that does not list every firing alert (Alertmanager left
// some out) may hold a new firing.
func TestNothingNewer(t *testing.T) {
	t0 := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	alert := func(inst, status string, start time.Time) Alert {
		return Alert{Status: status, Labels: map[string]string{"alertname": "A", "instance": inst}, StartsAt: start, Fingerprint: "fp-" + inst}
	}
	details := func(truncated uint64, alerts ...Alert) []byte {
		return (&Message{GroupKey: "g", Status: StatusFiring, TruncatedAlerts: truncated, Alerts: alerts}).Groups(false)[0].Details
	}
	ab := details(0, alert("a", StatusFiring, t0), alert("b", StatusFiring, t0.Add(time.Minute)))
	for _, tc := range []struct {
		name             string
		firing, recorded []byte
		want             bool
	}{
		{"the same", ab, ab, true},
		{"part of what was recorded", details(0, alert("a", StatusFiring, t0)), ab, true},
		{"an earlier start", details(0, alert("b", StatusFiring, t0)), ab, true},
		{"a resolved alert besides", details(0, alert("a", StatusFiring, t0), alert("c", StatusResolved, t0)), ab, true},
		{"an alert not recorded", details(0, alert("a", StatusFiring, t0), alert("c", StatusFiring, t0)), ab, false},
		{"a later start", details(0, alert("a", StatusFiring, t0.Add(time.Second))), ab, false},
		{"recorded resolved since", details(0, alert("a", StatusFiring, t0)), details(0, alert("a", StatusResolved, t0), alert("b", StatusFiring, t0)), true},
		{"recorded resolved, started later", details(0, alert("a", StatusFiring, t0.Add(time.Second))), details(0, alert("a", StatusResolved, t0)), false},
		{"no start", details(0, alert("a", StatusFiring, time.Time{})), details(0, alert("a", StatusFiring, time.Time{})), false},
		{"alerts left out", details(1, alert("a", StatusFiring, t0)), ab, false},
		{"no firing alert", details(0, alert("a", StatusResolved, t0)), ab, false},
		{"not Alertmanager's", []byte(`{"source":"pagerduty"}`), ab, false},
		{"nothing recorded", ab, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NothingNewer(tc.firing, tc.recorded); got != tc.want {
				t.Fatalf("NothingNewer = %v, want %v\nfiring   %s\nrecorded %s", got, tc.want, tc.firing, tc.recorded)
			}
		})
	}
}

// TestAlertNothingNewer: in fingerprint mode an alert's incident holds
// that alert alone, and its firing's details carry the group's
// truncatedAlerts: the alerts left out are other alerts, so the firing
// holds nothing newer when its one alert was recorded started no later
// (NothingNewer took every firing of a cut group as newer). A later
// start, an alert not recorded, or no start, still may be a new firing.
func TestAlertNothingNewer(t *testing.T) {
	t0 := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	alert := func(inst string, start time.Time) Alert {
		return Alert{Status: StatusFiring, Labels: map[string]string{"alertname": "A", "instance": inst}, StartsAt: start, Fingerprint: "fp-" + inst}
	}
	// own is the details of a's own incident, of a notification of a and
	// b that left truncated alerts out.
	own := func(truncated uint64, a Alert) []byte {
		m := &Message{GroupKey: "g", Status: StatusFiring, TruncatedAlerts: truncated, Alerts: []Alert{a, alert("b", t0)}}
		for _, g := range m.Groups(true) {
			if !g.Overflow && strings.HasSuffix(g.DedupKey, "fp-"+a.Labels["instance"]) {
				return g.Details
			}
		}
		t.Fatalf("no incident of %v", a.Labels)
		return nil
	}
	recorded := own(2, alert("a", t0))
	for _, tc := range []struct {
		name             string
		firing, recorded []byte
		want             bool
	}{
		{"alerts left out, the same start", own(2, alert("a", t0)), recorded, true},
		{"none left out, the same start", own(0, alert("a", t0)), recorded, true},
		{"alerts left out, a later start", own(2, alert("a", t0.Add(time.Second))), recorded, false},
		{"another alert", own(2, alert("c", t0)), recorded, false},
		{"no start", own(2, alert("a", time.Time{})), own(2, alert("a", time.Time{})), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AlertNothingNewer(tc.firing, tc.recorded); got != tc.want {
				t.Fatalf("AlertNothingNewer = %v, want %v\nfiring   %s\nrecorded %s", got, tc.want, tc.firing, tc.recorded)
			}
		})
	}
	// NothingNewer, for a group's incident, still takes a cut
	// notification as possibly newer.
	if NothingNewer(own(2, alert("a", t0)), recorded) {
		t.Fatalf("NothingNewer of a cut notification = true, want false")
	}
}

// TestEndsEach: a resolved notification ends a firing one's alerts when it
// names each that fired resolved, ended no earlier than it started; one
// firing again since (a later start), one that joined the group since (not
// named) or one it names still firing it does not end. Alerts resolved
// already in the firing one need not be named.
func TestEndsEach(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2025, 9, 10, 6, m, 0, 0, time.UTC) }
	fired := map[string]AlertTimes{"a": {Start: at(0)}, "b": {Start: at(1)}, "c": {Start: at(0), End: at(2)}}
	for _, tc := range []struct {
		name  string
		ended map[string]AlertTimes
		want  bool
	}{
		{"each ended after its start", map[string]AlertTimes{"a": {Start: at(0), End: at(5)}, "b": {Start: at(1), End: at(1)}}, true},
		{"b fires again since", map[string]AlertTimes{"a": {Start: at(0), End: at(5)}, "b": {Start: at(0), End: at(0)}}, false},
		{"b not named", map[string]AlertTimes{"a": {Start: at(0), End: at(5)}}, false},
		{"b named firing", map[string]AlertTimes{"a": {Start: at(0), End: at(5)}, "b": {Start: at(1)}}, false},
	} {
		if got := EndsEach(tc.ended, fired); got != tc.want {
			t.Errorf("%s: EndsEach = %v, want %v", tc.name, got, tc.want)
		}
	}
	m := &Message{Alerts: []Alert{
		{Status: StatusResolved, Fingerprint: "a", StartsAt: at(0), EndsAt: at(5)},
		{Status: StatusFiring, Fingerprint: "b", StartsAt: at(1), EndsAt: at(9)},
		{Status: StatusFiring, Fingerprint: "a", StartsAt: at(3)},
	}}
	want := map[string]AlertTimes{"a": {Start: at(3)}, "b": {Start: at(1)}}
	if got := m.KeyTimes(); !reflect.DeepEqual(got, want) {
		t.Errorf("KeyTimes = %v, want %v (a firing alert's end is not one; of one named twice, the latest start)", got, want)
	}
}
