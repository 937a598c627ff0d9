package software

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/agentid/agentid/keys"
)

// Backend is the keys.Backend of "software:" URIs. It keeps each key as a
// blob in a keys.BlobStore, under the key's URI: the PKCS#8 DER of the private
// key, sealed with KEK.SealKeyBlob (AES-256-GCM, bound to the URI and key
// type). The store never sees plaintext.
//
// Register it with a keys.Manager:
//
//	b, err := software.NewBackend(kek, store)
//	…
//	m, err := keys.NewManager(keys.WithBackend(software.Scheme, b))
type Backend struct {
	kek   *keys.KEK
	store keys.BlobStore
}

var _ keys.Backend = (*Backend)(nil)

// NewBackend returns a back end that seals keys under kek in store.
func NewBackend(kek *keys.KEK, store keys.BlobStore) (*Backend, error) {
	if kek == nil {
		return nil, errors.New("software key back end: no key-encryption key")
	}
	if store == nil {
		return nil, errors.New("software key back end: no blob store")
	}
	return &Backend{kek: kek, store: store}, nil
}

// Create generates a key of type typ, stores it encrypted and returns it.
func (b *Backend) Create(ctx context.Context, typ keys.KeyType) (keys.Signer, error) {
	k, err := Generate(typ)
	if err != nil {
		return nil, err
	}
	if err := b.Import(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

// Import stores an existing key (one read from a private JWK file, for
// example) encrypted, so that Load, in this process or another, finds it
// under k.URI(). Importing a URI that is already stored fails with the
// store's error (keys.ErrKeyExists for a keys.FileBlobStore).
func (b *Backend) Import(ctx context.Context, k *Key) error {
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return fmt.Errorf("store %s: encode private key: %w", k.URI(), err)
	}
	defer clear(der)
	blob, err := b.kek.SealKeyBlob(k.URI(), k.typ, der)
	if err != nil {
		return fmt.Errorf("store %s: %w", k.URI(), err)
	}
	if err := b.store.PutKeyBlob(ctx, k.URI(), string(k.typ), blob); err != nil {
		return fmt.Errorf("store %s: %w", k.URI(), err)
	}
	return nil
}

// Load reads and decrypts the key at uri ("software:<id>"). A URI that no
// software key can have fails with keys.ErrInvalidKeyURI. Any error of the
// blob store fails the load and is wrapped (so keys.ErrKeyNotFound from the
// store stays visible to errors.Is); a blob sealed under another KEK fails
// with keys.ErrWrongKEK, an altered or moved one with keys.ErrKeyBlobCorrupt.
func (b *Backend) Load(ctx context.Context, uri string) (keys.Signer, error) {
	id, err := parseURI(uri)
	if err != nil {
		return nil, err
	}
	typName, blob, err := b.store.GetKeyBlob(ctx, uri)
	if err != nil {
		if errors.Is(err, keys.ErrKeyNotFound) {
			return nil, fmt.Errorf("software key %s: %w", uri, err)
		}
		return nil, fmt.Errorf("software key %s: read key blob: %w", uri, err)
	}
	typ := keys.KeyType(typName)
	der, err := b.kek.OpenKeyBlob(uri, typ, blob)
	if err != nil {
		return nil, fmt.Errorf("software key %s: %w", uri, err)
	}
	defer clear(der)
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("software key %s: decode private key: %w", uri, err)
	}
	k, err := fromPrivateKey(id, priv)
	if err != nil {
		return nil, fmt.Errorf("software key %s: %w", uri, err)
	}
	if k.typ != typ {
		return nil, fmt.Errorf("software key %s: stored as %s but holds a %s key", uri, typ, k.typ)
	}
	return k, nil
}

// parseURI returns the id of a software key URI.
func parseURI(uri string) (string, error) {
	scheme, id, err := keys.ParseKeyURI(uri)
	if err != nil {
		return "", err
	}
	if scheme != Scheme {
		return "", fmt.Errorf("%w %q: scheme is not %s", keys.ErrInvalidKeyURI, uri, Scheme)
	}
	if !validID(id) {
		return "", fmt.Errorf("%w %q: a software key id is 26 base32 characters", keys.ErrInvalidKeyURI, uri)
	}
	return id, nil
}
