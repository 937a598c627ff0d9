package schemas_test

import (
	"os"
	"testing"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/schemas"
)

// issuedDoc is a credential as the verifier sees it: the example decoded by
// credential.DecodeObject (numbers as json.Number), with an
// eddsa-rdfc-2022 proof as the issuer adds one.
func issuedDoc(b testing.TB, file string) map[string]any {
	b.Helper()
	raw, err := os.ReadFile("testdata/" + file)
	if err != nil {
		b.Fatal(err)
	}
	m, err := credential.DecodeObject(raw)
	if err != nil {
		b.Fatal(err)
	}
	m["proof"] = map[string]any{
		"type":               "DataIntegrityProof",
		"cryptosuite":        "eddsa-rdfc-2022",
		"created":            "2026-11-29T10:00:00Z",
		"verificationMethod": "did:web:issuer.example.com:orgs:acme#key-1",
		"proofPurpose":       "assertionMethod",
		"proofValue":         "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a22gkfUKKFkiGqKBfV1qLsBak",
	}
	return m
}

// BenchmarkForCredential is the verifier's schema check of an issued
// credential naming an embedded schema.
func BenchmarkForCredential(b *testing.B) {
	for _, f := range []string{"agent-identity.json", "agent-delegation.json"} {
		doc := issuedDoc(b, f)
		if err := schemas.ForCredential(doc); err != nil {
			b.Fatal(err)
		}
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := schemas.ForCredential(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
