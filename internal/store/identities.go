package store

import (
	"context"
	"errors"
	"fmt"
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
// ErrNotFound.
func (s *Store) IssuerIdentityByDID(ctx context.Context, did string) (*IssuerIdentity, error) {
	var id IssuerIdentity
	if err := s.db.WithContext(ctx).Where("did = ?", did).Take(&id).Error; err != nil {
		return nil, fmt.Errorf("issuer identity %s: %w", did, classify(err))
	}
	return &id, nil
}
