//go:build !race

package dataintegrity

const raceEnabled = false
