package policy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// docExample is one ```yaml block of README.md or docs/*.md, with the
// marker comment on the line before it, if any.
type docExample struct {
	file   string // relative to the repository's root
	line   int    // of the opening fence
	marker string // the text of <!-- example: ... -->, trimmed
	text   string // the block, its fence's indentation removed
}

var (
	fenceRE  = regexp.MustCompile("^( *)```(\\S*)\\s*$")
	markerRE = regexp.MustCompile(`^\s*<!-- example: (.*) -->\s*$`)
)

// docExamples finds every ```yaml block of README.md and docs/*.md.
func docExamples(t *testing.T) []docExample {
	t.Helper()
	files, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{"../README.md"}, files...)
	var out []docExample
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			m := fenceRE.FindStringSubmatch(lines[i])
			if m == nil {
				continue
			}
			indent, lang, start := len(m[1]), m[2], i
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			}
			if lang != "yaml" && lang != "yml" {
				continue
			}
			var body strings.Builder
			for _, l := range lines[start+1 : i] {
				if len(l) >= indent && strings.TrimSpace(l[:indent]) == "" {
					l = l[indent:]
				}
				body.WriteString(l + "\n")
			}
			ex := docExample{file: strings.TrimPrefix(f, "../"), line: start + 1, text: body.String()}
			if start > 0 {
				if mm := markerRE.FindStringSubmatch(lines[start-1]); mm != nil {
					ex.marker = strings.TrimSpace(mm[1])
				}
			}
			out = append(out, ex)
		}
	}
	return out
}

// mergeYAML merges src, an example, into dst, a section of the base config
// or the thing at= names, as pasting it there would: every key the example
// gives takes its value whole (a user's contacts, a service's targets),
// except that lists of things with an id or a name (users, services, a
// schedule's tiers) are merged thing by thing, here and at the top level's
// sections. A thing with the same id or name as one of dst's takes the
// example's keys and keeps the rest (the example adds a field to it), or,
// with replace, is replaced whole; any other thing is added.
func mergeYAML(dst, src *yaml.Node, replace bool) {
	switch {
	case dst.Kind == yaml.MappingNode && src.Kind == yaml.MappingNode:
		for i := 0; i < len(src.Content); i += 2 {
			k := src.Content[i].Value
			dropTwin(dst, k)
			v := mapValue(dst, k)
			switch {
			case v == nil:
				dst.Content = append(dst.Content, src.Content[i], src.Content[i+1])
			case v.Kind == yaml.SequenceNode && named(src.Content[i+1]):
				mergeYAML(v, src.Content[i+1], replace)
			default:
				*v = *src.Content[i+1]
			}
		}
	case dst.Kind == yaml.SequenceNode && src.Kind == yaml.SequenceNode && named(src):
		for _, item := range src.Content {
			d := seqItem(dst, itemName(item))
			switch {
			case d == nil:
				dst.Content = append(dst.Content, item)
			case replace:
				*d = *item
			default:
				mergeYAML(d, item, replace)
			}
		}
	default:
		*dst = *src
	}
}

// named says whether every item of the list has an id or a name.
func named(list *yaml.Node) bool {
	for _, item := range list.Content {
		if itemName(item) == "" {
			return false
		}
	}
	return len(list.Content) > 0
}

// dropTwin removes from m the other form of the secret key names (token
// for token_file, and the other way round): an example's replaces the
// base's.
func dropTwin(m *yaml.Node, key string) {
	if twin, ok := strings.CutSuffix(key, "_file"); ok {
		deleteKey(m, twin)
	} else {
		deleteKey(m, key+"_file")
	}
}

func deleteKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func itemName(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for _, k := range []string{"id", "name"} { // a user's name is their display name
		if v := mapValue(n, k); v != nil {
			return v.Value
		}
	}
	return ""
}

func seqItem(s *yaml.Node, name string) *yaml.Node {
	if name == "" {
		return nil
	}
	for _, item := range s.Content {
		if itemName(item) == name {
			return item
		}
	}
	return nil
}

