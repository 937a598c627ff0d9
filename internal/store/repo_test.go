package store_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/keys"
)

// Store is the database back end of the keys package's BlobStore.
var _ keys.BlobStore = (*store.Store)(nil)

func mustOrg(t *testing.T, s *store.Store, slug string) *store.Organization {
	t.Helper()
	org := &store.Organization{Slug: slug, Name: "Org " + slug}
	if err := s.CreateOrganization(t.Context(), org); err != nil {
		t.Fatal(err)
	}
	return org
}

func sameOrg(t *testing.T, got, want *store.Organization) {
	t.Helper()
	if got.ID != want.ID || got.Slug != want.Slug || got.Name != want.Name || got.IsDefault != want.IsDefault || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("organization = %+v, want %+v", got, want)
	}
}

func TestOrganizations(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		orgs, err := s.ListOrganizations(ctx)
		if err != nil || len(orgs) != 0 {
			t.Fatalf("ListOrganizations on empty store = %v, %v", orgs, err)
		}

		a := mustOrg(t, s, "acme")
		if len(a.ID) != 36 || a.CreatedAt.IsZero() {
			t.Errorf("CreateOrganization did not fill ID and CreatedAt: %+v", a)
		}
		b := &store.Organization{Slug: "globex", Name: "Globex", IsDefault: true, CreatedAt: a.CreatedAt.Add(time.Second)}
		if err := s.CreateOrganization(ctx, b); err != nil {
			t.Fatal(err)
		}

		got, err := s.OrganizationByID(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameOrg(t, got, a)
		got, err = s.OrganizationBySlug(ctx, "globex")
		if err != nil {
			t.Fatal(err)
		}
		sameOrg(t, got, b)
		got, err = s.DefaultOrganization(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameOrg(t, got, b)

		orgs, err = s.ListOrganizations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(orgs) != 2 || orgs[0].Slug != "acme" || orgs[1].Slug != "globex" {
			t.Errorf("ListOrganizations = %+v, want acme then globex", orgs)
		}
	})
}

func TestOrganizationNotFound(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		_, err := s.DefaultOrganization(ctx)
		wantErr(t, err, store.ErrNotFound)
		mustOrg(t, s, "acme") // not default
		_, err = s.DefaultOrganization(ctx)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.OrganizationByID(ctx, "00000000-0000-4000-8000-000000000000")
		wantErr(t, err, store.ErrNotFound)
		_, err = s.OrganizationBySlug(ctx, "nope")
		wantErr(t, err, store.ErrNotFound)
	})
}

func TestOrganizationConflicts(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		orig := mustOrg(t, s, "acme")

		err := s.CreateOrganization(ctx, &store.Organization{Slug: "acme", Name: "Impostor"})
		wantErr(t, err, store.ErrConflict)
		err = s.CreateOrganization(ctx, &store.Organization{ID: orig.ID, Slug: "other"})
		wantErr(t, err, store.ErrConflict)

		got, err := s.OrganizationBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		sameOrg(t, got, orig)

		// At most one default organization.
		if err := s.CreateOrganization(ctx, &store.Organization{Slug: "d1", IsDefault: true}); err != nil {
			t.Fatal(err)
		}
		err = s.CreateOrganization(ctx, &store.Organization{Slug: "d2", IsDefault: true})
		wantErr(t, err, store.ErrConflict)
		if _, err := s.OrganizationBySlug(ctx, "d2"); err == nil {
			t.Error("second default organization was stored")
		}
		orgs, err := s.ListOrganizations(ctx)
		if err != nil || len(orgs) != 2 {
			t.Errorf("ListOrganizations = %d organizations, %v; want 2", len(orgs), err)
		}
	})
}

