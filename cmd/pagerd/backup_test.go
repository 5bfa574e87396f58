package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
)

// These tests run the real binary: `pagerd backup` against a `pagerd serve`
// that keeps taking alerts, `pagerd restore` into a new data dir, and a
// second `pagerd serve` on the restored store.

const (
	backupConfig = "testdata/backup/ladder.yaml"
	backupToken  = "demo-api-token-change-me"
)

// pagerdCmd runs the built binary and returns its output and exit code.
func pagerdCmd(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(pagerdBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

// fire posts one alert of its own fingerprint (the service opens one
// incident per alert) and returns the incident the daemon stored.
func fire(d *daemon, n int) (string, error) {
	body := fmt.Sprintf(`{"version":"4","groupKey":"{}:{alertname=\"Load\"}","status":"firing","receiver":"pagerd",
"groupLabels":{"alertname":"Load"},"commonLabels":{"alertname":"Load","severity":"critical"},"externalURL":"http://am:9093",
"alerts":[{"status":"firing","labels":{"alertname":"Load","severity":"critical","instance":"host-%d"},
"annotations":{"summary":"load on host-%d"},"startsAt":"2025-09-10T06:00:00Z","endsAt":"0001-01-01T00:00:00Z",
"fingerprint":"%016x"}]}`, n, n, n+1)
	req, _ := http.NewRequest("POST", "http://"+d.addr+"/api/v1/alertmanager", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+demoKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct{ Incidents []string }
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || len(out.Incidents) != 1 {
		return "", fmt.Errorf("alert %d: %d %s", n, resp.StatusCode, b)
	}
	return out.Incidents[0], nil
}

// TestBackupWhileServingRestores is the backup story end to end: a backup
// taken from a serving pagerd while alerts keep arriving restores into a
// new data dir with every incident it holds and every pending step, and the
// restored pagerd sends those steps. Incidents accepted before the backup
// began are all in it; none is in it that the daemon did not accept.
func TestBackupWhileServingRestores(t *testing.T) {
	work := t.TempDir()
	tokenFile := filepath.Join(work, "token")
	if err := os.WriteFile(tokenFile, []byte(backupToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sink := &pageSink{}
	dirA := filepath.Join(work, "a")
	a := startReplica(t, sink, "a", backupConfig, "--data-dir", dirA)
	// The offline backup refuses the data dir the daemon holds, and says
	// what to do instead.
	if _, errOut, code := pagerdCmd(t, nil, "backup", "--data-dir", dirA, filepath.Join(work, "offline.db")); code != 1 ||
		!strings.Contains(errOut, "in use by a running pagerd: take the backup through it with --server URL") {
		t.Fatalf("offline backup of a serving data dir: exit %d: %s", code, errOut)
	}

	// Alerts keep coming while the backup is taken.
	var (
		mu       sync.Mutex
		accepted []string
		stopFire = make(chan struct{})
		fired    sync.WaitGroup
	)
	acceptedNow := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), accepted...) }
	fired.Add(1)
	go func() {
		defer fired.Done()
		for n := 0; ; n++ {
			select {
			case <-stopFire:
				return
			default:
			}
			id, err := fire(a, n)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			accepted = append(accepted, id)
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	for len(acceptedNow()) < 20 {
		time.Sleep(5 * time.Millisecond)
	}

	before := acceptedNow()
	backupFile := filepath.Join(work, "pagerd.db")
	_, errOut, code := pagerdCmd(t, nil, "backup", "--server", "http://"+a.addr, "--token-file", tokenFile, backupFile)
	close(stopFire)
	fired.Wait()
	all := acceptedNow()
	if code != 0 {
		t.Fatalf("pagerd backup: exit %d: %s\n%s", code, errOut, a.log())
	}
	t.Logf("%s(%d incidents accepted before the backup, %d by the end)", errOut, len(before), len(all))
	// A wrong token is refused.
	if _, errOut, code := pagerdCmd(t, []string{"PAGERD_API_TOKEN=wrong"}, "backup", "--server", "http://"+a.addr,
		filepath.Join(work, "x.db")); code != 1 || !strings.Contains(errOut, "401 Unauthorized") {
		t.Fatalf("backup with a wrong token: exit %d: %s", code, errOut)
	}
	a.stop()

	// Restore: never over an existing store, and into a new data dir.
	if _, errOut, code := pagerdCmd(t, nil, "restore", "--data-dir", dirA, backupFile); code != 1 || !strings.Contains(errOut, "is not empty") {
		t.Fatalf("restore over the old data dir: exit %d: %s", code, errOut)
	}
	dirB := filepath.Join(work, "b")
	out, errOut, code := pagerdCmd(t, nil, "restore", "--data-dir", dirB, backupFile)
	if code != 0 {
		t.Fatalf("pagerd restore: exit %d: %s", code, errOut)
	}
	t.Logf("pagerd restore: %s", out)

	// What the restored store holds, read before pagerd starts on it.
	want := restoredSteps(t, dirB)
	acceptedSet := map[string]bool{}
	for _, id := range all {
		acceptedSet[id] = true
	}
	for _, id := range before {
		if _, ok := want[id]; !ok {
			t.Errorf("incident %s was accepted before the backup began and is not in it", id)
		}
	}
	for id, steps := range want {
		if !acceptedSet[id] {
			t.Errorf("the backup holds incident %s, which pagerd never accepted", id)
		}
		if !contains(steps, "L1 demo sms") || !contains(steps, "L1 demo voice") {
			t.Errorf("incident %s restored without its pending SMS and call: %v", id, steps)
		}
	}
	if !strings.Contains(out, fmt.Sprintf("restored %d incidents (%d open, %d with steps pending)", len(want), len(want), len(want))) {
		t.Errorf("restore output %q does not count the %d incidents", out, len(want))
	}

	// The restored pagerd sends every step that was pending in the backup.
	b := startReplica(t, sink, "b", backupConfig, "--data-dir", dirB)
	sink.waitFor(t, "every pending step of the restored incidents", 40*time.Second, func(ps []page) bool {
		sent := map[string]map[string]bool{}
		for _, p := range ps {
			if p.from == "b" {
				if sent[p.Incident] == nil {
					sent[p.Incident] = map[string]bool{}
				}
				sent[p.Incident][p.step()] = true
			}
		}
		for id, steps := range want {
			for _, s := range steps {
				if !sent[id][s] {
					return false
				}
			}
		}
		return true
	}, b)
	for _, p := range sink.snapshot() {
		if p.from == "b" {
			if _, ok := want[p.Incident]; !ok {
				t.Errorf("the restored pagerd paged for incident %s, which is not in the backup", p.Incident)
			}
		}
	}
	// And serves them through the API.
	for id := range want {
		if inc := b.incident(id); inc.Status != "triggered" {
			t.Errorf("restored incident %s is %s", id, inc.Status)
		}
	}
	checkStdout(t, sink)
	b.stop()
}

// restoredSteps opens a restored data dir and lists, per incident, the
// steps pending in it ("L1 demo sms").
func restoredSteps(t *testing.T, dir string) map[string][]string {
	t.Helper()
	s, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	incs, err := s.List(context.Background(), store.Filter{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, inc := range incs {
		steps := []string{}
		for _, d := range inc.State.Pending {
			if d.Kind == policy.DeadlineNotify {
				steps = append(steps, fmt.Sprintf("L%d %s %s", d.Level+1, d.User, d.Channel)) // pages count levels from 1
			}
		}
		sort.Strings(steps)
		out[inc.ID] = steps
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The offline backup of a stopped pagerd's data dir, to stdout, restores
// from stdin; a restore of something that is not a backup leaves nothing.
func TestBackupOfflineToStdout(t *testing.T) {
	work := t.TempDir()
	dir := filepath.Join(work, "data")
	d := startDaemonWith(t, backupConfig, freeAddr(t), "--data-dir", dir)
	if _, err := fire(d, 1); err != nil {
		t.Fatal(err)
	}
	d.stop()
	out, errOut, code := pagerdCmd(t, nil, "backup", "--data-dir", dir, "-")
	if code != 0 || !strings.Contains(errOut, "wrote stdout: 1 incidents (1 open, 1 with steps pending)") {
		t.Fatalf("offline backup to stdout: exit %d: %s", code, errOut)
	}
	cmd := exec.Command(pagerdBinary(t), "restore", "--data-dir", filepath.Join(work, "r"), "-")
	cmd.Stdin = strings.NewReader(out)
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "restored 1 incidents") {
		t.Fatalf("restore from stdin: %v: %s", err, b)
	}
	cmd = exec.Command(pagerdBinary(t), "restore", "--data-dir", filepath.Join(work, "bad"), "-")
	cmd.Stdin = strings.NewReader("not a backup")
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "not a readable pagerd store") {
		t.Fatalf("restore of garbage: %v: %s", err, b)
	}
	if _, err := os.Stat(filepath.Join(work, "bad")); !os.IsNotExist(err) {
		t.Fatalf("a refused restore left its data dir behind: %v", err)
	}
	for _, args := range [][]string{{"backup", "x.db"}, {"backup", "--data-dir", dir, "--server", "http://x", "x.db"}, {"restore", "x.db"}} {
		if _, errOut, code := pagerdCmd(t, nil, args...); code != 2 || !strings.Contains(errOut, "usage: pagerd "+args[0]) {
			t.Errorf("pagerd %v: exit %d: %s", args, code, errOut)
		}
	}
}
