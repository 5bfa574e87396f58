//go:build linux

package redistest

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// setProcAttr makes the kernel SIGKILL the child when the test binary dies,
// so a crashed or os.Exit-ed test never leaks a redis-server.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// spawnRequest asks the spawner goroutine to start one command.
type spawnRequest struct {
	cmd *exec.Cmd
	err chan<- error
}

var (
	spawnOnce sync.Once
	spawnCh   chan spawnRequest
)

// startCmd starts cmd from a goroutine locked to its OS thread for the life
// of the process. Linux delivers Pdeathsig when the *thread* that forked the
// child exits, not the process (golang/go#27505); the Go runtime does end a
// thread when a locked goroutine exits, so forking from an arbitrary caller
// could kill the server early. The spawner's thread never exits.
func startCmd(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives forever
			for req := range spawnCh {
				req.err <- req.cmd.Start()
			}
		}()
	})
	errCh := make(chan error, 1)
	spawnCh <- spawnRequest{cmd: cmd, err: errCh}
	return <-errCh
}
