package software_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

func newKEK(t testing.TB) *keys.KEK {
	t.Helper()
	k, err := keys.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newManager(t testing.TB, kek *keys.KEK, store keys.BlobStore) *keys.Manager {
	t.Helper()
	b, err := software.NewBackend(kek, store)
	if err != nil {
		t.Fatal(err)
	}
	m, err := keys.NewManager(keys.WithBackend(software.Scheme, b))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newFileStore(t testing.TB, dir string) *keys.FileBlobStore {
	t.Helper()
	s, err := keys.NewFileBlobStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// memStore is a BlobStore in memory whose not-found error, like the database
// store's, is its own and does not wrap keys.ErrKeyNotFound.
type memStore struct {
	mu    sync.Mutex
	blobs map[string]memBlob
}

type memBlob struct {
	typ  string
	blob []byte
}

var errMemNotFound = errors.New("mem: not found")

func newMemStore() *memStore { return &memStore{blobs: map[string]memBlob{}} }

func (s *memStore) PutKeyBlob(_ context.Context, id, typ string, blob []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.blobs[id]; ok {
		return keys.ErrKeyExists
	}
	s.blobs[id] = memBlob{typ, append([]byte(nil), blob...)}
	return nil
}

func (s *memStore) GetKeyBlob(_ context.Context, id string) (string, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[id]
	if !ok {
		return "", nil, fmt.Errorf("blob %s: %w", id, errMemNotFound)
	}
	return b.typ, append([]byte(nil), b.blob...), nil
}

// set replaces a blob, as an attacker with database access could.
func (s *memStore) set(id, typ string, blob []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[id] = memBlob{typ, blob}
}

func TestManagerWithFileBlobStore(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	kek := newKEK(t)
	m := newManager(t, kek, newFileStore(t, dir))

	created := map[keys.KeyType]keys.Signer{}
	for _, typ := range signingTypes {
		s, err := m.Create(ctx, software.Scheme, typ)
		if err != nil {
			t.Fatalf("Create(%s): %v", typ, err)
		}
		if s.KeyType() != typ || !uriPattern.MatchString(s.URI()) {
			t.Fatalf("Create(%s) = %s %s", typ, s.KeyType(), s.URI())
		}
		created[typ] = s
	}

	// The blobs on disk hold no private key bytes in any encoding.
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(signingTypes) {
		t.Fatalf("%d files in the store, want %d", len(files), len(signingTypes))
	}
	var disk []byte
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ Blob []byte }
		if err := json.Unmarshal(data, &rec); err != nil || len(rec.Blob) == 0 {
			t.Fatalf("%s: %v", f.Name(), err)
		}
		disk = append(append(disk, data...), rec.Blob...)
	}
	for _, s := range created {
		assertNoLeak(t, s.(*software.Key), "key blob store", disk)
	}

	// A new Manager (a restarted process) with the same KEK and directory
	// loads every key, and it signs verifiably under the original public key.
	m2 := newManager(t, kek, newFileStore(t, dir))
	for typ, s := range created {
		loaded, err := m2.Load(ctx, s.URI())
		if err != nil {
			t.Fatalf("Load(%s) after restart: %v", s.URI(), err)
		}
		if loaded.KeyType() != typ || loaded.URI() != s.URI() {
			t.Errorf("loaded %s %s, want %s %s", loaded.KeyType(), loaded.URI(), typ, s.URI())
		}
		mustVerify(t, loaded, s.Public())
	}

	// Another KEK cannot, and says why.
	m3 := newManager(t, newKEK(t), newFileStore(t, dir))
	_, err = m3.Load(ctx, created[keys.P256].URI())
	if !errors.Is(err, keys.ErrWrongKEK) || !strings.Contains(err.Error(), "encrypted under another key-encryption key") {
		t.Errorf("other KEK: err = %v, want ErrWrongKEK", err)
	}

	// Unknown keys, malformed URIs, unknown schemes.
	unknown := mustGenerate(t, keys.P256).URI()
	if _, err := m2.Load(ctx, unknown); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Errorf("unknown key: err = %v, want ErrKeyNotFound", err)
	}
	for _, uri := range []string{"software:", "software:short", "software:" + strings.Repeat("A", 26), "software:../../kek"} {
		if _, err := m2.Load(ctx, uri); !errors.Is(err, keys.ErrInvalidKeyURI) {
			t.Errorf("Load(%q): err = %v, want ErrInvalidKeyURI", uri, err)
		}
	}
	if _, err := m2.Load(ctx, "tpm:/dev/tpmrm0?key=agent"); !errors.Is(err, keys.ErrUnknownScheme) {
		t.Errorf("tpm URI without a tpm back end: err = %v, want ErrUnknownScheme", err)
	}
	if _, err := m2.Create(ctx, software.Scheme, keys.X25519); !errors.Is(err, keys.ErrUnsupportedKeyType) {
		t.Errorf("Create(x25519): err = %v, want ErrUnsupportedKeyType", err)
	}
}

