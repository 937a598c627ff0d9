package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// Enrollment states.
const (
	// EnrollmentPendingEvidence waits for the agent's evidence (or software
	// proof) over the nonce.
	EnrollmentPendingEvidence = "pending-evidence"
	// EnrollmentPendingActivation waits for the answer to the credential
	// activation challenge.
	EnrollmentPendingActivation = "pending-activation"
	// EnrollmentActivated has recorded its agent.
	EnrollmentActivated = "activated"
	// EnrollmentFailed was ended by a wrong activation answer.
	EnrollmentFailed = "failed"
)

// Agent states.
const (
	AgentPendingApproval = "pending-approval"
	AgentApproved        = "approved"
	AgentRejected        = "rejected"
)

// Enrollment is one attempt of an agent to enroll with an organization.
type Enrollment struct {
	// ID is a UUID; CreateEnrollment fills it in when empty.
	ID             string `gorm:"column:id;primaryKey"`
	OrganizationID string `gorm:"column:organization_id"`
	// AgentDID is the agent's P-256 did:key.
	AgentDID string `gorm:"column:agent_did"`
	Name     string `gorm:"column:name"`
	// Software is the JSON of the agent's software facts.
	Software     string `gorm:"column:software"`
	PrincipalDID string `gorm:"column:principal_did"`
	State        string `gorm:"column:state"`
	// NonceHash is the hex SHA-256 of the nonce; unique.
	NonceHash      string     `gorm:"column:nonce_hash"`
	NonceExpiresAt time.Time  `gorm:"column:nonce_expires_at"`
	NonceUsedAt    *time.Time `gorm:"column:nonce_used_at"`
	// SecretHash is the SHA-256 of the activation secret, once the
	// evidence verified.
	SecretHash          []byte     `gorm:"column:secret_hash"`
	ActivationExpiresAt *time.Time `gorm:"column:activation_expires_at"`
	ActivationUsedAt    *time.Time `gorm:"column:activation_used_at"`
	// Facts is the JSON of the verified attestation facts.
	Facts string `gorm:"column:facts"`
	// AgentID is the agent the enrollment recorded, once activated.
	AgentID   string    `gorm:"column:agent_id"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

// TableName is the enrollment table.
func (Enrollment) TableName() string { return "enrollments" }

// Agent is an enrolled agent of an organization.
type Agent struct {
	// ID is a UUID; CreateAgent fills it in when empty.
	ID             string `gorm:"column:id;primaryKey"`
	OrganizationID string `gorm:"column:organization_id"`
	// DID is unique within the organization.
	DID          string `gorm:"column:did"`
	Name         string `gorm:"column:name"`
	Software     string `gorm:"column:software"`
	PrincipalDID string `gorm:"column:principal_did"`
	// Assurance is "hardware" or "software"; Method how it was established
	// (ek-certificate, ek-allowlist, software).
	Assurance           string     `gorm:"column:assurance"`
	Method              string     `gorm:"column:method"`
	EKCertificateSHA256 string     `gorm:"column:ek_certificate_sha256"`
	EKPublicKeySHA256   string     `gorm:"column:ek_public_key_sha256"`
	Manufacturer        string     `gorm:"column:manufacturer"`
	Model               string     `gorm:"column:model"`
	FirmwareVersion     string     `gorm:"column:firmware_version"`
	AttestedAt          time.Time  `gorm:"column:attested_at"`
	State               string     `gorm:"column:state"`
	CreatedAt           time.Time  `gorm:"column:created_at"`
	DecidedAt           *time.Time `gorm:"column:decided_at"`
}

// TableName is the agent table.
func (Agent) TableName() string { return "agents" }

// EnrollmentPolicy is an organization's enrollment policy. An organization
// without a row has the zero policy: no software keys, no auto-approval.
type EnrollmentPolicy struct {
	OrganizationID string `gorm:"column:organization_id;primaryKey"`
	// AllowSoftware admits agents whose key is not in a TPM.
	AllowSoftware bool `gorm:"column:allow_software"`
	// AutoApprove approves hardware agents (EK trusted by a root or the
	// allowlist) without an admin.
	AutoApprove bool      `gorm:"column:auto_approve"`
	UpdatedAt   time.Time `gorm:"column:updated_at"`
}

// TableName is the enrollment policy table.
func (EnrollmentPolicy) TableName() string { return "enrollment_policies" }

// ekAllowlistEntry is a row of ek_allowlist.
type ekAllowlistEntry struct {
	OrganizationID string    `gorm:"column:organization_id;primaryKey"`
	EKHash         string    `gorm:"column:ek_hash;primaryKey"`
	CreatedAt      time.Time `gorm:"column:created_at"`
}

func (ekAllowlistEntry) TableName() string { return "ek_allowlist" }

func utcMicro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// CreateEnrollment stores a new enrollment in state pending-evidence.
func (s *Store) CreateEnrollment(ctx context.Context, e *Enrollment) error {
	if e.OrganizationID == "" || e.AgentDID == "" || e.NonceHash == "" || e.NonceExpiresAt.IsZero() {
		return errors.New("create enrollment: organization, agent DID, nonce hash and expiry are required")
	}
	if e.ID == "" {
		e.ID = newUUID()
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now()
	}
	e.CreatedAt, e.NonceExpiresAt = utcMicro(e.CreatedAt), utcMicro(e.NonceExpiresAt)
	e.State = EnrollmentPendingEvidence
	if err := s.db.WithContext(ctx).Create(e).Error; err != nil {
		return fmt.Errorf("create enrollment: %w", classify(err))
	}
	return nil
}

// EnrollmentByID returns the enrollment, or ErrNotFound.
func (s *Store) EnrollmentByID(ctx context.Context, id string) (*Enrollment, error) {
	var e Enrollment
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&e).Error; err != nil {
		return nil, fmt.Errorf("enrollment %s: %w", id, classify(err))
	}
	return &e, nil
}

// StartActivation consumes the nonce of a pending-evidence enrollment (its
// hash must be nonceHash, unused and unexpired at at) and records the
// activation challenge's secret hash, expiry and the verified facts, moving
// it to pending-activation, in one conditional UPDATE. It reports whether
// this call did it: of concurrent callers exactly one gets true.
func (s *Store) StartActivation(ctx context.Context, id, nonceHash string, at time.Time, secretHash []byte, expires time.Time, facts string) (bool, error) {
	at = utcMicro(at)
	res := s.db.WithContext(ctx).Model(&Enrollment{}).
		Where("id = ? AND state = ? AND nonce_hash = ? AND nonce_used_at IS NULL AND nonce_expires_at > ?",
			id, EnrollmentPendingEvidence, nonceHash, at).
		Updates(map[string]any{
			"state": EnrollmentPendingActivation, "nonce_used_at": at, "secret_hash": secretHash,
			"activation_expires_at": utcMicro(expires), "facts": facts,
		})
	if res.Error != nil {
		return false, fmt.Errorf("start activation of enrollment %s: %w", id, classify(res.Error))
	}
	return res.RowsAffected == 1, nil
}

// FailActivation consumes the activation of a pending-activation
// enrollment without recording an agent (a wrong answer), moving it to
// failed. It reports whether this call did it.
func (s *Store) FailActivation(ctx context.Context, id string, at time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Enrollment{}).
		Where("id = ? AND state = ? AND activation_used_at IS NULL", id, EnrollmentPendingActivation).
		Updates(map[string]any{"state": EnrollmentFailed, "activation_used_at": utcMicro(at)})
	if res.Error != nil {
		return false, fmt.Errorf("fail activation of enrollment %s: %w", id, classify(res.Error))
	}
	return res.RowsAffected == 1, nil
}

// CompleteActivation consumes the activation of a pending-activation
// enrollment (unexpired at at) and records agent, in one transaction. It
// reports false, recording nothing, when the activation was consumed
// already or expired; an agent DID the organization has already is
// ErrConflict.
func (s *Store) CompleteActivation(ctx context.Context, id string, at time.Time, agent *Agent) (bool, error) {
	return s.finishEnrollment(ctx, id, agent,
		"id = ? AND state = ? AND activation_used_at IS NULL AND activation_expires_at > ?",
		[]any{id, EnrollmentPendingActivation, utcMicro(at)},
		map[string]any{"activation_used_at": utcMicro(at)})
}

// CompleteSoftwareEnrollment consumes the nonce of a pending-evidence
// enrollment (its hash must be nonceHash, unused and unexpired at at) and
// records agent, in one transaction: the path of a software key, which has
// no activation. It reports false, recording nothing, when the nonce was
// consumed already or expired.
func (s *Store) CompleteSoftwareEnrollment(ctx context.Context, id, nonceHash string, at time.Time, agent *Agent) (bool, error) {
	return s.finishEnrollment(ctx, id, agent,
		"id = ? AND state = ? AND nonce_hash = ? AND nonce_used_at IS NULL AND nonce_expires_at > ?",
		[]any{id, EnrollmentPendingEvidence, nonceHash, utcMicro(at)},
		map[string]any{"nonce_used_at": utcMicro(at)})
}

func (s *Store) finishEnrollment(ctx context.Context, id string, agent *Agent, where string, args []any, set map[string]any) (bool, error) {
	if agent.ID == "" {
		agent.ID = newUUID()
	}
	done := false
	err := s.Transaction(ctx, func(tx *Store) error {
		set["state"] = EnrollmentActivated
		set["agent_id"] = agent.ID
		res := tx.db.Model(&Enrollment{}).Where(where, args...).Updates(set)
		if res.Error != nil {
			return classify(res.Error)
		}
		if res.RowsAffected != 1 {
			return nil
		}
		if err := tx.CreateAgent(ctx, agent); err != nil {
			return err
		}
		done = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("finish enrollment %s: %w", id, err)
	}
	return done, nil
}

// CreateAgent stores a new agent. ID and CreatedAt are filled in when
// empty; an agent DID the organization has already is ErrConflict.
func (s *Store) CreateAgent(ctx context.Context, a *Agent) error {
	if a.ID == "" {
		a.ID = newUUID()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now()
	}
	a.CreatedAt, a.AttestedAt = utcMicro(a.CreatedAt), utcMicro(a.AttestedAt)
	if err := s.db.WithContext(ctx).Create(a).Error; err != nil {
		return fmt.Errorf("create agent: %w", classify(err))
	}
	return nil
}

// AgentByID returns the organization's agent with the given id, or
// ErrNotFound (also when it belongs to another organization).
func (s *Store) AgentByID(ctx context.Context, orgID, id string) (*Agent, error) {
	var a Agent
	if err := s.db.WithContext(ctx).Where("organization_id = ? AND id = ?", orgID, id).Take(&a).Error; err != nil {
		return nil, fmt.Errorf("agent %s: %w", id, classify(err))
	}
	return &a, nil
}

// AgentByDID returns the organization's agent with the given DID, or
// ErrNotFound.
func (s *Store) AgentByDID(ctx context.Context, orgID, did string) (*Agent, error) {
	var a Agent
	if err := s.db.WithContext(ctx).Where("organization_id = ? AND did = ?", orgID, did).Take(&a).Error; err != nil {
		return nil, fmt.Errorf("agent %s: %w", did, classify(err))
	}
	return &a, nil
}

// SetAgentState moves the organization's agent from state from to state to
// at the time at, in one conditional UPDATE, and reports whether this call
// did it.
func (s *Store) SetAgentState(ctx context.Context, orgID, id, from, to string, at time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Agent{}).
		Where("organization_id = ? AND id = ? AND state = ?", orgID, id, from).
		Updates(map[string]any{"state": to, "decided_at": utcMicro(at)})
	if res.Error != nil {
		return false, fmt.Errorf("set state of agent %s: %w", id, classify(res.Error))
	}
	return res.RowsAffected == 1, nil
}

// EnrollmentPolicyFor returns the organization's enrollment policy: the
// stored one, or the zero policy (no software keys, no auto-approval).
func (s *Store) EnrollmentPolicyFor(ctx context.Context, orgID string) (*EnrollmentPolicy, error) {
	var p EnrollmentPolicy
	err := s.db.WithContext(ctx).Where("organization_id = ?", orgID).Take(&p).Error
	switch err = classify(err); {
	case errors.Is(err, ErrNotFound):
		return &EnrollmentPolicy{OrganizationID: orgID}, nil
	case err != nil:
		return nil, fmt.Errorf("enrollment policy: %w", err)
	}
	return &p, nil
}

// PutEnrollmentPolicy stores the organization's enrollment policy,
// replacing the one it had.
func (s *Store) PutEnrollmentPolicy(ctx context.Context, p *EnrollmentPolicy) error {
	p.UpdatedAt = now()
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "organization_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"allow_software", "auto_approve", "updated_at"}),
	}).Create(p).Error
	if err != nil {
		return fmt.Errorf("put enrollment policy: %w", classify(err))
	}
	return nil
}

// AddEKAllowlist puts an EK public-key hash (lowercase hex, see
// attest.EKPublicKeyHash) on the organization's EK allowlist; adding one
// that is there already is not an error.
func (s *Store) AddEKAllowlist(ctx context.Context, orgID, hash string) error {
	row := ekAllowlistEntry{OrganizationID: orgID, EKHash: hash, CreatedAt: now()}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("add to EK allowlist: %w", classify(err))
	}
	return nil
}

// EKAllowlist returns the organization's allowlisted EK hashes.
func (s *Store) EKAllowlist(ctx context.Context, orgID string) ([]string, error) {
	var out []string
	err := s.db.WithContext(ctx).Model(&ekAllowlistEntry{}).Where("organization_id = ?", orgID).
		Order("ek_hash").Pluck("ek_hash", &out).Error
	if err != nil {
		return nil, fmt.Errorf("EK allowlist: %w", classify(err))
	}
	return out, nil
}
