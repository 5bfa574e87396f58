package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The garbage collector's settings for the daemon, unless the environment
// sets its own (GOGC, GOMEMLIMIT). pagerd keeps little in memory (incidents
// live in the store), so Go's default of collecting when the heap doubles
// runs the collector after every few hundred webhooks: under load it was
// about a sixth of pagerd's CPU. Collecting at five times the live heap
// cuts the CPU per webhook by about as much for some 15 MB more resident
// memory (docs/BENCHMARKS.md), and the soft limit makes the collector work
// harder instead of letting the heap grow past it.
//
// The soft limit is defaultMemoryLimit where the container's limit is not
// known. Where it is, it is memoryLimitShare of it (tenths), so a large
// pod building a large report does not run the collector hot at 192 MiB,
// and never below defaultMemoryLimit unless the container is smaller than
// that, where a limit above the container's would never act.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 192 << 20
	memoryLimitShare   = 9
)

// cgroupMemoryFiles are where the container's memory limit is read, in
// order: cgroup v2's, then v1's.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// tuneGC applies the daemon's collector settings where getenv has none,
// with the memory limit derived from the first of cgroupFiles that can be
// read. It returns the soft memory limit it set (0 when GOMEMLIMIT is set)
// and where it came from, for the log.
func tuneGC(getenv func(string) string, cgroupFiles []string) (limit int64, from string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if getenv("GOMEMLIMIT") != "" {
		return 0, ""
	}
	limit, from = defaultMemoryLimit, "default"
	if cg, file := cgroupMemoryLimit(cgroupFiles); cg > 0 {
		limit, from = memoryLimitFor(cg), file
	}
	debug.SetMemoryLimit(limit)
	return limit, from
}

// memoryLimitFor is the soft memory limit in a container limited to cg
// bytes.
func memoryLimitFor(cg int64) int64 {
	limit := cg / 10 * memoryLimitShare
	if limit < defaultMemoryLimit && cg > defaultMemoryLimit {
		limit = defaultMemoryLimit
	}
	return limit
}

// unlimited is past any real memory limit: cgroup v1 writes "no limit" as
// the largest page-aligned int64.
const unlimited = 1 << 62

// cgroupMemoryLimit is the memory limit in the first of files that exists
// and can be read, and that file; 0 when that file says there is none
// ("max") or no file tells.
func cgroupMemoryLimit(files []string) (int64, string) {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, f
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			continue
		}
		if n >= unlimited {
			return 0, f
		}
		return n, f
	}
	return 0, ""
}
