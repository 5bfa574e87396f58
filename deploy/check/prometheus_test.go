package check

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The alert rules for pagerd itself pass Debian's promtool (syntax and
// PromQL), their unit tests pass (each alert fires on trouble and not on
// health), and every pagerd metric they use is one pagerd exports.
func TestPrometheusRules(t *testing.T) {
	dir := repo("deploy", "prometheus")
	for _, args := range [][]string{{"check", "rules", "pagerd-rules.yml"}, {"test", "rules", "pagerd-rules.test.yml"}} {
		cmd := exec.Command("promtool", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	rules, err := os.ReadFile(filepath.Join(dir, "pagerd-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "deploy" || d.Name() == ".git" || d.Name() == "dist") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			src.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bpagerd_[a-z_]+`).FindAllString(string(rules), -1) {
		used[strings.TrimSuffix(m, "_bucket")] = true
	}
	if len(used) < 6 {
		t.Fatalf("the rules use only %v", used)
	}
	for m := range used {
		if !strings.Contains(src.String(), `"`+m+`"`) {
			t.Errorf("the rules use %s, which pagerd does not export", m)
		}
	}
}
