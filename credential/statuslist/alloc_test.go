package statuslist

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestRandomIndexUniform(t *testing.T) {
	// size 6 needs rejection (mask 7): a biased mapping (modulo) would
	// favour 0 and 1. 60,000 draws: each count ~10,000, sd ~91.
	const size, draws = 6, 60000
	var counts [size]int
	for range draws {
		i, err := RandomIndex(nil, size, nil)
		if err != nil {
			t.Fatal(err)
		}
		counts[i]++
	}
	chi := 0.0
	for _, c := range counts {
		d := float64(c) - draws/size
		chi += d * d / (draws / size)
	}
	// 5 degrees of freedom: P(chi² > 25) < 0.0002.
	if chi > 25 || math.IsNaN(chi) {
		t.Fatalf("counts %v, chi² %.1f", counts, chi)
	}
}

func TestRandomIndexTakenAndErrors(t *testing.T) {
	taken := func(i int) bool { return i != 77 }
	if i, err := RandomIndex(nil, 100, taken); err != nil || i != 77 {
		// 128 draws over 100 slots miss 77 with probability ~28%: retry
		// a few times before failing.
		found := false
		for range 20 {
			if i, err := RandomIndex(nil, 100, taken); err == nil && i == 77 {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("never found the free index: %d %v", i, err)
		}
	}
	if _, err := RandomIndex(nil, 100, func(int) bool { return true }); !errors.Is(err, ErrNoFreeIndex) {
		t.Fatal(err)
	}
	if _, err := RandomIndex(nil, 0, nil); !errors.Is(err, ErrRange) {
		t.Fatal(err)
	}
	// A broken source (always 0xff: out of range for size 5) ends.
	if _, err := RandomIndex(bytes.NewReader(bytes.Repeat([]byte{0xff}, 1<<16)), 5, nil); !errors.Is(err, ErrNoFreeIndex) {
		t.Fatal(err)
	}
	// A short source fails with its error.
	if _, err := RandomIndex(bytes.NewReader([]byte{1, 2}), 5, nil); err == nil {
		t.Fatal("short read accepted")
	}
	// Deterministic source: value 3 of 8 bytes maps to 3.
	if i, err := RandomIndex(bytes.NewReader([]byte{0, 0, 0, 0, 0, 0, 0, 3}), MinEntries, nil); err != nil || i != 3 {
		t.Fatal(i, err)
	}
}
