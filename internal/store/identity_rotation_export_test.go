package store

import "context"

// LimitMigrations makes Open migrate only up to version n until restore is
// called: for tests of a migration on data written before it.
func LimitMigrations(n int) (restore func()) {
	saved := migrations
	migrations = migrations[:n]
	return func() { migrations = saved }
}

// Exec runs a statement (with ? placeholders) on the store's database.
func Exec(ctx context.Context, s *Store, stmt string, args ...any) error {
	return s.db.WithContext(ctx).Exec(stmt, args...).Error
}
