package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// errBootstrapped ends the Bootstrap transaction when a default organization
// already exists.
var errBootstrapped = errors.New("default organization exists")

// Bootstrap sets up a fresh server: in one transaction it creates org as the
// default organization, with its issuer identities and (when token is not nil)
// its first admin token, unless a default organization already exists. It
// reports whether it created them; when it did not, it changed nothing.
//
// It is safe to call from several processes at once: exactly one of them
// creates the default organization and the others get created == false. On
// PostgreSQL the callers are serialized by an advisory lock, with the unique
// index on the default flag as the backstop; on SQLite by the write lock.
//
// IssuerIdentities lists the identities in the order they are given here.
//
// On success, the IDs, CreatedAt times and organization IDs it filled in are
// written back to org, to the elements of identities and to token; on
// created == false they are left as they were.
func (s *Store) Bootstrap(ctx context.Context, org *Organization, identities []IssuerIdentity, token *AdminToken) (created bool, err error) {
	if org == nil {
		return false, errors.New("bootstrap: nil organization")
	}
	newOrg := *org
	newOrg.IsDefault = true
	if newOrg.ID == "" {
		newOrg.ID = newUUID()
	}
	if newOrg.CreatedAt.IsZero() {
		newOrg.CreatedAt = now()
	}
	newIDs := slices.Clone(identities)
	for i := range newIDs {
		newIDs[i].OrganizationID = newOrg.ID
		if newIDs[i].CreatedAt.IsZero() {
			// Distinct times keep IssuerIdentities in the order given.
			newIDs[i].CreatedAt = newOrg.CreatedAt.Add(time.Duration(i) * time.Microsecond)
		}
	}
	var newTok *AdminToken
	if token != nil {
		t := *token
		t.OrganizationID = newOrg.ID
		newTok = &t
	}

	err = s.Transaction(ctx, func(tx *Store) error {
		if tx.driver == DriverPostgres {
			if err := lockNamed(tx.db, "agentid.bootstrap"); err != nil {
				return err
			}
		}
		if _, err := tx.DefaultOrganization(ctx); err == nil {
			return errBootstrapped
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := tx.CreateOrganization(ctx, &newOrg); err != nil {
			return err
		}
		for i := range newIDs {
			if err := tx.AddIssuerIdentity(ctx, &newIDs[i]); err != nil {
				return err
			}
		}
		if newTok != nil {
			if err := tx.CreateAdminToken(ctx, newTok); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err == nil:
		*org = newOrg
		copy(identities, newIDs)
		if token != nil {
			*token = *newTok
		}
		return true, nil
	case errors.Is(err, errBootstrapped):
		return false, nil
	case errors.Is(err, ErrConflict):
		// Another process may have created the default organization between
		// our check and our insert (only possible without the lock).
		if _, derr := s.DefaultOrganization(ctx); derr == nil {
			return false, nil
		}
	}
	return false, fmt.Errorf("bootstrap default organization %s: %w", newOrg.Slug, err)
}
