//go:build !race

package jsonld

const raceEnabled = false
