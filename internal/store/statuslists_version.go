package store

import (
	"context"
	"fmt"
	"time"
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
	var st StatusListStamp
	err := s.db.WithContext(ctx).Model(&StatusList{}).Select("version", "signed_version", "signed_at").
		Where("id = ?", id).Take(&st).Error
	if err != nil {
		return nil, fmt.Errorf("status list %s: %w", id, classify(err))
	}
	return &st, nil
}
