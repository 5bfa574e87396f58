package main

import "runtime"

// minProcs is the fewest threads the daemon runs Go code on, unless the
// environment sets GOMAXPROCS. Go's default is the number of CPUs, so one
// on a machine of one CPU (a small VM, the smallest droplets); there a
// goroutine blocked in a system call the runtime does not hand its thread
// over from at once (the embedded store's fsync and writes) or on a page
// fault (its file is mapped: a page read from the disk) holds up every
// other goroutine, alerts and acknowledgements included, until the
// kernel returns. On one CPU with the embedded store (make load with
// PAGERD_LOAD_CPUS=0, docs/BENCHMARKS.md) pagerd took 462 webhooks a
// second in a closed loop at one thread and 1,802 at two, at 1,256 and 375
// µs of CPU each, and 1,000/s in all at two where one refused a quarter;
// on Redis the two were alike. Go itself rounds a container's CPU limit
// under 2 up to 2; this does the same where no limit is set.
const minProcs = 2

// tuneProcs raises GOMAXPROCS to minProcs where getenv has no GOMAXPROCS
// and it is lower. It returns what it was and what it is now (equal when
// unchanged), for the log.
func tuneProcs(getenv func(string) string) (was, now int) {
	was = runtime.GOMAXPROCS(0)
	if getenv("GOMAXPROCS") != "" || was >= minProcs {
		return was, was
	}
	runtime.GOMAXPROCS(minProcs)
	return was, minProcs
}
