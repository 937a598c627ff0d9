package store

import "gorm.io/gorm"

// migrateDelegations is migration 6: delegations and the single-use nonces
// of signed requests. Frozen once released: do not edit.
//
// delegations holds one row per issued AgentDelegationCredential: the
// credential it is (credential_row_id, credential_id), the delegation it
// narrows (parent_id, NULL for one a human signed), the agent it is for,
// who delegated (the human, or the parent's agent for a sub-delegation),
// the human at the root of the chain (principal_did), what it grants
// (scopes and audience, JSON) and until when. Revoking a delegation
// revokes the rows below it, found through parent_id. consent_hash (the
// SHA-256 of the consent JWS) is unique: one consent yields one
// delegation.
//
// signed_request_nonces holds the hash of every nonce a signed request has
// used, until it expires: a replay finds its row and is refused.
func migrateDelegations(tx *gorm.DB) error {
	return execAll(tx,
		`CREATE TABLE delegations (
			id                TEXT NOT NULL PRIMARY KEY,
			organization_id   TEXT NOT NULL REFERENCES organizations (id),
			credential_row_id TEXT NOT NULL REFERENCES issued_credentials (id),
			credential_id     TEXT NOT NULL,
			parent_id         TEXT REFERENCES delegations (id),
			agent_did         TEXT NOT NULL,
			delegator_did     TEXT NOT NULL,
			principal_did     TEXT NOT NULL,
			scopes            TEXT NOT NULL,
			audience          TEXT NOT NULL,
			consent_hash      TEXT NOT NULL,
			expires_at        {{timestamp}} NOT NULL,
			created_at        {{timestamp}} NOT NULL,
			CONSTRAINT delegations_org_credential_key UNIQUE (organization_id, credential_id),
			CONSTRAINT delegations_consent_hash_key UNIQUE (consent_hash)
		)`,
		`CREATE INDEX delegations_parent_id ON delegations (parent_id)`,
		`CREATE INDEX delegations_org_agent ON delegations (organization_id, agent_did)`,

		`CREATE TABLE signed_request_nonces (
			nonce_hash TEXT NOT NULL PRIMARY KEY,
			expires_at {{timestamp}} NOT NULL,
			created_at {{timestamp}} NOT NULL
		)`,
		`CREATE INDEX signed_request_nonces_expires_at ON signed_request_nonces (expires_at)`,
	)
}
