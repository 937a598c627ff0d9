package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
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
	// Purpose and Consent are the consent's purpose and the consent JWS,
	// to issue the credentials again on renewal.
	Purpose string `gorm:"column:purpose"`
	Consent string `gorm:"column:consent"`
	// Formats are the formats the delegation is issued in, space
	// separated ("ldp_vc dc+sd-jwt").
	Formats string `gorm:"column:formats"`
	// ConsentedAt is the signing time of the consent; a policy renewal
	// cannot carry the delegation past it plus the policy's lifetime.
	ConsentedAt *time.Time `gorm:"column:consented_at"`
	// Renewals counts the policy renewals since the consent.
	Renewals int `gorm:"column:renewals"`
	// RenewalOf is the delegation a consent renewed (and superseded).
	RenewalOf *string `gorm:"column:renewal_of"`
	// DelegatorRole says by what right DelegatorDID signed: "principal",
	// "approver" or "agent" (a sub-delegation).
	DelegatorRole string `gorm:"column:delegator_role"`
}

// DelegationCredential is one credential of a delegation: one per format,
// and those of earlier renewals.
type DelegationCredential struct {
	CredentialRowID string    `gorm:"column:credential_row_id;primaryKey"`
	DelegationID    string    `gorm:"column:delegation_id"`
	OrganizationID  string    `gorm:"column:organization_id"`
	CredentialID    string    `gorm:"column:credential_id"`
	Format          string    `gorm:"column:format"`
	CreatedAt       time.Time `gorm:"column:created_at"`
}

// TableName is the delegation credential table.
func (DelegationCredential) TableName() string { return "delegation_credentials" }

// TableName is the delegation table.
func (Delegation) TableName() string { return "delegations" }

// CreateDelegation stores a delegation with its credentials (creds; the
// one of d.CredentialRowID is added when creds lacks it), in one
// transaction. ID and CreatedAt are filled in when empty. A credential id
// or consent hash stored already is ErrConflict; a missing credential row
// or parent is ErrReference.
func (s *Store) CreateDelegation(ctx context.Context, d *Delegation, creds ...DelegationCredential) error {
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
	if d.ConsentedAt == nil {
		t := d.CreatedAt
		d.ConsentedAt = &t
	} else {
		t := utcMicro(*d.ConsentedAt)
		d.ConsentedAt = &t
	}
	if d.Formats == "" {
		d.Formats = "ldp_vc"
	}
	if !slices.ContainsFunc(creds, func(c DelegationCredential) bool { return c.CredentialRowID == d.CredentialRowID }) {
		first := strings.Fields(d.Formats)[0]
		creds = append([]DelegationCredential{{CredentialRowID: d.CredentialRowID, CredentialID: d.CredentialID, Format: first}}, creds...)
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(d).Error; err != nil {
			return err
		}
		return addDelegationCredentials(tx, d, creds)
	})
	if err != nil {
		return fmt.Errorf("create delegation: %w", classify(err))
	}
	return nil
}

func addDelegationCredentials(tx *gorm.DB, d *Delegation, creds []DelegationCredential) error {
	for i := range creds {
		c := &creds[i]
		c.DelegationID, c.OrganizationID = d.ID, d.OrganizationID
		if c.CreatedAt.IsZero() {
			c.CreatedAt = now()
		}
		c.CreatedAt = utcMicro(c.CreatedAt)
		if c.CredentialRowID == "" || c.CredentialID == "" || c.Format == "" {
			return errors.New("a delegation credential needs its row, id and format")
		}
		if err := tx.Create(c).Error; err != nil {
			return err
		}
	}
	return nil
}

