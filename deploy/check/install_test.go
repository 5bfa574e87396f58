package check

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// `make build` then `sudo make install`, as the README says: sudo runs
// make with its secure_path, which leaves out where Go's own installer
// puts go (/usr/local/go/bin), so install must not need go to install
// what build made.
func TestMakeInstallUnderSudo(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "pagerd")
	if out, err := exec.Command("make", "-C", root, "--no-print-directory", "build", "BIN="+bin).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	const securePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" // Debian's sudoers
	if p, err := exec.LookPath("go"); err == nil && slices.Contains(filepath.SplitList(securePath), filepath.Dir(p)) {
		t.Skip("go is on sudo's secure_path here")
	}
	prefix := filepath.Join(dir, "prefix")
	cmd := exec.Command("make", "-C", root, "--no-print-directory", "install", "BIN="+bin, "PREFIX="+prefix)
	cmd.Env = []string{"PATH=" + securePath, "HOME=" + os.Getenv("HOME")}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install with sudo's PATH: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(prefix, "bin", "pagerd"), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "pagerd ") {
		t.Fatalf("the installed pagerd: %v %s", err, out)
	}
}
