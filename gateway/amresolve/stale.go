package amresolve

import (
	"context"
	"fmt"

	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// staleKey is the key of a stale resolve's check: apart from a withheld
// resolve's (keyed by the incident alone), which counts silenced alerts
// as firing and must not be replaced by one that does not.
func staleKey(incident string) string { return incident + "/stale" }

// Stale stores, due now, the check of inc, whose resolve pagerd just
// withheld because the resolved notification does not cover an alert a
// firing notification received before it recorded
// (ingest.Ended.Uncovered): the notification may be stale, from another
// Alertmanager of a cluster or a retry, or the alert may have left the
// group unnamed. Alertmanager is asked whether an alert of the group (in
// fingerprint mode, the incident's alert) still fires and is neither
// silenced nor inhibited, and the incident resolved when none does. g is
// the group as the notification named it. It does nothing for a service
// that names no Alertmanager, and says whether it stored one.
func (c *Checker) Stale(ctx context.Context, svc *policy.Service, inc *store.Incident, g Group, byFingerprint bool) (bool, error) {
	if c == nil || svc.AlertmanagerAPI() == "" {
		return false, nil
	}
	d := jobData{Service: svc.Name, Incident: inc.ID, Group: g, Repeats: inc.Repeats, Stale: true}
	if byFingerprint {
		f, ok := ingest.ReadAlertFilter(inc.Details, true)
		if !ok || f.Fingerprint == "" {
			return false, nil
		}
		d.Group, d.Fingerprint = Group{Receiver: f.Receiver, Labels: f.Labels}, f.Fingerprint
	}
	if err := c.putNow(ctx, JobKind, staleKey(inc.ID), d); err != nil {
		return false, fmt.Errorf("store the check of the stale resolve: %w", err)
	}
	return true, nil
}
