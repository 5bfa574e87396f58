package gateway

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/pagerd/pagerd/gateway/dispatch"
)

// amFilterConfig routes every alert to a receiver whose name is full of
// regular-expression characters (pagerd asks by receiver with the
// quoted regular expression the webhook names it by), except those of team "other", which go to a
// receiver of their own with the same group labels. Neither notifies.
const amFilterConfig = `
route:
  receiver: 'pagerd.eu+(prod)'
  group_by: ['alertname', 'v']
  group_wait: 1h
  routes:
    - receiver: other
      matchers: ['team="other"']
receivers:
  - name: 'pagerd.eu+(prod)'
  - name: other
`

// TestRealAlertmanagerFilterEscapes asks Debian's real Alertmanager 0.25,
// as amresolve does (AlertmanagerSilencer.Firing and Fingerprints), about
// groups whose label values hold every character a matcher gives a
// meaning to, and about neighbouring groups whose value differs from
// theirs by one escaped character. A wrong escape either matches nothing
// (pagerd resolves an incident whose alerts fire: a missed page) or makes
// a filter Alertmanager refuses (the incident never resolves): each group
// must count and list exactly its own firing alerts, and none once they
// are resolved, while its neighbours still fire. Values too long for a
// URL (a proxy in front of Alertmanager refuses lines of 8 KiB, Go's
// server of 1 MiB) are asked about too.
func TestRealAlertmanagerFilterEscapes(t *testing.T) {
	am := amITStartAlertmanager(t, amITLookAlertmanager(t), amFilterConfig)
	// As the webhook names it, quoted as a regular expression, which is
	// what pagerd asks with.
	receiver := regexp.QuoteMeta("pagerd.eu+(prod)")
	long := strings.Repeat("x", 20<<10)
	huge := strings.Repeat(`"\y`, 100<<10) // 1.3 MB once escaped for a URL
	values := []string{
		`a"b`, `a\"b`, `a\\"b`, `a""b`,
		`a\b`, `a\\b`, `a\`, `a\\`, `\`, `"`,
		"a\nb", `a\nb`, "a\n", "\n",
		`a,b`, `a,b"`, `a}b`, `}`, `{a`, `{`, `{a="b"}`,
		`a=b`, `=`, `=~`, `a=~"b"`, `~a`, `!a`, `!=`, `!~.*`, `.*`,
		`a b`, `a b `, ` a b`, " ", "  ", "\t", "a\tb", "a\rb",
		"é", "e\u0301", "日本", "日本 ", `日"本`,
		"", `""`, `" "`, `''`, "``", `\"\"`, `null`,
		long, long + `"`, long + `\`,
		huge, huge + "x",
	}
	// Group i has 1 + i%3 alerts, all firing; most values above differ
	// from another by one character, escaped or not. Alertmanager drops
	// a label whose value is "": group v="" is that of alerts without v,
	// which the filter v="" matches.
	type group struct {
		value  string
		alerts []amITAlert
	}
	startsAt := time.Now().Add(-time.Minute).UTC()
	groups := make([]group, len(values))
	for i, v := range values {
		groups[i].value = v
		for n := range 1 + i%3 {
			groups[i].alerts = append(groups[i].alerts, amITAlert{
				Labels:   map[string]string{"alertname": "Filter", "v": v, "instance": fmt.Sprintf("host%d", n)},
				StartsAt: startsAt,
			})
		}
		am.postAlerts(t, groups[i].alerts...)
	}
	// The same group labels through another receiver: never counted.
	am.postAlerts(t, amITAlert{Labels: map[string]string{"alertname": "Filter", "v": `a"b`, "team": "other"}, StartsAt: startsAt})

	// nginx in front of Alertmanager, at its defaults, refuses a request
	// line over 8 KiB.
	target, err := url.Parse(am.url)
	if err != nil {
		t.Fatal(err)
	}
	proxied := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Method)+len(r.RequestURI)+len(" HTTP/1.1") > 8<<10 {
			http.Error(w, "414 Request-URI Too Large", http.StatusRequestURITooLong)
			return
		}
		proxied.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	amc := &dispatch.AlertmanagerSilencer{Timeout: 30 * time.Second}
	ctx := context.Background()
	short := func(v string) string {
		if len(v) > 40 {
			return fmt.Sprintf("%.40q... (%d bytes)", v, len(v))
		}
		return fmt.Sprintf("%q", v)
	}
	fingerprints := func(alerts []amITAlert) []string {
		var fps []string
		for _, a := range alerts {
			fps = append(fps, amITFingerprint(a.Labels))
		}
		slices.Sort(fps)
		return fps
	}
	// check asks about the group, and about it with label names no filter
	// can carry (left out: only more alerts may count, never fewer).
	check := func(g group, want []string) {
		t.Helper()
		for _, base := range []string{am.url, proxy.URL} {
			for _, extra := range []map[string]string{nil, {"service.name": "x", "0day": "y", "a-b": `"`}} {
				labels := map[string]string{"alertname": "Filter", "v": g.value}
				maps.Copy(labels, extra)
				what := fmt.Sprintf("group v=%s (and %v) at %s", short(g.value), slices.Sorted(maps.Keys(extra)), base)
				n, err := amc.Firing(ctx, base, receiver, labels)
				if err != nil {
					t.Errorf("Firing, %s: %v", what, err)
					continue
				}
				fps, err := amc.Fingerprints(ctx, base, receiver, labels)
				if err != nil {
					t.Errorf("Fingerprints, %s: %v", what, err)
					continue
				}
				slices.Sort(fps)
				if extra != nil {
					if n < len(want) || !isSubset(want, fps) {
						t.Errorf("%s: Firing %d, Fingerprints %v; want at least %v", what, n, fps, want)
					}
					continue
				}
				if n != len(want) {
					t.Errorf("Firing, %s: %d, want %d", what, n, len(want))
				}
				if !slices.Equal(fps, want) {
					t.Errorf("Fingerprints, %s: %v, want %v", what, fps, want)
				}
			}
		}
	}
	for _, g := range groups {
		check(g, fingerprints(g.alerts))
	}
	if t.Failed() {
		t.Logf("--- tail of Alertmanager's log ---\n%s", amITTail(am.logPath, 20))
		t.FailNow()
	}

	// Every other group resolves; its neighbours still fire.
	ended := time.Now().Add(-time.Second).UTC()
	for i := 0; i < len(groups); i += 2 {
		for j := range groups[i].alerts {
			groups[i].alerts[j].EndsAt = ended
		}
		am.postAlerts(t, groups[i].alerts...)
	}
	for i, g := range groups {
		var want []string
		if i%2 == 1 {
			want = fingerprints(g.alerts)
		}
		check(g, want)
	}
}

// isSubset says whether every element of sorted a is in sorted b.
func isSubset(a, b []string) bool {
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			return false
		}
	}
	return true
}

// amITFingerprint is the fingerprint Alertmanager gives an alert with
// these labels: it drops those with an empty value as it takes the alert.
func amITFingerprint(labels map[string]string) string {
	ls := make(model.LabelSet, len(labels))
	for k, v := range labels {
		if v != "" {
			ls[model.LabelName(k)] = model.LabelValue(v)
		}
	}
	return ls.Fingerprint().String()
}
