package redisstore_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// scoped is store.ScopedClaimer, named here so that the benchmark also
// builds where the store is not one (an A/B against a tree before it).
type scoped interface {
	ClaimDueNextScoped(ctx context.Context, now time.Time, lease time.Duration, max int, everywhere bool) ([]store.Claim, time.Time, bool, bool, error)
}

// BenchmarkAlertOnRedis is what Redis runs for each new alert on the hot
// path, the store calls the daemon makes for it, without the daemon: its
// trigger, its page's storm admit (held: 12 people, each with a window
// open), the dispatcher's claim at a wake (one every perWake alerts: 2 as
// at 500 alerts/s, 20 as in the closed-loop load), and the step's Finish,
// with 20,000 incidents open. It reports the commands Redis ran per alert
// (scripts' own, INFO commandstats: a count the machine's load does not
// change) and Redis's time in the scripts per alert (wall-clock inside
// Redis: compare alternating runs).
func BenchmarkAlertOnRedis(b *testing.B) {
	for _, perWake := range []int{2, 20} {
		b.Run(fmt.Sprintf("alerts-a-wake=%d", perWake), func(b *testing.B) {
			_, rdb, st := benchStore(b)
			ctx := context.Background()
			if err := st.LoadScripts(ctx); err != nil {
				b.Fatal(err)
			}
			at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
			n := 0
			trigger := func(due time.Time) *store.Incident {
				n++
				key := "k" + strconv.Itoa(n)
				inc := &store.Incident{ID: store.NewID(store.ShardOf("api", key), at), Service: "api", DedupKey: key, CreatedAt: at, LastSeen: at,
					Summary: "disk almost full on db1", State: policy.Incident{Status: policy.StatusTriggered,
						Pending: []policy.Deadline{{ID: "0001.000001.notify", At: due, Kind: policy.DeadlineNotify, User: "ann", Channel: "push", Seq: 1}}}}
				if _, _, err := st.Trigger(ctx, inc, nil); err != nil {
					b.Fatal(err)
				}
				return inc
			}
			for range 20000 {
				trigger(at.Add(time.Hour))
			}
			rules := store.StormRules{Window: time.Hour, Immediate: 1}
			claim := func(now time.Time) []store.Claim {
				var cs []store.Claim
				var err error
				if sc, ok := any(st).(scoped); ok {
					cs, _, _, _, err = sc.ClaimDueNextScoped(ctx, now, time.Minute, 128, false)
				} else {
					cs, _, _, _, err = st.ClaimDueNext(ctx, now, time.Minute, 128)
				}
				if err != nil {
					b.Fatal(err)
				}
				return cs
			}
			claim(at)
			stats := func() (cmds, usec int64) {
				for name, c := range commandStats(b, rdb) {
					if name == "evalsha" {
						usec += c.usec
					} else {
						cmds += c.calls
					}
				}
				return cmds, usec
			}
			c0, u0 := stats()
			alerts := 0
			for b.Loop() {
				now := at.Add(time.Duration(alerts) * time.Millisecond)
				for range perWake {
					inc := trigger(now)
					p := store.HeldPage{Incident: inc.ID, Deadline: "0001.000001.notify", Service: "api", Priority: "P3", Rank: 3, Level: 1, Summary: "disk", Due: now}
					if _, err := st.Admit(ctx, store.StormKey("p"+strconv.Itoa(alerts%12), "push"), p, now, rules); err != nil {
						b.Fatal(err)
					}
					alerts++
				}
				for _, c := range claim(now) {
					inc, err := st.Get(ctx, c.Incident)
					if err != nil {
						b.Fatal(err)
					}
					inc.State.Pending[0].At = now.Add(15 * time.Minute)
					if err := st.Finish(ctx, c, inc, []store.Entry{{At: now, Type: "held", Detail: "held for an alert storm message"}}); err != nil {
						b.Fatal(err)
					}
				}
			}
			c1, u1 := stats()
			// Less the GET of each claimed incident, the daemon's
			// claim hands over the record it read.
			b.ReportMetric(float64(c1-c0)/float64(alerts)-1, "redis-cmds/alert")
			b.ReportMetric(float64(u1-u0)/float64(alerts), "redis-script-µs/alert")
		})
	}
}
