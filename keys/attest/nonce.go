package attest

import (
	"crypto/rand"
	"fmt"
	"sync"
	"time"
)

// NonceSize is the size of the nonces a NonceSet issues.
const NonceSize = 32

// DefaultNonceLimit is how many live nonces a NonceSet holds when its limit
// is zero.
const DefaultNonceLimit = 1 << 16

// NonceSet issues single-use verifier nonces and remembers them, in memory,
// until they expire. Evidence carries the nonce in TPMS_ATTEST's extraData;
// without single use, evidence recorded once could be replayed later. It is
// for tests, tools and single-process verifiers: the issuer service keeps
// its enrollment nonces in its database, so that every replica sees a nonce
// consumed and restarts forget nothing. It is safe for concurrent use.
type NonceSet struct {
	ttl   time.Duration
	now   func() time.Time
	limit int

	mu      sync.Mutex
	entries map[string]nonceEntry
}

type nonceEntry struct {
	expires time.Time
	used    bool
}

// NewNonceSet returns a set whose nonces live for ttl. now is the clock (nil:
// time.Now); limit bounds the live nonces (zero: DefaultNonceLimit).
func NewNonceSet(ttl time.Duration, now func() time.Time, limit int) *NonceSet {
	if now == nil {
		now = time.Now
	}
	if limit <= 0 {
		limit = DefaultNonceLimit
	}
	return &NonceSet{ttl: ttl, now: now, limit: limit, entries: map[string]nonceEntry{}}
}

// Issue returns a fresh random nonce of NonceSize bytes and the time it
// expires. Errors wrap ErrNonceSetFull.
func (s *NonceSet) Issue() ([]byte, time.Time, error) {
	n := make([]byte, NonceSize)
	if _, err := rand.Read(n); err != nil {
		return nil, time.Time{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.entries) >= s.limit {
		s.prune(now)
	}
	if len(s.entries) >= s.limit {
		return nil, time.Time{}, fmt.Errorf("%w: %d", ErrNonceSetFull, s.limit)
	}
	exp := now.Add(s.ttl)
	s.entries[string(n)] = nonceEntry{expires: exp}
	return n, exp, nil
}

// Consume marks nonce used. It fails with ErrNonceUnknown for a nonce this
// set did not issue (or that expired long enough ago to be forgotten),
// ErrNonceExpired after its time to live, and ErrNonceReplayed when it was
// already used. A used nonce is remembered until it expires.
func (s *NonceSet) Consume(nonce []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[string(nonce)]
	switch {
	case !ok:
		return ErrNonceUnknown
	case e.used:
		return ErrNonceReplayed
	case !s.now().Before(e.expires):
		delete(s.entries, string(nonce))
		return ErrNonceExpired
	}
	e.used = true
	s.entries[string(nonce)] = e
	return nil
}

// prune forgets expired nonces; the caller holds s.mu.
func (s *NonceSet) prune(now time.Time) {
	for k, e := range s.entries {
		if !now.Before(e.expires) {
			delete(s.entries, k)
		}
	}
}
