package keys

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeSigner and fakeBackend exercise the Manager without any cryptography.
type fakeSigner struct{ uri string }

func (s *fakeSigner) URI() string                                { return s.uri }
func (*fakeSigner) KeyType() KeyType                             { return Ed25519 }
func (*fakeSigner) Algorithm() Algorithm                         { return EdDSA }
func (*fakeSigner) Public() crypto.PublicKey                     { return nil }
func (*fakeSigner) Sign(context.Context, []byte) ([]byte, error) { return nil, nil }

type fakeBackend struct {
	scheme string
	mu     sync.Mutex
	keys   map[string]bool
	next   int
	loads  atomic.Int64
	// uriOverride makes Create return a URI of another scheme.
	uriOverride string
}

func newFake(scheme string) *fakeBackend {
	return &fakeBackend{scheme: scheme, keys: map[string]bool{}}
}

func (b *fakeBackend) create() (Signer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	uri := fmt.Sprintf("%s:k%d", b.scheme, b.next)
	if b.uriOverride != "" {
		uri = b.uriOverride
	}
	b.keys[uri] = true
	return &fakeSigner{uri}, nil
}

func (b *fakeBackend) Create(context.Context, KeyType) (Signer, error) { return b.create() }

func (b *fakeBackend) loadCount() int64 { return b.loads.Load() }

func (b *fakeBackend) Load(_ context.Context, uri string) (Signer, error) {
	b.loads.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.keys[uri] {
		return nil, fmt.Errorf("fake: %w", ErrKeyNotFound)
	}
	return &fakeSigner{uri}, nil
}

func TestParseKeyURI(t *testing.T) {
	for uri, want := range map[string][2]string{
		"software:abc":          {"software", "abc"},
		"TPM:/dev/tpmrm0?key=a": {"tpm", "/dev/tpmrm0?key=a"},
		"a+b.c-d:x:y":           {"a+b.c-d", "x:y"},
	} {
		scheme, rest, err := ParseKeyURI(uri)
		if err != nil || scheme != want[0] || rest != want[1] {
			t.Errorf("ParseKeyURI(%q) = %q, %q, %v; want %q, %q", uri, scheme, rest, err, want[0], want[1])
		}
	}
	for _, uri := range []string{"", "software", ":abc", "software:", "1sw:abc", "soft ware:abc", "sw/x:abc"} {
		if _, _, err := ParseKeyURI(uri); !errors.Is(err, ErrInvalidKeyURI) {
			t.Errorf("ParseKeyURI(%q) error = %v, want ErrInvalidKeyURI", uri, err)
		}
	}
}

func TestManagerRegistry(t *testing.T) {
	fake := newFake("fake")
	m, err := NewManager(WithBackend("fake", fake))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterBackend("FAKE", newFake("fake")); err == nil {
		t.Error("registering a scheme twice (in another case) succeeded")
	}
	for _, scheme := range []string{"", "1x", "a:b"} {
		if err := m.RegisterBackend(scheme, newFake("x")); err == nil {
			t.Errorf("RegisterBackend(%q) succeeded", scheme)
		}
	}
	if err := m.RegisterBackend("nil", nil); err == nil {
		t.Error("RegisterBackend with a nil back end succeeded")
	}
	if err := m.RegisterBackend("tpm", newFake("tpm")); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Schemes(), ","); got != "fake,tpm" {
		t.Errorf("Schemes() = %s", got)
	}
	if _, err := NewManager(WithBackend("x", newFake("x")), WithBackend("x", newFake("x"))); err == nil {
		t.Error("NewManager with a duplicate scheme succeeded")
	}
}

func TestManagerCreateLoad(t *testing.T) {
	ctx := context.Background()
	fake := newFake("fake")
	m, err := NewManager(WithBackend("fake", fake))
	if err != nil {
		t.Fatal(err)
	}

	s, err := m.Create(ctx, "fake", Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Load(ctx, s.URI())
	if err != nil || got.URI() != s.URI() {
		t.Fatalf("Load(%s) = %v, %v", s.URI(), got, err)
	}
	if n := fake.loadCount(); n != 0 {
		t.Errorf("a created key was loaded %d times from the back end; want 0 (cached)", n)
	}

	fake.mu.Lock()
	fake.keys["fake:other"] = true
	fake.mu.Unlock()
	for range 3 {
		if _, err := m.Load(ctx, "fake:other"); err != nil {
			t.Fatal(err)
		}
	}
	if n := fake.loadCount(); n != 1 {
		t.Errorf("three loads reached the back end %d times; want 1", n)
	}
	m.Forget("fake:other")
	if _, err := m.Load(ctx, "fake:other"); err != nil || fake.loadCount() != 2 {
		t.Errorf("Load after Forget: %v, back-end loads %d; want 2", err, fake.loadCount())
	}

	before := fake.loadCount()
	for range 2 {
		if _, err := m.Load(ctx, "fake:missing"); !errors.Is(err, ErrKeyNotFound) || !strings.Contains(err.Error(), "fake:missing") {
			t.Errorf("missing key: err = %v, want ErrKeyNotFound naming the URI", err)
		}
	}
	if fake.loadCount() != before+2 {
		t.Error("a failed load was cached")
	}

	if _, err := m.Load(ctx, "tpm:/dev/tpmrm0?key=agent"); !errors.Is(err, ErrUnknownScheme) || !strings.Contains(err.Error(), `"tpm"`) {
		t.Errorf("unknown scheme: err = %v, want ErrUnknownScheme naming tpm", err)
	}
	if _, err := m.Create(ctx, "tpm", P256); !errors.Is(err, ErrUnknownScheme) {
		t.Errorf("Create in unknown scheme: err = %v, want ErrUnknownScheme", err)
	}
	for _, uri := range []string{"", "no-colon", "fake:"} {
		if _, err := m.Load(ctx, uri); !errors.Is(err, ErrInvalidKeyURI) {
			t.Errorf("Load(%q): err = %v, want ErrInvalidKeyURI", uri, err)
		}
	}

	fake.uriOverride = "other:x"
	if _, err := m.Create(ctx, "fake", Ed25519); err == nil {
		t.Error("Create accepted a signer whose URI has another scheme")
	}
}

func TestManagerConcurrentLoad(t *testing.T) {
	ctx := context.Background()
	fake := newFake("fake")
	m, err := NewManager(WithBackend("fake", fake))
	if err != nil {
		t.Fatal(err)
	}
	fake.keys["fake:shared"] = true
	var wg sync.WaitGroup
	signers := make([]Signer, 32)
	for i := range signers {
		wg.Go(func() {
			s, err := m.Load(ctx, "fake:shared")
			if err != nil {
				t.Error(err)
				return
			}
			signers[i] = s
			if _, err := m.Create(ctx, "fake", P256); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, s := range signers {
		if s != signers[0] {
			t.Fatal("concurrent loads returned different signers for one URI")
		}
	}
}
