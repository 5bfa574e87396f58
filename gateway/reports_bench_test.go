package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/history"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// A year of a team's history through the API: what GET /api/v1/reports
// costs on the daemon as shipped, store to HTTP answer. `make bench` runs
// it; the figures go in docs/BENCHMARKS.md.

const aionToken = "aion-r-api-token-change-me"

// yearOfHistory stores a year of a team of ten (AION-R: eight engineers,
// two team leads) in st: 20,000 incidents of 2025, one every 26 minutes,
// each the record the daemon stores for an Alertmanager alert (taken from
// one that went through the daemon, created after the year: same
// details, same state fields) with
// a timeline of 8 to 12 entries: the trigger, the ladder (push, SMS, call),
// an acknowledgement, two status updates, the resolution; one in five
// escalates to the secondary first, one in twenty resolves itself
// unacknowledged. The incidents are stored with store.Trigger, as the
// incident service stores them, from many goroutines.
func yearOfHistory(b testing.TB, h *harness) {
	b.Helper()
	body, err := os.ReadFile("../configs/examples/alertmanager-firing.json")
	if err != nil {
		b.Fatal(err)
	}
	r := h.do("POST", "/api/v1/alertmanager", string(body), "Authorization", "Bearer aionr-alertmanager-key-change-me")
	var res struct{ Incidents []string }
	r.json(b, &res)
	if r.code != 200 || len(res.Incidents) != 1 {
		b.Fatalf("the template alert: %d %s", r.code, r.body)
	}
	tmpl, err := h.store.Get(context.Background(), res.Incidents[0])
	if err != nil {
		b.Fatal(err)
	}
	engineers := []string{"eng-a", "eng-b", "eng-c", "eng-d", "eng-e", "eng-f", "eng-g", "eng-h"}
	leads := []string{"lead-x", "lead-y"}
	prios := []string{"SEV-1", "SEV-2", "SEV-3", "SEV-3", "SEV-4"}
	names := []string{"HighErrorRate", "ReplicaLag", "DiskFilling", "QueueSaturated", "CertExpiry", "PodCrashLooping", "HighLatency"}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const n, m = 20000, time.Minute
	every := 365 * 24 * time.Hour / n
	make1 := func(i int) (*store.Incident, []store.Entry) {
		at := start.Add(time.Duration(i) * every)
		week := int(at.Sub(start) / (7 * 24 * time.Hour))
		primary, secondary, lead := engineers[week%8], engineers[(week+1)%8], leads[week/2%2]
		name := names[i%len(names)]
		inc := *tmpl
		inc.DedupKey = fmt.Sprintf(`{}:{alertname="%s",instance="node-%d",n="%d"}`, name, i%40, i)
		inc.ID = store.NewID(store.ShardOf(inc.Service, inc.DedupKey), at)
		inc.Summary = fmt.Sprintf("%s on node-%d", name, i%40)
		inc.Details = []byte(strings.ReplaceAll(string(tmpl.Details), "DiskFull", name))
		inc.CreatedAt, inc.LastSeen = at, at
		st := tmpl.State
		st.ID, st.Priority, st.TriggeredAt, st.LevelStartedAt, st.Pending = inc.ID, prios[i%len(prios)], at, at, nil
		tl := []store.Entry{{At: at, Type: "trigger", Actor: "alertmanager", Detail: st.Priority + ", rule severity"}}
		pg := func(after time.Duration, level int, user, ch string) {
			tl = append(tl, store.Entry{At: at.Add(after), Type: "notify", Level: level, User: user, Channel: ch, Detail: "via twilio"})
		}
		pg(0, 1, primary, "push")
		acker, ackAfter := primary, time.Duration(3+i%9)*m
		end := at
		switch {
		case i%20 == 7:
			end = at.Add(time.Duration(1+i%4) * m)
			tl = append(tl, store.Entry{At: end, Type: "resolve", Actor: "alertmanager"})
			st.ResolvedBy = "alertmanager"
		default:
			pg(2*m, 1, primary, "sms")
			pg(5*m, 1, primary, "voice")
			if i%5 == 3 {
				tl = append(tl, store.Entry{At: at.Add(10 * m), Type: "escalate", Actor: "pagerd", Level: 2, Detail: "not acknowledged within 10m"})
				pg(10*m, 2, secondary, "push")
				pg(12*m, 2, secondary, "sms")
				pg(12*m, 3, lead, "push")
				acker, ackAfter = secondary, 13*m
				st.Level = 1
			}
			st.AcknowledgedAt, st.AcknowledgedBy = at.Add(ackAfter), acker
			end = at.Add(ackAfter + time.Duration(20+i%300)*m)
			tl = append(tl, store.Entry{At: st.AcknowledgedAt, Type: "ack", Actor: acker, User: acker, Level: st.Level + 1},
				store.Entry{At: at.Add(ackAfter + 10*m), Type: "status_update", Actor: acker, User: acker, Detail: "investigating"},
				store.Entry{At: at.Add(ackAfter + 30*m), Type: "status_update", Actor: acker, User: acker, Detail: "mitigated"},
				store.Entry{At: end, Type: "resolve", Actor: acker, User: acker})
			st.ResolvedBy, st.StatusUpdates, st.LastStatusAt = acker, 2, at.Add(ackAfter+30*m)
		}
		st.Status, st.ResolvedAt = policy.StatusResolved, end
		inc.State, inc.UpdatedAt = st, end
		return &inc, tl
	}
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				inc, tl := make1(i)
				if _, _, err := h.store.Trigger(context.Background(), inc, tl); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// cpuTime is the CPU time the process has used, user and system: on a
// machine shared with other work, what a report costs, whatever the wall
// clock says.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReportYearOfHistory: GET /api/v1/reports over a year of a team
// of ten (20,000 incidents with their timelines), on the embedded store
// (the default) and on Redis: the store's history read (store.History),
// the report built and rendered, the answer sent. Also the history stream
// pagerd report --server reads, and a week's report.
func BenchmarkReportYearOfHistory(b *testing.B) {
	cfg, err := os.ReadFile("../configs/aion-r.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, kind := range []string{"embedded", "redis"} {
		b.Run(kind, func(b *testing.B) {
			var st store.Store
			if kind == "redis" {
				st, _ = redisStore(b)
			} else {
				st = boltStore(b)
			}
			h := newHarness(b, withStore(st), withConfig(string(cfg)), withNow(func() time.Time { return time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC) }), quiet())
			fill := time.Now()
			yearOfHistory(b, h)
			b.Logf("%s: 20,000 incidents stored in %s", kind, time.Since(fill).Round(time.Millisecond))
			get := func(b *testing.B, path string) int {
				req, _ := http.NewRequest("GET", h.url+path, nil)
				req.Header.Set("Authorization", "Bearer "+aionToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer resp.Body.Close()
				n, _ := io.Copy(io.Discard, resp.Body)
				if resp.StatusCode != 200 {
					b.Fatalf("GET %s: %d", path, resp.StatusCode)
				}
				return int(n)
			}
			const year = "?from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"
			// A check that it is the year: 20,000 incidents in the report.
			r := h.do("GET", "/api/v1/reports"+year+"&format=json", "", "Authorization", "Bearer "+aionToken)
			var rep struct {
				Total struct{ Incidents, Resolved int }
				Pay   struct{ Incidents []struct{} }
			}
			if r.json(b, &rep); rep.Total.Incidents != 20000 || rep.Total.Resolved != 20000 || len(rep.Pay.Incidents) < 10000 {
				b.Fatalf("the year's report: %d incidents, %d resolved, %d paid", rep.Total.Incidents, rep.Total.Resolved, len(rep.Pay.Incidents))
			}
			for _, bc := range []struct{ name, path string }{
				{"report-json", "/api/v1/reports" + year + "&format=json"},
				{"report-text", "/api/v1/reports" + year + "&format=text"},
				{"report-week", "/api/v1/reports?from=2025-10-06&to=2025-10-13&format=text"},
				{"history-stream", history.HistoryPath + year},
			} {
				b.Run(bc.name, func(b *testing.B) {
					var n int
					cpu := cpuTime()
					for b.Loop() {
						n = get(b, bc.path)
					}
					b.ReportMetric(float64(n)/1e6, "MB/answer")
					b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
				})
			}
			// The store's part: the year read with its timelines, nothing
			// done with it.
			b.Run("store-history", func(b *testing.B) {
				cpu := cpuTime()
				for b.Loop() {
					n := 0
					err := h.store.History(context.Background(), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
						func(*store.Incident, []store.Entry) error { n++; return nil })
					if err != nil || n != 20000 {
						b.Fatalf("%d incidents, %v", n, err)
					}
				}
				b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
			})
		})
	}
}
