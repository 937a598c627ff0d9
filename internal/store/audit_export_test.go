package store

import "context"

// TamperSQL runs a statement straight on the database, behind the store's
// API, the way an intruder with database access would: tests use it to
// change or delete audit events and check that the chain tells.
func TamperSQL(ctx context.Context, s *Store, query string, args ...any) (int64, error) {
	res := s.db.WithContext(ctx).Exec(query, args...)
	return res.RowsAffected, res.Error
}
