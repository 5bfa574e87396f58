package policy

import (
	"os"
	"reflect"
	"strings"
	"testing"
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
	words := map[int]string{9: "nine"}
	if !strings.HasPrefix(overview, "The top level has "+words[n]+" sections") {
		t.Errorf("the overview does not say the top level has %d sections: %q", n, overview[:60])
	}
}
