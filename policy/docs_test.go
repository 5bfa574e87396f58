package policy

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestConfigDocListsEverySection: docs/CONFIG.md has a section for every
// top-level key of the config, and its overview of the top level names
// them all.
func TestConfigDocListsEverySection(t *testing.T) {
	doc, err := os.ReadFile("../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "The top level has ")
	if start < 0 {
		t.Fatal("docs/CONFIG.md has no overview of the top level")
	}
	overview := text[start:]
	overview = overview[:strings.Index(overview, "```\n\n")]
	ct := reflect.TypeOf(Config{})
	n := 0
	for i := 0; i < ct.NumField(); i++ {
		tag := strings.Split(ct.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		n++
		if !strings.Contains(text, "\n## `"+tag+"`\n") {
			t.Errorf("docs/CONFIG.md has no section ## `%s`", tag)
		}
		if !strings.Contains(overview, "\n"+tag+": ") {
			t.Errorf("the top-level overview does not list %s:\n%s", tag, overview)
		}
		if !strings.Contains(text, "](#"+tag+")") {
			t.Errorf("the contents do not link to %s", tag)
		}
	}
	words := map[int]string{9: "nine", 10: "ten", 11: "eleven", 12: "twelve"}
	if !strings.HasPrefix(overview, "The top level has "+words[n]+" sections") {
		t.Errorf("the overview does not say the top level has %d sections: %q", n, overview[:60])
	}
}

// docYAML is the n-th (0-based) ```yaml block of the section of
// docs/CONFIG.md headed heading.
func docYAML(t *testing.T, heading string, n int) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("docs/CONFIG.md has no %q", heading)
	}
	sec := text[i+1:]
	if j := strings.Index(sec[1:], "\n#"); j >= 0 {
		sec = sec[:j+1]
	}
	blocks := strings.Split(sec, "```yaml\n")
	if len(blocks) <= n+1 {
		t.Fatalf("%s has %d yaml blocks, want %d", heading, len(blocks)-1, n+1)
	}
	return blocks[n+1][:strings.Index(blocks[n+1], "```")]
}

// docTierConfig loads a config whose one schedule (New York, Monday 08:00)
// has the tier the docs show.
func docTierConfig(t *testing.T, tier string) *Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("users:\n")
	for _, u := range []string{"marcus", "emily", "alex", "jennifer", "priya", "tom", "david", "sarah"} {
		b.WriteString("  - {id: " + u + ", contacts: [{channel: push, via: log}]}\n")
	}
	b.WriteString("schedules:\n  - name: s\n    time_zone: America/New_York\n    handoff: {weekday: monday, time: \"08:00\"}\n    tiers:\n" + tier)
	cfg, err := Parse([]byte(b.String()), "doc.yaml", t.TempDir())
	if err != nil {
		t.Fatalf("the docs' example does not load: %v\n%s", err, b.String())
	}
	return cfg
}

// TestConfigDocRosterChangeExample: the roster change the docs walk
// through does what they say.
func TestConfigDocRosterChangeExample(t *testing.T) {
	s := docTierConfig(t, docYAML(t, "### Roster changes", 0)).Schedule("s")
	ny := s.Location()
	var got []string
	for _, w := range s.Weeks(time.Date(2025, 10, 27, 8, 0, 0, 0, ny), 7) {
		got = append(got, w.Holders[0])
	}
	// "from Nov 3 the turns are Jennifer, Priya, Marcus, Emily, Alex, Jennifer"
	if want := "[alex jennifer priya marcus emily alex jennifer]"; fmt.Sprint(got) != want {
		t.Errorf("from Oct 27: %v, want %s", got, want)
	}
	// "on Jan 5 it would be Alex's turn, and he has left, so Jennifer goes on"
	got = nil
	for _, w := range s.Weeks(time.Date(2025, 12, 29, 8, 0, 0, 0, ny), 3) {
		got = append(got, w.Holders[0])
	}
	if want := "[emily jennifer priya]"; fmt.Sprint(got) != want {
		t.Errorf("from Dec 29: %v, want %s", got, want)
	}
}

