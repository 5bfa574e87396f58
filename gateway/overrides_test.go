package gateway

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/overrides"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
)

// overridesConfig is testConfig with a viewer token and a third person.
var overridesConfig = strings.Replace(strings.Replace(testConfig,
	"role: admin}", "role: admin}\n    - {name: dash, token: viewer-token-0123456789, role: viewer}", 1),
	"users:\n", "users:\n  - {id: cat, name: Cat, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}\n", 1)

type onCallResp struct {
	OnCall []struct {
		Schedule, Tier, User, Name, Reason string
		Override                           bool
		OverrideID                         string `json:"override_id"`
	} `json:"oncall"`
}

func (h *harness) primary() (user string, override bool, id string) {
	h.t.Helper()
	r := h.api("GET", "/api/v1/oncall?schedule=s", "")
	if r.code != 200 {
		h.t.Fatalf("oncall: %d %s", r.code, r.body)
	}
	var oc onCallResp
	r.json(h.t, &oc)
	for _, e := range oc.OnCall {
		if e.Tier == "primary" {
			return e.User, e.Override, e.OverrideID
		}
	}
	h.t.Fatal("no primary")
	return "", false, ""
}

// The overrides API: made, listed, refused when they overlap (naming the
// one in the way), shown by /oncall, paged from, named in the incident's
// timeline, deleted; viewers read, responders change.
func TestOverridesAPI(t *testing.T) {
	h := newHarness(t, withConfig(overridesConfig))
	if u, ov, _ := h.primary(); u != "ann" || ov {
		t.Fatalf("before: %s %v", u, ov)
	}
	// Take the shift now, for the next 4 hours: one call.
	r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","duration":"4h","reason":"ann is on a plane"}`)
	if r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	var made struct {
		ID, Tier, User, Name, Reason, Replaces string
		CreatedBy                              string `json:"created_by"`
		Start                                  time.Time
	}
	r.json(t, &made)
	if made.ID == "" || made.User != "cat" || made.Name != "Cat" || made.Replaces != "ann" || made.CreatedBy != "api:ops" || !made.Start.Equal(fixedNow) {
		t.Fatalf("created %s", r.body)
	}
	if u, ov, id := h.primary(); u != "cat" || !ov || id != made.ID {
		t.Fatalf("oncall after: %s %v %s", u, ov, id)
	}

	// Overlapping the same tier: 409 naming the override in the way.
	r = h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"bob","start":"2025-09-10T08:00:00Z","end":"2025-09-10T12:00:00Z"}`)
	if r.code != 409 || !strings.Contains(r.body, made.ID) {
		t.Fatalf("overlap: %d %s", r.code, r.body)
	}
	for _, bad := range []struct {
		path, body string
		code       int
	}{
		{"/api/v1/schedules/nope/overrides", `{"tier":"primary","user":"cat","duration":"1h"}`, 404},
		{"/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","duration":"1h","extra":1}`, 400},
		{"/api/v1/schedules/s/overrides", `{"tier":"primary","user":"zed","duration":"1h"}`, 400},
		{"/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","start":"2025-09-11T00:00:00Z"}`, 400},
		{"/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","duration":"1h","end":"2025-09-11T00:00:00Z"}`, 400},
	} {
		if r := h.api("POST", bad.path, bad.body); r.code != bad.code {
			t.Errorf("%s %s: %d %s", bad.path, bad.body, r.code, r.body)
		}
	}
	// Viewers read, and may not change.
	if r := h.do("GET", "/api/v1/schedules/s/overrides", "", "Authorization", "Bearer viewer-token-0123456789"); r.code != 200 || !strings.Contains(r.body, made.ID) {
		t.Fatalf("viewer list: %d %s", r.code, r.body)
	}
	if r := h.do("POST", "/api/v1/schedules/s/overrides", `{"tier":"secondary","user":"cat","duration":"1h"}`, "Authorization", "Bearer viewer-token-0123456789"); r.code != 403 {
		t.Fatalf("viewer create: %d %s", r.code, r.body)
	}
	if r := h.do("DELETE", "/api/v1/schedules/s/overrides/"+made.ID, "", "Authorization", "Bearer viewer-token-0123456789"); r.code != 403 {
		t.Fatalf("viewer delete: %d %s", r.code, r.body)
	}
	if r := h.do("GET", "/api/v1/schedules/s/overrides", ""); r.code != 401 {
		t.Fatalf("no token: %d", r.code)
	}

	// An alert now pages cat, and the timeline says why.
	id := fire(h)
	h.step(fixedNow)
	if got := strings.Join(h.rec.lines(fixedNow), "; "); got != "0s L1 cat push" {
		t.Fatalf("pages: %s", got)
	}
	found := false
	for _, e := range h.incident(id).Timeline {
		if e.Type == "override" {
			found = e.User == "cat" && e.Level == 1 && strings.Contains(e.Detail, made.ID) && strings.Contains(e.Detail, "ann is on a plane") &&
				strings.Contains(e.Detail, "instead of ann") && strings.Contains(e.Detail, "api:ops")
		}
	}
	if !found {
		t.Fatalf("no override entry in the timeline: %+v", h.incident(id).Timeline)
	}

	// Deleted: ann holds the tier again.
	if r := h.api("DELETE", "/api/v1/schedules/s/overrides/"+made.ID, ""); r.code != 200 {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	if r := h.api("DELETE", "/api/v1/schedules/s/overrides/"+made.ID, ""); r.code != 404 {
		t.Fatalf("delete again: %d %s", r.code, r.body)
	}
	if u, ov, _ := h.primary(); u != "ann" || ov {
		t.Fatalf("after delete: %s %v", u, ov)
	}
}