func TestIssuerIdentities(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		org := mustOrg(t, s, "acme")
		other := mustOrg(t, s, "globex")

		ed := &store.IssuerIdentity{OrganizationID: org.ID, DID: "did:key:z6MkEd", KeyURI: "software:ed", KeyType: "ed25519", Cryptosuite: "eddsa-rdfc-2022", Active: true}
		if err := s.AddIssuerIdentity(ctx, ed); err != nil {
			t.Fatal(err)
		}
		retired := ed.CreatedAt.Add(2 * time.Second)
		p := &store.IssuerIdentity{OrganizationID: org.ID, DID: "did:key:zDnaeP", KeyURI: "software:p", KeyType: "p256", Cryptosuite: "ecdsa-rdfc-2019", Active: false, CreatedAt: ed.CreatedAt.Add(time.Second), RetiredAt: &retired}
		if err := s.AddIssuerIdentity(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := s.AddIssuerIdentity(ctx, &store.IssuerIdentity{OrganizationID: other.ID, DID: "did:key:zOther", KeyURI: "software:o", KeyType: "ed25519", Cryptosuite: "eddsa-rdfc-2022", Active: true}); err != nil {
			t.Fatal(err)
		}

		ids, err := s.IssuerIdentities(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 2 || ids[0].DID != ed.DID || ids[1].DID != p.DID {
			t.Fatalf("IssuerIdentities = %+v, want the ed25519 then the p256 identity", ids)
		}

		got, err := s.IssuerIdentityByDID(ctx, p.DID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != p.ID || got.OrganizationID != org.ID || got.KeyURI != "software:p" || got.KeyType != "p256" ||
			got.Cryptosuite != "ecdsa-rdfc-2019" || got.Active || !got.CreatedAt.Equal(p.CreatedAt) ||
			got.RetiredAt == nil || !got.RetiredAt.Equal(retired) {
			t.Errorf("IssuerIdentityByDID = %+v, want %+v", got, p)
		}
		got, err = s.IssuerIdentityByDID(ctx, ed.DID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Active || got.RetiredAt != nil {
			t.Errorf("active identity read back as Active=%v RetiredAt=%v", got.Active, got.RetiredAt)
		}

		_, err = s.IssuerIdentityByDID(ctx, "did:key:zUnknown")
		wantErr(t, err, store.ErrNotFound)
		ids, err = s.IssuerIdentities(ctx, "no-such-org")
		if err != nil || len(ids) != 0 {
			t.Errorf("IssuerIdentities(unknown org) = %v, %v; want none", ids, err)
		}
	})
}

func TestIssuerIdentityDuplicateDID(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		org := mustOrg(t, s, "acme")
		other := mustOrg(t, s, "globex")
		orig := &store.IssuerIdentity{OrganizationID: org.ID, DID: "did:key:z6MkSame", KeyURI: "software:a", KeyType: "ed25519", Cryptosuite: "eddsa-rdfc-2022", Active: true}
		if err := s.AddIssuerIdentity(ctx, orig); err != nil {
			t.Fatal(err)
		}
		err := s.AddIssuerIdentity(ctx, &store.IssuerIdentity{OrganizationID: other.ID, DID: orig.DID, KeyURI: "software:b", KeyType: "ed25519", Cryptosuite: "eddsa-rdfc-2022"})
		wantErr(t, err, store.ErrConflict)

		got, err := s.IssuerIdentityByDID(ctx, orig.DID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != orig.ID || got.OrganizationID != org.ID || got.KeyURI != "software:a" {
			t.Errorf("original identity changed: %+v", got)
		}
		ids, err := s.IssuerIdentities(ctx, other.ID)
		if err != nil || len(ids) != 0 {
			t.Errorf("IssuerIdentities(globex) = %v, %v; want none", ids, err)
		}
	})
}

func TestIssuerIdentityMissingOrganization(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		id := &store.IssuerIdentity{OrganizationID: "00000000-0000-4000-8000-000000000000", DID: "did:key:zOrphan", KeyURI: "software:x", KeyType: "ed25519", Cryptosuite: "eddsa-rdfc-2022", Active: true}
		err := s.AddIssuerIdentity(ctx, id)
		wantErr(t, err, store.ErrReference)
		_, err = s.IssuerIdentityByDID(ctx, "did:key:zOrphan")
		wantErr(t, err, store.ErrNotFound)
	})
}

