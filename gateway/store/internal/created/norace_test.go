//go:build !race

package created

// raceEnabled: the race detector is on (see race_test.go).
const raceEnabled = false
