package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/heartbeat"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// reloadStoreTimeout bounds what a reload asks the store (the open
// incidents of the services it removes or moves to another priority
// scheme).
const reloadStoreTimeout = 10 * time.Second

// openIDsNamed is how many open incidents' ids a refused reload names per
// service (and priority).
const openIDsNamed = 5

// keepsOpenIncidents is the check a reloaded config must pass against the
// store: every open incident keeps what pages it, its service
// (openOfRemovedService) and its priority (openOfDroppedPriorities), and
// what finds it again, its dedup key (openOfRekeyedAlerts), or resolves
// it, its heartbeat (openOfRemovedHeartbeats). The
// error names each service (and priority) that would leave incidents
// behind, how many and which. When the store cannot say, the reload is
// refused too: taking it could orphan incidents. check-config, which has
// no store, cannot make this check.
func keepsOpenIncidents(l store.Lister) func(ctx context.Context, old, next *policy.Config) error {
	return func(ctx context.Context, old, next *policy.Config) error {
		var problems []string
		for i := range old.Services {
			svc := &old.Services[i]
			checks := []openCheck{openOfRemovedService}
			if next.Service(svc.Name) != nil {
				checks = []openCheck{openOfDroppedPriorities, openOfRekeyedAlerts, openOfRemovedHeartbeats}
			}
			for _, check := range checks {
				p, err := check(ctx, l, svc, next)
				if err != nil {
					return err
				}
				problems = append(problems, p...)
			}
		}
		if len(problems) == 0 {
			return nil
		}
		return &policy.ConfigError{File: next.File, Problems: problems}
	}
}

// openCheck is one of keepsOpenIncidents' checks of a service of the
// config in force against the reloaded config next: what it would leave
// behind, in the words of the refusal.
type openCheck func(ctx context.Context, l store.Lister, svc *policy.Service, next *policy.Config) ([]string, error)

