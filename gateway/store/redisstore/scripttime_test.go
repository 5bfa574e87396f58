package redisstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// scriptPhase is Redis's time in one script of the webhook path, summed
// over a run: the script's own (EVALSHA, its commands' included) and its
// commands' alone (every other command's line of INFO commandstats).
type scriptPhase struct {
	calls, usec, innerUsec int64
}

// BenchmarkScriptTime is Redis's time in each script of a new alert's
// path, apart: the trigger (through the incident service, as the daemon
// opens an incident from an Alertmanager alert), the dispatcher's claim
// at a wake (one every perWake alerts), the page's storm admit (held: a
// window open per person, 12 people) and the step's Finish, each phase
// read from INFO commandstats before and after it, so that one EVALSHA
// line tells the scripts apart. It reports per call of each script its
// µs in Redis and, of them, its commands' µs (the rest is the Lua: the
// script's body, its string work, and the bridge from Lua to each
// command), and the size of a new incident's record. Timed inside Redis,
// wall-clock: compare alternating runs on a quiet box.
func BenchmarkScriptTime(b *testing.B) {
	for _, perWake := range []int{1, 20} {
		b.Run(fmt.Sprintf("alerts-a-wake=%d", perWake), func(b *testing.B) {
			_, rdb, st := benchStore(b)
			ctx := context.Background()
			if err := st.LoadScripts(ctx); err != nil {
				b.Fatal(err)
			}
			cfg, err := policy.Parse([]byte(benchConfig), "bench.yaml", "")
			if err != nil {
				b.Fatal(err)
			}
			svc := cfg.Service("api")
			at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
			now := at
			incidents := incident.New(incident.Options{Store: st, Config: func() *policy.Config { return cfg }, Now: func() time.Time { return now },
				Logger: slog.New(slog.DiscardHandler)})
			stats := func() (evalsha scriptPhase, inner int64) {
				for name, c := range commandStats(b, rdb) {
					if name == "evalsha" {
						evalsha = scriptPhase{calls: c.calls, usec: c.usec}
					} else {
						inner += c.usec
					}
				}
				return evalsha, inner
			}
			phases := map[string]*scriptPhase{"trigger": {}, "claim": {}, "admit": {}, "finish": {}}
			// timed runs f and adds Redis's time in it to the phase.
			timed := func(name string, f func()) {
				e0, i0 := stats()
				f()
				e1, i1 := stats()
				p := phases[name]
				p.calls += e1.calls - e0.calls
				p.usec += e1.usec - e0.usec
				p.innerUsec += i1 - i0
			}
			rules := store.StormRules{Window: time.Hour, Immediate: 1}
			n, records, recordBytes := 0, 0, 0
			for b.Loop() {
				var ids []string
				timed("trigger", func() {
					for range perWake {
						n++
						name := "Bench" + strconv.Itoa(n)
						labels := map[string]string{"alertname": name, "severity": "critical", "instance": "db" + strconv.Itoa(n%100)}
						id, _, err := incidents.Trigger(ctx, cfg, incident.Alert{Service: svc, DedupKey: `{}:{alertname="` + name + `"}`,
							Source: "alertmanager", Actor: "alertmanager", Labels: []map[string]string{labels}, Summary: "disk almost full",
							Details: []byte(`{"labels":{"alertname":"` + name + `","instance":"db1","severity":"critical"},"annotations":{"summary":"disk almost full"},` +
								`"startsAt":"2025-09-10T05:59:00Z","generatorURL":"http://prom/graph"}`)})
						if err != nil {
							b.Fatal(err)
						}
						ids = append(ids, id)
					}
				})
				if n <= 2*perWake {
					for _, id := range ids {
						shard, _ := store.ShardOfID(id)
						v, err := rdb.Get(ctx, fmt.Sprintf("bench:{%02x}:inc:%s", shard, id)).Result()
						if err != nil {
							b.Fatal(err)
						}
						records, recordBytes = records+1, recordBytes+len(v)
					}
				}
				var claims []store.Claim
				timed("claim", func() {
					for len(claims) < perWake {
						cs, _, _, _, err := st.ClaimDueNextScoped(ctx, now, time.Minute, 128, false)
						if err != nil {
							b.Fatal(err)
						}
						if len(cs) == 0 {
							b.Fatalf("claimed %d of %d new incidents", len(claims), perWake)
						}
						claims = append(claims, cs...)
					}
				})
				incs := make([]*store.Incident, len(claims))
				for i, c := range claims {
					if incs[i] = c.Record; incs[i] == nil {
						if incs[i], err = st.Get(ctx, c.Incident); err != nil {
							b.Fatal(err)
						}
					}
				}
				timed("admit", func() {
					for i, c := range claims {
						inc := incs[i]
						p := store.HeldPage{Incident: c.Incident, Deadline: inc.State.Pending[0].ID, Service: "api", Priority: string(inc.State.Priority),
							Rank: 1, Urgency: "high", Level: 1, Summary: inc.Summary, Due: c.Due, Via: "log"}
						if _, err := st.Admit(ctx, store.StormKey("p"+strconv.Itoa(n%12), "push"), p, now, rules); err != nil {
							b.Fatal(err)
						}
					}
				})
				timed("finish", func() {
					for i, c := range claims {
						inc := incs[i]
						inc.State.Pending[0].At = now.Add(15 * time.Minute)
						tl := []store.Entry{{At: now, Type: "held", Level: 1, User: "ann", Channel: "push", Detail: "held for an alert storm message"}}
						if err := st.Finish(ctx, c, inc, tl); err != nil {
							b.Fatal(err)
						}
					}
				})
				now = now.Add(time.Millisecond)
			}
			for _, name := range []string{"trigger", "claim", "admit", "finish"} {
				p := phases[name]
				if p.calls == 0 {
					continue
				}
				b.ReportMetric(float64(p.usec)/float64(p.calls), name+"-µs/call")
				b.ReportMetric(float64(p.innerUsec)/float64(p.calls), name+"-cmds-µs/call")
			}
			var all scriptPhase
			for _, p := range phases {
				all.usec += p.usec
			}
			b.ReportMetric(float64(all.usec)/float64(n), "scripts-µs/alert")
			if records > 0 {
				b.ReportMetric(float64(recordBytes)/float64(records), "new-record-bytes")
			}
		})
	}
}

// commandStat is a command's line of INFO commandstats: its calls, and
// Redis's µs in them (a script's include its commands').
type commandStat struct{ calls, usec int64 }

// commandStats is INFO commandstats by command (lower case), the calls
// inside scripts included, INFO's own left out.
func commandStats(tb testing.TB, rdb *redis.Client) map[string]commandStat {
	tb.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]commandStat{}
	for _, line := range strings.Split(info, "\r\n") {
		name, rest, ok := strings.Cut(line, ":calls=")
		if !ok || name == "cmdstat_info" {
			continue
		}
		calls, rest, _ := strings.Cut(rest, ",usec=")
		us, _, _ := strings.Cut(rest, ",")
		c, _ := strconv.ParseInt(calls, 10, 64)
		u, _ := strconv.ParseInt(us, 10, 64)
		out[strings.TrimPrefix(name, "cmdstat_")] = commandStat{c, u}
	}
	return out
}
