package amresolve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// JobKindGroup is the kind of the store jobs that check, in fingerprint
// mode, the open incidents of a group whose notification Alertmanager cut
// to max_alerts.
const JobKindGroup = "am_resolve_group"

// groupJob is what a JobKindGroup job carries.
type groupJob struct {
	Service string `json:"service"`
	Group
	// KeyPrefix is how the dedup keys of the group's alerts begin
	// (ingest.Message.AlertKeyPrefix): "am:", the group key as pagerd
	// keeps it, ":".
	KeyPrefix string `json:"key_prefix"`
	// Last is the previous check's outcome when it could not decide
	// (EntryUnconfirmed or EntryRecentStart), so the log says each
	// change at warn once, not every minute.
	Last string `json:"last,omitempty"`
	// Resolved marks the check the group's last resolve stored
	// (Checker.Resolved): only alerts that would page (neither silenced
	// nor inhibited) keep their incident open, as for a stale resolve.
	Resolved bool `json:"resolved,omitempty"`
	// Skip lists the incidents the last resolve left to checks of their
	// own (Checker.Stale): this one leaves them alone.
	Skip []string `json:"skip,omitempty"`
}

// Cut stores, due now, the check of a group in fingerprint mode whose
// notification Alertmanager cut to max_alerts (truncatedAlerts): the
// alerts it left out are reported neither firing nor resolved, so one
// that opened its incident while in view and resolved out of it would
// leave that incident open for good. keyPrefix is the message's
// ingest.Message.AlertKeyPrefix. It replaces the check stored for an
// earlier cut notification of the group, does nothing for a service that
// names no Alertmanager, and says whether it stored one.
func (c *Checker) Cut(ctx context.Context, svc *policy.Service, g Group, keyPrefix string) (bool, error) {
	if c == nil || svc.AlertmanagerAPI() == "" {
		return false, nil
	}
	if err := c.putNow(ctx, JobKindGroup, groupJobKey(svc.Name, keyPrefix), groupJob{Service: svc.Name, Group: g, KeyPrefix: keyPrefix}); err != nil {
		return false, fmt.Errorf("store the check of the group's alerts left out by max_alerts: %w", err)
	}
	return true, nil
}

// Resolved stores, due now, the check of a group in fingerprint mode whose
// last resolve (resolved, nothing left out) does not name open incidents
// of the group: alerts pagerd did not read of it, or that max_alerts left
// out and that resolved unseen, or alerts that fired again after the
// group resolved, in a firing notification received before this one
// (from the other Alertmanager of a cluster, or a retry), whose
// recorded start, set by Prometheus when the alert became pending, may
// well come before the ends the notification gives. Only Alertmanager
// can tell them apart: each open incident of the group whose alert it
// does not list active is resolved, the others stay open. skip are the
// incidents checked by a job of their own. It replaces the check stored
// for an earlier last resolve of the group (apart from Cut's), does
// nothing for a service that names no Alertmanager, and says whether it
// stored one.
func (c *Checker) Resolved(ctx context.Context, svc *policy.Service, g Group, keyPrefix string, skip []string) (bool, error) {
	if c == nil || svc.AlertmanagerAPI() == "" {
		return false, nil
	}
	d := groupJob{Service: svc.Name, Group: g, KeyPrefix: keyPrefix, Resolved: true, Skip: skip}
	if err := c.putNow(ctx, JobKindGroup, groupJobKey(svc.Name, keyPrefix)+"/resolved", d); err != nil {
		return false, fmt.Errorf("store the check of the group's last resolve: %w", err)
	}
	return true, nil
}

// groupJobKey is the key of a group's JobKindGroup job: a digest, since
// group keys are long and hold any character.
func groupJobKey(service, keyPrefix string) string {
	sum := sha256.Sum256([]byte(service + "\x00" + keyPrefix))
	return hex.EncodeToString(sum[:16])
}

// groupOpen is an open incident of the group as the check read it.
type groupOpen struct {
	id, fingerprint string
	repeats         int
	// silencedByAck: acknowledged, in a service whose acknowledgements
	// silence the alerts (silence_on_acknowledge), by an acknowledgement
	// that owed a silence, and with it the check that resolves the
	// incident (SilencedAt, stored in its write). One acknowledged before
	// the setting, or in a shadow service, has neither: kept open, it
	// stayed acknowledged for good.
	silencedByAck bool
	// reopened: silencedByAck as re-opened with the expiry of those
	// silences still owed (incident.ReopenedSilenced).
	reopened bool
}

