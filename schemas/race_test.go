//go:build race

package schemas

// raceEnabled: the race detector is on, and allocation counts are not
// those of a normal build.
const raceEnabled = true
