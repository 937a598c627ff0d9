package jsonld

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"testing"
)

// benchAgentCredential is agentid's AgentIdentityCredential fixture with an
// eddsa-rdfc-2022 proof attached, the document a verifier checks and
// canonicalizes most often.
func benchAgentCredential(b *testing.B) map[string]any {
	doc := readJSON(b, filepath.Join("..", "..", "schemas", "testdata", "agent-identity.json"))
	doc["proof"] = map[string]any{
		"type":               "DataIntegrityProof",
		"cryptosuite":        "eddsa-rdfc-2022",
		"created":            "2026-11-29T10:00:00Z",
		"verificationMethod": "did:web:issuer.example.com:orgs:acme#key-1",
		"proofPurpose":       "assertionMethod",
		"proofValue":         "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a22gkfUKKFkNRXMfZDxEozDZGnvx",
	}
	return doc
}

// BenchmarkCheck runs the safe-mode check (Check) on a credential and a
// presentation, next to canonicalizing the same document on the fast path.
func BenchmarkCheck(b *testing.B) {
	p := newProcessor(b)
	ctx := context.Background()
	for _, d := range []struct {
		name string
		doc  map[string]any
	}{
		{"AgentVC", benchAgentCredential(b)},
		{"VP", benchPresentation(b)},
	} {
		b.Run(d.name+"/Check", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Check(ctx, d.doc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(d.name+"/Canonicalize", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.canonicalizeFast(ctx, d.doc, sha256.New()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
