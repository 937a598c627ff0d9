package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/agentid/agentid/internal/testvectors"
)

// runCLI runs the command line in process and returns its exit code and
// outputs.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func vectorsDir(t *testing.T) string {
	t.Helper()
	return testvectors.Dir(t)
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "agentid ") {
		t.Fatalf("version: %d %q", code, out)
	}
	code, out, _ = runCLI(t, "version", "--json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["version"] == "" || v["go"] == "" {
		t.Fatalf("version --json: %d %q", code, out)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"no-such-command"},
		{"version", "--no-such-flag"},
		{"version", "extra"},
		{"key", "generate", "--type", "ed25519"},
		{"key", "generate", "--type", "rsa", "--out", filepath.Join(dir, "k.jwk")},
		{"did", "resolve"},
		{"did", "create", "--type", "ed25519"},
		{"did", "create", "--method", "web", "--type", "ed25519", "--out", filepath.Join(dir, "w.jwk")},
		{"--log-format", "xml", "version"},
		{"serve", "--roles", "issuer,bogus", "--data", filepath.Join(dir, "data"), "--addr", "127.0.0.1:0"},
	} {
		code, _, stderr := runCLI(t, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, exitUsage, stderr)
		}
		if stderr == "" {
			t.Errorf("%v: nothing on stderr", args)
		}
	}
}

func TestKeyGenerate(t *testing.T) {
	for _, c := range []struct{ typ, prefix string }{
		{"ed25519", "did:key:z6Mk"}, {"p256", "did:key:zDn"}, {"p384", "did:key:z82"},
	} {
		t.Run(c.typ, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.typ+".jwk")
			code, out, stderr := runCLI(t, "key", "generate", "--type", c.typ, "--out", path)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			did := strings.TrimSpace(out)
			if !strings.HasPrefix(did, c.prefix) {
				t.Fatalf("did %q, want prefix %s", did, c.prefix)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
			}
			var jwk map[string]any
			raw, _ := os.ReadFile(path)
			if err := json.Unmarshal(raw, &jwk); err != nil || jwk["d"] == nil {
				t.Fatalf("key file is not a private JWK: %s", raw)
			}
			// The DID of the written key is the DID printed.
			code, out, _ = runCLI(t, "did", "create", "--key", path)
			if code != 0 || strings.TrimSpace(out) != did {
				t.Fatalf("did create --key: %d %q, want %q", code, out, did)
			}
			// Never overwrite a key file.
			code, _, stderr = runCLI(t, "key", "generate", "--type", c.typ, "--out", path)
			if code == 0 || !strings.Contains(stderr, path) {
				t.Fatalf("overwrote %s: exit %d %q", path, code, stderr)
			}
			if again, _ := os.ReadFile(path); !bytes.Equal(again, raw) {
				t.Fatal("key file changed")
			}
		})
	}
}

func TestDIDCreateJWKResolves(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.jwk")
	code, out, stderr := runCLI(t, "did", "create", "--method", "jwk", "--type", "p256", "--out", path)
	if code != 0 || !strings.HasPrefix(out, "did:jwk:") {
		t.Fatalf("did create --method jwk: %d %q %s", code, out, stderr)
	}
	did := strings.TrimSpace(out)
	code, out, stderr = runCLI(t, "did", "resolve", did)
	if code != 0 {
		t.Fatalf("resolve %s: %d %s", did, code, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc["id"] != did {
		t.Fatalf("document: %s", out)
	}
}

func TestDIDResolveErrors(t *testing.T) {
	for _, c := range []struct{ did, code string }{
		{"did:key:abc", "invalidDid"},
		{"did:key:z2DQUz8yxybcgY49o2TDENNPqPQBbVynuU6CcNCWtSMrwMx", "invalidPublicKeyLength"}, // Ed25519, 31 bytes
		{"did:example:123", "methodNotSupported"},
		{"not-a-did", "invalidDid"},
	} {
		code, out, stderr := runCLI(t, "did", "resolve", c.did)
		if code != exitFailure || out != "" || !strings.Contains(stderr, c.code) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %s on stderr", c.did, code, out, stderr, c.code)
		}
	}
}

// TestDIDResolveReproducesEveryVector resolves every DID in
// shared/vectors/did-key with the CLI and compares the printed document with
// the vector's, as JSON values. The 2022 spec vectors use older verification
// method types, which --public-key-format selects.
func TestDIDResolveReproducesEveryVector(t *testing.T) {
	dir := filepath.Join(vectorsDir(t), "did-key")
	type vector struct {
		file, did string
		doc       any
	}
	var vectors []vector
	for _, f := range []string{"ed25519-x25519.json", "nist-curves.json", "secp256k1.json", "x25519.json"} {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		// x25519.json nests its documents under "didDocument"; the others
		// key entries by DID, each with a "didDocument".
		if docs, ok := m["didDocument"]; ok {
			var byDID map[string]any
			if err := json.Unmarshal(docs, &byDID); err != nil {
				t.Fatal(err)
			}
			for did, doc := range byDID {
				vectors = append(vectors, vector{f, did, doc})
			}
			continue
		}
		for did, rawEntry := range m {
			var e struct {
				DIDDocument any `json:"didDocument"`
			}
			if err := json.Unmarshal(rawEntry, &e); err != nil {
				t.Fatal(err)
			}
			vectors = append(vectors, vector{f, did, e.DIDDocument})
		}
	}
	mk, _ := filepath.Glob(filepath.Join(dir, "multikey-documents", "*.json"))
	for _, f := range mk {
		raw, _ := os.ReadFile(f)
		var e struct {
			DID         string `json:"did"`
			DIDDocument any    `json:"didDocument"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		vectors = append(vectors, vector{filepath.Base(f), e.DID, e.DIDDocument})
	}
	sort.Slice(vectors, func(i, j int) bool { return vectors[i].file+vectors[i].did < vectors[j].file+vectors[j].did })
	if len(vectors) != 27 {
		t.Fatalf("only %d vectors found", len(vectors))
	}
	passed := 0
	for _, v := range vectors {
		args := []string{"did", "resolve", v.did}
		doc := v.doc.(map[string]any)
		vms := doc["verificationMethod"].([]any)
		format := vms[0].(map[string]any)["type"].(string)
		if format != "Multikey" {
			args = append(args, "--public-key-format", format)
		}
		if _, ok := doc["keyAgreement"]; ok && strings.HasPrefix(v.did, "did:key:z6Mk") {
			args = append(args, "--enable-encryption-key-derivation")
		}
		code, out, stderr := runCLI(t, args...)
		if code != 0 {
			t.Errorf("%s %s: exit %d: %s", v.file, v.did, code, stderr)
			continue
		}
		var got any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Errorf("%s %s: output is not JSON: %v", v.file, v.did, err)
			continue
		}
		if !reflect.DeepEqual(got, v.doc) {
			want, _ := json.MarshalIndent(v.doc, "", "  ")
			t.Errorf("%s %s (%v): document differs\n got %s\nwant %s", v.file, v.did, args[3:], out, want)
			continue
		}
		passed++
	}
	t.Logf("did:key vectors reproduced by `agentid did resolve`: %d of %d", passed, len(vectors))
	if passed != len(vectors) {
		t.Fatalf("%d of %d vectors not reproduced", len(vectors)-passed, len(vectors))
	}
}