// silencedByAck says whether inc is acknowledged, in a service whose
// acknowledgements silence the alerts, by an acknowledgement that owed a
// silence (SilencedAt, stored in its write) and with it the check that
// resolves the incident when its alert ends; or whether it is open and
// still owes the expiry of such silences (incident.ReopenedSilenced):
// resolved on a last resolve that leaves its alert out (muted by pagerd's
// silence), it stopped paging while its alert fired. It stays open,
// paging; the alert's own resolve, or its firing again, reaches pagerd
// once the silence is expired.
func silencedByAck(svc *policy.Service, inc *store.Incident) bool {
	if incident.ReopenedSilenced(inc) {
		return true
	}
	return inc.State.Status == policy.StatusAcknowledged && svc.SilenceOnAcknowledge != nil && len(inc.SilencedAt) > 0
}

// RunGroup is the handler of JobKindGroup jobs (a dispatch.JobHandler).
// It asks Alertmanager once; only while it cannot be asked, or has just
// started (StartMargin), does it ask again, every RecheckEvery: otherwise
// the next change of a group still too large brings another cut
// notification, and another job. A last resolve's check (Checker.Resolved)
// counts only the alerts that would page (and, for incidents acknowledged
// where acknowledging silences, the silenced ones too), and notes on the
// incidents of the ones it lists that they stay open: their own resolve
// comes when they end.
func (c *Checker) RunGroup(ctx context.Context, j *store.Job) (*store.Job, error) {
	var d groupJob
	if err := json.Unmarshal(j.Data, &d); err != nil {
		c.o.Logger.Error("alerts left out by max_alerts: a check job that does not decode is dropped", "job", j.Key, "err", err)
		return nil, nil
	}
	svc := c.o.Config().Service(d.Service)
	if svc == nil || svc.AlertmanagerAPI() == "" {
		c.o.Logger.Warn("alerts left out by max_alerts: no longer checked, the config names no Alertmanager for the service", "service", d.Service)
		return nil, nil
	}
	// The incidents are read before Alertmanager is asked: an alert that
	// fires again after its answer repeats its incident, and the store
	// then refuses the resolve.
	var open []groupOpen
	err := store.EachOpen(ctx, c.o.Store, d.Service, func(inc *store.Incident) error {
		if slices.Contains(d.Skip, inc.ID) {
			return nil
		}
		if fp, ok := ingest.FingerprintOfKey(inc.DedupKey, d.KeyPrefix); ok && inc.Source == "alertmanager" {
			open = append(open, groupOpen{id: inc.ID, fingerprint: fp, repeats: inc.Repeats, silencedByAck: silencedByAck(svc, inc),
				reopened: incident.ReopenedSilenced(inc)})
		}
		return nil
	})
	if err != nil || len(open) == 0 {
		return nil, err
	}
	base := svc.AlertmanagerAPI()
	shown := policy.ShownURL(base) // logs and timelines never show a password
	now := c.o.Now()
	what := "alerts left out by max_alerts"
	if d.Resolved {
		what = "the group's last resolve"
	}
	again := func(outcome, why string) (*store.Job, error) {
		level := c.o.Logger.Info
		if outcome != d.Last {
			level = c.o.Logger.Warn
			d.Last = outcome
		}
		level(what+": Alertmanager's answer is not trusted; the group's incidents stay open and it is asked again",
			"service", d.Service, "open", len(open), "alertmanager", shown, "why", why, "retry_in", RecheckEvery)
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		return &store.Job{Kind: JobKindGroup, Key: j.Key, Due: now.Add(RecheckEvery), Data: b}, nil
	}
	// An incident acknowledged where acknowledging silences the alerts:
	// its alert counts as firing while it is silenced or inhibited, as in
	// the check its acknowledgement started (Acknowledged), which resolves
	// it when the alert ends. Resolved while its alert fired, it ended the
	// silence pagerd had made for it, and the alert paged again as a new
	// incident. (Any other silenced alert's incident is resolved, as
	// before: a silenced alert is one its team chose not to be paged for,
	// and Alertmanager mutes its resolve too.)
	var fps, all []string
	switch {
	case !d.Resolved:
		fps, err = c.o.Alerts.Fingerprints(ctx, base, d.Receiver, d.Labels)
	case slices.ContainsFunc(open, func(o groupOpen) bool { return o.silencedByAck }):
		all, fps, err = c.o.Alerts.FingerprintsByState(ctx, base, d.Receiver, d.Labels)
	default:
		fps, err = c.o.Alerts.ActiveFingerprints(ctx, base, d.Receiver, d.Labels)
	}
	if err != nil {
		return again(EntryUnconfirmed, fmt.Sprintf("it could not be asked which alerts of the group fire (%v)", err))
	}
	active := make(map[string]bool, len(fps))
	for _, fp := range fps {
		active[ingest.CapFingerprint(fp)] = true
	}
	firing := make(map[string]bool, len(all))
	for _, fp := range all {
		firing[ingest.CapFingerprint(fp)] = true
	}
	var over, still []groupOpen
	for _, o := range open {
		if !active[o.fingerprint] && !(o.silencedByAck && firing[o.fingerprint]) {
			over = append(over, o)
		} else {
			still = append(still, o)
		}
	}
	if len(over) > 0 {
		if outcome, why := c.distrust(ctx, base, now); outcome != "" {
			return again(outcome, why)
		}
	}
	if d.Resolved {
		// Said once, at the answer that ends the job: the alert's own
		// resolve, which Alertmanager sends when it ends, resolves the
		// incident.
		for _, o := range still {
			detail := fmt.Sprintf("Alertmanager sent the group as resolved without naming this alert, but Alertmanager at %s lists it firing (fingerprint %s): "+
				"it fired again since, or that notification was older than the firing one pagerd received before it (from another Alertmanager of a cluster, "+
				"or a retry); the incident stays open until the alert's own resolve", shown, o.fingerprint)
			if !active[o.fingerprint] {
				stays := "the incident stays acknowledged until the check its acknowledgement started finds the alert ended"
				if o.reopened {
					stays = "the incident was re-opened and the silences its acknowledgement made are not expired yet, so it stays open until the alert's own resolve"
				}
				detail = fmt.Sprintf("Alertmanager sent the group as resolved without naming this alert, which Alertmanager at %s lists firing, silenced or inhibited "+
					"(fingerprint %s; it leaves those out of its notifications): %s", shown, o.fingerprint, stays)
			}
			if err := c.o.Incidents.Note(ctx, o.id, store.Entry{At: now.UTC().Truncate(time.Millisecond), Type: EntryStillFiring, Actor: "pagerd",
				Detail: detail}); err != nil {
				return nil, err
			}
			c.o.Logger.Warn("resolve withheld: the group's last resolve did not name an alert that Alertmanager lists firing", "incident", o.id,
				"service", d.Service, "fingerprint", o.fingerprint, "alertmanager", shown)
		}
	}
	for _, o := range over {
		why := store.Entry{At: now.UTC().Truncate(time.Millisecond), Type: EntryConfirmed, Actor: "pagerd",
			Detail: fmt.Sprintf("confirmed with Alertmanager at %s: the alert (fingerprint %s) fires no more; its group's notifications, cut to max_alerts, had left it out",
				shown, o.fingerprint)}
		if d.Resolved {
			why.Detail = fmt.Sprintf("Alertmanager sent the group as resolved, leaving no alert out but not naming this one, and Alertmanager at %s confirms "+
				"the alert (fingerprint %s) fires no more but for silenced or inhibited ones, which it does not notify", shown, o.fingerprint)
		}
		// Acknowledged since it was read, and its alert silenced by
		// pagerd: Alertmanager's answer left the alert out as silenced,
		// not as ended. It stays acknowledged; the check its
		// acknowledgement started resolves it when the alert ends.
		var keep func(*store.Incident) bool
		if d.Resolved && !o.silencedByAck {
			keep = func(inc *store.Incident) bool { return silencedByAck(svc, inc) }
		}
		resolved, err := c.o.Incidents.ResolveUnless(ctx, svc, o.id, o.repeats, "alertmanager", why, keep)
		if err != nil {
			return nil, err
		}
		if resolved {
			c.o.Logger.Info(what+": the alert is confirmed resolved with Alertmanager: incident resolved",
				"incident", o.id, "service", d.Service, "fingerprint", o.fingerprint, "alertmanager", shown)
		}
	}
	return nil, nil
}
