//go:build race

package policy

// raceEnabled: the race detector is on, and allocation counts are its
// (sync.Pool drops what it is given at random).
const raceEnabled = true