func TestBackendImport(t *testing.T) {
	ctx := context.Background()
	kek, store := newKEK(t), newMemStore()
	b, err := software.NewBackend(kek, store)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "human.jwk")
	orig := mustGenerate(t, keys.Ed25519)
	if err := software.WritePrivateJWKFile(path, orig); err != nil {
		t.Fatal(err)
	}
	k, err := software.ReadPrivateJWKFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Import(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := b.Import(ctx, k); !errors.Is(err, keys.ErrKeyExists) {
		t.Errorf("second Import: err = %v, want ErrKeyExists", err)
	}
	loaded, err := newManager(t, kek, store).Load(ctx, k.URI())
	if err != nil {
		t.Fatal(err)
	}
	mustVerify(t, loaded, orig.Public())

	if _, err := software.NewBackend(nil, store); err == nil {
		t.Error("NewBackend without KEK succeeded")
	}
	if _, err := software.NewBackend(kek, nil); err == nil {
		t.Error("NewBackend without store succeeded")
	}
}

func TestBlobTampering(t *testing.T) {
	ctx := context.Background()
	kek, store := newKEK(t), newMemStore()
	m := newManager(t, kek, store)
	s, err := m.Create(ctx, software.Scheme, keys.P256)
	if err != nil {
		t.Fatal(err)
	}
	typ, blob, err := store.GetKeyBlob(ctx, s.URI())
	if err != nil {
		t.Fatal(err)
	}

	// Flipping any single byte makes the load fail (each attempt through a
	// fresh Manager, so that the cache does not answer).
	for i := range blob {
		bad := append([]byte(nil), blob...)
		bad[i] ^= 0x80
		store.set(s.URI(), typ, bad)
		if _, err := newManager(t, kek, store).Load(ctx, s.URI()); err == nil {
			t.Fatalf("blob with byte %d flipped loaded", i)
		}
	}
	store.set(s.URI(), typ, blob)
	if _, err := newManager(t, kek, store).Load(ctx, s.URI()); err != nil {
		t.Fatalf("restored blob: %v", err)
	}

	// The blob copied to another key id does not decrypt there.
	other := mustGenerate(t, keys.P256).URI()
	store.set(other, typ, blob)
	if _, err := newManager(t, kek, store).Load(ctx, other); !errors.Is(err, keys.ErrKeyBlobCorrupt) {
		t.Errorf("blob under another id: err = %v, want ErrKeyBlobCorrupt", err)
	}
	// Relabelled with another key type, it does not decrypt either.
	store.set(s.URI(), string(keys.P384), blob)
	if _, err := newManager(t, kek, store).Load(ctx, s.URI()); !errors.Is(err, keys.ErrKeyBlobCorrupt) {
		t.Errorf("blob relabelled p384: err = %v, want ErrKeyBlobCorrupt", err)
	}

	// A store's own not-found error is wrapped, not replaced.
	_, err = m.Load(ctx, mustGenerate(t, keys.P256).URI())
	if !errors.Is(err, errMemNotFound) {
		t.Errorf("missing key in memStore: err = %v, want it to wrap the store's error", err)
	}
}

func TestConcurrentCreateLoad(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	kek := newKEK(t)
	m := newManager(t, kek, newFileStore(t, dir))
	shared, err := m.Create(ctx, software.Scheme, keys.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	// A second Manager on the same directory must read from disk, and all
	// its goroutines must share one decrypted signer.
	m2 := newManager(t, kek, newFileStore(t, dir))

	const n = 24
	uris := make(chan string, n)
	loadedShared := make([]keys.Signer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			typ := signingTypes[i%len(signingTypes)]
			s, err := m.Create(ctx, software.Scheme, typ)
			if err != nil {
				t.Error(err)
				return
			}
			uris <- s.URI()
			if loadedShared[i], err = m2.Load(ctx, shared.URI()); err != nil {
				t.Error(err)
			}
			l, err := m2.Load(ctx, s.URI())
			if err != nil {
				t.Error(err)
				return
			}
			msg := []byte("concurrent")
			sig, err := l.Sign(ctx, msg)
			if err != nil {
				t.Error(err)
				return
			}
			if err := keys.Verify(s.Public(), s.Algorithm(), msg, sig); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(uris)
	seen := map[string]bool{}
	for u := range uris {
		if seen[u] {
			t.Errorf("URI %s created twice", u)
		}
		seen[u] = true
	}
	for _, s := range loadedShared {
		if s != loadedShared[0] {
			t.Fatal("concurrent loads of one URI returned different signers")
		}
	}
	if loadedShared[0].URI() != shared.URI() {
		t.Error("shared key URI changed")
	}
}

func BenchmarkLoadCached(b *testing.B) {
	ctx := context.Background()
	m := newManager(b, newKEK(b), newFileStore(b, filepath.Join(b.TempDir(), "keys")))
	s, err := m.Create(ctx, software.Scheme, keys.P256)
	if err != nil {
		b.Fatal(err)
	}
	m.Forget(s.URI())
	if _, err := m.Load(ctx, s.URI()); err != nil { // decrypt once
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Load(ctx, s.URI()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadUncached is the cost the cache saves: read, decrypt, parse.
func BenchmarkLoadUncached(b *testing.B) {
	ctx := context.Background()
	m := newManager(b, newKEK(b), newFileStore(b, filepath.Join(b.TempDir(), "keys")))
	s, err := m.Create(ctx, software.Scheme, keys.P256)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Forget(s.URI())
		if _, err := m.Load(ctx, s.URI()); err != nil {
			b.Fatal(err)
		}
	}
}
