package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Fuzz tests for the config loader. Without -fuzz they run the seed corpus
// (the example configs, the f.Add seeds and testdata/fuzz/<Name>/*) as
// regression tests:
//
//	go test ./policy/ -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s
//	go test ./policy/ -run '^$' -fuzz '^FuzzMatcher$' -fuzztime 60s

// fuzzTimes are the instants loaded configs are asked about: around the
// examples' dates, across DST changes, and far from the tiers' starts.
var fuzzTimes = []time.Time{
	time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC),
	time.Date(2025, 10, 8, 14, 30, 0, 0, time.UTC),
	time.Date(2025, 9, 1, 12, 0, 0, 0, time.UTC),
	time.Date(2025, 11, 2, 6, 30, 0, 0, time.UTC), // New York falls back
	time.Date(2025, 3, 9, 7, 30, 0, 0, time.UTC),  // New York springs forward
	time.Date(2025, 3, 30, 1, 0, 0, 0, time.UTC),  // Europe springs forward
	time.Date(2025, 9, 7, 3, 30, 0, 0, time.UTC),  // Chile springs forward at midnight: 00:00-01:00 local does not exist
	time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2199, 12, 31, 23, 59, 59, 0, time.UTC),
}

// fuzzLabelSets are the alerts loaded configs route.
var fuzzLabelSets = []map[string]string{
	{},
	{"severity": "critical"},
	{"severity": "warning", "alertname": "DiskAlmostFull", "team": "db"},
	{"severity": "info", "category": "security_breach"},
	{"severity": "error", "category": "revenue_impact", "env": "prod"},
	{"severity": "page", "alertname": ""},
}

// fuzzExampleSeeds adds the example configs to a fuzz target's corpus.
func fuzzExampleSeeds(f *testing.F) [][]byte {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("..", "configs", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	if len(files) < 3 {
		f.Fatalf("found %d example configs in ../configs, want at least 3", len(files))
	}
	var out [][]byte
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// fuzzCheckConfigError checks that a Parse error is a *ConfigError for the
// file whose every line names the file.
func fuzzCheckConfigError(t *testing.T, err error, file string) {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Parse returned %T, want *ConfigError: %v", err, err)
	}
	if len(ce.Problems) == 0 {
		t.Fatalf("ConfigError without problems")
	}
	for _, l := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(l, file+": ") {
			t.Fatalf("error line %q does not start with %q: each problem must be one line naming the file; got:\n%v", l, file+": ", err)
		}
	}
}

// fuzzExercise asks a loaded config everything the daemon and the command
// line ask it, and checks what must hold of any valid config.
func fuzzExercise(t *testing.T, cfg *Config) {
	t.Helper()
	for i := range cfg.Services {
		s := &cfg.Services[i]
		p := cfg.Policy(s.EscalationPolicy)
		if p == nil || s.Scheme() == nil {
			t.Fatalf("service %q loaded without its policy or scheme", s.Name)
		}
		for _, tm := range fuzzTimes {
			for _, lbls := range fuzzLabelSets {
				r := cfg.Route(s, lbls, tm)
				if !s.Scheme().Has(r.Priority) {
					t.Fatalf("service %q routes %v to priority %q, not in scheme %s", s.Name, lbls, r.Priority, s.Scheme().Name)
				}
				if r.Urgency != UrgencyHigh && r.Urgency != UrgencyLow {
					t.Fatalf("service %q routes %v with urgency %q", s.Name, lbls, r.Urgency)
				}
				for _, l := range r.PageImmediately {
					if p.LevelIndex(l) < 0 {
						t.Fatalf("service %q pages level %q, which policy %q lacks", s.Name, l, p.Name)
					}
				}
			}
			for lv := range p.Levels {
				for _, pr := range s.Scheme().Priorities {
					if d, ok := cfg.LevelTimeout(s, lv, pr, tm); ok && d.Before(tm) {
						t.Fatalf("service %q level %d %s: timeout %s is before %s", s.Name, lv, pr, d, tm)
					}
				}
				for _, u := range cfg.LevelUsers(s, lv, tm) {
					if cfg.User(u) == nil {
						t.Fatalf("service %q level %d pages undefined user %q", s.Name, lv, u)
					}
				}
			}
			cal := cfg.Calendar(s)
			cal.IsOpen(tm)
			cal.NextBusinessDay(tm)
		}
	}
	for i := range cfg.Schedules {
		s := &cfg.Schedules[i]
		for _, tm := range fuzzTimes {
			shifts := s.OnCall(tm)
			if len(shifts) != len(s.Tiers) {
				t.Fatalf("schedule %q: OnCall gives %d shifts for %d tiers", s.Name, len(shifts), len(s.Tiers))
			}
			for _, sh := range shifts {
				if sh.User == "" {
					continue
				}
				if cfg.User(sh.User) == nil {
					t.Fatalf("schedule %q tier %q: on call is undefined user %q", s.Name, sh.Tier, sh.User)
				}
				if sh.From.After(tm) || !sh.Until.After(tm) {
					t.Fatalf("schedule %q: OnCall(%s) gives tier %q to %s for [%s, %s), which does not contain the instant asked about",
						s.Name, tm.Format(time.RFC3339), sh.Tier, sh.User, sh.From, sh.Until)
				}
			}
			s.Weeks(tm, 3)
			s.MarkdownTable(tm, 2, func(id string) string { return id })
			for _, sh := range s.Shifts(tm, tm.AddDate(0, 0, 7)) {
				if !sh.From.Before(sh.Until) || cfg.User(sh.User) == nil {
					t.Fatalf("schedule %q: shift %+v is empty or names an undefined user", s.Name, sh)
				}
			}
			if _, err := cfg.ICalendar(Feed{Schedule: s.Name, From: tm, Until: tm.AddDate(0, 0, 7), Stamp: tm}); err != nil {
				t.Fatalf("schedule %q: ICalendar: %v", s.Name, err)
			}
		}
	}
	if len(fuzzTimes) > 0 {
		cfg.FairnessWarnings(fuzzTimes[0])
	}
}

