package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/heartbeat"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
)

// hbConfig is ogConfig with two heartbeats on service api and a rule
// that makes a missed watchdog a P0 (the labels a heartbeat incident
// carries route it).
var hbConfig = strings.Replace(ogConfig,
	"    rules:\n",
	"    heartbeats:\n"+
		"      - {name: watchdog, interval: 1m, grace: 30s, labels: {team: sre}}\n"+
		"      - {name: nightly, interval: 1d}\n"+
		"    rules:\n"+
		"      - {name: watchdog-missing, matchers: ['alertname=\"HeartbeatMissing\"', 'heartbeat=\"watchdog\"'], priority: P0}\n", 1)

type pingAnswer struct {
	Status    string    `json:"status"`
	Service   string    `json:"service"`
	Heartbeat string    `json:"heartbeat"`
	ExpiresAt time.Time `json:"expires_at"`
	Resolved  string    `json:"resolved"`
}

func (h *harness) ping(name, key string, want int) pingAnswer {
	h.t.Helper()
	r := h.do("POST", "/api/v1/heartbeats/"+name+"/ping", "", "Authorization", "Bearer "+key)
	if r.code != want {
		h.t.Fatalf("ping %s: %d %s, want %d", name, r.code, r.body, want)
	}
	var a pingAnswer
	if want == 200 {
		r.json(h.t, &a)
	}
	return a
}

// pushes counts the pushes the recorder got.
func (h *harness) pushes() int {
	n := 0
	for _, l := range h.rec.lines(fixedNow) {
		if strings.HasSuffix(l, " push") {
			n++
		}
	}
	return n
}

// TestHeartbeatMissedIsPagedOnceAcrossReplicas: a heartbeat pinged and then
// silent expires at its last ping plus interval and grace, not before;
// three replicas' dispatchers raise one incident, routed by its labels, and
// page it once, however long it stays silent; the next ping resolves it.
// On both stores.
func TestHeartbeatMissedIsPagedOnceAcrossReplicas(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(hbConfig), replicas(3))
			if err := h.d.Arm(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.clock.Set(fixedNow.Add(10 * time.Second))
			a := h.ping("watchdog", amKey, 200)
			expires := fixedNow.Add(10*time.Second + 90*time.Second)
			if !a.ExpiresAt.Equal(expires) || a.Service != "api" || a.Resolved != "" {
				t.Fatalf("ping answer %+v, want it to expire at %v", a, expires)
			}
			h.step(expires.Add(-time.Millisecond))
			if n := len(h.list("")); n != 0 {
				t.Fatalf("%d incidents before the heartbeat expired", n)
			}
			h.step(expires)
			incs := h.list("")
			if len(incs) != 1 {
				t.Fatalf("%d incidents when the heartbeat expired, want 1", len(incs))
			}
			inc := h.incident(incs[0].ID)
			if inc.Source != "heartbeat" || inc.Priority != "P0" || inc.Rule != "watchdog-missing" || inc.DedupKey != "hb:watchdog" ||
				!strings.Contains(inc.Summary, "Heartbeat watchdog missed: no ping since 2025-09-10T06:00:10Z") {
				t.Fatalf("incident %+v", inc)
			}
			for _, want := range []string{`"alertname":"HeartbeatMissing"`, `"heartbeat":"watchdog"`, `"team":"sre"`} {
				if !strings.Contains(string(inc.Details), want) {
					t.Errorf("details lack %s: %s", want, inc.Details)
				}
			}
			// Silent for another ten minutes: the expiry comes back every
			// 1m30s as a repeat of the open incident, never a new page.
			h.runUntil(expires.Add(10 * time.Minute))
			if n := len(h.list("")); n != 1 || h.pushes() != 1 {
				t.Fatalf("after ten silent minutes: %d incidents, %d pushes; want 1 and 1 (the ladder's first step, once)", n, h.pushes())
			}
			if metric(t, h.reg, "pagerd_heartbeat_misses_total", "service", "api", "heartbeat", "watchdog") < 2 {
				t.Error("pagerd_heartbeat_misses_total does not count the expiries")
			}
			// Back: the ping resolves it.
			a = h.ping("watchdog", amKey, 200)
			if a.Resolved != inc.ID {
				t.Fatalf("the ping resolved %q, want %s", a.Resolved, inc.ID)
			}
			if v := h.incident(inc.ID); v.Status != policy.StatusResolved || v.ResolvedBy != "heartbeat" {
				t.Fatalf("after the ping: %s by %s", v.Status, v.ResolvedBy)
			}
		})
	}
}

