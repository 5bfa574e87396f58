package storetest

import (
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// listTests are List's paging and time filters.
var listTests = []struct {
	name string
	fn   func(*testing.T, Factory)
}{
	{"ListPagesByCursorWhileIncidentsArrive", testListCursor},
	{"ListFiltersByCreationTime", testListTimeRange},
	{"ListFindsIncidentsByResolveTime", testListResolvedSince},
	{"CountOpenByServicePriorityAndStatus", testCountOpen},
	{"EachOpenVisitsEveryIncidentOpenThroughoutOnce", testEachOpen},
}

// testEachOpen: store.EachOpen, a page at a time, calls f once with every
// incident of the service open from the start of the scan to its end,
// while incidents already passed and still ahead are acknowledged and
// reopened, and others resolved and opened, under it: an incident left
// out is a page nobody gets, one visited twice a page sent twice. Those
// resolved or opened during the scan are visited at most once, those
// resolved before it and other services' never.
func testEachOpen(t *testing.T, f Factory) {
	for _, page := range []int{1, 4, 1000} {
		t.Run(fmt.Sprintf("page %d", page), func(t *testing.T) {
			s := f.New(t)
			const n = 60
			var ids []string // the service's incidents, oldest first
			pos := map[string]int{}
			for i := range n {
				at := base.Add(time.Duration(i/2) * time.Millisecond)
				inc := incident("api", fmt.Sprintf("o%d", i), at)
				if i%3 == 0 {
					inc.State.Status = policy.StatusAcknowledged
				}
				pos[trigger(t, s, inc)] = i
				ids = append(ids, inc.ID)
				if i%4 == 0 {
					trigger(t, s, incident("web", fmt.Sprintf("o%d", i), at))
				}
			}
			set := func(id string, st policy.Status) {
				inc := get(t, s, id)
				inc.State.Status = st
				update(t, s, inc)
			}
			// toggle acknowledges a triggered incident, reopens an
			// acknowledged one.
			toggle := func(id string) {
				switch get(t, s, id).State.Status {
				case policy.StatusTriggered:
					set(id, policy.StatusAcknowledged)
				case policy.StatusAcknowledged:
					set(id, policy.StatusTriggered)
				}
			}
			notThroughout := map[string]bool{}
			for i := 9; i < n; i += 10 {
				set(ids[i], policy.StatusResolved)
				notThroughout[ids[i]] = true
			}
			resolvedBefore := maps.Clone(notThroughout)

			visits := map[string]int{}
			v := 0
			err := store.EachOpenPaged(ctx(t), s, "api", page, func(inc *store.Incident) error {
				visits[inc.ID]++
				v++
				if inc.Service != "api" || resolvedBefore[inc.ID] {
					return fmt.Errorf("visited %s of %s, resolved before the scan: %v", inc.ID, inc.Service, resolvedBefore[inc.ID])
				}
				i, ok := pos[inc.ID]
				if !ok {
					return nil // opened during the scan
				}
				// One newer (passed) and one older (ahead) change
				// status; every fourth visit, one ahead resolves and a
				// new one opens.
				if j := i + 1 + v%5; j < n {
					toggle(ids[j])
				}
				if j := i - 1 - v%5; j >= 0 {
					toggle(ids[j])
				}
				if v%4 == 0 {
					if j := i - 2; j >= 0 && !notThroughout[ids[j]] {
						set(ids[j], policy.StatusResolved)
						notThroughout[ids[j]] = true
					}
					late := incident("api", fmt.Sprintf("late%d", v), base.Add(time.Hour+time.Duration(v)*time.Millisecond))
					notThroughout[trigger(t, s, late)] = true
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			throughout := 0
			for _, id := range ids {
				if !notThroughout[id] {
					throughout++
					if visits[id] != 1 {
						t.Errorf("incident %d (%s), open throughout the scan, visited %d times, want once", pos[id], id, visits[id])
					}
				}
			}
			for id, k := range visits {
				if k > 1 {
					t.Errorf("incident %s visited %d times", id, k)
				}
			}
			if throughout < n/2 {
				t.Fatalf("only %d of %d incidents open throughout: the test proves little", throughout, n)
			}
		})
	}
}

// testCountOpen: CountOpen counts open
// incidents by service, priority and status, resolved ones not at all, and
// the newest limit of each status at most.
func testCountOpen(t *testing.T, f Factory) {
	s := f.New(t)
	ids := seedListed(t, s, "api", "web", "api", "db", "api", "web")
	for _, i := range []int{0, 4} {
		a := get(t, s, ids[i])
		a.State.Status = policy.StatusAcknowledged
		update(t, s, a)
	}
	tr, ack := policy.StatusTriggered, policy.StatusAcknowledged
	k := func(svc, pr string, st policy.Status) store.OpenKey {
		return store.OpenKey{Service: svc, Priority: pr, Status: st}
	}
	for _, tc := range []struct {
		limit int
		want  map[store.OpenKey]int
	}{
		{100, map[store.OpenKey]int{k("web", "P0", tr): 1, k("db", "P1", tr): 1, k("web", "P1", tr): 1, k("api", "P1", ack): 2}},
		{2, map[store.OpenKey]int{k("db", "P1", tr): 1, k("web", "P1", tr): 1, k("api", "P1", ack): 2}},
		{1, map[store.OpenKey]int{k("web", "P1", tr): 1, k("api", "P1", ack): 1}},
	} {
		got, err := s.CountOpen(ctx(t), tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got.Undecodable != nil {
			t.Errorf("limit %d: undecodable %v, want none", tc.limit, got.Undecodable)
		}
		if !reflect.DeepEqual(got.ByKey, tc.want) {
			t.Errorf("limit %d: got %v, want %v", tc.limit, got, tc.want)
		}
	}
}

// listIDs lists with the filter and returns the ids, in order.
func listIDs(t *testing.T, s store.Store, f store.Filter) []string {
	t.Helper()
	got, err := s.List(ctx(t), f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range got {
		out = append(out, g.ID)
	}
	return out
}

// testListCursor: paging with After visits every incident once, newest
// first (creation time, then id), including incidents created in the same
// millisecond in different shards, while new incidents keep arriving
// between pages; the cursor combines with the other filters.
func testListCursor(t *testing.T, f Factory) {
	s := f.New(t)
	// 30 incidents over 10 milliseconds: three per millisecond, spread
	// over shards by their dedup keys.
	want := map[string]*store.Incident{}
	for i := 0; i < 30; i++ {
		inc := incident("api", fmt.Sprintf("c%d", i), base.Add(time.Duration(i/3)*time.Millisecond))
		if i%4 == 0 {
			inc.State.Status = policy.StatusAcknowledged
		}
		trigger(t, s, inc)
		want[inc.ID] = inc
	}
	all := listIDs(t, s, store.Filter{Limit: 1000})
	if len(all) != 30 {
		t.Fatalf("listed %d of 30", len(all))
	}
	for i := 1; i < len(all); i++ {
		a, b := store.CursorOf(want[all[i-1]]), store.CursorOf(want[all[i]])
		if a.CreatedAt.Before(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID <= b.ID) {
			t.Fatalf("not newest first by creation time then id at %d: %v then %v", i, a, b)
		}
	}
	// Late arrivals are created "now", later than everything before them,
	// as the daemon creates incidents.
	late := base.Add(time.Hour)
	for _, limit := range []int{1, 2, 3, 7, 30} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			// Everything there is when paging starts, the late
			// arrivals of earlier runs included.
			before := listIDs(t, s, store.Filter{Limit: 1000})
			var paged []string
			var after *store.Cursor
			for page := 0; ; page++ {
				got, err := s.List(ctx(t), store.Filter{Limit: limit, After: after})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 0 {
					break
				}
				for _, g := range got {
					paged = append(paged, g.ID)
				}
				c := store.CursorOf(got[len(got)-1])
				after = &c
				// A newer incident arrives between pages: it belongs
				// to the head of the order, not to the pages still
				// to come.
				late = late.Add(time.Millisecond)
				trigger(t, s, incident("api", fmt.Sprintf("late-%d-%d", limit, page), late))
				if page > 40 {
					t.Fatal("paging does not end")
				}
			}
			if !reflect.DeepEqual(paged, before) {
				t.Fatalf("pages of %d:\n got %v\nwant %v", limit, paged, before)
			}
		})
	}
	// With a status filter (the open index) and a cursor in the middle of
	// a millisecond.
	var acked []string
	for _, id := range all {
		if want[id].State.Status == policy.StatusAcknowledged {
			acked = append(acked, id)
		}
	}
	mid := store.CursorOf(want[acked[2]])
	if got := listIDs(t, s, store.Filter{Status: policy.StatusAcknowledged, After: &mid}); !reflect.DeepEqual(got, acked[3:]) {
		t.Fatalf("acknowledged after %v: got %v, want %v", mid, got, acked[3:])
	}
	// After the last one, nothing.
	last := store.CursorOf(want[all[len(all)-1]])
	if got := listIDs(t, s, store.Filter{After: &last}); len(got) != 0 {
		t.Fatalf("after the oldest: %v", got)
	}
}

// testListTimeRange: Since is inclusive and Until exclusive on the
// creation time, at millisecond precision, alone, together and with the
// other filters.
func testListTimeRange(t *testing.T, f Factory) {
	s := f.New(t)
	var ids []string
	for i := 0; i < 6; i++ {
		inc := incident("api", fmt.Sprintf("t%d", i), base.Add(time.Duration(i)*time.Minute))
		if i == 3 {
			inc.Service = "web"
			inc.State.Service = "web"
			inc.ID = store.NewID(store.ShardOf("web", inc.DedupKey), inc.CreatedAt)
			inc.State.ID = inc.ID
		}
		ids = append(ids, trigger(t, s, inc))
	}
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	for _, tc := range []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"since is inclusive", store.Filter{Since: at(4)}, []string{ids[5], ids[4]}},
		{"until is exclusive", store.Filter{Until: at(2)}, []string{ids[1], ids[0]}},
		{"both", store.Filter{Since: at(1), Until: at(4)}, []string{ids[3], ids[2], ids[1]}},
		{"a nanosecond past since leaves its millisecond out", store.Filter{Since: at(4).Add(time.Nanosecond)}, []string{ids[5]}},
		{"a nanosecond past until takes its millisecond in", store.Filter{Until: at(2).Add(time.Nanosecond)}, []string{ids[2], ids[1], ids[0]}},
		{"with a service", store.Filter{Since: at(1), Until: at(4), Service: "api"}, []string{ids[2], ids[1]}},
		{"with a status (open index)", store.Filter{Since: at(5), Status: policy.StatusTriggered}, []string{ids[5]}},
		{"with a limit", store.Filter{Since: at(1), Limit: 2}, []string{ids[5], ids[4]}},
		{"empty range", store.Filter{Since: at(4), Until: at(4)}, nil},
		{"inverted range", store.Filter{Since: at(5), Until: at(1)}, nil},
		{"all before", store.Filter{Until: at(0)}, nil},
		{"far future", store.Filter{Since: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, nil},
		{"far past", store.Filter{Since: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}, []string{ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := listIDs(t, s, tc.f); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// CountOpenSkipsUndecodable checks what CountOpen does with open incident
// records that do not decode, which only a store's own tests can write:
// corrupt overwrites what CountOpen reads of incident id. One such record
// must not hide the others from the open-incidents gauge: they are
// counted as before, and the ones that do not decode are named.
func CountOpenSkipsUndecodable(t *testing.T, s store.Store, corrupt func(t *testing.T, id string)) {
	t.Helper()
	var ids []string
	for i, svc := range []string{"api", "web", "api", "db"} {
		inc := incident(svc, fmt.Sprintf("u%d", i), base.Add(time.Duration(i)*time.Minute))
		if svc == "web" {
			inc.State.Priority = "P0"
		}
		ids = append(ids, trigger(t, s, inc))
	}
	corrupt(t, ids[1])
	corrupt(t, ids[3])
	got, err := s.CountOpen(ctx(t), 100)
	if err != nil {
		t.Fatalf("CountOpen with two records that do not decode: %v; want the others counted", err)
	}
	want := map[store.OpenKey]int{{Service: "api", Priority: "P1", Status: policy.StatusTriggered}: 2}
	if !reflect.DeepEqual(got.ByKey, want) {
		t.Errorf("CountOpen = %v, want %v (the records that decode)", got.ByKey, want)
	}
	if len(got.Undecodable) != 2 || got.Undecodable[ids[1]] == nil || got.Undecodable[ids[3]] == nil {
		t.Errorf("CountOpen names %v as undecodable, want %s and %s, each with its error", got.Undecodable, ids[1], ids[3])
	}
}

// testListResolvedSince: Filter.ResolvedSince finds the incidents resolved
// from then on, however long before they were created (a bare SMS reply
// looks there for the latest page's incident resolved since), in List's
// order; one reopened since is not there, one resolved again is at its
// new time, and one expired is gone.
func testListResolvedSince(t *testing.T, f Factory) {
	s := f.New(t)
	h := func(n int) time.Time { return base.Add(time.Duration(n) * time.Hour) }
	setStatus := func(id string, st policy.Status, at time.Time) {
		inc := get(t, s, id)
		inc.State.Status, inc.UpdatedAt = st, at
		if st == policy.StatusResolved {
			inc.State.ResolvedAt = at
		}
		update(t, s, inc)
	}
	old := trigger(t, s, incident("api", "old", h(0)))       // open two days, resolved at 50 h
	early := trigger(t, s, incident("api", "early", h(1)))   // resolved at 10 h
	again := trigger(t, s, incident("api", "again", h(2)))   // resolved at 20 h, reopened, resolved at 45 h
	reopen := trigger(t, s, incident("api", "reopen", h(3))) // resolved at 40 h, reopened
	web := trigger(t, s, incident("web", "web", h(4)))       // another service's, resolved at 48 h
	open := trigger(t, s, incident("api", "open", h(40)))
	setStatus(early, policy.StatusResolved, h(10))
	setStatus(again, policy.StatusResolved, h(20))
	setStatus(again, policy.StatusTriggered, h(30))
	setStatus(reopen, policy.StatusResolved, h(40))
	setStatus(reopen, policy.StatusAcknowledged, h(41))
	setStatus(again, policy.StatusResolved, h(45))
	setStatus(web, policy.StatusResolved, h(48))
	setStatus(old, policy.StatusResolved, h(50))
	_ = open
	for _, tc := range []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"from a time on, newest created first", store.Filter{ResolvedSince: h(30)}, []string{web, again, old}},
		{"inclusive", store.Filter{ResolvedSince: h(45)}, []string{web, again, old}},
		{"a nanosecond past leaves its millisecond out", store.Filter{ResolvedSince: h(45).Add(time.Nanosecond)}, []string{web, old}},
		{"resolved again at its new time, not its first", store.Filter{ResolvedSince: h(15)}, []string{web, again, old}},
		{"all resolved", store.Filter{ResolvedSince: h(5)}, []string{web, again, early, old}},
		{"with a service", store.Filter{ResolvedSince: h(30), Service: "api"}, []string{again, old}},
		{"with a creation range", store.Filter{ResolvedSince: h(5), Since: h(1), Until: h(3)}, []string{again, early}},
		{"with a limit, those resolved last", store.Filter{ResolvedSince: h(5), Limit: 2}, []string{web, old}},
		{"with a limit of one", store.Filter{ResolvedSince: h(5), Limit: 1}, []string{old}},
		{"with the status", store.Filter{ResolvedSince: h(5), Status: policy.StatusResolved, Service: "api"}, []string{again, early, old}},
		{"with an open status", store.Filter{ResolvedSince: h(5), Open: true}, nil},
		{"after all", store.Filter{ResolvedSince: h(51)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := listIDs(t, s, tc.f); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, _, err := s.Expire(ctx(t), h(46), 100); err != nil {
		t.Fatal(err)
	}
	if got, want := listIDs(t, s, store.Filter{ResolvedSince: h(5)}), []string{web, old}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after those resolved before 46 h expired: got %v, want %v", got, want)
	}
}
