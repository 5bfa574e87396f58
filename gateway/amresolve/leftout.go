package amresolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// JobKindLeftOut is the kind of the store jobs that ask, about a group
// whose notification Alertmanager sent as resolved after leaving alerts
// out of it (max_alerts) while no incident of the group was open, whether
// an alert of the group fires, and open the group's incident if one does.
// Alertmanager judged that status on the alerts it kept: one it left out
// may fire, and having delivered the notification, Alertmanager says so
// again only at the group's next change, or its repeat_interval (4 hours
// by default). Opening the incident without asking would page at the end
// of every large group whose incident someone resolved by hand.
const JobKindLeftOut = "am_left_out"

// LeftOutFor is how long the check asks again, every RecheckEvery, while
// Alertmanager cannot be asked: by then its repeat_interval (4 hours by
// default) has sent the group again if it still fires.
const LeftOutFor = 4 * time.Hour

// EntryLeftOutFiring is the first entry of an incident the check opened:
// what Alertmanager said.
const EntryLeftOutFiring = "left_out_firing"

// LeftOut is the incident a JobKindLeftOut job opens when an alert of
// the group fires.
type LeftOut struct {
	DedupKey string `json:"dedup_key"`
	// Route are the labels that route it: the group's common labels,
	// which every alert of it carries (the ones left out are not known).
	Route   map[string]string `json:"route,omitempty"`
	Summary string            `json:"summary"`
}

// leftOutJob is what a JobKindLeftOut job carries.
type leftOutJob struct {
	Service string `json:"service"`
	Group
	LeftOut
	// Since is when the notification came: the check stops asking
	// LeftOutFor after it.
	Since time.Time `json:"since"`
	// Last is the previous try's outcome when Alertmanager could not be
	// asked, so the log says it at warn once.
	Last string `json:"last,omitempty"`
}

// Left stores, due now, the check of a group whose resolved notification
// left alerts out while none of its incidents was open; it does nothing
// for a service that names no Alertmanager, and says whether it stored
// one.
func (c *Checker) Left(ctx context.Context, svc *policy.Service, g Group, l LeftOut) (bool, error) {
	if c == nil || svc.AlertmanagerAPI() == "" {
		return false, nil
	}
	if err := c.putNow(ctx, JobKindLeftOut, groupJobKey(svc.Name, l.DedupKey), leftOutJob{Service: svc.Name, Group: g, LeftOut: l, Since: c.o.Now()}); err != nil {
		return false, fmt.Errorf("store the check of the alerts a resolved notification left out: %w", err)
	}
	return true, nil
}

// RunLeftOut is the handler of JobKindLeftOut jobs (a dispatch.JobHandler).
// An alert of the group that Alertmanager lists active (silenced and
// inhibited ones do not page) opens the group's incident, or repeats it
// if a firing notification opened it meanwhile; the incident's resolve is
// then checked as a withheld one is (Withheld), since Alertmanager counts
// the alerts it left out as notified. None listed, nothing is opened.
func (c *Checker) RunLeftOut(ctx context.Context, j *store.Job) (*store.Job, error) {
	var d leftOutJob
	if err := json.Unmarshal(j.Data, &d); err != nil {
		c.o.Logger.Error("alerts left out of a resolved notification: a check job that does not decode is dropped", "job", j.Key, "err", err)
		return nil, nil
	}
	cfg := c.o.Config()
	svc := cfg.Service(d.Service)
	if svc == nil || svc.AlertmanagerAPI() == "" {
		c.o.Logger.Warn("alerts left out of a resolved notification: no longer checked, the config names no Alertmanager for the service", "service", d.Service)
		return nil, nil
	}
	base := svc.AlertmanagerAPI()
	shown := policy.ShownURL(base) // logs and timelines never show a password
	now := c.o.Now()
	n, err := c.o.Alerts.Active(ctx, base, d.Receiver, d.Group.Labels)
	if err == nil && n == 0 {
		// Just started, Alertmanager lists none until Prometheus sends
		// them again, and its notification log holds back the firing
		// notification of a left-out alert: "none" is not believed yet.
		if outcome, why := c.distrust(ctx, base, now); outcome != "" {
			err = fmt.Errorf("it says none of the group fires, but %s", why)
		}
	}
	if err != nil {
		return c.leftOutAgain(j, "whether they fire", d.Since, &d.Last, &d, err, "service", d.Service, "alertmanager", shown)
	}
	if n == 0 {
		c.o.Logger.Info("alerts left out of a resolved notification: Alertmanager lists none of the group active; nothing opened", "service", d.Service, "alertmanager", shown)
		return nil, nil
	}
	// A firing notification of the group since opened its incident,
	// which pages with the alerts' own details: a trigger here would
	// repeat it and put this job's empty details in their place.
	if inc, err := c.o.Store.FindByDedup(ctx, svc.Name, d.DedupKey); err == nil && inc.Open() {
		c.o.Logger.Info("alerts left out of a resolved notification: the group's incident is open already; nothing to open", "incident", inc.ID, "service", d.Service)
		return nil, nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	id, created, err := c.openLeftOut(ctx, cfg, incident.Alert{Service: svc, DedupKey: d.DedupKey, Summary: d.Summary}, d.Route, now,
		fmt.Sprintf("Alertmanager sent this group as resolved but left alerts out of the notification (max_alerts on its receiver); asked, Alertmanager at %s lists %d alert(s) of the group active", shown, n))
	if err != nil {
		return nil, err
	}
	if !created {
		// Opened by a notification between the look and the trigger.
		c.o.Logger.Info("alerts left out of a resolved notification: the group's incident was opened meanwhile; repeated", "incident", id, "service", d.Service)
		return nil, nil
	}
	c.o.Logger.Warn("alerts left out of a resolved notification fire: incident opened", "incident", id, "service", d.Service, "active", n, "alertmanager", shown)
	if _, err := c.Withheld(ctx, svc, id, d.Group, time.Time{}); err != nil {
		return nil, err
	}
	return nil, nil
}

// leftOutAgain is the check of alerts a resolved notification left out
// (Left, LeftOutResolved) that could not tell (err: Alertmanager could not
// be asked, or had just started) asked again RecheckEvery later, as j
// with data, or given up LeftOutFor after since. last is the check's
// last outcome, kept in data: the first time it could not tell is
// logged at warn, the times after it at info. what says what was asked.
func (c *Checker) leftOutAgain(j *store.Job, what string, since time.Time, last *string, data any, err error, attrs ...any) (*store.Job, error) {
	now := c.o.Now()
	if now.Sub(since) >= LeftOutFor {
		c.o.Logger.Error("alerts left out of a resolved notification: Alertmanager could not be asked "+what+", or had just started, for "+LeftOutFor.String()+
			"; no longer asked (it sends a group that still fires again at its repeat_interval)", append(attrs, "err", err)...)
		return nil, nil
	}
	level := c.o.Logger.Info
	if *last != EntryUnconfirmed {
		level, *last = c.o.Logger.Warn, EntryUnconfirmed
	}
	level("alerts left out of a resolved notification: Alertmanager could not be asked "+what+", or has just started; asked again",
		append(attrs, "retry_in", RecheckEvery, "err", err)...)
	b, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return &store.Job{Kind: j.Kind, Key: j.Key, Due: now.Add(RecheckEvery), Data: b}, nil
}
