// Package redistest starts real, private redis-server processes for tests.
//
// Every call to Start or StartCluster launches its own server(s) on free
// loopback ports with data directories under t.TempDir(), waits until they
// answer, and registers t.Cleanup to stop them. Tests never depend on a Redis
// someone else started, so they are safe to run with t.Parallel and -race.
// All helpers take testing.TB, so benchmarks can use them too.
//
// On Linux the servers get a parent-death signal (SIGKILL), so even a test
// binary that crashes or calls os.Exit does not leak redis-server processes.
//
// redis-server (and redis-cli, for clusters) must be installed; when they are
// missing the helpers fail the test with instructions instead of skipping, so
// CI can never silently skip the Redis tests.
package redistest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// pingTimeout bounds how long a starting server may take to answer PING.
	pingTimeout = 10 * time.Second
	// stopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	stopTimeout = 5 * time.Second
	// startAttempts is how often Start retries when it loses a port race.
	startAttempts = 5
	// logFile is the name of the server log inside its data directory.
	logFile = "redis.log"
)

// Option configures a Server started by Start.
type Option func(*config)

type config struct {
	aof  bool
	args []string
}

// WithAOF enables the append-only file with "appendfsync always", so every
// acknowledged write survives Kill followed by Restart.
func WithAOF() Option {
	return func(c *config) { c.aof = true }
}

// WithArgs appends extra redis-server command-line arguments, for example
// WithArgs("--maxmemory", "10mb"). They come last, so they override defaults.
func WithArgs(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// Server is a redis-server process started for one test (or one benchmark).
// Its methods are safe for concurrent use.
type Server struct {
	// Addr is the server's address, "127.0.0.1:PORT". It never changes,
	// not even across Restart.
	Addr string
	// Dir is the server's data directory (AOF, nodes.conf, redis.log).
	Dir string

	port int
	cfg  config

	mu   sync.Mutex
	proc *process // nil when not running
}

// process is one running redis-server.
type process struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer // only read after done is closed
	done   chan struct{} // closed once the process has exited and been reaped
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process unless it already exited.
func (p *process) signal(sig os.Signal) {
	if !p.exited() {
		_ = p.cmd.Process.Signal(sig)
	}
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs and waits for exit.
func (p *process) stop(grace time.Duration) {
	p.signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return
	case <-timer.C:
	}
	p.kill()
}

// kill sends SIGKILL and waits for exit.
func (p *process) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

// Start starts a standalone redis-server on a free loopback port with its
// data directory in t.TempDir(), waits until it answers PING (10s timeout),
// and registers t.Cleanup to stop it (SIGTERM, then SIGKILL after 5s).
//
// If redis-server is not installed, Start fails the test (it never skips).
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin := mustLookBinary(t, "redis-server")
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{Dir: t.TempDir(), cfg: cfg}
	t.Cleanup(s.shutdown)
	if err := s.startFresh(bin, false); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return s
}

// startFresh picks a free port and launches the server, retrying a few times
// when another process grabbed the port between picking and binding.
func (s *Server) startFresh(bin string, needBusPort bool) error {
	var err error
	for range startAttempts {
		var port int
		port, err = freePort(needBusPort)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.port = port
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		err = s.launchLocked(bin)
		s.mu.Unlock()
		if err == nil {
			return nil
		}
		var se *startError
		if !errors.As(err, &se) || !se.portInUse() {
			return err
		}
	}
	return fmt.Errorf("giving up after %d attempts: %w", startAttempts, err)
}

// args returns the redis-server command line for the current port.
func (s *Server) args() []string {
	args := []string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(s.port),
		"--dir", s.Dir,
		"--save", "",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--logfile", filepath.Join(s.Dir, logFile),
	}
	if s.cfg.aof {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	return append(args, s.cfg.args...)
}

// startError describes a server that did not come up.
type startError struct {
	addr   string
	err    error
	exited bool
	log    string // new redis.log lines written by this attempt
	stderr string
}

func (e *startError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "redis-server on %s did not start: %v", e.addr, e.err)
	if e.stderr != "" {
		fmt.Fprintf(&b, "\n--- redis-server stderr ---\n%s", e.stderr)
	}
	if e.log != "" {
		fmt.Fprintf(&b, "\n--- tail of %s ---\n%s", logFile, e.log)
	} else {
		fmt.Fprintf(&b, "\n(%s is empty)", logFile)
	}
	return b.String()
}

func (e *startError) Unwrap() error { return e.err }

// portInUse reports whether the server died because its port was taken.
func (e *startError) portInUse() bool {
	return e.exited && (strings.Contains(e.log, "already in use") ||
		strings.Contains(e.stderr, "already in use"))
}

