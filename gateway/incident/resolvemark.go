package incident

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// ResolveMarkKind is the kind of the store jobs that remember a resolve
// its sender sent that found no open incident to end (markResolve): a job
// per service and dedup key, due when it is forgotten, whose run only
// ends it (the daemon's handler of the kind).
const ResolveMarkKind = "resolve_mark"

// ResolveMarkKeep is how long after its receipt a resolve that found no
// open incident is remembered: far longer than any stop a replica comes
// back from with a firing still in its hands and writes it (a request's
// store budget is 5 s, a lease's takeover seconds; a VM frozen or live
// migrated, a process stopped by hand, minutes), and the mark is one
// small job. A firing written later than this after the resolve opens
// its incident, as before.
const ResolveMarkKeep = time.Hour

// resolveMark is what a ResolveMarkKind job carries.
type resolveMark struct {
	// Source is the intake of the resolve (and of the incidents it ends).
	Source string `json:"source"`
	// Received is when pagerd received the resolve, at the earliest, on
	// the clock the replicas share (policy.Event.Received), as the
	// resolve entry a superseded firing is judged by keeps it. Not at the
	// latest (WithReadAt), which unlessSuperseded takes for the opposite
	// decision: here a firing is dropped only when the resolve surely
	// came after it, and a resolve read just after a stop of its replica
	// may have come at the stop's start, before a firing received
	// elsewhere meanwhile.
	Received time.Time `json:"received"`
	// Ended, of an Alertmanager resolved notification, is its alerts'
	// fingerprints and starts (ingest.ResolvedStarts), for telling a
	// firing of those alerts from a new one (ingest.NothingNewer).
	Ended json.RawMessage `json:"ended,omitempty"`
}

// resolveMarkKey is the job key of the mark of the service's dedup key: a
// digest, as dedup keys may be long and hold anything.
func resolveMarkKey(service, dedupKey string) string {
	sum := sha256.Sum256([]byte(service + "\x00" + dedupKey))
	return hex.EncodeToString(sum[:16])
}

// markResolve remembers ev, a resolve its sender sent (by the source, its
// receipt known) that found no open incident with the dedup key, for a
// firing of the key received before it and written after it
// (resolvedBefore). A replica stopped with that firing in its hands (a
// pause, a frozen VM) while the sender, having given up on it, sent the
// resolve elsewhere: the resolve ended nothing, and the firing, written
// once the replica came back, opened an incident for alerts that had
// ended, which paged and stayed open, as the sender says nothing more of
// an alert it resolved. ended is, for Alertmanager, the resolved
// notification's details. It replaces the mark of an earlier resolve of
// the key, never that of a later one (a request held up by a stall: the
// firings received between the two would open again), nor one received
// in the same millisecond (store.PutLaterJobs). Under BatchResolveMarks
// it is kept for the request's one write. Best effort: the resolve ended
// nothing, and is answered 2xx whatever becomes of the mark (a 5xx would
// have the sender send it again, for nothing), so a write that fails is
// logged at warn and the firing, if one is held, opens its incident as
// before.
func (s *Service) markResolve(ctx context.Context, svc *policy.Service, dedupKey, source string, ev policy.Event, ended json.RawMessage) {
	if ev.Kind != policy.EventResolve || ev.Received.IsZero() || ev.Actor != source {
		return
	}
	m := resolveMark{Source: source, Received: ev.Received.UTC()}
	if source == "alertmanager" {
		m.Ended = ingest.ResolvedStarts(ended)
	}
	b, err := json.Marshal(m)
	if err != nil {
		s.marksLost(svc.Name, source, 1, err)
		return
	}
	j := store.Job{Kind: ResolveMarkKind, Key: resolveMarkKey(svc.Name, dedupKey), Due: m.Received.Add(ResolveMarkKeep), Data: b}
	if batch, ok := ctx.Value(resolveMarksKey{}).(*resolveMarks); ok && batch.add(j, svc.Name, source) {
		return
	}
	if err := s.o.Store.PutLaterJobs(ctx, []store.Job{j}); err != nil {
		s.marksLost(svc.Name, source, 1, err)
	}
}

// marksLost logs resolve marks the store did not take: one line for a
// request's.
func (s *Service) marksLost(service, source string, n int, err error) {
	s.log.Warn("a resolve that found no open incident is not remembered: a firing received before it and written after it opens an incident",
		"service", service, "source", source, "marks", n, "err", err)
}

// resolveMarksKey keys a request's resolveMarks in its context.
type resolveMarksKey struct{}

// resolveMarks are the marks a request's resolves left (markResolve),
// kept for one write (BatchResolveMarks).
type resolveMarks struct {
	mu              sync.Mutex
	jobs            []store.Job
	service, source string // the first mark's, for the log
	written         bool
}

