//go:build race

package created

// raceEnabled: the race detector is on, and allocation counts are its.
const raceEnabled = true
