package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Credential statuses, the current state of an issued credential.
const (
	CredentialActive    = "active"
	CredentialSuspended = "suspended"
	CredentialRevoked   = "revoked"
)

// IssuedCredential is a credential an organization issued: the signed
// document as it was handed out, with what is needed to find it (issuer,
// subject, types, validity) and its current status. Its status list entries
// are StatusEntry rows that name it by ID.
type IssuedCredential struct {
	// ID is the row's own identifier (a UUID), never shown to clients;
	// CreateIssuedCredential fills it in when empty.
	ID             string `gorm:"column:id;primaryKey"`
	OrganizationID string `gorm:"column:organization_id"`
	// CredentialID is the credential's id (e.g. "urn:uuid:…"), unique
	// within the organization.
	CredentialID string `gorm:"column:credential_id"`
	IssuerDID    string `gorm:"column:issuer_did"`
	// SubjectID is the subject's id (the agent's DID), "" when it has none.
	SubjectID string `gorm:"column:subject_id"`
	// PrincipalDID is the human the credential's subject acts for (the
	// subject's principal or delegator claim), "" when none: the one party
	// besides the organization's admins who may change its status.
	PrincipalDID string `gorm:"column:principal_did"`
	// Types are the credential's types, encoded by JoinTypes.
	Types string `gorm:"column:types"`
	// Format is "ldp_vc" or "dc+sd-jwt".
	Format string `gorm:"column:format"`
	// Document is the issued credential: JSON for ldp_vc, the compact
	// SD-JWT for dc+sd-jwt.
	Document string `gorm:"column:document"`
	// Status is CredentialActive, CredentialSuspended or CredentialRevoked.
	Status          string     `gorm:"column:status"`
	CreatedAt       time.Time  `gorm:"column:created_at"`
	ValidFrom       *time.Time `gorm:"column:valid_from"`
	ValidUntil      *time.Time `gorm:"column:valid_until"`
	StatusChangedAt *time.Time `gorm:"column:status_changed_at"`
}

// TableName is the issued credential table.
func (IssuedCredential) TableName() string { return "issued_credentials" }

// JoinTypes encodes credential types for IssuedCredential.Types: a space
// before and after every type (" VerifiableCredential X "), so that a type
// filter is a LIKE on " X ". Types never contain white space (they are
// terms or IRIs); a type that does, or that holds the LIKE wildcards % or
// _, or is empty, is refused.
func JoinTypes(types []string) (string, error) {
	for _, t := range types {
		if t == "" || strings.ContainsAny(t, " \t\r\n%_\\") {
			return "", fmt.Errorf("credential type %q cannot be stored", t)
		}
	}
	return " " + strings.Join(types, " ") + " ", nil
}

// TypeList returns the credential's types.
func (c *IssuedCredential) TypeList() []string { return strings.Fields(c.Types) }

// CreateIssuedCredential stores c, filling in its ID and CreatedAt when they
// are empty. It returns ErrConflict when the organization already has a
// credential with that id.
func (s *Store) CreateIssuedCredential(ctx context.Context, c *IssuedCredential) error {
	switch {
	case c.OrganizationID == "", c.CredentialID == "", c.IssuerDID == "", c.Document == "":
		return errors.New("store issued credential: organization, id, issuer and document are required")
	}
	if c.ID == "" {
		c.ID = newUUID()
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Microsecond)
	for _, t := range []*time.Time{c.ValidFrom, c.ValidUntil} {
		if t != nil {
			*t = t.UTC().Truncate(time.Microsecond)
		}
	}
	if c.Status == "" {
		c.Status = CredentialActive
	}
	if err := s.db.WithContext(ctx).Create(c).Error; err != nil {
		return fmt.Errorf("store issued credential %s: %w", c.CredentialID, classify(err))
	}
	return nil
}

// IssuedCredentialByID returns the organization's credential with the given
// credential id, or ErrNotFound — also when another organization has one:
// organizations never see each other's credentials. With forUpdate, the row
// is locked for the rest of the caller's transaction (PostgreSQL; SQLite's
// write transactions exclude each other anyway).
func (s *Store) IssuedCredentialByID(ctx context.Context, orgID, credentialID string, forUpdate bool) (*IssuedCredential, error) {
	query := "SELECT * FROM issued_credentials WHERE organization_id = ? AND credential_id = ?"
	if forUpdate && s.driver == DriverPostgres {
		query += " FOR UPDATE"
	}
	var rows []IssuedCredential
	if err := s.db.WithContext(ctx).Raw(query, orgID, credentialID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("issued credential %s: %w", credentialID, classify(err))
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("issued credential %s: %w", credentialID, ErrNotFound)
	}
	return &rows[0], nil
}

