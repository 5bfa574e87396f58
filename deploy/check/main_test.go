// Package check holds the tests of deploy/: every way README.md gives to
// install pagerd is built or rendered here and checked the strict way a
// cluster, a container runtime or systemd would check it, and run where
// this machine can run it. `make deploy-check` (part of `make test`) runs
// them; they build the release and the image with the same make targets a
// user runs.
package check

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// testVersion is the version the tests build the release and image as.
const testVersion = "0.1.0-check"

var (
	root   string // the repository
	dist   string // where `make release image` wrote
	commit string
	// pagerdBin is the static linux binary of the host's architecture
	// from the release.
	pagerdBin string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if root, err = filepath.Abs("../.."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "pagerd-deploy-check")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	dist = filepath.Join(tmp, "dist")
	out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "git rev-parse:", err)
		return 1
	}
	commit = strings.TrimSpace(string(out))
	// The README's commands: make release, make image.
	cmd := exec.Command("make", "-C", root, "--no-print-directory", "release", "image", "VERSION=v"+testVersion, "DIST="+dist)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "make release image:", err)
		return 1
	}
	pagerdBin = filepath.Join(dist, "pagerd-"+testVersion+"."+runtime.GOOS+"-"+runtime.GOARCH, "pagerd")
	return m.Run()
}

// pagerd runs the release binary and returns its combined output.
func pagerd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(pagerdBin, args...).CombinedOutput()
	return string(out), err
}

// repo is a path in the repository.
func repo(parts ...string) string { return filepath.Join(append([]string{root}, parts...)...) }
