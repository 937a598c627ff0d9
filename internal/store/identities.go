package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// AddIssuerIdentity inserts id, filling in its ID and CreatedAt when they are
// empty. It returns ErrConflict when the DID is already registered (to any
// organization) and ErrReference when the organization does not exist.
func (s *Store) AddIssuerIdentity(ctx context.Context, id *IssuerIdentity) error {
	switch {
	case id.DID == "":
		return errors.New("add issuer identity: empty DID")
	case id.OrganizationID == "":
		return fmt.Errorf("add issuer identity %s: empty organization ID", id.DID)
	}
	if id.ID == "" {
		id.ID = newUUID()
	}
	if id.CreatedAt.IsZero() {
		id.CreatedAt = now()
	}
	if err := s.db.WithContext(ctx).Create(id).Error; err != nil {
		return fmt.Errorf("add issuer identity %s: %w", id.DID, classify(err))
	}
	return nil
}

// IssuerIdentities returns the issuer identities of an organization, oldest
// first, active and retired alike.
func (s *Store) IssuerIdentities(ctx context.Context, orgID string) ([]IssuerIdentity, error) {
	var ids []IssuerIdentity
	err := s.db.WithContext(ctx).Where("organization_id = ?", orgID).Order("created_at, id").Find(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("issuer identities of organization %s: %w", orgID, classify(err))
	}
	return ids, nil
}

// IssuerIdentityByDID returns the issuer identity with the given DID, or
// ErrNotFound. A DID with several keys (did:web) has several identities; it
// returns the newest active one, or the newest when none is active.
func (s *Store) IssuerIdentityByDID(ctx context.Context, did string) (*IssuerIdentity, error) {
	var id IssuerIdentity
	err := s.db.WithContext(ctx).Where("did = ?", did).
		Order("active DESC, created_at DESC, id DESC").Limit(1).Take(&id).Error
	if err != nil {
		return nil, fmt.Errorf("issuer identity %s: %w", did, classify(err))
	}
	return &id, nil
}

// IssuerIdentitiesByDID returns every identity (key) of a DID, oldest first,
// active and retired alike; none is not an error.
func (s *Store) IssuerIdentitiesByDID(ctx context.Context, did string) ([]IssuerIdentity, error) {
	var ids []IssuerIdentity
	err := s.db.WithContext(ctx).Where("did = ?", did).Order("created_at, id").Find(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("issuer identities of %s: %w", did, classify(err))
	}
	return ids, nil
}

// RetireIssuerIdentity marks an active identity retired at the given time:
// it stops issuing but its key stays known. It returns ErrNotFound when the
// identity does not exist in the organization and ErrConflict when it is
// already retired (another rotation got there first).
func (s *Store) RetireIssuerIdentity(ctx context.Context, orgID, id string, at time.Time) error {
	at = at.UTC().Truncate(time.Microsecond)
	res := s.db.WithContext(ctx).Model(&IssuerIdentity{}).
		Where("id = ? AND organization_id = ? AND active", id, orgID).
		Updates(map[string]any{"active": false, "retired_at": at})
	if res.Error != nil {
		return fmt.Errorf("retire issuer identity %s: %w", id, classify(res.Error))
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var n int64
	if err := s.db.WithContext(ctx).Model(&IssuerIdentity{}).
		Where("id = ? AND organization_id = ?", id, orgID).Count(&n).Error; err != nil {
		return fmt.Errorf("retire issuer identity %s: %w", id, classify(err))
	}
	if n == 0 {
		return fmt.Errorf("retire issuer identity %s: %w", id, ErrNotFound)
	}
	return fmt.Errorf("retire issuer identity %s: already retired: %w", id, ErrConflict)
}
