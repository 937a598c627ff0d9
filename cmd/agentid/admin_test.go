package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/internal/testkeys"
	"github.com/agentid/agentid/issuer"
	"github.com/agentid/agentid/keys"
)

const adminTestDefaultToken = "aid_admin_test_default_0123456789abcdef"

// adminDB bootstraps the database at dbURL as a first serve would, with
// admin token token and the key-encryption key in a new file, and returns
// that file. The file's directory is new, made private (0700) by LoadKEK
// whatever the mode of the test's temporary directory.
func adminDB(t *testing.T, dbURL, token string) string {
	t.Helper()
	ctx := t.Context()
	kekFile := filepath.Join(t.TempDir(), "secrets", "kek")
	kek, _, err := keys.LoadKEK("", kekFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	km := testkeys.ManagerKEK(t, st, kek)
	if _, err := issuer.Bootstrap(ctx, st, km, issuer.BootstrapOptions{AdminToken: token}); err != nil {
		t.Fatal(err)
	}
	return kekFile
}

// adminState is everything admin commands may write: organizations, their
// identities and tokens.
func adminState(t *testing.T, dbURL string) string {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	orgs, err := st.ListOrganizations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, o := range orgs {
		fmt.Fprintf(&b, "org %s %s %s\n", o.ID, o.Slug, o.Name)
		ids, err := st.IssuerIdentities(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			fmt.Fprintf(&b, " id %s %s\n", id.DID, id.KeyURI)
		}
		toks, err := st.ListAdminTokens(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range toks {
			fmt.Fprintf(&b, " tok %s %s %s %v\n", tk.ID, tk.Name, tk.Scopes, tk.RevokedAt != nil)
		}
	}
	return b.String()
}

// serveInProcess runs 'agentid serve' in this process on a free loopback
// port and returns its URL; it stops when the test ends.
func serveInProcess(t *testing.T, args ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", addr, "--log-level", "error"}, args...), strings.NewReader(""), io.Discard, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("serve exited %d: %s", code, stderr.String())
		}
	})
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return base
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func postJSON(t *testing.T, url, token string, body any) (int, map[string]any) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", url, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return resp.StatusCode, m
}

type createdOrg struct {
	Organization struct {
		ID, Slug, Name string
		Default        bool
	}
	IssuerIdentities []struct{ DID, KeyType, Cryptosuite string }
	AdminToken       struct {
		ID     string
		Scopes []string
	}
	Token     string
	TokenFile string
}

