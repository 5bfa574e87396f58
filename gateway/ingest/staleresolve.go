package ingest

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Ended is what a notification says of the alerts it reports resolved,
// for telling whether it resolves what an open incident recorded as
// firing (Uncovered). Of two Alertmanagers in a cluster, one may deliver
// a resolved notification after the other delivered a newer firing one
// (a slow network, a retry): such a stale resolve must not end an
// incident whose alert fires, since Alertmanager, having delivered the
// firing notification, sends nothing more of the group until it changes
// again or its repeat_interval (hours) has passed.
type Ended struct {
	alerts map[string]endedAlert
	// all says the notification lists every alert of its group:
	// Alertmanager left none out (max_alerts) and pagerd read them all.
	all bool
	// latest is the latest end the notification gives any of the alerts
	// it reports resolved (endsAt; startsAt without one), zero when it
	// gives none.
	latest time.Time
}

type endedAlert struct{ startsAt, endsAt time.Time }

// Ended reads the alerts the message reports resolved, by fingerprint as
// dedup keys and details carry it (a fingerprint repeated keeps its last
// occurrence, as Groups does).
func (m *Message) Ended() *Ended {
	l := m.limit()
	e := &Ended{alerts: make(map[string]endedAlert, len(l.alerts)), all: m.TruncatedAlerts == 0 && !l.unread()}
	for _, a := range l.alerts {
		fp, _ := fingerprintKey(a)
		if a.Status != StatusResolved {
			delete(e.alerts, fp)
			continue
		}
		e.alerts[fp] = endedAlert{startsAt: a.StartsAt, endsAt: a.EndsAt}
	}
	for _, a := range e.alerts {
		if end := a.end(); end.After(e.latest) {
			e.latest = end
		}
	}
	return e
}

// end is the time the notification says the alert ended: its endsAt, its
// startsAt when a sender gives no endsAt, zero when it gives neither.
func (a endedAlert) end() time.Time {
	if knownTime(a.endsAt) {
		return a.endsAt
	}
	if knownTime(a.startsAt) {
		return a.startsAt
	}
	return time.Time{}
}

// Uncovered is what a resolve leaves uncovered of the firing alerts an
// open incident recorded (Ended.Uncovered); the zero value says it
// covers them all, as far as pagerd can tell.
type Uncovered struct {
	// Newer names a recorded firing alert that started after the
	// notification says it ended: the resolve is of an earlier firing of
	// it, and Alertmanager sends the resolve of this one when it ends.
	Newer string
	// Unlisted names a recorded firing alert the notification, which
	// lists every alert of its group, does not name: it may be stale
	// too, or the alert may have left the group unnamed (silenced by
	// hand, or dropped by Alertmanager), which only Alertmanager can
	// tell.
	Unlisted string
}

// Stale says whether the resolve leaves a recorded firing alert
// uncovered.
func (u Uncovered) Stale() bool { return u.Newer != "" || u.Unlisted != "" }

// Why says, for the incident's timeline, why the resolve is not trusted.
func (u Uncovered) Why() string {
	if u.Newer != "" {
		return "Alertmanager sent this as resolved, but the incident's alert " + u.Newer + " fired again after the time this notification says it ended: " +
			"the notification is older than the firing one pagerd received before it (from another Alertmanager of a cluster, or a retry), so the incident stays open"
	}
	return "Alertmanager sent this group as resolved, but the notification does not name the incident's alert " + u.Unlisted + ", which a firing notification " +
		"received before it said fires: the notification may be older than that one (from another Alertmanager of a cluster, or a retry), so the incident stays open"
}

// recordedDetails is the part of an incident's details Uncovered reads.
type recordedDetails struct {
	Source string          `json:"source"`
	Alerts []recordedAlert `json:"alerts"`
}

// recordedAlert is one alert of an incident's details.
type recordedAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	StartsAt    string            `json:"starts_at"`
	Fingerprint string            `json:"fingerprint"`
}

