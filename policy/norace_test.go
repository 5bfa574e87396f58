//go:build !race

package policy

// raceEnabled: the race detector is on (see race_test.go).
const raceEnabled = false