// TestHeartbeatNeverPinged: a heartbeat pagerd starts watching is missed
// when no first ping comes within its interval and grace.
func TestHeartbeatNeverPinged(t *testing.T) {
	h := newHarness(t, withConfig(hbConfig))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(fixedNow.Add(time.Minute))
	if err := h.d.Arm(context.Background()); err != nil { // a restart keeps the expiry
		t.Fatal(err)
	}
	h.runUntil(fixedNow.Add(90 * time.Second))
	incs := h.list("")
	if len(incs) != 1 || !strings.Contains(incs[0].Summary, "never pinged since pagerd began watching it at 2025-09-10T06:00:00Z") {
		t.Fatalf("incidents %+v", incs)
	}
	// No ping, no time of one: not year 1.
	if d := string(h.incident(incs[0].ID).Details); strings.Contains(d, "last_ping") || !strings.Contains(d, `"heartbeat":"watchdog"`) {
		t.Errorf("details of a heartbeat never pinged: %s", d)
	}
	// Nor in the log's WARN of the miss.
	if logs := h.logs.String(); !strings.Contains(logs, "heartbeat missed: incident raised") || strings.Contains(logs, `"last_ping":"0001-01-01`) {
		t.Errorf("the log of a heartbeat never pinged gives a ping in year 1, or no miss:\n%s", logs)
	}
}

// TestHeartbeatReplicaWithoutIt: a replica whose config lacks a heartbeat
// the others have (its reload failed, its ConfigMap lags) and that claims
// the heartbeat's expiry leaves the job, last ping kept, for a replica
// that has it, which pages the miss moments later with the last ping. A
// heartbeat taken out of every config is dropped after ForgetAfter.
func TestHeartbeatReplicaWithoutIt(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := mk(t)
			a, b := replicaPair(t, st, hbConfig)
			p := a.ping("watchdog", amKey, 200)
			b.step(p.ExpiresAt)
			j, err := st.GetJob(ctx, heartbeat.JobKind, "api/watchdog")
			if err != nil {
				t.Fatalf("the replica without the heartbeat dropped its job: %v", err)
			}
			if !strings.Contains(string(j.Data), `"last_ping":"2025-09-10T06:00:00Z"`) || j.Due.After(p.ExpiresAt.Add(time.Minute)) {
				t.Fatalf("job left by the replica without the heartbeat: due %s, %s", j.Due, j.Data)
			}
			a.runUntil(p.ExpiresAt.Add(time.Minute))
			incs := a.list("")
			if len(incs) != 1 || !strings.Contains(incs[0].Summary, "no ping since 2025-09-10T06:00:00Z") || a.pushes() != 1 {
				t.Fatalf("incidents %+v, %d pushes; want the miss paged once, with the last ping", incs, a.pushes())
			}
			if j, err := st.GetJob(ctx, heartbeat.JobKind, "api/watchdog"); err != nil || strings.Contains(string(j.Data), "unknown") {
				t.Fatalf("after the replica that has it claimed it: %v %+v", err, j)
			}

			// Taken out of every config (its incident resolved first: a
			// reload that leaves it open is refused): kept a while, then
			// dropped.
			if r := a.api("POST", "/api/v1/incidents/"+incs[0].ID+"/resolve", ""); r.code != 200 {
				t.Fatalf("resolve: %d %s", r.code, r.body)
			}
			if err := a.reload(ogConfig); err != nil {
				t.Fatal(err)
			}
			j, _ = st.GetJob(ctx, heartbeat.JobKind, "api/watchdog")
			a.step(j.Due)
			a.step(j.Due.Add(heartbeat.ForgetAfter - time.Minute))
			if _, err := st.GetJob(ctx, heartbeat.JobKind, "api/watchdog"); err != nil {
				t.Fatalf("dropped before ForgetAfter: %v", err)
			}
			a.step(j.Due.Add(heartbeat.ForgetAfter))
			if _, err := st.GetJob(ctx, heartbeat.JobKind, "api/watchdog"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("in no config for ForgetAfter, still stored: %v", err)
			}
		})
	}
}

// noWatchdog is hbConfig without the watchdog heartbeat.
var noWatchdog = strings.Replace(hbConfig, "      - {name: watchdog, interval: 1m, grace: 30s, labels: {team: sre}}\n", "", 1)

