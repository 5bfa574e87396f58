package gateway

import (
	"encoding/json"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// incidentView is an incident as the API shows it.
type incidentView struct {
	ID             string        `json:"id"`
	Service        string        `json:"service"`
	Status         policy.Status `json:"status"`
	Priority       string        `json:"priority"`
	Urgency        string        `json:"urgency"`
	Summary        string        `json:"summary"`
	CreatedAt      time.Time     `json:"created_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
	AcknowledgedAt *time.Time    `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string        `json:"acknowledged_by,omitempty"`
	// LastAcknowledgedAt is when AcknowledgedBy acknowledged: after a
	// reopen and another acknowledgement, AcknowledgedAt is still the
	// first (what MTTA counts) and AcknowledgedBy the latest
	// acknowledger, so a client that shows "acknowledged by X at" takes
	// this (policy.Incident.AcknowledgedByAt; absent when not known).
	LastAcknowledgedAt *time.Time `json:"last_acknowledged_at,omitempty"`
	ResolvedAt         *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy         string     `json:"resolved_by,omitempty"`
	Level              int        `json:"level"`
	LevelName          string     `json:"level_name,omitempty"`
	// LevelStartedAt is when the incident's level was (last) started: an
	// escalation on a person's behalf sends it back as from_level_at, so
	// at the last level, which an escalation starts again, a request
	// repeated escalates once.
	LevelStartedAt time.Time `json:"level_started_at,omitzero"`
	Rule           string    `json:"rule,omitempty"`
	Source         string    `json:"source"`
	DedupKey       string    `json:"dedup_key"`
	Repeats        int       `json:"repeats"`
	LastSeen       time.Time `json:"last_seen"`
	StatusUpdates  int       `json:"status_updates"`
	// Reopened counts the times the incident went from acknowledged back
	// to triggered; an acknowledgement sends it back as reopened.
	Reopened    int             `json:"reopened,omitempty"`
	NextStepAt  *time.Time      `json:"next_step_at,omitempty"`
	Maintenance *policy.Hold    `json:"maintenance,omitempty"` // the maintenance window holding its pages
	Details     json.RawMessage `json:"details,omitempty"`
	Timeline    []store.Entry   `json:"timeline,omitempty"`

	// Held is when maintenance windows held it: reports (which read this
	// JSON as report.Incident) leave that time out of MTTA and MTTR.
	Held []policy.HeldSpan `json:"held,omitempty"`
}

func view(cfg *policy.Config, inc *store.Incident) incidentView {
	st := inc.State
	v := incidentView{ID: inc.ID, Service: inc.Service, Status: st.Status, Priority: st.Priority, Urgency: st.Urgency,
		Summary: inc.Summary, CreatedAt: inc.CreatedAt, UpdatedAt: inc.UpdatedAt, AcknowledgedBy: st.AcknowledgedBy,
		ResolvedBy: st.ResolvedBy, Level: st.Level + 1, LevelStartedAt: st.LevelStartedAt, Rule: st.Rule, Source: inc.Source, DedupKey: inc.DedupKey,
		Repeats: inc.Repeats, LastSeen: inc.LastSeen, StatusUpdates: st.StatusUpdates, Reopened: st.Reopened, Details: inc.Details,
		Maintenance: st.Maintenance, Held: st.Held}
	if !st.AcknowledgedAt.IsZero() {
		t := st.AcknowledgedAt
		v.AcknowledgedAt = &t
	}
	if t := st.AcknowledgedByAt(); !t.IsZero() {
		v.LastAcknowledgedAt = &t
	}
	if !st.ResolvedAt.IsZero() {
		t := st.ResolvedAt
		v.ResolvedAt = &t
	}
	if d, ok := st.Next(); ok {
		v.NextStepAt = &d.At
	}
	v.LevelName = cfg.IncidentLevelName(&st)
	return v
}
