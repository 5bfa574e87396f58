package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// NotPaged is the timeline entry type that says a replica could not work
// an incident's step because its config lacks the incident's service.
const NotPaged = "not_paged"

// configMisses remembers the incidents this replica has said it cannot
// page (configMiss), so it says so once, not at every claim.
type configMisses struct {
	mu   sync.Mutex
	said map[string]bool
}

// first reports whether id is not yet marked, and marks it.
func (m *configMisses) first(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.said == nil {
		m.said = map[string]bool{}
	}
	if m.said[id] {
		return false
	}
	m.said[id] = true
	return true
}

// unmark forgets id, so that the next claim says it again (the timeline
// could not be written).
func (m *configMisses) unmark(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.said, id)
}

// configMiss handles a claimed incident whose step this replica's config
// cannot work: its service is not in it (removed by a reload before
// reloads kept services with open incidents, or this replica runs another
// config than the rest, in a rollout). Nothing is paged, and that must not
// be silent: the incident's timeline says so once (a NotPaged entry), the
// error is logged once per replica, and every such claim is counted
// (pagerd_dispatch_errors_total). The claim is given up at once, the step
// left due a tenth of a lease later, so that a replica whose config has
// the service pages it (within seconds, not a lease) and this one does not
// claim it straight back.
func (d *Dispatcher) configMiss(ctx context.Context, c store.Claim, cause error) {
	d.m.errors.WithLabelValues("unknown_service").Inc()
	if err := d.o.Store.Release(ctx, c, d.o.Now().Add(d.o.Lease/10)); err != nil {
		d.log.Warn("dispatcher: could not give up the claim of an incident this replica cannot page; another replica takes it when the lease ends",
			"incident", c.Incident, "err", err)
	}
	if !d.misses.first(c.Incident) {
		return
	}
	detail := fmt.Sprintf("not paged by a replica whose config lacks it (%v): every replica must run the same config; "+
		"put the service back in the config, or resolve the incident", cause)
	d.log.Error("dispatcher: an incident's service is not in this replica's config: its steps are not paged here",
		"incident", c.Incident, "err", cause)
	tl, err := d.o.Store.Timeline(ctx, c.Incident)
	if err == nil && slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == NotPaged }) {
		return // said already, by this replica before a restart or by another
	}
	if err == nil {
		err = d.o.Store.Note(ctx, map[string][]store.Entry{c.Incident: {{At: d.o.Now().UTC(), Type: NotPaged, Detail: detail}}})
	}
	if err != nil {
		d.misses.unmark(c.Incident) // said at the next claim
		d.log.Warn("dispatcher: could not record in the timeline that an incident is not paged; tried again at its next claim", "incident", c.Incident, "err", err)
	}
}

// isConfigMiss reports whether err from work is the config's lack of what
// the incident needs (configMiss), not a failure worth a retry.
func isConfigMiss(err error) bool { return errors.Is(err, policy.ErrUnknownService) }