// reloadArmed reloads yaml and arms its jobs, as the daemon does at a
// reload.
func (h *harness) reloadArmed(yaml string) {
	h.t.Helper()
	if err := h.reload(yaml); err != nil {
		h.t.Fatal(err)
	}
	if err := h.d.Arm(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// wantPagedOnce fails the test unless, when, there is one incident,
// paged once, whose summary holds summary.
func (h *harness) wantPagedOnce(when, summary string) {
	h.t.Helper()
	if incs := h.list(""); len(incs) != 1 || h.pushes() != 1 || !strings.Contains(incs[0].Summary, summary) {
		h.t.Fatalf("%s: incidents %+v, %d pushes; want one paged once, %q", when, incs, h.pushes(), summary)
	}
}

// pingThenRemoveWatchdog arms hbConfig, pings the watchdog at fixedNow
// and takes it out of the config 10s later.
func (h *harness) pingThenRemoveWatchdog() pingAnswer {
	h.t.Helper()
	if err := h.d.Arm(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	p := h.ping("watchdog", amKey, 200)
	h.clock.Set(fixedNow.Add(10 * time.Second))
	h.reloadArmed(noWatchdog)
	return p
}

// TestHeartbeatReAddedAfterAbsence: a heartbeat taken out of the config at
// a reload and put back 2h later (far longer than its interval and grace)
// is not paged at once for the pings nobody could send meanwhile: it is
// watched again from the re-add, as a new one is, and missed only if no
// ping comes within its interval and grace from then; the incident still
// gives the last ping. While out of every config, its job is claimed every
// RearmEvery, not every few seconds. On both stores.
func TestHeartbeatReAddedAfterAbsence(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, withStore(mk(t)), withConfig(hbConfig))
			h.pingThenRemoveWatchdog()
			back := fixedNow.Add(2 * time.Hour)
			h.runUntil(back)
			j, err := h.store.GetJob(ctx, heartbeat.JobKind, "api/watchdog")
			if err != nil {
				t.Fatalf("the job of a heartbeat out of the config for 2h: %v", err)
			}
			if !j.Due.After(back.Add(time.Minute)) {
				t.Errorf("job of a heartbeat out of the config for 2h due at %s: claimed every few seconds, not every %s", j.Due, heartbeat.RearmEvery)
			}
			h.reloadArmed(hbConfig)
			h.runUntil(back.Add(90*time.Second - time.Second))
			if incs := h.list(""); len(incs) != 0 || h.pushes() != 0 {
				t.Fatalf("within its interval and grace of the re-add: incidents %+v, %d pushes; want none", incs, h.pushes())
			}
			h.runUntil(back.Add(90 * time.Second))
			h.wantPagedOnce("no ping within its interval and grace of the re-add",
				"no ping since 2025-09-10T06:00:00Z, nor since it came back into the config at 2025-09-10T08:00:00Z")
		})
	}
}

// TestHeartbeatReAddedSoonKeepsItsExpiry: a heartbeat out of the config
// for less than its interval and grace when its expiry passed (a reload
// undone, a replica's config lagging a moment) keeps the expiry of its last
// ping: put back, the miss is paged at once, not an interval and grace
// later. On both stores.
func TestHeartbeatReAddedSoonKeepsItsExpiry(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(hbConfig))
			p := h.pingThenRemoveWatchdog()
			h.runUntil(p.ExpiresAt.Add(5 * time.Second)) // claimed at its expiry, by a replica without it
			h.reloadArmed(hbConfig)
			h.runUntil(p.ExpiresAt.Add(10 * time.Second))
			h.wantPagedOnce("put back 5s after its expiry, 5s later", "no ping since 2025-09-10T06:00:00Z (")
		})
	}
}

// TestHeartbeatWatchedAgainByAReplicaThatHasIt: a job handled only by a
// replica whose config lacks the heartbeat for longer than its interval
// and grace, then claimed by one that has it without arming it first (it
// was away, and did not reload), is watched again from that claim, not
// paged at once. On both stores.
func TestHeartbeatWatchedAgainByAReplicaThatHasIt(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := mk(t)
			a, b := replicaPair(t, st, hbConfig)
			a.ping("watchdog", amKey, 200)
			b.runUntil(fixedNow.Add(2 * time.Hour))
			claim := fixedNow.Add(2*time.Hour + heartbeat.RearmEvery)
			a.step(claim)
			if incs := a.list(""); len(incs) != 0 {
				t.Fatalf("claimed after 2h unknown to the replica that claimed it: incidents %+v; want none", incs)
			}
			j, err := st.GetJob(ctx, heartbeat.JobKind, "api/watchdog")
			if err != nil || !j.Due.Equal(claim.Add(90*time.Second)) || strings.Contains(string(j.Data), "unknown") {
				t.Fatalf("after the claim: %v %+v; want it watched from the claim", err, j)
			}
			a.runUntil(claim.Add(90 * time.Second))
			a.wantPagedOnce("no ping within its interval and grace of the claim", "Heartbeat watchdog missed")
		})
	}
}

// TestHeartbeatRecheckOfAStaleJob: the recheck of a shortened interval,
// claimed by a replica that has the heartbeat after the heartbeat's job was
// handled only by one without it for longer than the interval and grace,
// ends without paging: the job itself watches the heartbeat again from its
// next claim.
func TestHeartbeatRecheckOfAStaleJob(t *testing.T) {
	ctx := context.Background()
	st := boltStore(t)
	hourly := strings.Replace(hbConfig, "{name: nightly, interval: 1d}", "{name: nightly, interval: 1h}", 1)
	a, b := replicaPair(t, st, hourly)
	a.ping("nightly", amKey, 200)
	a.reloadArmed(strings.Replace(hbConfig, "{name: nightly, interval: 1d}", "{name: nightly, interval: 10m}", 1))
	later := fixedNow.Add(3 * time.Hour) // the job unknown since its expiry, 2h ago
	b.runUntil(later)
	rj, err := st.GetJob(ctx, heartbeat.JobKind, "api/nightly#recheck")
	if err != nil {
		t.Fatalf("the recheck: %v", err)
	}
	a.clock.Set(later)
	next, err := a.d.Heartbeats().Expire(ctx, rj)
	if err != nil || next != nil {
		t.Fatalf("recheck of a job unknown for 2h: next %+v, %v; want it ended", next, err)
	}
	if incs := a.list(""); len(incs) != 0 {
		t.Fatalf("recheck of a job unknown for 2h: incidents %+v; want none", incs)
	}
}

