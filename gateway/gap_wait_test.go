package gateway

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// officeOnlyConfig is gapTestConfig with one level, ann's primary tier,
// held 09:00-17:00 UTC on weekdays: an alert at fixedNow (Wednesday
// 06:00) finds nobody on call at any level of its policy.
func officeOnlyConfig() string {
	return strings.Replace(gapTestConfig(`      - {name: secondary, start: 2025-01-06, members: [bob]}`),
		"      - {name: secondary, targets: [{schedule: s, tier: secondary}]}\n", "", 1)
}

// nineAM is when ann's office tier is held, the morning of fixedNow.
var nineAM = fixedNow.Add(3 * time.Hour)

// TestAlertInAGapPagesWhoComesOnCall: an alert at 06:00 whose only tier is
// held from 09:00 pages nobody at 06:00, and at 09:00 ann, then on call,
// is paged, push first and then her SMS and call, once, on both stores
// and with two replicas' dispatchers on the same store; the timeline
// says why she is paged then.
func TestAlertInAGapPagesWhoComesOnCall(t *testing.T) {
	for name, open := range stores(t) {
		for _, n := range []int{1, 2} {
			t.Run(name+"/"+map[int]string{1: "one replica", 2: "two replicas"}[n], func(t *testing.T) {
				h := newHarness(t, withStore(open(t)), withConfig(officeOnlyConfig()), replicas(n))
				id := fire(h)
				h.runUntil(nineAM.Add(-time.Minute))
				if got := h.rec.lines(fixedNow); len(got) != 0 {
					t.Fatalf("pages before 09:00: %q", got)
				}
				h.runUntil(nineAM.Add(6 * time.Minute))
				if got, want := h.rec.lines(fixedNow), []string{"3h L1 ann push", "3h2m L1 ann sms", "3h5m L1 ann voice"}; !reflect.DeepEqual(got, want) {
					t.Fatalf("pages = %q, want %q", got, want)
				}
				if !h.timelineHas(id, "escalate", "nobody was on call when the alert came (rule severity=critical); level primary has someone now") {
					t.Fatalf("the timeline does not say why ann is paged at 09:00: %+v", h.incident(id).Timeline)
				}
			})
		}
	}
}

// TestAlertInAGapAcknowledgedOrResolvedPagesNobody: an incident
// acknowledged or resolved (through the API) while nobody is on call is
// not paged when ann comes on call at 09:00.
func TestAlertInAGapAcknowledgedOrResolvedPagesNobody(t *testing.T) {
	for name, open := range stores(t) {
		for _, action := range []string{"acknowledge", "resolve"} {
			t.Run(name+"/"+action, func(t *testing.T) {
				h := newHarness(t, withStore(open(t)), withConfig(officeOnlyConfig()))
				id := fire(h)
				h.runUntil(fixedNow.Add(time.Hour))
				if r := h.api("POST", "/api/v1/incidents/"+id+"/"+action, `{"user":"bob"}`); r.code != 200 {
					t.Fatalf("%s: %d %s", action, r.code, r.body)
				}
				h.runUntil(nineAM.Add(time.Hour))
				if got := h.rec.lines(fixedNow); len(got) != 0 {
					t.Fatalf("pages = %q, want none after the %s", got, action)
				}
			})
		}
	}
}

