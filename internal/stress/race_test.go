//go:build race

package stress_test

// raceEnabled: the race detector slows every process several times over.
const raceEnabled = true
