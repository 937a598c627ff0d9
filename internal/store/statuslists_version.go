package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// StatusListStamp is what decides whether a status list changed: its
// version and the version and time of its cached signed form.
type StatusListStamp struct {
	Version       int64      `gorm:"column:version"`
	SignedVersion int64      `gorm:"column:signed_version"`
	SignedAt      *time.Time `gorm:"column:signed_at"`
}

// StatusListStamp reads only the stamp of list id (not its entries or
// signed document): a cheap question asked on every verification against
// the server's own lists.
func (s *Store) StatusListStamp(ctx context.Context, id string) (*StatusListStamp, error) {
	// A plain query: gorm's model reflection and callbacks cost more than
	// the lookup itself, and this runs on every verification.
	var st StatusListStamp
	err := s.queryRow(ctx, "SELECT version, signed_version, signed_at FROM status_lists WHERE id = ?", id).
		Scan(&st.Version, &st.SignedVersion, &st.SignedAt)
	if errors.Is(err, sql.ErrNoRows) {
		err = gorm.ErrRecordNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("status list %s: %w", id, classify(err))
	}
	return &st, nil
}
