package incident

import (
	"context"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// ResolveSuperseded is the timeline entry of a resolve its sender sent
// that resolved nothing: it was received before a firing of the
// incident's alert whose write landed first (store.Incident.LastReceived).
const ResolveSuperseded = "resolve_superseded"

// unlessSuperseded is g, for a resolve its sender sent (ev: a resolve
// whose receipt is known, by the incident's source), with one more
// condition checked on the incident as it is written: the resolve was
// not received before the incident's latest firing (LastReceived) by
// more than the shared clock's skew. The mirror of a stale firing
// (superseded): a replica stalled with the resolve (a pause, a long
// garbage collection) while the alert fired again and its sender's
// trigger, received after the resolve, repeated the incident or, the
// resolve retried elsewhere having resolved it, opened a new one; the
// stalled write then resolved the incident although the sender's latest
// word is "firing", and the sender, its trigger answered, says nothing
// more: the outage paged nobody. Such a resolve writes nothing, and
// *late is the incident as read (nil otherwise). A repeat does not change
// the version, so a resolve that passes checks in its write that none
// came since its read (store.Incident.CheckRepeats): one landing between
// them is judged on a fresh read. Any other event (a person's resolve,
// pagerd's own, one whose receipt is not known) is g's alone.
//
// The resolve is placed at the latest it may have arrived (WithReadAt):
// the kernel's stamp of its arrival, or, without one, when the intake
// read it; not its earliest, which for a request read during or just
// after a stop of this process may be the stop's start
// (incident.Alert.Received). So placed, a resolve that came after the
// stop, read in the two seconds after it, was taken as older than a
// repeat received meanwhile on another replica, and left its incident
// open for good (the fingerprint soak, seed 900697799: 8 alert incidents
// in 10 minutes). One that waited in the socket through a stop while the
// alert fired again elsewhere resolves nothing, by its kernel stamp
// (ServerOptions.Arrival); one held outside a paused VM, which its kernel
// stamps as it resumes, still resolves it.
func (s *Service) unlessSuperseded(ctx context.Context, ev policy.Event, g guard, late **store.Incident) guard {
	if ev.Kind != policy.EventResolve || ev.Received.IsZero() {
		return g
	}
	received := ev.Received
	if at := ReadAt(ctx); at.After(received) {
		received = at
	}
	return func(inc *store.Incident) ([]store.Entry, bool, error) {
		*late = nil
		var before []store.Entry
		if g != nil {
			write, err := false, error(nil)
			if before, write, err = g(inc); err != nil || !write {
				return before, write, err
			}
		}
		if !inc.Open() || ev.Actor != inc.Source {
			return before, true, nil
		}
		if inc.LastReceived.After(received.Add(ReceivedSkew(s.o.Config()))) {
			*late = inc
			return nil, false, nil
		}
		inc.CheckRepeats = true
		return before, true, nil
	}
}

// readAtKey keys the time the intake read the request a context is of.
type readAtKey struct{}

// WithReadAt is ctx saying the latest the request it is of may have
// arrived (the kernel's stamp of its arrival, or when the intake read
// it), on the clock the replicas share (zero when not on it): the time
// its resolves count from (unlessSuperseded).
func WithReadAt(ctx context.Context, at time.Time) context.Context {
	return context.WithValue(ctx, readAtKey{}, at)
}

// ReadAt is WithReadAt's time, zero when ctx has none.
func ReadAt(ctx context.Context) time.Time {
	at, _ := ctx.Value(readAtKey{}).(time.Time)
	return at
}

// latestArrival is the latest a, a firing, may have arrived: its
// request's WithReadAt, or a.Received when that is later or ctx has none.
// A firing is judged by it against a resolve of its sender (superseded,
// resolvedBefore), not by its earliest: a request read within the grace
// after a stop of this replica is stamped at the stop's start at the
// earliest, and may have come after the stop, after a resolve taken
// elsewhere meanwhile (a new problem under the same PagerDuty or Opsgenie
// key, a group firing again with its alert's start unchanged). Placed at
// its earliest, it was dropped: a missed page. A firing read before the
// stop it was held through has both stamps before it, and is judged as
// before; one that waited out a paused VM outside it is stamped by the
// kernel as the VM resumes, and opens its incident (a false page, which
// a person can end, where the other reading misses one).
func latestArrival(ctx context.Context, a Alert) time.Time {
	if at := ReadAt(ctx); at.After(a.Received) {
		return at
	}
	return a.Received
}

// resolveSuperseded says of late, the incident a resolve its sender sent
// left open (unlessSuperseded), why: a resolve_superseded entry in its
// timeline (best effort: the resolve was taken, and is answered 2xx, as
// a 5xx would have the sender's retry, received after the firing,
// resolve the incident), a warn line, and the metric counts it
// resolve_superseded.
func (s *Service) resolveSuperseded(ctx context.Context, late *store.Incident, ev policy.Event, source string) {
	received := ev.Received.UTC().Truncate(time.Millisecond)
	firing := late.LastReceived.UTC()
	detail := "a resolve " + ev.Actor + " sent, received at " + received.Format(time.RFC3339Nano) +
		", was written after a firing of this incident's alert received at " + firing.Format(time.RFC3339Nano) +
		": it resolves nothing, and the incident stays open (received in order, the firing came after the resolve; its sender says it fires)"
	if err := s.Note(ctx, late.ID, store.Entry{At: s.clock(), Type: ResolveSuperseded, Actor: "pagerd", Detail: detail}); err != nil {
		s.log.Warn("superseded resolve not noted in the timeline", "incident", late.ID, "err", err)
	}
	s.log.Warn("resolve received before a firing of its incident stored before it: superseded, the incident stays open", "incident", late.ID,
		"service", late.Service, "source", source, "received", received, "firing_received", firing)
	s.m.alerts.WithLabelValues(source, late.Service, ResolveSuperseded).Inc()
}
