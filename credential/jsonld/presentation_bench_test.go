package jsonld

import (
	"context"
	"testing"

	"github.com/agentid/agentid/internal/testvectors"
)

// benchPresentation is a VC 2.0 presentation, without its proof (the
// document its Data Integrity proof signs), holding the W3C eddsa-rdfc-2022
// vector credential with its proof and its own @context.
func benchPresentation(b *testing.B) map[string]any {
	vc := readJSON(b, testvectors.Path(b, "eddsa", "TestVectors", "eddsa-rdfc-2022", "signedDataInt.json"))
	return map[string]any{
		"@context":             []any{"https://www.w3.org/ns/credentials/v2"},
		"type":                 []any{"VerifiablePresentation"},
		"holder":               "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
		"verifiableCredential": []any{vc},
	}
}

// BenchmarkCanonicalizeVP canonicalizes a presentation with one embedded
// eddsa-rdfc-2022 credential: Canonicalize (the fast path) and Check, and
// the same canonicalization and expansion on json-gold.
func BenchmarkCanonicalizeVP(b *testing.B) {
	p := newProcessor(b)
	doc := benchPresentation(b)
	ctx := context.Background()
	b.Run("Canonicalize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Canonicalize(ctx, doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json-gold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.canonicalizeJSONGold(ctx, doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := p.Check(ctx, doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Expand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Expand(ctx, doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
