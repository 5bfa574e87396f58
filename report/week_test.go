package report

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// The known weeks the tests check by hand. Every instant is fixed: the
// timelines are written as offsets from each incident's creation, on the
// clock of the seed's zone, and what the incident record says (its
// acknowledgement, its resolution, its status) is derived from them, as
// the daemon's state machine records it.

func loadSeed(t testing.TB, name string) *policy.Config {
	t.Helper()
	cfg, err := policy.LoadFile("../configs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func readSeed(name string) (string, error) {
	b, err := os.ReadFile("../configs/" + name)
	return string(b), err
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// step is one timeline entry, at an offset from the incident's creation.
type step struct {
	after   time.Duration
	typ     string
	level   int
	user    string
	channel string
	actor   string
	detail  string
	bundle  string
}

func page(after time.Duration, level int, user, channel string) step {
	return step{after: after, typ: EntryNotify, level: level, user: user, channel: channel, detail: "via twilio"}
}

func bundled(after time.Duration, level int, user, channel, bundle string) step {
	s := page(after, level, user, channel)
	s.bundle, s.detail = bundle, "via pagerduty, in one message for 2 incidents (alert storm)"
	return s
}

func failed(after time.Duration, level int, user, channel string) step {
	return step{after: after, typ: EntryNotifyFailed, level: level, user: user, channel: channel, detail: "via twilio: 21610 unsubscribed"}
}

func escalate(after time.Duration, level int, why string) step {
	return step{after: after, typ: EntryEscalate, level: level, actor: "pagerd", detail: why}
}

func ack(after time.Duration, level int, user string) step {
	return step{after: after, typ: EntryAck, level: level, user: user, actor: user}
}

func statusUpdate(after time.Duration, user, text string) step {
	return step{after: after, typ: EntryStatusUpdate, user: user, actor: user, detail: text}
}

func resolve(after time.Duration, user string) step {
	return step{after: after, typ: EntryResolve, user: user, actor: user}
}

// alertmanager is the details of an Alertmanager group of n alerts named
// alertname, in the shape the daemon stores.
func alertmanager(alertname string, n int) json.RawMessage {
	type alert struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Fingerprint string            `json:"fingerprint"`
	}
	d := struct {
		Source       string            `json:"source"`
		Status       string            `json:"status"`
		Receiver     string            `json:"receiver"`
		GroupKey     string            `json:"group_key"`
		GroupLabels  map[string]string `json:"group_labels"`
		CommonLabels map[string]string `json:"common_labels"`
		AlertsTotal  int               `json:"alerts_total"`
		Alerts       []alert           `json:"alerts"`
	}{"alertmanager", "firing", "pagerd", fmt.Sprintf("{}:{alertname=%q}", alertname),
		map[string]string{"alertname": alertname}, map[string]string{"alertname": alertname}, n, nil}
	for i := range n {
		d.Alerts = append(d.Alerts, alert{"firing", map[string]string{"alertname": alertname, "instance": fmt.Sprintf("node-%d", i)}, fmt.Sprintf("%016x", i)})
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}

// incident builds an incident created at local wall-clock time `at` in
// loc, with its timeline; the record's acknowledgement, resolution and
// status come from the timeline's first ack and its resolve.
func incident(loc *time.Location, id, service, prio, at, summary string, details json.RawMessage, steps ...step) Incident {
	created, err := time.ParseInLocation("2006-01-02 15:04", at, loc)
	if err != nil {
		panic(err)
	}
	inc := Incident{ID: id, Service: service, Status: "triggered", Priority: prio, Summary: summary, CreatedAt: created.UTC(), Details: details}
	inc.Timeline = append(inc.Timeline, Entry{At: inc.CreatedAt, Type: EntryTrigger, Actor: "alertmanager", Detail: prio + ", rule severity"})
	for _, s := range steps {
		e := Entry{At: inc.CreatedAt.Add(s.after), Type: s.typ, Level: s.level, User: s.user, Channel: s.channel, Actor: s.actor, Detail: s.detail, Bundle: s.bundle}
		inc.Timeline = append(inc.Timeline, e)
		switch s.typ {
		case EntryAck:
			if inc.AcknowledgedAt.IsZero() {
				inc.AcknowledgedAt, inc.AcknowledgedBy, inc.Status = e.At, s.user, "acknowledged"
			}
		case EntryResolve:
			inc.ResolvedAt, inc.ResolvedBy, inc.Status = e.At, s.user, "resolved"
		}
	}
	return inc
}

const m = time.Minute

// aivoWeeks are two AIVO on-call weeks (Monday 08:00 New York, EDT, UTC-4):
// Sep 29 to Oct 6, Alex Thompson primary (Chicago), and Oct 6 to Oct 13,
// Jennifer Liu primary, Marcus Rodriguez secondary (both New York). Business
// hours are 08:00-18:00 New York on weekdays. Two incidents fall outside
// the two weeks and must not count.
func aivoWeeks(t testing.TB) []Incident {
	ny := mustZone(t, "America/New_York")
	const svc = "aivo-production"
	return []Incident{
		// Before the period: never counted.
		incident(ny, "00-before", svc, "P1", "2025-09-29 07:59", "Before the period", alertmanager("QueueBacklog", 1),
			page(0, 1, "alex", "push"), ack(2*m, 1, "alex"), resolve(10*m, "alex")),

		// Week of Sep 29.
		// K: P1 in business hours, acknowledged in 6m, resolved in 1h.
		incident(ny, "00-k", svc, "P1", "2025-10-01 11:00", "Queue backlog growing", alertmanager("QueueBacklog", 1),
			page(0, 1, "alex", "push"), ack(6*m, 1, "alex"), resolve(60*m, "alex")),
		// L: P0 Saturday 22:30 New York, 21:30 in Alex's Chicago: off
		// hours, but not his night. Acknowledged at exactly 5m (the P0
		// target), resolved in 50m (within 1h).
		incident(ny, "00-l", svc, "P0", "2025-10-04 22:30", "Login failures above 20%", alertmanager("LoginFailures", 1),
			page(0, 1, "alex", "push"), page(2*m, 1, "alex", "sms"), ack(5*m, 1, "alex"), resolve(50*m, "alex")),

		// Week of Oct 6.
		// I and J: two P3s four seconds apart, Monday 10:00; their pushes
		// went out as one storm bundle: one page. Both acknowledged at 30m,
		// resolved at 1h.
		incident(ny, "00-i", svc, "P3", "2025-10-06 10:00", "Backup job slow on db-1", alertmanager("BackupSlow", 1),
			bundled(10*time.Second, 1, "jennifer", "push", "b00-x1"), ack(30*m, 1, "jennifer"), resolve(60*m, "jennifer")),
		incident(ny, "00-j", svc, "P3", "2025-10-06 10:00", "Backup job slow on db-2", alertmanager("BackupSlow", 1),
			bundled(10*time.Second, 1, "jennifer", "push", "b00-x1"), ack(30*m, 1, "jennifer"), resolve(60*m, "jennifer")),
		// A: P0 at 03:00 Tuesday, a group of 3 alerts. Jennifer is paged
		// by push, SMS and call and does not answer; at 15m the secondary,
		// Marcus, is paged and acknowledges at 17m (the 5m target missed),
		// updates at 40m, resolves at 70m (the 1h target missed).
		incident(ny, "00-a", svc, "P0", "2025-10-07 03:00", "API 5xx above 5%", alertmanager("HighErrorRate", 3),
			page(0, 1, "jennifer", "push"), page(2*m, 1, "jennifer", "sms"), page(5*m, 1, "jennifer", "voice"),
			escalate(15*m, 2, "not acknowledged within 15m"), page(15*m, 2, "marcus", "push"),
			ack(17*m, 2, "marcus"), statusUpdate(40*m, "marcus", "rolled back deploy 4411, error rate falling"), resolve(70*m, "marcus")),
		// B: P1 Tuesday 10:00, acknowledged in 4m, resolved in 90m.
		incident(ny, "00-b", svc, "P1", "2025-10-07 10:00", "Checkout latency p99 above 2s", alertmanager("CheckoutLatency", 1),
			page(0, 1, "jennifer", "push"), page(2*m, 1, "jennifer", "sms"), ack(4*m, 1, "jennifer"), resolve(90*m, "jennifer")),
		// C: P2 Wednesday 14:00 (business hours: ack 1h, resolution 24h),
		// acknowledged in 20m, resolved after 26h (missed).
		incident(ny, "00-c", svc, "P2", "2025-10-08 14:00", "Disk filling on db-3", alertmanager("DiskFilling", 1),
			page(0, 1, "jennifer", "push"), page(2*m, 1, "jennifer", "sms"), page(5*m, 1, "jennifer", "voice"),
			ack(20*m, 1, "jennifer"), resolve(26*time.Hour, "jennifer")),
		// H: a security breach, P0 by the executive trigger, Thursday
		// 15:00: the CTO is paged at once with the primary; her SMS fails.
		// Acknowledged in 3m, resolved in 45m.
		incident(ny, "00-h", svc, "P0", "2025-10-09 15:00", "Suspicious admin logins from new ASN", alertmanager("AdminLoginAnomaly", 1),
			page(0, 1, "jennifer", "push"), escalate(0, 4, "auto-escalation trigger (executive-trigger)"), page(0, 4, "sarah", "push"),
			page(2*m, 1, "jennifer", "sms"), failed(2*m, 4, "sarah", "sms"), ack(3*m, 1, "jennifer"), resolve(45*m, "jennifer")),
		// D: P2 Thursday 20:00, off hours (low urgency: push only); it
		// resolves itself in 3m, unacknowledged: a false-positive candidate,
		// with no acknowledge verdict (it ended before its 1h deadline).
		incident(ny, "00-d", svc, "P2", "2025-10-09 20:00", "Disk filling on db-3", alertmanager("DiskFilling", 1),
			page(0, 1, "jennifer", "push"), resolve(3*m, "alertmanager")),
		// E: P2 Friday 23:30, in Jennifer's night; acknowledged at 00:10
		// (40m, within the off-hours 1h), resolved at 01:00.
		incident(ny, "00-e", svc, "P2", "2025-10-10 23:30", "Disk filling on db-3", alertmanager("DiskFilling", 1),
			page(0, 1, "jennifer", "push"), ack(40*m, 1, "jennifer"), resolve(90*m, "jennifer")),
		// F: P2 Saturday 09:00; nobody acknowledges within the off-hours
		// 1h, so it escalates to Marcus, who acknowledges at 65m.
		incident(ny, "00-f", svc, "P2", "2025-10-11 09:00", "Disk filling on db-3", alertmanager("DiskFilling", 1),
			page(0, 1, "jennifer", "push"), escalate(60*m, 2, "not acknowledged within 1h"), page(60*m, 2, "marcus", "push"),
			ack(65*m, 2, "marcus"), resolve(90*m, "marcus")),
		// G: P3 Sunday 12:00, acknowledged in 30m (the off-hours 1h kept),
		// still open at the end of the period: its 72h resolution target
		// is not due yet.
		incident(ny, "00-g", svc, "P3", "2025-10-12 12:00", "Certificate for api.aivo.edu expires in 14 days", alertmanager("CertExpiry", 1),
			page(0, 1, "jennifer", "push"), ack(30*m, 1, "jennifer"), statusUpdate(60*m, "jennifer", "renewal ticket filed, waiting on the vendor")),

		// After the period: never counted.
		incident(ny, "00-after", svc, "P0", "2025-10-13 08:00", "After the period", alertmanager("HighErrorRate", 1),
			page(0, 1, "marcus", "push")),
	}
}

// aionWeek is an AION-R week (Monday 00:00 UTC), Oct 6 to Oct 13, Engineer
// A primary, Engineer B secondary. Business hours (the pay calendar) are
// 09:00-17:00 UTC on weekdays; everyone is in UTC.
func aionWeek(t testing.TB) []Incident {
	utc := time.UTC
	const svc = "aion-r-platform"
	return []Incident{
		// P9: SEV-3 in business hours: nothing billable.
		incident(utc, "01-p9", svc, "SEV-3", "2025-10-06 12:00", "Replica lag on pg-2", alertmanager("ReplicaLag", 1),
			page(0, 1, "eng-a", "push"), ack(5*m, 1, "eng-a"), resolve(30*m, "eng-a")),
		// P5: SEV-2 Tuesday 16:00 to 18:23: not acknowledged within 20m, so
		// Engineer B (secondary) is paged and acknowledges; 83 minutes
		// after 17:00 round to 90.
		incident(utc, "01-p5", svc, "SEV-2", "2025-10-07 16:00", "Inference queue saturated", alertmanager("QueueSaturated", 1),
			page(0, 1, "eng-a", "push"), page(2*m, 1, "eng-a", "sms"), page(5*m, 1, "eng-a", "voice"),
			escalate(20*m, 2, "not acknowledged within 20m"), page(20*m, 2, "eng-b", "push"), ack(22*m, 2, "eng-b"),
			statusUpdate(45*m, "eng-b", "scaled workers to 12"), resolve(143*m, "eng-b")),
		// P1: SEV-2 Tuesday 16:50 to 17:10: ten minutes after hours bill
		// the 30-minute minimum.
		incident(utc, "01-p1", svc, "SEV-2", "2025-10-07 16:50", "Error rate above 1% on web-api", alertmanager("HighErrorRate", 1),
			page(0, 1, "eng-a", "push"), ack(2*m, 1, "eng-a"), statusUpdate(10*m, "eng-a", "bad config pushed, reverting"), resolve(20*m, "eng-a")),
		// P6: SEV-3 Wednesday 10:00 to 11:00: business hours, not billable.
		incident(utc, "01-p6", svc, "SEV-3", "2025-10-08 10:00", "Replica lag on pg-2", alertmanager("ReplicaLag", 1),
			page(0, 1, "eng-a", "push"), ack(4*m, 1, "eng-a"), resolve(60*m, "eng-a")),
		// P2: SEV-1 Wednesday 20:00 to Thursday 01:00: 5h after hours,
		// over 4h: one comp day. Unresolved after 1h, it pages the
		// secondary, the team lead and the manager.
		incident(utc, "01-p2", svc, "SEV-1", "2025-10-08 20:00", "Model serving down in eu-west", alertmanager("ServingDown", 2),
			page(0, 1, "eng-a", "push"), ack(3*m, 1, "eng-a"), statusUpdate(20*m, "eng-a", "node pool lost, recreating"),
			statusUpdate(50*m, "eng-a", "pool back, models loading"), escalate(60*m, 3, "unresolved after 1h"),
			page(60*m, 2, "eng-b", "push"), page(60*m, 3, "lead-x", "push"), page(60*m, 3, "eng-manager", "push"),
			resolve(5*time.Hour, "eng-a")),
		// P3: SEV-3 Thursday 07:53 to 10:00: 67 minutes before opening
		// round to 60.
		incident(utc, "01-p3", svc, "SEV-3", "2025-10-09 07:53", "Replica lag on pg-2", alertmanager("ReplicaLag", 1),
			page(0, 1, "eng-a", "push"), ack(10*m, 1, "eng-a"), resolve(127*m, "eng-a")),
		// P7: SEV-4 Friday 03:00, resolves itself in 2m: a false-positive
		// candidate nobody is paid for.
		incident(utc, "01-p7", svc, "SEV-4", "2025-10-10 03:00", "Certificate renewal retried", alertmanager("CertRenewalRetry", 1),
			page(0, 1, "eng-a", "push"), resolve(2*m, "alertmanager")),
		// P4: SEV-1 Saturday 10:00 to 14:30: 4h30m billable, a weekend
		// SEV-1 (the Monday comp day) that also lasted over 4h: two days.
		incident(utc, "01-p4", svc, "SEV-1", "2025-10-11 10:00", "Payments webhook failing", alertmanager("WebhookFailures", 1),
			page(0, 1, "eng-a", "push"), ack(4*m, 1, "eng-a"), statusUpdate(25*m, "eng-a", "provider outage, retries queued"),
			resolve(270*m, "eng-a")),
		// P8: SEV-3 Sunday 18:00, acknowledged, still open at handoff.
		incident(utc, "01-p8", svc, "SEV-3", "2025-10-12 18:00", "Replica lag on pg-2", alertmanager("ReplicaLag", 1),
			page(0, 1, "eng-a", "push"), ack(20*m, 1, "eng-a"), statusUpdate(60*m, "eng-a", "lag from the nightly batch; watching")),
	}
}

// aionChanges are the change events AION-R's deploy tools sent around the
// test week (aionWeek): the handoff document lists the week's, as
// testdata/aion-r-changes.json has them for cmd/pagerd's tests.
func aionChanges() []Change {
	at := func(s string) time.Time {
		t, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			panic(err)
		}
		return t
	}
	return []Change{
		// Before the week: not listed.
		{At: at("2025-10-05 23:30"), Service: "aion-r-platform", Summary: "Deploy web-api v7.3.9", Source: "argo-cd"},
		{At: at("2025-10-08 19:40"), Service: "aion-r-platform", Summary: "Config push: eu-west model-serving replicas from 6 to 4", Source: "terraform"},
		{At: at("2025-10-07 15:45"), Service: "aion-r-platform", Summary: "Deploy inference-gateway v3.2.0", Source: "argo-cd",
			Link: "https://ci.aion-r.example/deploys/812"},
		// After the document's time: not listed.
		{At: at("2025-10-12 23:00"), Service: "aion-r-platform", Summary: "Deploy web-api v7.4.0", Source: "argo-cd"},
	}
}