// openOfRekeyedAlerts refuses changing how a service keys Alertmanager's
// alerts into incidents (incident_key: group or fingerprint) while it has
// open incidents from Alertmanager. Each is found again by the dedup key
// the mode made: under the other mode Alertmanager's next notification of
// its alerts finds none, opens another incident and pages its people
// again for alerts they are paged for already, and its resolve closes
// only that one, so the first pages on up its ladder for alerts that
// have ended. Incidents from other intakes do not depend on it.
func openOfRekeyedAlerts(ctx context.Context, l store.Lister, svc *policy.Service, next *policy.Config) ([]string, error) {
	from, to := svc.IncidentKey, next.Service(svc.Name).IncidentKey
	if from == to {
		return nil, nil
	}
	var ids []string
	err := store.EachOpen(ctx, l, svc.Name, func(inc *store.Incident) error {
		if inc.Source == "alertmanager" {
			ids = append(ids, inc.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: services[%s].incident_key changes from %s to %s, and the store did not say whether the service has open incidents from Alertmanager, which its notifications would no longer find: reload refused, try again when the store answers: %w", next.File, svc.Name, from, to, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	are := "are"
	if len(ids) == 1 {
		are = "is"
	}
	return []string{fmt.Sprintf("services[%s].incident_key: %s from Alertmanager %s keyed by %s; by %s, Alertmanager's notifications would not find them (a repeat would open and page another incident, a resolve leave them paging): resolve them or keep incident_key %s", svc.Name, namedOpen(ids), are, from, to, from)}, nil
}

// openOfRemovedHeartbeats refuses taking a heartbeat out of a service (or
// renaming it) while its incident is open. A ping is what resolves a
// heartbeat's incident, and a heartbeat out of the config takes none: the
// incident escalated on up its ladder, for a heartbeat whose sender was
// alive again and pinging its new name, until someone resolved it by hand.
// The store is asked only when the reload takes heartbeats out.
func openOfRemovedHeartbeats(ctx context.Context, l store.Lister, svc *policy.Service, next *policy.Config) ([]string, error) {
	keeps := next.Service(svc.Name)
	gone := map[string]string{} // dedup key → heartbeat
	for _, hb := range svc.Heartbeats {
		if keeps.Heartbeat(hb.Name) == nil {
			gone[heartbeat.DedupKey(hb.Name)] = hb.Name
		}
	}
	if len(gone) == 0 {
		return nil, nil
	}
	open := map[string][]string{} // heartbeat → its open incidents
	err := store.EachOpen(ctx, l, svc.Name, func(inc *store.Incident) error {
		if name, ok := gone[inc.DedupKey]; ok && inc.Source == heartbeat.Source {
			open[name] = append(open[name], inc.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: services[%s].heartbeats loses heartbeats, and the store did not say whether their incidents are open, which no ping could resolve any more: reload refused, try again when the store answers: %w", next.File, svc.Name, err)
	}
	var problems []string
	for _, hb := range svc.Heartbeats {
		if ids := open[hb.Name]; len(ids) > 0 {
			problems = append(problems, fmt.Sprintf("services[%s].heartbeats: %s of heartbeat %s, which no ping could resolve once it is out of the config (a rename is a removal): resolve them or keep the heartbeat", svc.Name, namedOpen(ids), hb.Name))
		}
	}
	return problems, nil
}

// openOfRemovedService refuses removing a service that still has open
// incidents. An incident is paged, acknowledged and escalated by its
// service's config (its policy, its targets); without it the incident's
// ladder stops and nothing but a resolve can touch it, so a reload that
// renames or removes such a service would stop pages silently.
func openOfRemovedService(ctx context.Context, l store.Lister, svc *policy.Service, next *policy.Config) ([]string, error) {
	var ids []string
	err := store.EachOpen(ctx, l, svc.Name, func(inc *store.Incident) error {
		ids = append(ids, inc.ID)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: services[%s] is removed, and the store did not say whether it has open incidents, which would stop being paged: reload refused, try again when the store answers: %w", next.File, svc.Name, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return []string{fmt.Sprintf("services[%s]: %s would no longer be paged: resolve them or keep the service (a rename is a removal)", svc.Name, namedOpen(ids))}, nil
}

// openOfDroppedPriorities refuses moving a service to a priority scheme
// that lacks a priority its open incidents hold (P0–P3 to SEV-1–4). An
// incident keeps the priority it was given, and its levels' timeouts, its
// targets (ack_target, urgency) and its unresolved and status-update rules
// are looked up by that name: under a scheme without it the engine
// escalates it as the scheme's most urgent (policy.Service.PriorityInForce)
// rather than stop its ladder, so a P3 would be paged as a SEV-1, sooner
// and higher than its own priority asks. The store is asked
// only when the scheme loses priorities, so a reload that keeps the
// scheme (timeouts, targets, rules changed) never waits on it; only the
// priorities the reload takes away count (an incident of a priority the
// old scheme lacked too is no worse off for it).
func openOfDroppedPriorities(ctx context.Context, l store.Lister, svc *policy.Service, next *policy.Config) ([]string, error) {
	from, to := svc.Scheme(), next.Service(svc.Name).Scheme()
	if !slices.ContainsFunc(from.Priorities, func(p string) bool { return !to.Has(p) }) {
		return nil, nil
	}
	held := map[string][]string{}
	err := store.EachOpen(ctx, l, svc.Name, func(inc *store.Incident) error {
		if p := inc.State.Priority; from.Has(p) && !to.Has(p) {
			held[p] = append(held[p], inc.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: services[%s].priority_scheme changes from %s to %s, and the store did not say whether the service has open incidents of a priority %s lacks, which would be escalated as its most urgent: reload refused, try again when the store answers: %w", next.File, svc.Name, from.Name, to.Name, to.Name, err)
	}
	var problems []string
	for _, p := range from.Priorities {
		ids := held[p]
		if len(ids) == 0 {
			continue
		}
		hold := "hold"
		if len(ids) == 1 {
			hold = "holds"
		}
		problems = append(problems, fmt.Sprintf("services[%s].priority_scheme: %s %s priority %s, which scheme %s does not have, so they would be escalated as %s, on its timeouts and targets, not their own: resolve them or keep the priority (priority_scheme %s)", svc.Name, namedOpen(ids), hold, p, to.Name, to.Priorities[0], from.Name))
	}
	return problems, nil
}

// namedOpen says how many open incidents ids are and names the first
// openIDsNamed of them: "2 open incidents (a, b)".
func namedOpen(ids []string) string {
	named := strings.Join(ids[:min(len(ids), openIDsNamed)], ", ")
	if n := len(ids) - openIDsNamed; n > 0 {
		named += fmt.Sprintf(" and %d more", n)
	}
	what := "open incidents"
	if len(ids) == 1 {
		what = "open incident"
	}
	return fmt.Sprintf("%d %s (%s)", len(ids), what, named)
}
