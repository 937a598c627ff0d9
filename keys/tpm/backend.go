package tpm

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"sync"

	"github.com/agentid/agentid/keys"
)

// Backend is the keys.Backend of "tpm:" URIs: it creates agent keys in one
// TPM and keeps their blobs in a keys.BlobStore, and loads any
// "tpm:<device>?key=<name>" whose blob the store has. Register it with a
// keys.Manager:
//
//	store, err := tpm.NewKeyStore(dir)
//	…
//	b, err := tpm.NewBackend("/dev/tpmrm0", store)
//	…
//	m, err := keys.NewManager(keys.WithBackend(tpm.Scheme, b))
//
// The back end keeps each device it touched open until Close. The Manager
// caches loaded signers for its life, and each holds a TPM object loaded:
// mind the transient slots on TPMs without a resource manager (see the
// package documentation).
type Backend struct {
	device string
	store  keys.BlobStore

	mu     sync.Mutex
	open   map[string]*TPM
	loaded []*Key
}

var _ keys.Backend = (*Backend)(nil)

// NewBackend returns a back end that creates keys in the TPM at device and
// keeps blobs in store.
func NewBackend(device string, store keys.BlobStore) (*Backend, error) {
	if store == nil {
		return nil, errors.New("TPM key back end: no key store")
	}
	dev, err := canonicalDevice(device)
	if err != nil {
		return nil, fmt.Errorf("TPM key back end: %w", err)
	}
	return &Backend{device: dev, store: store, open: make(map[string]*TPM)}, nil
}

// tpmFor returns the back end's open TPM for device, opening it once.
func (b *Backend) tpmFor(device string) (*TPM, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t, ok := b.open[device]; ok {
		return t, nil
	}
	t, err := Open(device)
	if err != nil {
		return nil, err
	}
	b.open[device] = t
	return t, nil
}

var nameEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Create makes a P-256 agent key under a random name ("agent-" and 16
// base32 characters), saves its blob and returns it. Other key types fail
// with keys.ErrUnsupportedKeyType.
func (b *Backend) Create(ctx context.Context, typ keys.KeyType) (keys.Signer, error) {
	if typ != keys.P256 {
		return nil, fmt.Errorf("%w: TPM agent keys are %s, not %s", keys.ErrUnsupportedKeyType, keys.P256, typ)
	}
	var r [10]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, fmt.Errorf("TPM key name: %w", err)
	}
	t, err := b.tpmFor(b.device)
	if err != nil {
		return nil, err
	}
	k, err := t.CreateKey(ctx, "agent-"+nameEncoding.EncodeToString(r[:]))
	if err != nil {
		return nil, err
	}
	if err := k.Save(ctx, b.store); err != nil {
		_ = k.Close()
		return nil, err
	}
	b.track(k)
	return k, nil
}

// Load loads the key at uri ("tpm:<device>?key=<name>") from the store into
// its TPM. A malformed URI fails with keys.ErrInvalidKeyURI, a name the
// store does not have with keys.ErrKeyNotFound.
func (b *Backend) Load(ctx context.Context, uri string) (keys.Signer, error) {
	device, name, err := ParseKeyURI(uri)
	if err != nil {
		return nil, err
	}
	dev, _ := canonicalDevice(device)
	t, err := b.tpmFor(dev)
	if err != nil {
		return nil, err
	}
	k, err := t.LoadKey(ctx, b.store, name)
	if err != nil {
		return nil, err
	}
	b.track(k)
	return k, nil
}

func (b *Backend) track(k *Key) {
	b.mu.Lock()
	b.loaded = append(b.loaded, k)
	b.mu.Unlock()
}

// Close flushes every key the back end created or loaded and closes its
// TPMs. Signers it returned fail afterwards with ErrClosed.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for _, k := range b.loaded {
		errs = append(errs, k.Close())
	}
	for _, t := range b.open {
		errs = append(errs, t.Close())
	}
	b.loaded, b.open = nil, make(map[string]*TPM)
	return errors.Join(errs...)
}
