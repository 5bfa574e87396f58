package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/outcomes"
	"github.com/pagerd/pagerd/policy"
	"github.com/pagerd/pagerd/report"
)

// HandoffPoster posts a schedule's handoff document to the team's channel
// at the handoff. It is the hook for the chat integration: the daemon
// makes one of Slack when notifiers.slack is configured (rendering doc in
// the schedule's own template into the schedule's team channel), and takes
// gateway.Options.PostHandoff instead when it is set. Without either, no
// handoff job is scheduled and nothing is posted. An error is retried when
// the job's lease ends, for up to HandoffPostWindow after the handoff,
// except ErrNotPosted and ErrRefused, which move on to the next handoff.
type HandoffPoster func(ctx context.Context, schedule string, doc *report.HandoffDoc) error

// ErrNotPosted, wrapped with why, is a poster's answer when the config says
// not to post the schedule's document (it names no channel for it, the
// transport is in dry run): the job goes on to the next handoff, and the
// log says why.
var ErrNotPosted = errors.New("handoff document not posted")

// ErrRefused, wrapped with the refusal, is a poster's answer when the chat
// refused the document for a reason trying again will not change (no such
// channel, the app not in it, a revoked token): it is logged as an error
// and the job goes on to the next handoff, rather than try it again at
// every lease for an hour.
var ErrRefused = errors.New("handoff document refused")

// HandoffKind is the kind of the store jobs that post handoff documents:
// one per schedule (the key is its name), due at its next handoff, so each
// document is posted once across replicas.
const HandoffKind = "handoff"

// HandoffPostWindow is how long after a handoff its document is still
// posted: a daemon that was down over a handoff posts it when it is back
// within the hour, not days later, when it would only mislead.
const HandoffPostWindow = time.Hour

// Handoffs posts every schedule's handoff document at each of its
// handoffs, through Post. Make one with NewHandoffs.
type Handoffs struct {
	Source Source
	Jobs   store.Jobs
	Config func() *policy.Config
	Now    func() time.Time
	Post   HandoffPoster
	// Check, when set, says before the document is made whether Post would
	// post it, by the config it would be made with: the same answers as
	// Post's, so an error wrapping ErrNotPosted (no channel for the
	// schedule, the transport in dry run) moves on to the next handoff
	// without reading a month of history for a document nobody gets.
	Check  func(cfg *policy.Config, schedule string) error
	Logger *slog.Logger
	// Documents counts what became of each handoff's document
	// (pagerd_handoff_documents_total, NewHandoffCounter), when set.
	Documents *prometheus.CounterVec
}

// NewHandoffCounter is pagerd_handoff_documents_total, registered, with
// every result at 0 (whether anything posts documents or not): what became
// of each handoff's document. posted; not_posted (the config holds it
// back: no channel, dry run); failed (a try failed, tried again when the
// job's lease ends); refused (the chat refused it for good: ErrRefused);
// given_up (the handoff was over HandoffPostWindow past before it was
// posted: its tries failed that long, or no pagerd ran).
func NewHandoffCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	return outcomes.Counter(reg, "pagerd_handoff_documents_total",
		"Handoff documents due at schedules' handoffs, by result: posted; not_posted (the config holds it back: no team channel, dry run); failed (a try failed; tried again); refused (the chat refused it for a reason that will not change); given_up (not posted within an hour of its handoff).",
		"posted", "not_posted", "failed", "refused", "given_up")
}

// count adds one to the documents' result.
func (h *Handoffs) count(result string) {
	if h.Documents != nil {
		h.Documents.WithLabelValues(result).Inc()
	}
}

// NewHandoffs is h with its defaults set, ready to run: set here, where
// the job is built, as NewRetention's are, so a handoff job run while
// the replica ensures the jobs only reads h.
func NewHandoffs(h Handoffs) *Handoffs {
	h.defaults()
	return &h
}

func (h *Handoffs) defaults() {
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.Logger == nil {
		h.Logger = slog.Default()
	}
}

