package issuer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/keys"
)

var (
	// ErrInvalidRotation is a key rotation request with a key type agentid
	// does not issue with (400).
	ErrInvalidRotation = errors.New("invalid key rotation request")
	// ErrRotationConflict is a rotation that another rotation of the same
	// key overtook (409); trying again rotates once more.
	ErrRotationConflict = errors.New("the key was rotated concurrently")
)

// RotationKeyTypes are the key types RotateKey accepts.
var RotationKeyTypes = []keys.KeyType{keys.Ed25519, keys.P256}

// Rotation is what RotateKey did.
type Rotation struct {
	KeyType keys.KeyType
	// Retired are the identities that stopped issuing (the old did:key and
	// the old key of each did:web), as they are now.
	Retired []store.IssuerIdentity
	// Added are the new active identities: the new did:key and the new key
	// of each did:web of the organization.
	Added []store.IssuerIdentity
}

// RotateKey gives the organization a new signing key of the given type
// ("ed25519" or "p256") and retires the old one. In one transaction:
//
//   - every active identity of that type is retired: it signs no new
//     credential from now on;
//   - the new key becomes a new did:key identity, which is what new
//     credentials of that type are issued as by default;
//   - each did:web of the organization gets the new key as its next
//     verification method #key-N, and keeps the retired ones in its
//     document's assertionMethod.
//
// Credentials signed before stay verifiable: a did:key resolves by itself,
// and the old did:key keeps its status lists, which the retired key goes on
// signing so that their revocations can still be published; a did:web lists
// its retired keys. A type other than ed25519 and p256 is
// ErrInvalidRotation, naming /type. The new key is created with the key
// manager scheme of the key it replaces.
func (s *Service) RotateKey(ctx context.Context, orgID, keyType string) (*Rotation, error) {
	kt := keys.KeyType(strings.TrimSpace(keyType))
	if !slices.Contains(RotationKeyTypes, kt) {
		return nil, invalid(ErrInvalidRotation, "the key type cannot be rotated",
			field("/type", fmt.Sprintf("must be one of ed25519, p256; got %q", keyType)))
	}
	org, err := s.store.OrganizationByID(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("no such organization")
	} else if err != nil {
		return nil, fmt.Errorf("rotate %s key: %w", kt, err)
	}
	// did:web identities are added first, so that the new key reaches
	// every did:web the organization has.
	if _, err := s.ensureOrgWeb(ctx, org); err != nil {
		return nil, fmt.Errorf("rotate %s key of %s: %w", kt, org.Slug, err)
	}
	ids, err := s.store.IssuerIdentities(ctx, org.ID)
	if err != nil {
		return nil, fmt.Errorf("rotate %s key of %s: %w", kt, org.Slug, err)
	}
	scheme := "software"
	for _, id := range ids {
		if id.KeyType == string(kt) && id.KeyID == "" {
			if sch, _, err := keys.ParseKeyURI(id.KeyURI); err == nil {
				scheme = sch
			}
		}
	}
	signer, err := s.keys.Create(ctx, scheme, kt)
	if err != nil {
		return nil, fmt.Errorf("rotate %s key of %s: create key: %w", kt, org.Slug, err)
	}
	did, err := didmethods.CreateKey(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("rotate %s key of %s: %w", kt, org.Slug, err)
	}
	suite := dataintegrity.ECDSARDFC2019
	if kt == keys.Ed25519 {
		suite = dataintegrity.EdDSARDFC2022
	}

	rot := &Rotation{KeyType: kt}
	err = s.store.Transaction(ctx, func(tx *store.Store) error {
		rot.Retired, rot.Added = rot.Retired[:0], rot.Added[:0]
		ids, err := tx.IssuerIdentities(ctx, org.ID)
		if err != nil {
			return err
		}
		at := s.now().UTC().Truncate(time.Microsecond)
		var webDIDs []string
		for _, id := range ids {
			if id.KeyID != "" && !slices.Contains(webDIDs, id.DID) {
				webDIDs = append(webDIDs, id.DID)
			}
			if !id.Active || id.KeyType != string(kt) {
				continue
			}
			if err := tx.RetireIssuerIdentity(ctx, org.ID, id.ID, at); err != nil {
				return err
			}
			id.Active, id.RetiredAt = false, &at
			rot.Retired = append(rot.Retired, id)
		}
		add := func(row store.IssuerIdentity) error {
			row.OrganizationID, row.KeyURI, row.KeyType, row.Cryptosuite, row.Active = org.ID, signer.URI(), string(kt), suite, true
			row.CreatedAt = at.Add(time.Duration(len(rot.Added)+1) * time.Microsecond)
			if err := tx.AddIssuerIdentity(ctx, &row); err != nil {
				return err
			}
			rot.Added = append(rot.Added, row)
			return nil
		}
		if err := add(store.IssuerIdentity{DID: did}); err != nil {
			return err
		}
		for _, web := range webDIDs {
			keysOf, err := tx.IssuerIdentitiesByDID(ctx, web)
			if err != nil {
				return err
			}
			if err := add(store.IssuerIdentity{DID: web, KeyID: webKeyPrefix + strconv.Itoa(len(keysOf)+1)}); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, conflict(ErrRotationConflict, "the key was rotated by another request at the same time; try again")
	case err != nil:
		return nil, fmt.Errorf("rotate %s key of %s: %w", kt, org.Slug, err)
	}
	s.log.InfoContext(ctx, "rotated issuer key", "org", org.Slug, "key_type", string(kt), "did", did,
		"retired", len(rot.Retired), "added", len(rot.Added))
	return rot, nil
}
