//go:build !unix

package boltstore

import (
	"testing"
	"time"
)

// cpuTime is not measured here (cputime_unix_test.go): the benchmarks
// report 0 CPU.
func cpuTime(testing.TB) time.Duration { return 0 }
