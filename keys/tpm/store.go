package tpm

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentid/agentid/keys"
)

// storeID is the id under which a key store keeps the blob of the key
// called name.
func storeID(name string) string { return "tpm-key:" + name }

// NewKeyStore returns the key store of a directory: each key blob is one
// 0600 file in dir (created 0700 if needed), never overwritten. It is a
// keys.FileBlobStore; the server may use its database's BlobStore instead.
func NewKeyStore(dir string) (keys.BlobStore, error) {
	s, err := keys.NewFileBlobStore(dir)
	if err != nil {
		return nil, fmt.Errorf("TPM key store: %w", err)
	}
	return s, nil
}

// Save stores the key's blob in store under its name. A name already taken
// fails with the store's error (wrapping keys.ErrKeyExists for a
// keys.FileBlobStore); the stored blob is kept.
func (k *Key) Save(ctx context.Context, store keys.BlobStore) error {
	blob, err := k.Blob()
	if err != nil {
		return err
	}
	if err := store.PutKeyBlob(ctx, storeID(k.name), string(keys.P256), blob); err != nil {
		return fmt.Errorf("save TPM key %s: %w", k.name, err)
	}
	return nil
}

// LoadKey loads the key called name from store into the TPM. A name the
// store does not have fails with an error wrapping keys.ErrKeyNotFound.
func (t *TPM) LoadKey(ctx context.Context, store keys.BlobStore, name string) (*Key, error) {
	if err := CheckKeyName(name); err != nil {
		return nil, err
	}
	_, blob, err := store.GetKeyBlob(ctx, storeID(name))
	if err != nil {
		if errors.Is(err, keys.ErrKeyNotFound) {
			return nil, fmt.Errorf("TPM key %s: %w", name, err)
		}
		return nil, fmt.Errorf("TPM key %s: read key blob: %w", name, err)
	}
	return t.LoadKeyBlob(ctx, name, blob)
}
