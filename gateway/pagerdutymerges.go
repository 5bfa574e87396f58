package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify/pagerduty"
	"github.com/pagerd/pagerd/policy"
)

// pagerDutyMergesKind is the store documents' kind (store.Docs) of
// pagerDutyMerges: one document per PagerDuty incident that holds
// alerts of pagerd's merged into it, keyed by its id. A kind no replica
// before it reads, so an older replica in a rollout goes on as it did.
const pagerDutyMergesKind = "pagerduty_merges"

// pagerDutyMergeKeep is how long a PagerDuty incident's record is kept
// at most after its last merge, when its resolve never comes (a webhook
// lost, a subscription taken away); a record all of whose pagerd
// incidents are resolved goes at the next merge, with its incidents.
const pagerDutyMergeKeep = 7 * 24 * time.Hour

// pagerDutyResolvedKeep is how long the resolve of a PagerDuty incident
// is kept (pagerDutyMerged.Resolved), as are a person's acknowledgement
// of it and its merge away, for a merge into it whose webhook comes
// after: PagerDuty keeps no order between webhooks, and a merge answered
// 5xx (the record refused) comes again later; PagerDuty retries for
// minutes, and its own delivery delays have lasted hours. Every resolve
// and acknowledgement by a person writes one, and every webhook reads
// them all: 3,000 kept cost each read 8 to 20 ms, so they are kept no
// longer than that.
const pagerDutyResolvedKeep = 6 * time.Hour

// pagerDutyMergeWrites is how often a record's write is tried when
// another replica wrote the kind first, each try after a random wait of up
// to pagerDutyMergeBackoff times the tries so far.
const (
	pagerDutyMergeWrites  = 10
	pagerDutyMergeBackoff = 10 * time.Millisecond
)

// pagerDutyMerges keeps pagerduty.MergeIndex in the store's documents,
// which every replica shares, on both stores: small (a key and an id per
// alert merged), and dropped with the PagerDuty incident's resolve, or
// when every pagerd incident in it is resolved, or pagerDutyMergeKeep
// after its last merge.
type pagerDutyMerges struct {
	store store.Store
	now   func() time.Time
	log   *slog.Logger
	// writing has this replica write the record one webhook at a time:
	// every person's acknowledgement and resolve writes it, and a burst
	// of them (50 incidents acknowledged at once in PagerDuty's list)
	// written side by side had most of its writes refused, each the
	// kind's version moved by another (TestPagerDutyMergesBurstIsKept).
	// A channel of one, so that a webhook whose time runs out while the
	// store stalls under another's write gives up its wait (answered 5xx)
	// instead of holding a goroutine until its turn.
	writing chan struct{}
}

var _ pagerduty.MergeIndex = (*pagerDutyMerges)(nil)

// newPagerDutyMerges is the merges' record in st, on the clock now,
// logging to log (slog's default when nil).
func newPagerDutyMerges(st store.Store, now func() time.Time, log *slog.Logger) *pagerDutyMerges {
	if log == nil {
		log = slog.Default()
	}
	return &pagerDutyMerges{store: st, now: now, log: log, writing: make(chan struct{}, 1)}
}

