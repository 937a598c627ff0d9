package store_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
)

// bootstrapInput is what a starting server would pass to Bootstrap; tag makes
// DIDs and the token distinct per caller so that a race would show.
func bootstrapInput(tag string) (*store.Organization, []store.IssuerIdentity, *store.AdminToken) {
	org := &store.Organization{Slug: "default-" + tag, Name: "Default " + tag}
	ids := []store.IssuerIdentity{
		{DID: "did:key:z6Mk" + tag, KeyURI: "software:ed-" + tag, KeyType: "ed25519", Cryptosuite: "eddsa-rdfc-2022", Active: true},
		{DID: "did:key:zDna" + tag, KeyURI: "software:p-" + tag, KeyType: "p256", Cryptosuite: "ecdsa-rdfc-2019", Active: true},
	}
	tok := &store.AdminToken{Name: "bootstrap", TokenHash: store.HashToken("token-" + tag), Scopes: "admin"}
	return org, ids, tok
}

func TestBootstrap(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		org, ids, tok := bootstrapInput("a")
		created, err := s.Bootstrap(ctx, org, ids, tok)
		if err != nil || !created {
			t.Fatalf("first Bootstrap = %v, %v; want true, nil", created, err)
		}
		if org.ID == "" || !org.IsDefault || ids[0].OrganizationID != org.ID || ids[1].ID == "" || tok.OrganizationID != org.ID || tok.ID == "" {
			t.Errorf("Bootstrap did not write back what it created: org %+v, ids %+v, token %+v", org, ids, tok)
		}

		def, err := s.DefaultOrganization(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if def.ID != org.ID || def.Slug != "default-a" {
			t.Errorf("DefaultOrganization = %+v, want %+v", def, org)
		}
		got, err := s.IssuerIdentities(ctx, org.ID)
		if err != nil || len(got) != 2 {
			t.Fatalf("IssuerIdentities = %+v, %v; want 2", got, err)
		}
		if got[0].DID != ids[0].DID || got[0].KeyType != "ed25519" || got[1].DID != ids[1].DID || got[1].Cryptosuite != "ecdsa-rdfc-2019" {
			t.Errorf("IssuerIdentities = %+v, want the identities in the order given to Bootstrap", got)
		}
		gotTok, err := s.AdminTokenByHash(ctx, store.HashToken("token-a"))
		if err != nil || gotTok.OrganizationID != org.ID {
			t.Fatalf("AdminTokenByHash = %+v, %v", gotTok, err)
		}

		// Second start: nothing changes, inputs are left alone.
		org2, ids2, tok2 := bootstrapInput("b")
		created, err = s.Bootstrap(ctx, org2, ids2, tok2)
		if err != nil || created {
			t.Fatalf("second Bootstrap = %v, %v; want false, nil", created, err)
		}
		if org2.ID != "" || ids2[0].OrganizationID != "" || tok2.OrganizationID != "" {
			t.Errorf("Bootstrap that created nothing changed its inputs: %+v %+v %+v", org2, ids2, tok2)
		}
		orgs, err := s.ListOrganizations(ctx)
		if err != nil || len(orgs) != 1 {
			t.Errorf("ListOrganizations = %+v, %v; want only the first default", orgs, err)
		}
		if _, err := s.IssuerIdentityByDID(ctx, ids2[0].DID); err == nil {
			t.Error("second Bootstrap stored an identity")
		}
		if _, err := s.AdminTokenByHash(ctx, store.HashToken("token-b")); err == nil {
			t.Error("second Bootstrap stored a token")
		}

		// Without a token.
		s2org, s2ids, _ := bootstrapInput("c")
		if created, err := s.Bootstrap(ctx, s2org, s2ids, nil); err != nil || created {
			t.Errorf("Bootstrap without token on a bootstrapped store = %v, %v", created, err)
		}
	})
}

