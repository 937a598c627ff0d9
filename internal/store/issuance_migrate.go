package store

import "gorm.io/gorm"

// migrateIssuance is migration 3: issued credentials and their status lists
// (see CreateIssuedCredential, OpenStatusList, ClaimStatusIndex). Frozen once
// released: do not edit.
//
// status_lists holds one row per status list: a W3C Bitstring Status List
// (kind bitstring, one purpose, 1-bit entries) or an IETF Token Status List
// (kind token, purpose "status", 2-bit entries VALID/INVALID/SUSPENDED).
// Lists of one issuer DID, kind and purpose are numbered by seq; the unique
// key on them lets concurrent issuers agree on which new list to open.
// version grows with every status change; the signed list (signed_document,
// for signed_version, with encoded_list) is a cache regenerated from the
// entries when version has moved on.
//
// status_entries holds every allocated index, never deleted: the primary key
// (list_id, idx) is what keeps two issuers, in one process or many, from
// handing out one index twice. value is the entry's status (0 valid).
// The reference to issued_credentials is checked at commit, because an
// issuer allocates the indexes before it can sign, and so before it stores,
// the credential.
func migrateIssuance(tx *gorm.DB) error {
	return execAll(tx,
		`CREATE TABLE issued_credentials (
			id                TEXT NOT NULL PRIMARY KEY,
			organization_id   TEXT NOT NULL REFERENCES organizations (id),
			credential_id     TEXT NOT NULL,
			issuer_did        TEXT NOT NULL,
			subject_id        TEXT NOT NULL,
			principal_did     TEXT NOT NULL,
			types             TEXT NOT NULL,
			format            TEXT NOT NULL,
			document          TEXT NOT NULL,
			status            TEXT NOT NULL,
			created_at        {{timestamp}} NOT NULL,
			valid_from        {{timestamp}},
			valid_until       {{timestamp}},
			status_changed_at {{timestamp}},
			CONSTRAINT issued_credentials_org_credential_key UNIQUE (organization_id, credential_id),
			CONSTRAINT issued_credentials_status CHECK (status IN ('active', 'suspended', 'revoked')),
			CONSTRAINT issued_credentials_format CHECK (format IN ('ldp_vc', 'dc+sd-jwt'))
		)`,
		`CREATE INDEX issued_credentials_org_created
			ON issued_credentials (organization_id, created_at, id)`,
		`CREATE INDEX issued_credentials_subject ON issued_credentials (organization_id, subject_id)`,

		`CREATE TABLE status_lists (
			id              TEXT NOT NULL PRIMARY KEY,
			organization_id TEXT NOT NULL REFERENCES organizations (id),
			issuer_did      TEXT NOT NULL,
			kind            TEXT NOT NULL,
			purpose         TEXT NOT NULL,
			seq             INTEGER NOT NULL,
			size            INTEGER NOT NULL,
			bits            INTEGER NOT NULL,
			used            INTEGER NOT NULL DEFAULT 0,
			version         BIGINT NOT NULL DEFAULT 1,
			encoded_list    TEXT NOT NULL DEFAULT '',
			signed_document TEXT NOT NULL DEFAULT '',
			signed_version  BIGINT NOT NULL DEFAULT 0,
			signed_at       {{timestamp}},
			created_at      {{timestamp}} NOT NULL,
			CONSTRAINT status_lists_seq_key UNIQUE (issuer_did, kind, purpose, seq),
			CONSTRAINT status_lists_kind CHECK (kind IN ('bitstring', 'token')),
			CONSTRAINT status_lists_used CHECK (used >= 0 AND used <= size),
			CONSTRAINT status_lists_bits CHECK (bits IN (1, 2, 4, 8))
		)`,
		`CREATE INDEX status_lists_organization_id ON status_lists (organization_id)`,

		`CREATE TABLE status_entries (
			list_id           TEXT NOT NULL REFERENCES status_lists (id),
			idx               INTEGER NOT NULL,
			credential_row_id TEXT NOT NULL
				REFERENCES issued_credentials (id) DEFERRABLE INITIALLY DEFERRED,
			purpose           TEXT NOT NULL,
			value             INTEGER NOT NULL DEFAULT 0,
			CONSTRAINT status_entries_pkey PRIMARY KEY (list_id, idx),
			CONSTRAINT status_entries_idx CHECK (idx >= 0),
			CONSTRAINT status_entries_value CHECK (value >= 0 AND value < 256)
		)`,
		`CREATE INDEX status_entries_credential ON status_entries (credential_row_id)`,
		// Rebuilding a list reads only its set entries.
		`CREATE INDEX status_entries_set ON status_entries (list_id) WHERE value <> 0`,
	)
}