// pagerDutyMerged is one PagerDuty incident's document.
type pagerDutyMerged struct {
	// Expires is when it goes unless merged into again (Unix ms).
	Expires int64             `json:"expires"`
	Alerts  []pagerduty.Moved `json:"alerts"`
	// Resolved says the PagerDuty incident was resolved, by By (its
	// agent's name, "" for none): a merge into it delivered since is
	// over at once (Merge). Kept pagerDutyResolvedKeep, with the alerts
	// it held (their merge noted over), a merge delivered since adds to
	// them, and a person's acknowledgement: one made before the resolve
	// whose webhook comes after it reaches the alerts there before it,
	// as it did delivered in order.
	Resolved bool   `json:"resolved,omitempty"`
	By       string `json:"by,omitempty"`
	// AckedAt is when a person, AckedBy, last acknowledged it (its
	// webhook's occurred_at, Unix ms), or merged it into another (then
	// equal to MergedAt: Merge reads it so), 0 for none: a merge into it
	// whose webhook comes after, made before that, is acknowledged with
	// it. A document with no alerts but this is kept
	// pagerDutyResolvedKeep.
	AckedAt int64  `json:"acked_at,omitempty"`
	AckedBy string `json:"acked_by,omitempty"`
	// MergedInto is the PagerDuty incident it was merged into, at
	// MergedAt (the merge's occurred_at, Unix ms; 0 unknown), kept
	// pagerDutyResolvedKeep: a merge into it whose webhook comes after
	// goes on there. Alerts are then the alerts that merge carried on,
	// for the merge's webhook delivered again (answered 5xx, a note of
	// theirs not stored), which finds them here.
	MergedInto string `json:"merged_into,omitempty"`
	MergedAt   int64  `json:"merged_at,omitempty"`
	// Arrived is when each alert (by key) got into it: the occurred_at
	// of the latest merge on its way (Unix ms; none when not known). A
	// person's acknowledgement made before that did not see it
	// (Acknowledged), whatever the order its webhook comes in.
	Arrived map[string]int64 `json:"arrived,omitempty"`
}

// Merge moves what is kept for from, and alert, to into (or to the
// incident into was merged into since, as far as its merge is kept),
// and returns them with what is kept of that one (a person's
// acknowledgement); that one being resolved already (its webhook came
// first), nothing is kept. from keeps, pagerDutyResolvedKeep, where it
// went: a merge into it whose webhook comes after follows it.
func (m *pagerDutyMerges) Merge(ctx context.Context, from, into string, at time.Time, alert pagerduty.Moved) (pagerduty.MergeTarget, error) {
	var got pagerduty.MergeTarget
	err := m.write(ctx, func(docs map[string]pagerDutyMerged, put map[string]pagerDutyMerged, del map[string]bool) bool {
		got = pagerduty.MergeTarget{}
		// A resolve of from (no merge named) delivered first noted its
		// alerts over: they are not carried on.
		var moved []pagerduty.Moved
		if !docs[from].Resolved {
			moved = docs[from].Alerts
		}
		if alert.Key != "" {
			moved = dedupMoved(append(slices.Clip(moved), alert))
		}
		if from == into || len(moved) == 0 && docs[from].MergedInto == into {
			return false
		}
		var atMs int64
		if !at.IsZero() {
			atMs = at.UnixMilli()
		}
		// What it carried on is kept with it: a redelivery of this
		// merge (a note or an acknowledgement of the first not stored)
		// carries them on again, where it found from's own alone.
		// A person's acknowledgement of from stays with it too: a merge
		// into from delivered after reads it on the way.
		put[from] = pagerDutyMerged{Expires: m.now().Add(pagerDutyResolvedKeep).UnixMilli(), MergedInto: into, MergedAt: atMs, Alerts: dedupMoved(moved),
			Arrived: docs[from].Arrived, AckedAt: docs[from].AckedAt, AckedBy: docs[from].AckedBy}
		// Followed as far as kept, and when the alerts got there: the
		// latest merge on the way (unknown when one's is). A person's
		// acknowledgement of an incident on the way, made after the
		// alerts got there, saw them (it acknowledged them, had the
		// merge's webhook come first): the first such is returned.
		target, arrived := into, atMs
		var onWay pagerDutyMerged
		var onWayID string
		var onWayArrived int64
		// Every merge away kept is followed, to the incident that holds
		// them: one stopped short of it put the alerts in an incident
		// merged away and took its merge off. seen ends a loop (a merge
		// record no PagerDuty makes).
		seen := map[string]bool{}
		for docs[target].MergedInto != "" && !seen[target] {
			seen[target] = true
			if d := docs[target]; onWay.AckedAt == 0 && arrived != 0 && d.AckedAt > arrived {
				onWay, onWayID, onWayArrived = d, target, arrived
			}
			// Kept on the way too, with when they got there: a
			// person's acknowledgement of that incident, made before
			// its merge away, whose webhook comes after this one,
			// reaches them (Acknowledged), as it did in order.
			if d, ok := holding(docs[target], moved, arrived); ok && target != from {
				put[target] = d
			}
			if d := docs[target]; d.MergedAt == 0 || arrived == 0 {
				arrived = 0
			} else {
				arrived = max(arrived, d.MergedAt)
			}
			target = docs[target].MergedInto
		}
		if len(moved) == 0 {
			return true
		}
		to := docs[target]
		got.Moved, got.Into = moved, target
		if onWay.AckedAt != 0 {
			got.AckedAt, got.AckedBy, got.Arrived, got.AckedOf = time.UnixMilli(onWay.AckedAt), onWay.AckedBy, time.UnixMilli(onWayArrived), onWayID
			// A person's merge of it is recorded as their
			// acknowledgement made when the merge was (Merge after
			// Acknowledged, at the same occurred_at): a later one
			// would be of an incident resolved by the merge, which
			// PagerDuty does not take.
			if onWay.MergedAt == onWay.AckedAt {
				got.AckedInto = onWay.MergedInto
			}
		}
		if onWay.AckedAt == 0 && to.AckedAt != 0 {
			got.AckedAt, got.AckedBy, got.AckedOf = time.UnixMilli(to.AckedAt), to.AckedBy, target
		}
		if onWay.AckedAt == 0 && arrived != 0 {
			got.Arrived = time.UnixMilli(arrived)
		}
		to, _ = holding(to, moved, arrived)
		// Resolved first: the merge is over at once, and its alerts are
		// kept with the resolve (not past it), for a person's
		// acknowledgement made before it delivered after.
		if to.Resolved {
			got.Resolved, got.ResolvedBy = true, to.By
		} else {
			to.Expires = m.now().Add(pagerDutyMergeKeep).UnixMilli()
		}
		to.MergedInto, to.MergedAt = "", 0
		put[target] = to
		return true
	})
	if err != nil {
		return pagerduty.MergeTarget{}, err
	}
	return got, nil
}

