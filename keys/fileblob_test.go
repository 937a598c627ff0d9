package keys

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func newTestBlobStore(t *testing.T) *FileBlobStore {
	t.Helper()
	s, err := NewFileBlobStore(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFileBlobStore(t *testing.T) {
	ctx := context.Background()
	s := newTestBlobStore(t)
	if info, err := os.Stat(s.Dir()); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("store directory: %v, %v; want mode 0700", info.Mode(), err)
	}

	ids := []string{
		"software:abcdefghijklmnopqrstuvwxyz",
		"../../etc/passwd",
		"a/b\\c\x00d",
		"tpm:/dev/tpmrm0?key=agent",
		"Software:ABC", // differs from the next only in case
		"software:abc",
		"ключ",
		strings.Repeat("x", maxBlobIDLen),
	}
	for i, id := range ids {
		blob := []byte{byte(i), 0, 0xff, byte(i)}
		if err := s.PutKeyBlob(ctx, id, "p256", blob); err != nil {
			t.Fatalf("PutKeyBlob(%q): %v", id, err)
		}
	}
	for i, id := range ids {
		typ, blob, err := s.GetKeyBlob(ctx, id)
		if err != nil || typ != "p256" || !bytes.Equal(blob, []byte{byte(i), 0, 0xff, byte(i)}) {
			t.Errorf("GetKeyBlob(%q) = %q, %x, %v", id, typ, blob, err)
		}
	}

	// Every id became exactly one 0600 file inside the directory, and no
	// temporary file is left behind.
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(ids) {
		t.Errorf("directory holds %d entries, want %d", len(entries), len(ids))
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if !info.Mode().IsRegular() || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want a regular 0600 file", e.Name(), info.Mode())
		}
		if !strings.HasPrefix(e.Name(), "k-") || !strings.HasSuffix(e.Name(), ".json") {
			t.Errorf("unexpected file %s", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.Dir()), "etc")); err == nil {
		t.Error("an id escaped the store directory")
	}

	// Never overwrite.
	err = s.PutKeyBlob(ctx, ids[0], "ed25519", []byte("other"))
	if !errors.Is(err, ErrKeyExists) {
		t.Errorf("second PutKeyBlob: err = %v, want ErrKeyExists", err)
	}
	if typ, blob, _ := s.GetKeyBlob(ctx, ids[0]); typ != "p256" || !bytes.Equal(blob, []byte{0, 0, 0xff, 0}) {
		t.Errorf("the stored blob changed to %q, %x", typ, blob)
	}

	if _, _, err := s.GetKeyBlob(ctx, "software:unknown"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("unknown id: err = %v, want ErrKeyNotFound", err)
	}
	for _, id := range []string{"", strings.Repeat("x", maxBlobIDLen+1)} {
		if err := s.PutKeyBlob(ctx, id, "p256", nil); err == nil {
			t.Errorf("PutKeyBlob with a %d-byte id succeeded", len(id))
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.PutKeyBlob(cancelled, "x", "p256", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Put: err = %v", err)
	}
	if _, _, err := s.GetKeyBlob(cancelled, ids[0]); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Get: err = %v", err)
	}

	// A second store on the same directory sees the same blobs.
	s2, err := NewFileBlobStore(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s2.GetKeyBlob(ctx, ids[3]); err != nil {
		t.Errorf("reopened store: %v", err)
	}
}

func TestFileBlobStorePermissions(t *testing.T) {
	ctx := context.Background()
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFileBlobStore(open); !errors.Is(err, ErrInsecureFileMode) || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("0755 directory: err = %v, want ErrInsecureFileMode saying chmod 700", err)
	}

	s := newTestBlobStore(t)
	if err := s.PutKeyBlob(ctx, "id", "p256", []byte("blob")); err != nil {
		t.Fatal(err)
	}
	path, _ := s.path("id")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetKeyBlob(ctx, "id"); !errors.Is(err, ErrInsecureFileMode) {
		t.Errorf("0644 blob file: err = %v, want ErrInsecureFileMode", err)
	}

	// A file that claims another id (renamed by hand) is not returned.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	other, _ := s.path("other")
	if err := os.Rename(path, other); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetKeyBlob(ctx, "other"); err == nil {
		t.Error("a blob renamed to another id was returned")
	}
}

func TestFileBlobStoreConcurrentPut(t *testing.T) {
	ctx := context.Background()
	s := newTestBlobStore(t)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			err := s.PutKeyBlob(ctx, "contended", "p256", []byte{byte(i)})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, ErrKeyExists):
				t.Errorf("Put %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent Puts of one id succeeded, want exactly 1", wins.Load())
	}
	entries, _ := os.ReadDir(s.Dir())
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after the race, want 1", len(entries))
	}
}
