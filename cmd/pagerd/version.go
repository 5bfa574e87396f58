package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// commit is set at build time with -ldflags "-X main.commit=..."; without
// it, the revision the Go toolchain stamped into the binary is used.
var commit = ""

// buildInfo is what `pagerd version` reports: enough to tell exactly which
// code a running daemon is, from a release archive, a container image or a
// `go install`.
type buildInfo struct {
	Version   string
	Commit    string
	GoVersion string
	Platform  string
}

// currentBuild reads the version and commit set with -ldflags, falling back
// to what the toolchain recorded: the module version for `go install
// ...@vX.Y.Z`, the VCS revision for a build inside a git checkout.
func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	if b.Commit == "" {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" && modified == "true" {
			rev += "-dirty"
		}
		b.Commit = rev
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

// String is the `pagerd version` line: "pagerd VERSION (commit C, GO, OS/ARCH)".
func (b buildInfo) String() string {
	return fmt.Sprintf("pagerd %s (commit %s, %s, %s)", b.Version, b.Commit, b.GoVersion, b.Platform)
}