// recordedFiring is the firing alerts an incident's details recorded;
// none for details of no known shape.
func recordedFiring(details json.RawMessage) []recordedAlert {
	return slices.DeleteFunc(recordedAlerts(details), func(a recordedAlert) bool { return a.Status != StatusFiring })
}

// recordedAlerts is the alerts an incident's details recorded, firing or
// resolved; none for details of no known shape.
func recordedAlerts(details json.RawMessage) []recordedAlert {
	var d recordedDetails
	if len(details) == 0 || json.Unmarshal(details, &d) != nil || d.Source != "alertmanager" {
		return nil
	}
	return d.Alerts
}

// startedAfter says when a recorded alert started, if that is after end;
// not when either time is missing.
func (a recordedAlert) startedAfter(end time.Time) (time.Time, bool) {
	started, err := time.Parse(time.RFC3339Nano, a.StartsAt)
	if err != nil || !knownTime(end) || !started.After(end) {
		return time.Time{}, false
	}
	return started, true
}

// Uncovered compares the firing alerts an open incident's details
// recorded (those of the latest firing notification that opened or
// repeated it) with the alerts the notification reports resolved. A
// recorded alert counts as uncovered when it started after the
// notification's end of it (its endsAt; its startsAt when it has none),
// times that the Prometheus behind both Alertmanagers set, or when the
// notification lists every alert of its group and not it. Times either
// side does not carry are not compared, and details of no known shape
// leave nothing uncovered.
func (e *Ended) Uncovered(details json.RawMessage) Uncovered {
	var u Uncovered
	for _, a := range recordedFiring(details) {
		ended, ok := e.alerts[a.Fingerprint]
		if !ok {
			if e.all && u.Unlisted == "" {
				u.Unlisted = recordedName(a.Labels, a.Fingerprint)
			}
			continue
		}
		end := ended.end()
		started, ok := a.startedAfter(end)
		if !ok {
			continue
		}
		u.Newer = fmt.Sprintf("%s (started %s, after the end %s this notification gives it)",
			recordedName(a.Labels, a.Fingerprint), started.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
		return u
	}
	return u
}

// FiredAfter is, for the group's last resolve that resolves the open
// incidents of the group it does not name (those pagerd did not read of
// it, or that max_alerts left out), the recorded firing alert of an open
// incident's details that started after that resolve: after the end the
// notification gives it, when it names it, else after the latest end it
// gives any of its alerts. Such an alert fired again after the group
// resolved, in a firing notification received before this stale one
// (from another Alertmanager of a cluster, or a retry), and its incident
// must stay open. It returns the alert's name and those times for the
// incident's timeline, or "" when there is none or times to compare are
// missing.
func (e *Ended) FiredAfter(details json.RawMessage) string {
	for _, a := range recordedFiring(details) {
		end, which := e.latest, "the latest end this notification gives any alert of the group"
		if ended, ok := e.alerts[a.Fingerprint]; ok {
			end, which = ended.end(), "the end this notification gives it"
		}
		started, ok := a.startedAfter(end)
		if !ok {
			continue
		}
		return fmt.Sprintf("%s (started %s, after %s, %s)", recordedName(a.Labels, a.Fingerprint),
			started.UTC().Format(time.RFC3339), which, end.UTC().Format(time.RFC3339))
	}
	return ""
}

// recordedName names a recorded alert for people: its alertname (and
// instance) and fingerprint.
func recordedName(labels map[string]string, fp string) string {
	name := labels["alertname"]
	if name == "" {
		name = "alert"
	}
	if inst := labels["instance"]; inst != "" {
		name += " on " + inst
	}
	return fmt.Sprintf("%s (fingerprint %s)", truncateRunes(name, 128, "…"), fp)
}

// NothingNewer says whether a firing notification's details (firing, as
// the intake builds them for its incident) hold nothing that an
// incident's details (recorded: those of the latest firing notification
// that opened or repeated it) did not: every firing alert of the
// notification was recorded, by fingerprint, having started no later,
// firing or resolved since (a group's alerts end one by one: the firing
// notification that said one resolved repeated the incident, and the
// group's resolve after it does not name it again). A firing that
// arrived before its sender's resolve and reached the store after it is
// superseded only then: one holding an alert that started later, or one
// the incident never recorded, may be a new firing sent after that
// resolve (by the other Alertmanager of a cluster). Not
// known, so false: details that do not list every firing alert of the
// notification (over MaxDetailAlerts, left out by Alertmanager, unread),
// an alert without a fingerprint, and details of no known shape.
func NothingNewer(firing, recorded json.RawMessage) bool {
	return nothingNewer(firing, recorded, false)
}

// AlertNothingNewer is NothingNewer for an alert's own incident in
// fingerprint mode (incident_key: fingerprint; not the group's overflow
// incident), whose details hold that one alert. The alerts its
// notification left out (max_alerts) or pagerd did not read are other
// alerts, with incidents of their own or the group's overflow incident:
// they tell nothing of whether this alert fired anew after its incident's
// resolve, so they do not make the firing newer. Without this, every
// firing of a group larger than max_alerts was taken as newer than its
// resolve: a replica stopped with one opened its alerts' incidents for
// alerts that had ended (the groups soak in fingerprint mode, seed
// 579865454).
func AlertNothingNewer(firing, recorded json.RawMessage) bool {
	return nothingNewer(firing, recorded, true)
}

// nothingNewer is NothingNewer; oneAlert, AlertNothingNewer.
func nothingNewer(firing, recorded json.RawMessage, oneAlert bool) bool {
	var d amDetails
	if len(firing) == 0 || json.Unmarshal(firing, &d) != nil || d.Source != "alertmanager" || d.AlertsOmitted > 0 ||
		!oneAlert && (d.TruncatedAlerts > 0 || d.AlertsUnread > 0) {
		return false
	}
	rec := recordedAlerts(recorded)
	n := 0
	for _, a := range d.Alerts {
		if a.Status != StatusFiring {
			continue
		}
		n++
		i := slices.IndexFunc(rec, func(r recordedAlert) bool { return r.Fingerprint == a.Fingerprint })
		if a.Fingerprint == "" || i < 0 || !startedNoLater(a.StartsAt, rec[i].StartsAt) {
			return false
		}
	}
	if d.AlertsFiring != nil && *d.AlertsFiring != n {
		return false
	}
	return n > 0
}

// startedNoLater says whether an alert that started at a (as details
// write it) started no later than at r: the same text, or both times
// read and a not after r; false when a is not known.
func startedNoLater(a, r string) bool {
	if a == "" {
		return false
	}
	if a == r {
		return true
	}
	ta, err := time.Parse(time.RFC3339Nano, a)
	if err != nil {
		return false
	}
	tr, err := time.Parse(time.RFC3339Nano, r)
	return err == nil && !ta.After(tr)
}

// ResolvedStarts is, of a resolved notification's details, what
// NothingNewer needs of them as recorded: each alert's fingerprint, status
// and start, in details of the same shape (nil for details of no known
// shape). A resolve that found no incident to end keeps it for a firing of
// the same alerts written after it (incident.Service's resolve mark),
// without the labels and annotations, which may be 64 KB.
func ResolvedStarts(details json.RawMessage) json.RawMessage {
	var d recordedDetails
	if len(details) == 0 || json.Unmarshal(details, &d) != nil || d.Source != "alertmanager" {
		return nil
	}
	type start struct {
		Status      string `json:"status,omitempty"`
		StartsAt    string `json:"starts_at,omitempty"`
		Fingerprint string `json:"fingerprint,omitempty"`
	}
	out := struct {
		Source string  `json:"source"`
		Alerts []start `json:"alerts"`
	}{Source: d.Source, Alerts: make([]start, 0, len(d.Alerts))}
	for _, a := range d.Alerts {
		out.Alerts = append(out.Alerts, start{Status: a.Status, StartsAt: a.StartsAt, Fingerprint: a.Fingerprint})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	return b
}