// agentid admin create org / token, list and revoke, end to end: the
// organization's keys open with the server's key-encryption key, its tokens
// work on a server started afterwards, and only for it.
func TestAdminCreateOrgAndTokens(t *testing.T) {
	t.Setenv(keys.KEKEnv, "")
	t.Setenv("AGENTID_ADMIN_TOKEN", "")
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		ctx := t.Context()
		kekFile := adminDB(t, dbURL, adminTestDefaultToken)
		db := []string{"--database", dbURL}
		dir := t.TempDir()

		code, out, stderr := runCLI(t, append([]string{"admin", "create", "org", "acme", "--name", "Acme Corp", "--kek-file", kekFile, "--json"}, db...)...)
		if code != exitOK {
			t.Fatalf("create org: exit %d: %s", code, stderr)
		}
		var acme createdOrg
		if err := json.Unmarshal([]byte(out), &acme); err != nil {
			t.Fatalf("create org output %q: %v", out, err)
		}
		if acme.Organization.Slug != "acme" || acme.Organization.Name != "Acme Corp" || acme.Organization.Default ||
			!strings.HasPrefix(acme.Token, issuer.AdminTokenPrefix) || !slices.Equal(acme.AdminToken.Scopes, []string{"admin"}) {
			t.Fatalf("create org: %+v", acme)
		}
		if len(acme.IssuerIdentities) != 2 || acme.IssuerIdentities[0].Cryptosuite != "eddsa-rdfc-2022" || acme.IssuerIdentities[1].Cryptosuite != "ecdsa-rdfc-2019" {
			t.Fatalf("identities: %+v", acme.IssuerIdentities)
		}

		// The stored keys are encrypted under the server's KEK and are the
		// identities' keys; the token is stored only hashed.
		st, err := store.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		kek, _, err := keys.LoadKEK("", kekFile)
		if err != nil {
			t.Fatal(err)
		}
		km := testkeys.ManagerKEK(t, st, kek)
		ids, err := st.IssuerIdentities(ctx, acme.Organization.ID)
		if err != nil || len(ids) != 2 {
			t.Fatalf("identities in the database: %v %v", ids, err)
		}
		for _, id := range ids {
			signer, err := km.Load(ctx, id.KeyURI)
			if err != nil {
				t.Fatalf("load %s: %v", id.KeyURI, err)
			}
			if did, _ := didmethods.CreateKey(signer.Public()); did != id.DID {
				t.Fatalf("key of %s is %s", id.DID, did)
			}
			_, blob, err := st.GetKeyBlob(ctx, id.KeyURI)
			if err != nil {
				t.Fatalf("key blob of %s: %v", id.KeyURI, err)
			}
			if bytes.Contains(blob, []byte(`"d"`)) {
				t.Fatalf("key blob of %s looks like a plain JWK", id.DID)
			}
		}
		tok, err := st.AdminTokenByHash(ctx, store.HashToken(acme.Token))
		if err != nil || tok.OrganizationID != acme.Organization.ID || tok.ID != acme.AdminToken.ID {
			t.Fatalf("token by hash: %+v %v", tok, err)
		}
		st.Close()

		// A token with narrower scopes, to a new file.
		auditFile := filepath.Join(dir, "auditor-token")
		code, out, stderr = runCLI(t, append([]string{"admin", "create", "token", "--org", "acme", "--scope", "audit", "--scope", "credentials:read,audit",
			"--name", "auditor", "--token-file", auditFile}, db...)...)
		if code != exitOK || !strings.Contains(out, "written to "+auditFile) {
			t.Fatalf("create token: exit %d: %s%s", code, out, stderr)
		}
		fi, err := os.Stat(auditFile)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("token file: %v %v", fi, err)
		}
		raw, _ := os.ReadFile(auditFile)
		auditToken := strings.TrimSpace(string(raw))
		if !strings.HasPrefix(auditToken, issuer.AdminTokenPrefix) || strings.Contains(out, auditToken) {
			t.Fatalf("token file holds %q; stdout %q", raw, out)
		}
		// Plain text: the token alone on stdout.
		code, out, stderr = runCLI(t, append([]string{"admin", "create", "token", "--org", acme.Organization.ID, "--scope", "credentials:issue"}, db...)...)
		issueToken := strings.TrimSpace(out)
		if code != exitOK || !strings.HasPrefix(issueToken, issuer.AdminTokenPrefix) || strings.Contains(issueToken, "\n") || !strings.Contains(stderr, "not shown again") {
			t.Fatalf("create token: exit %d: %q %q", code, out, stderr)
		}

		// Listing shows ids, names and scopes, never a token or its hash.
		code, out, stderr = runCLI(t, append([]string{"admin", "list", "tokens", "--org", "acme", "--json"}, db...)...)
		var listed struct {
			Tokens []struct {
				ID, Name string
				Scopes   []string
				Created  time.Time
				LastUsed *time.Time
				Revoked  *time.Time
			}
		}
		if code != exitOK || json.Unmarshal([]byte(out), &listed) != nil || len(listed.Tokens) != 3 {
			t.Fatalf("list tokens: exit %d: %s%s", code, out, stderr)
		}
		if l := listed.Tokens[1]; l.Name != "auditor" || !slices.Equal(l.Scopes, []string{"audit", "credentials:read"}) || l.Created.IsZero() || l.LastUsed != nil {
			t.Fatalf("auditor token listed as %+v", l)
		}
		for _, secret := range []string{acme.Token, auditToken, issueToken, "token_hash", "tokenHash"} {
			if strings.Contains(out, secret) {
				t.Fatalf("list tokens shows %q", secret)
			}
		}
		code, out, _ = runCLI(t, append([]string{"admin", "list", "tokens", "--org", "acme"}, db...)...)
		if code != exitOK || !strings.Contains(out, "auditor") || !strings.Contains(out, "audit,credentials:read") || strings.Contains(out, auditToken) {
			t.Fatalf("list tokens text: %d %s", code, out)
		}
		code, out, _ = runCLI(t, append([]string{"admin", "list", "orgs"}, db...)...)
		if code != exitOK || !strings.Contains(out, "acme") || !strings.Contains(out, "Acme Corp") || !strings.Contains(out, issuer.DefaultOrganizationSlug) {
			t.Fatalf("list orgs: %d %s", code, out)
		}

		// A server started on the database takes the new tokens, each for
		// its organization and scopes; acme's keys sign.
		base := serveInProcess(t, "--database", dbURL, "--data", filepath.Join(dir, "data"), "--kek-file", kekFile)
		status, org := getJSON(t, base+"/admin/organization", acme.Token)
		if status != 200 || org["slug"] != "acme" || org["id"] != acme.Organization.ID || org["tokenId"] != acme.AdminToken.ID {
			t.Fatalf("GET /admin/organization with acme's token: %d %v", status, org)
		}
		if ids := org["issuerIdentities"].([]any); len(ids) != 2 || ids[0].(map[string]any)["did"] != acme.IssuerIdentities[0].DID {
			t.Fatalf("acme's identities: %v", ids)
		}
		if status, org := getJSON(t, base+"/admin/organization", adminTestDefaultToken); status != 200 || org["slug"] != issuer.DefaultOrganizationSlug {
			t.Fatalf("default org: %d %v", status, org)
		}
		for _, s := range acme.IssuerIdentities {
			status, body := postJSON(t, base+"/credentials/issue", acme.Token, map[string]any{"credential": map[string]any{
				"@context": []any{"https://www.w3.org/ns/credentials/v2"}, "type": []any{"VerifiableCredential"},
				"issuer": s.DID, "credentialSubject": map[string]any{"id": "did:example:subject"},
			}})
			if status != 201 {
				t.Fatalf("issue as %s: %d %v", s.DID, status, body)
			}
		}
		if status, body := getJSON(t, base+"/audit", auditToken); status != 200 {
			t.Fatalf("GET /audit with the audit token: %d %v", status, body)
		}
		if status, body := postJSON(t, base+"/credentials/issue", auditToken, map[string]any{"credential": map[string]any{}}); status != 403 {
			t.Fatalf("issue with the audit token: %d %v", status, body)
		}
		if status, body := getJSON(t, base+"/credentials", issueToken); status != 403 {
			t.Fatalf("list credentials with the issue-only token: %d %v", status, body)
		}
		if status, body := getJSON(t, base+"/credentials", auditToken); status != 200 || len(body["credentials"].([]any)) != 2 {
			t.Fatalf("list credentials with credentials:read: %d %v", status, body)
		}

		// Revoked, the token stops working at once; last use was recorded.
		code, out, _ = runCLI(t, append([]string{"admin", "list", "tokens", "--org", "acme", "--json"}, db...)...)
		if code != exitOK || json.Unmarshal([]byte(out), &listed) != nil || listed.Tokens[0].LastUsed == nil {
			t.Fatalf("last use not recorded: %s", out)
		}
		code, out, stderr = runCLI(t, append([]string{"admin", "revoke", "token", "--org", "acme", acme.AdminToken.ID}, db...)...)
		if code != exitOK || !strings.Contains(out, "revoked") {
			t.Fatalf("revoke: %d %s%s", code, out, stderr)
		}
		if status, _ := getJSON(t, base+"/admin/organization", acme.Token); status != 401 {
			t.Fatalf("revoked token: %d", status)
		}
		if status, _ := getJSON(t, base+"/audit", auditToken); status != 200 {
			t.Fatalf("the other token of acme stopped working: %d", status)
		}
		code, out, _ = runCLI(t, append([]string{"admin", "list", "tokens", "--org", "acme", "--json"}, db...)...)
		if code != exitOK || json.Unmarshal([]byte(out), &listed) != nil || listed.Tokens[0].Revoked == nil || listed.Tokens[1].Revoked != nil {
			t.Fatalf("revocation not listed: %s", out)
		}
	})
}

