package store

import (
	"context"
	"errors"
	"fmt"
)

// CreateOrganization inserts org, filling in its ID and CreatedAt when they
// are empty. It returns ErrConflict when the ID or slug is taken, or when org
// is a default organization and one already exists.
func (s *Store) CreateOrganization(ctx context.Context, org *Organization) error {
	if org.Slug == "" {
		return errors.New("create organization: empty slug")
	}
	if org.ID == "" {
		org.ID = newUUID()
	}
	if org.CreatedAt.IsZero() {
		org.CreatedAt = now()
	}
	if err := s.db.WithContext(ctx).Create(org).Error; err != nil {
		return fmt.Errorf("create organization %s: %w", org.Slug, classify(err))
	}
	return nil
}

// OrganizationByID returns the organization with the given ID, or
// ErrNotFound.
func (s *Store) OrganizationByID(ctx context.Context, id string) (*Organization, error) {
	var org Organization
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&org).Error; err != nil {
		return nil, fmt.Errorf("organization %s: %w", id, classify(err))
	}
	return &org, nil
}

// OrganizationBySlug returns the organization with the given slug, or
// ErrNotFound.
func (s *Store) OrganizationBySlug(ctx context.Context, slug string) (*Organization, error) {
	var org Organization
	if err := s.db.WithContext(ctx).Where("slug = ?", slug).Take(&org).Error; err != nil {
		return nil, fmt.Errorf("organization with slug %s: %w", slug, classify(err))
	}
	return &org, nil
}

// DefaultOrganization returns the default organization, or ErrNotFound when
// the server has not been bootstrapped.
func (s *Store) DefaultOrganization(ctx context.Context) (*Organization, error) {
	var org Organization
	if err := s.db.WithContext(ctx).Where("is_default = ?", true).Take(&org).Error; err != nil {
		return nil, fmt.Errorf("default organization: %w", classify(err))
	}
	return &org, nil
}

// ListOrganizations returns every organization, oldest first.
func (s *Store) ListOrganizations(ctx context.Context) ([]Organization, error) {
	var orgs []Organization
	if err := s.db.WithContext(ctx).Order("created_at, id").Find(&orgs).Error; err != nil {
		return nil, fmt.Errorf("list organizations: %w", classify(err))
	}
	return orgs, nil
}
