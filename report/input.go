package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// Incident is one incident with its timeline, as reports read it. Its JSON
// form is the incident API's (GET /api/v1/incidents/<id>): a list of them
// decoded from the API feeds a report as well as the store does. From the
// store it is one assignment per field (store.Incident's State carries the
// status, priority, acknowledgement and resolution) and one conversion per
// timeline entry, report.Entry(e), since Entry has store.Entry's fields.
type Incident struct {
	ID       string `json:"id"`
	Service  string `json:"service"`
	Status   string `json:"status"`
	Priority string `json:"priority"`
	Summary  string `json:"summary"`
	// CreatedAt places the incident in a period and a week.
	CreatedAt time.Time `json:"created_at"`
	// AcknowledgedAt and ResolvedAt are the first acknowledgement and the
	// resolution; zero when there was none (the timeline's first ack and
	// resolve entries stand in for a record that lacks them).
	// AcknowledgedBy is the last person to acknowledge, as the engine
	// keeps it: after an escalation re-opened the incident, not the
	// first acknowledger, whom reports take from the timeline.
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	AcknowledgedBy string    `json:"acknowledged_by,omitempty"`
	ResolvedAt     time.Time `json:"resolved_at,omitzero"`
	ResolvedBy     string    `json:"resolved_by,omitempty"`
	// Held is when maintenance windows held the incident's pages (the
	// escalation state's Held). Nobody was paged then, so MTTA and MTTR
	// and the targets leave that time out, as the engine's SLA targets do.
	Held []policy.HeldSpan `json:"held,omitempty"`
	// Details is what the sender sent (Alertmanager's group with its
	// alerts and labels, or the PagerDuty event): where an incident's
	// alertname and its number of alerts come from.
	Details json.RawMessage `json:"details,omitempty"`
	// Timeline is the incident's entries, oldest first.
	Timeline []Entry `json:"timeline,omitempty"`
}