// RenewDelegationCredentials records a policy renewal of the delegation
// id: its new credentials (the first becomes its primary credential), its
// new end, and one more renewal. Call it inside Transaction.
func (s *Store) RenewDelegationCredentials(ctx context.Context, orgID, id string, expires time.Time, creds []DelegationCredential) error {
	if len(creds) == 0 || expires.IsZero() {
		return errors.New("renew delegation: credentials and expiry are required")
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Delegation{}).Where("organization_id = ? AND id = ?", orgID, id).Updates(map[string]any{
			"credential_row_id": creds[0].CredentialRowID, "credential_id": creds[0].CredentialID,
			"expires_at": utcMicro(expires), "renewals": gorm.Expr("renewals + 1"),
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotFound
		}
		return addDelegationCredentials(tx, &Delegation{ID: id, OrganizationID: orgID}, creds)
	})
	if err != nil {
		return fmt.Errorf("renew delegation %s: %w", id, classify(err))
	}
	return nil
}

// DelegationByRef returns the organization's delegation whose id, or the
// id of one of whose credentials, is ref; ErrNotFound when none (also when
// another organization has it).
func (s *Store) DelegationByRef(ctx context.Context, orgID, ref string) (*Delegation, error) {
	var rows []Delegation
	err := s.db.WithContext(ctx).Where("organization_id = ? AND (id = ? OR id IN (?))", orgID, ref,
		s.db.Model(&DelegationCredential{}).Select("delegation_id").Where("organization_id = ? AND credential_id = ?", orgID, ref)).
		Limit(1).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("delegation %s: %w", ref, classify(err))
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("delegation %s: %w", ref, ErrNotFound)
	}
	return &rows[0], nil
}

// DelegationCredentials returns the credentials of the delegation id,
// oldest first.
func (s *Store) DelegationCredentials(ctx context.Context, id string) ([]DelegationCredential, error) {
	var out []DelegationCredential
	if err := s.db.WithContext(ctx).Where("delegation_id = ?", id).Order("created_at, credential_row_id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("credentials of delegation %s: %w", id, classify(err))
	}
	return out, nil
}

// DelegationChildren returns the delegations whose parent is id.
func (s *Store) DelegationChildren(ctx context.Context, id string) ([]Delegation, error) {
	var out []Delegation
	if err := s.db.WithContext(ctx).Where("parent_id = ?", id).Order("created_at, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("children of delegation %s: %w", id, classify(err))
	}
	return out, nil
}

// SetDelegationParent moves the delegation id below parent.
func (s *Store) SetDelegationParent(ctx context.Context, id, parent string) error {
	res := s.db.WithContext(ctx).Model(&Delegation{}).Where("id = ?", id).Update("parent_id", parent)
	if res.Error != nil {
		return fmt.Errorf("re-parent delegation %s: %w", id, classify(res.Error))
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("re-parent delegation %s: %w", id, ErrNotFound)
	}
	return nil
}

// CountDelegations counts the organization's delegations.
func (s *Store) CountDelegations(ctx context.Context, orgID string) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&Delegation{}).Where("organization_id = ?", orgID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count delegations: %w", classify(err))
	}
	return n, nil
}

// DelegationApprover is a human DID the organization lets sign root
// delegation consents for any of its approved agents.
type DelegationApprover struct {
	OrganizationID string    `gorm:"column:organization_id;primaryKey"`
	DID            string    `gorm:"column:did;primaryKey"`
	CreatedAt      time.Time `gorm:"column:created_at"`
}

// TableName is the approver table.
func (DelegationApprover) TableName() string { return "delegation_approvers" }

// AddDelegationApprover registers did as an approver of the organization;
// one registered already is ErrConflict.
func (s *Store) AddDelegationApprover(ctx context.Context, orgID, did string) (*DelegationApprover, error) {
	a := &DelegationApprover{OrganizationID: orgID, DID: did, CreatedAt: now()}
	if err := s.db.WithContext(ctx).Create(a).Error; err != nil {
		return nil, fmt.Errorf("add delegation approver: %w", classify(err))
	}
	return a, nil
}

