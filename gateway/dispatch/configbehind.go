package dispatch

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// LeftToNewerConfig is the timeline entry type that says a replica left
// an incident's step to a replica running a newer config: its own lacks
// the person (or their channel) the step pages.
const LeftToNewerConfig = "left_to_newer_config"

// reasonConfigBehind is pagerd_dispatch_errors_total's reason for a step
// left to a replica running a newer config (leaveToNewer).
const reasonConfigBehind = "config_behind"

// behindError is work's answer for a step this replica leaves to a
// replica on a newer config (configBehind).
type behindError struct {
	// what the config lacks, and who runs a newer one.
	what, newer string
}

func (e *behindError) Error() string {
	return fmt.Sprintf("this replica's config lacks %s, and replica %s runs a config taken into use later", e.what, e.newer)
}

// configBehind says whether this replica leaves the due step dl of inc
// (as st has it, in the claim's firings so far) to a replica whose
// config is newer: a page of a person, or on a channel of theirs, that
// cfg lacks, while another live replica runs a config taken into use
// later than this one's (Options.NewerConfig). In a rolling config change
// that adds a person, a replica still on the old config meets the steps
// a newer replica armed for them; acting on them as on a person a reload
// removed (policy: userGone, contactGone) escalated past them or paged
// their level again, while the newer replica would have paged them.
//
// It is bounded, so that a registry entry that outlived its replica, or a
// newer replica that does not take the step, cannot hold a page for long:
// only while the step is less than a lease past its time. After that, and
// whenever no newer config is live (a genuine removal, a replica alone),
// the step is worked on this replica's config, as before.
func (d *Dispatcher) configBehind(ctx context.Context, cfg *policy.Config, inc *store.Incident, st policy.Incident, dl policy.Deadline, now time.Time) error {
	if d.o.NewerConfig == nil || dl.Kind != policy.DeadlineNotify || st.Status != policy.StatusTriggered {
		return nil
	}
	if cfg.Service(inc.Service) == nil {
		return nil // configMiss says it
	}
	var what string
	switch u := cfg.User(dl.User); {
	case u == nil:
		what = fmt.Sprintf("user %s", dl.User)
	case !slices.ContainsFunc(u.Contacts, func(c policy.Contact) bool { return c.Channel == dl.Channel }):
		what = fmt.Sprintf("a %s contact of user %s", dl.Channel, dl.User)
	default:
		return nil
	}
	newer, ok := d.o.NewerConfig(ctx)
	if !ok {
		return nil
	}
	if late := now.Sub(dl.At); late >= d.o.Lease {
		d.log.Warn("dispatcher: a replica runs a newer config, but has not paged a step this replica's config cannot for a lease: worked on this replica's config",
			"incident", inc.ID, "user", dl.User, "channel", dl.Channel, "newer_replica", newer, "late", late.String())
		return nil
	}
	return &behindError{what: what, newer: newer}
}

// leaveToNewer gives up the claim of an incident whose step this
// replica's config cannot page while a replica runs a newer one
// (configBehind), as configMiss gives up one whose service it lacks: due
// again a tenth of a lease later, for the newer replica to page it within
// seconds. The incident's timeline says so once, the log once per
// replica, and every such claim is counted (pagerd_dispatch_errors_total).
func (d *Dispatcher) leaveToNewer(ctx context.Context, c store.Claim, cause *behindError) {
	d.m.errors.WithLabelValues(reasonConfigBehind).Inc()
	if err := d.o.Store.Release(ctx, c, d.o.Now().Add(d.o.Lease/10)); err != nil {
		d.log.Warn("dispatcher: could not give up the claim of an incident a replica on a newer config pages; another replica takes it when the lease ends",
			"incident", c.Incident, "err", err)
	}
	detail := fmt.Sprintf("left to a replica on a newer config (%v): a rollout of the config is under way", cause)
	d.sayOnce(ctx, c.Incident, LeftToNewerConfig, detail,
		"dispatcher: a step this replica's config cannot page is left to a replica on a newer config", "err", cause)
}
