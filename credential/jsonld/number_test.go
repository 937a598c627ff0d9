package jsonld

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"
)

// Integer literals decoded as json.Number (credential.DecodeObject uses
// UseNumber) take the fast path and give json-gold's N-Quads; fractions and
// exponents still go to json-gold.
func TestFastPathJSONNumbers(t *testing.T) {
	p := newProcessor(t)
	ctx := context.Background()
	for _, c := range []struct {
		n    string
		fast bool
	}{{"500", true}, {"0", true}, {"-7", true}, {"9007199254740991", true}, {"9007199254740993", false}, {"1.5", false}, {"1e3", false}, {"2.0", false}} {
		raw := `{"@context":["https://www.w3.org/ns/credentials/v2","https://www.w3.org/ns/credentials/examples/v2"],` +
			`"type":["VerifiableCredential"],"issuer":"did:example:i","credentialSubject":{"id":"did:example:s","maxAmount":` + c.n + `}}`
		dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		fast, err := p.canonicalizeFast(ctx, doc, sha256.New())
		if errors.Is(err, errFallback) {
			if c.fast {
				t.Errorf("%s: fell back", c.n)
			}
			continue
		}
		if err != nil || !c.fast {
			t.Fatalf("%s: fast path %v (want fallback: %v)", c.n, err, !c.fast)
		}
		gold, err := p.canonicalizeJSONGold(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		if fast != gold {
			t.Fatalf("%s: fast path\n%s\njson-gold\n%s", c.n, fast, gold)
		}
	}
}
