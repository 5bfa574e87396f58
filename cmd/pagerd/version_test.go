package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersionNamesVersionCommitAndGo(t *testing.T) {
	oldV, oldC := version, commit
	t.Cleanup(func() { version, commit = oldV, oldC })
	version, commit = "0.1.0", "0123456789abcdef"
	out, _, code := pagerd(t, "version")
	want := "pagerd 0.1.0 (commit 0123456789abcdef, " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if code != 0 || out != want {
		t.Fatalf("version: %q (exit %d), want %q", out, code, want)
	}
	// Without -ldflags the commit still says something rather than nothing.
	commit = ""
	if b := currentBuild(); b.Commit == "" || !strings.HasPrefix(b.String(), "pagerd 0.1.0 (commit ") {
		t.Fatalf("currentBuild without a commit: %+v", b)
	}
}
