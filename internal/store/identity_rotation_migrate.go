package store

import "gorm.io/gorm"

// migrateIdentityRotation is migration 7: issuer identities that share a DID
// (did:web) and key rotation. Frozen once released: do not edit.
//
// A did:web issuer has several keys under one DID, each a row of
// issuer_identities with its verification method's fragment in key_id
// ("key-1", "key-2", …); a did:key row keeps key_id empty (its method is
// named by the DID itself). The DID alone is no longer unique: (did,
// key_id) is. Rotation retires a row (active false, retired_at set) and
// adds its successor; the partial unique index keeps at most one active
// key of each type per DID, the backstop for two rotations at once.
//
// SQLite cannot drop a table constraint, so there the table is rebuilt;
// nothing references issuer_identities, so the rebuild touches no other
// table.
func migrateIdentityRotation(tx *gorm.DB) error {
	if tx.Dialector.Name() == DriverPostgres {
		return execAll(tx,
			`ALTER TABLE issuer_identities ADD COLUMN key_id TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE issuer_identities DROP CONSTRAINT issuer_identities_did_key`,
			`ALTER TABLE issuer_identities
				ADD CONSTRAINT issuer_identities_did_key_id_key UNIQUE (did, key_id)`,
			`CREATE UNIQUE INDEX issuer_identities_one_active
				ON issuer_identities (did, key_type) WHERE active`,
		)
	}
	return execAll(tx,
		`CREATE TABLE issuer_identities_v7 (
			id              TEXT NOT NULL PRIMARY KEY,
			organization_id TEXT NOT NULL REFERENCES organizations (id),
			did             TEXT NOT NULL,
			key_id          TEXT NOT NULL DEFAULT '',
			key_uri         TEXT NOT NULL,
			key_type        TEXT NOT NULL,
			cryptosuite     TEXT NOT NULL,
			active          BOOLEAN NOT NULL DEFAULT TRUE,
			created_at      {{timestamp}} NOT NULL,
			retired_at      {{timestamp}},
			CONSTRAINT issuer_identities_did_key_id_key UNIQUE (did, key_id)
		)`,
		`INSERT INTO issuer_identities_v7
			(id, organization_id, did, key_uri, key_type, cryptosuite, active, created_at, retired_at)
			SELECT id, organization_id, did, key_uri, key_type, cryptosuite, active, created_at, retired_at
			FROM issuer_identities`,
		`DROP TABLE issuer_identities`,
		`ALTER TABLE issuer_identities_v7 RENAME TO issuer_identities`,
		`CREATE INDEX issuer_identities_organization_id
			ON issuer_identities (organization_id)`,
		`CREATE UNIQUE INDEX issuer_identities_one_active
			ON issuer_identities (did, key_type) WHERE active`,
	)
}
