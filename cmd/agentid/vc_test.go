package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/testvectors"
)

// vcResult is the part of the verify output the tests read.
type vcResult struct {
	Verified bool     `json:"verified"`
	Checks   []string `json:"checks"`
	Errors   []struct {
		Check string `json:"check"`
		Code  string `json:"code"`
	} `json:"errors"`
	Warnings []struct {
		Check string `json:"check"`
	} `json:"warnings"`
	Credential *struct {
		Issuer    string         `json:"issuer"`
		Disclosed []string       `json:"disclosed"`
		Claims    map[string]any `json:"claims"`
	} `json:"credential"`
	Credentials []struct {
		Issuer    string         `json:"issuer"`
		Subject   string         `json:"subject"`
		Disclosed []string       `json:"disclosed"`
		Claims    map[string]any `json:"claims"`
	} `json:"credentials"`
}

func (r vcResult) failed() []string {
	var out []string
	for _, e := range r.Errors {
		if !slices.Contains(out, e.Check) {
			out = append(out, e.Check)
		}
	}
	return out
}

// genKey runs `agentid key generate` and returns the file and the DID.
func genKey(t *testing.T, dir, name, typ string) (string, string) {
	t.Helper()
	path := filepath.Join(dir, name+".jwk")
	code, out, stderr := runCLI(t, "key", "generate", "--type", typ, "--out", path)
	if code != 0 {
		t.Fatalf("key generate: %d %s", code, stderr)
	}
	return path, strings.TrimSpace(out)
}

// writeCredential writes the schemas package's AgentIdentityCredential
// example without an issuer (sign fills it in), about subject, valid now.
func writeCredential(t *testing.T, dir, subject string, edit func(map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile("../../schemas/testdata/agent-identity.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "issuer")
	m["credentialSubject"].(map[string]any)["id"] = subject
	now := time.Now().UTC()
	m["validFrom"] = now.Add(-time.Hour).Format(time.RFC3339)
	m["validUntil"] = now.Add(24 * time.Hour).Format(time.RFC3339)
	if edit != nil {
		edit(m)
	}
	path := filepath.Join(dir, "credential.json")
	out, _ := json.Marshal(m)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// verify runs `agentid vc verify` and decodes its result; the exit code is
// returned too.
func verify(t *testing.T, args ...string) (int, vcResult) {
	t.Helper()
	code, out, stderr := runCLI(t, append([]string{"vc", "verify"}, args...)...)
	var res vcResult
	if code != exitUsage {
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("verify output is not JSON (exit %d, stderr %q): %v\n%s", code, stderr, err, out)
		}
		if res.Verified != (code == 0) {
			t.Fatalf("exit %d with verified=%v", code, res.Verified)
		}
	}
	return code, res
}

func TestVCSignVerify(t *testing.T) {
	for _, typ := range []string{"ed25519", "p256", "p384"} {
		t.Run(typ, func(t *testing.T) {
			dir := t.TempDir()
			key, did := genKey(t, dir, "issuer", typ)
			_, agent := genKey(t, dir, "agent", "p256")
			cred := writeCredential(t, dir, agent, nil)

			code, signed, stderr := runCLI(t, "vc", "sign", "--key", key, cred)
			if code != 0 {
				t.Fatalf("sign: %d %s", code, stderr)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(signed), &doc); err != nil || doc["issuer"] != did {
				t.Fatalf("signed issuer %v, want %s (%v)", doc["issuer"], did, err)
			}
			wantSuite := map[string]string{"ed25519": "eddsa-rdfc-2022", "p256": "ecdsa-rdfc-2019", "p384": "ecdsa-rdfc-2019"}[typ]
			if got := doc["proof"].(map[string]any)["cryptosuite"]; got != wantSuite {
				t.Fatalf("cryptosuite %v, want %s", got, wantSuite)
			}
			signedPath := writeFile(t, dir, "signed.json", signed)
			code, res := verify(t, signedPath)
			if code != 0 {
				t.Fatalf("verify: %d %+v", code, res)
			}
			for _, c := range []string{"structure", "context", "proof", "issuerController", "validity", "schema"} {
				if !slices.Contains(res.Checks, c) {
					t.Errorf("check %s did not pass: %v", c, res.Checks)
				}
			}

			// tampered: exit 1 naming proof
			tampered := strings.Replace(signed, `"invoice-bot"`, `"payroll-bot"`, 1)
			if tampered == signed {
				t.Fatal("nothing tampered")
			}
			code, res = verify(t, writeFile(t, dir, "tampered.json", tampered))
			if code != exitFailure || !slices.Contains(res.failed(), "proof") {
				t.Fatalf("tampered: exit %d, failed %v", code, res.failed())
			}
		})
	}
}

func TestVCSignRefuses(t *testing.T) {
	dir := t.TempDir()
	key, _ := genKey(t, dir, "issuer", "ed25519")
	_, other := genKey(t, dir, "other", "ed25519")
	_, agent := genKey(t, dir, "agent", "p256")
	for name, args := range map[string][]string{
		"issuer is another DID": {"--key", key, writeCredential(t, t.TempDir(), agent, func(m map[string]any) { m["issuer"] = other })},
		"schema violation": {"--key", key, writeCredential(t, t.TempDir(), agent, func(m map[string]any) {
			delete(m["credentialSubject"].(map[string]any), "operator")
		})},
		"undefined term": {"--key", key, writeCredential(t, t.TempDir(), agent, func(m map[string]any) {
			m["credentialSubject"].(map[string]any)["favouriteColour"] = "blue"
		})},
		"malformed":           {"--key", key, writeCredential(t, t.TempDir(), agent, func(m map[string]any) { delete(m, "type") })},
		"wrong cryptosuite":   {"--key", key, "--cryptosuite", "ecdsa-rdfc-2019", writeCredential(t, t.TempDir(), agent, nil)},
		"no key":              {writeCredential(t, t.TempDir(), agent, nil)},
		"not JSON":            {"--key", key, writeFile(t, dir, "garbage.txt", "hello")},
		"unknown format":      {"--key", key, "--format", "jwt", writeCredential(t, t.TempDir(), agent, nil)},
		"bad disclose":        {"--key", key, "--format", "dc+sd-jwt", "--disclose", "/nope", writeCredential(t, t.TempDir(), agent, nil)},
		"missing file":        {"--key", key, filepath.Join(dir, "absent.json")},
		"disclose for ldp_vc": {"--key", key, "--disclose", "/name", writeCredential(t, t.TempDir(), agent, nil)},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, stderr := runCLI(t, append([]string{"vc", "sign"}, args...)...)
			if code != exitUsage || out != "" || stderr == "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
			}
		})
	}
}

func TestVCVerifyBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"garbage":          "this is not a credential",
		"JSON array":       "[1, 2]",
		"untyped object":   `{"hello": "world"}`,
		"duplicate keys":   `{"type": "VerifiableCredential", "type": "VerifiablePresentation"}`,
		"broken SD-JWT":    "a~b~",
		"empty":            "  \n",
		"truncated object": `{"type": ["VerifiableCredential"]`,
	} {
		t.Run(name, func(t *testing.T) {
			code, _ := verify(t, writeFile(t, dir, "in", content))
			if code != exitUsage {
				t.Fatalf("exit %d, want %d", code, exitUsage)
			}
		})
	}
	// A credential-shaped object with no proof is a credential that does
	// not verify: exit 1, not 2.
	code, res := verify(t, writeFile(t, dir, "unsigned", `{"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"], "issuer": "did:example:1", "credentialSubject": {"id": "did:example:2"}}`))
	if code != exitFailure || !slices.Contains(res.failed(), "context") && !slices.Contains(res.failed(), "proof") {
		t.Fatalf("unsigned credential: exit %d failed %v", code, res.failed())
	}
}

func TestVCSDJWTSignPresentVerify(t *testing.T) {
	dir := t.TempDir()
	issKey, issDID := genKey(t, dir, "issuer", "p256")
	holderKey, holderDID := genKey(t, dir, "holder", "p256")
	cred := writeCredential(t, dir, holderDID, nil)

	code, sd, stderr := runCLI(t, "vc", "sign", "--key", issKey, "--format", "dc+sd-jwt",
		"--disclose", "/name,/software,/principal", "--holder", holderDID, cred)
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(sd), "~") {
		t.Fatalf("sign dc+sd-jwt: %d %q %s", code, sd, stderr)
	}
	sdPath := writeFile(t, dir, "vc.sdjwt", sd)

	// The issued SD-JWT VC verifies on its own, every disclosure visible.
	code, res := verify(t, sdPath)
	if code != 0 || res.Credential == nil || res.Credential.Issuer != issDID ||
		!slices.Equal(res.Credential.Disclosed, []string{"/name", "/principal", "/software"}) {
		t.Fatalf("verify issued: %d %+v", code, res)
	}

	code, pres, stderr := runCLI(t, "vc", "present", "--key", holderKey, "--challenge", "c-42",
		"--domain", "https://erp.example.com", "--disclose", "/name", sdPath)
	if code != 0 {
		t.Fatalf("present: %d %s", code, stderr)
	}
	presPath := writeFile(t, dir, "pres.sdjwt", pres)
	code, res = verify(t, "--challenge", "c-42", "--domain", "https://erp.example.com", presPath)
	if code != 0 || len(res.Credentials) != 1 {
		t.Fatalf("verify presentation: %d %+v", code, res)
	}
	got := res.Credentials[0]
	if !slices.Equal(got.Disclosed, []string{"/name"}) || got.Claims["name"] != "invoice-bot" ||
		got.Claims["principal"] != nil || got.Claims["software"] != nil {
		t.Fatalf("disclosed %v claims %v, want only /name", got.Disclosed, got.Claims)
	}
	for _, c := range []string{"holderBinding", "challenge", "domain", "proof", "issuerController"} {
		if !slices.Contains(res.Checks, c) {
			t.Errorf("check %s did not pass: %v", c, res.Checks)
		}
	}

	code, res = verify(t, "--challenge", "c-43", "--domain", "https://erp.example.com", presPath)
	if code != exitFailure || !slices.Equal(res.failed(), []string{"challenge"}) {
		t.Fatalf("wrong challenge: exit %d failed %v", code, res.failed())
	}
	// Presented by someone else's key: holder binding fails.
	otherKey, _ := genKey(t, dir, "other", "p256")
	_, pres2, _ := runCLI(t, "vc", "present", "--key", otherKey, "--challenge", "c-42",
		"--domain", "https://erp.example.com", sdPath)
	code, res = verify(t, "--challenge", "c-42", "--domain", "https://erp.example.com", writeFile(t, dir, "pres2.sdjwt", pres2))
	if code != exitFailure || !slices.Contains(res.failed(), "holderBinding") {
		t.Fatalf("foreign KB-JWT: exit %d failed %v", code, res.failed())
	}
}

