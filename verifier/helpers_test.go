package verifier

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/internal/testkeys"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

// party is a software key with its did:key and verification method.
type party struct {
	key *software.Key
	did string
	vm  string
}

func newParty(t *testing.T, typ keys.KeyType) party {
	t.Helper()
	k, did, vm := testkeys.New(t, typ)
	return party{key: k, did: did, vm: vm}
}

// testNow is the fixed clock of these tests; validity periods are relative
// to it.
var testNow = time.Now().UTC().Truncate(time.Second)

// identityCredential is the schemas package's AgentIdentityCredential
// example (a real file), issued by issuer about subject, valid from an hour
// ago for a day, without status entries unless withStatus.
func identityCredential(t *testing.T, issuer, subject string, withStatus bool) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../schemas/testdata/agent-identity.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := credential.DecodeObject(raw)
	if err != nil {
		t.Fatal(err)
	}
	m["issuer"] = issuer
	m["credentialSubject"].(map[string]any)["id"] = subject
	m["validFrom"] = testNow.Add(-time.Hour).Format(time.RFC3339)
	m["validUntil"] = testNow.Add(24 * time.Hour).Format(time.RFC3339)
	if !withStatus {
		delete(m, "credentialStatus")
	}
	return m
}

// sign adds an assertionMethod Data Integrity proof by p.
func sign(t *testing.T, doc map[string]any, p party, suite string) map[string]any {
	t.Helper()
	out, err := dataintegrity.Sign(context.Background(), doc, p.key, dataintegrity.ProofOptions{
		Cryptosuite: suite, VerificationMethod: p.vm, Created: testNow.Add(-time.Minute),
	})
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return out
}

// clone deep-copies a decoded JSON document.
func clone(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := credential.DecodeObject(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newTestVerifier(opts ...Option) *Verifier {
	return New(append([]Option{WithNow(testNow)}, opts...)...)
}

// errorChecks are the checks named by res's errors, sorted and unique.
func errorChecks(res *Result) []Check {
	var out []Check
	for _, p := range res.Errors {
		if !slices.Contains(out, p.Check) {
			out = append(out, p.Check)
		}
	}
	slices.Sort(out)
	return out
}

// wantFailed asserts that res did not verify and that check c is among the
// failed checks (and not among those that passed).
func wantFailed(t *testing.T, res *Result, c Check) {
	t.Helper()
	if res.Verified {
		t.Fatalf("verified, want %s to fail: %s", c, dump(res))
	}
	if !res.Failed(c) {
		t.Fatalf("%s not among the errors: %s", c, dump(res))
	}
	if res.Passed(c) {
		t.Fatalf("%s both failed and passed: %s", c, dump(res))
	}
}

// wantVerified asserts that res verified with at least the checks given.
func wantVerified(t *testing.T, res *Result, checks ...Check) {
	t.Helper()
	if !res.Verified || len(res.Errors) != 0 {
		t.Fatalf("not verified: %s", dump(res))
	}
	for _, c := range checks {
		if !res.Passed(c) {
			t.Fatalf("check %s did not pass: %s", c, dump(res))
		}
	}
}

func dump(res *Result) string {
	b, _ := json.MarshalIndent(res, "", "  ")
	return string(b)
}
