package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys/attest"
	"github.com/agentid/agentid/keys/tpm/tpmtest"
)

// TestTPMVerify runs `agentid tpm verify` on evidence from the simulator,
// with its EK certificate from a test CA in a roots directory.
func TestTPMVerify(t *testing.T) {
	ctx := context.Background()
	tp := tpmtest.Simulator(t)
	ca, caKey := tpmtest.NewTestCA(t)
	tpmtest.ProvisionEKCertificate(t, tp, ca, caKey)
	roots := t.TempDir()
	_ = os.WriteFile(filepath.Join(roots, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o644)

	key, err := tp.CreateKey(ctx, "cli-verify")
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	nonce := []byte("0123456789abcdef0123456789abcdef")
	att, err := tp.Attest(ctx, key, nonce)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(att.Evidence)
	file := filepath.Join(t.TempDir(), "evidence.json")
	_ = os.WriteFile(file, doc, 0o644)
	did, _ := didmethods.CreateKey(key.Public())
	b64 := base64.RawURLEncoding.EncodeToString(nonce)

	code, out, stderr := runCLI(t, "tpm", "verify", "--roots", roots, "--nonce", b64, file)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, stderr)
	}
	var res tpmVerifyResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.Activated || res.DID != did || res.Facts == nil || res.Facts.Method != attest.MethodEKCertificate || res.Facts.Manufacturer == "" {
		t.Fatalf("result %s", out)
	}

	// By EK hash, with the claimed did:key.
	code, out, _ = runCLI(t, "tpm", "verify", "--ek-allow", res.Facts.EKPublicKeySHA256, "--did", did, "--nonce", b64, file)
	if code != 0 || !strings.Contains(out, `"ek-allowlist"`) {
		t.Fatalf("allowlist: exit %d: %s", code, out)
	}

	// Not verified: exit 1, with the reason in the JSON.
	other := base64.RawURLEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	code, out, _ = runCLI(t, "tpm", "verify", "--roots", roots, "--nonce", other, file)
	if code != 1 || !strings.Contains(out, `"verified": false`) || !strings.Contains(out, attest.ErrNonceMismatch.Error()) {
		t.Fatalf("wrong nonce: exit %d: %s", code, out)
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherDID, _ := didmethods.CreateKey(&otherKey.PublicKey)
	if code, out, _ = runCLI(t, "tpm", "verify", "--roots", roots, "--did", otherDID, "--nonce", b64, file); code != 1 {
		t.Fatalf("other did: exit %d: %s", code, out)
	}

	// Bad input: exit 2.
	for _, args := range [][]string{
		{"tpm", "verify", "--nonce", b64, file},                                   // no trust anchors
		{"tpm", "verify", "--roots", roots, file},                                 // no nonce
		{"tpm", "verify", "--roots", roots, "--nonce", "!!", file},                // nonce not base64
		{"tpm", "verify", "--roots", t.TempDir(), "--nonce", b64, file},           // empty roots
		{"tpm", "verify", "--ek-allow", "abc", "--nonce", b64, file},              // bad hash
		{"tpm", "verify", "--roots", roots, "--nonce", b64, filepath.Join(roots)}, // not evidence
	} {
		if code, _, stderr := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, stderr)
		}
	}
}