// fuzzSimulate runs one alert through the escalation machine on each
// service, when the policy is small enough for that to be quick.
func fuzzSimulate(t *testing.T, cfg *Config) {
	t.Helper()
	for i := range cfg.Services {
		s := &cfg.Services[i]
		p := cfg.Policy(s.EscalationPolicy)
		if p == nil || p.Repeat > 20 || len(p.Levels)*(p.Repeat+1) > 20 {
			continue
		}
		_, err := cfg.Simulate(SimOptions{
			Service:      s.Name,
			Labels:       map[string]string{"severity": "critical", "category": "data_loss"},
			At:           fuzzTimes[1],
			For:          3 * time.Hour,
			AckAfter:     7 * time.Minute,
			ResolveAfter: 150 * time.Minute,
			UpdateEvery:  40 * time.Minute,
		})
		if err != nil {
			t.Logf("simulate %s: %v", s.Name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, b := range fuzzExampleSeeds(f) {
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Add([]byte("---\n"))
	f.Add([]byte("services: []\n---\nusers: []\n"))
	f.Add([]byte("users: [{id: a, contacts: [{channel: push, via: log}]}]\n" +
		"escalation_policies: [{name: p, levels: [{targets: [{user: a}]}]}]\n" +
		"services: [{name: s, priority_scheme: P, escalation_policy: p, rules: [{matchers: ['x=~\"a|b\"'], priority: P0}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yaml", t.TempDir())
		if err != nil {
			fuzzCheckConfigError(t, err, "fuzz.yaml")
			return
		}
		if cfg == nil {
			t.Fatal("Parse returned neither a config nor an error")
		}
		fuzzExercise(t, cfg)
		fuzzSimulate(t, cfg)
	})
}

// fuzzMatcherBase is quickstart.yaml's text, read once.
var fuzzMatcherBase string

// fuzzMatcherConfig is quickstart.yaml with one rule, named "fuzz", whose only
// matcher is m written as a YAML scalar of the given style. ok is false when
// YAML cannot hold m in that style (invalid UTF-8, or a literal block that
// would not read back the same).
func fuzzMatcherConfig(t *testing.T, m string, style yaml.Style) (text string, ok bool) {
	t.Helper()
	rule := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "name"}, {Kind: yaml.ScalarNode, Value: "fuzz"},
		{Kind: yaml.ScalarNode, Value: "priority"}, {Kind: yaml.ScalarNode, Value: "P0"},
		{Kind: yaml.ScalarNode, Value: "matchers"}, {Kind: yaml.SequenceNode, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Style: style, Value: m},
		}},
	}}
	rules := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "rules"}, {Kind: yaml.SequenceNode, Content: []*yaml.Node{rule}},
	}}
	b, err := yaml.Marshal(rules)
	if err != nil {
		return "", false
	}
	// The emitter may pick another style than asked for; whatever it
	// wrote must read back as m, or the test below would test YAML.
	var back struct {
		Rules []struct {
			Matchers []string `yaml:"matchers"`
		} `yaml:"rules"`
	}
	if err := yaml.Unmarshal(b, &back); err != nil || len(back.Rules) != 1 || len(back.Rules[0].Matchers) != 1 || back.Rules[0].Matchers[0] != m {
		return "", false
	}
	// Indent the block as fields of quickstart's service, right after its
	// integration keys.
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	for i := range lines {
		lines[i] = "    " + lines[i]
	}
	const keys = "      pagerduty_routing_key: demo0000000000000000000000000000\n"
	if !strings.Contains(fuzzMatcherBase, keys) {
		t.Fatalf("quickstart.yaml no longer has %q; update fuzzMatcherConfig", keys)
	}
	return strings.Replace(fuzzMatcherBase, keys, keys+strings.Join(lines, "")+"\n", 1), true
}

