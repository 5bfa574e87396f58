//go:build load

package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/redistest"
)

// TestLoadDispatch: 300 alerts a second for 60 s over three replicas on one
// Redis, to twelve people (storm bundling on, as shipped), with a ladder
// short enough that SMS and calls come due during the run (push at once,
// SMS at 10 s, call at 20 s). Step lateness is from the dispatchers' own
// histogram (pagerd_dispatch_lateness_seconds: a page from its step's
// time, a storm message from its window's end), summed over the replicas;
// the pages that went out on their own are also timed at the receiver,
// from their alert's scheduled send plus the step's offset.
func TestLoadDispatch(t *testing.T) {
	many := make([]string, 1200)
	for i := range many {
		many[i] = fmt.Sprintf("u%04d", i)
	}
	for _, tc := range []struct {
		name   string
		people []string
	}{
		// Twelve people: most pages fold into storm messages.
		{"12 people", loadPeople},
		// 1,200 people, each sent an alert every 4 s: nearly every page
		// goes out on its own, 900 steps a second at the peak, the
		// dispatcher's own throughput.
		{"1200 people", many},
	} {
		t.Run(tc.name, func(t *testing.T) { loadDispatch(t, tc.people) })
	}
}

func loadDispatch(t *testing.T, people []string) {
	recv := &receiver{}
	rs := httptest.NewServer(recv)
	defer rs.Close()
	cfg := addLadder(loadRunConfigFor(rs.URL, people), "[{after: 0s, channel: push}, {after: 10s, channel: sms}, {after: 20s, channel: voice}]")
	path := filepath.Join(t.TempDir(), "pagerd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := redistest.Start(t)
	var ds []*daemon
	for i := 0; i < 3; i++ {
		ds = append(ds, startDaemonLog(t, io.Discard, filepath.Join(filepath.Dir(path), fmt.Sprintf("r%d.log", i)), fmt.Sprintf("r%d", i), path, freeAddr(t), "--redis-url", r.URL()))
	}
	l := &loadRun{t: t, d: ds[0], recv: recv, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}}
	start := time.Now().Add(500 * time.Millisecond)
	const rate, secs = 300, 60
	for i := 0; i < rate*secs; i++ {
		l.d = ds[i%3]
		l.fire(people[i%len(people)], start.Add(time.Duration(i)*time.Second/rate))
	}
	res := l.collect(start.Add((secs + 35) * time.Second))
	var buckets []float64
	var counts []float64
	for _, d := range ds {
		b, c := latenessHistogram(t, d)
		if buckets == nil {
			buckets, counts = b, make([]float64, len(c))
		}
		for i := range c {
			counts[i] += c[i]
		}
	}
	total := counts[len(counts)-1]
	q := func(p float64) string {
		for i, c := range counts {
			if c >= p*total {
				if math.IsInf(buckets[i], 1) {
					return "over 60 s"
				}
				return fmt.Sprintf("≤ %s", time.Duration(buckets[i]*float64(time.Second)))
			}
		}
		return "?"
	}
	over := func(s float64) float64 {
		for i, b := range buckets {
			if b >= s {
				return total - counts[i]
			}
		}
		return 0
	}
	// The pages sent on their own, timed at the receiver.
	steps := map[string]time.Duration{"push": 0, "sms": 10 * time.Second, "voice": 20 * time.Second}
	var single []time.Duration
	for _, m := range res.msgs {
		if len(m.incidents) > 0 {
			continue
		}
		if s, ok := res.sent[m.incident]; ok {
			single = append(single, m.at.Sub(s.at.Add(steps[m.channel])))
		}
	}
	sort.Slice(single, func(i, j int) bool { return single[i] < single[j] })
	storms := 0
	for _, m := range res.msgs {
		if len(m.incidents) > 0 {
			storms++
		}
	}
	t.Logf("%d people: %d alerts, %d failed; %d messages (%d storm messages); dispatcher step lateness over %0.f steps: p50 %s, p99 %s, max bucket %s, over 500 ms: %0.f, over 1 s: %0.f; pages on their own at the receiver: %d, late p50 %s p99 %s max %s",
		len(people), len(res.sent), res.errs, len(res.msgs), storms, total, q(.5), q(.99), q(1), over(.5), over(1),
		len(single), ms(pct(single, .5)), ms(pct(single, .99)), ms(pct(single, 1)))
	if over(.5) > total*0.01 || over(1) > 0 {
		t.Errorf("step lateness: %.0f of %.0f steps over 500 ms, %.0f over 1 s; target p99 < 500 ms, max < 1 s", over(.5), total, over(1))
	}
}

// addLadder gives every user of a load config the notification rules.
func addLadder(cfg, rules string) string {
	var b strings.Builder
	for _, line := range strings.Split(cfg, "\n") {
		if strings.HasPrefix(line, "  - {id: ") && strings.HasSuffix(line, "]}") {
			line = strings.TrimSuffix(line, "}") + ", notification_rules: {high: " + rules + "}}"
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// latenessHistogram reads a replica's pagerd_dispatch_lateness_seconds:
// the bucket bounds and their cumulative counts (the last is +Inf).
func latenessHistogram(t *testing.T, d *daemon) ([]float64, []float64) {
	t.Helper()
	resp, err := http.Get("http://" + d.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var bounds, counts []float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "pagerd_dispatch_lateness_seconds_bucket{") {
			continue
		}
		le := line[strings.Index(line, `le="`)+4:]
		le = le[:strings.IndexByte(le, '"')]
		b, _ := strconv.ParseFloat(le, 64)
		if le == "+Inf" {
			b = math.Inf(1)
		}
		c, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		bounds, counts = append(bounds, b), append(counts, c)
	}
	return bounds, counts
}