// A swap is one call: both shifts change, and the answer carries both.
func TestOverridesAPISwap(t *testing.T) {
	cfg := strings.Replace(overridesConfig, "members: [ann]}", "members: [ann, bob]}", 1)
	h := newHarness(t, withConfig(cfg))
	// Week of Sep 8 2025 is bob's (35 weeks after Jan 6), Sep 15 ann's.
	r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"ann","start":"2025-09-08T00:00:00Z","end":"2025-09-15T00:00:00Z",
		"swap_start":"2025-09-15T00:00:00Z","swap_end":"2025-09-22T00:00:00Z","reason":"swap"}`)
	if r.code != 201 {
		t.Fatalf("swap: %d %s", r.code, r.body)
	}
	var sw struct {
		ID, User, Swap string
		SwapOverride   *struct{ ID, User, Swap string } `json:"swap_override"`
	}
	r.json(t, &sw)
	if sw.User != "ann" || sw.SwapOverride == nil || sw.SwapOverride.User != "bob" || sw.Swap != sw.SwapOverride.ID || sw.SwapOverride.Swap != sw.ID {
		t.Fatalf("swap answer %s", r.body)
	}
	if u, _, _ := h.primary(); u != "ann" {
		t.Fatalf("this week: %s", u)
	}
	r = h.api("GET", "/api/v1/oncall?schedule=s&at=2025-09-16T00:00:00Z", "")
	if !strings.Contains(r.body, `"user":"bob"`) || !strings.Contains(r.body, sw.SwapOverride.ID) {
		t.Fatalf("next week: %s", r.body)
	}
}

// TestOverrideAnswerWarnsWhenNobodyIsWoken: an override that puts on
// call someone whose every contact is via log, in place of someone paged
// through a provider, is made (the config says who may be paged), and
// its answer warns that they are woken by nothing; so does one whose
// ladder reaches them only after a day (check-config's warning on it),
// and a swap whose other half puts them on call. One for a person a
// provider reaches carries no warnings.
func TestOverrideAnswerWarnsWhenNobodyIsWoken(t *testing.T) {
	cfg := strings.NewReplacer(
		"{id: ann, name: Ann, contacts: [{channel: push, via: log}", `{id: ann, name: Ann, contacts: [{channel: push, via: ntfy, address: "https://ntfy.sh/oncall-ann"}`,
		"{id: bob, name: Bob, contacts: [{channel: push, via: log}", `{id: bob, name: Bob, contacts: [{channel: push, via: ntfy, address: "https://ntfy.sh/oncall-bob"}`,
		"{name: secondary, start: 2025-01-06, members: [bob]}", "{name: secondary, start: 2025-01-06, members: [cat, bob]}",
	).Replace(overridesConfig)
	cfg = strings.Replace(cfg, "users:\n", "users:\n  - {id: dee, contacts: [{channel: push, via: ntfy, address: \"https://ntfy.sh/oncall-dee\"}, {channel: sms, via: log}],\n"+
		"     notification_rules: {high: [{after: 0s, channel: sms}, {after: 1d, channel: push}]}}\n", 1)
	h := newHarness(t, withConfig(cfg))
	for _, tc := range []struct {
		name, body string
		want       []string // words of the one warning; nil: none
	}{
		{name: "log-only in place of ntfy", body: `{"tier":"primary","user":"cat","duration":"4h"}`,
			want: []string{"cat's every contact is via log", "while ann, whom they replace on primary, is paged through ntfy", "cat is woken by nothing"}},
		{name: "a ladder that reaches them after a day", body: `{"tier":"primary","user":"dee","start":"2025-09-10T10:00:00Z","end":"2025-09-10T12:00:00Z"}`,
			want: []string{"users[dee].notification_rules.high: the first step that reaches them (push at 1d)"}},
		{name: "a swap whose other half puts cat on call", body: `{"tier":"secondary","user":"bob","start":"2025-09-15T00:00:00Z","end":"2025-09-22T00:00:00Z",` +
			`"swap_start":"2025-09-08T00:00:00Z","swap_end":"2025-09-15T00:00:00Z"}`,
			want: []string{"cat's every contact is via log", "while bob, whom they replace on secondary, is paged through ntfy"}},
		{name: "a person ntfy reaches", body: `{"tier":"primary","user":"bob","start":"2025-09-10T12:00:00Z","end":"2025-09-10T14:00:00Z"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.api("POST", "/api/v1/schedules/s/overrides", tc.body)
			if r.code != 201 {
				t.Fatalf("create: %d %s", r.code, r.body)
			}
			var made struct {
				ID       string
				Warnings []string
			}
			r.json(t, &made)
			if tc.want == nil {
				if strings.Contains(r.body, `"warnings"`) {
					t.Fatalf("answer %s, want no warnings", r.body)
				}
				return
			}
			if made.ID == "" || len(made.Warnings) != 1 {
				t.Fatalf("answer %s, want an override and one warning", r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(made.Warnings[0], w) {
					t.Errorf("warning %q does not say %q", made.Warnings[0], w)
				}
			}
		})
	}
}

// An override made through one replica's API decides who the other
// replica pages for an alert it takes a moment later (the broadcast on the
// overrides topic).
func TestOverrideReachesTheOtherReplica(t *testing.T) {
	st, _ := redisStore(t)
	a := newHarness(t, withStore(st), withConfig(overridesConfig))
	b := newHarness(t, withStore(st), withConfig(overridesConfig))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.d.Overrides().Run(ctx, b.d.overrideChanges(ctx))
	time.Sleep(100 * time.Millisecond) // subscribed

	r := a.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","duration":"1h"}`)
	if r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	waitUntil(t, time.Second, "the other replica to take the override in", func() bool {
		u, _, _ := b.primary()
		return u == "cat"
	})
	fire(b)
	b.step(fixedNow)
	if got := strings.Join(b.rec.lines(fixedNow), "; "); got != "0s L1 cat push" {
		t.Fatalf("pages on the other replica: %s", got)
	}
}

// overrideReads is the Redis store, its nudges and broadcasts included,
// counting the reads of run-time overrides.
type overrideReads struct {
	*redisstore.Store
	n atomic.Int64
}

func (s *overrideReads) ListDocs(ctx context.Context, kind string) (map[string][]byte, int64, error) {
	if strings.HasPrefix(kind, overrides.Kind("")) {
		s.n.Add(1)
	}
	return s.Store.ListDocs(ctx, kind)
}

// In an alert storm on Redis every new incident nudges every replica's
// dispatcher; a replica reads its overrides again when they change, not at
// each of those nudges (it did, up to ten times a second, when the two
// shared a channel). An override made on one replica still reaches the
// other within a second. Two whole daemons, as Run wires them.
func TestOverridesNotReadAgainAtIncidentNudges(t *testing.T) {
	raw, srv := redisStore(t)
	// The other replica has a store of its own, as every process does: a
	// store does not hear its own nudges.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	counted := &overrideReads{Store: redisstore.New(rdb, "t")}
	run := func(st store.Store) *harness {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, withStore(st), withConfig(overridesConfig), withNow(time.Now), maxSleep(50*time.Millisecond),
			onListener(l), quiet())
		h.runFor(t)
		return h
	}
	a, b := run(raw), run(counted)
	waitUntil(t, 2*time.Second, "the other replica to read its overrides at start", func() bool { return counted.n.Load() > 0 })
	// The dispatcher's nudges, as the other replica hears them.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var nudged atomic.Int64
	nudges := counted.Nudges(ctx)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-nudges:
				nudged.Add(1)
			}
		}
	}()
	time.Sleep(200 * time.Millisecond) // subscribed, and the start's reads done

	// A second of new incidents on a: far from the poll interval (5 s).
	before := counted.n.Load()
	made := 0
	for start := time.Now(); time.Since(start) < time.Second; made++ {
		r := a.do("POST", "/api/v1/alertmanager", amPayload("firing", fmt.Sprintf("storm-%d", made),
			map[string]string{"alertname": "A", "severity": "critical", "n": strconv.Itoa(made)}), "Authorization", "Bearer "+amKey)
		if r.code != 200 {
			t.Fatalf("alert %d: %d %s", made, r.code, r.body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	reads := counted.n.Load() - before
	t.Logf("%d new incidents, %d nudges heard, %d reads of the overrides", made, nudged.Load(), reads)
	if n := nudged.Load(); n < 5 {
		t.Fatalf("%d new incidents nudged the other replica's dispatcher %d times: no storm to test with", made, n)
	}
	// At most one: a poll that fell in the second, on a slow machine.
	if reads > 1 {
		t.Fatalf("the other replica read its overrides %d times while %d new incidents nudged its dispatcher %d times; want them read when they change",
			reads, made, nudged.Load())
	}

	r := a.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","duration":"1h"}`)
	if r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	waitUntil(t, time.Second, "the other replica to take the override in", func() bool {
		u, _, _ := b.primary()
		return u == "cat"
	})
}

// On the embedded store no other replica shares the overrides: nothing is
// broadcast or listened to, and the running daemon pages by an override
// made through its API at once.
func TestOverridesEmbeddedTakenInLocally(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withConfig(overridesConfig), withNow(time.Now), maxSleep(50*time.Millisecond), onListener(l))
	if h.d.overridesChanged() != nil || h.d.overrideChanges(context.Background()) != nil {
		t.Fatal("the embedded store has no other replica to tell of overrides")
	}
	h.runFor(t)
	r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","duration":"1h"}`)
	if r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	if u, ov, _ := h.primary(); u != "cat" || !ov {
		t.Fatalf("right after the override: %s %v", u, ov)
	}
}

// TestOverrideLeftOutByAReloadSaysSoWhereListed: a reload that removes the
// person an override names leaves the override out of the config pages go
// by (the tier goes back to its rotation, as /oncall and the calendar
// say), and the lists of overrides, the API's and the console's, must say
// so too rather than call it the holder now: someone reading them would
// take the override for who is paged.
func TestOverrideLeftOutByAReloadSaysSoWhereListed(t *testing.T) {
	withCat := strings.Replace(consoleConfig(t, ""), "users:\n",
		"users:\n  - {id: cat, name: Cat, contacts: [{channel: push, via: log}]}\n", 1)
	h := newHarness(t, withConfig(withCat))
	r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","duration":"4h","reason":"ann is on a plane"}`)
	if r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	if err := h.reload(consoleConfig(t, "")); err != nil {
		t.Fatal(err)
	}
	if u, ov, _ := h.primary(); u != "ann" || ov {
		t.Fatalf("oncall after the reload: %s %v, want ann by the rotation", u, ov)
	}
	var listed struct {
		Overrides []struct {
			User    string
			LeftOut string `json:"left_out"`
		} `json:"overrides"`
	}
	h.api("GET", "/api/v1/schedules/s/overrides", "").json(t, &listed)
	if len(listed.Overrides) != 1 || !strings.Contains(listed.Overrides[0].LeftOut, "user cat is no longer in the config") {
		t.Errorf("the API lists %+v, want cat's override with left_out saying cat is no longer in the config", listed.Overrides)
	}
	ann := newUIClient(t, h.url)
	ann.signIn("ann", consolePassword)
	cal := ann.get("/ui/schedules/s").body
	i := strings.Index(cal, `id="runtime-overrides"`)
	if i < 0 {
		t.Fatalf("no run-time overrides on the calendar:\n%s", cal)
	}
	item := cal[i : i+strings.Index(cal[i:], "</li>")]
	mustContain(t, "the left-out override", item, "Primary: cat", "not applied: user cat is no longer in the config")
	mustNotContain(t, "the left-out override", item, "<strong>now</strong>")
}

// TestOverrideMadeAfterRedisLostItsDataIsApplied: Redis restarts without
// persistence, and the overrides' version starts again at 0. An override
// made after it pages. (Before: a replica that had read the overrides at a
// higher version refused every read and write below it, so the override
// was answered 201 and never paged by, even on the replica that made it.)
func TestOverrideMadeAfterRedisLostItsDataIsApplied(t *testing.T) {
	st, srv := redisStore(t)
	h := newHarness(t, withStore(st), withConfig(overridesConfig), probing(20*time.Millisecond))
	// Two overrides made and one deleted before the restart: the
	// overrides' version is 3.
	for _, body := range []string{
		`{"tier":"secondary","user":"cat","start":"2025-09-20T00:00:00Z","end":"2025-09-20T04:00:00Z"}`,
		`{"tier":"secondary","user":"ann","start":"2025-09-21T00:00:00Z","end":"2025-09-21T04:00:00Z"}`,
	} {
		if r := h.api("POST", "/api/v1/schedules/s/overrides", body); r.code != 201 {
			t.Fatalf("create: %d %s", r.code, r.body)
		}
	}
	srv.Restart(t) // no AOF, no RDB: the store is empty again
	// The daemon's own probe notices the loss (pagerd_store_data_lost_total);
	// nothing tells the overrides.
	waitUntil(t, 3*time.Second, "the probe to find the data lost", func() bool {
		return metric(t, h.reg, "pagerd_store_data_lost_total") == 1
	})

	r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","duration":"4h","reason":"ann on a plane"}`)
	if r.code != 201 {
		t.Fatalf("create after the restart: %d %s", r.code, r.body)
	}
	if u, ov, _ := h.primary(); u != "cat" || !ov {
		t.Errorf("after a 201, GET /api/v1/oncall says primary is %s (override %v), want cat", u, ov)
	}
	id := fire(h)
	h.step(fixedNow)
	if got := strings.Join(h.rec.lines(fixedNow), "; "); got != "0s L1 cat push" {
		t.Errorf("incident %s pages %q, want cat (the override accepted with 201)", id, got)
	}
}

// TestOverrideRedisLostStopsPaging: an override in effect before Redis
// lost its data no longer decides who is paged once the store, and so the
// list, no longer has it. (Before: it went on paging until a restart, and
// could not be deleted: 404.)
func TestOverrideRedisLostStopsPaging(t *testing.T) {
	st, srv := redisStore(t)
	h := newHarness(t, withStore(st), withConfig(overridesConfig))
	r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","duration":"4h"}`)
	if r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	var made struct{ ID string }
	r.json(t, &made)
	srv.Restart(t)
	if r := h.api("GET", "/api/v1/schedules/s/overrides", ""); strings.Contains(r.body, made.ID) {
		t.Fatalf("list still has it: %s", r.body)
	}
	if u, ov, id := h.primary(); u != "ann" {
		t.Errorf("the store holds no override, yet primary is %s (override %v, %s)", u, ov, id)
	}
}

// DELETE of an override under way ends it now and keeps what it held:
// GET /api/v1/oncall at an instant it covered still says cat, whom the
// page then went to; deleting it again is 409 (it has ended), not a 2xx
// that would erase it.
func TestOverrideDeletedUnderWayKeepsItsPast(t *testing.T) {
	h := newHarness(t, withConfig(overridesConfig))
	r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","duration":"4h","reason":"ann is on a plane"}`)
	if r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	var made struct{ ID string }
	r.json(t, &made)
	h.clock.Set(fixedNow.Add(2 * time.Hour))
	r = h.api("DELETE", "/api/v1/schedules/s/overrides/"+made.ID, "")
	var gone struct {
		Deleted []struct {
			ID      string
			End     time.Time
			EndedBy string `json:"ended_by"`
		}
	}
	r.json(t, &gone)
	if r.code != 200 || len(gone.Deleted) != 1 || !gone.Deleted[0].End.Equal(fixedNow.Add(2*time.Hour)) || gone.Deleted[0].EndedBy != "api:ops" {
		t.Fatalf("delete under way: %d %s", r.code, r.body)
	}
	at := fixedNow.Add(time.Hour).Format(time.RFC3339)
	var oc onCallResp
	h.api("GET", "/api/v1/oncall?schedule=s&at="+at, "").json(t, &oc)
	if oc.OnCall[0].User != "cat" || oc.OnCall[0].OverrideID != made.ID {
		t.Fatalf("who was on call an hour in, after the delete: %+v", oc.OnCall)
	}
	if u, ov, _ := h.primary(); u != "ann" || ov {
		t.Fatalf("now: %s %v", u, ov)
	}
	if r := h.api("DELETE", "/api/v1/schedules/s/overrides/"+made.ID, ""); r.code != 409 || !strings.Contains(r.body, "ended") {
		t.Fatalf("delete of the ended override: %d %s", r.code, r.body)
	}
}

// GET .../overrides?ended= takes what strconv.ParseBool takes, and
// refuses anything else with 400: "ended=yes" silently listing only the
// overrides in force read as "none ended in the last 30 days".
func TestOverridesListEndedParam(t *testing.T) {
	h := newHarness(t, withConfig(overridesConfig))
	if r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"cat","duration":"1h"}`); r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	h.clock.Set(fixedNow.Add(2 * time.Hour)) // it has ended
	for q, want := range map[string]int{"true": 1, "1": 1, "TRUE": 1, "false": 0, "": 0} {
		var got struct{ Overrides []struct{ ID string } }
		r := h.api("GET", "/api/v1/schedules/s/overrides?ended="+q, "")
		r.json(t, &got)
		if r.code != 200 || len(got.Overrides) != want {
			t.Errorf("ended=%s: %d, %d overrides, want %d", q, r.code, len(got.Overrides), want)
		}
	}
	if r := h.api("GET", "/api/v1/schedules/s/overrides?ended=yes", ""); r.code != 400 || !strings.Contains(r.body, "ended") {
		t.Errorf("ended=yes: %d %s", r.code, r.body)
	}
}
