package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
)

// openAtVersion opens the database at dbURL migrated only up to version n,
// as a release before migration n+1 left it.
func openAtVersion(t *testing.T, dbURL string, n int) *store.Store {
	t.Helper()
	restore := store.LimitMigrations(n)
	old, err := openQuiet(t, dbURL)
	restore()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := old.SchemaVersion(context.Background()); err != nil || v != n {
		t.Fatalf("schema version %d, %v; want %d", v, err, n)
	}
	return old
}

// reopenMigrated closes old and opens its database again, migrated to the
// latest version; the store is closed when the test ends.
func reopenMigrated(t *testing.T, old *store.Store, dbURL string) *store.Store {
	t.Helper()
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := openQuiet(t, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Migration 7 keeps the identities written before it: each becomes a
// did:key-style identity (empty KeyID) with its state and times.
func TestIdentityRotationMigrationKeepsIdentities(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		old := openAtVersion(t, dbURL, 6)
		org := mustOrg(t, old, "acme")
		created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		for i, row := range []struct {
			id, did, kt string
			active      bool
		}{{"i1", "did:key:z6Mkold", "ed25519", false}, {"i2", "did:key:zDnaeold", "p256", true}} {
			var retired any
			if !row.active {
				retired = created.Add(time.Hour)
			}
			if err := store.Exec(ctx, old, `INSERT INTO issuer_identities
				(id, organization_id, did, key_uri, key_type, cryptosuite, active, created_at, retired_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				row.id, org.ID, row.did, "software:k"+row.id, row.kt, "suite", row.active, created.Add(time.Duration(i)*time.Second), retired); err != nil {
				t.Fatal(err)
			}
		}
		s := reopenMigrated(t, old, dbURL)
		if v, err := s.SchemaVersion(ctx); err != nil || v != store.NumMigrations {
			t.Fatalf("schema version %d, %v; want %d", v, err, store.NumMigrations)
		}
		ids, err := s.IssuerIdentities(ctx, org.ID)
		if err != nil || len(ids) != 2 {
			t.Fatalf("identities after migration: %+v, %v", ids, err)
		}
		if ids[0].ID != "i1" || ids[0].KeyID != "" || ids[0].Active || ids[0].RetiredAt == nil || !ids[0].RetiredAt.Equal(created.Add(time.Hour)) ||
			ids[0].State() != store.IdentityRetired || ids[0].KeyURI != "software:ki1" || !ids[0].CreatedAt.Equal(created) {
			t.Errorf("retired identity after migration: %+v", ids[0])
		}
		if ids[1].ID != "i2" || !ids[1].Active || ids[1].RetiredAt != nil || ids[1].State() != store.IdentityActive {
			t.Errorf("active identity after migration: %+v", ids[1])
		}
		// The uniqueness rules of the new schema hold for the old rows.
		wantErr(t, s.AddIssuerIdentity(ctx, &store.IssuerIdentity{OrganizationID: org.ID, DID: "did:key:z6Mkold",
			KeyURI: "software:x", KeyType: "ed25519", Cryptosuite: "suite"}), store.ErrConflict)
	})
}

// A did:web has several keys (rows) under one DID, told apart by KeyID; at
// most one active key of each type; retiring is conditional and scoped to
// the organization.
func TestIssuerIdentityKeysAndRetirement(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := mustOrg(t, s, "acme"), mustOrg(t, s, "globex")
		const did = "did:web:issuer.example.com"
		base := time.Now().UTC().Truncate(time.Millisecond)
		add := func(org *store.Organization, keyID, kt string, at int) (*store.IssuerIdentity, error) {
			id := &store.IssuerIdentity{OrganizationID: org.ID, DID: did, KeyID: keyID, KeyURI: "software:" + keyID,
				KeyType: kt, Cryptosuite: "suite", Active: true, CreatedAt: base.Add(time.Duration(at) * time.Millisecond)}
			return id, s.AddIssuerIdentity(ctx, id)
		}
		k1, err := add(a, "key-1", "ed25519", 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := add(a, "key-2", "p256", 2); err != nil {
			t.Fatal(err)
		}
		_, err = add(a, "key-1", "p384", 3)
		wantErr(t, err, store.ErrConflict) // (did, key_id) is unique
		_, err = add(a, "key-3", "ed25519", 3)
		wantErr(t, err, store.ErrConflict) // one active ed25519 key per DID

		wantErr(t, s.RetireIssuerIdentity(ctx, b.ID, k1.ID, base), store.ErrNotFound)
		wantErr(t, s.RetireIssuerIdentity(ctx, a.ID, "no-such-id", base), store.ErrNotFound)
		if err := s.RetireIssuerIdentity(ctx, a.ID, k1.ID, base.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		wantErr(t, s.RetireIssuerIdentity(ctx, a.ID, k1.ID, base.Add(2*time.Second)), store.ErrConflict)
		k3, err := add(a, "key-3", "ed25519", 4)
		if err != nil {
			t.Fatal(err)
		}

		all, err := s.IssuerIdentitiesByDID(ctx, did)
		if err != nil || len(all) != 3 {
			t.Fatalf("IssuerIdentitiesByDID: %d, %v", len(all), err)
		}
		for i, want := range []struct {
			keyID, state string
		}{{"key-1", store.IdentityRetired}, {"key-2", store.IdentityActive}, {"key-3", store.IdentityActive}} {
			if all[i].KeyID != want.keyID || all[i].State() != want.state {
				t.Errorf("key %d: %s %s, want %s %s", i, all[i].KeyID, all[i].State(), want.keyID, want.state)
			}
		}
		if all[0].RetiredAt == nil || !all[0].RetiredAt.Equal(base.Add(time.Second)) {
			t.Errorf("retired at %v, want %v", all[0].RetiredAt, base.Add(time.Second))
		}
		got, err := s.IssuerIdentityByDID(ctx, did)
		if err != nil || got.ID != k3.ID {
			t.Fatalf("IssuerIdentityByDID = %+v, %v; want the newest active key", got, err)
		}
		if none, err := s.IssuerIdentitiesByDID(ctx, "did:web:nobody.example"); err != nil || len(none) != 0 {
			t.Fatalf("unknown DID: %v, %v", none, err)
		}
	})
}
