package redistest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStartPingSetGet(t *testing.T) {
	t.Parallel()
	s := Start(t)
	ctx := context.Background()
	c := s.Client(t)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want v", got, err)
	}
	if !strings.HasPrefix(s.Addr, "127.0.0.1:") {
		t.Errorf("Addr = %q, want 127.0.0.1:PORT", s.Addr)
	}
	if want := "redis://" + s.Addr + "/0"; s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	opt, err := redis.ParseURL(s.URL())
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", s.URL(), err)
	}
	c2 := redis.NewClient(opt)
	defer c2.Close()
	if got, err := c2.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET via URL = %q, %v; want v", got, err)
	}
	// Defaults: no RDB snapshots, no AOF.
	if got := c.ConfigGet(ctx, "save").Val()["save"]; got != "" {
		t.Errorf("save = %q, want empty", got)
	}
	if got := c.ConfigGet(ctx, "appendonly").Val()["appendonly"]; got != "no" {
		t.Errorf("appendonly = %q, want no", got)
	}
}

func TestParallelServersAreIsolated(t *testing.T) {
	t.Parallel()
	addrs := make(chan string, 4)
	t.Run("group", func(t *testing.T) {
		for i := range 4 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				s := Start(t)
				c := s.Client(t)
				ctx := context.Background()
				if n := c.DBSize(ctx).Val(); n != 0 {
					t.Errorf("fresh server has %d keys", n)
				}
				c.Set(ctx, "who", i, 0)
				if got := c.Get(ctx, "who").Val(); got != strconv.Itoa(i) {
					t.Errorf("who = %q, want %d", got, i)
				}
				addrs <- s.Addr
			})
		}
	})
	close(addrs)
	seen := map[string]bool{}
	for a := range addrs {
		if seen[a] {
			t.Errorf("address %s handed out twice", a)
		}
		seen[a] = true
	}
}

func TestWithArgs(t *testing.T) {
	t.Parallel()
	s := Start(t, WithArgs("--maxmemory", "10mb", "--databases", "4"))
	c := s.Client(t)
	ctx := context.Background()
	if got := c.ConfigGet(ctx, "maxmemory").Val()["maxmemory"]; got != "10485760" {
		t.Errorf("maxmemory = %q, want 10485760", got)
	}
	if got := c.ConfigGet(ctx, "databases").Val()["databases"]; got != "4" {
		t.Errorf("databases = %q, want 4", got)
	}
}

func TestAOFSurvivesKill(t *testing.T) {
	t.Parallel()
	s := Start(t, WithAOF())
	c := s.Client(t)
	ctx := context.Background()
	if got := c.ConfigGet(ctx, "appendfsync").Val()["appendfsync"]; got != "always" {
		t.Fatalf("appendfsync = %q, want always", got)
	}
	if err := c.Set(ctx, "durable", "yes", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	addr := s.Addr
	pid := s.pid()
	s.Kill(t)
	if alive(pid) {
		t.Fatalf("pid %d still alive after Kill", pid)
	}
	if _, err := rawCommand(addr, time.Second, "PING"); err == nil {
		t.Fatal("PING succeeded after Kill")
	}
	s.Restart(t)
	if s.Addr != addr {
		t.Fatalf("Addr changed across Restart: %s -> %s", addr, s.Addr)
	}
	if got, err := c.Get(ctx, "durable").Result(); err != nil || got != "yes" {
		t.Fatalf("after Kill+Restart GET = %q, %v; want yes", got, err)
	}
}

func TestStopRestartKeepsAddr(t *testing.T) {
	t.Parallel()
	s := Start(t)
	addr, dir := s.Addr, s.Dir
	pid := s.pid()
	s.Stop(t)
	if alive(pid) {
		t.Fatalf("pid %d still alive after Stop", pid)
	}
	s.Stop(t) // idempotent
	s.Restart(t)
	if s.Addr != addr || s.Dir != dir {
		t.Fatalf("Restart moved the server: %s %s -> %s %s", addr, dir, s.Addr, s.Dir)
	}
	c := s.Client(t)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	// Restart of a running server stops it first.
	s.Restart(t)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING after second Restart: %v", err)
	}
}