// holding is d with the alerts of moved it does not hold added, each
// arrived there at arrived (Unix ms, 0 unknown: none kept), and whether
// any was.
func holding(d pagerDutyMerged, moved []pagerduty.Moved, arrived int64) (pagerDutyMerged, bool) {
	added := false
	for _, a := range moved {
		if slices.Contains(d.Alerts, a) {
			continue
		}
		d.Alerts, added = append(slices.Clip(d.Alerts), a), true
		if arrived != 0 {
			d.Arrived = maps.Clone(d.Arrived)
			if d.Arrived == nil {
				d.Arrived = map[string]int64{}
			}
			d.Arrived[a.Key] = arrived
		}
	}
	return d, added
}

// Acknowledged keeps that a person, by, acknowledged pd at at (the latest
// such), with what is kept for it (resolved since too: the
// acknowledgement came first), and returns what is kept for pd as
// the write found it, but the alerts that got there at or after at
// (Arrived): the acknowledgement did not see them; nor, perhaps, those
// whose arrival is not known (a merge's webhook without occurred_at):
// taken as seen, an acknowledgement made before their merge acknowledged
// incidents nobody had, where left out their ladders go on (the safe
// side: every real webhook carries occurred_at).
func (m *pagerDutyMerges) Acknowledged(ctx context.Context, pd, by string, at time.Time) ([]pagerduty.Moved, error) {
	var moved []pagerduty.Moved
	err := m.write(ctx, func(docs map[string]pagerDutyMerged, put map[string]pagerDutyMerged, _ map[string]bool) bool {
		d, ok := docs[pd]
		moved = nil
		for _, a := range d.Alerts {
			if arr := d.Arrived[a.Key]; arr != 0 && arr < at.UnixMilli() {
				moved = append(moved, a)
			}
		}
		if d.AckedAt >= at.UnixMilli() {
			return false
		}
		if !ok {
			d.Expires = m.now().Add(pagerDutyResolvedKeep).UnixMilli()
		}
		d.AckedAt, d.AckedBy = at.UnixMilli(), by
		put[pd] = d
		return true
	})
	if err != nil {
		return nil, err
	}
	return moved, nil
}

