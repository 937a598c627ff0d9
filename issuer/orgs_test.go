package issuer

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/internal/testkeys"
)

func TestValidSlug(t *testing.T) {
	for _, s := range []string{"a", "acme", "acme-corp", "a1", "9lives", strings.Repeat("a", 63)} {
		if err := ValidSlug(s); err != nil {
			t.Errorf("ValidSlug(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "Acme", "a_b", "a.b", "a b", "acmé", "-a", "a-", "-", strings.Repeat("a", 64), "a/b", "a%2f"} {
		if err := ValidSlug(s); err == nil {
			t.Errorf("ValidSlug(%q) accepted", s)
		}
	}
}

func TestValidScopes(t *testing.T) {
	got, err := ValidScopes([]string{"audit", " credentials:read", "audit"})
	if err != nil || strings.Join(got, ",") != "audit,credentials:read" {
		t.Fatalf("ValidScopes: %v %v", got, err)
	}
	for _, bad := range [][]string{nil, {}, {""}, {"Admin"}, {"admin", "root"}, {"credentials:*"}} {
		if _, err := ValidScopes(bad); err == nil {
			t.Errorf("ValidScopes(%q) accepted", bad)
		}
	}
}

// Several creators of one slug at once: exactly one organization, with its
// two identities and one token; the others are told the slug is taken.
func TestCreateOrganizationConcurrently(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		km := testkeys.Manager(t, st)
		const n = 6
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			made []*NewOrganization
			errs []error
		)
		for range n {
			wg.Go(func() {
				res, err := CreateOrganization(ctx, st, km, OrganizationOptions{Slug: "acme", Name: "Acme"})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				made = append(made, res)
			})
		}
		wg.Wait()
		if len(made) != 1 {
			t.Fatalf("%d organizations made; errors %v", len(made), errs)
		}
		for _, err := range errs {
			if !errors.Is(err, ErrOrganizationExists) {
				t.Fatalf("error %v, want ErrOrganizationExists", err)
			}
		}
		org, err := st.OrganizationBySlug(ctx, "acme")
		if err != nil || org.ID != made[0].Organization.ID || org.IsDefault || org.Name != "Acme" {
			t.Fatalf("stored %+v %v", org, err)
		}
		ids, _ := st.IssuerIdentities(ctx, org.ID)
		toks, _ := st.ListAdminTokens(ctx, org.ID)
		if len(ids) != 2 || len(toks) != 1 || toks[0].Scopes != ScopeAdmin {
			t.Fatalf("%d identities, tokens %+v", len(ids), toks)
		}
		tok, err := st.AdminTokenByHash(ctx, store.HashToken(made[0].Token))
		if err != nil || tok.OrganizationID != org.ID {
			t.Fatalf("token: %+v %v", tok, err)
		}

		// Bad slugs and scopes are refused before anything is made.
		if _, err := CreateOrganization(ctx, st, km, OrganizationOptions{Slug: "Bad_Slug"}); !errors.Is(err, ErrInvalidOrganization) {
			t.Fatalf("bad slug: %v", err)
		}
		if _, _, err := CreateAdminToken(ctx, st, org.ID, TokenOptions{Scopes: []string{"root"}}); !errors.Is(err, ErrInvalidOrganization) {
			t.Fatalf("bad scope: %v", err)
		}
		if _, _, err := CreateAdminToken(ctx, st, "no-such-org", TokenOptions{Scopes: []string{ScopeAudit}}); err == nil {
			t.Fatal("a token of no organization was made")
		}
		if toks, _ := st.ListAdminTokens(ctx, org.ID); len(toks) != 1 {
			t.Fatalf("%d tokens", len(toks))
		}
	})
}
