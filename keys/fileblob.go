package keys

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/agentid/agentid/keys/internal/securefile"
)

// FileBlobStore is a BlobStore on a directory, for the wallet and the CLI
// (the server keeps blobs in its database instead). Each blob is one file,
// named "k-" + lower-case base32 of the blob id + ".json", so any id is a safe
// file name. The directory has mode 0700 and every file 0600; files are
// written atomically and never replaced, so an id, once stored, keeps its
// blob. A file holds JSON: {"id": …, "keyType": …, "blob": base64}.
//
// FileBlobStore is safe for concurrent use, also by several processes.
type FileBlobStore struct {
	dir string
}

// maxBlobIDLen keeps file names (8/5 of the id, plus 7) under the 255-byte
// limit of common file systems.
const maxBlobIDLen = 150

// maxBlobFileSize bounds what GetKeyBlob reads; key blobs are a few hundred
// bytes.
const maxBlobFileSize = 64 << 10

var blobFileNames = base32.StdEncoding.WithPadding(base32.NoPadding)

type blobFile struct {
	ID      string `json:"id"`
	KeyType string `json:"keyType"`
	Blob    []byte `json:"blob"`
}

// NewFileBlobStore opens the store in dir, creating dir (mode 0700) if
// needed. An existing dir that group or others can access is refused with an
// error wrapping ErrInsecureFileMode.
func NewFileBlobStore(dir string) (*FileBlobStore, error) {
	if dir == "" {
		return nil, errors.New("key blob store: no directory given")
	}
	if err := securefile.PrivateDir(dir); err != nil {
		return nil, fmt.Errorf("key blob store: %w", err)
	}
	return &FileBlobStore{dir: dir}, nil
}

// Dir is the store's directory.
func (s *FileBlobStore) Dir() string { return s.dir }

func (s *FileBlobStore) path(id string) (string, error) {
	if id == "" || len(id) > maxBlobIDLen {
		return "", fmt.Errorf("key blob id must be 1 to %d bytes, got %d", maxBlobIDLen, len(id))
	}
	return filepath.Join(s.dir, "k-"+strings.ToLower(blobFileNames.EncodeToString([]byte(id)))+".json"), nil
}

// PutKeyBlob stores blob under id. An id that is already stored fails with an
// error wrapping ErrKeyExists, and the stored blob is kept.
func (s *FileBlobStore) PutKeyBlob(ctx context.Context, id string, keyType string, blob []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put key blob %s: %w", id, err)
	}
	path, err := s.path(id)
	if err != nil {
		return fmt.Errorf("put key blob: %w", err)
	}
	data, err := json.Marshal(blobFile{ID: id, KeyType: keyType, Blob: blob})
	if err != nil {
		return fmt.Errorf("put key blob %s: %w", id, err)
	}
	if err := securefile.WriteNew(path, append(data, '\n')); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("put key blob %s: %w", id, ErrKeyExists)
		}
		return fmt.Errorf("put key blob %s: %w", id, err)
	}
	return nil
}

// GetKeyBlob returns the key type and blob stored under id. An unknown id
// fails with an error wrapping ErrKeyNotFound; a file readable by group or
// others with one wrapping ErrInsecureFileMode.
func (s *FileBlobStore) GetKeyBlob(ctx context.Context, id string) (string, []byte, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, fmt.Errorf("get key blob %s: %w", id, err)
	}
	path, err := s.path(id)
	if err != nil {
		return "", nil, fmt.Errorf("get key blob: %w", err)
	}
	data, err := securefile.ReadPrivate(path, maxBlobFileSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("get key blob %s: %w", id, ErrKeyNotFound)
		}
		return "", nil, fmt.Errorf("get key blob %s: %w", id, err)
	}
	var f blobFile
	if err := json.Unmarshal(data, &f); err != nil {
		return "", nil, fmt.Errorf("get key blob %s: %s: %w", id, path, err)
	}
	if f.ID != id {
		return "", nil, fmt.Errorf("get key blob %s: %s holds id %q", id, path, f.ID)
	}
	return f.KeyType, f.Blob, nil
}

var _ BlobStore = (*FileBlobStore)(nil)
