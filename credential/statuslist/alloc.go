package statuslist

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
)

// MaxAllocationAttempts is how many in-range random indexes RandomIndex
// tries before it gives up with ErrNoFreeIndex. In a list with a fraction f
// of indexes free, all of them miss with probability (1-f)^128: about 1e-6
// at 10% free. Issuers should open a new list long before that.
const MaxAllocationAttempts = 128

// RandomIndex draws an index uniformly at random from [0, size) that taken
// reports free, as Bitstring Status List asks ("implementations SHOULD
// assign indexes randomly") so that an index tells nothing about when it
// was assigned or how full the list is. r is the randomness source
// (crypto/rand.Reader when nil); each draw reads 8 bytes, masks them to the
// next power of two above size-1 and rejects values at or above size, so
// every index is equally likely (no modulo bias). taken may be nil.
//
// RandomIndex only proposes: the caller must still claim the index
// atomically (a unique constraint in a transaction), and draw again if the
// claim loses a race.
func RandomIndex(r io.Reader, size int, taken func(int) bool) (int, error) {
	if size < 1 {
		return 0, fmt.Errorf("random index: %w: list size %d", ErrRange, size)
	}
	if r == nil {
		r = rand.Reader
	}
	mask := uint64(1)<<bits.Len64(uint64(size-1)) - 1
	var buf [8]byte
	// Each read is in range with probability above one half, so 4× the
	// attempts in reads only runs out with a broken source of randomness.
	for attempt, reads := 0, 0; attempt < MaxAllocationAttempts; reads++ {
		if reads == 4*MaxAllocationAttempts {
			return 0, fmt.Errorf("random index: %w: the random source gave %d values out of range", ErrNoFreeIndex, reads)
		}
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return 0, fmt.Errorf("random index: %w", err)
		}
		v := binary.BigEndian.Uint64(buf[:]) & mask
		if v >= uint64(size) {
			continue // rejection sampling: not a draw against a free index
		}
		attempt++
		if taken == nil || !taken(int(v)) {
			return int(v), nil
		}
	}
	return 0, fmt.Errorf("random index: %w: %d draws in a list of %d were all taken", ErrNoFreeIndex, MaxAllocationAttempts, size)
}
