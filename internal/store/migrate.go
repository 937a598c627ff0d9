package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// A migration changes the schema from version-1 to version. Migrations are
// never edited once released: a change is a new migration. Each one writes its
// own SQL rather than calling AutoMigrate on the current models, so that later
// changes to the models cannot change what an old migration does.
type migration struct {
	version int
	name    string
	up      func(tx *gorm.DB) error
}

// migrations is the ordered schema history. Versions start at 1 and have no
// gaps.
var migrations = []migration{
	{version: 1, name: "foundation: organizations, issuer identities, admin tokens, key blobs", up: migrateFoundation},
	{version: 2, name: "audit trail: audit events and chain heads", up: migrateAuditTrail},
	{version: 3, name: "issuance: issued credentials, status lists and entries", up: migrateIssuance},
	{version: 4, name: "verifier challenges: single use, shared by replicas", up: migrateChallenges},
	{version: 5, name: "agent enrollment: enrollments, agents, enrollment policies, EK allowlists", up: migrateEnrollment},
	{version: 6, name: "delegations: delegation chains, signed request nonces", up: migrateDelegations},
	{version: 7, name: "identity rotation: several keys per issuer DID, one active key per type", up: migrateIdentityRotation},
	{version: 8, name: "delegation renewal: delegation credentials, approvers, delegation policies", up: migrateDelegationRenewal},
}

// LatestSchemaVersion is the schema version this build migrates to.
func LatestSchemaVersion() int { return migrations[len(migrations)-1].version }

// sqlTypes are the column types that differ between the two databases.
type sqlTypes struct {
	timestamp string // a point in time, stored in UTC
	bytes     string // arbitrary bytes
}

func typesFor(tx *gorm.DB) sqlTypes {
	if tx.Dialector.Name() == DriverPostgres {
		return sqlTypes{timestamp: "TIMESTAMPTZ", bytes: "BYTEA"}
	}
	// The SQLite driver parses columns declared DATETIME back into
	// time.Time.
	return sqlTypes{timestamp: "DATETIME", bytes: "BLOB"}
}

// ddl replaces {{timestamp}} and {{bytes}} in stmt with the types of the
// database tx talks to.
func ddl(tx *gorm.DB, stmt string) string {
	t := typesFor(tx)
	return strings.NewReplacer("{{timestamp}}", t.timestamp, "{{bytes}}", t.bytes).Replace(stmt)
}

