package jsonld

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"
)

// JSON literals (agentid's scope constraints, "@type": "@json") take the
// fast path and give json-gold's N-Quads: RFC 8785 form, keys in UTF-16
// order, JSON.stringify escaping; fractions still go to json-gold.
func TestFastPathJSONLiterals(t *testing.T) {
	p := newProcessor(t)
	ctx := context.Background()
	for _, c := range []struct {
		constraints string
		fast        bool
	}{
		{`{"maxAmount": 500, "currency": "EUR"}`, true},
		{`{}`, true},
		{`{"b": [1, "two", true, null, {"z": 1, "a": -2}], "a": {"nested": {"x": "y"}}}`, true},
		{`{"html": "<a href=\"x\">&amp;</a>", "ctl": "\u0001\u001f\t\n\r\b\f", "uni": "é€😀\u2028"}`, true},
		{`{"\u00e9": 1, "\ud83d\ude00": 2, "\uffff": 3, "z": 4, "A": 5}`, true},
		{`{"amount": 1.5}`, false},
		{`{"amount": 1e3}`, false},
		{`{"big": 9007199254740993}`, false},
	} {
		raw := `{"@context":["https://www.w3.org/ns/credentials/v2","https://agentid.dev/ns/v1"],` +
			`"type":["VerifiableCredential","AgentDelegationCredential"],"issuer":"did:example:i",` +
			`"credentialSubject":{"id":"did:example:s","type":"Agent","scopes":[{"action":"invoices:pay","resource":"https://erp.example.com/api","constraints":` + c.constraints + `}]}}`
		for _, useNumber := range []bool{false, true} {
			dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
			if useNumber {
				dec.UseNumber()
			}
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			fast, err := p.canonicalizeFast(ctx, doc, sha256.New())
			if errors.Is(err, errFallback) {
				if c.fast {
					t.Errorf("%s (UseNumber %v): fell back", c.constraints, useNumber)
				}
				continue
			}
			// Decoded as float64, 1e3 is the integer 1000: fast either way.
			if err != nil || (!c.fast && useNumber) {
				t.Fatalf("%s (UseNumber %v): fast path %v (want fallback: %v)", c.constraints, useNumber, err, !c.fast)
			}
			gold, err := p.canonicalizeJSONGold(ctx, doc)
			if err != nil {
				t.Fatal(err)
			}
			if fast != gold {
				t.Fatalf("%s (UseNumber %v): fast path\n%s\njson-gold\n%s", c.constraints, useNumber, fast, gold)
			}
		}
	}
}

// validJCS, which the check-only walk uses, accepts exactly the values
// canonicalJSONLiteral writes.
func TestValidJCSMatchesWriter(t *testing.T) {
	deep := map[string]any{}
	cur := deep
	for range 70 {
		next := map[string]any{}
		cur["n"] = next
		cur = next
	}
	values := []any{
		nil, true, "s", float64(3), float64(-1.5), float64(1 << 53), float64(-(1 << 53)), float64(1<<53 - 1),
		json.Number("12"), json.Number("1.0"), json.Number("1e2"), json.Number("9007199254740993"), json.Number("x"),
		[]any{float64(1), "a", []any{nil}}, []any{float64(0.5)}, map[string]any{"a": json.Number("2.5")},
		int(3), []string{"a"}, deep,
	}
	for i, v := range values {
		obj := map[string]any{"v": v}
		_, want := canonicalJSONLiteral(obj)
		if got := validJCS(obj, 0); got != want {
			t.Errorf("value %d (%#v): validJCS %v, canonicalJSONLiteral %v", i, v, got, want)
		}
	}
}
