package legacy

import (
	"context"
	"testing"
)

func BenchmarkVerifyEd25519Signature2020(b *testing.B) {
	doc := readVector(b, "eddsa", "TestVectors", "Ed25519Signature2020", "signedEdSig.json")
	opts := Options{Resolver: registry(), SkipControllerCheck: true}
	ctx := context.Background()
	if _, err := VerifyProofs(ctx, doc, opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyProofs(ctx, doc, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPreflight is the share of the safe-mode and limits check that
// runs before aries canonicalizes.
func BenchmarkPreflight(b *testing.B) {
	doc := readVector(b, "eddsa", "TestVectors", "Ed25519Signature2020", "signedEdSig.json")
	delete(doc, "proof")
	e, err := env()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.proc.ToRDF(context.Background(), doc); err != nil {
			b.Fatal(err)
		}
	}
}
