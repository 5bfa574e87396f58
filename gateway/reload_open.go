package gateway

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// reloadStoreTimeout bounds what a reload asks the store (the open
// incidents of the services it removes).
const reloadStoreTimeout = 10 * time.Second

// openIDsNamed is how many open incidents' ids a refused reload names per
// service.
const openIDsNamed = 5

// keepsOpenServices is the check a reloaded config must pass against the
// store: it keeps every service that still has open incidents. An incident
// is paged, acknowledged and escalated by its service's config (its
// policy, its targets); without it the incident's ladder stops and
// nothing but a resolve can touch it, so a reload that renames or removes
// such a service would stop pages silently. The error names each such
// service, how many incidents it has open and which. When the store cannot
// say, the reload is refused too: taking it could orphan incidents.
// check-config, which has no store, cannot make this check.
func keepsOpenServices(l store.Lister) func(ctx context.Context, old, next *policy.Config) error {
	return func(ctx context.Context, old, next *policy.Config) error {
		var problems []string
		for _, svc := range old.Services {
			if next.Service(svc.Name) != nil {
				continue
			}
			var ids []string
			err := store.EachOpen(ctx, l, svc.Name, func(inc *store.Incident) error {
				ids = append(ids, inc.ID)
				return nil
			})
			if err != nil {
				return fmt.Errorf("%s: services[%s] is removed, and the store did not say whether it has open incidents, which would stop being paged: reload refused, try again when the store answers: %w", next.File, svc.Name, err)
			}
			if len(ids) == 0 {
				continue
			}
			named := strings.Join(ids[:min(len(ids), openIDsNamed)], ", ")
			if n := len(ids) - openIDsNamed; n > 0 {
				named += fmt.Sprintf(" and %d more", n)
			}
			what := "open incidents"
			if len(ids) == 1 {
				what = "open incident"
			}
			problems = append(problems, fmt.Sprintf("services[%s]: %d %s (%s) would no longer be paged: resolve them or keep the service (a rename is a removal)", svc.Name, len(ids), what, named))
		}
		if len(problems) == 0 {
			return nil
		}
		return &policy.ConfigError{File: next.File, Problems: problems}
	}
}