// nodeAt finds the node a path such as services[checkout].rules names in
// root, list items by their name or id.
func nodeAt(root *yaml.Node, path string) (*yaml.Node, error) {
	n := root
	for _, seg := range strings.Split(path, ".") {
		key, item, _ := strings.Cut(strings.TrimSuffix(seg, "]"), "[")
		if n = mapValue(n, key); n == nil {
			return nil, fmt.Errorf("no %s", key)
		}
		if item != "" {
			if n = seqItem(n, item); n == nil {
				return nil, fmt.Errorf("no %s[%s]", key, item)
			}
		}
	}
	return n, nil
}

func yamlDoc(t *testing.T, text, what string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("%s is not YAML: %v\n%s", what, err, text)
	}
	if len(doc.Content) == 0 {
		t.Fatalf("%s is empty", what)
	}
	return doc.Content[0]
}

// TestDocsYAMLExamples: every config example of README.md and docs/*.md
// loads, so a reader who pastes one into their config gets what it shows.
// A block is a whole config or, by default, a fragment merged into
// configs/quickstart.yaml (lists by name or id). The line before a block
// may say otherwise:
//
//	<!-- example: base=configs/aivo.yaml at=services[aivo-production] -->
//	<!-- example: base=configs/aivo.yaml replace -->
//	<!-- example: whole -->
//	<!-- example: alertmanager -->
//	<!-- example: not pagerd's (a Prometheus rule) -->
//
// base= names the config the fragment goes into, at= the place in it the
// block's top level is (a map merged into it, or list items added to it);
// replace has things of the same name replaced whole rather than merged.
// alertmanager marks a piece of Alertmanager's config, which
// TestDocsAlertmanagerExamples checks.
// Anything the loader refuses, and any warning but a secret not set here,
// fails the test.
func TestDocsYAMLExamples(t *testing.T) {
	exs := docExamples(t)
	loaded := 0
	for _, ex := range exs {
		if !strings.HasPrefix(ex.marker, "not") && ex.marker != "alertmanager" {
			loaded++
		}
	}
	// 40 of the 50 blocks are pagerd's config today.
	if loaded < 35 {
		t.Fatalf("found %d yaml blocks of pagerd's config (of %d); the extraction or the markers are broken", loaded, len(exs))
	}
	for _, ex := range exs {
		t.Run(fmt.Sprintf("%s:%d", ex.file, ex.line), func(t *testing.T) {
			c := loadDocExample(t, ex)
			for _, w := range c.warnings {
				t.Errorf("warning: %s\n--- the example\n%s", w, ex.text)
			}
		})
	}
}

// loadDocExample loads the example as its marker says (see
// TestDocsYAMLExamples), skipping the test for one that is not pagerd's.
func loadDocExample(t *testing.T, ex docExample) *Config {
	t.Helper()
	name := fmt.Sprintf("%s:%d", ex.file, ex.line)
	base, at, whole, replace := "configs/quickstart.yaml", "", false, false
	for _, f := range strings.Fields(ex.marker) {
		switch k, v, _ := strings.Cut(f, "="); k {
		case "base":
			base = v
		case "at":
			at = v
		case "whole":
			whole = true
		case "replace":
			replace = true
		case "not":
			t.Skip(ex.marker)
		case "alertmanager":
			t.Skip("an Alertmanager example: TestDocsAlertmanagerExamples")
		default:
			t.Fatalf("unknown marker word %q in %q", f, ex.marker)
		}
	}
	text := ex.text
	if !whole {
		b, err := os.ReadFile("../" + base)
		if err != nil {
			t.Fatal(err)
		}
		root := yamlDoc(t, string(b), base)
		frag := yamlDoc(t, ex.text, "the example")
		if at == "" {
			if frag.Kind != yaml.MappingNode {
				t.Fatalf("a list with no at= to say where it goes:\n%s", ex.text)
			}
			// Each section the example gives is merged into the
			// base's.
			for i := 0; i < len(frag.Content); i += 2 {
				if v := mapValue(root, frag.Content[i].Value); v != nil {
					mergeYAML(v, frag.Content[i+1], replace)
				} else {
					root.Content = append(root.Content, frag.Content[i], frag.Content[i+1])
				}
			}
		} else {
			target, err := nodeAt(root, at)
			if err != nil {
				t.Fatalf("%s in %s: %v", at, base, err)
			}
			mergeYAML(target, frag, replace)
		}
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(root); err != nil {
			t.Fatal(err)
		}
		text = buf.String()
	}
	c, err := Parse([]byte(text), name, t.TempDir())
	if err != nil {
		t.Fatalf("does not load:\n%v\n--- the example\n%s--- as loaded\n%s", err, ex.text, text)
	}
	return c
}

