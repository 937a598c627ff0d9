package store

import "gorm.io/gorm"

// migrateDelegationRenewal is migration 8: delegations in several formats,
// organization approvers, delegation policies and renewal. Frozen once
// released: do not edit.
//
// delegation_credentials holds every credential of a delegation (one per
// format, and those of earlier renewals): a status change of one of them
// applies to every credential of its delegation that is not revoked, and
// revoking a delegation revokes every credential of every delegation
// below it. The rows of delegations stored before this migration become
// their one ldp_vc credential.
//
// delegations gains what renewal needs: the purpose and consent (to issue
// the credentials again), the formats to issue, the time of the consent
// that started the delegation (the start of the policy's lifetime cap),
// the number of policy renewals, the delegation a consent renewed, and
// delegator_role (principal, approver or agent).
//
// delegation_approvers are the human DIDs an organization lets sign root
// consents for any of its approved agents; delegation_policies say
// whether and how far an agent may renew its delegations on its own.
func migrateDelegationRenewal(tx *gorm.DB) error {
	return execAll(tx,
		`ALTER TABLE delegations ADD COLUMN purpose TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE delegations ADD COLUMN consent TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE delegations ADD COLUMN formats TEXT NOT NULL DEFAULT 'ldp_vc'`,
		`ALTER TABLE delegations ADD COLUMN consented_at {{timestamp}}`,
		`ALTER TABLE delegations ADD COLUMN renewals INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE delegations ADD COLUMN renewal_of TEXT REFERENCES delegations (id)`,
		`ALTER TABLE delegations ADD COLUMN delegator_role TEXT NOT NULL DEFAULT ''`,
		`UPDATE delegations SET consented_at = created_at`,

		`CREATE TABLE delegation_credentials (
			credential_row_id TEXT NOT NULL PRIMARY KEY REFERENCES issued_credentials (id),
			delegation_id     TEXT NOT NULL REFERENCES delegations (id),
			organization_id   TEXT NOT NULL REFERENCES organizations (id),
			credential_id     TEXT NOT NULL,
			format            TEXT NOT NULL,
			created_at        {{timestamp}} NOT NULL,
			CONSTRAINT delegation_credentials_org_credential_key UNIQUE (organization_id, credential_id)
		)`,
		`CREATE INDEX delegation_credentials_delegation_id ON delegation_credentials (delegation_id)`,
		`INSERT INTO delegation_credentials (credential_row_id, delegation_id, organization_id, credential_id, format, created_at)
			SELECT credential_row_id, id, organization_id, credential_id, 'ldp_vc', created_at FROM delegations`,

		`CREATE TABLE delegation_approvers (
			organization_id TEXT NOT NULL REFERENCES organizations (id),
			did             TEXT NOT NULL,
			created_at      {{timestamp}} NOT NULL,
			PRIMARY KEY (organization_id, did)
		)`,

		`CREATE TABLE delegation_policies (
			organization_id      TEXT NOT NULL PRIMARY KEY REFERENCES organizations (id),
			renewable            BOOLEAN NOT NULL DEFAULT FALSE,
			max_renewals         INTEGER NOT NULL DEFAULT 0,
			max_lifetime_seconds BIGINT NOT NULL DEFAULT 0,
			updated_at           {{timestamp}} NOT NULL
		)`,
	)
}
