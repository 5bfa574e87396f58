package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// NotPaged is the timeline entry type that says a replica could not work
// an incident's step because its config lacks the incident's service.
const NotPaged = "not_paged"

// UnknownPriority is the timeline entry type that says an incident holds
// a priority its service's scheme lacks, and is escalated as the scheme's
// most urgent (policy.Service.PriorityInForce).
const UnknownPriority = "unknown_priority"

// configMisses remembers what this replica has said of the incidents its
// config does not fit (configMiss, priorityMiss), by entry type and
// incident, so it says each once, not at every claim.
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
	detail := fmt.Sprintf("not paged by a replica whose config lacks it (%v): every replica must run the same config; "+
		"put the service back in the config, or resolve the incident", cause)
	d.sayOnce(ctx, c.Incident, NotPaged, detail,
		"dispatcher: an incident's service is not in this replica's config: its steps are not paged here", "err", cause)
}

// priorityMiss handles a claimed incident whose priority its service's
// scheme lacks (a restart or a replica with another scheme, a reload
// before reloads refused dropping a priority open incidents hold). The
// engine escalates it as the scheme's most urgent priority
// (policy.Service.PriorityInForce): it is paged, maybe sooner than its
// old config would have, but the config changed under it, which must
// not pass unseen: the incident's timeline says so once (an
// UnknownPriority entry), the error is logged once per replica, and
// every such claim is counted (pagerd_dispatch_errors_total).
func (d *Dispatcher) priorityMiss(ctx context.Context, cfg *policy.Config, inc *store.Incident) {
	svc := cfg.Service(inc.Service)
	if svc == nil {
		return // configMiss says it
	}
	p := inc.State.Priority
	inForce, ok := svc.PriorityInForce(p)
	if ok {
		return
	}
	d.m.errors.WithLabelValues("unknown_priority").Inc()
	sc := svc.Scheme().Name
	detail := fmt.Sprintf("priority %s is not in the service's scheme %s (config changed while it was open): escalating on %s's timeouts, targets and rules",
		p, sc, inForce)
	d.sayOnce(ctx, inc.ID, UnknownPriority, detail,
		"dispatcher: an incident's priority is not in its service's scheme: it is escalated as the scheme's most urgent",
		"service", inc.Service, "priority", p, "scheme", sc, "escalated_as", inForce)
}

// sayOnce tells, once, of a claimed incident that this replica's config
// does not fit: the first time this replica meets it (by typ), the error
// is logged (at ERROR: a config that does not fit is an operator's to
// fix; a step left to a newer config, which a rollout brings about and
// which passes with it, at WARN), and the timeline gets an entry of type typ saying detail,
// unless it has one already (this replica said it before a restart, or
// another one did). A timeline that could not be read or written is
// tried again at the next claim.
func (d *Dispatcher) sayOnce(ctx context.Context, id, typ, detail, msg string, args ...any) {
	key := typ + " " + id
	if !d.misses.first(key) {
		return
	}
	level := slog.LevelError
	if typ == LeftToNewerConfig {
		level = slog.LevelWarn
	}
	d.log.Log(ctx, level, msg, append([]any{"incident", id}, args...)...)
	tl, err := d.o.Store.Timeline(ctx, id)
	if err == nil && slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == typ }) {
		return // said already, by this replica before a restart or by another
	}
	if err == nil {
		err = d.o.Store.Note(ctx, map[string][]store.Entry{id: {{At: d.o.Now().UTC(), Type: typ, Detail: detail}}})
	}
	if err != nil {
		d.misses.unmark(key) // said at the next claim
		d.log.Warn("dispatcher: could not record in an incident's timeline that its config does not fit it; tried again at its next claim",
			"incident", id, "entry", typ, "err", err)
	}
}

// isConfigMiss reports whether err from work is the config's lack of what
// the incident needs (configMiss), not a failure worth a retry.
func isConfigMiss(err error) bool { return errors.Is(err, policy.ErrUnknownService) }