// TestBootstrapIsAtomic checks that a Bootstrap that fails half way leaves
// nothing behind: its second identity reuses a DID that exists already.
func TestBootstrapIsAtomic(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		other := mustOrg(t, s, "other")
		taken := &store.IssuerIdentity{OrganizationID: other.ID, DID: "did:key:zTaken", KeyURI: "software:t", KeyType: "ed25519", Cryptosuite: "eddsa-rdfc-2022", Active: true}
		if err := s.AddIssuerIdentity(ctx, taken); err != nil {
			t.Fatal(err)
		}

		org, ids, tok := bootstrapInput("x")
		ids[1].DID = taken.DID
		created, err := s.Bootstrap(ctx, org, ids, tok)
		if created {
			t.Fatal("Bootstrap reported success with a duplicate DID")
		}
		wantErr(t, err, store.ErrConflict)

		_, err = s.DefaultOrganization(ctx)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.OrganizationBySlug(ctx, "default-x")
		wantErr(t, err, store.ErrNotFound)
		_, err = s.IssuerIdentityByDID(ctx, ids[0].DID)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.AdminTokenByHash(ctx, tok.TokenHash)
		wantErr(t, err, store.ErrNotFound)
		got, err := s.IssuerIdentityByDID(ctx, taken.DID)
		if err != nil || got.OrganizationID != other.ID {
			t.Errorf("existing identity = %+v, %v; want it unchanged", got, err)
		}

		// The failure did not poison the store: a correct Bootstrap works.
		org, ids, tok = bootstrapInput("y")
		if created, err := s.Bootstrap(ctx, org, ids, tok); err != nil || !created {
			t.Errorf("Bootstrap after a failed one = %v, %v", created, err)
		}
	})
}

// TestBootstrapRace starts 8 "processes", each with its own connection pool
// on the same database, that all bootstrap at once. Exactly one must win.
func TestBootstrapRace(t *testing.T) {
	const racers = 8
	t.Run("separate stores", func(t *testing.T) {
		storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
			stores := make([]*store.Store, racers)
			for i := range stores {
				s, err := openQuiet(t, dbURL)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				stores[i] = s
			}
			raceBootstrap(t, stores)
		})
	})
	t.Run("one store", func(t *testing.T) {
		forEachDB(t, func(t *testing.T, s *store.Store) {
			stores := make([]*store.Store, racers)
			for i := range stores {
				stores[i] = s
			}
			raceBootstrap(t, stores)
		})
	})
}

func raceBootstrap(t *testing.T, stores []*store.Store) {
	t.Helper()
	ctx := t.Context()
	created := make([]bool, len(stores))
	errs := make([]error, len(stores))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			org, ids, tok := bootstrapInput(fmt.Sprint(i))
			<-start
			created[i], errs[i] = s.Bootstrap(ctx, org, ids, tok)
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i := range stores {
		if errs[i] != nil {
			t.Errorf("Bootstrap #%d: %v", i, errs[i])
		}
		if created[i] {
			if winner >= 0 {
				t.Errorf("Bootstrap #%d and #%d both report created", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no Bootstrap reports created")
	}

	s := stores[0]
	orgs, err := s.ListOrganizations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 1 || !orgs[0].IsDefault || orgs[0].Slug != fmt.Sprintf("default-%d", winner) {
		t.Fatalf("organizations after the race = %+v, want only default-%d", orgs, winner)
	}
	ids, err := s.IssuerIdentities(ctx, orgs[0].ID)
	if err != nil || len(ids) != 2 {
		t.Errorf("identities of the default organization = %+v, %v; want 2", ids, err)
	}
	toks, err := s.ListAdminTokens(ctx, orgs[0].ID)
	if err != nil || len(toks) != 1 {
		t.Errorf("tokens of the default organization = %+v, %v; want 1", toks, err)
	}
	for i := range stores {
		_, err := s.AdminTokenByHash(ctx, store.HashToken(fmt.Sprintf("token-%d", i)))
		if (err == nil) != (i == winner) {
			t.Errorf("token of racer %d: found = %v, winner is %d", i, err == nil, winner)
		}
	}
}
