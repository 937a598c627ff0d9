//go:build race

package jsonld

// raceEnabled relaxes timing assertions under the race detector, which
// slows json-gold tenfold.
const raceEnabled = true
