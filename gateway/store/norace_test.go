//go:build !race

package store

// raceEnabled: the race detector is on (see race_test.go).
const raceEnabled = false
