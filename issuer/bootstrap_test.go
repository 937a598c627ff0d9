package issuer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/internal/testkeys"
	"github.com/agentid/agentid/keys"
)

func TestBootstrapCreatesDefaultOrganization(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		km := testkeys.Manager(t, st)
		tokenFile := filepath.Join(t.TempDir(), "data", "admin-token")
		res, err := Bootstrap(ctx, st, km, BootstrapOptions{TokenFile: tokenFile})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Created || res.Organization.Slug != DefaultOrganizationSlug || !res.Organization.IsDefault {
			t.Fatalf("result %+v", res)
		}
		if res.TokenFile != tokenFile {
			t.Fatalf("token file %q", res.TokenFile)
		}
		fi, err := os.Stat(tokenFile)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("token file: %v %v", fi, err)
		}
		raw, _ := os.ReadFile(tokenFile)
		token := strings.TrimSpace(string(raw))
		if !strings.HasPrefix(token, AdminTokenPrefix) || len(token) < 40 {
			t.Fatalf("token %q", token)
		}
		tok, err := st.AdminTokenByHash(ctx, store.HashToken(token))
		if err != nil || tok.OrganizationID != res.Organization.ID {
			t.Fatalf("stored token: %+v %v", tok, err)
		}
		// No temporary files are left beside the token.
		entries, _ := os.ReadDir(filepath.Dir(tokenFile))
		if len(entries) != 1 {
			t.Fatalf("files beside the token: %v", entries)
		}

		// Two identities whose keys are in the key manager, whose DIDs are
		// the did:key of those keys, and which sign verifiably.
		ids, err := st.IssuerIdentities(ctx, res.Organization.ID)
		if err != nil || len(ids) != 2 {
			t.Fatalf("identities %v %v", ids, err)
		}
		suites := map[string]keys.KeyType{"eddsa-rdfc-2022": keys.Ed25519, "ecdsa-rdfc-2019": keys.P256}
		for _, id := range ids {
			want, ok := suites[id.Cryptosuite]
			if !ok || id.KeyType != string(want) || !id.Active {
				t.Fatalf("identity %+v", id)
			}
			delete(suites, id.Cryptosuite)
			signer, err := km.Load(ctx, id.KeyURI)
			if err != nil {
				t.Fatal(err)
			}
			did, _ := didmethods.CreateKey(signer.Public())
			if did != id.DID {
				t.Fatalf("identity DID %s, key's did:key %s", id.DID, did)
			}
			sig, err := signer.Sign(ctx, []byte("hello"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := didmethods.NewDefaultRegistry().Resolve(ctx, id.DID, didmethods.ResolveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			vm := res.Document.VerificationMethod[0]
			pub, err := vm.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			if err := keys.Verify(pub, signer.Algorithm(), []byte("hello"), sig); err != nil {
				t.Fatalf("signature by %s does not verify with its resolved DID: %v", id.DID, err)
			}
		}

		// A second start changes nothing and writes no token.
		if err := os.Remove(tokenFile); err != nil {
			t.Fatal(err)
		}
		again, err := Bootstrap(ctx, st, km, BootstrapOptions{TokenFile: tokenFile})
		if err != nil || again.Created || again.Organization.ID != res.Organization.ID || len(again.Identities) != 2 {
			t.Fatalf("second bootstrap: %+v %v", again, err)
		}
		if _, err := os.Stat(tokenFile); !os.IsNotExist(err) {
			t.Fatal("second bootstrap wrote a token file")
		}
	})
}

func TestBootstrapWithTokenFromEnvironment(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		tokenFile := filepath.Join(t.TempDir(), "admin-token")
		res, err := Bootstrap(ctx, st, testkeys.Manager(t, st), BootstrapOptions{AdminToken: "chosen-token-0123456789", TokenFile: tokenFile})
		if err != nil || !res.Created || res.TokenFile != "" {
			t.Fatalf("%+v %v", res, err)
		}
		if _, err := os.Stat(tokenFile); !os.IsNotExist(err) {
			t.Fatal("a token file was written for a chosen token")
		}
		if _, err := st.AdminTokenByHash(ctx, store.HashToken("chosen-token-0123456789")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBootstrapRaceCreatesOneOrganization(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		km := testkeys.Manager(t, st)
		dir := t.TempDir()
		const n = 6
		var wg sync.WaitGroup
		results := make([]*BootstrapResult, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = Bootstrap(ctx, st, km, BootstrapOptions{TokenFile: filepath.Join(dir, "t", string(rune('a'+i)))})
			}()
		}
		wg.Wait()
		created := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("racer %d: %v", i, errs[i])
			}
			if results[i].Created {
				created++
			}
			if len(results[i].Identities) != 2 {
				t.Fatalf("racer %d sees %d identities", i, len(results[i].Identities))
			}
		}
		if created != 1 {
			t.Fatalf("%d racers created the organization", created)
		}
		orgs, _ := st.ListOrganizations(ctx)
		if len(orgs) != 1 {
			t.Fatalf("%d organizations", len(orgs))
		}
		// Only the winner handed out a token.
		files, _ := os.ReadDir(filepath.Join(dir, "t"))
		if len(files) != 1 {
			t.Fatalf("token files: %v", files)
		}
	})
}

func TestBootstrapNeedsATokenFileForAGeneratedToken(t *testing.T) {
	st := storetest.SQLite(t)
	if _, err := Bootstrap(context.Background(), st, testkeys.Manager(t, st), BootstrapOptions{}); err == nil {
		t.Fatal("bootstrap generated a token it could not hand out")
	}
	if _, err := st.DefaultOrganization(context.Background()); err == nil {
		t.Fatal("an organization was created although the token could not be handed out")
	}
}
