package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/agentid/agentid/keys/attest"
	"github.com/agentid/agentid/keys/tpm/tpmtest"
)

func TestTPMKeyGenerateAndEvidence(t *testing.T) {
	for _, dev := range []struct {
		name string
		uri  func(t *testing.T) string
	}{
		{"sim", func(t *testing.T) string { tpmtest.Simulator(t); return "sim" }},
		{"swtpm", func(t *testing.T) string { return tpmtest.Swtpm(t) }},
	} {
		t.Run(dev.name, func(t *testing.T) {
			uri := dev.uri(t)
			dir := filepath.Join(t.TempDir(), "keys")
			code, out, stderr := runCLI(t, "key", "generate", "--tpm", uri, "--key-dir", dir, "--name", "bot")
			if code != exitOK {
				t.Fatalf("key generate --tpm: exit %d: %s", code, stderr)
			}
			did := strings.TrimSpace(out)
			if !strings.HasPrefix(did, "did:key:zDn") {
				t.Fatalf("did %q", did)
			}
			entries, err := os.ReadDir(dir)
			if err != nil || len(entries) != 1 {
				t.Fatalf("key dir: %v %v", entries, err)
			}
			if info, _ := entries[0].Info(); info.Mode().Perm() != 0o600 {
				t.Errorf("blob mode %v", info.Mode())
			}
			if code, _, _ := runCLI(t, "key", "generate", "--tpm", uri, "--key-dir", dir, "--name", "bot"); code != exitUsage {
				t.Errorf("second generate of the same name: exit %d", code)
			}

			nonce := []byte("issuer nonce 0123456789")
			code, out, stderr = runCLI(t, "tpm", "evidence", "--tpm", uri, "--key-dir", dir, "--key", "bot",
				"--nonce", base64.RawURLEncoding.EncodeToString(nonce))
			if code != exitOK {
				t.Fatalf("tpm evidence: exit %d: %s", code, stderr)
			}
			ev, err := attest.ParseEvidence([]byte(out))
			if err != nil {
				t.Fatalf("evidence: %v\n%s", err, out)
			}
			info, err := tpm2.Unmarshal[tpm2.TPMSAttest](ev.CertifyInfo)
			if err != nil || string(info.ExtraData.Buffer) != string(nonce) {
				t.Fatalf("certify info: %v", err)
			}
			var raw map[string]any
			if err := json.Unmarshal([]byte(out), &raw); err != nil || raw["version"] != float64(1) {
				t.Errorf("JSON %v %v", raw, err)
			}

			for _, args := range [][]string{
				{"tpm", "evidence", "--tpm", uri, "--key-dir", dir, "--key", "bot"},
				{"tpm", "evidence", "--tpm", uri, "--key-dir", dir, "--key", "bot", "--nonce", "%%%"},
				{"tpm", "evidence", "--tpm", uri, "--key-dir", dir, "--key", "bot", "--nonce", base64.RawURLEncoding.EncodeToString(make([]byte, 33))},
				{"tpm", "evidence", "--tpm", uri, "--key-dir", dir, "--key", "nobody", "--nonce", "bm9uY2U"},
				{"tpm", "evidence", "--tpm", uri, "--key-dir", dir, "--key", "bot", "--nonce", "bm9uY2U", "--ek", "dsa"},
				{"key", "generate", "--tpm", uri, "--key-dir", dir, "--name", "../x"},
				{"key", "generate", "--tpm", uri, "--type", "ed25519", "--key-dir", dir},
				{"key", "generate", "--tpm", uri, "--out", filepath.Join(dir, "k.jwk")},
				{"key", "generate", "--tpm", "nonsense", "--key-dir", dir},
			} {
				if code, _, stderr := runCLI(t, args...); code != exitUsage {
					t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr)
				}
			}
		})
	}
}
