package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/amresolve"
	"github.com/pagerd/pagerd/gateway/store"
)

// amGroupPayload is a firing webhook v4 body of receiver pagerd's group
// with groupLabels, one alert with its labels and more, and fingerprint.
func amGroupPayload(groupKey string, groupLabels map[string]string, more map[string]string, fingerprint string) string {
	labels := map[string]string{"severity": "critical"}
	for k, v := range groupLabels {
		labels[k] = v
	}
	for k, v := range more {
		labels[k] = v
	}
	b, _ := json.Marshal(map[string]any{"version": "4", "groupKey": groupKey, "status": "firing", "receiver": "pagerd",
		"groupLabels": groupLabels, "commonLabels": labels, "commonAnnotations": map[string]string{}, "externalURL": "http://am:9093",
		"alerts": []map[string]any{{"status": "firing", "labels": labels, "annotations": map[string]string{},
			"startsAt": "2025-09-10T05:59:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": fingerprint}}})
	return string(b)
}

// TestRegroupSweepResolvesDroppedGroupOnly: the service names its
// Alertmanager (the fake API), and has incidents of groups
// {alertname="X"}, {alertname="Y"}, {alertname="W"} and {alertname="Z"}
// open. Alertmanager's config changes (group_by gains instance), so it
// lists X's alert in a new group {alertname="X", instance="a"}, Y's group
// as it was, W's alert under receiver team-b only, and neither Z's group
// nor its alert (another Alertmanager's). The watch of its config sees
// the change at its next look, one minute on, but resolves nothing while
// Alertmanager has just restarted (with that config) or cannot list its
// groups; then it resolves X's incident, saying why, and leaves Y's open,
// and W's and Z's, whose alerts Alertmanager does not hold for their
// receiver: Z's fires at the other Alertmanager (resolved, it would page
// no more), and W's may be another Alertmanager's sent to team-b there;
// once swept, later looks ask for no groups. Before, X's incident stayed
// open for good, paging. On both stores.
func TestRegroupSweepResolvesDroppedGroupOnly(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) { testRegroupSweep(t, open(t)) })
	}
}