func TestVCPresentVP(t *testing.T) {
	dir := t.TempDir()
	issKey, _ := genKey(t, dir, "issuer", "ed25519")
	holderKey, holderDID := genKey(t, dir, "holder", "p256")
	_, signed, stderr := runCLI(t, "vc", "sign", "--key", issKey, writeCredential(t, dir, holderDID, nil))
	if signed == "" {
		t.Fatalf("sign: %s", stderr)
	}
	vcPath := writeFile(t, dir, "vc.json", signed)

	code, vp, stderr := runCLI(t, "vc", "present", "--key", holderKey, "--challenge", "c-1", "--domain", "https://erp.example.com", vcPath)
	if code != 0 {
		t.Fatalf("present: %d %s", code, stderr)
	}
	vpPath := writeFile(t, dir, "vp.json", vp)
	code, res := verify(t, "--challenge", "c-1", "--domain", "https://erp.example.com", vpPath)
	if code != 0 || len(res.Credentials) != 1 || res.Credentials[0].Subject != holderDID {
		t.Fatalf("verify VP: %d %+v", code, res)
	}
	for _, c := range []string{"holderBinding", "challenge", "domain", "proof"} {
		if !slices.Contains(res.Checks, c) {
			t.Errorf("check %s did not pass: %v", c, res.Checks)
		}
	}
	code, res = verify(t, "--challenge", "c-2", "--domain", "https://erp.example.com", vpPath)
	if code != exitFailure || !slices.Equal(res.failed(), []string{"challenge"}) {
		t.Fatalf("wrong challenge: exit %d failed %v", code, res.failed())
	}
	// A VP by a key that is not the credential's subject.
	strangerKey, _ := genKey(t, dir, "stranger", "p256")
	_, vp2, _ := runCLI(t, "vc", "present", "--key", strangerKey, "--challenge", "c-1", "--domain", "https://erp.example.com", vcPath)
	code, res = verify(t, "--challenge", "c-1", "--domain", "https://erp.example.com", writeFile(t, dir, "vp2.json", vp2))
	if code != exitFailure || !slices.Equal(res.failed(), []string{"holderBinding"}) {
		t.Fatalf("stranger's VP: exit %d failed %v", code, res.failed())
	}
	// present without a challenge is a usage error
	if code, _, _ := runCLI(t, "vc", "present", "--key", holderKey, "--domain", "d", vcPath); code != exitUsage {
		t.Fatalf("present without --challenge: exit %d", code)
	}
}

// The W3C eddsa-rdfc-2022 vector: its proof verifies, but its issuer
// (https://vc.example/issuers/5678) is not the controller of the did:key
// that signed it, so issuerController is the one check that fails.
func TestVCVerifyW3CVector(t *testing.T) {
	path := testvectors.Path(t, "eddsa", "TestVectors", "eddsa-rdfc-2022", "signedDataInt.json")
	code, res := verify(t, path)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	if got := res.failed(); !slices.Equal(got, []string{"issuerController"}) {
		t.Fatalf("failed checks %v, want exactly [issuerController]", got)
	}
	for _, c := range []string{"structure", "context", "proof", "validity", "schema"} {
		if !slices.Contains(res.Checks, c) {
			t.Errorf("check %s did not pass: %v", c, res.Checks)
		}
	}
}