// Moved is what is kept for pd; none when pd was merged away: what it
// carried on lives in another incident, and a resolve of pd (a webhook
// naming no merge) must not end their merge; nor when its resolve is kept
// already: what it held was noted over before.
func (m *pagerDutyMerges) Moved(ctx context.Context, pd string) ([]pagerduty.Moved, error) {
	docs, _, err := m.read(ctx)
	if err != nil || docs[pd].MergedInto != "" || docs[pd].Resolved {
		return nil, err
	}
	return docs[pd].Alerts, nil
}

// Resolved keeps that pd was resolved, by by, for pagerDutyResolvedKeep,
// with what it held (noted over: no merge goes on from it) and a person's
// acknowledgement of it; unless pd holds alerts not among noted, which it
// returns, writing nothing, or was merged away, which stands.
func (m *pagerDutyMerges) Resolved(ctx context.Context, pd, by string, noted []pagerduty.Moved) ([]pagerduty.Moved, error) {
	var left []pagerduty.Moved
	err := m.write(ctx, func(docs map[string]pagerDutyMerged, put map[string]pagerDutyMerged, _ map[string]bool) bool {
		left = nil
		if docs[pd].Resolved || docs[pd].MergedInto != "" {
			return false // merged away: its merge's record stands
		}
		for _, a := range docs[pd].Alerts {
			if !slices.Contains(noted, a) {
				left = append(left, a)
			}
		}
		if len(left) > 0 {
			return false
		}
		d := docs[pd]
		put[pd] = pagerDutyMerged{Expires: m.now().Add(pagerDutyResolvedKeep).UnixMilli(), Resolved: true, By: by,
			Alerts: d.Alerts, Arrived: d.Arrived, AckedAt: d.AckedAt, AckedBy: d.AckedBy}
		return true
	})
	if err != nil {
		return nil, err
	}
	return left, nil
}

// read is every document kept and not expired, and the kind's version.
func (m *pagerDutyMerges) read(ctx context.Context) (map[string]pagerDutyMerged, int64, error) {
	raw, ver, err := m.store.ListDocs(ctx, pagerDutyMergesKind)
	if err != nil {
		return nil, 0, err
	}
	return m.decode(raw), ver, nil
}

// decode is the documents of raw not expired. One that does not decode
// is left out (and dropped at the next write).
func (m *pagerDutyMerges) decode(raw map[string][]byte) map[string]pagerDutyMerged {
	now := m.now().UnixMilli()
	docs := make(map[string]pagerDutyMerged, len(raw))
	for k, v := range raw {
		var d pagerDutyMerged
		if json.Unmarshal(v, &d) == nil && d.Expires > now {
			docs[k] = d
		}
	}
	return docs
}