func testRegroupSweep(t *testing.T, st store.Store) {
	am, srv, h := regroupHarness(t, st)
	x := postGroup(t, h, `{}:{alertname="X"}`, "X")
	y := postGroup(t, h, `{}:{alertname="Y"}`, "Y")
	w := postGroup(t, h, `{}:{alertname="W"}`, "W")
	z := postGroup(t, h, `{}:{alertname="Z"}`, "Z")
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := h.clock.Now()
	h.step(start) // the watch's first look: the config as it is
	statuses := func() (string, string) { return string(h.incident(x).Status), string(h.incident(y).Status) }

	// Restarted a minute ago with group_by [alertname, instance].
	am.mu.Lock()
	am.config = "route:\n  receiver: pagerd\n  group_by: [alertname, instance]\n"
	am.groups = []amresolve.AlertGroup{{Receiver: "pagerd", Labels: map[string]string{"alertname": "Y"}, Fingerprints: []string{fp("Y")}},
		{Receiver: "pagerd", Labels: map[string]string{"alertname": "X", "instance": "a"}, Fingerprints: []string{fp("X")}},
		{Receiver: "team-b", Labels: map[string]string{"alertname": "W"}, Fingerprints: []string{fp("W")}}}
	am.mu.Unlock()
	am.startedAt(start.Add(-time.Minute))
	h.step(start.Add(amresolve.ConfigEvery))
	if sx, sy := statuses(); sx != "triggered" || sy != "triggered" {
		t.Fatalf("an Alertmanager just restarted resolved something: X %s, Y %s", sx, sy)
	}
	if !strings.Contains(h.logs.String(), "which groups it dropped is not known yet") {
		t.Fatalf("the sweep put off is not logged:\n%s", h.logs.String())
	}

	// Long running, but its groups cannot be listed.
	am.startedAt(start.Add(-time.Hour))
	am.mu.Lock()
	am.groupsDown = true
	am.mu.Unlock()
	h.step(start.Add(2 * amresolve.ConfigEvery))
	if sx, sy := statuses(); sx != "triggered" || sy != "triggered" {
		t.Fatalf("an Alertmanager that could not list its groups had something resolved: X %s, Y %s", sx, sy)
	}

	am.mu.Lock()
	am.groupsDown = false
	am.mu.Unlock()
	h.step(start.Add(3 * amresolve.ConfigEvery))
	vx, vy, vw, vz := h.incident(x), h.incident(y), h.incident(w), h.incident(z)
	if vx.Status != "resolved" || vx.ResolvedBy != "alertmanager" || vy.Status != "triggered" || vw.Status != "triggered" || vz.Status != "triggered" {
		t.Fatalf("after the sweep: X %s by %q, Y %s, W %s, Z %s; want X resolved by alertmanager, Y, W and Z triggered",
			vx.Status, vx.ResolvedBy, vy.Status, vw.Status, vz.Status)
	}
	var gone []string
	for _, e := range vx.Timeline {
		if e.Type == amresolve.EntryGroupGone {
			gone = append(gone, e.Detail)
		}
	}
	changed := start.Add(amresolve.ConfigEvery).UTC().Format(time.RFC3339)
	if want := "Alertmanager at " + srv.URL + " changed its config at " + changed + ` and has no group {alertname="X"} for receiver "pagerd" any more ` +
		`(a route or group_by change): resolved; alerts of it still firing page in their new group's incident`; len(gone) != 1 || gone[0] != want {
		t.Fatalf("%s entries %q, want [%q]", amresolve.EntryGroupGone, gone, want)
	}
	if got := metric(t, h.reg, "pagerd_alertmanager_groups_gone_total", "service", "api"); got != 1 {
		t.Errorf("pagerd_alertmanager_groups_gone_total %v, want 1", got)
	}
	am.mu.Lock()
	asked := append([]string(nil), am.groupQueries...)
	am.mu.Unlock()
	for _, q := range asked {
		if q != "" {
			t.Errorf("groups asked for %q, want every receiver's", q)
		}
	}

	// Swept: the next looks ask for no groups, and leave Y open.
	h.step(start.Add(4 * amresolve.ConfigEvery))
	h.step(start.Add(5 * amresolve.ConfigEvery))
	am.mu.Lock()
	again := len(am.groupQueries) - len(asked)
	am.mu.Unlock()
	if again != 0 || h.incident(y).Status != "triggered" {
		t.Fatalf("after the sweep: groups asked %d more times, Y %s; want none, triggered", again, h.incident(y).Status)
	}
}

// regroupHarness is a daemon on st whose service names the fake
// Alertmanager API am, served at srv, as its alertmanager_url.
func regroupHarness(t *testing.T, st store.Store) (am *fakeAlertmanagerAPI, srv *httptest.Server, h *harness) {
	t.Helper()
	am = &fakeAlertmanagerAPI{}
	srv = httptest.NewServer(am)
	t.Cleanup(srv.Close)
	cfg := strings.Replace(testConfig, "    targets:\n      P0: {acknowledge: 5m}\n",
		"    targets:\n      P0: {acknowledge: 5m}\n    alertmanager_url: "+srv.URL+"\n", 1)
	return am, srv, newHarness(t, withConfig(cfg), withStore(st))
}

// postGroup sends the firing notification of group groupKey, whose one
// alert is named alertname (amGroupPayload), and returns its incident.
func postGroup(t *testing.T, h *harness, groupKey, alertname string) string {
	t.Helper()
	r := h.do("POST", "/api/v1/alertmanager", amGroupPayload(groupKey, map[string]string{"alertname": alertname}, map[string]string{"instance": "a"}, fp(alertname)),
		"Authorization", "Bearer "+amKey)
	if r.code != 200 {
		t.Fatalf("webhook: %d %s", r.code, r.body)
	}
	var res struct{ Incidents []string }
	r.json(t, &res)
	return res.Incidents[0]
}

// fp is a fingerprint of the test's alert named alertname, as
// Alertmanager writes one: 16 hex digits.
func fp(alertname string) string { return fmt.Sprintf("%016x", alertname) }

