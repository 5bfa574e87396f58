//go:build !race

package redisstore

// raceEnabled: the race detector is on (see race_test.go).
const raceEnabled = false
