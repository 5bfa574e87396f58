package amresolve

import (
	"context"
	"fmt"
	"time"

	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// EntryChecking is written when an acknowledgement that silenced the
// incident's alerts starts the check.
const EntryChecking = "resolve_check_started"

// ackKey is the key of the check an acknowledgement started: apart from
// a withheld resolve's (keyed by the incident alone), which it must not
// replace.
func ackKey(incident string) string { return incident + "/acknowledged" }

// Acknowledged is the handler of the store.OutboxResolveCheck item an
// acknowledgement stores when it silences the incident's alerts in
// Alertmanager (silence_on_acknowledge; a dispatch.OutboxHandler). The
// silences mute the alerts' resolved notification as well as their firing
// ones, so without asking the incident would stay acknowledged for good,
// and the group firing again days later would be taken for a repeat of it
// and page nobody. It stores the check (kind JobKind) due now: asked every
// RecheckEvery while the incident stays acknowledged, it resolves the
// incident once Alertmanager lists none of its alerts (silenced ones are
// listed, and count as firing).
func (c *Checker) Acknowledged(ctx context.Context, inc *store.Incident, _ store.OutboxItem, _ []store.Entry) (store.Entry, error) {
	if inc.State.Status != policy.StatusAcknowledged {
		return store.Entry{}, nil // resolved or re-opened since
	}
	svc := c.o.Config().Service(inc.Service)
	if svc == nil || svc.AlertmanagerAPI() == "" {
		return store.Entry{}, nil
	}
	f, ok := ingest.ReadAlertFilter(inc.Details, svc.IncidentKey == "fingerprint")
	if !ok {
		return store.Entry{}, nil
	}
	// Alertmanager lists the alerts at the acknowledgement: saying so in
	// the timeline at once would be noise.
	d := jobData{Service: svc.Name, Incident: inc.ID, Group: Group{Receiver: f.Receiver, Labels: f.Labels}, Fingerprint: f.Fingerprint,
		Repeats: inc.Repeats, Acknowledged: true, Last: EntryStillFiring}
	if err := c.putNow(ctx, JobKind, ackKey(inc.ID), d); err != nil {
		return store.Entry{}, fmt.Errorf("store the check of the silenced alerts: %w", err)
	}
	return store.Entry{At: c.o.Now().UTC().Truncate(time.Millisecond), Type: EntryChecking, Actor: "pagerd",
		Detail: fmt.Sprintf("Alertmanager mutes the silenced alerts' resolved notification too: pagerd asks Alertmanager at %s every %s "+
			"whether an alert of the group still fires (silenced ones count), and resolves the incident when none does",
			policy.ShownURL(svc.AlertmanagerAPI()), RecheckEvery)}, nil
}

// firing counts the alerts of the check's group Alertmanager lists, or,
// for one alert's check (d.Fingerprint, fingerprint mode), those with the
// alert's fingerprint: the filter on its labels also lists the alerts
// that carry them and more, and one of those firing kept the incident
// acknowledged, and its alert's next firing a repeat that paged nobody.
// A stale resolve's check (d.Stale) counts only the alerts that would
// page.
func (c *Checker) firing(ctx context.Context, base string, d *jobData) (int, error) {
	count, list := c.o.Alerts.Firing, c.o.Alerts.Fingerprints
	if d.Stale {
		count, list = c.o.Alerts.Active, c.o.Alerts.ActiveFingerprints
	}
	if d.Fingerprint == "" {
		return count(ctx, base, d.Receiver, d.Labels)
	}
	fps, err := list(ctx, base, d.Receiver, d.Labels)
	n := 0
	for _, fp := range fps {
		if ingest.CapFingerprint(fp) == d.Fingerprint {
			n++
		}
	}
	return n, err
}