// write reads the documents, lets change say what to put and delete
// (false: nothing to write), drops those expired, undecodable or whose
// pagerd incidents are all resolved (but for a person's acknowledgement
// of one, kept as Acknowledged keeps it), and writes, again when another
// replica wrote first.
func (m *pagerDutyMerges) write(ctx context.Context, change func(docs, put map[string]pagerDutyMerged, del map[string]bool) bool) error {
	select {
	case m.writing <- struct{}{}:
		defer func() { <-m.writing }()
	case <-ctx.Done():
		return fmt.Errorf("pagerduty merges: waiting for this replica's write before it: %w", ctx.Err())
	}
	for attempt := 1; ; attempt++ {
		raw, ver, err := m.store.ListDocs(ctx, pagerDutyMergesKind)
		if err != nil {
			return err
		}
		docs := m.decode(raw)
		put, del := map[string]pagerDutyMerged{}, map[string]bool{}
		if !change(docs, put, del) {
			return nil
		}
		for k, v := range raw {
			if _, ok := docs[k]; ok {
				continue
			}
			del[k] = true
			if json.Unmarshal(v, new(pagerDutyMerged)) != nil {
				// Not expired: written by another version in a form
				// this one cannot read. Said, as what it kept is lost:
				// alerts merged into that PagerDuty incident are not
				// acknowledged with it.
				m.log.Warn("pagerduty merges: a record this version cannot read is dropped; acknowledgements of that PagerDuty incident in PagerDuty reach only its own alert",
					"pagerduty_incident", k, "bytes", len(v))
			}
		}
		gone, err := m.resolved(ctx, docs)
		if err != nil {
			return err
		}
		for _, k := range gone {
			if _, ok := put[k]; ok {
				continue
			}
			// A person's acknowledgement stays, as long as one kept
			// alone: a merge into the incident made before it whose
			// webhook comes after is acknowledged with it.
			if d := docs[k]; d.AckedAt != 0 {
				put[k] = pagerDutyMerged{Expires: min(d.Expires, m.now().Add(pagerDutyResolvedKeep).UnixMilli()), AckedAt: d.AckedAt, AckedBy: d.AckedBy}
				continue
			}
			del[k] = true
		}
		enc := make(map[string][]byte, len(put))
		for k, d := range put {
			if enc[k], err = json.Marshal(d); err != nil {
				return err
			}
			delete(del, k)
		}
		_, err = m.store.PutDocs(ctx, pagerDutyMergesKind, ver, enc, slices.Collect(func(yield func(string) bool) {
			for k := range del {
				if !yield(k) {
					return
				}
			}
		}))
		if errors.Is(err, store.ErrConflict) && attempt < pagerDutyMergeWrites {
			// Another replica wrote first: tried again after a random
			// wait, not at once (tried at once, the replicas of a burst
			// moved each other's version ten times over).
			select {
			case <-time.After(rand.N(time.Duration(attempt) * pagerDutyMergeBackoff)):
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("pagerduty merges: %w", err)
		}
		return nil
	}
}

// resolved are the documents every pagerd incident of which is resolved
// or gone: nothing is left to acknowledge with their PagerDuty incident.
// An alert of a storm message's (its key names a bundle) keeps its
// document until it expires.
func (m *pagerDutyMerges) resolved(ctx context.Context, docs map[string]pagerDutyMerged) ([]string, error) {
	var ids []string
	for _, d := range docs {
		if !droppable(d) {
			continue
		}
		for _, a := range d.Alerts {
			if id, _, _, ok := pagerduty.ParseDedupKey(a.Key); ok && !store.IsBundleID(id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	statuses, err := m.store.Statuses(ctx, ids)
	if err != nil {
		return nil, err
	}
	var gone []string
	for k, d := range docs {
		if !droppable(d) {
			continue
		}
		if !slices.ContainsFunc(d.Alerts, func(a pagerduty.Moved) bool {
			id, _, _, ok := pagerduty.ParseDedupKey(a.Key)
			st, kept := statuses[id]
			return !ok || store.IsBundleID(id) || kept && st != policy.StatusResolved
		}) {
			gone = append(gone, k)
		}
	}
	return gone, nil
}

// droppable says whether d goes once its pagerd incidents are resolved:
// a resolve, an acknowledgement or a merge away is kept until it expires.
func droppable(d pagerDutyMerged) bool {
	return !d.Resolved && len(d.Alerts) > 0 && d.MergedInto == ""
}

// dedupMoved is moved without repeats, in order.
func dedupMoved(moved []pagerduty.Moved) []pagerduty.Moved {
	var out []pagerduty.Moved
	for _, a := range moved {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}