func TestAdminTokens(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		org := mustOrg(t, s, "acme")
		other := mustOrg(t, s, "globex")

		tok := &store.AdminToken{OrganizationID: org.ID, Name: "ci", TokenHash: store.HashToken("secret-1"), Scopes: "issue,revoke"}
		if err := s.CreateAdminToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if tok.ID == "" || tok.CreatedAt.IsZero() {
			t.Errorf("CreateAdminToken did not fill ID and CreatedAt: %+v", tok)
		}
		tok2 := &store.AdminToken{OrganizationID: org.ID, Name: "portal", TokenHash: store.HashToken("secret-2"), Scopes: "admin", CreatedAt: tok.CreatedAt.Add(time.Second)}
		if err := s.CreateAdminToken(ctx, tok2); err != nil {
			t.Fatal(err)
		}

		got, err := s.AdminTokenByHash(ctx, store.HashToken("secret-1"))
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != tok.ID || got.OrganizationID != org.ID || got.Name != "ci" || got.Scopes != "issue,revoke" ||
			!bytes.Equal(got.TokenHash, tok.TokenHash) || !got.CreatedAt.Equal(tok.CreatedAt) || got.LastUsedAt != nil || got.RevokedAt != nil {
			t.Errorf("AdminTokenByHash = %+v, want %+v", got, tok)
		}
		if !store.TokenMatches(got.TokenHash, "secret-1") {
			t.Error("TokenMatches(stored hash, right token) = false")
		}
		_, err = s.AdminTokenByHash(ctx, store.HashToken("wrong"))
		wantErr(t, err, store.ErrNotFound)
		_, err = s.AdminTokenByHash(ctx, nil)
		wantErr(t, err, store.ErrNotFound)

		// Touch.
		before := time.Now().Add(-time.Second)
		if err := s.TouchAdminToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		got, err = s.AdminTokenByHash(ctx, tok.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastUsedAt == nil || got.LastUsedAt.Before(before) {
			t.Errorf("LastUsedAt after touch = %v", got.LastUsedAt)
		}
		wantErr(t, s.TouchAdminToken(ctx, "nope"), store.ErrNotFound)

		// List.
		toks, err := s.ListAdminTokens(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(toks) != 2 || toks[0].ID != tok.ID || toks[1].ID != tok2.ID {
			t.Errorf("ListAdminTokens = %+v, want ci then portal", toks)
		}
		toks, err = s.ListAdminTokens(ctx, other.ID)
		if err != nil || len(toks) != 0 {
			t.Errorf("ListAdminTokens(globex) = %v, %v; want none", toks, err)
		}

		// Another organization cannot revoke the token.
		wantErr(t, s.RevokeAdminToken(ctx, other.ID, tok.ID), store.ErrNotFound)
		if _, err := s.AdminTokenByHash(ctx, tok.TokenHash); err != nil {
			t.Fatalf("token gone after a revocation by another organization: %v", err)
		}
		wantErr(t, s.RevokeAdminToken(ctx, org.ID, "nope"), store.ErrNotFound)

		// Revoke: no longer found by hash, still listed with RevokedAt.
		if err := s.RevokeAdminToken(ctx, org.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.AdminTokenByHash(ctx, tok.TokenHash)
		wantErr(t, err, store.ErrNotFound)
		toks, err = s.ListAdminTokens(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if toks[0].RevokedAt == nil || toks[1].RevokedAt != nil {
			t.Fatalf("after revoking ci: RevokedAt = %v, %v", toks[0].RevokedAt, toks[1].RevokedAt)
		}
		firstRevoked := *toks[0].RevokedAt
		time.Sleep(2 * time.Millisecond)
		if err := s.RevokeAdminToken(ctx, org.ID, tok.ID); err != nil {
			t.Errorf("revoking again: %v", err)
		}
		toks, err = s.ListAdminTokens(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !toks[0].RevokedAt.Equal(firstRevoked) {
			t.Errorf("revoking again moved RevokedAt from %v to %v", firstRevoked, toks[0].RevokedAt)
		}
		if _, err := s.AdminTokenByHash(ctx, tok2.TokenHash); err != nil {
			t.Errorf("the other token stopped working: %v", err)
		}
	})
}

func TestAdminTokenConflictsAndReferences(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		org := mustOrg(t, s, "acme")
		other := mustOrg(t, s, "globex")
		tok := &store.AdminToken{OrganizationID: org.ID, Name: "ci", TokenHash: store.HashToken("secret"), Scopes: "admin"}
		if err := s.CreateAdminToken(ctx, tok); err != nil {
			t.Fatal(err)
		}

		err := s.CreateAdminToken(ctx, &store.AdminToken{OrganizationID: other.ID, Name: "dup", TokenHash: store.HashToken("secret"), Scopes: "admin"})
		wantErr(t, err, store.ErrConflict)
		err = s.CreateAdminToken(ctx, &store.AdminToken{ID: tok.ID, OrganizationID: org.ID, Name: "dup-id", TokenHash: store.HashToken("other"), Scopes: "admin"})
		wantErr(t, err, store.ErrConflict)
		got, err := s.AdminTokenByHash(ctx, store.HashToken("secret"))
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != tok.ID || got.OrganizationID != org.ID || got.Name != "ci" {
			t.Errorf("original token changed: %+v", got)
		}

		err = s.CreateAdminToken(ctx, &store.AdminToken{OrganizationID: "00000000-0000-4000-8000-000000000000", Name: "orphan", TokenHash: store.HashToken("orphan"), Scopes: "admin"})
		wantErr(t, err, store.ErrReference)
		_, err = s.AdminTokenByHash(ctx, store.HashToken("orphan"))
		wantErr(t, err, store.ErrNotFound)

		// The plaintext token is refused in place of its hash.
		if err := s.CreateAdminToken(ctx, &store.AdminToken{OrganizationID: org.ID, Name: "plain", TokenHash: []byte("secret"), Scopes: "admin"}); err == nil {
			t.Error("CreateAdminToken accepted a 6-byte token hash")
		}
	})
}

func TestTokenMatches(t *testing.T) {
	stored := store.HashToken("correct horse")
	for _, tc := range []struct {
		stored []byte
		token  string
		want   bool
	}{
		{stored, "correct horse", true},
		{stored, "correct horsE", false},
		{stored, "", false},
		{nil, "correct horse", false},
		{[]byte{}, "", false},
		{store.HashToken(""), "", false},
		{stored[:16], "correct horse", false},
	} {
		if got := store.TokenMatches(tc.stored, tc.token); got != tc.want {
			t.Errorf("TokenMatches(%x, %q) = %v, want %v", tc.stored, tc.token, got, tc.want)
		}
	}
	if h := store.HashToken("x"); len(h) != 32 || bytes.Equal(h, store.HashToken("y")) {
		t.Errorf("HashToken gives %d bytes, or the same hash for different tokens", len(h))
	}
}

func TestKeyBlobs(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		blob := []byte{0, 1, 2, 0xff, 0, 'k', 'e', 'y', 0}
		if err := s.PutKeyBlob(ctx, "software:k1", "ed25519", blob); err != nil {
			t.Fatal(err)
		}
		blob[0] = 0x42 // the store must have kept its own copy

		kt, got, err := s.GetKeyBlob(ctx, "software:k1")
		if err != nil {
			t.Fatal(err)
		}
		if kt != "ed25519" || !bytes.Equal(got, []byte{0, 1, 2, 0xff, 0, 'k', 'e', 'y', 0}) {
			t.Errorf("GetKeyBlob = %q, %x", kt, got)
		}

		err = s.PutKeyBlob(ctx, "software:k1", "p256", []byte("overwrite"))
		wantErr(t, err, store.ErrConflict)
		wantErr(t, err, keys.ErrKeyExists)
		kt, got, err = s.GetKeyBlob(ctx, "software:k1")
		if err != nil {
			t.Fatal(err)
		}
		if kt != "ed25519" || !bytes.Equal(got, []byte{0, 1, 2, 0xff, 0, 'k', 'e', 'y', 0}) {
			t.Errorf("after a refused overwrite, GetKeyBlob = %q, %x", kt, got)
		}

		_, _, err = s.GetKeyBlob(ctx, "software:missing")
		wantErr(t, err, store.ErrNotFound)
		wantErr(t, err, keys.ErrKeyNotFound)
		if err := s.PutKeyBlob(ctx, "software:empty", "ed25519", nil); err == nil {
			t.Error("PutKeyBlob accepted an empty blob")
		}

		big := bytes.Repeat([]byte{0xa5}, 64<<10)
		if err := s.PutKeyBlob(ctx, "software:big", "p384", big); err != nil {
			t.Fatal(err)
		}
		if _, got, err := s.GetKeyBlob(ctx, "software:big"); err != nil || !bytes.Equal(got, big) {
			t.Errorf("64 KiB blob did not round-trip: %v", err)
		}
	})
}
