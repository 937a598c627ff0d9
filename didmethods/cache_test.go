package didmethods

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counting wraps a resolver and counts the calls that reach it.
type counting struct {
	inner Resolver
	n     atomic.Int64
}

func (c *counting) Resolve(ctx context.Context, did string, opts ResolveOptions) (*Resolution, error) {
	c.n.Add(1)
	return c.inner.Resolve(ctx, did, opts)
}

// seededDID returns the did:key of the Ed25519 key with seed i.
func seededDID(i int) string {
	seed := make([]byte, 32)
	seed[0], seed[1] = byte(i), byte(i>>8)
	did, _ := CreateKey(ed25519.NewKeyFromSeed(seed).Public())
	return did
}

func TestCacheHits(t *testing.T) {
	ctx := context.Background()
	inner := &counting{inner: KeyResolver{}}
	c := NewCache(inner)
	did := seededDID(1)
	first, err := c.Resolve(ctx, did, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A caller may modify its copy without touching the cache.
	first.Document.ID = "tampered"
	first.Document.VerificationMethod[0].Controller = "tampered"
	for range 3 {
		res, err := c.Resolve(ctx, did, ResolveOptions{})
		if err != nil || res.Document.ID != did || res.Document.VerificationMethod[0].Controller != did {
			t.Fatalf("cached result %+v, %v", res, err)
		}
		res.Document.Authentication[0].ID = "tampered"
	}
	if n := inner.n.Load(); n != 1 {
		t.Errorf("inner resolver called %d times, want 1", n)
	}
	// Other options are another entry.
	if _, err := c.Resolve(ctx, did, ResolveOptions{PublicKeyFormat: FormatJsonWebKey2020}); err != nil {
		t.Fatal(err)
	}
	if n := inner.n.Load(); n != 2 || c.Len() != 2 {
		t.Errorf("calls %d, entries %d", n, c.Len())
	}
}

// TestCacheKeysOnExperimentalTypes: a document cached with experimental
// public key types enabled must not answer a request that refuses them.
func TestCacheKeysOnExperimentalTypes(t *testing.T) {
	ctx := context.Background()
	c := NewCache(KeyResolver{})
	did := seededDID(1)
	if _, err := c.Resolve(ctx, did, ResolveOptions{PublicKeyFormat: FormatEd25519VerificationKey2018}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Resolve(ctx, did, ResolveOptions{PublicKeyFormat: FormatEd25519VerificationKey2018, RefuseExperimentalPublicKeyTypes: true})
	if ErrorCode(err) != CodeInvalidPublicKeyType {
		t.Fatalf("got %v, %v from the cache; want invalidPublicKeyType", res, err)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	inner := &counting{inner: KeyResolver{}}
	c := NewCache(inner, WithCacheSize(2))
	a, b, d := seededDID(1), seededDID(2), seededDID(3)
	for _, did := range []string{a, b, a, d} { // a is used again, so b is the oldest
		if _, err := c.Resolve(ctx, did, ResolveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 2 || inner.n.Load() != 3 {
		t.Fatalf("entries %d, calls %d", c.Len(), inner.n.Load())
	}
	c.Resolve(ctx, a, ResolveOptions{}) // hit
	if inner.n.Load() != 3 {
		t.Error("a was evicted")
	}
	c.Resolve(ctx, b, ResolveOptions{}) // miss: evicted
	if inner.n.Load() != 4 || c.Len() != 2 {
		t.Errorf("b: calls %d, entries %d", inner.n.Load(), c.Len())
	}
}

// fixed returns a resolver of one document with the given freshness.
func fixed(f freshness) Resolver {
	return ResolverFunc(func(_ context.Context, did string, _ ResolveOptions) (*Resolution, error) {
		return newResolution(&Document{ID: did}, f), nil
	})
}

func TestCacheExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		f     freshness
		hits  []time.Duration // ages at which the entry is still served
		miss  time.Duration   // age at which it has expired
		never bool            // never cached
	}{
		{"max-age", freshness{kind: freshMaxAge, maxAge: time.Minute}, []time.Duration{0, 59 * time.Second}, time.Minute, false},
		{"max-age capped", freshness{kind: freshMaxAge, maxAge: 3 * time.Hour}, []time.Duration{59 * time.Minute}, time.Hour, false},
		{"default TTL", freshness{kind: freshUnknown}, []time.Duration{4 * time.Minute}, 5 * time.Minute, false},
		{"immutable", freshness{kind: freshImmutable}, []time.Duration{24 * time.Hour, 365 * 24 * time.Hour}, 0, false},
		{"no-store", freshness{kind: freshNoStore}, nil, 0, true},
		{"max-age=0", freshness{kind: freshMaxAge}, nil, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			inner := &counting{inner: fixed(c.f)}
			cache := NewCache(inner)
			clock := now
			cache.now = func() time.Time { return clock }
			cache.Resolve(ctx, "did:example:1", ResolveOptions{})
			for _, age := range c.hits {
				clock = now.Add(age)
				cache.Resolve(ctx, "did:example:1", ResolveOptions{})
			}
			if inner.n.Load() != 1 {
				t.Fatalf("calls %d before expiry, want 1", inner.n.Load())
			}
			if c.miss > 0 {
				clock = now.Add(c.miss)
				cache.Resolve(ctx, "did:example:1", ResolveOptions{})
				if inner.n.Load() != 2 {
					t.Errorf("calls %d after expiry, want 2", inner.n.Load())
				}
			}
			if c.never {
				if cache.Len() != 0 {
					t.Error("cached")
				}
			}
		})
	}
}

func TestCacheNoStoreAndErrors(t *testing.T) {
	ctx := context.Background()
	inner := &counting{inner: fixed(freshness{kind: freshNoStore})}
	c := NewCache(inner)
	for range 3 {
		c.Resolve(ctx, "did:example:1", ResolveOptions{})
	}
	if inner.n.Load() != 3 {
		t.Errorf("no-store result served from cache: %d calls", inner.n.Load())
	}
	failing := &counting{inner: ResolverFunc(func(_ context.Context, did string, _ ResolveOptions) (*Resolution, error) {
		return nil, newError(CodeNotFound, did, errors.New("gone"))
	})}
	c = NewCache(failing)
	for range 3 {
		if _, err := c.Resolve(ctx, "did:example:1", ResolveOptions{}); ErrorCode(err) != CodeNotFound {
			t.Fatal(err)
		}
	}
	if failing.n.Load() != 3 || c.Len() != 0 {
		t.Errorf("errors cached: %d calls, %d entries", failing.n.Load(), c.Len())
	}
}

// The registry's cache honours did:web Cache-Control end to end.
func TestRegistryCacheWeb(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		cacheControl string
		requests     int64
	}{{"max-age=300", 1}, {"no-store", 3}, {"no-cache", 3}, {"", 1}} {
		var doc string
		srv, n := loopbackServer(t, serveDoc(&doc, c.cacheControl))
		did := "did:web:" + hostPort(t, srv, "127.0.0.1")
		doc, _ = webDoc(t, did)
		reg := NewDefaultRegistry(WithInsecureLoopback(true), WithCacheSize(8))
		for range 3 {
			if _, err := reg.Resolve(ctx, did, ResolveOptions{}); err != nil {
				t.Fatalf("%q: %v", c.cacheControl, err)
			}
		}
		if n.Load() != c.requests {
			t.Errorf("Cache-Control %q: %d requests, want %d", c.cacheControl, n.Load(), c.requests)
		}
	}
}

func TestCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	inner := &counting{inner: KeyResolver{}}
	c := NewCache(inner, WithCacheSize(8))
	dids := make([]string, 20)
	for i := range dids {
		dids[i] = seededDID(i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				did := dids[(g*7+i)%len(dids)]
				res, err := c.Resolve(ctx, did, ResolveOptions{})
				if err != nil || res.Document.ID != did {
					errs <- fmt.Errorf("%s: %v", did, err)
					return
				}
				res.Document.VerificationMethod[0].ID = "mine" // callers own their copy
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c.Len() > 8 {
		t.Errorf("cache holds %d entries, bound 8", c.Len())
	}
}

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	reg := NewDefaultRegistry(WithDialCheck(refuseAll))
	if got := fmt.Sprint(reg.Methods()); got != "[jwk key web]" {
		t.Errorf("methods %s", got)
	}
	for did, code := range map[string]string{
		"":                    CodeInvalidDID,
		"notadid":             CodeInvalidDID,
		"did:":                CodeInvalidDID,
		"did:key":             CodeInvalidDID,
		"did::x":              CodeInvalidDID,
		"did:KEY:z6Mk":        CodeInvalidDID,
		"did:ke-y:z6Mk":       CodeInvalidDID,
		"did:example:123":     CodeMethodNotSupported,
		"did:example:a:b%20c": CodeMethodNotSupported,
		"did:example:a::b":    CodeMethodNotSupported,
		"did:example:a:":      CodeInvalidDID,
		"did:example:a%2":     CodeInvalidDID,
		"did:example:a%zz":    CodeInvalidDID,
		"did:example:a b":     CodeInvalidDID,
		"did:example:a#frag":  CodeInvalidDID,
		"did:example:a/path":  CodeInvalidDID,
		"did:example:a?q":     CodeInvalidDID,
		"did:example:é":       CodeInvalidDID,
		"did:web:example.com": CodeInternalError, // dial refused
		"did:web:127.0.0.1":   CodeInvalidDID,
		"did:example:" + string(make([]byte, MaxDIDLength)): CodeInvalidDID,
	} {
		res, err := reg.Resolve(ctx, did, ResolveOptions{})
		if err == nil || res != nil {
			t.Errorf("%q resolved", did)
			continue
		}
		if ErrorCode(err) != code {
			t.Errorf("%.40q: code %s, want %s (%v)", did, ErrorCode(err), code, err)
		}
	}
	// A registered method is used, and replaces the earlier one.
	reg.Register("example", fixed(freshness{kind: freshImmutable}))
	if res, err := reg.Resolve(ctx, "did:example:123", ResolveOptions{}); err != nil || res.Document.ID != "did:example:123" {
		t.Errorf("registered method: %v", err)
	}
	for _, bad := range []string{"", "Example", "ex-ample", "ex:ample"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", bad)
				}
			}()
			reg.Register(bad, KeyResolver{})
		}()
	}
}

func TestNewErrorResolution(t *testing.T) {
	_, err := KeyResolver{}.Resolve(context.Background(), "did:key:abc", ResolveOptions{})
	res := NewErrorResolution(err)
	v := jsonValue(t, res).(map[string]any)
	meta := v["didResolutionMetadata"].(map[string]any)
	if v["@context"] != ResolutionContext || v["didDocument"] != nil || meta["error"] != CodeInvalidDID || meta["errorMessage"] == "" {
		t.Errorf("error resolution %v", v)
	}
	if NewErrorResolution(errors.New("boom")).ResolutionMetadata.Error != CodeInternalError {
		t.Error("an error without a code is not internalError")
	}
}