// launchLocked starts redis-server on s.port and waits for PING. s.mu must
// be held and no process may be running.
func (s *Server) launchLocked(bin string) error {
	logPath := filepath.Join(s.Dir, logFile)
	var logOffset int64
	if fi, err := os.Stat(logPath); err == nil {
		logOffset = fi.Size()
	}
	cmd := exec.Command(bin, s.args()...)
	cmd.Dir = s.Dir
	stderr := new(bytes.Buffer)
	cmd.Stdout = nil // discarded
	cmd.Stderr = &limitedWriter{w: stderr, n: 64 << 10}
	setProcAttr(cmd)
	if err := startCmd(cmd); err != nil {
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &process{cmd: cmd, stderr: stderr, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	if err := waitPing(s.Addr, p, pingTimeout); err != nil {
		exited := p.exited()
		p.kill()
		return &startError{
			addr:   s.Addr,
			err:    err,
			exited: exited,
			log:    tailFile(logPath, logOffset, 40),
			stderr: strings.TrimSpace(stderr.String()),
		}
	}
	s.proc = p
	return nil
}

// waitPing polls addr with PING until it answers PONG, p exits or timeout.
func waitPing(addr string, p *process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		if p.exited() {
			return fmt.Errorf("process exited (%v)", p.cmd.ProcessState)
		}
		reply, err := rawCommand(addr, time.Second, "PING")
		if err == nil && reply == "PONG" {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("PING replied %q", reply)
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within %v (last error: %v)", timeout, lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shutdown is the t.Cleanup hook: it stops the server if it is running.
func (s *Server) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.stop(stopTimeout)
		s.proc = nil
	}
}

// Client returns a go-redis client for the server; it is closed on cleanup.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// URL returns the server's URL, "redis://127.0.0.1:PORT/0".
func (s *Server) URL() string {
	return "redis://" + s.Addr + "/0"
}

// Stop stops the server gracefully (SIGTERM, then SIGKILL after 5s) and
// waits for it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.shutdown()
}

// Kill sends SIGKILL to the server, simulating a crash, and waits for it to
// exit. Killing a stopped server does nothing.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
}

// Pause stops the server with SIGSTOP: it keeps its connections open and
// answers nothing, as a Redis stalled by a slow disk or a long command
// does; commands sent meanwhile wait in its input buffer and run on Resume.
// Cleanup resumes it, so it can be stopped.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.signal(syscall.SIGSTOP)
		p := s.proc
		t.Cleanup(func() { p.signal(syscall.SIGCONT) })
	}
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.signal(syscall.SIGCONT)
	}
}

// Restart starts the server again on the same port and data directory (so
// the AOF of a WithAOF server is reloaded) and waits until it answers PING.
// A running server is stopped first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	bin := mustLookBinary(t, "redis-server")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.stop(stopTimeout)
		s.proc = nil
	}
	// The port is fixed now; if something briefly holds it, wait for it.
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		err = s.launchLocked(bin)
		var se *startError
		if err == nil || !errors.As(err, &se) || !se.portInUse() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("redistest: restart: %v", err)
	}
}

// binaryDirs are searched when a binary is not on $PATH.
var binaryDirs = []string{"/usr/bin", "/usr/local/bin", "/usr/sbin", "/usr/local/sbin"}

// lookBinary finds name on $PATH or in dirs.
func lookBinary(name string, dirs []string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("redistest: %s is not installed (not on $PATH nor in %s). "+
		"These tests need a real Redis: run `make test` as root (it installs redis-server), "+
		"or install it with `apt-get install -y redis-server`", name, strings.Join(dirs, ", "))
}

// mustLookBinary is lookBinary that fails the test. It never skips.
func mustLookBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := lookBinary(name, binaryDirs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// freePort returns a loopback port that was free a moment ago. With
// needBusPort it also requires port+10000 (the cluster bus port) to be free,
// and so only returns ports below 55535.
func freePort(needBusPort bool) (int, error) {
	var lastErr error
	for range 200 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			lastErr = err
			continue
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !needBusPort {
			_ = l.Close()
			return port, nil
		}
		if port >= 55535 {
			_ = l.Close()
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		_ = l.Close()
		if err != nil {
			lastErr = err
			continue
		}
		_ = bus.Close()
		return port, nil
	}
	if lastErr == nil {
		lastErr = errors.New("kernel only offered ports >= 55535")
	}
	return 0, fmt.Errorf("no free loopback port: %w", lastErr)
}

// tailFile returns the last n lines of path from byte offset on.
func tailFile(path string, offset int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// limitedWriter keeps at most n bytes and silently drops the rest, so a
// chatty process can never block or grow memory without bound.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		q := p
		if len(q) > l.n {
			q = q[:l.n]
		}
		m, err := l.w.Write(q)
		l.n -= m
		if err != nil {
			return m, err
		}
	}
	return len(p), nil
}
