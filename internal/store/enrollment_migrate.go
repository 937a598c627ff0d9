package store

import "gorm.io/gorm"

// migrateEnrollment is migration 5: agent enrollment (see CreateEnrollment,
// ConsumeEnrollmentNonce, CreateAgent) and the per-organization enrollment
// policy and EK allowlist. Frozen once released: do not edit.
//
// enrollments holds one row per enrollment attempt. Neither the nonce nor
// the activation secret is stored, only their SHA-256 (nonce_hash,
// secret_hash), so a copy of the table hands out nothing an attacker could
// answer with. Each step is one conditional UPDATE on state (and the
// *_used_at column), so of any number of replicas racing on one enrollment
// exactly one wins: pending-evidence → pending-activation (nonce consumed,
// activation challenge issued) → activated (agent recorded), or → failed.
// facts holds the verified attestation facts (JSON) between the evidence
// and the activation, which may reach different processes.
//
// agents holds the enrolled agents: one DID once per organization, its
// assurance and the TPM facts it was established with, and its approval
// state.
func migrateEnrollment(tx *gorm.DB) error {
	return execAll(tx,
		`CREATE TABLE enrollment_policies (
			organization_id  TEXT NOT NULL PRIMARY KEY REFERENCES organizations (id),
			allow_software   BOOLEAN NOT NULL DEFAULT FALSE,
			auto_approve     BOOLEAN NOT NULL DEFAULT FALSE,
			updated_at       {{timestamp}} NOT NULL
		)`,
		`CREATE TABLE ek_allowlist (
			organization_id TEXT NOT NULL REFERENCES organizations (id),
			ek_hash         TEXT NOT NULL,
			created_at      {{timestamp}} NOT NULL,
			CONSTRAINT ek_allowlist_pkey PRIMARY KEY (organization_id, ek_hash)
		)`,
		`CREATE TABLE enrollments (
			id                    TEXT NOT NULL PRIMARY KEY,
			organization_id       TEXT NOT NULL REFERENCES organizations (id),
			agent_did             TEXT NOT NULL,
			name                  TEXT NOT NULL,
			software              TEXT NOT NULL,
			principal_did         TEXT NOT NULL,
			state                 TEXT NOT NULL,
			nonce_hash            TEXT NOT NULL,
			nonce_expires_at      {{timestamp}} NOT NULL,
			nonce_used_at         {{timestamp}},
			secret_hash           {{bytes}},
			activation_expires_at {{timestamp}},
			activation_used_at    {{timestamp}},
			facts                 TEXT NOT NULL DEFAULT '',
			agent_id              TEXT NOT NULL DEFAULT '',
			created_at            {{timestamp}} NOT NULL,
			CONSTRAINT enrollments_nonce_hash_key UNIQUE (nonce_hash),
			CONSTRAINT enrollments_state CHECK (state IN ('pending-evidence', 'pending-activation', 'activated', 'failed'))
		)`,
		`CREATE INDEX enrollments_nonce_expires_at ON enrollments (nonce_expires_at)`,
		`CREATE TABLE agents (
			id                    TEXT NOT NULL PRIMARY KEY,
			organization_id       TEXT NOT NULL REFERENCES organizations (id),
			did                   TEXT NOT NULL,
			name                  TEXT NOT NULL,
			software              TEXT NOT NULL,
			principal_did         TEXT NOT NULL,
			assurance             TEXT NOT NULL,
			method                TEXT NOT NULL,
			ek_certificate_sha256 TEXT NOT NULL DEFAULT '',
			ek_public_key_sha256  TEXT NOT NULL DEFAULT '',
			manufacturer          TEXT NOT NULL DEFAULT '',
			model                 TEXT NOT NULL DEFAULT '',
			firmware_version      TEXT NOT NULL DEFAULT '',
			attested_at           {{timestamp}} NOT NULL,
			state                 TEXT NOT NULL,
			created_at            {{timestamp}} NOT NULL,
			decided_at            {{timestamp}},
			CONSTRAINT agents_org_did_key UNIQUE (organization_id, did),
			CONSTRAINT agents_assurance CHECK (assurance IN ('hardware', 'software')),
			CONSTRAINT agents_state CHECK (state IN ('pending-approval', 'approved', 'rejected'))
		)`,
	)
}
