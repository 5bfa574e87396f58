package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
)

// intakeAlerts are the alerts the intake hands the incident service for a
// firing body (an Alertmanager notification to service, or a PagerDuty
// trigger event), received at received: what a replica stopped with the
// request in its hands, stamped before the stop, writes once back.
func intakeAlerts(t *testing.T, h *harness, source, service, body string, received time.Time) []incident.Alert {
	t.Helper()
	svc := h.d.cfg.Load().Service(service)
	if source == "opsgenie" {
		og, p := ingest.DecodeOpsgenieAlert([]byte(body))
		if p != nil {
			t.Fatal(p.Message)
		}
		labels := og.Labels(svc.SeverityLabel)
		return []incident.Alert{{Service: svc, DedupKey: ingest.OpsgenieDedupKey(og.Alias), Source: "opsgenie", Actor: "opsgenie",
			Labels: []map[string]string{labels}, Titles: []string{og.Summary()}, Summary: og.Summary(), Details: og.IncidentDetails(labels), Received: received}}
	}
	if source == "pagerduty" {
		ev, errs := ingest.DecodeEvent([]byte(body))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		labels, summary, details := ingest.EventGroupFor(ev, svc.SeverityLabel)
		return []incident.Alert{{Service: svc, DedupKey: "pd:" + ev.DedupKey, Source: "pagerduty", Actor: "pagerduty",
			Labels: []map[string]string{labels}, Summary: summary, Details: details, Received: received}}
	}
	msg, err := ingest.DecodeAlertmanager([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	msg.Received = received
	byFingerprint := svc.IncidentKey == "fingerprint"
	var as []incident.Alert
	for _, g := range msg.Groups(byFingerprint) {
		a := incident.Alert{Service: svc, DedupKey: g.DedupKey, Source: "alertmanager", Actor: "alertmanager", Labels: g.Labels,
			LabelsIncomplete: g.LabelsIncomplete, Titles: g.Titles, Summary: g.Summary, Details: g.Details, FirstStart: g.FirstStart, Received: received}
		if byFingerprint {
			a.WithheldIn, a.OneAlert = msg.OverflowDedupKey(), !g.Overflow
		}
		as = append(as, a)
	}
	return as
}

// TestFiringReceivedBeforeAResolveThatFoundNoIncidentOpensNothing: the
// README's "Not yet" residual. A replica stopped with a firing in its
// hands, stamped received at t0 and never written; the sender gave up on
// it and sent the resolve, received elsewhere at t0+5s: no incident had
// the key, so it resolved nothing and nothing of it was stored. The
// replica, back at t0+10s, wrote the firing: the store found no incident
// resolved after it, and it opened one for alerts that had ended, which
// paged ann and bob and stayed open (Alertmanager says nothing more of a
// group whose resolve it delivered). The resolve is remembered now: the
// firing opens nothing (outcome store.Superseded), logged at warn,
// counted superseded, no page; the same firing received after the
// resolve opens and pages. In group mode, in fingerprint mode (one
// alert's key), from PagerDuty and from Opsgenie's close by alias.
// Guards of a miss, each of which opens an incident that pages: a
// firing received within the shared clock's skew (3s) of the resolve;
// one holding its alert started after the resolve's end of it (a new
// firing); one closed by a person (who never saw it); and the stale
// firing once the mark has expired (ResolveMarkKeep after the resolve,
// its job run by the daemon's handler, not dropped as of a kind nothing
// handles).
func TestFiringReceivedBeforeAResolveThatFoundNoIncidentOpensNothing(t *testing.T) {
	t0 := fixedNow
	a := lbl("X", "critical", "a")
	amFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0.Add(-time.Minute)})
	amResolved := amBody("resolved", "g", 0, amAlert{st: "resolved", labels: a, starts: t0.Add(-time.Minute), ends: t0.Add(2 * time.Second)})
	// Started after the resolve's end of it: fired again.
	amAgain := amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0.Add(3 * time.Second)})
	fpFiring := amTruncated("firing", 0, [2]string{"api-1", "firing"})
	fpResolved := amTruncated("resolved", 0, [2]string{"api-1", "resolved"})
	amResolve := func(key, body string) func(*harness) response {
		return func(h *harness) response {
			return h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+key)
		}
	}
	pdResolve := func(h *harness) response { return h.do("POST", "/v2/enqueue", pdEventBody("resolve", "k")) }
	ogClose := func(body string) func(*harness) response {
		return func(h *harness) response {
			return h.do("POST", "/v2/alerts/disk-db1/close?identifierType=alias", body, "Authorization", "GenieKey "+ogKey)
		}
	}
	ogFiring := `{"message":"disk full on db1","alias":"disk-db1","priority":"P1"}`
	cfg := strings.Replace(noStorm, "integrations: {alertmanager_key: "+amKey+", pagerduty_routing_key: "+pdKey+"}",
		"integrations: {alertmanager_key: "+amKey+", pagerduty_routing_key: "+pdKey+", opsgenie_key: "+ogKey+"}", 1)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name            string
				service, firing string
				resolve         func(*harness) response
				source          string
				resolvedAt      time.Duration // after t0, when the firing was received
				written         time.Duration // when the stopped replica writes the firing
				opens           bool
			}{
				{"group mode", "api", amFiring, amResolve(amKey, amResolved), "alertmanager", 5 * time.Second, 10 * time.Second, false},
				{"fingerprint mode", "batch", fpFiring, amResolve(batchKey, fpResolved), "alertmanager", 5 * time.Second, 10 * time.Second, false},
				{"pagerduty", "api", pdEventBody("trigger", "k"), pdResolve, "pagerduty", 5 * time.Second, 10 * time.Second, false},
				{"received within the clocks' skew of the resolve", "api", amFiring, amResolve(amKey, amResolved), "alertmanager", 2 * time.Second, 10 * time.Second, true},
				{"its alert started after the resolve's end of it", "api", amAgain, amResolve(amKey, amResolved), "alertmanager", 5 * time.Second, 10 * time.Second, true},
				{"opsgenie", "api", ogFiring, ogClose(`{"source":"alertmanager"}`), "opsgenie", 5 * time.Second, 10 * time.Second, false},
				{"closed by a person", "api", ogFiring, ogClose(`{"user":"ann"}`), "opsgenie", 5 * time.Second, 10 * time.Second, true},
				{"written after the mark expired", "api", amFiring, amResolve(amKey, amResolved), "alertmanager", 5 * time.Second,
					5*time.Second + incident.ResolveMarkKeep + time.Second, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					h := newHarness(t, withStore(open(t)), withConfig(cfg))
					// Stamped at t0, before the stop.
					held := intakeAlerts(t, h, tc.source, tc.service, tc.firing, t0)
					h.clock.Set(t0.Add(tc.resolvedAt))
					if r := tc.resolve(h); r.code/100 != 2 {
						t.Fatalf("resolve: %d %s", r.code, r.body)
					}
					if l := h.list(""); len(l) != 0 {
						t.Fatalf("incidents after the resolve: %+v, want none", l)
					}
					// The mark's job comes due, and is run, before a
					// firing written after it.
					h.runUntil(t0.Add(tc.written))
					for _, a := range held {
						id, out, err := h.d.incidents.Trigger(context.Background(), h.d.cfg.Load(), a)
						if err != nil {
							t.Fatal(err)
						}
						if opened := out == store.Created; opened != tc.opens {
							t.Fatalf("the stale firing of %s: incident %q, outcome %v; want opened %v", a.DedupKey, id, out, tc.opens)
						}
					}
					h.runUntil(t0.Add(tc.written + time.Hour))
					pages := h.rec.lines(t0)
					l := h.list("")
					if tc.opens {
						if len(l) != 1 || l[0].Status != "triggered" || len(pages) == 0 {
							t.Fatalf("incidents %+v, pages %v; want one open that pages", l, pages)
						}
						if strings.Contains(h.logs.String(), "nothing handles") {
							t.Fatalf("the mark's job was dropped as of a kind nothing handles:\n%s", h.logs)
						}
						return
					}
					if len(l) != 0 || len(pages) != 0 {
						t.Fatalf("the firing received before its sender's resolve opened %+v and paged %v; want nothing", l, pages)
					}
					if !strings.Contains(h.logs.String(), "superseded, opens nothing") {
						t.Fatalf("not logged:\n%s", h.logs)
					}
					if got := metric(t, h.reg, "pagerd_alerts_received_total", "source", tc.source, "service", tc.service, "outcome", "superseded"); got != 1 {
						t.Fatalf("pagerd_alerts_received_total{outcome=superseded} %v, want 1", got)
					}
					// The same firing, received now (after the resolve):
					// it opens, and pages.
					for _, a := range intakeAlerts(t, h, tc.source, tc.service, tc.firing, h.clock.Now()) {
						if _, out, err := h.d.incidents.Trigger(context.Background(), h.d.cfg.Load(), a); err != nil || out != store.Created {
							t.Fatalf("the firing received after the resolve: outcome %v, %v; want created", out, err)
						}
					}
					h.runUntil(h.clock.Now().Add(time.Second))
					if l, pages := h.list(""), h.rec.lines(t0); len(l) != 1 || l[0].Status != "triggered" || len(pages) == 0 {
						t.Fatalf("a firing received after the resolve: incidents %+v, pages %v; want one open that pages", l, pages)
					}
				})
			}
		})
	}
}

