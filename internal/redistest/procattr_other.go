//go:build !linux

package redistest

import "os/exec"

// setProcAttr is a no-op outside Linux: parent-death signals are Linux-only.
func setProcAttr(cmd *exec.Cmd) {}

// startCmd starts cmd.
func startCmd(cmd *exec.Cmd) error { return cmd.Start() }
