package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// Times the store writes are UTC with microsecond precision. Times read back
// are equal (time.Time.Equal) to the ones written, though the location of a
// time read from PostgreSQL may be time.Local.

// Organization is a tenant: every issuer identity, admin token and credential
// belongs to exactly one.
type Organization struct {
	// ID is a UUID; CreateOrganization fills it in when empty.
	ID string `gorm:"column:id;primaryKey"`
	// Slug is the organization's short unique name, used in URLs
	// (/orgs/{slug}/did.json).
	Slug string `gorm:"column:slug"`
	// Name is for people.
	Name string `gorm:"column:name"`
	// IsDefault marks the organization a fresh server creates; there is at
	// most one.
	IsDefault bool `gorm:"column:is_default"`
	// CreatedAt is filled in when zero.
	CreatedAt time.Time `gorm:"column:created_at"`
}

// TableName is the organization table.
func (Organization) TableName() string { return "organizations" }

// IssuerIdentity is a DID an organization issues credentials as, with the key
// that signs for it.
type IssuerIdentity struct {
	// ID is a UUID; AddIssuerIdentity fills it in when empty.
	ID             string `gorm:"column:id;primaryKey"`
	OrganizationID string `gorm:"column:organization_id"`
	// DID is the identity's DID. A did:key belongs to one row; a did:web has
	// a row for each of its keys, told apart by KeyID. (DID, KeyID) is
	// unique across all organizations.
	DID string `gorm:"column:did"`
	// KeyID is the fragment of the key's verification method in a DID
	// document with several keys (did:web: "key-1", "key-2", …); empty
	// when the DID names its one key itself (did:key).
	KeyID string `gorm:"column:key_id"`
	// KeyURI addresses the signing key in the key manager (keys package),
	// e.g. "software:3f2a...".
	KeyURI string `gorm:"column:key_uri"`
	// KeyType is the key's type, e.g. "ed25519" or "p256".
	KeyType string `gorm:"column:key_type"`
	// Cryptosuite is the Data Integrity suite the identity signs with, e.g.
	// "eddsa-rdfc-2022" or "ecdsa-rdfc-2019".
	Cryptosuite string `gorm:"column:cryptosuite"`
	// Active identities may issue; retired ones only verify: a retired key
	// signs no new credential, but stays in its DID document, and a retired
	// did:key keeps signing its own status lists. At most one identity of
	// each key type is active per DID.
	Active    bool       `gorm:"column:active"`
	CreatedAt time.Time  `gorm:"column:created_at"`
	RetiredAt *time.Time `gorm:"column:retired_at"`
}

// Identity states (IssuerIdentity.State).
const (
	IdentityActive  = "active"
	IdentityRetired = "retired"
)

// State is IdentityActive or IdentityRetired.
func (id IssuerIdentity) State() string {
	if id.Active {
		return IdentityActive
	}
	return IdentityRetired
}

// TableName is the issuer identity table.
func (IssuerIdentity) TableName() string { return "issuer_identities" }

// AdminToken is an organization's API token. Only the SHA-256 hash of the
// token is stored (see HashToken); the token itself is shown once, when it is
// created, and never again.
type AdminToken struct {
	// ID is a short public identifier for listing and revoking;
	// CreateAdminToken fills it in when empty.
	ID             string `gorm:"column:id;primaryKey"`
	OrganizationID string `gorm:"column:organization_id"`
	Name           string `gorm:"column:name"`
	// TokenHash is HashToken(token); unique.
	TokenHash []byte `gorm:"column:token_hash"`
	// Scopes is a comma-separated list of the scopes the token grants.
	Scopes     string     `gorm:"column:scopes"`
	CreatedAt  time.Time  `gorm:"column:created_at"`
	LastUsedAt *time.Time `gorm:"column:last_used_at"`
	RevokedAt  *time.Time `gorm:"column:revoked_at"`
}

// TableName is the admin token table.
func (AdminToken) TableName() string { return "admin_tokens" }

// KeyBlob is a private key as the keys package stored it: already encrypted
// under the key-encryption key. The store never sees key material in the
// clear.
type KeyBlob struct {
	// ID is the key's identifier (its URI or the id inside it).
	ID        string    `gorm:"column:id;primaryKey"`
	KeyType   string    `gorm:"column:key_type"`
	Blob      []byte    `gorm:"column:blob"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

// TableName is the key blob table.
func (KeyBlob) TableName() string { return "key_blobs" }

// newUUID returns a random (version 4) UUID in its canonical text form.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newShortID returns a random 16-character hexadecimal identifier.
func newShortID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