// replicaPair is two replicas on st: a, with cfg, armed, and b, whose
// config has no heartbeats.
func replicaPair(t *testing.T, st store.Store, cfg string) (a, b *harness) {
	t.Helper()
	a = newHarness(t, withStore(st), withConfig(cfg))
	b = newHarness(t, withStore(st), withConfig(ogConfig))
	if err := a.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// TestHeartbeatResolvedByHandComesBack: an incident resolved by hand while
// the heartbeat is still silent is raised again at its next expiry.
func TestHeartbeatResolvedByHandComesBack(t *testing.T) {
	h := newHarness(t, withConfig(hbConfig))
	h.ping("watchdog", amKey, 200)
	h.runUntil(fixedNow.Add(90 * time.Second))
	id := h.list("")[0].ID
	if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", ""); r.code != 200 {
		t.Fatal(r.body)
	}
	h.runUntil(fixedNow.Add(3 * time.Minute))
	if incs := h.list("?status=triggered"); len(incs) != 1 || incs[0].ID == id {
		t.Fatalf("still silent after a resolve by hand: %+v, want a new incident", incs)
	}
}

// TestHeartbeatRemovedFromConfig: a heartbeat taken out of the config at a
// reload is no longer watched: its expiry raises nothing.
func TestHeartbeatRemovedFromConfig(t *testing.T) {
	h := newHarness(t, withConfig(hbConfig))
	h.ping("watchdog", amKey, 200)
	if err := h.reload(strings.Replace(hbConfig, "      - {name: watchdog, interval: 1m, grace: 30s, labels: {team: sre}}\n", "", 1)); err != nil {
		t.Fatal(err)
	}
	h.runUntil(fixedNow.Add(5 * time.Minute))
	if n := len(h.list("")); n != 0 {
		t.Fatalf("%d incidents for a heartbeat no longer in the config", n)
	}
}

// TestHeartbeatPingAuth: a ping needs one of the service's integration
// keys (any of them) as bearer; Opsgenie's ping path takes its GenieKey.
// An Alertmanager webhook notification as the body is fine.
func TestHeartbeatPingAuth(t *testing.T) {
	h := newHarness(t, withConfig(hbConfig))
	for _, key := range []string{amKey, pdKey, ogKey} {
		h.ping("watchdog", key, 200)
	}
	h.ping("watchdog", "", 401)
	h.ping("watchdog", apiToken, 401)
	h.ping("watchdog", "batch-key-0000000000000000000000", 404) // batch has no such heartbeat
	h.ping("nope", amKey, 404)
	if r := h.do("GET", "/api/v1/heartbeats/watchdog/ping", "", "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("GET ping: %d %s", r.code, r.body)
	}
	body := amPayload("firing", `{}:{alertname="Watchdog"}`, map[string]string{"alertname": "Watchdog", "severity": "none"})
	if r := h.do("POST", "/api/v1/heartbeats/watchdog/ping", body, "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("ping with Alertmanager's notification: %d %s", r.code, r.body)
	}
	for _, m := range []string{"GET", "POST", "PUT"} {
		if a := h.og(m, "/v2/heartbeats/watchdog/ping", "", 202); a.Result != "PONG - Heartbeat received" {
			t.Fatalf("Opsgenie ping: %+v", a)
		}
	}
	if got := metric(t, h.reg, "pagerd_heartbeat_pings_total", "service", "api", "heartbeat", "watchdog"); got != 8 {
		t.Errorf("pagerd_heartbeat_pings_total = %v, want 8", got)
	}
}

// TestHeartbeatPingsNotLimitedByAlerts: a service's heartbeat pings, on
// Opsgenie's path as on pagerd's, are rate limited apart from its alerts:
// once a burst of Opsgenie alerts has used up the alerts' limit (429),
// the pings still get through, else a false HeartbeatMissing follows.
func TestHeartbeatPingsNotLimitedByAlerts(t *testing.T) {
	h := newHarness(t, withConfig(hbConfig)) // server.rate_limit: 1/s, burst 30
	var last response
	for i := 0; i < 40 && last.code != 429; i++ {
		last = h.do("POST", "/v2/alerts", `{"message":"m","alias":"flood"}`, "Authorization", "GenieKey "+ogKey)
	}
	if last.code != 429 {
		t.Fatalf("40 Opsgenie alerts did not reach the rate limit: %d %s", last.code, last.body)
	}
	if a := h.og("POST", "/v2/heartbeats/watchdog/ping", "", 202); a.Result != "PONG - Heartbeat received" {
		t.Fatalf("Opsgenie ping after a burst of alerts: %+v", a)
	}
	h.ping("watchdog", ogKey, 200)
}