// docExampleWith is the one yaml block of file (README.md, docs/CONFIG.md)
// that contains text.
func docExampleWith(t *testing.T, file, text string) docExample {
	t.Helper()
	var found []docExample
	for _, ex := range docExamples(t) {
		if ex.file == file && strings.Contains(ex.text, text) {
			found = append(found, ex)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d yaml blocks of %s contain %q, want 1", len(found), file, text)
	}
	return found[0]
}

// TestReadmeInShortRepeat: the README's config in short says how long its
// policy pages a P0 nobody acknowledges, and it is what the engine does:
// repeat is a number of rounds, after which the last level stays paged
// and nobody is called again.
func TestReadmeInShortRepeat(t *testing.T) {
	ex := docExampleWith(t, "README.md", "name: prod\n")
	c := loadDocExample(t, ex)
	res, err := c.Simulate(SimOptions{
		Service: "production",
		Labels:  map[string]string{"severity": "critical"},
		At:      time.Date(2025, 9, 3, 20, 0, 0, 0, time.UTC),
		For:     24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	var last SimEvent
	for _, e := range res.Events {
		if e.Type == "notify" {
			last = e
		}
	}
	if res.Priority != "P0" || last.Channel != "voice" {
		t.Fatalf("a critical alert is %s, its last page %+v", res.Priority, last)
	}
	said := "its last call at " + Duration(time.Duration(last.OffsetSeconds)*time.Second).String()
	if !strings.Contains(ex.text, said) {
		t.Errorf("the README's policy pages an unacknowledged P0 until its call at +%ds, but its repeat comment does not say %q:\n%s", last.OffsetSeconds, said, ex.text)
	}
}

// TestConfigDocMatchEveryAlert: the matcher docs/CONFIG.md gives for a
// rule that matches every alert matches every kind pagerd takes in, those
// without an alertname (PagerDuty events, Opsgenie alerts) included.
func TestConfigDocMatchEveryAlert(t *testing.T) {
	doc, err := os.ReadFile("../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("To match every alert, write `([^`]+)`").FindStringSubmatch(strings.Join(strings.Fields(string(doc)), " "))
	if m == nil {
		t.Fatal("docs/CONFIG.md no longer says how to match every alert")
	}
	c := loadDocExample(t, docExample{
		file: "docs/CONFIG.md", marker: "at=services[demo]",
		text: "rules:\n  - {name: every, matchers: ['" + m[1] + "'], priority: P3}\n",
	})
	for _, lbls := range []map[string]string{
		{"alertname": "DiskFull", "severity": "critical"},        // Alertmanager
		{"alertname": "HeartbeatMissing", "heartbeat": "backup"}, // a heartbeat
		{"severity": "critical", "source": "db1"},                // a PagerDuty event
		{"priority": "P1", "severity": "critical"},               // an Opsgenie alert
	} {
		if r := c.Route(c.Service("demo"), lbls, time.Date(2025, 9, 3, 12, 0, 0, 0, time.UTC)); r.Rule != "every" {
			t.Errorf("%s does not match %v (routed by %s)", m[1], lbls, r.Rule)
		}
	}
}

// TestConfigDocFairnessWarning: the warning docs/CONFIG.md shows for a
// fairness rule is one check-config gives for the rule and week it names.
func TestConfigDocFairnessWarning(t *testing.T) {
	doc, err := os.ReadFile("../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(doc)), " ")
	m := regexp.MustCompile("With AION-R's primary and secondary counted together \\(`(\\{[^`]+\\})`\\), the week of Oct 13: `([^`]+)`").FindStringSubmatch(text)
	if m == nil {
		t.Fatal("docs/CONFIG.md no longer shows a fairness warning of AION-R's")
	}
	c := loadDocExample(t, docExample{
		file: "docs/CONFIG.md", marker: "base=configs/aion-r.yaml at=schedules[aion-r-oncall]",
		text: "fairness: [" + m[1] + "]\n",
	})
	got := c.FairnessWarnings(time.Date(2025, 10, 13, 12, 0, 0, 0, time.UTC))
	for _, w := range got {
		if w == m[2] {
			return
		}
	}
	t.Errorf("check-config does not warn %q; it warns:\n%s", m[2], strings.Join(got, "\n"))
}

// TestDocsAlertmanagerExamples: every piece of alertmanager.yml the docs
// show is configs/examples/alertmanager.yml's, which the tests run in a
// real Alertmanager: a receiver of the same name is the same, key for key;
// a receiver of the reader's own name is the example file's receiver of
// its kind, but for where its secret files are; a route is one of the
// file's. A copy that drifted from the file (a priority template that
// sends an error as Opsgenie's P3, a PagerDuty receiver without the
// severity template) fails.
func TestDocsAlertmanagerExamples(t *testing.T) {
	b, err := os.ReadFile("../configs/examples/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Route     map[string]any   `yaml:"route"`
		Receivers []map[string]any `yaml:"receivers"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ex := range docExamples(t) {
		if ex.marker != "alertmanager" {
			continue
		}
		n++
		t.Run(fmt.Sprintf("%s:%d", ex.file, ex.line), func(t *testing.T) {
			var doc struct {
				Route     map[string]any   `yaml:"route"`
				Receivers []map[string]any `yaml:"receivers"`
			}
			if err := yaml.Unmarshal([]byte(ex.text), &doc); err != nil {
				t.Fatalf("%v\n%s", err, ex.text)
			}
			for _, r := range doc.Receivers {
				want := amReceiverLike(file.Receivers, r)
				if want == nil {
					t.Errorf("configs/examples/alertmanager.yml has no receiver like %v", r)
				} else if got := withoutSecretFiles(r, want); !reflect.DeepEqual(got, want) {
					t.Errorf("receiver %v is not the example file's:\n%v", got, want)
				}
			}
			for _, sub := range amRoutes(doc.Route) {
				found := false
				for _, w := range amRoutes(file.Route) {
					found = found || reflect.DeepEqual(sub, w)
				}
				if !found {
					t.Errorf("route %v is none of the example file's", sub)
				}
			}
		})
	}
	if n < 5 {
		t.Errorf("%d Alertmanager examples found; the markers are gone", n)
	}
}

// amReceiverLike is the receiver of the file that a doc's receiver copies:
// the one of its name, or else the one with the same kinds of configs.
func amReceiverLike(file []map[string]any, r map[string]any) map[string]any {
	for _, f := range file {
		if f["name"] == r["name"] {
			return f
		}
	}
	for _, f := range file {
		if len(f) != len(r) {
			continue
		}
		same := true
		for k := range r {
			_, ok := f[k]
			same = same && ok
		}
		if same {
			return f
		}
	}
	return nil
}

// withoutSecretFiles is the doc's receiver r with the file's name and
// secret file paths, when it is a receiver of the reader's own name.
func withoutSecretFiles(r, file map[string]any) map[string]any {
	if r["name"] == file["name"] {
		return r
	}
	b, _ := yaml.Marshal(r)
	var out map[string]any
	_ = yaml.Unmarshal(b, &out)
	out["name"] = file["name"]
	for k, v := range out {
		confs, ok := v.([]any)
		if !ok {
			continue
		}
		want, _ := file[k].([]any)
		for i, c := range confs {
			cm, ok := c.(map[string]any)
			if !ok || i >= len(want) {
				continue
			}
			for ck := range cm {
				if strings.HasSuffix(ck, "_file") {
					cm[ck] = want[i].(map[string]any)[ck]
				}
			}
		}
	}
	return out
}

// amRoutes are the routes under route: (its own settings are the
// reader's: receiver, grouping).
func amRoutes(route map[string]any) []any {
	if route == nil {
		return nil
	}
	routes, _ := route["routes"].([]any)
	return routes
}