// markRefusingStore refuses to store resolve marks.
type markRefusingStore struct{ store.Store }

func (s markRefusingStore) PutJob(ctx context.Context, j store.Job) error {
	if j.Kind == incident.ResolveMarkKind {
		return fmt.Errorf("%w: redis: i/o timeout", store.ErrUnavailable)
	}
	return s.Store.PutJob(ctx, j)
}

func (s markRefusingStore) PutLaterJobs(ctx context.Context, jobs []store.Job) error {
	for _, j := range jobs {
		if j.Kind == incident.ResolveMarkKind {
			return fmt.Errorf("%w: redis: i/o timeout", store.ErrUnavailable)
		}
	}
	return s.Store.PutLaterJobs(ctx, jobs)
}

// TestResolveThatFoundNoIncidentUnrememberedIsAnswered2xx: the mark of a
// resolve that found no open incident is best effort. The store refusing
// it, the resolve is answered 2xx all the same (it ended nothing, and a
// 5xx would have its sender send it again for nothing), the failure is
// logged at warn, and a firing received before it and written after it
// opens its incident, as it did before marks.
func TestResolveThatFoundNoIncidentUnrememberedIsAnswered2xx(t *testing.T) {
	t0 := fixedNow
	h := newHarness(t, withStore(markRefusingStore{boltStore(t)}), withConfig(noStorm))
	held := intakeAlerts(t, h, "pagerduty", "api", pdEventBody("trigger", "k"), t0)
	h.clock.Set(t0.Add(5 * time.Second))
	if r := h.do("POST", "/v2/enqueue", pdEventBody("resolve", "k")); r.code != 202 {
		t.Fatalf("the resolve whose mark the store refused: %d %s, want 202", r.code, r.body)
	}
	if !strings.Contains(h.logs.String(), "a resolve that found no open incident is not remembered") {
		t.Fatalf("the refused mark is not logged:\n%s", h.logs)
	}
	h.clock.Set(t0.Add(10 * time.Second))
	if _, out, err := h.d.incidents.Trigger(context.Background(), h.d.cfg.Load(), held[0]); err != nil || out != store.Created {
		t.Fatalf("the stale firing with no mark: outcome %v, %v; want created", out, err)
	}
}

