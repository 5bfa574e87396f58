package gateway

import (
	"context"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// The store's jobs (heartbeat expiries, maintenance windows' starts and
// ends) and documents (maintenance windows), timed and counted like the
// rest.

func (i *instrumented) PutJob(ctx context.Context, j store.Job) error {
	start := time.Now()
	err := i.Store.PutJob(ctx, j)
	i.observe("job_put", start, err)
	return err
}

func (i *instrumented) PutLaterJobs(ctx context.Context, jobs []store.Job) error {
	start := time.Now()
	err := i.Store.PutLaterJobs(ctx, jobs)
	i.observe("job_put_later", start, err)
	return err
}

func (i *instrumented) AddJob(ctx context.Context, j store.Job) (bool, error) {
	start := time.Now()
	added, err := i.Store.AddJob(ctx, j)
	i.observe("job_add", start, err)
	return added, err
}

func (i *instrumented) ReplaceJob(ctx context.Context, j store.Job) (bool, error) {
	start := time.Now()
	replaced, err := i.Store.ReplaceJob(ctx, j)
	i.observe("job_replace", start, err)
	return replaced, err
}

func (i *instrumented) GetJob(ctx context.Context, kind, key string) (*store.Job, error) {
	start := time.Now()
	j, err := i.Store.GetJob(ctx, kind, key)
	i.observe("job_get", start, err)
	return j, err
}

func (i *instrumented) DeleteJob(ctx context.Context, kind, key string) error {
	start := time.Now()
	err := i.Store.DeleteJob(ctx, kind, key)
	i.observe("job_delete", start, err)
	return err
}

func (i *instrumented) FinishJob(ctx context.Context, c store.Claim, next *store.Job) error {
	start := time.Now()
	err := i.Store.FinishJob(ctx, c, next)
	i.observe("job_finish", start, err)
	return err
}

func (i *instrumented) ListDocs(ctx context.Context, kind string) (map[string][]byte, int64, error) {
	start := time.Now()
	docs, ver, err := i.Store.ListDocs(ctx, kind)
	i.observe("docs_list", start, err)
	return docs, ver, err
}

func (i *instrumented) PutDocs(ctx context.Context, kind string, version int64, put map[string][]byte, del []string) (int64, error) {
	start := time.Now()
	ver, err := i.Store.PutDocs(ctx, kind, version, put, del)
	i.observe("docs_put", start, err)
	return ver, err
}