// TestHeartbeatIntervalShortenedAtReload: a daily heartbeat pinged, then
// its interval cut to 10m at a reload, and its sender dead since the last
// ping: the miss comes 10m after the reload at the latest, not a day after
// the last ping. A ping after the reload keeps it quiet, and the shortened
// interval counts from it. On both stores.
func TestHeartbeatIntervalShortenedAtReload(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(hbConfig))
			if err := h.d.Arm(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.ping("nightly", amKey, 200)
			h.ping("watchdog", amKey, 200)
			h.clock.Set(fixedNow.Add(time.Hour))
			short := strings.Replace(strings.Replace(hbConfig, "{name: nightly, interval: 1d}", "{name: nightly, interval: 10m}", 1),
				"      - {name: watchdog, interval: 1m, grace: 30s, labels: {team: sre}}\n", "", 1)
			if err := h.reload(short); err != nil {
				t.Fatal(err)
			}
			if err := h.d.Arm(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.runUntil(fixedNow.Add(time.Hour + 10*time.Minute - time.Second))
			if n := len(h.list("")); n != 0 {
				t.Fatalf("%d incidents before the shortened interval ran out from the reload", n)
			}
			h.runUntil(fixedNow.Add(time.Hour + 10*time.Minute))
			incs := h.list("")
			if len(incs) != 1 || !strings.Contains(incs[0].Summary, "Heartbeat nightly missed") {
				t.Fatalf("incidents 10m after the reload: %+v; want nightly missed", incs)
			}
			// It comes back, and keeps quiet while pinged every 10m.
			if a := h.ping("nightly", amKey, 200); a.Resolved != incs[0].ID {
				t.Fatalf("ping resolved %q", a.Resolved)
			}
			for i := 1; i <= 6; i++ {
				h.runUntil(fixedNow.Add(time.Hour + time.Duration(10+9*i)*time.Minute))
				h.ping("nightly", amKey, 200)
			}
			if n := len(h.list("?status=triggered")); n != 0 {
				t.Fatalf("%d incidents open while pinged within the interval", n)
			}
		})
	}
}

// TestHeartbeatRearmedAfterTheStoreLostItsJob: a store that loses its data
// while pagerd runs (Redis restarted without persistence) loses the
// heartbeats' jobs; the periodic re-arm puts a missing one back, so a
// heartbeat whose sender is dead is still missed and paged, an interval
// and grace after the re-arm at the latest, without waiting for a restart
// or a reload. A job still there is not moved.
func TestHeartbeatRearmedAfterTheStoreLostItsJob(t *testing.T) {
	h := newHarness(t, withConfig(hbConfig))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.d.rearmJobs(ctx)
	h.clock.Set(fixedNow.Add(10 * time.Second))
	h.ping("watchdog", amKey, 200)
	nightly, err := h.store.GetJob(ctx, heartbeat.JobKind, "api/nightly")
	if err != nil {
		t.Fatal(err)
	}
	// The data is lost: the watchdog's job is gone.
	if err := h.store.DeleteJob(ctx, heartbeat.JobKind, "api/watchdog"); err != nil {
		t.Fatal(err)
	}
	rearm := fixedNow.Add(heartbeat.RearmEvery + time.Second)
	h.clock.Set(rearm)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := h.store.GetJob(ctx, heartbeat.JobKind, "api/watchdog"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watchdog's job is not back %s after the data loss", heartbeat.RearmEvery+time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if j, err := h.store.GetJob(ctx, heartbeat.JobKind, "api/nightly"); err != nil || !j.Due.Equal(nightly.Due) {
		t.Fatalf("the nightly job was moved by the re-arm: %v, %v; was due %v", j, err, nightly.Due)
	}
	h.runUntil(rearm.Add(90 * time.Second))
	incs := h.list("")
	if len(incs) != 1 || !strings.Contains(incs[0].Summary, "Heartbeat watchdog missed") || h.pushes() != 1 {
		t.Fatalf("after the re-arm and an interval and grace: incidents %+v, %d pushes; want the watchdog's miss paged", incs, h.pushes())
	}
}