// add keeps j for the batch's write, false once it is written (j is
// then written alone).
func (m *resolveMarks) add(j store.Job, service, source string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.written {
		return false
	}
	if len(m.jobs) == 0 {
		m.service, m.source = service, source
	}
	m.jobs = append(m.jobs, j)
	return true
}

// BatchResolveMarks is ctx under which the marks of the resolves that
// find no open incident (markResolve) are kept, and write, which stores
// them in one store write (store.PutLaterJobs) once the request's
// resolves are done. A resolved notification of 1,000 alerts in
// fingerprint mode that found none open (the second Alertmanager of a
// pair sends every resolve again) wrote 1,000 marks, a write each (a
// transaction and an fsync each on the embedded store: 9 ms became 170,
// docs/BENCHMARKS.md). The marks are written a moment later, at the end
// of the request's resolves, still before it is answered; one left after
// write is written alone. Best effort, as markResolve: a failure is one
// warn line naming how many marks were lost.
func (s *Service) BatchResolveMarks(ctx context.Context) (batched context.Context, write func(context.Context)) {
	m := &resolveMarks{}
	return context.WithValue(ctx, resolveMarksKey{}, m), func(ctx context.Context) {
		m.mu.Lock()
		jobs := m.jobs
		m.jobs, m.written = nil, true
		m.mu.Unlock()
		if len(jobs) == 0 {
			return
		}
		if err := s.o.Store.PutLaterJobs(ctx, jobs); err != nil {
			s.marksLost(m.service, m.source, len(jobs), err)
		}
	}
}

// resolvedBefore says whether a, a firing received (a.Received) more than
// the shared clock's skew before now (the trigger's), was resolved by its sender before
// it was written: a resolve of its dedup key, received after it by more
// than the skew, found no open incident to end (markResolve), none is
// open now, and a holds nothing newer than that resolve ended (for
// Alertmanager, ingest.NothingNewer; in fingerprint mode
// ingest.AlertNothingNewer). In the order pagerd received them, a was a
// firing the resolve ended: it opens nothing (superseded's case, with no
// incident to note it in). A fresh firing costs nothing: one received
// within the skew of now cannot be older than a resolve by more than it,
// and is not read for. A mark or an incident that cannot be read, or a
// resolve on a clock read as ahead of this replica's, opens it as
// before: a missed page is worse than a stale one.
//
// A stop that falls between the trigger's reading of the clock and the
// firing's write (this read, one store round trip, among them) is not
// seen: the resolve's mark written meanwhile is read by nobody.
func (s *Service) resolvedBefore(ctx context.Context, cfg *policy.Config, a Alert, now time.Time) bool {
	if a.Received.IsZero() || a.opensAnyway {
		return false
	}
	skew := ReceivedSkew(cfg)
	if !a.Received.Add(skew).Before(now) {
		return false
	}
	j, err := s.o.Store.GetJob(ctx, ResolveMarkKind, resolveMarkKey(a.Service.Name, a.DedupKey))
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		s.log.Warn("a stale firing's resolve mark could not be read: it opens its incident", "service", a.Service.Name, "source", a.Source, "err", err)
		return false
	}
	received := latestArrival(ctx, a)
	var m resolveMark
	if json.Unmarshal(j.Data, &m) != nil || m.Source != a.Source || !m.Received.After(received.Add(skew)) || m.Received.After(now.Add(skew)) {
		return false
	}
	if a.Source == "alertmanager" {
		nothingNewer := ingest.NothingNewer
		if a.OneAlert {
			nothingNewer = ingest.AlertNothingNewer
		}
		if !nothingNewer(a.Details, m.Ended) {
			return false
		}
	}
	inc, err := s.o.Store.FindByDedup(ctx, a.Service.Name, a.DedupKey)
	switch {
	case err == nil && inc.Open():
		return false // a repeat of it, as before
	case err != nil && !isNotFound(err):
		s.log.Warn("a stale firing resolved before it was written: its incident could not be read, so it opens it", "service", a.Service.Name,
			"source", a.Source, "err", err)
		return false
	}
	received = received.UTC().Truncate(time.Millisecond)
	s.log.Warn("alert received before its sender's resolve, which found no incident to end, and stored after it: superseded, opens nothing "+
		"(no incident's timeline to say so in)", "service", a.Service.Name, "dedup_key", a.DedupKey, "source", a.Source, "received", received,
		"resolve_received", m.Received.Truncate(time.Millisecond))
	s.m.alerts.WithLabelValues(a.Source, a.Service.Name, "superseded").Inc()
	return true
}