func TestCleanupStopsServer(t *testing.T) {
	t.Parallel()
	var pid int
	var clusterPids []int
	t.Run("inner", func(t *testing.T) {
		s := Start(t)
		pid = s.pid()
		c := StartCluster(t, 3)
		for _, n := range c.nodes {
			clusterPids = append(clusterPids, n.pid())
		}
	})
	for _, p := range append([]int{pid}, clusterPids...) {
		if alive(p) {
			t.Errorf("redis-server pid %d outlived its test", p)
		}
	}
}

// TestPdeathsig runs this test binary as a child that starts a server and
// exits without cleanup; the server must die with it.
func TestPdeathsig(t *testing.T) {
	if os.Getenv("REDISTEST_PDEATHSIG_CHILD") == "1" {
		s := Start(t)
		fmt.Printf("PID %d\n", s.pid())
		os.Exit(0) // no t.Cleanup runs
	}
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("needs Linux /proc") // the Pdeathsig guarantee itself is Linux-only
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPdeathsig$", "-test.count=1")
	// The child's temporary dir, which its exit leaves, under this
	// test's: removed when the server is dead.
	cmd.Env = append(os.Environ(), "REDISTEST_PDEATHSIG_CHILD=1", "TMPDIR="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var pid int
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "PID %d", &pid); err == nil {
			break
		}
	}
	if pid == 0 {
		t.Fatalf("child printed no PID:\n%s", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("redis-server pid %d outlived its crashed test binary", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMissingBinaryMessage(t *testing.T) {
	t.Parallel()
	_, err := lookBinary("redis-server-does-not-exist", []string{t.TempDir()})
	if err == nil {
		t.Fatal("lookBinary found a binary that does not exist")
	}
	for _, want := range []string{"make test", "as root", "apt-get install -y redis-server"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, 3)
	if len(c.Addrs) != 3 {
		t.Fatalf("Addrs = %v, want 3", c.Addrs)
	}
	for _, a := range c.Addrs {
		port, err := strconv.Atoi(strings.TrimPrefix(a, "127.0.0.1:"))
		if err != nil || port >= 55535 {
			t.Errorf("bad cluster address %q", a)
		}
	}
	cc := c.ClusterClient(t)
	ctx := context.Background()

	for i := range 100 {
		if err := cc.Set(ctx, fmt.Sprintf("key:%d", i), i, 0).Err(); err != nil {
			t.Fatalf("SET key:%d: %v", i, err)
		}
	}
	for i := range 100 {
		got, err := cc.Get(ctx, fmt.Sprintf("key:%d", i)).Int()
		if err != nil || got != i {
			t.Fatalf("GET key:%d = %d, %v", i, got, err)
		}
	}
	// The keys really are spread over all three masters.
	var masters, total atomic.Int64
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("master %s holds no keys", m.Options().Addr)
		}
		masters.Add(1)
		total.Add(n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if masters.Load() != 3 || total.Load() != 100 {
		t.Fatalf("masters=%d keys=%d, want 3 and 100", masters.Load(), total.Load())
	}

	// MULTI/EXEC on keys sharing the {x} hash tag.
	cmds, err := cc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "{x}a", "1", 0)
		p.IncrBy(ctx, "{x}b", 41)
		p.Incr(ctx, "{x}b")
		return nil
	})
	if err != nil {
		t.Fatalf("MULTI/EXEC: %v", err)
	}
	if got := cmds[2].(*redis.IntCmd).Val(); got != 42 {
		t.Fatalf("INCR in MULTI = %d, want 42", got)
	}

	// A Lua script touching two keys with the same hash tag.
	script := redis.NewScript(`
		local a = tonumber(redis.call("GET", KEYS[1]))
		local b = tonumber(redis.call("GET", KEYS[2]))
		redis.call("SET", KEYS[1], a + b)
		return a + b`)
	got, err := script.Run(ctx, cc, []string{"{x}a", "{x}b"}).Int()
	if err != nil || got != 43 {
		t.Fatalf("script = %d, %v; want 43", got, err)
	}
	if v := cc.Get(ctx, "{x}a").Val(); v != "43" {
		t.Fatalf("{x}a = %q, want 43", v)
	}
}

func BenchmarkSet(b *testing.B) {
	s := Start(b)
	c := s.Client(b)
	ctx := context.Background()
	for b.Loop() {
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// pid returns the running server's pid, or 0.
func (s *Server) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// alive reports whether pid is a live (non-zombie) process.
func alive(pid int) bool {
	if pid == 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A reaped-by-nobody zombie still answers kill(0); treat it as dead.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: trust kill(0)
	}
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}
