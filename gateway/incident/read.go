package incident

import (
	"context"
	"errors"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// The reads front doors need, so that none of them needs the store.

// Get reads an incident.
func (s *Service) Get(ctx context.Context, id string) (*store.Incident, error) {
	return s.o.Store.Get(ctx, id)
}

// Timeline reads an incident's timeline, oldest first.
func (s *Service) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	return s.o.Store.Timeline(ctx, id)
}

// List reads incidents, newest first (store.Filter).
func (s *Service) List(ctx context.Context, f store.Filter) ([]*store.Incident, error) {
	return s.o.Store.List(ctx, f)
}

// Bundle reads an alert-storm bundle.
func (s *Service) Bundle(ctx context.Context, id string) (*store.Bundle, error) {
	return s.o.Store.GetBundle(ctx, id)
}

// Statuses reads the status of each incident (those gone are left out).
func (s *Service) Statuses(ctx context.Context, ids []string) (map[string]policy.Status, error) {
	return s.o.Store.Statuses(ctx, ids)
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
func isResolved(err error) bool { return errors.Is(err, ErrAlreadyResolved) }