// TestFiringReadJustAfterAStopAfterAResolveThatFoundNoIncidentOpens: the
// mirror of the stalled firing. A replica was stopped (CPU starved, a VM
// paused) from t0 to t0+5s; meanwhile another replica took its sender's
// resolve of the key at t0+4s, which found no incident open (resolved by
// hand, or never opened) and left its mark. The sender then sent a new
// firing, which the stopped replica read at t0+6s, within the grace
// after its stop: arrivals stamps it at the stop's start at the earliest
// (t0) and at t0+6s at the latest. It came after the resolve: a PagerDuty
// or Opsgenie trigger of a new problem under the same key, an
// Alertmanager group firing again with its alert's start unchanged (a
// Prometheus restart restores it). Judged by its earliest, it was taken
// as older than the resolve and opened nothing: a missed page. Judged by
// its latest (WithReadAt), as unlessSuperseded judges a resolve read
// after a stop, it opens and pages. Both stores.
func TestFiringReadJustAfterAStopAfterAResolveThatFoundNoIncidentOpens(t *testing.T) {
	t0 := fixedNow
	cfg, cases := stopCases(t0)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					h := newHarness(t, withStore(open(t)), withConfig(cfg))
					send := func(r stopReq, earliest, latest time.Time) { t.Helper(); sendAt(t, h, r, earliest, latest) }
					// Taken by a replica that ran, at t0+4s: no incident.
					h.clock.Set(t0.Add(4 * time.Second))
					send(tc.resolve, h.clock.Now(), h.clock.Now())
					// Read at t0+6s by the replica stopped from t0 to t0+5s.
					h.clock.Set(t0.Add(6 * time.Second))
					send(tc.firing, t0, h.clock.Now())
					h.runUntil(t0.Add(time.Minute))
					if l, pages := h.list(""), h.rec.lines(t0); len(l) != 1 || l[0].Status != "triggered" || len(pages) == 0 {
						t.Fatalf("a firing that came after the resolve, read just after a stop: incidents %+v, pages %v; want one open that pages\n%s",
							l, pages, h.logs)
					}
				})
			}
		})
	}
}