// Run is the job's handler (a dispatch.JobHandler): it makes the
// document of the handoff the job is due at, posts it, and schedules the
// schedule's next handoff. A schedule no longer in the config has its job
// dropped.
func (h *Handoffs) Run(ctx context.Context, j *store.Job) (*store.Job, error) {
	cfg := h.Config()
	s := cfg.Schedule(j.Key)
	if s == nil {
		h.Logger.Info("handoff: the schedule is no longer in the config; its handoff documents stop", "schedule", j.Key)
		return nil, nil
	}
	at := j.Due
	next := &store.Job{Due: s.NextHandoff(h.Now())}
	if h.Now().Sub(at) > HandoffPostWindow {
		h.count("given_up")
		h.Logger.Warn("handoff: document not posted, the handoff is long past", "schedule", j.Key, "handoff", at.UTC().Format(time.RFC3339))
		return next, nil
	}
	if h.Check != nil {
		if err := h.Check(cfg, j.Key); err != nil {
			return h.notPosted(j.Key, at, next, err)
		}
	}
	doc, err := Handoff(ctx, h.Source, cfg, j.Key, at)
	if err != nil {
		return nil, err
	}
	if err := h.Post(ctx, j.Key, doc); err != nil {
		return h.notPosted(j.Key, at, next, err)
	}
	h.count("posted")
	h.Logger.Info("handoff: document posted", "schedule", j.Key, "handoff", doc.Handoff.UTC().Format(time.RFC3339))
	return next, nil
}

// notPosted is the job's answer to a document Check or Post did not let
// through: ErrNotPosted and ErrRefused move on to the next handoff, saying
// why in the log; any other error is left to the job's lease.
func (h *Handoffs) notPosted(schedule string, at time.Time, next *store.Job, err error) (*store.Job, error) {
	switch {
	case errors.Is(err, ErrNotPosted):
		h.count("not_posted")
		h.Logger.Info("handoff: document not posted", "schedule", schedule, "handoff", at.UTC().Format(time.RFC3339), "why", err.Error())
		return next, nil
	case errors.Is(err, ErrRefused):
		h.count("refused")
		h.Logger.Error("handoff: document not posted, refused for good", "schedule", schedule, "handoff", at.UTC().Format(time.RFC3339), "err", err)
		return next, nil
	}
	h.count("failed")
	return nil, fmt.Errorf("post the handoff document of %s: %w", schedule, err)
}

// Ensure schedules the next handoff of every schedule in the config that
// has no job yet (at start, and after a reload adds a schedule), and moves
// to its next handoff a job due at an instant that is no handoff of the
// schedule any more (a reload changed its handoff or its time zone): left
// there, it posted the document of the nearest handoff at the old time,
// hours early or late, and an early one again at the handoff. A job
// stored since the read (another replica's Ensure, its dispatcher
// finishing the handoff it just posted) is kept: written over, it would
// be due at that handoff again, and its document posted twice.
func (h *Handoffs) Ensure(ctx context.Context) error { return h.ensure(ctx, true) }

// Move is Ensure without adding the jobs that are missing: what a config
// taken into use does at once, where the jobs are added by the next
// Ensure.
func (h *Handoffs) Move(ctx context.Context) error { return h.ensure(ctx, false) }

func (h *Handoffs) ensure(ctx context.Context, add bool) error {
	cfg := h.Config()
	var errs []error
	for i := range cfg.Schedules {
		s := &cfg.Schedules[i]
		j, err := h.Jobs.GetJob(ctx, HandoffKind, s.Name)
		switch {
		case errors.Is(err, store.ErrNotFound) && !add:
			err = nil
		case errors.Is(err, store.ErrNotFound):
			_, err = h.Jobs.AddJob(ctx, store.Job{Kind: HandoffKind, Key: s.Name, Due: s.NextHandoff(h.Now())})
		case err == nil && !s.HandoffAtOrBefore(j.Due).Equal(j.Due):
			// Only if still as read and not being worked (ReplaceJob).
			j.Due = s.NextHandoff(h.Now())
			_, err = h.Jobs.ReplaceJob(ctx, *j)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
