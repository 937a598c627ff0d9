package store

import "gorm.io/gorm"

// migrateChallenges is migration 4: the verifier's single-use challenges
// (see CreateChallenge and ConsumeChallenge). Frozen once released: do not
// edit.
//
// A challenge is stored under the hex SHA-256 of its value, so the table is
// keyed by a fixed-length string whatever a client sends, and a copy of the
// table does not hand out challenges that are still open. used_at is NULL
// until the challenge is consumed; consuming is one conditional UPDATE, so
// of any number of replicas racing to consume one challenge exactly one
// wins. expires_at is indexed for the purge of old rows.
func migrateChallenges(tx *gorm.DB) error {
	return execAll(tx,
		`CREATE TABLE challenges (
			id         TEXT NOT NULL PRIMARY KEY,
			domain     TEXT NOT NULL,
			created_at {{timestamp}} NOT NULL,
			expires_at {{timestamp}} NOT NULL,
			used_at    {{timestamp}}
		)`,
		`CREATE INDEX challenges_expires_at ON challenges (expires_at)`,
	)
}