// TestOlderResolveMarkDoesNotReplaceALaterOne: two resolves of a key that
// found nothing open, the later (t0+10s) written first and the earlier
// (t0) by a replica that stalled with it. The earlier one's mark
// replaced the later one's, and a firing received between them (t0+5s)
// and written after both, which the later resolve ended, opened an
// incident that paged for an alert that had ended: the window narrowed
// to the older resolve. The later mark stands. Both stores.
func TestOlderResolveMarkDoesNotReplaceALaterOne(t *testing.T) {
	t0 := fixedNow
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(noStorm))
			svc := h.d.cfg.Load().Service("api")
			held := intakeAlerts(t, h, "pagerduty", "api", pdEventBody("trigger", "k"), t0.Add(5*time.Second))
			h.clock.Set(t0.Add(10 * time.Second))
			for _, received := range []time.Time{t0.Add(10 * time.Second), t0} {
				if id, err := h.d.incidents.ResolveByDedup(context.Background(), svc, "pd:k", "pagerduty", "pagerduty", received); err != nil || id != "" {
					t.Fatalf("the resolve received at %v: %q, %v; want nothing resolved", received, id, err)
				}
			}
			h.clock.Set(t0.Add(20 * time.Second))
			if id, out, err := h.d.incidents.Trigger(context.Background(), h.d.cfg.Load(), held[0]); err != nil || out == store.Created {
				t.Fatalf("the firing received between the resolves: incident %q, outcome %v, %v; want nothing opened", id, out, err)
			}
		})
	}
}

// stopReq is a request an intake's sender makes.
type stopReq struct{ path, body, auth string }

// stopCase is a sender's resolve of a key and its next firing of it, as
// Alertmanager, PagerDuty and Opsgenie send them.
type stopCase struct {
	name            string
	resolve, firing stopReq
}

// stopCases are the resolve and firing of each intake, an Alertmanager
// group's alert started a minute before t0 and resolved at t0+3s, and
// noStorm's config with an Opsgenie key, which the cases' service takes
// all three on.
func stopCases(t0 time.Time) (cfg string, cases []stopCase) {
	a := lbl("X", "critical", "a")
	amFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0.Add(-time.Minute)})
	amResolved := amBody("resolved", "g", 0, amAlert{st: "resolved", labels: a, starts: t0.Add(-time.Minute), ends: t0.Add(3 * time.Second)})
	ogFiring := `{"message":"disk full on db1","alias":"disk-db1","priority":"P1"}`
	cfg = strings.Replace(noStorm, "integrations: {alertmanager_key: "+amKey+", pagerduty_routing_key: "+pdKey+"}",
		"integrations: {alertmanager_key: "+amKey+", pagerduty_routing_key: "+pdKey+", opsgenie_key: "+ogKey+"}", 1)
	return cfg, []stopCase{
		{"alertmanager", stopReq{"/api/v1/alertmanager", amResolved, "Bearer " + amKey}, stopReq{"/api/v1/alertmanager", amFiring, "Bearer " + amKey}},
		{"pagerduty", stopReq{"/v2/enqueue", pdEventBody("resolve", "k"), ""}, stopReq{"/v2/enqueue", pdEventBody("trigger", "k"), ""}},
		{"opsgenie", stopReq{"/v2/alerts/disk-db1/close?identifierType=alias", `{"source":"alertmanager"}`, "GenieKey " + ogKey},
			stopReq{"/v2/alerts", ogFiring, "GenieKey " + ogKey}},
	}
}

// sendAt posts r to h as a request arrivals stamped between earliest and
// latest, failing unless it is answered 2xx.
func sendAt(t *testing.T, h *harness, r stopReq, earliest, latest time.Time) {
	t.Helper()
	h.d.server.o.Arrival = func(*http.Request) (time.Time, time.Time) { return earliest, latest }
	var hdr []string
	if r.auth != "" {
		hdr = []string{"Authorization", r.auth}
	}
	if got := h.do("POST", r.path, r.body, hdr...); got.code/100 != 2 {
		t.Fatalf("POST %s: %d %s", r.path, got.code, got.body)
	}
}