// fuzzMatcherLabelSets are label sets to route: the fixed ones, plus one per
// matcher holding exactly its name and value, plus all of those together.
func fuzzMatcherLabelSets(ms labels.Matchers) []map[string]string {
	sets := append([]map[string]string(nil), fuzzLabelSets...)
	all := map[string]string{}
	for _, m := range ms {
		sets = append(sets, map[string]string{m.Name: m.Value})
		all[m.Name] = m.Value
	}
	return append(sets, all)
}

func FuzzMatcher(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("..", "configs", "quickstart.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	fuzzMatcherBase = string(b)
	for _, m := range []string{
		`severity="critical"`,
		`severity=critical`,
		`severity=~"critical|error"`,
		`{team="db", env!="dev"}`,
		`alertname!~"Watchdog|InfoInhibitor"`,
		`category=~"security_breach|data_loss|revenue_impact|customer_data_exposure|legal_violation"`,
		`severity=~"(("`,
		`=foo`,
		`foo`,
		`a=b,c=d,`,
		`{a="\xff"}`,
		"team=\"db\nops\"",
		`"quoted label"="x"`,
		``,
		`{}`,
	} {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, m string) {
		parsed, perr := labels.ParseMatchers(m)
		want := labels.Matchers(parsed)
		dir := t.TempDir()
		for _, style := range []yaml.Style{yaml.DoubleQuotedStyle, yaml.LiteralStyle} {
			text, ok := fuzzMatcherConfig(t, m, style)
			if !ok {
				continue
			}
			cfg, err := Parse([]byte(text), "fuzz.yaml", dir)
			if err != nil {
				fuzzCheckConfigError(t, err, "fuzz.yaml")
				if perr == nil && len(want) > 0 {
					t.Fatalf("labels.ParseMatchers(%q) gives %v, but the config with it fails:\n%v", m, want, err)
				}
				if perr != nil && !strings.Contains(err.Error(), "services[demo].rules[0].matchers[0]: bad matcher") {
					t.Fatalf("bad matcher %q: the error does not name the field:\n%v", m, err)
				}
				continue
			}
			// The loader took the matcher: Alertmanager must take it too,
			// and they must mean the same.
			if perr != nil {
				t.Fatalf("config loads with matcher %q, which labels.ParseMatchers rejects: %v", m, perr)
			}
			rule := &cfg.Services[0].Rules[0]
			if len(rule.Matchers) != 1 || rule.Matchers[0] != m {
				t.Fatalf("the rule's matcher reads back as %q, want %q", rule.Matchers, m)
			}
			if rule.matchers.String() != want.String() {
				t.Fatalf("the rule matches %s, labels.ParseMatchers gives %s", rule.matchers, want)
			}
			for _, tm := range fuzzTimes[:2] {
				for _, lbls := range fuzzMatcherLabelSets(want) {
					r := cfg.Route(&cfg.Services[0], lbls, tm)
					ls := model.LabelSet{}
					for k, v := range lbls {
						ls[model.LabelName(k)] = model.LabelValue(v)
					}
					matched := want.Matches(ls)
					if matched != (r.Rule == "fuzz") {
						t.Fatalf("labels %v: Alertmanager says match=%v, the route's rule is %q", lbls, matched, r.Rule)
					}
					if matched && r.Priority != "P0" {
						t.Fatalf("labels %v match the P0 rule, routed to %s", lbls, r.Priority)
					}
				}
			}
		}
	})
}
