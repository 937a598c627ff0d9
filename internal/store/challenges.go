package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ErrChallengeInvalid means a challenge passed to CreateChallenge is
// unusable: empty, or with an expiry that is not after its creation.
var ErrChallengeInvalid = errors.New("store: invalid challenge")

// Challenge is a single-use challenge the verifier handed to a relying
// party (POST /challenges). The value itself is not stored: the row is keyed
// by ChallengeID(value).
type Challenge struct {
	// ID is ChallengeID of the challenge's value.
	ID string `gorm:"column:id;primaryKey"`
	// Domain, when not empty, is the domain the presentation answering the
	// challenge must be bound to.
	Domain string `gorm:"column:domain"`
	// CreatedAt is filled in when zero.
	CreatedAt time.Time `gorm:"column:created_at"`
	// ExpiresAt is when the challenge stops being accepted.
	ExpiresAt time.Time `gorm:"column:expires_at"`
	// UsedAt is when the challenge was consumed; nil while it is open.
	UsedAt *time.Time `gorm:"column:used_at"`
}

// TableName is the challenge table.
func (Challenge) TableName() string { return "challenges" }

// ChallengeID is the key a challenge value is stored under: the hex SHA-256
// of the value.
func ChallengeID(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// CreateChallenge stores a new open challenge. ID and ExpiresAt are
// required; CreatedAt is filled in when zero. A challenge with the same ID
// is ErrConflict.
func (s *Store) CreateChallenge(ctx context.Context, c *Challenge) error {
	if c.ID == "" || c.ExpiresAt.IsZero() {
		return fmt.Errorf("create challenge: %w: id and expiry are required", ErrChallengeInvalid)
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Microsecond)
	c.ExpiresAt = c.ExpiresAt.UTC().Truncate(time.Microsecond)
	if !c.ExpiresAt.After(c.CreatedAt) {
		return fmt.Errorf("create challenge: %w: expiry %s is not after creation %s", ErrChallengeInvalid, c.ExpiresAt, c.CreatedAt)
	}
	c.UsedAt = nil
	if err := s.db.WithContext(ctx).Create(c).Error; err != nil {
		return fmt.Errorf("create challenge: %w", classify(err))
	}
	return nil
}

// ChallengeByID returns the challenge stored under id (see ChallengeID),
// open or not, or ErrNotFound.
func (s *Store) ChallengeByID(ctx context.Context, id string) (*Challenge, error) {
	// A plain query (see StatusListStamp): asked on every presentation
	// verification with a challenge.
	var c Challenge
	err := s.queryRow(ctx, "SELECT id, domain, created_at, expires_at, used_at FROM challenges WHERE id = ?", id).
		Scan(&c.ID, &c.Domain, &c.CreatedAt, &c.ExpiresAt, &c.UsedAt)
	if errors.Is(err, sql.ErrNoRows) {
		err = gorm.ErrRecordNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("challenge: %w", classify(err))
	}
	return &c, nil
}

// ConsumeChallenge marks the challenge stored under id as used at the time
// at, if it is still open (not used, not expired at at), in one conditional
// UPDATE. It reports whether this call consumed it: of concurrent callers,
// on one database or many replicas of it, exactly one gets true.
func (s *Store) ConsumeChallenge(ctx context.Context, id string, at time.Time) (bool, error) {
	at = at.UTC().Truncate(time.Microsecond)
	res := s.db.WithContext(ctx).Model(&Challenge{}).
		Where("id = ? AND used_at IS NULL AND expires_at > ?", id, at).
		Update("used_at", at)
	if res.Error != nil {
		return false, fmt.Errorf("consume challenge: %w", classify(res.Error))
	}
	return res.RowsAffected == 1, nil
}

// DeleteChallengesExpiredBefore deletes the challenges (used or not) that
// expired before t and returns how many it deleted.
func (s *Store) DeleteChallengesExpiredBefore(ctx context.Context, t time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at < ?", t.UTC()).Delete(&Challenge{})
	if res.Error != nil {
		return 0, fmt.Errorf("delete expired challenges: %w", classify(res.Error))
	}
	return res.RowsAffected, nil
}