// TestRegroupWatchOutlivesAReplicaWhoseConfigLacksIt: a rolling change of
// pagerd's config gives the service its alertmanager_url. Alertmanager,
// restarted moments ago with a config that moved X's alert to a new group,
// is watched by the newer replica, which sees the change and puts the
// sweep off (Alertmanager just started). A replica still on the older
// config, which names no Alertmanager, claims the watch next. It left
// the watch to the newer replica, as a heartbeat's job is left; before,
// it ended the watch, with the change it had yet to sweep: X's incident
// stayed open, its ladder paging, while its alert paged in its new
// group's incident, and nothing watched Alertmanager's config until the
// newer replica's next reload or hourly re-arm, whose first look only
// records it. On both stores.
func TestRegroupWatchOutlivesAReplicaWhoseConfigLacksIt(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) { testRegroupWatchOutlivesOlderReplica(t, open(t)) })
	}
}

func testRegroupWatchOutlivesOlderReplica(t *testing.T, st store.Store) {
	am, _, h := regroupHarness(t, st)
	start := h.clock.Now()
	older := newHarness(t, withConfig(testConfig), withStore(st), startAt(start))
	x := postGroup(t, h, `{}:{alertname="X"}`, "X")
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.step(start) // the watch's first look: the config as it is

	// Restarted with group_by [alertname, instance]: X's alert is in a
	// new group.
	am.mu.Lock()
	am.config = "route:\n  receiver: pagerd\n  group_by: [alertname, instance]\n"
	am.groups = []amresolve.AlertGroup{{Receiver: "pagerd", Labels: map[string]string{"alertname": "X", "instance": "a"}, Fingerprints: []string{fp("X")}}}
	am.mu.Unlock()
	am.startedAt(start)
	h.step(start.Add(amresolve.ConfigEvery))
	if s := h.incident(x).Status; s != "triggered" {
		t.Fatalf("X %s while Alertmanager had just started; want triggered", s)
	}

	// The older replica claims the watch.
	older.step(start.Add(2 * amresolve.ConfigEvery))
	if !strings.Contains(older.logs.String(), "left for a replica whose config names it") {
		t.Errorf("the older replica does not say it left the watch:\n%s", older.logs.String())
	}

	// The newer replica's next looks, once Alertmanager has run
	// StartMargin, sweep the change.
	for i := 3; i <= 8; i++ {
		h.step(start.Add(time.Duration(i) * amresolve.ConfigEvery))
	}
	if v := h.incident(x); v.Status != "resolved" || v.ResolvedBy != "alertmanager" {
		t.Fatalf("X %s by %q after a replica on an older config claimed the watch; want resolved by alertmanager:\n%s", v.Status, v.ResolvedBy, h.logs.String())
	}
}

// TestRegroupWatchNoReplicaNamesEnds: a watch that only replicas whose
// config names no such Alertmanager claim is kept for ForgetWatchAfter,
// then ends.
func TestRegroupWatchNoReplicaNamesEnds(t *testing.T) {
	st := boltStore(t)
	_, srv, h := regroupHarness(t, st)
	start := h.clock.Now()
	older := newHarness(t, withConfig(testConfig), withStore(st), startAt(start))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.step(start)
	sum := sha256.Sum256([]byte(srv.URL))
	key := hex.EncodeToString(sum[:12])
	stored := func() bool {
		t.Helper()
		_, err := st.GetJob(context.Background(), amresolve.JobKindConfig, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	if !stored() {
		t.Fatal("the watch is not stored")
	}
	older.step(start.Add(amresolve.ConfigEvery))
	older.step(start.Add(amresolve.ConfigEvery + amresolve.ForgetWatchAfter - time.Minute))
	if !stored() {
		t.Fatalf("the watch ended before %v", amresolve.ForgetWatchAfter)
	}
	older.step(start.Add(amresolve.ConfigEvery + amresolve.ForgetWatchAfter))
	if stored() {
		t.Fatalf("the watch no replica's config names is kept after %v", amresolve.ForgetWatchAfter)
	}
}
