package amresolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// JobKindOverflow is the kind of the store jobs that decide, in
// fingerprint mode, whether the alerts Alertmanager's max_alerts left out
// of a firing notification need the group's overflow incident. The same
// alerts, last in Alertmanager's order, are left out of every
// notification, so one that fires would otherwise never page; but one of
// them may have its own incident open (it opened it while in view, and
// alerts sorted before it pushed it out), and the overflow incident paged
// a second time for it. So Alertmanager is asked which alerts of the
// group are active (neither silenced nor inhibited), and the overflow
// incident opened only for one with no open incident of its own.
const JobKindOverflow = "am_overflow"

// Overflow is the group's overflow incident as the notification would
// have opened it: a JobKindOverflow job opens it so.
type Overflow struct {
	DedupKey string `json:"dedup_key"`
	// Route are the labels that route it: the group's common labels,
	// which every alert of it carries.
	Route     map[string]string `json:"route,omitempty"`
	Summary   string            `json:"summary"`
	Details   json.RawMessage   `json:"details,omitempty"`
	Truncated string            `json:"truncated,omitempty"`
	// KeyPrefix is how the dedup keys of the group's alerts begin
	// (ingest.Message.AlertKeyPrefix).
	KeyPrefix string `json:"key_prefix"`
	// InView are the fingerprints (as dedup keys carry them) of the
	// alerts the notification named: those have incidents of their own
	// from it, which may not be stored yet when the check runs.
	InView []string `json:"in_view,omitempty"`
}

// overflowJob is what a JobKindOverflow job carries.
type overflowJob struct {
	Service string `json:"service"`
	Group
	Overflow
}

// LeftOutFiring stores, due now, the check of the alerts a firing
// notification of a group in fingerprint mode left out (max_alerts),
// replacing the one stored for an earlier notification of the group. It
// does nothing for a service that names no Alertmanager (the caller then
// opens the overflow incident at once), and says whether it stored one.
func (c *Checker) LeftOutFiring(ctx context.Context, svc *policy.Service, g Group, o Overflow) (bool, error) {
	if c == nil || svc.AlertmanagerAPI() == "" {
		return false, nil
	}
	if err := c.putNow(ctx, JobKindOverflow, groupJobKey(svc.Name, o.DedupKey), overflowJob{Service: svc.Name, Group: g, Overflow: o}); err != nil {
		return false, fmt.Errorf("store the check of the alerts a firing notification left out: %w", err)
	}
	return true, nil
}

// RunOverflow is the handler of JobKindOverflow jobs (a
// dispatch.JobHandler). It asks once. An Alertmanager that cannot be
// asked, or that lists no such alert but started less than StartMargin
// ago, is not believed: the overflow incident is opened as it was before
// the check, at once, since a missed page is worse than a second one.
func (c *Checker) RunOverflow(ctx context.Context, j *store.Job) (*store.Job, error) {
	var d overflowJob
	if err := json.Unmarshal(j.Data, &d); err != nil {
		c.o.Logger.Error("alerts left out by max_alerts: a check job that does not decode is dropped", "job", j.Key, "err", err)
		return nil, nil
	}
	cfg := c.o.Config()
	svc := cfg.Service(d.Service)
	if svc == nil {
		return nil, nil
	}
	// The incidents are read before Alertmanager is asked: one opened
	// after the read counts as none, which can open the overflow
	// incident for an alert that has one, never leave an alert without.
	own := map[string]bool{}
	for _, fp := range d.InView {
		own[fp] = true
	}
	err := store.EachOpen(ctx, c.o.Store, d.Service, func(inc *store.Incident) error {
		if fp, ok := ingest.FingerprintOfKey(inc.DedupKey, d.KeyPrefix); ok && inc.Source == "alertmanager" {
			own[fp] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	base := svc.AlertmanagerAPI()
	shown := policy.ShownURL(base) // logs and timelines never show a password
	now := c.o.Now()
	var detail string
	var fps []string
	if base == "" {
		err = errors.New("the config names no Alertmanager for the service any more")
	} else {
		fps, err = c.o.Alerts.ActiveFingerprints(ctx, base, d.Receiver, d.Labels)
	}
	var uncovered []string
	for _, fp := range fps {
		if fp = ingest.CapFingerprint(fp); !own[fp] {
			uncovered = append(uncovered, fp)
		}
	}
	switch {
	case err != nil:
		c.o.Logger.Warn("alerts left out by max_alerts: Alertmanager could not be asked which fire; the group's overflow incident is opened",
			"service", d.Service, "alertmanager", shown, "err", err)
		detail = fmt.Sprintf("Alertmanager at %s could not be asked which alerts of the group fire (%v): this incident holds the alerts it left out, which may fire", shown, err)
	case len(uncovered) > 0:
		detail = fmt.Sprintf("Alertmanager at %s lists %d active alert(s) of the group with no open incident of their own (fingerprints %s)",
			shown, len(uncovered), strings.Join(uncovered[:min(len(uncovered), 5)], ", "))
	default:
		if outcome, why := c.distrust(ctx, base, now); outcome != "" {
			c.o.Logger.Warn("alerts left out by max_alerts: Alertmanager's answer is not trusted; the group's overflow incident is opened",
				"service", d.Service, "alertmanager", shown, "why", why)
			detail = fmt.Sprintf("Alertmanager at %s lists no active alert of the group without an incident of its own, but %s: this incident holds the alerts it left out, which may fire", shown, why)
			break
		}
		c.o.Logger.Info("alerts left out by max_alerts: each active alert of the group has an incident of its own; no overflow incident opened",
			"service", d.Service, "alertmanager", shown, "active", len(fps))
		return nil, nil
	}
	id, created, err := c.openLeftOut(ctx, cfg, incident.Alert{Service: svc, DedupKey: d.DedupKey, Summary: d.Summary, Details: d.Details, Truncated: d.Truncated},
		d.Route, now, detail)
	if err != nil || !created {
		return nil, err // open already: a repeat pages nobody
	}
	c.o.Logger.Warn("alerts left out by max_alerts fire with no incident of their own: the group's overflow incident opened", "incident", id, "service", d.Service,
		"uncovered", len(uncovered), "alertmanager", shown)
	return nil, nil
}

// openLeftOut opens the incident of alerts Alertmanager left out (a: its
// service, dedup key, summary and details), routed on the group's common
// labels, with a left_out_firing entry saying why (detail). created is
// false for an incident open already, repeated: nothing is noted.
func (c *Checker) openLeftOut(ctx context.Context, cfg *policy.Config, a incident.Alert, route map[string]string, now time.Time, detail string) (id string, created bool, err error) {
	a.Source, a.Actor = "alertmanager", "alertmanager"
	a.Labels, a.LabelsIncomplete, a.Titles = []map[string]string{route}, true, []string{""}
	id, outcome, err := c.o.Incidents.Trigger(ctx, cfg, a)
	if err != nil || outcome != store.Created {
		return id, false, err
	}
	e := store.Entry{At: now.UTC().Truncate(time.Millisecond), Type: EntryLeftOutFiring, Actor: "pagerd", Detail: detail}
	if err := c.o.Incidents.Note(ctx, id, e); err != nil {
		return id, true, store.PartlyStored(err)
	}
	return id, true, nil
}