// TestConfigDocLayersExample: business hours over a 24/7 rotation, and the
// weekend window, as the docs show them.
func TestConfigDocLayersExample(t *testing.T) {
	cfg := docTierConfig(t, docYAML(t, "### Layers and restrictions", 1))
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	s := cfg.Schedule("s")
	ny := s.Location()
	for _, tc := range []struct {
		at   time.Time
		user string
	}{
		{time.Date(2025, 8, 18, 8, 30, 0, 0, ny), "marcus"}, // Monday before the office opens
		{time.Date(2025, 8, 18, 9, 0, 0, 0, ny), "priya"},   // the office layer, day 0
		{time.Date(2025, 8, 19, 12, 0, 0, 0, ny), "tom"},    // day 1
		{time.Date(2025, 8, 22, 16, 59, 0, 0, ny), "priya"}, // Friday, day 4
		{time.Date(2025, 8, 22, 17, 0, 0, 0, ny), "david"},  // the weekend layer
		{time.Date(2025, 8, 25, 7, 59, 0, 0, ny), "david"},  // until Monday 08:00
		{time.Date(2025, 8, 25, 8, 0, 0, 0, ny), "emily"},   // the base's next week
		{time.Date(2025, 8, 29, 18, 0, 0, 0, ny), "sarah"},  // the next weekend
	} {
		if sh, _ := s.OnCallTier("primary", tc.at); sh.User != tc.user {
			t.Errorf("at %s: %s, want %s", tc.at, sh.User, tc.user)
		}
	}
}

// TestConfigDocNamesEveryKey: every key of the config's YAML, at any depth,
// is named in the docs/CONFIG.md section of its top-level key (as `key`,
// `parent.key`, key: in an example, or {key: ...}), so a key check-config
// accepts is never one a reader cannot look up. TestConfigDocListsEverySection
// checks the top level only.
func TestConfigDocNamesEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	parts := strings.Split(string(doc), "\n## `")
	for _, p := range parts[1:] {
		name, body, _ := strings.Cut(p, "`\n")
		if i := strings.Index(body, "\n## "); i >= 0 {
			body = body[:i]
		}
		sections[name] = body
	}
	// Keys the struct has but check-config refuses where they sit.
	refused := map[string]bool{
		"server.rate_limit.concurrency": true, // RateLimit's, for notifiers.rate_limits only
	}
	seen := map[reflect.Type]bool{}
	var walk func(ty reflect.Type, top, path string)
	walk = func(ty reflect.Type, top, path string) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice || ty.Kind() == reflect.Map || ty.Kind() == reflect.Array {
			ty = ty.Elem()
		}
		// pagerd's own structs, and anonymous ones (no package path), not time.Time's.
		if ty.Kind() != reflect.Struct || seen[ty] || (ty.PkgPath() != "" && !strings.HasPrefix(ty.PkgPath(), "github.com/pagerd/pagerd")) {
			return
		}
		seen[ty] = true
		defer delete(seen, ty)
		for i := 0; i < ty.NumField(); i++ {
			f := ty.Field(i)
			tag := f.Tag.Get("yaml")
			name := strings.Split(tag, ",")[0]
			if strings.Contains(tag, ",inline") {
				walk(f.Type, top, path)
				continue
			}
			if name == "" || name == "-" {
				continue
			}
			p, tp := name, top
			if path != "" {
				p = path + "." + name
			} else {
				tp = name
			}
			if path != "" && !refused[p] {
				named := false
				for _, form := range []string{"`" + name + "`", "`" + name + ":", "." + name + "`", "." + name + ",", " " + name + ":", "{" + name + ":", "`" + name + "[", "." + name + "[", "`" + name + ".", "." + name + "."} {
					named = named || strings.Contains(sections[tp], form)
				}
				if !named {
					t.Errorf("docs/CONFIG.md's section `%s` does not name %s", tp, p)
				}
			}
			walk(f.Type, tp, p)
		}
	}
	walk(reflect.TypeOf(Config{}), "", "")
}
