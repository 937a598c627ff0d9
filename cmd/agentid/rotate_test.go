package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/keys"
)

const rotateTestToken = "aid_rotate_test_0123456789abcdef"

// agentid admin rotate-key rotates on the database: the old did:key is
// retired, a new one is active, and with an https public URL the
// organization's did:web gets the new key as #key-3. Bad input exits 2 and
// changes nothing.
func TestAdminRotateKey(t *testing.T) {
	t.Setenv(keys.KEKEnv, "")
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		ctx := t.Context()
		kekFile := adminDB(t, dbURL, rotateTestToken)
		db := []string{"--database", dbURL, "--kek-file", kekFile}

		before := adminState(t, dbURL)
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--org", "default", "--type", "rsa"}, "ed25519 or p256"},
			{[]string{"--org", "default"}, "--type is required"},
			{[]string{"--type", "ed25519"}, "--org"},
			{[]string{"--org", "nope", "--type", "ed25519"}, "no such organization"},
			{[]string{"--org", "default", "--type", "ed25519", "--public-url", "ftp://x"}, "public-url"},
			{[]string{"--org", "default", "--type", "ed25519", "--kek-file", filepath.Join(t.TempDir(), "none")}, "key-encryption key"},
		} {
			args := append(append([]string{"admin", "rotate-key"}, db...), c.args...)
			code, _, stderr := runCLI(t, args...)
			if code != exitUsage || !strings.Contains(stderr, c.want) {
				t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
			}
		}
		if after := adminState(t, dbURL); after != before {
			t.Fatalf("bad input changed the database:\n%s\n→\n%s", before, after)
		}

		args := append(append([]string{"admin", "rotate-key", "--json"}, db...),
			"--org", "default", "--type", "ed25519", "--public-url", "https://issuer.example.com:8443")
		code, out, stderr := runCLI(t, args...)
		if code != exitOK {
			t.Fatalf("rotate-key: exit %d: %s", code, stderr)
		}
		var res struct {
			Retired, Added []struct {
				DID, VerificationMethod, KeyType, State string
			}
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		// did:key, did:web and did:web:…:orgs:default, each retired and
		// replaced.
		if len(res.Retired) != 3 || len(res.Added) != 3 {
			t.Fatalf("rotate-key: %s", out)
		}
		for _, id := range res.Added {
			if id.State != "active" || id.KeyType != "ed25519" {
				t.Errorf("added %+v", id)
			}
			if strings.HasPrefix(id.DID, "did:web:issuer.example.com%3A8443") && !strings.HasSuffix(id.VerificationMethod, "#key-3") {
				t.Errorf("new did:web key %s, want #key-3", id.VerificationMethod)
			}
		}

		st, err := store.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		org, err := st.DefaultOrganization(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := st.IssuerIdentities(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		retired := 0
		for _, id := range ids {
			if !id.Active {
				retired++
				if id.KeyType != "ed25519" || id.RetiredAt == nil {
					t.Errorf("retired %+v", id)
				}
			}
		}
		if retired != 3 || len(ids) != 2+4+3 {
			t.Fatalf("%d identities, %d retired; want 9 and 3", len(ids), retired)
		}
	})
}

// A database served before without https gets its did:web identities when
// serve starts with an https --public-url: the documents are served, and a
// rotation over the API shows in them.
func TestServeAddsDIDWebIdentities(t *testing.T) {
	t.Setenv(keys.KEKEnv, "")
	t.Setenv("AGENTID_ADMIN_TOKEN", "")
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		kekFile := adminDB(t, dbURL, rotateTestToken)
		data := t.TempDir()
		if err := os.Chmod(data, 0o700); err != nil {
			t.Fatal(err)
		}
		base := serveInProcess(t, "--database", dbURL, "--kek-file", kekFile, "--data", data, "--public-url", "https://issuer.example.com")
		doc := func(path string) map[string]any {
			t.Helper()
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/did+json" {
				t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			var m map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		root := doc("/.well-known/did.json")
		if root["id"] != "did:web:issuer.example.com" || len(root["assertionMethod"].([]any)) != 2 {
			t.Fatalf("root document: %v", root)
		}
		if d := doc("/orgs/default/did.json"); d["id"] != "did:web:issuer.example.com:orgs:default" {
			t.Fatalf("organization document: %v", d)
		}
		code, body := postJSON(t, base+"/admin/organization/keys/rotate", rotateTestToken, map[string]any{"type": "p256"})
		if code != http.StatusOK {
			t.Fatalf("rotate: %d %v", code, body)
		}
		if am := doc("/.well-known/did.json")["assertionMethod"].([]any); len(am) != 3 || am[2] != "did:web:issuer.example.com#key-3" {
			t.Fatalf("assertionMethod after rotation: %v", am)
		}
	})
}
