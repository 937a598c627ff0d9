package jsonld

import (
	"testing"

	"github.com/piprate/json-gold/ld"
)

// plainOptions are json-gold's options with this package's loader and
// nothing else: the reference the Processor must agree with.
func plainOptions(t testing.TB) *ld.JsonLdOptions {
	t.Helper()
	l, err := NewLoader()
	if err != nil {
		t.Fatal(err)
	}
	opts := ld.NewJsonLdOptions("")
	opts.ProcessingMode = ld.JsonLd_1_1
	opts.DocumentLoader = l
	opts.Algorithm = "URDNA2015"
	opts.Format = "application/n-quads"
	return opts
}

func plainExpand(t testing.TB, doc map[string]any) []any {
	t.Helper()
	out, err := ld.NewJsonLdProcessor().Expand(doc, plainOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func plainCanonicalize(t testing.TB, doc map[string]any) string {
	t.Helper()
	out, err := ld.NewJsonLdProcessor().Normalize(doc, plainOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	return out.(string)
}