// TestAlertInAGapOverridePagesWithin15Minutes: an override made through
// the API during the gap, putting bob on the primary tier from 07:30, has
// bob paged within 15 minutes of 07:30, whether it is made before the
// incident's look of 07:15 or after the one of 07:30.
func TestAlertInAGapOverridePagesWithin15Minutes(t *testing.T) {
	for name, open := range stores(t) {
		for _, made := range []time.Duration{80 * time.Minute, 91 * time.Minute} {
			t.Run(name+"/made at +"+made.String(), func(t *testing.T) {
				h := newHarness(t, withStore(open(t)), withConfig(officeOnlyConfig()))
				fire(h)
				h.runUntil(fixedNow.Add(made))
				if r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"bob","start":"2025-09-10T07:30:00Z","end":"2025-09-10T09:00:00Z","reason":"cover the morning"}`); r.code != 201 {
					t.Fatalf("override: %d %s", r.code, r.body)
				}
				h.runUntil(fixedNow.Add(105 * time.Minute))
				got := h.rec.lines(fixedNow)
				if len(got) == 0 || !strings.HasSuffix(got[0], "L1 bob push") {
					t.Fatalf("pages = %q, want bob's push by +1h45m", got)
				}
				if at, _ := time.ParseDuration(strings.Fields(got[0])[0]); at < 90*time.Minute {
					t.Fatalf("bob paged at +%v, before his override starts", at)
				}
			})
		}
	}
}

// TestAlertInAGapWaitsAcrossAReload: a reload while the incident waits
// that changes its policy (a level put in before primary, for bob's
// secondary tier, now held from 08:00) keeps the wait, and the look under
// the new config pages the level that has someone on call then: bob at
// 08:00, on both stores.
func TestAlertInAGapWaitsAcrossAReload(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(officeOnlyConfig()))
			id := fire(h)
			h.runUntil(fixedNow.Add(time.Hour))
			next := strings.Replace(officeOnlyConfig(), `      - {name: secondary, start: 2025-01-06, members: [bob]}`, `      - name: secondary
        layers:
          - {name: early, start: 2025-01-06, members: [bob], restrictions: [{days: [mon, tue, wed, thu, fri], start: "08:00", end: "17:00"}]}`, 1)
			next = strings.Replace(next, "      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}\n",
				"      - {name: early, targets: [{schedule: s, tier: secondary}], timeout: 15m}\n      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}\n", 1)
			if next == officeOnlyConfig() {
				t.Fatal("the reloaded config is the same")
			}
			if err := h.reload(next); err != nil {
				t.Fatal(err)
			}
			h.runUntil(fixedNow.Add(2*time.Hour + time.Minute))
			if got, want := h.rec.lines(fixedNow), []string{"2h L1 bob push"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("pages = %q, want %q", got, want)
			}
			if !h.timelineHas(id, "escalate", "level early has someone now") {
				t.Fatalf("timeline %+v", h.incident(id).Timeline)
			}
		})
	}
}

// TestAlertInAGapAcknowledgedThenAnUnresolvedRulePagingNobody: bob
// acknowledges, through the API, an incident waiting for someone on call;
// at 08:00 the policy's unresolved rule reopens it and pages nobody (its
// tier, ann's, is held from 09:00). The incident is bob's in hand: nobody
// is paged at 09:00, ann least of all with push, SMS and a call saying
// nobody was on call, on both stores.
func TestAlertInAGapAcknowledgedThenAnUnresolvedRulePagingNobody(t *testing.T) {
	cfg := strings.Replace(officeOnlyConfig(), "      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}\n",
		"      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}\n    unresolved:\n      - {priorities: [P0], after: 2h, notify: [{schedule: s, tier: primary}]}\n", 1)
	// batch, of another scheme, would refuse a rule of P0.
	cfg = cfg[:strings.Index(cfg, "  - name: batch\n")]
	if !strings.Contains(cfg, "after: 2h") || strings.Contains(cfg, "batch") {
		t.Fatal("the config is not as this test means it")
	}
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(cfg))
			id := fire(h)
			h.runUntil(fixedNow.Add(time.Hour))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"bob"}`); r.code != 200 {
				t.Fatalf("acknowledge: %d %s", r.code, r.body)
			}
			h.runUntil(nineAM.Add(time.Hour))
			if got := h.rec.lines(fixedNow); len(got) != 0 {
				t.Fatalf("pages = %q, want none: bob acknowledged the incident", got)
			}
			if !h.timelineHas(id, "escalate", "unresolved after 2h: the rule pages nobody") {
				t.Fatalf("the rule did not fire: %+v", h.incident(id).Timeline)
			}
		})
	}
}

// TestAlertInAGapTimelineSaysTheWaitOnce: the timeline says when the
// incident begins to wait for someone on call, and when it looks next,
// once: a wait of three days (ann's tier held on Saturdays only, the
// alert on Wednesday at 06:00), some 300 looks, adds one entry, not one a
// look, on both stores; the look that finds ann on Saturday at 09:00
// adds its escalation.
func TestAlertInAGapTimelineSaysTheWaitOnce(t *testing.T) {
	cfg := strings.Replace(officeOnlyConfig(), `restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]`,
		`restrictions: [{days: [sat], start: "09:00", end: "17:00"}]`, 1)
	if cfg == officeOnlyConfig() {
		t.Fatal("the config is not as this test means it")
	}
	saturday9 := fixedNow.Add(3*24*time.Hour + 3*time.Hour)
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(cfg))
			id := fire(h)
			h.runUntil(saturday9.Add(-time.Minute))
			tl := h.incident(id).Timeline
			var waits []string
			for _, e := range tl {
				if e.Type == "wait_on_call" {
					waits = append(waits, e.At.Sub(fixedNow).String()+" "+e.Detail)
				}
			}
			if want := []string{"0s nobody is on call at any level of p; waiting for the next person on call (next look 2025-09-10T06:15:00Z)"}; !reflect.DeepEqual(waits, want) {
				t.Fatalf("wait entries %q, want %q", waits, want)
			}
			if len(tl) > 10 {
				t.Fatalf("the timeline grew to %d entries over the wait: %+v", len(tl), tl)
			}
			h.runUntil(saturday9.Add(time.Minute))
			if got, want := h.rec.lines(fixedNow), []string{"3d3h L1 ann push"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("pages = %q, want %q", got, want)
			}
			if !h.timelineHas(id, "escalate", "level primary has someone now") {
				t.Fatalf("timeline %+v", h.incident(id).Timeline)
			}
		})
	}
}

// TestAlertInAGapRaisedLookSaysSo: a warning alert at 06:00 waits for
// someone on call; a critical one joins it at 06:30 and raises it. The
// look that pages ann at 09:00 says the priority was raised while nobody
// was on call, and names the rule it was raised by, not "the alert came"
// with the warning's rule: what made the incident wait is kept in the
// incident, on both stores, from the raise to the look.
func TestAlertInAGapRaisedLookSaysSo(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(officeOnlyConfig()))
			id := fireLabels(h, "g1", map[string]string{"alertname": "A", "severity": "warning"})
			h.runUntil(fixedNow.Add(30 * time.Minute))
			if again := fireLabels(h, "g1", map[string]string{"alertname": "A", "severity": "critical"}); again != id {
				t.Fatalf("the critical alert opened %s, want it to raise %s", again, id)
			}
			h.runUntil(nineAM.Add(time.Minute))
			if got, want := h.rec.lines(fixedNow), []string{"3h L1 ann push"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("pages = %q, want %q", got, want)
			}
			if !h.timelineHas(id, "escalate", "nobody was on call when the priority was raised to P0 (rule severity=critical); level primary has someone now") {
				t.Fatalf("timeline %+v", h.incident(id).Timeline)
			}
		})
	}
}