func execAll(tx *gorm.DB, stmts ...string) error {
	for _, stmt := range stmts {
		if err := tx.Exec(ddl(tx, stmt)).Error; err != nil {
			return fmt.Errorf("%s: %w", firstLine(stmt), err)
		}
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

// migrateFoundation is migration 1. Frozen: do not edit.
func migrateFoundation(tx *gorm.DB) error {
	return execAll(tx,
		`CREATE TABLE organizations (
			id         TEXT NOT NULL PRIMARY KEY,
			slug       TEXT NOT NULL,
			name       TEXT NOT NULL,
			is_default BOOLEAN NOT NULL DEFAULT FALSE,
			created_at {{timestamp}} NOT NULL,
			CONSTRAINT organizations_slug_key UNIQUE (slug)
		)`,
		// At most one default organization: the backstop for Bootstrap races.
		`CREATE UNIQUE INDEX organizations_one_default
			ON organizations (is_default) WHERE is_default`,

		`CREATE TABLE issuer_identities (
			id              TEXT NOT NULL PRIMARY KEY,
			organization_id TEXT NOT NULL REFERENCES organizations (id),
			did             TEXT NOT NULL,
			key_uri         TEXT NOT NULL,
			key_type        TEXT NOT NULL,
			cryptosuite     TEXT NOT NULL,
			active          BOOLEAN NOT NULL DEFAULT TRUE,
			created_at      {{timestamp}} NOT NULL,
			retired_at      {{timestamp}},
			CONSTRAINT issuer_identities_did_key UNIQUE (did)
		)`,
		`CREATE INDEX issuer_identities_organization_id
			ON issuer_identities (organization_id)`,

		`CREATE TABLE admin_tokens (
			id              TEXT NOT NULL PRIMARY KEY,
			organization_id TEXT NOT NULL REFERENCES organizations (id),
			name            TEXT NOT NULL,
			token_hash      {{bytes}} NOT NULL,
			scopes          TEXT NOT NULL,
			created_at      {{timestamp}} NOT NULL,
			last_used_at    {{timestamp}},
			revoked_at      {{timestamp}},
			CONSTRAINT admin_tokens_token_hash_key UNIQUE (token_hash)
		)`,
		`CREATE INDEX admin_tokens_organization_id
			ON admin_tokens (organization_id)`,

		`CREATE TABLE key_blobs (
			id         TEXT NOT NULL PRIMARY KEY,
			key_type   TEXT NOT NULL,
			blob       {{bytes}} NOT NULL,
			created_at {{timestamp}} NOT NULL
		)`,
	)
}

// schemaMigration is a row of schema_migrations.
type schemaMigration struct {
	Version   int       `gorm:"column:version;primaryKey;autoIncrement:false"`
	Name      string    `gorm:"column:name"`
	AppliedAt time.Time `gorm:"column:applied_at"`
}

func (schemaMigration) TableName() string { return "schema_migrations" }

// lockMigrations serializes migrations between processes for the rest of the
// transaction tx. On PostgreSQL it takes a transaction-scoped advisory lock
// keyed by the current schema, so that processes migrating different schemas
// of one database do not wait for each other. SQLite needs nothing: every
// write transaction begins with BEGIN IMMEDIATE (see sqliteDSN), which already
// excludes every other writer.
func lockMigrations(tx *gorm.DB) error {
	if tx.Dialector.Name() != DriverPostgres {
		return nil
	}
	return lockNamed(tx, "agentid.migrate")
}

// lockNamed takes the PostgreSQL transaction-scoped advisory lock named by
// name and the current schema. The 64-bit key is computed here (FNV-1a) so
// that only pg_advisory_xact_lock itself is needed from the server.
func lockNamed(tx *gorm.DB, name string) error {
	var schema sql.NullString
	if err := tx.Raw("SELECT current_schema()").Row().Scan(&schema); err != nil {
		return fmt.Errorf("take advisory lock %s: read current schema: %w", name, err)
	}
	h := fnv.New64a()
	h.Write([]byte(name + ":" + schema.String))
	key := int64(h.Sum64())
	if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", key).Error; err != nil {
		return fmt.Errorf("take advisory lock %s: %w", name, err)
	}
	return nil
}

// migrate applies the pending migrations in order, each in a transaction of
// its own that also records it in schema_migrations. Concurrent callers on one
// database are serialized, and each migration runs exactly once.
func (s *Store) migrate(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := lockMigrations(tx); err != nil {
			return err
		}
		return execAll(tx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at {{timestamp}} NOT NULL
		)`)
	})
	if err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}

	for _, m := range migrations {
		var applied bool
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := lockMigrations(tx); err != nil {
				return err
			}
			var n int64
			if err := tx.Model(&schemaMigration{}).Where("version = ?", m.version).Count(&n).Error; err != nil {
				return fmt.Errorf("read schema_migrations: %w", err)
			}
			if n > 0 {
				return nil
			}
			if err := m.up(tx); err != nil {
				return err
			}
			row := schemaMigration{Version: m.version, Name: m.name, AppliedAt: now()}
			if err := tx.Create(&row).Error; err != nil {
				return fmt.Errorf("record in schema_migrations: %w", err)
			}
			applied = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
		}
		if applied {
			s.log.InfoContext(ctx, "applied database migration", "component", "store", "driver", s.driver, "version", m.version, "name", m.name)
		}
	}

	version, err := s.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if latest := LatestSchemaVersion(); version > latest {
		s.log.WarnContext(ctx, "database schema is newer than this build", "component", "store", "driver", s.driver, "schema_version", version, "build_version", latest)
	}
	return nil
}

// SchemaVersion is the highest migration version recorded in the database (0
// for a database that has none).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var version int
	err := s.db.WithContext(ctx).Model(&schemaMigration{}).Select("COALESCE(MAX(version), 0)").Scan(&version).Error
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return version, nil
}
