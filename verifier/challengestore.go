package verifier

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/agentid/agentid/internal/store"
)

// Errors of challenge stores.
var (
	// ErrChallengeNotFound is a challenge a ChallengeStore does not hold.
	ErrChallengeNotFound = errors.New("challenge not found")
	// ErrChallengeExists is a challenge created twice under one key.
	ErrChallengeExists = errors.New("challenge exists already")
	// ErrChallengeStoreFull is a MemoryChallengeStore at its bound: open
	// challenges are not dropped to make room (that would let a flood of
	// challenge requests void the challenges of genuine agents), so new ones
	// are refused until old ones expire.
	ErrChallengeStoreFull = errors.New("challenge store is full")
)

// ChallengeRecord is a challenge as a ChallengeStore keeps it. The value
// itself is not kept: the record is found by ChallengeKey(value), so a copy
// of the store does not hand out usable challenges.
type ChallengeRecord struct {
	// Key is ChallengeKey of the challenge's value.
	Key string
	// Domain, when not empty, is the domain a presentation answering the
	// challenge must be bound to.
	Domain string
	// CreatedAt and ExpiresAt bound the time the challenge is accepted.
	CreatedAt, ExpiresAt time.Time
	// UsedAt is when the challenge was consumed; nil while it is open.
	UsedAt *time.Time
}

// ChallengeStore keeps single-use challenges for Challenges. Two
// implementations exist: the database (NewChallenges: shared by every
// replica on one database) and MemoryChallengeStore (one process, for a
// service that verifies in process without a database). An implementation
// must be safe for concurrent use, and ConsumeChallenge must be atomic: of
// concurrent calls for one open challenge exactly one reports true.
type ChallengeStore interface {
	// CreateChallenge stores a new open challenge; a duplicate key is
	// ErrChallengeExists.
	CreateChallenge(ctx context.Context, c *ChallengeRecord) error
	// ChallengeByKey returns the challenge stored under key, open or not,
	// or ErrChallengeNotFound.
	ChallengeByKey(ctx context.Context, key string) (*ChallengeRecord, error)
	// ConsumeChallenge marks the challenge used at the time at if it is
	// open (not used, not expired at at) and reports whether this call
	// consumed it.
	ConsumeChallenge(ctx context.Context, key string, at time.Time) (bool, error)
	// DeleteChallengesExpiredBefore forgets the challenges that expired
	// before t and returns how many.
	DeleteChallengesExpiredBefore(ctx context.Context, t time.Time) (int64, error)
}

// ChallengeKey is the key a challenge value is stored under: the hex
// SHA-256 of the value.
func ChallengeKey(value string) string { return store.ChallengeID(value) }

// dbChallenges is the database as a ChallengeStore.
type dbChallenges struct{ st *store.Store }

func (d dbChallenges) CreateChallenge(ctx context.Context, c *ChallengeRecord) error {
	err := d.st.CreateChallenge(ctx, &store.Challenge{ID: c.Key, Domain: c.Domain, CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %w", ErrChallengeExists, err)
	}
	return err
}

func (d dbChallenges) ChallengeByKey(ctx context.Context, key string) (*ChallengeRecord, error) {
	row, err := d.st.ChallengeByID(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", ErrChallengeNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	return &ChallengeRecord{Key: row.ID, Domain: row.Domain, CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt, UsedAt: row.UsedAt}, nil
}

func (d dbChallenges) ConsumeChallenge(ctx context.Context, key string, at time.Time) (bool, error) {
	return d.st.ConsumeChallenge(ctx, key, at)
}

func (d dbChallenges) DeleteChallengesExpiredBefore(ctx context.Context, t time.Time) (int64, error) {
	return d.st.DeleteChallengesExpiredBefore(ctx, t)
}

// DefaultMemoryChallenges bounds a MemoryChallengeStore by default. At
// DefaultChallengeTTL that is over 300 new challenges a second, sustained,
// before ErrChallengeStoreFull; a record costs about 200 bytes.
const DefaultMemoryChallenges = 100_000

// MemoryChallengeStore is a ChallengeStore in process memory: for one
// process only (a challenge issued by one replica is unknown to another)
// and forgotten on restart, which only costs the agents that were answering
// a challenge then a new round trip. Expired challenges are dropped by
// Challenges' periodic purge, and by the store itself when it is full.
type MemoryChallengeStore struct {
	mu  sync.Mutex
	m   map[string]*ChallengeRecord
	max int
}

// NewMemoryChallengeStore returns an empty store holding at most
// maxChallenges records (0 or less: DefaultMemoryChallenges).
func NewMemoryChallengeStore(maxChallenges int) *MemoryChallengeStore {
	if maxChallenges <= 0 {
		maxChallenges = DefaultMemoryChallenges
	}
	return &MemoryChallengeStore{m: map[string]*ChallengeRecord{}, max: maxChallenges}
}

// NewMemoryChallenges returns Challenges kept in a new MemoryChallengeStore
// of the default size.
func NewMemoryChallenges(opts ...ChallengeOption) *Challenges {
	c, _ := NewChallengesIn(NewMemoryChallengeStore(0), opts...) // a non-nil store cannot fail
	return c
}

// CreateChallenge implements ChallengeStore.
func (s *MemoryChallengeStore) CreateChallenge(_ context.Context, c *ChallengeRecord) error {
	if c == nil || c.Key == "" || c.ExpiresAt.IsZero() {
		return errors.New("create challenge: key and expiry are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[c.Key]; ok {
		return ErrChallengeExists
	}
	if len(s.m) >= s.max {
		s.deleteExpiredLocked(c.CreatedAt)
		if len(s.m) >= s.max {
			return ErrChallengeStoreFull
		}
	}
	cp := *c
	cp.UsedAt = nil
	s.m[c.Key] = &cp
	return nil
}

// ChallengeByKey implements ChallengeStore.
func (s *MemoryChallengeStore) ChallengeByKey(_ context.Context, key string) (*ChallengeRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[key]
	if !ok {
		return nil, ErrChallengeNotFound
	}
	cp := *r
	return &cp, nil
}

// ConsumeChallenge implements ChallengeStore.
func (s *MemoryChallengeStore) ConsumeChallenge(_ context.Context, key string, at time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[key]
	if !ok || r.UsedAt != nil || !r.ExpiresAt.After(at) {
		return false, nil
	}
	t := at
	r.UsedAt = &t
	return true, nil
}

// DeleteChallengesExpiredBefore implements ChallengeStore.
func (s *MemoryChallengeStore) DeleteChallengesExpiredBefore(_ context.Context, t time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteExpiredLocked(t), nil
}

// Len is the number of challenges held, open or not.
func (s *MemoryChallengeStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *MemoryChallengeStore) deleteExpiredLocked(t time.Time) int64 {
	var n int64
	for k, r := range s.m {
		if r.ExpiresAt.Before(t) {
			delete(s.m, k)
			n++
		}
	}
	return n
}