// CredentialFilter selects issued credentials of one organization. Empty
// fields do not filter.
type CredentialFilter struct {
	OrganizationID string
	// Subject is the subject's id (the agent's DID).
	Subject string
	// Type is one of the credential's types.
	Type string
	// Status is CredentialActive, CredentialSuspended or CredentialRevoked.
	Status string
	// From (inclusive) and To (exclusive) bound the issuance time.
	From, To time.Time
	// AfterTime and AfterID continue a listing after the credential that
	// was issued at AfterTime with row ID AfterID (the last of the previous
	// page).
	AfterTime time.Time
	AfterID   string
	// Limit caps the answer: DefaultCredentialLimit when 0 or negative, at
	// most MaxCredentialLimit.
	Limit int
}

// Page sizes of ListIssuedCredentials.
const (
	DefaultCredentialLimit = 100
	MaxCredentialLimit     = 1000
)

// ListIssuedCredentials returns the credentials f selects, oldest first
// (by issuance time, then row ID).
func (s *Store) ListIssuedCredentials(ctx context.Context, f CredentialFilter) ([]IssuedCredential, error) {
	if f.OrganizationID == "" {
		return nil, errors.New("list issued credentials: no organization")
	}
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultCredentialLimit
	case limit > MaxCredentialLimit:
		limit = MaxCredentialLimit
	}
	q := s.db.WithContext(ctx).Model(&IssuedCredential{}).Where("organization_id = ?", f.OrganizationID)
	if f.Subject != "" {
		q = q.Where("subject_id = ?", f.Subject)
	}
	if f.Type != "" {
		if strings.ContainsAny(f.Type, " \t\r\n%_\\") {
			return nil, nil // no stored type has these characters
		}
		q = q.Where("types LIKE ?", "% "+f.Type+" %")
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	// Times are stored in UTC; SQLite compares them as text, which orders
	// correctly only between UTC times.
	if !f.From.IsZero() {
		q = q.Where("created_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("created_at < ?", f.To.UTC())
	}
	if f.AfterID != "" {
		t := f.AfterTime.UTC()
		q = q.Where("(created_at > ? OR (created_at = ? AND id > ?))", t, t, f.AfterID)
	}
	var out []IssuedCredential
	if err := q.Order("created_at, id").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list issued credentials: %w", classify(err))
	}
	return out, nil
}

// CountIssuedCredentials counts an organization's issued credentials.
func (s *Store) CountIssuedCredentials(ctx context.Context, orgID string) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&IssuedCredential{}).Where("organization_id = ?", orgID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count issued credentials: %w", classify(err))
	}
	return n, nil
}

// ChangeCredentialStatus records a status change of the credential row
// rowID: its new status, the new value of each entry in values (matched by
// list and index), and one more version of every list touched, so that the
// next read of a list sees the change. Call it inside Transaction, after
// reading the credential with forUpdate: the change is durable when that
// transaction commits.
func (s *Store) ChangeCredentialStatus(ctx context.Context, rowID, status string, values []StatusEntry) error {
	db := s.db.WithContext(ctx)
	at := now()
	res := db.Model(&IssuedCredential{}).Where("id = ?", rowID).
		Updates(map[string]any{"status": status, "status_changed_at": at})
	if res.Error != nil {
		return fmt.Errorf("change status of credential %s: %w", rowID, classify(res.Error))
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("change status of credential %s: %w", rowID, ErrNotFound)
	}
	var lists []string
	for _, e := range values {
		res := db.Model(&StatusEntry{}).Where("list_id = ? AND idx = ? AND credential_row_id = ?", e.ListID, e.Index, rowID).
			Update("value", e.Value)
		if res.Error != nil {
			return fmt.Errorf("change status list %s index %d: %w", e.ListID, e.Index, classify(res.Error))
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("change status list %s index %d: %w", e.ListID, e.Index, ErrNotFound)
		}
		if !slices.Contains(lists, e.ListID) {
			lists = append(lists, e.ListID)
		}
	}
	slices.Sort(lists) // one lock order for every writer
	for _, id := range lists {
		res := db.Model(&StatusList{}).Where("id = ?", id).Update("version", gorm.Expr("version + 1"))
		if res.Error != nil {
			return fmt.Errorf("bump version of status list %s: %w", id, classify(res.Error))
		}
	}
	return nil
}