// Bad input exits 2 and writes nothing: not to the database, not to a
// token file.
func TestAdminBadInput(t *testing.T) {
	t.Setenv(keys.KEKEnv, "")
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		kekFile := adminDB(t, dbURL, adminTestDefaultToken)
		dir := t.TempDir()
		code, out, stderr := runCLI(t, "admin", "create", "org", "acme", "--database", dbURL, "--kek-file", kekFile, "--json")
		var acme createdOrg
		if code != exitOK || json.Unmarshal([]byte(out), &acme) != nil {
			t.Fatalf("create org: %d %s", code, stderr)
		}
		otherKEK := filepath.Join(dir, "other", "kek")
		if _, _, err := keys.LoadKEK("", otherKEK); err != nil {
			t.Fatal(err)
		}
		existing := filepath.Join(dir, "existing")
		if err := os.WriteFile(existing, []byte("keep me\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		before := adminState(t, dbURL)
		newFile := filepath.Join(dir, "never-written")

		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"create", "org", "acme", "--kek-file", kekFile, "--token-file", newFile}, "exists"},
			{[]string{"create", "org", issuer.DefaultOrganizationSlug, "--kek-file", kekFile}, "exists"},
			{[]string{"create", "org", "Acme", "--kek-file", kekFile}, "lowercase"},
			{[]string{"create", "org", "a_b", "--kek-file", kekFile}, "lowercase"},
			{[]string{"create", "org", "acmé", "--kek-file", kekFile}, "lowercase"},
			{[]string{"create", "org", "-acme", "--kek-file", kekFile}, ""},
			{[]string{"create", "org", "acme-", "--kek-file", kekFile}, "start and end"},
			{[]string{"create", "org", "", "--kek-file", kekFile}, "1 to 63"},
			{[]string{"create", "org", strings.Repeat("a", 64), "--kek-file", kekFile}, "1 to 63"},
			{[]string{"create", "org", "globex", "--kek-file", filepath.Join(dir, "no-kek")}, "key-encryption key"},
			{[]string{"create", "org", "globex", "--kek-file", otherKEK, "--token-file", newFile}, "does not open"},
			{[]string{"create", "org", "globex", "--kek-file", kekFile, "--token-file", existing}, "never overwritten"},
			{[]string{"create", "org", "globex", "--kek-file", kekFile, "--token-file", filepath.Join(dir, "no-dir", "tok")}, "token-file"},
			{[]string{"create", "org"}, "arg"},
			{[]string{"create", "token", "--org", "acme", "--scope", "root", "--token-file", newFile}, "unknown scope"},
			{[]string{"create", "token", "--org", "acme", "--scope", "admin", "--scope", "Admin"}, "unknown scope"},
			{[]string{"create", "token", "--org", "acme", "--scope", ""}, "scope"},
			{[]string{"create", "token", "--org", "globex", "--token-file", newFile}, "no such organization"},
			{[]string{"create", "token"}, "--org is required"},
			{[]string{"create", "token", "--org", "acme", "--token-file", existing}, "never overwritten"},
			{[]string{"list", "tokens", "--org", "globex"}, "no such organization"},
			{[]string{"revoke", "token", "--org", "acme", "nosuchid"}, "no admin token"},
			{[]string{"revoke", "token", "--org", "globex", acme.AdminToken.ID}, "no such organization"},
			{[]string{"revoke", "token", "--org", "acme"}, "arg"},
		} {
			args := append(append([]string{"admin"}, c.args...), "--database", dbURL)
			code, out, stderr := runCLI(t, args...)
			if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Contains(out, issuer.AdminTokenPrefix) {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, out, stderr, c.want)
			}
		}

		// Another organization's token cannot be revoked through acme.
		st, err := store.Open(t.Context(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		def, err := st.DefaultOrganization(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		toks, _ := st.ListAdminTokens(t.Context(), def.ID)
		st.Close()
		if code, _, stderr := runCLI(t, "admin", "revoke", "token", "--org", "acme", toks[0].ID, "--database", dbURL); code != exitUsage {
			t.Errorf("revoking the default organization's token as acme: exit %d %s", code, stderr)
		}

		if after := adminState(t, dbURL); after != before {
			t.Fatalf("bad input changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if _, err := os.Stat(newFile); err == nil {
			t.Fatal("a refused command left a token file")
		}
		if raw, _ := os.ReadFile(existing); string(raw) != "keep me\n" {
			t.Fatalf("an existing file was overwritten: %q", raw)
		}
		// No database: exit 2, and none is created.
		empty := filepath.Join(dir, "empty")
		if code, _, _ := runCLI(t, "admin", "list", "orgs", "--data", empty); code != exitUsage {
			t.Fatalf("list orgs without a database: exit %d", code)
		}
		if _, err := os.Stat(filepath.Join(empty, "agentid.db")); err == nil {
			t.Fatal("a database was created")
		}
	})
}
