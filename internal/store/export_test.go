package store

import (
	"context"
	"database/sql"
)

// NumMigrations is the number of migrations this build knows.
var NumMigrations = len(migrations)

// MigrationRows counts the rows of schema_migrations.
func MigrationRows(ctx context.Context, s *Store) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&schemaMigration{}).Count(&n).Error
	return n, err
}

// QueryString runs a query that returns one text value.
func QueryString(ctx context.Context, s *Store, query string, args ...any) (string, error) {
	var v string
	err := s.db.WithContext(ctx).Raw(query, args...).Row().Scan(&v)
	return v, err
}

// SetWALRestartBytes sets the log size past which the SQLite checkpointer
// restarts the log, for the Stores opened until restore is called.
func SetWALRestartBytes(n int64) (restore func()) {
	old := walRestartBytes
	walRestartBytes = n
	return func() { walRestartBytes = old }
}

// LogRestarts returns how many restarts of the write-ahead log a SQLite file
// store's checkpointer has tried.
func LogRestarts(s *Store) int64 {
	if s.checkpointer == nil {
		return 0
	}
	return s.checkpointer.restarts.Load()
}

// AuditWriter returns the connection a SQLite file store's audit appends
// run on, or nil when none is held.
func AuditWriter(s *Store) *sql.Conn {
	w := s.auditWriter
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conn
}

// CachedAuditInserts returns the row counts of the audit INSERT statements
// a SQLite store holds prepared.
func CachedAuditInserts(s *Store) []int {
	if s.stmts == nil {
		return nil
	}
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	var rows []int
	for n := 1; n <= maxSQLiteInsert; n++ {
		if s.stmts.stmts[insertSQLite(n)] != nil {
			rows = append(rows, n)
		}
	}
	return rows
}
