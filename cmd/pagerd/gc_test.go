package main

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// restoreGC puts the collector's settings back as they were after a test
// of tuneGC.
func restoreGC(t *testing.T) {
	pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	debug.SetGCPercent(pct)
	debug.SetMemoryLimit(limit)
	t.Cleanup(func() {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(limit)
	})
}

// The daemon collects garbage less often than Go's default unless the
// environment says otherwise, and never without a soft memory limit.
func TestTuneGC(t *testing.T) {
	restoreGC(t)
	none := []string{filepath.Join(t.TempDir(), "memory.max")}

	tuneGC(func(string) string { return "" }, none)
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GOGC unset: GC percent %d, want %d", got, defaultGCPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != defaultMemoryLimit {
		t.Errorf("GOMEMLIMIT unset: memory limit %d, want %d", got, defaultMemoryLimit)
	}

	env := map[string]string{"GOGC": "150", "GOMEMLIMIT": "1GiB"}
	dir := t.TempDir()
	v2 := filepath.Join(dir, "memory.max")
	if err := os.WriteFile(v2, []byte("4294967296\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if limit, _ := tuneGC(func(k string) string { return env[k] }, []string{v2}); limit != 0 {
		t.Errorf("GOMEMLIMIT set: tuneGC says it set %d", limit)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: GC percent changed to %d", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: memory limit changed to %d", got)
	}
}

// The soft memory limit follows the container's (cgroup v2's memory.max,
// else v1's memory.limit_in_bytes): nine tenths of it, never below the
// default unless the container is smaller than that; the default when no
// limit is set ("max", v1's largest number) or no file can be read.
func TestTuneGCFromCgroup(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name   string
		v2, v1 string // contents; "" is no file
		want   int64
		from   string // "v2", "v1", or "" for the default
	}{
		{name: "no files", want: defaultMemoryLimit},
		{name: "v2 max", v2: "max\n", v1: "1073741824\n", want: defaultMemoryLimit},
		{name: "v2 4 GiB", v2: "4294967296\n", want: 4096 * mib / 10 * 9, from: "v2"},
		{name: "v2 256 MiB", v2: "268435456\n", want: 256 * mib / 10 * 9, from: "v2"},
		{name: "v2 200 MiB, floored", v2: "209715200\n", want: defaultMemoryLimit, from: "v2"},
		{name: "v2 128 MiB, below the default", v2: "134217728\n", want: 128 * mib / 10 * 9, from: "v2"},
		{name: "v1 1 GiB", v1: "1073741824\n", want: 1024 * mib / 10 * 9, from: "v1"},
		{name: "v1 unlimited", v1: "9223372036854771712\n", want: defaultMemoryLimit},
		{name: "v2 unreadable, v1 1 GiB", v2: "garbage\n", v1: "1073741824\n", want: 1024 * mib / 10 * 9, from: "v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restoreGC(t)
			dir := t.TempDir()
			v2, v1 := filepath.Join(dir, "memory.max"), filepath.Join(dir, "memory.limit_in_bytes")
			for path, body := range map[string]string{v2: tc.v2, v1: tc.v1} {
				if body == "" {
					continue
				}
				if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			limit, from := tuneGC(func(string) string { return "" }, []string{v2, v1})
			if got := debug.SetMemoryLimit(math.MaxInt64); got != tc.want || limit != tc.want {
				t.Errorf("memory limit %d (tuneGC says %d), want %d", got, limit, tc.want)
			}
			wantFrom := map[string]string{"": "default", "v2": v2, "v1": v1}[tc.from]
			if from != wantFrom {
				t.Errorf("from %q, want %q", from, wantFrom)
			}
		})
	}
}
