package redistest

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterTimeout bounds cluster creation and the wait for cluster_state:ok.
const clusterTimeout = 30 * time.Second

// Cluster is a Redis Cluster of n masters (no replicas) on loopback ports,
// started for one test (or one benchmark).
type Cluster struct {
	// Addrs are the nodes' addresses, "127.0.0.1:PORT", one per master.
	Addrs []string

	nodes []*Server
}

// StartCluster starts n (at least 3) redis-server processes with
// cluster-enabled yes, each with its own data directory (and nodes.conf) in
// t.TempDir(), creates the cluster with
// `redis-cli --cluster create ADDRS... --cluster-replicas 0 --cluster-yes`
// and waits until every node reports cluster_state:ok, all 16384 slots
// assigned and all n nodes known (30s timeout). Cleanup stops all nodes.
//
// If redis-server or redis-cli is not installed, StartCluster fails the test
// (it never skips).
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 3 {
		t.Fatalf("redistest: StartCluster needs at least 3 masters, got %d", n)
	}
	serverBin := mustLookBinary(t, "redis-server")
	cliBin := mustLookBinary(t, "redis-cli")

	c := &Cluster{}
	t.Cleanup(c.shutdown)
	for range n {
		s := &Server{
			Dir: t.TempDir(),
			cfg: config{args: []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", "5000",
			}},
		}
		// Register before starting so a failure midway still cleans up.
		c.nodes = append(c.nodes, s)
		if err := s.startFresh(serverBin, true); err != nil {
			t.Fatalf("redistest: cluster node: %v", err)
		}
		c.Addrs = append(c.Addrs, s.Addr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	cmd := exec.CommandContext(ctx, cliBin, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	setProcAttr(cmd)
	err := startCmd(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create %s: %v\n%s%s",
			strings.Join(c.Addrs, " "), err, ansiEscape.ReplaceAllString(out.String(), ""), c.logTails())
	}
	if err := c.waitOK(time.Now().Add(clusterTimeout)); err != nil {
		t.Fatalf("redistest: %v\n--- redis-cli output ---\n%s%s", err, ansiEscape.ReplaceAllString(out.String(), ""), c.logTails())
	}
	return c
}

// waitOK polls CLUSTER INFO on every node until all of them report a healthy
// cluster with every slot assigned and every node known.
func (c *Cluster) waitOK(deadline time.Time) error {
	want := map[string]string{
		"cluster_state":          "ok",
		"cluster_slots_assigned": "16384",
		"cluster_slots_ok":       "16384",
		"cluster_known_nodes":    strconv.Itoa(len(c.nodes)),
	}
	for {
		var problem string
		for _, addr := range c.Addrs {
			info, err := rawCommand(addr, time.Second, "CLUSTER", "INFO")
			if err != nil {
				problem = fmt.Sprintf("%s: CLUSTER INFO: %v", addr, err)
				break
			}
			got := parseInfo(info)
			for k, v := range want {
				if got[k] != v {
					problem = fmt.Sprintf("%s: %s:%s, want %s", addr, k, got[k], v)
					break
				}
			}
			if problem != "" {
				break
			}
		}
		if problem == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not ready within %v: %s", clusterTimeout, problem)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ansiEscape matches the colour codes redis-cli prints.
var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

// parseInfo parses "key:value" lines as returned by INFO and CLUSTER INFO.
func parseInfo(s string) map[string]string {
	m := make(map[string]string)
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// logTails returns the end of every node's redis.log, for failure messages.
func (c *Cluster) logTails() string {
	var b strings.Builder
	for _, s := range c.nodes {
		fmt.Fprintf(&b, "\n--- tail of %s/%s (%s) ---\n%s", s.Dir, logFile, s.Addr,
			tailFile(filepath.Join(s.Dir, logFile), 0, 15))
	}
	return b.String()
}

// shutdown is the t.Cleanup hook: it stops all nodes concurrently.
func (c *Cluster) shutdown() {
	var wg sync.WaitGroup
	for _, s := range c.nodes {
		wg.Go(s.shutdown)
	}
	wg.Wait()
}

// ClusterClient returns a go-redis cluster client for the cluster; it is
// closed on cleanup.
func (c *Cluster) ClusterClient(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}
