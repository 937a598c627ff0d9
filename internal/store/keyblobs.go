package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/agentid/agentid/keys"
)

// PutKeyBlob stores the encrypted private key blob under id. It never
// overwrites: when id exists it returns ErrConflict and the stored blob is
// unchanged. Together with GetKeyBlob it implements the keys package's
// BlobStore.
func (s *Store) PutKeyBlob(ctx context.Context, id string, keyType string, blob []byte) error {
	switch {
	case id == "":
		return errors.New("put key blob: empty id")
	case keyType == "":
		return fmt.Errorf("put key blob %s: empty key type", id)
	case len(blob) == 0:
		return fmt.Errorf("put key blob %s: empty blob", id)
	}
	row := KeyBlob{ID: id, KeyType: keyType, Blob: bytes.Clone(blob), CreatedAt: now()}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		err = classify(err)
		if errors.Is(err, ErrConflict) {
			// Both errors, so that callers of the keys package can test
			// for keys.ErrKeyExists without knowing the store.
			return fmt.Errorf("put key blob %s: %w: %w", id, err, keys.ErrKeyExists)
		}
		return fmt.Errorf("put key blob %s: %w", id, err)
	}
	return nil
}

// GetKeyBlob returns the key type and encrypted blob stored under id, or
// an error that is both ErrNotFound and keys.ErrKeyNotFound.
func (s *Store) GetKeyBlob(ctx context.Context, id string) (keyType string, blob []byte, err error) {
	var row KeyBlob
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		err = classify(err)
		if errors.Is(err, ErrNotFound) {
			return "", nil, fmt.Errorf("get key blob %s: %w: %w", id, err, keys.ErrKeyNotFound)
		}
		return "", nil, fmt.Errorf("get key blob %s: %w", id, err)
	}
	return row.KeyType, row.Blob, nil
}
