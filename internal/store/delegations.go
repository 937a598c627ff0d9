package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Delegation is an issued AgentDelegationCredential as the issuer tracks
// it: its place in a delegation chain, for narrowing checks and cascading
// revocation.
type Delegation struct {
	// ID is a UUID; CreateDelegation fills it in when empty.
	ID             string `gorm:"column:id;primaryKey"`
	OrganizationID string `gorm:"column:organization_id"`
	// CredentialRowID is the issued_credentials row of the credential;
	// CredentialID its id.
	CredentialRowID string `gorm:"column:credential_row_id"`
	CredentialID    string `gorm:"column:credential_id"`
	// ParentID is the delegation this one narrows; nil for a delegation a
	// human signed.
	ParentID *string `gorm:"column:parent_id"`
	// AgentDID is the agent the delegation is for (the subject).
	AgentDID string `gorm:"column:agent_did"`
	// DelegatorDID signed the consent: the human, or for a sub-delegation
	// the parent delegation's agent.
	DelegatorDID string `gorm:"column:delegator_did"`
	// PrincipalDID is the human at the root of the chain.
	PrincipalDID string `gorm:"column:principal_did"`
	// Scopes and Audience are the JSON of what the delegation grants.
	Scopes   string `gorm:"column:scopes"`
	Audience string `gorm:"column:audience"`
	// ConsentHash is the hex SHA-256 of the consent JWS; unique.
	ConsentHash string    `gorm:"column:consent_hash"`
	ExpiresAt   time.Time `gorm:"column:expires_at"`
	CreatedAt   time.Time `gorm:"column:created_at"`
}

// TableName is the delegation table.
func (Delegation) TableName() string { return "delegations" }

// CreateDelegation stores a delegation. ID and CreatedAt are filled in
// when empty. A credential id or consent hash stored already is
// ErrConflict; a missing credential row or parent is ErrReference.
func (s *Store) CreateDelegation(ctx context.Context, d *Delegation) error {
	if d.OrganizationID == "" || d.CredentialRowID == "" || d.CredentialID == "" || d.AgentDID == "" ||
		d.DelegatorDID == "" || d.PrincipalDID == "" || d.ConsentHash == "" || d.ExpiresAt.IsZero() {
		return errors.New("create delegation: organization, credential, agent, delegator, principal, consent hash and expiry are required")
	}
	if d.ID == "" {
		d.ID = newUUID()
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = now()
	}
	d.CreatedAt, d.ExpiresAt = utcMicro(d.CreatedAt), utcMicro(d.ExpiresAt)
	if err := s.db.WithContext(ctx).Create(d).Error; err != nil {
		return fmt.Errorf("create delegation: %w", classify(err))
	}
	return nil
}

// DelegationByCredentialID returns the organization's delegation whose
// credential has the given id, or ErrNotFound (also when another
// organization has it).
func (s *Store) DelegationByCredentialID(ctx context.Context, orgID, credentialID string) (*Delegation, error) {
	var d Delegation
	err := s.db.WithContext(ctx).Where("organization_id = ? AND credential_id = ?", orgID, credentialID).Take(&d).Error
	if err != nil {
		return nil, fmt.Errorf("delegation of credential %s: %w", credentialID, classify(err))
	}
	return &d, nil
}

// DelegationConsentUsed reports whether a delegation was issued for the
// consent with the given hash.
func (s *Store) DelegationConsentUsed(ctx context.Context, consentHash string) (bool, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&Delegation{}).Where("consent_hash = ?", consentHash).Count(&n).Error; err != nil {
		return false, fmt.Errorf("delegation consent: %w", classify(err))
	}
	return n > 0, nil
}

// maxDelegationDescendants bounds DelegationDescendants, so that a
// pathological chain cannot make one revocation unbounded.
const maxDelegationDescendants = 10000

// DelegationDescendants returns every delegation below the delegation id
// (children, their children, ...), breadth first.
func (s *Store) DelegationDescendants(ctx context.Context, id string) ([]Delegation, error) {
	var out []Delegation
	frontier := []string{id}
	seen := map[string]bool{id: true}
	for len(frontier) > 0 {
		var children []Delegation
		if err := s.db.WithContext(ctx).Where("parent_id IN ?", frontier).Order("created_at, id").Find(&children).Error; err != nil {
			return nil, fmt.Errorf("descendants of delegation %s: %w", id, classify(err))
		}
		frontier = frontier[:0]
		for _, c := range children {
			if seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			out = append(out, c)
			frontier = append(frontier, c.ID)
		}
		if len(out) > maxDelegationDescendants {
			return nil, fmt.Errorf("descendants of delegation %s: more than %d", id, maxDelegationDescendants)
		}
	}
	return out, nil
}

// signedRequestNonce is a row of signed_request_nonces.
type signedRequestNonce struct {
	NonceHash string    `gorm:"column:nonce_hash;primaryKey"`
	ExpiresAt time.Time `gorm:"column:expires_at"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

func (signedRequestNonce) TableName() string { return "signed_request_nonces" }

// UseNonce records the nonce hash of a signed request as used until
// expires. A hash recorded already (a replay) is ErrConflict, also after
// it expired but before it is purged; nonces that expired before now are
// purged first.
func (s *Store) UseNonce(ctx context.Context, nonceHash string, expires time.Time) error {
	if nonceHash == "" || expires.IsZero() {
		return errors.New("use nonce: hash and expiry are required")
	}
	t := now()
	db := s.db.WithContext(ctx)
	if err := db.Where("expires_at < ?", t).Delete(&signedRequestNonce{}).Error; err != nil {
		return fmt.Errorf("use nonce: purge expired: %w", classify(err))
	}
	row := signedRequestNonce{NonceHash: nonceHash, ExpiresAt: utcMicro(expires), CreatedAt: t}
	if err := db.Create(&row).Error; err != nil {
		return fmt.Errorf("use nonce: %w", classify(err))
	}
	return nil
}