// TestHeartbeatRearmedWhenTheStoreComesBack: when the store answers again
// after an outage (in which it may have lost its data), the heartbeats are
// re-armed at once, without waiting for the periodic re-arm.
func TestHeartbeatRearmedWhenTheStoreComesBack(t *testing.T) {
	rs := &refusingAll{Store: boltStore(t)}
	h := newHarness(t, withStore(rs), withConfig(hbConfig), probing(20*time.Millisecond))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.d.rearmJobs(ctx)
	waitReady := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for h.do("GET", "/-/ready", "").code != want {
			if time.Now().After(deadline) {
				t.Fatalf("/-/ready not %d", want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitReady(200)
	if err := h.store.DeleteJob(ctx, heartbeat.JobKind, "api/watchdog"); err != nil {
		t.Fatal(err)
	}
	rs.all.Store(true) // the outage, in which the data is lost
	waitReady(503)
	rs.all.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := h.store.GetJob(ctx, heartbeat.JobKind, "api/watchdog"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watchdog's job is not back after the store came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pingWhileRearming is a store on which a ping of the watchdog is stored
// just after a re-arm has read its job as missing, and before the re-arm
// writes: the interleaving of two replicas (or of the HTTP path and the
// re-arm) that a read then a write leaves open.
type pingWhileRearming struct {
	store.Store
	armed atomic.Bool
	ping  store.Job
}

func (p *pingWhileRearming) GetJob(ctx context.Context, kind, key string) (*store.Job, error) {
	j, err := p.Store.GetJob(ctx, kind, key)
	if errors.Is(err, store.ErrNotFound) && kind == p.ping.Kind && key == p.ping.Key && p.armed.CompareAndSwap(true, false) {
		if perr := p.Store.PutJob(ctx, p.ping); perr != nil {
			return nil, perr
		}
	}
	return j, err
}

// TestHeartbeatRearmKeepsAPingStoredMeanwhile: a re-arm that found the
// watchdog's job missing does not overwrite a ping stored since: the
// ping's expiry stands (before, the re-arm's put replaced it, and the
// heartbeat was watched from the re-arm, not from its last ping). On both
// stores.
func TestHeartbeatRearmKeepsAPingStoredMeanwhile(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ps := &pingWhileRearming{Store: mk(t)}
			h := newHarness(t, withStore(ps), withConfig(hbConfig))
			ctx := context.Background()
			if err := h.d.Arm(ctx); err != nil {
				t.Fatal(err)
			}
			if err := ps.DeleteJob(ctx, heartbeat.JobKind, "api/watchdog"); err != nil {
				t.Fatal(err)
			}
			pinged := fixedNow.Add(heartbeat.RearmEvery)
			ps.ping = store.Job{Kind: heartbeat.JobKind, Key: "api/watchdog", Due: pinged.Add(90 * time.Second),
				Data: []byte(`{"service":"api","name":"watchdog","last_ping":"` + pinged.Format(time.RFC3339) + `"}`)}
			ps.armed.Store(true)
			h.clock.Set(pinged)
			if did, err := h.d.heartbeats.Rearm(ctx, h.d.cfg.Load(), true); !did || err != nil {
				t.Fatalf("Rearm = %v, %v", did, err)
			}
			if ps.armed.Load() {
				t.Fatal("the re-arm did not read the job as missing")
			}
			j, err := ps.GetJob(ctx, heartbeat.JobKind, "api/watchdog")
			if err != nil || !j.Due.Equal(ps.ping.Due) || string(j.Data) != string(ps.ping.Data) {
				t.Fatalf("after the re-arm the job is %+v, %v; want the ping's %s", j, err, ps.ping.Data)
			}
		})
	}
}

// heldFinds holds FindByDedup (a ping's look for its heartbeat's open
// incident) while hold is set, as a busy store does: each held call's
// context goes to entered, and it goes on when the test sends on release
// or fails when its context ends.
type heldFinds struct {
	store.Store
	hold      atomic.Bool
	unbounded atomic.Bool // a look came without a deadline
	entered   chan context.Context
	release   chan struct{}
}

func (s *heldFinds) FindByDedup(ctx context.Context, service, key string) (*store.Incident, error) {
	if _, ok := ctx.Deadline(); !ok {
		// A ping's store wait must stay bounded (storeBudget): without a
		// deadline a stalled store would hang every ping, with no 503.
		s.unbounded.Store(true)
	}
	if s.hold.Load() {
		s.entered <- ctx
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", store.ErrUnavailable, ctx.Err())
		}
	}
	return s.Store.FindByDedup(ctx, service, key)
}

// TestHeartbeatPingSenderHangingUpStillResolves: a heartbeat missed and
// paged comes back, and its ping's sender hangs up (curl -m 2, a cron
// wrapper's timeout) while the store is slow, after the new expiry is
// stored and before the incident is resolved. The resolve goes on, on
// pagerd's ping path and Opsgenie's: cancelled with the hang-up, it left
// the incident escalating until the next ping (a day later for a daily
// heartbeat) though the heartbeat is alive. On both stores.
func TestHeartbeatPingSenderHangingUpStillResolves(t *testing.T) {
	for name, mk := range stores(t) {
		for _, route := range []struct{ name, method, path, auth string }{
			{"pagerd", "POST", "/api/v1/heartbeats/watchdog/ping", "Bearer " + amKey},
			{"opsgenie", "GET", "/v2/heartbeats/watchdog/ping", "GenieKey " + ogKey},
		} {
			t.Run(name+"/"+route.name, func(t *testing.T) {
				st := &heldFinds{Store: mk(t), entered: make(chan context.Context), release: make(chan struct{})}
				pings := make(chan context.Context, 1)
				h := newHarness(t, withStore(st), withConfig(hbConfig),
					requestContexts(pings, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/ping") }))
				if err := h.d.Arm(context.Background()); err != nil {
					t.Fatal(err)
				}
				h.runUntil(fixedNow.Add(90 * time.Second)) // never pinged: missed
				incs := h.list("?status=triggered")
				if len(incs) != 1 || !strings.Contains(incs[0].Summary, "watchdog") {
					t.Fatalf("the missed watchdog was not paged: %+v", incs)
				}
				st.hold.Store(true)
				find := hangUpWhileWriting(t, func(ctx context.Context) error {
					req, err := http.NewRequestWithContext(ctx, route.method, h.url+route.path, nil)
					if err != nil {
						return err
					}
					req.Header.Set("Authorization", route.auth)
					resp, err := http.DefaultClient.Do(req)
					if err == nil {
						resp.Body.Close()
					}
					return err
				}, pings, st.entered)
				if err := find.Err(); err != nil {
					t.Fatalf("the sender hanging up cancelled the ping's resolve: %v", err)
				}
				st.hold.Store(false)
				st.release <- struct{}{}
				waitUntil(t, 5*time.Second, "the ping's incident resolved", func() bool {
					return h.incident(incs[0].ID).Status == policy.StatusResolved
				})
				if st.unbounded.Load() {
					t.Fatal("a ping looked in the store with no deadline: a stalled store would hang it, with no 503")
				}
			})
		}
	}
}

// hbOverridesConfig is hbConfig with user cat, who can take ann's shift.
var hbOverridesConfig = strings.Replace(hbConfig, "users:\n",
	"users:\n  - {id: cat, name: Cat, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}\n", 1)

// TestHeartbeatMissPagesWhoeverAnOverridePutOnCall: cat takes ann's
// primary shift through the overrides API; a missed heartbeat pages cat,
// as an alert would. (Before: the monitor triggered with the config file
// alone, without the run-time overrides, and paged ann, who was off.)
func TestHeartbeatMissPagesWhoeverAnOverridePutOnCall(t *testing.T) {
	h := newHarness(t, withConfig(hbOverridesConfig))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","duration":"4h","reason":"ann is on a plane"}`)
	if r.code != 201 {
		t.Fatalf("override: %d %s", r.code, r.body)
	}
	h.ping("watchdog", amKey, 200)
	h.runUntil(fixedNow.Add(91 * time.Second))
	incs := h.list("")
	if len(incs) != 1 {
		t.Fatalf("incidents %+v", incs)
	}
	var who []string
	for _, m := range h.rec.msgs {
		if m.Incident == incs[0].ID {
			who = append(who, m.User+" "+m.Channel)
		}
	}
	if len(who) == 0 || who[0] != "cat push" {
		t.Fatalf("the missed heartbeat paged %q; want cat (on call by the override), not ann", who)
	}
}

// TestHeartbeatAfterARestoreIsWatchedAgainFromTheStart: a heartbeat pinged
// on time until a backup is taken; the store is restored (as after a stop
// for an upgrade) an hour later. While no pagerd ran nobody could ping it,
// so it is watched again from the start, and missed only if no ping comes
// within its interval and grace from then. (Before: paged "missed" the
// moment the restored pagerd started, for every heartbeat.)
func TestHeartbeatAfterARestoreIsWatchedAgainFromTheStart(t *testing.T) {
	dir1 := t.TempDir()
	s1, err := boltstore.Open(dir1)
	if err != nil {
		t.Fatal(err)
	}
	h1 := newHarness(t, withStore(s1), withConfig(hbConfig))
	if err := h1.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h1.clock.Set(fixedNow.Add(10 * time.Second))
	h1.ping("watchdog", amKey, 200)
	var buf bytes.Buffer
	if _, err := s1.Backup(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	_ = h1.d.Close()
	s1.Close()

	dir2 := filepath.Join(t.TempDir(), "restored")
	if _, err := boltstore.Restore(&buf, dir2); err != nil {
		t.Fatal(err)
	}
	s2, err := boltstore.Open(dir2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	start := fixedNow.Add(time.Hour)
	h2 := newHarness(t, withStore(s2), withConfig(hbConfig), startAt(start))
	if err := h2.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h2.step(start)
	if incs := h2.list(""); len(incs) != 0 {
		t.Fatalf("the restored pagerd paged at its start, before any ping could reach it: %d incident(s): %q", len(incs), incs[0].Summary)
	}
	// No ping since: missed one interval and grace (1m30s) after the start.
	h2.runUntil(start.Add(80 * time.Second))
	if n := len(h2.list("")); n != 0 {
		t.Fatalf("%d incidents before the heartbeat's interval and grace from the start", n)
	}
	h2.runUntil(start.Add(100 * time.Second))
	if incs := h2.list(""); len(incs) != 1 || !strings.Contains(incs[0].Summary, "watchdog missed") {
		t.Fatalf("a heartbeat not pinged for its interval and grace after the start: %+v", incs)
	}
}

// TestHeartbeatMissAfterABriefStopIsNotPostponedAnInterval: the nightly
// job pinged once and died. Its expiry falls in a 3-minute stop of pagerd
// (an upgrade). Pings were possible for the whole day before the stop, and
// none came: the heartbeat is paged soon after the start (as long as pagerd
// was known to be away), not one more day (interval and grace) later.
func TestHeartbeatMissAfterABriefStopIsNotPostponedAnInterval(t *testing.T) {
	h := newHarness(t, withConfig(hbConfig))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := h.ping("nightly", amKey, 200)
	h.runUntil(p.ExpiresAt.Add(-time.Minute)) // running, no ping: nothing yet
	for _, inc := range h.list("") {
		if strings.Contains(inc.Summary, "nightly") {
			t.Fatalf("nightly paged before its expiry: %s", inc.Summary)
		}
	}
	// Stopped from 1m before the expiry to 2m after it: no dispatcher.
	h.step(p.ExpiresAt.Add(2 * time.Minute))
	h.runUntil(p.ExpiresAt.Add(10 * time.Minute))
	missed := false
	for _, inc := range h.list("") {
		missed = missed || strings.Contains(inc.Summary, "nightly")
	}
	if !missed {
		t.Fatalf("the nightly heartbeat, last pinged %s (a day before), is not paged 8m after pagerd came back from a 3m stop; its next check is a whole interval later", p.ExpiresAt.Sub(fixedNow))
	}
}

// TestReloadWaitsForAHeartbeatMissBeingRaised: a heartbeat's miss is
// being stored when a reload renames its service: the reload waits for it,
// then finds the incident open and is refused, and the incident pages, as
// for an alert being taken in. (Before: the reload's check ran while the
// miss was being stored, took the config, and the incident, of a service
// no longer in it, paged nobody.)
func TestReloadWaitsForAHeartbeatMissBeingRaised(t *testing.T) {
	g := &gatedTrigger{Store: boltStore(t), entered: make(chan struct{}), release: make(chan struct{})}
	h := newHarness(t, withStore(g), withConfig(hbConfig))
	release := sync.OnceFunc(func() { close(g.release) })
	t.Cleanup(release)
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.ping("watchdog", amKey, 200)
	due := fixedNow.Add(91 * time.Second)
	stepped := make(chan struct{})
	go func() { defer close(stepped); h.step(due) }()
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the miss never reached the store")
	}
	reloaded := make(chan error, 1)
	go func() { reloaded <- h.reload(strings.Replace(hbConfig, "  - name: api\n", "  - name: api-v2\n", 1)) }()
	h.waitForAReloadWaiting("the miss")
	release()
	<-stepped
	if err := <-reloaded; err == nil || !strings.Contains(err.Error(), "api") {
		t.Fatalf("the reload that renames service api with its heartbeat's incident open: %v, want refused", err)
	}
	h.runUntil(due.Add(time.Minute))
	incs := h.list("")
	if len(incs) != 1 || incs[0].Service != "api" || len(h.rec.lines(fixedNow)) == 0 {
		t.Fatalf("the heartbeat's incident: %+v, pages %q", incs, h.rec.lines(fixedNow))
	}
}

// TestPingThroughAReplicaWhoseConfigLagsIsRetried: a heartbeat added to
// the config is armed by the replica that has it; another, its config
// lagging (a rollout under way, a ConfigMap not yet propagated), takes a
// ping of it. The ping is answered 503, which the sender retries (curl
// --retry, Opsgenie's clients), not 404: the lost ping paged the
// heartbeat missed at its expiry though its sender was alive. A heartbeat
// no replica watches is still 404.
func TestPingThroughAReplicaWhoseConfigLagsIsRetried(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			a, b := replicaPair(t, mk(t), hbConfig)
			b.ping("nope", amKey, 404)
			if r := b.do("POST", "/api/v1/heartbeats/watchdog/ping", "", "Authorization", "Bearer "+amKey); r.code != 503 || !strings.Contains(r.body, "retry") {
				t.Fatalf("a ping of a heartbeat another replica watches: %d %s, want 503", r.code, r.body)
			}
			if og := b.og("GET", "/v2/heartbeats/watchdog/ping", "", 503); !strings.Contains(og.Message, "retry") {
				t.Fatalf("Opsgenie's ping of it: %+v", og)
			}
			b.og("GET", "/v2/heartbeats/nope/ping", "", 404)
			// The retry, through the replica that has it, is taken.
			a.ping("watchdog", amKey, 200)
		})
	}
}

// TestPingOfAHeartbeatRemovedFromEveryConfigIsNotFound: a daily heartbeat
// taken out of the config stays in the store until its expiry comes, a day
// on; a ping of it ten minutes after the reload, when no replica whose
// config has it has armed it or taken a ping of it for longer than a
// rollout takes, is 404, not a 503 that says another replica's config has
// it and has the sender retry, all day, a ping no replica will take.
func TestPingOfAHeartbeatRemovedFromEveryConfigIsNotFound(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(hbConfig))
			h.ping("nightly", amKey, 200)
			if err := h.reload(strings.Replace(hbConfig, "      - {name: nightly, interval: 1d}\n", "", 1)); err != nil {
				t.Fatal(err)
			}
			h.runUntil(fixedNow.Add(10 * time.Minute))
			if r := h.do("POST", "/api/v1/heartbeats/nightly/ping", "", "Authorization", "Bearer "+amKey); r.code != 404 {
				t.Fatalf("a ping of a heartbeat no config has had for 10 minutes: %d %s, want 404", r.code, r.body)
			}
			h.og("GET", "/v2/heartbeats/nightly/ping", "", 404)
		})
	}
}
