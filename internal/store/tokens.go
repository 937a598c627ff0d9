package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
)

// HashToken is the form in which an admin token is stored and looked up: its
// SHA-256 digest. Tokens are long random strings, so a fast unsalted hash is
// enough; what matters is that a copy of the database does not hold tokens
// that work.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// TokenMatches reports, in constant time, whether token hashes to stored. It
// is false for an empty token or an empty stored hash.
func TokenMatches(stored []byte, token string) bool {
	if token == "" || len(stored) != sha256.Size {
		return false
	}
	return subtle.ConstantTimeCompare(stored, HashToken(token)) == 1
}

// CreateAdminToken inserts tok, filling in its ID and CreatedAt when they are
// empty. tok.TokenHash must be HashToken of the token. It returns ErrConflict
// when the hash or ID is taken and ErrReference when the organization does not
// exist.
func (s *Store) CreateAdminToken(ctx context.Context, tok *AdminToken) error {
	switch {
	case tok.OrganizationID == "":
		return fmt.Errorf("create admin token %q: empty organization ID", tok.Name)
	case len(tok.TokenHash) != sha256.Size:
		return fmt.Errorf("create admin token %q: token hash is %d bytes, want a %d-byte SHA-256 digest", tok.Name, len(tok.TokenHash), sha256.Size)
	}
	if tok.ID == "" {
		tok.ID = newShortID()
	}
	if tok.CreatedAt.IsZero() {
		tok.CreatedAt = now()
	}
	if err := s.db.WithContext(ctx).Create(tok).Error; err != nil {
		return fmt.Errorf("create admin token %q: %w", tok.Name, classify(err))
	}
	return nil
}

// AdminTokenByHash returns the admin token whose hash is hash, or ErrNotFound
// when there is none or it has been revoked.
func (s *Store) AdminTokenByHash(ctx context.Context, hash []byte) (*AdminToken, error) {
	if len(hash) != sha256.Size {
		return nil, fmt.Errorf("admin token by hash: %w", ErrNotFound)
	}
	var tok AdminToken
	err := s.db.WithContext(ctx).Where("token_hash = ? AND revoked_at IS NULL", hash).Take(&tok).Error
	if err != nil {
		return nil, fmt.Errorf("admin token by hash: %w", classify(err))
	}
	return &tok, nil
}

// ListAdminTokens returns an organization's admin tokens, revoked ones
// included, oldest first.
func (s *Store) ListAdminTokens(ctx context.Context, orgID string) ([]AdminToken, error) {
	var toks []AdminToken
	err := s.db.WithContext(ctx).Where("organization_id = ?", orgID).Order("created_at, id").Find(&toks).Error
	if err != nil {
		return nil, fmt.Errorf("admin tokens of organization %s: %w", orgID, classify(err))
	}
	return toks, nil
}

// RevokeAdminToken revokes the admin token id of organization orgID. Revoking
// a revoked token succeeds and keeps the first revocation time. It returns
// ErrNotFound when the organization has no such token, so one organization
// cannot revoke another's tokens.
func (s *Store) RevokeAdminToken(ctx context.Context, orgID, id string) error {
	db := s.db.WithContext(ctx)
	res := db.Model(&AdminToken{}).
		Where("id = ? AND organization_id = ? AND revoked_at IS NULL", id, orgID).
		Update("revoked_at", now())
	if res.Error != nil {
		return fmt.Errorf("revoke admin token %s: %w", id, classify(res.Error))
	}
	if res.RowsAffected > 0 {
		return nil
	}
	var n int64
	if err := db.Model(&AdminToken{}).Where("id = ? AND organization_id = ?", id, orgID).Count(&n).Error; err != nil {
		return fmt.Errorf("revoke admin token %s: %w", id, classify(err))
	}
	if n == 0 {
		return fmt.Errorf("revoke admin token %s: %w", id, ErrNotFound)
	}
	return nil
}

// TouchAdminToken records that the admin token id was just used. It returns
// ErrNotFound when there is no such token.
func (s *Store) TouchAdminToken(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Model(&AdminToken{}).Where("id = ?", id).Update("last_used_at", now())
	if res.Error != nil {
		return fmt.Errorf("touch admin token %s: %w", id, classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("touch admin token %s: %w", id, ErrNotFound)
	}
	return nil
}
