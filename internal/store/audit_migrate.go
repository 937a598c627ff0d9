package store

import "gorm.io/gorm"

// migrateAuditTrail is migration 2: the audit trail (see AppendAuditEvent and
// internal/auditchain). Frozen once released: do not edit.
//
// audit_events is append-only by contract: the store has no method that
// updates or deletes a row, and the hash chain exposes any change made
// behind its back. Each chain (an organization, or the operator chain of
// events with no organization) is numbered by seq, unique per chain through
// an index on the chain expression (organization_id, or the empty string
// when it is NULL) and seq. audit_heads holds one row per chain, its last
// event, which appenders lock.
func migrateAuditTrail(tx *gorm.DB) error {
	return execAll(tx,
		`CREATE TABLE audit_events (
			seq             BIGINT NOT NULL,
			id              TEXT NOT NULL PRIMARY KEY,
			occurred_at     {{timestamp}} NOT NULL,
			organization_id TEXT REFERENCES organizations (id),
			relying_party   TEXT NOT NULL,
			agent_did       TEXT NOT NULL,
			principal_did   TEXT NOT NULL,
			credential_ids  TEXT NOT NULL,
			action          TEXT NOT NULL,
			resource        TEXT NOT NULL,
			decision        TEXT NOT NULL,
			reasons         TEXT NOT NULL,
			request_id      TEXT NOT NULL,
			prev_hash       TEXT NOT NULL,
			hash            TEXT NOT NULL,
			CONSTRAINT audit_events_seq_positive CHECK (seq > 0),
			CONSTRAINT audit_events_decision CHECK (decision IN ('verified', 'rejected'))
		)`,
		`CREATE UNIQUE INDEX audit_events_chain_seq
			ON audit_events ((COALESCE(organization_id, '')), seq)`,
		`CREATE INDEX audit_events_agent_did ON audit_events (agent_did)`,
		`CREATE INDEX audit_events_principal_did ON audit_events (principal_did)`,
		`CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at)`,

		`CREATE TABLE audit_heads (
			chain TEXT NOT NULL PRIMARY KEY,
			seq   BIGINT NOT NULL,
			hash  TEXT NOT NULL
		)`,
	)
}
