package issuer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/internal/testkeys"
)

// The did:web of a public URL follows the did:web spec: lowercased host,
// %3A for a port, a colon for each path segment; and it maps back to the
// URL the server serves the document at.
func TestWebBase(t *testing.T) {
	for _, c := range []struct {
		url, base, root, docURL string
	}{
		{"https://issuer.example.com", "issuer.example.com", "/.well-known/did.json", "https://issuer.example.com/.well-known/did.json"},
		{"https://Issuer.Example.com/", "issuer.example.com", "/.well-known/did.json", "https://issuer.example.com/.well-known/did.json"},
		{"https://issuer.example.com:8443", "issuer.example.com%3A8443", "/.well-known/did.json", "https://issuer.example.com:8443/.well-known/did.json"},
		{"https://example.com/agentid", "example.com:agentid", "/did.json", "https://example.com/agentid/did.json"},
		{"https://example.com:8443/a/b/", "example.com%3A8443:a:b", "/did.json", "https://example.com:8443/a/b/did.json"},
		{"http://issuer.example.com", "", "", ""},
	} {
		base, err := WebBase(c.url)
		if err != nil || base != c.base {
			t.Errorf("WebBase(%s) = %q, %v; want %q", c.url, base, err, c.base)
			continue
		}
		s := &Service{webBase: base}
		if got := s.WebRootPath(); got != c.root {
			t.Errorf("%s: WebRootPath = %q, want %q", c.url, got, c.root)
		}
		if base == "" {
			if dids := s.webDIDs(&store.Organization{Slug: "acme", IsDefault: true}); dids != nil {
				t.Errorf("%s: did:web DIDs %v without https", c.url, dids)
			}
			continue
		}
		if u, err := didmethods.WebDocumentURL("did:web:" + base); err != nil || u != c.docURL {
			t.Errorf("%s: did:web:%s resolves at %s, %v; want %s", c.url, base, u, err, c.docURL)
		}
		dids := s.webDIDs(&store.Organization{Slug: "acme", IsDefault: true})
		if len(dids) != 2 || dids[0] != "did:web:"+base || dids[1] != "did:web:"+base+":orgs:acme" {
			t.Errorf("%s: default organization DIDs %v", c.url, dids)
		}
		if dids := s.webDIDs(&store.Organization{Slug: "acme"}); len(dids) != 1 {
			t.Errorf("%s: organization DIDs %v, want one", c.url, dids)
		}
	}
	for _, bad := range []string{"https://user@example.com", "https://example.com/?q=1", "https:///x"} {
		if _, err := WebBase(bad); err == nil {
			t.Errorf("WebBase(%s): no error", bad)
		}
	}
}

// A bad key type is refused naming /type, and changes nothing.
func TestRotateKeyBadType(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s, orgID := newService(t, st, testkeys.Manager(t, st))
		before, err := st.IssuerIdentities(ctx, orgID)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{"rsa", "", "p384", "ED25519"} {
			_, err := s.RotateKey(ctx, orgID, typ)
			if !errors.Is(err, ErrInvalidRotation) {
				t.Fatalf("RotateKey(%q) = %v, want ErrInvalidRotation", typ, err)
			}
			p := problem.From(err)
			if p.Status != 400 || len(p.Errors) != 1 || p.Errors[0].Field != "/type" {
				t.Fatalf("RotateKey(%q): problem %+v", typ, p)
			}
		}
		if _, err := s.RotateKey(ctx, "no-such-org", "ed25519"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("RotateKey of an unknown organization: %v", err)
		}
		after, err := st.IssuerIdentities(ctx, orgID)
		if err != nil || len(after) != len(before) {
			t.Fatalf("identities %d → %d (%v)", len(before), len(after), err)
		}
	})
}

// Rotations at once: each either rotates or is refused with
// ErrRotationConflict; every DID ends with exactly one active Ed25519 key
// and its did:web keys are numbered without gaps.
func TestRotateKeyConcurrently(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s, orgID := newService(t, st, testkeys.Manager(t, st))
		if _, err := s.EnsureWebIdentities(ctx); err != nil {
			t.Fatal(err)
		}
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, errs[i] = s.RotateKey(ctx, orgID, "ed25519") })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrRotationConflict):
				t.Fatalf("RotateKey: %v", err)
			}
		}
		if ok == 0 {
			t.Fatal("no rotation succeeded")
		}
		ids, err := st.IssuerIdentities(ctx, orgID)
		if err != nil {
			t.Fatal(err)
		}
		active := map[string]int{}
		keyIDs := map[string][]string{}
		didKeys := 0
		for _, id := range ids {
			if id.KeyType == "ed25519" && id.Active {
				active[id.DID]++
			}
			if id.KeyID != "" {
				keyIDs[id.DID] = append(keyIDs[id.DID], id.KeyID)
			} else if id.KeyType == "ed25519" {
				didKeys++
			}
		}
		if didKeys != 1+ok {
			t.Errorf("%d Ed25519 did:key identities after %d rotations, want %d", didKeys, ok, 1+ok)
		}
		for did, c := range active {
			if c != 1 {
				t.Errorf("%s has %d active Ed25519 keys", did, c)
			}
		}
		if len(keyIDs) != 2 {
			t.Fatalf("did:web DIDs %v, want 2", keyIDs)
		}
		for did, ks := range keyIDs {
			if len(ks) != 2+ok {
				t.Errorf("%s has keys %v, want %d", did, ks, 2+ok)
			}
			seen := map[string]bool{}
			for _, k := range ks {
				seen[k] = true
			}
			for i := 1; i <= len(ks); i++ {
				if !seen[fmt.Sprintf("key-%d", i)] {
					t.Errorf("%s: keys %v lack key-%d", did, ks, i)
				}
			}
		}
	})
}
