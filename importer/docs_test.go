package importer

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pagerd/pagerd/policy"
)

// TestConfigDocOpsgenieRulesAreWhatImportWrites: the rules docs/CONFIG.md
// says `pagerd import opsgenie` writes are the ones it writes, names
// included, so a reader can find them in their imported config.
func TestConfigDocOpsgenieRulesAreWhatImportWrites(t *testing.T) {
	doc, err := os.ReadFile("../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	i := strings.Index(text, "`pagerd import opsgenie` writes already match on `priority`:")
	if i < 0 {
		t.Fatal("docs/CONFIG.md no longer shows the rules pagerd import opsgenie writes")
	}
	block := text[i:]
	block = block[strings.Index(block, "```yaml\n")+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	var shown struct {
		Rules []outRule `yaml:"rules"`
	}
	if err := yaml.Unmarshal([]byte(block), &shown); err != nil {
		t.Fatalf("%v\n%s", err, block)
	}
	sc, err := policy.LookupScheme("P0-P3")
	if err != nil {
		t.Fatal(err)
	}
	written := opsgenieRules(sc)
	if len(shown.Rules) == 0 || len(shown.Rules) > len(written) || !reflect.DeepEqual(shown.Rules, written[:len(shown.Rules)]) {
		t.Errorf("docs/CONFIG.md shows the rules\n%+v\nbut pagerd import opsgenie writes\n%+v", shown.Rules, written)
	}
}
