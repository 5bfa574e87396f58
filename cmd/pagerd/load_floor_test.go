//go:build load

package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// floorEnv names what TestLoadFloor's child serves: the address to listen
// on, then "," and the handler ("empty" or "json").
const floorEnv = "PAGERD_LOAD_FLOOR"

// TestLoadFloor runs TestLoadIngest's closed loop (32 senders, 10 s, the
// same requests, the same generator on the same cores) against the least a
// Go HTTP server can do with them, in a process of its own: net/http with
// a handler that reads the body and answers 200 ("empty"), and one that
// also decodes the body as JSON ("json"). Its CPU per request is the floor
// under pagerd's CPU per webhook on this machine: what any Go daemon pays
// to take an alert in over HTTP, before it stores, routes, bundles or
// pages anything (the ingest run's pages go out bundled, a few a second).
// docs/BENCHMARKS.md compares the targets with it.
func TestLoadFloor(t *testing.T) {
	if v := os.Getenv(floorEnv); v != "" {
		addr, kind, _ := strings.Cut(v, ",")
		serveFloor(t, addr, kind)
		return
	}
	for _, kind := range []string{"empty", "json"} {
		t.Run(kind, func(t *testing.T) {
			addr := freeAddr(t)
			cmd := exec.Command(os.Args[0], "-test.run", "^TestLoadFloor$", "-test.timeout", "10m")
			cmd.Env = append(os.Environ(), floorEnv+"="+addr+","+kind)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			})
			deadline := time.Now().Add(10 * time.Second)
			for {
				c, err := net.Dial("tcp", addr)
				if err == nil {
					c.Close()
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the floor server did not listen on %s: %v", addr, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			r := &ingestRun{t: t, d: &daemon{t: t, cmd: cmd, addr: addr}}
			pid := cmd.Process.Pid
			r.closedLoop(32, 2*time.Second) // warm up
			before := readProc(t, pid)
			start, cpuBefore := time.Now(), r.cpuNow()
			s := summarize(r.closedLoop(32, 10*time.Second))
			took := time.Since(start)
			shares := strings.Replace(cpuShares(cpuBefore, r.cpuNow(), took), "pagerd", "the server", 1)
			after := readProc(t, pid)
			if s.ok == 0 {
				t.Fatalf("the floor server answered nothing: %s", s)
			}
			t.Logf("floor (%s handler) closed loop, 32 senders, 10 s: %.0f requests/s; the server's CPU %s per request (%.0f%% of a core); %s; %s",
				kind, float64(s.ok)/took.Seconds(), ((after.cpu - before.cpu) / time.Duration(s.ok)).Round(100*time.Nanosecond),
				100*(after.cpu-before.cpu).Seconds()/took.Seconds(), s, shares)
		})
	}
}

// serveFloor is the child's server: it serves until the parent kills it.
func serveFloor(t *testing.T, addr, kind string) {
	h := func(w http.ResponseWriter, r *http.Request) {
		if kind == "json" {
			var msg struct {
				Version  string `json:"version"`
				GroupKey string `json:"groupKey"`
				Status   string `json:"status"`
				Alerts   []struct {
					Status      string            `json:"status"`
					Labels      map[string]string `json:"labels"`
					Annotations map[string]string `json:"annotations"`
					StartsAt    time.Time         `json:"startsAt"`
					Fingerprint string            `json:"fingerprint"`
				} `json:"alerts"`
			}
			if err := json.NewDecoder(r.Body).Decode(&msg); err != nil || len(msg.Alerts) == 0 {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
		} else if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(h), ReadHeaderTimeout: 10 * time.Second}
	t.Fatal(srv.ListenAndServe())
}