// Entry is one line of an incident's timeline. Its fields are those of
// store.Entry, in the same order, so a store entry converts with Entry(e).
// Levels are 1-based, as the timeline writes them.
type Entry struct {
	At      time.Time `json:"at"`
	Type    string    `json:"type"`
	Actor   string    `json:"actor,omitempty"`
	Level   int       `json:"level,omitempty"`
	User    string    `json:"user,omitempty"`
	Channel string    `json:"channel,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	// Note, on an acknowledgement, is what the person wrote with it
	// (store.Entry's; reports do not read it).
	Note   string `json:"note,omitempty"`
	Bundle string `json:"bundle,omitempty"`
	// PageAt, on a delivery report, is when the page it is about went out.
	PageAt time.Time `json:"page_at,omitzero"`
	// Reopened, on a page, is the incident's reopen count when it went
	// out, and ReopenedKnown says the page recorded it (store.Entry's;
	// reports do not read them).
	Reopened      int  `json:"reopened,omitempty"`
	ReopenedKnown bool `json:"reopened_known,omitempty"`
	// Ref, on a page, is the provider's id of what it created (Twilio's
	// call SID; store.Entry's; reports do not read it).
	Ref string `json:"ref,omitempty"`
	// Step, on a page, is the id of the step it was sent for
	// (store.Entry's; reports do not read it).
	Step string `json:"step,omitempty"`
	// Unreached, on a delivery report, says its page reached nobody for
	// certain (store.Entry's; reports do not read it).
	Unreached bool `json:"unreached,omitempty"`
	// Received, on a resolve its sender sent, is when pagerd received it
	// (store.Entry's; reports do not read it).
	Received time.Time `json:"received,omitzero"`
}

// Timeline entry types reports read.
const (
	EntryTrigger      = "trigger"
	EntryNotify       = "notify"
	EntryNotifyFailed = "notify_failed"
	EntryEscalate     = "escalate"
	EntryAck          = "ack"
	EntryResolve      = "resolve"
	EntryStatusUpdate = "status_update"
)

// ackTime is when the incident was first acknowledged, and by whom. The
// record keeps the first acknowledgement's time but the last
// acknowledger's name (an escalation re-opens an acknowledged incident and
// someone else may acknowledge it again), so who comes from the timeline's
// ack entry at that time; the record's name only stands in when the
// timeline has none.
func (inc *Incident) ackTime() (time.Time, string) {
	for _, e := range inc.Timeline {
		if e.Type != EntryAck {
			continue
		}
		if !inc.AcknowledgedAt.IsZero() && !e.At.Truncate(time.Millisecond).Equal(inc.AcknowledgedAt.Truncate(time.Millisecond)) {
			// Not the acknowledgement the record keeps (a timeline
			// that lost its head): the record is all there is.
			break
		}
		who := e.User
		if who == "" {
			who = e.Actor
		}
		if !inc.AcknowledgedAt.IsZero() {
			return inc.AcknowledgedAt, who
		}
		return e.At, who
	}
	if !inc.AcknowledgedAt.IsZero() {
		return inc.AcknowledgedAt, inc.AcknowledgedBy
	}
	return time.Time{}, ""
}

// ackStanding is the acknowledgement that holds the incident at `at`, and
// who made it: zero when it was never acknowledged by then, or when an
// escalation re-opened it since (the engine pages the new level until
// someone acknowledges again, and that person owns it). The timeline says
// it; a record whose timeline has no ack entry answers with its own.
func (inc *Incident) ackStanding(at time.Time) (time.Time, string) {
	var t time.Time
	who, seen := "", false
	for i := range inc.Timeline {
		e := &inc.Timeline[i]
		if e.At.After(at) {
			break
		}
		switch e.Type {
		case EntryAck:
			seen = true
			t, who = e.At, e.User
			if who == "" {
				who = e.Actor
			}
		case EntryEscalate:
			// Every escalation, a priority raise too, re-opens an
			// acknowledged incident.
			t, who = time.Time{}, ""
		}
	}
	if !seen {
		for i := range inc.Timeline {
			if inc.Timeline[i].Type == EntryAck {
				// Acknowledged, but only after at.
				return time.Time{}, ""
			}
		}
		if a, by := inc.ackTime(); !a.IsZero() && !a.After(at) {
			return a, by
		}
		return time.Time{}, ""
	}
	return t, who
}

// unheld is t less the time maintenance windows held the incident before
// it: the instant t would have been had its clocks run only while it could
// page. Zero stays zero.
func (inc *Incident) unheld(t time.Time) time.Time {
	if t.IsZero() || len(inc.Held) == 0 {
		return t
	}
	return t.Add(-policy.HeldBefore(inc.Held, t))
}

// resolveTime is when the incident was resolved, and by whom.
func (inc *Incident) resolveTime() (time.Time, string) {
	if !inc.ResolvedAt.IsZero() {
		return inc.ResolvedAt, inc.ResolvedBy
	}
	if inc.Status != "" && inc.Status != "resolved" {
		return time.Time{}, ""
	}
	for i := len(inc.Timeline) - 1; i >= 0; i-- {
		if e := inc.Timeline[i]; e.Type == EntryResolve {
			who := e.User
			if who == "" {
				who = e.Actor
			}
			return e.At, who
		}
	}
	return time.Time{}, ""
}

// isEscalation reports whether a timeline entry moved the incident beyond
// the level it was at: a timeout, an "unresolved after" or "no status
// update" rule, a manual escalation or an auto-escalation trigger. A
// priority raise pages the same level again and is not one, nor is a level
// paged again because a reload removed the person it was paging, nor a
// level that paged nobody with no level to go on to (the incident stayed
// where it was), nor the first page of an incident that waited for
// someone to come on call (nobody had been paged at any level).
func isEscalation(e *Entry) bool {
	return e.Type == EntryEscalate && !policy.IsPriorityRaise(e.Detail) && !policy.IsPagedAgain(e.Detail) &&
		!policy.IsLevelPagingNobody(e.Detail) && !policy.IsOnCallLook(e.Detail)
}

// raisedPrefix begins the detail of the escalate entry the engine writes
// when a repeat raises an open incident's priority: "priority raised from
// P2 to P0 (rule) by ...".
const raisedPrefix = "priority raised"

// createdPriority is the priority the incident had when it was created:
// the record keeps the one it ended with, and the engine arms the targets
// of this one at the trigger (raises tighten them: see raises). The
// first raise's entry says what it was raised from; without one, or when
// that is no priority of the scheme, it is the record's.
func (inc *Incident) createdPriority(sc *policy.Scheme) string {
	for i := range inc.Timeline {
		if from, _, ok := raised(&inc.Timeline[i]); ok {
			if sc != nil && sc.Rank(from) >= 0 {
				return from
			}
			break
		}
	}
	return inc.Priority
}

// raised reads a raise's timeline entry ("priority raised from P2 to P0
// (rule) by ..."): the priorities it was raised from and to.
func raised(e *Entry) (from, to string, ok bool) {
	if e.Type != EntryEscalate {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(e.Detail, raisedPrefix+" from ")
	if !ok {
		return "", "", false
	}
	from, rest, _ = strings.Cut(rest, " ")
	_, rest, _ = strings.Cut(" "+rest, " to ")
	to, _, _ = strings.Cut(rest, " ")
	return from, to, true
}

// sender is the part of an incident's details that says which alert it is
// and how many alerts it covers: Alertmanager's group (its labels, its
// alerts) or a PagerDuty event (its custom details and class).
type sender struct {
	AlertsTotal  int               `json:"alerts_total"`
	GroupLabels  map[string]string `json:"group_labels"`
	CommonLabels map[string]string `json:"common_labels"`
	Alerts       []struct {
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
	Event *struct {
		Payload *struct {
			Class   string         `json:"class"`
			Details map[string]any `json:"custom_details"`
		} `json:"payload"`
	} `json:"event"`
}

// alertName is the incident's alertname: Alertmanager's group or common
// label, or its first alert's; a PagerDuty event's custom_details
// alertname, or its class. "" when the details say none.
func (s *sender) alertName() string {
	for _, m := range []map[string]string{s.GroupLabels, s.CommonLabels} {
		if v := m["alertname"]; v != "" {
			return v
		}
	}
	if len(s.Alerts) > 0 && s.Alerts[0].Labels["alertname"] != "" {
		return s.Alerts[0].Labels["alertname"]
	}
	if s.Event != nil && s.Event.Payload != nil {
		if v, ok := s.Event.Payload.Details["alertname"].(string); ok && v != "" {
			return v
		}
		return s.Event.Payload.Class
	}
	return ""
}

// readSender decodes what reports need from details; undecodable or
// missing details give an empty sender.
func readSender(details json.RawMessage) sender {
	var s sender
	if len(details) > 0 {
		_ = json.Unmarshal(details, &s)
	}
	return s
}

// AlertName is the alertname an incident is about, read from its details
// (Alertmanager labels, or a PagerDuty event's custom_details alertname or
// class); "" when they name none. Handoff documents count recurring alerts
// by it.
func AlertName(details json.RawMessage) string {
	s := readSender(details)
	return s.alertName()
}

// alertCount is how many alerts an incident covers: an Alertmanager
// group's alerts_total, else one. It reads the number without decoding the
// details (a year of history holds megabytes of them): the top-level
// alerts_total is the only "alerts_total" key with a number for a value,
// labels and annotations being strings.
func alertCount(details json.RawMessage) int {
	rest, ok := afterKey(details, `"source"`)
	if !ok || !bytes.HasPrefix(rest, []byte(`"alertmanager"`)) {
		return 1
	}
	for rest = details; ; {
		var found bool
		if rest, found = afterKey(rest, `"alerts_total"`); !found {
			return 1
		}
		n, digits := 0, 0
		for _, c := range rest {
			if c < '0' || c > '9' || digits > 9 {
				break
			}
			n = n*10 + int(c-'0')
			digits++
		}
		if digits > 0 {
			return max(n, 1)
		}
	}
}

// afterKey finds the first occurrence of key followed by a colon (blanks
// around it allowed, as in indented JSON) and returns what follows, blanks
// skipped.
func afterKey(b []byte, key string) ([]byte, bool) {
	for {
		i := bytes.Index(b, []byte(key))
		if i < 0 {
			return nil, false
		}
		b = bytes.TrimLeft(b[i+len(key):], " \t\r\n")
		if len(b) > 0 && b[0] == ':' {
			return bytes.TrimLeft(b[1:], " \t\r\n"), true
		}
	}
}

// raise is a priority raise of the incident: when, and to which priority.
type raise struct {
	at time.Time
	to string
}

// raises are the incident's priority raises, in order, from their
// timeline entries ("priority raised from P2 to P0 (rule) by ..."), those
// to a priority of the scheme only. The engine holds the incident to each
// new priority's targets from its raise (policy's raiseTargets).
func (inc *Incident) raises(sc *policy.Scheme) []raise {
	var out []raise
	for i := range inc.Timeline {
		if _, to, ok := raised(&inc.Timeline[i]); ok && sc != nil && sc.Rank(to) >= 0 {
			out = append(out, raise{at: inc.Timeline[i].At, to: to})
		}
	}
	return out
}