// RemoveDelegationApprover removes the approver did; ErrNotFound when the
// organization has none.
func (s *Store) RemoveDelegationApprover(ctx context.Context, orgID, did string) error {
	res := s.db.WithContext(ctx).Where("organization_id = ? AND did = ?", orgID, did).Delete(&DelegationApprover{})
	if res.Error != nil {
		return fmt.Errorf("remove delegation approver: %w", classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("remove delegation approver %s: %w", did, ErrNotFound)
	}
	return nil
}

// DelegationApprovers lists the organization's approvers, oldest first.
func (s *Store) DelegationApprovers(ctx context.Context, orgID string) ([]DelegationApprover, error) {
	var out []DelegationApprover
	if err := s.db.WithContext(ctx).Where("organization_id = ?", orgID).Order("created_at, did").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("delegation approvers: %w", classify(err))
	}
	return out, nil
}

// IsDelegationApprover reports whether did is an approver of the
// organization.
func (s *Store) IsDelegationApprover(ctx context.Context, orgID, did string) (bool, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&DelegationApprover{}).Where("organization_id = ? AND did = ?", orgID, did).Count(&n).Error; err != nil {
		return false, fmt.Errorf("delegation approver: %w", classify(err))
	}
	return n > 0, nil
}

// DelegationPolicy is an organization's delegation renewal policy. An
// organization without a row has the zero policy: no renewal by policy.
type DelegationPolicy struct {
	OrganizationID string `gorm:"column:organization_id;primaryKey"`
	// Renewable lets an agent renew its delegations with a signed request.
	Renewable bool `gorm:"column:renewable"`
	// MaxRenewals bounds the policy renewals of one consent.
	MaxRenewals int `gorm:"column:max_renewals"`
	// MaxLifetimeSeconds bounds how long after its consent a delegation
	// may be renewed to run.
	MaxLifetimeSeconds int64     `gorm:"column:max_lifetime_seconds"`
	UpdatedAt          time.Time `gorm:"column:updated_at"`
}

// TableName is the delegation policy table.
func (DelegationPolicy) TableName() string { return "delegation_policies" }

// DelegationPolicyFor returns the organization's delegation policy: the
// stored one, or the zero policy.
func (s *Store) DelegationPolicyFor(ctx context.Context, orgID string) (*DelegationPolicy, error) {
	var rows []DelegationPolicy
	if err := s.db.WithContext(ctx).Where("organization_id = ?", orgID).Limit(1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("delegation policy: %w", classify(err))
	}
	if len(rows) == 0 {
		return &DelegationPolicy{OrganizationID: orgID}, nil
	}
	return &rows[0], nil
}

// PutDelegationPolicy stores the organization's delegation policy,
// replacing the one it had.
func (s *Store) PutDelegationPolicy(ctx context.Context, p *DelegationPolicy) error {
	p.UpdatedAt = now()
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "organization_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"renewable", "max_renewals", "max_lifetime_seconds", "updated_at"}),
	}).Create(p).Error
	if err != nil {
		return fmt.Errorf("put delegation policy: %w", classify(err))
	}
	return nil
}

// DelegationByCredentialID returns the organization's delegation one of
// whose credentials (any format, any renewal) has the given id, or
// ErrNotFound (also when another organization has it).
func (s *Store) DelegationByCredentialID(ctx context.Context, orgID, credentialID string) (*Delegation, error) {
	var rows []Delegation
	err := s.db.WithContext(ctx).Where("id IN (?)",
		s.db.Model(&DelegationCredential{}).Select("delegation_id").Where("organization_id = ? AND credential_id = ?", orgID, credentialID)).
		Limit(1).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("delegation of credential %s: %w", credentialID, classify(err))
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("delegation of credential %s: %w", credentialID, ErrNotFound)
	}
	return &rows[0], nil
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

// NonceUsed reports whether the nonce hash of a signed request is recorded
// (UseNonce), so that a replay can be refused before any check that
// writes.
func (s *Store) NonceUsed(ctx context.Context, nonceHash string) (bool, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&signedRequestNonce{}).Where("nonce_hash = ?", nonceHash).Count(&n).Error; err != nil {
		return false, fmt.Errorf("nonce used: %w", classify(err))
	}
	return n > 0, nil
}
