package jsonld

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"math/rand/v2"
	"testing"
)

// expandID, the shortcut for @id values, gives json-gold's ExpandIri result
// in every kind of context the fast path uses: the embedded contexts (some
// define prefixes such as "xsd" or "sec"), the null context and scoped
// contexts derived from them.
func TestExpandIDMatchesExpandIri(t *testing.T) {
	p := newProcessor(t)
	values := []string{"", "@id", "@foo", "@", ":x", "a:b", "x", "relative/path", "#frag", "_:b1", "_:", "_x:y",
		"https://example.org/a", "http://exa mple.org/", "https:x", "https:", "did:example:123", "did:key:z6Mk",
		"urn:uuid:1234", "mailto:a@example.org", "xsd:string", "sec:proof", "cred:issuer", "schema:name",
		"ex:thing", "rdf:type", "urn:agentid:jsonld:undefined-term:x", "VerifiableCredential", "id", "type",
		"did:web:issuer.example.com:orgs:acme", "http://localhost:8080/p", "tag:x,2024:y"}
	var contexts []*activeCtx
	for _, ctx := range genContexts {
		c, err := p.activeContext(ctx)
		if err != nil {
			continue // a context list the generator uses to provoke errors
		}
		contexts = append(contexts, c)
		for _, typ := range []string{"VerifiableCredential", "DataIntegrityProof", "VerifiablePresentation"} {
			if sc, ok := c.ld.GetTermDefinition(typ)["@context"]; ok {
				d, err := c.derive(c, typ, sc, false)
				if err == nil {
					contexts = append(contexts, d)
				}
			}
		}
		if sc, ok := c.ld.GetTermDefinition("verifiableCredential")["@context"]; ok {
			if d, err := c.derive(c, "verifiableCredential", sc, true); err == nil {
				contexts = append(contexts, d)
			}
		}
	}
	contexts = append(contexts, p.base)
	if len(contexts) < 10 {
		t.Fatalf("only %d contexts", len(contexts))
	}
	for i, c := range contexts {
		for _, v := range values {
			want, wantErr := c.ld.ExpandIri(v, true, false, nil, nil)
			got, err := c.expandID(v)
			if (err != nil) != (wantErr != nil) || (err == nil && got != want) {
				t.Errorf("context %d, %q: expandID %q, %v; ExpandIri %q, %v", i, v, got, err, want, wantErr)
			}
		}
	}
}

// Check leaves its input as it was, on the fast path and on json-gold's
// (ValidateJSONLD relies on it and does not copy the document).
func TestCheckDoesNotModifyInput(t *testing.T) {
	p := newProcessor(t)
	ctx := context.Background()
	docs := []map[string]any{}
	for _, d := range vectorDocuments(t) {
		docs = append(docs, d)
	}
	for i := range 300 {
		docs = append(docs, (&docGen{r: rand.New(rand.NewPCG(uint64(i), 11))}).document())
	}
	fallback := 0
	for _, doc := range docs {
		before := mustJSON(doc)
		if errors.Is(p.checkFast(ctx, doc), errFallback) {
			fallback++
		}
		_ = p.Check(ctx, doc)
		if after := mustJSON(doc); after != before {
			t.Fatalf("Check modified its input\nbefore: %s\nafter:  %s", before, after)
		}
	}
	if fallback == 0 {
		t.Fatal("no document took json-gold's path")
	}
}

// The allocation-free context key is contextKey's.
func TestAppendContextKey(t *testing.T) {
	for _, local := range []any{nil, "", "https://a", []any{}, []any{"a"}, []any{"a", "b", "c"}, []any{"a", float64(1)},
		[]any{"a", map[string]any{}}, map[string]any{"x": "y"}, float64(2), []any{"a\nb", ""}} {
		want, wantOK := contextKey(local)
		got, ok := appendContextKey(nil, local)
		if ok != wantOK || (ok && string(got) != want) {
			t.Errorf("%#v: appendContextKey %q, %v; contextKey %q, %v", local, got, ok, want, wantOK)
		}
	}
}

// CanonicalDigest is the digest of Canonicalize's (or
// CanonicalizeSHA384's) output, and fails as they fail, on the fast path
// and off it.
func TestCanonicalDigestMatchesCanonicalize(t *testing.T) {
	p := newProcessor(t)
	ctx := context.Background()
	docs := []map[string]any{}
	for _, d := range vectorDocuments(t) {
		docs = append(docs, d)
	}
	for i := range 300 {
		docs = append(docs, (&docGen{r: rand.New(rand.NewPCG(uint64(i), 13))}).document())
	}
	fails := 0
	for _, doc := range docs {
		for _, sha384 := range []bool{false, true} {
			canon := p.Canonicalize
			if sha384 {
				canon = p.CanonicalizeSHA384
			}
			s, wantErr := canon(ctx, doc)
			for _, newHash := range []func() hash.Hash{sha256.New, sha512.New384} {
				got, err := p.CanonicalDigest(ctx, doc, sha384, newHash)
				// Which fault json-gold reports first in a document with
				// several depends on map order; whether it fails does not.
				if (err == nil) != (wantErr == nil) {
					t.Fatalf("sha384 %v: CanonicalDigest error %v, canonicalization %v\ndocument: %s", sha384, err, wantErr, mustJSON(doc))
				}
				if err != nil {
					fails++
					continue
				}
				h := newHash()
				h.Write([]byte(s))
				if want := h.Sum(nil); !bytes.Equal(got, want) {
					t.Fatalf("sha384 %v: digest %x, want %x\ndocument: %s", sha384, got, want, mustJSON(doc))
				}
			}
		}
	}
	if fails == 0 {
		t.Error("no document failed: the error cases were not compared")
	}
}

// Repeated statements (a value listed three times, one node written out
// twice) are merged as json-gold merges them, on the fast path.
func TestFastPathDuplicateStatements(t *testing.T) {
	p := newProcessor(t)
	subject := map[string]any{"id": "did:example:s", "name": "n", "description": []any{"d", "d", "d"}}
	for _, doc := range []map[string]any{
		{
			"@context":          []any{vcV2, examplesV2},
			"type":              []any{"VerifiableCredential", "VerifiableCredential", "VerifiableCredential"},
			"issuer":            "did:example:i",
			"name":              []any{"x", "x", "x", "y", "x"},
			"credentialSubject": []any{subject, subject, map[string]any{"id": "did:example:s", "name": "n"}},
		},
		{
			"@context":          []any{vcV2, examplesV2},
			"type":              "VerifiableCredential",
			"issuer":            "did:example:i",
			"credentialSubject": []any{map[string]any{"id": "_:b1", "name": "n"}, map[string]any{"id": "_:b1", "name": "n"}},
			"description":       []any{float64(1), "1", float64(1)},
		},
	} {
		if differential(t, p, doc) != diffFast {
			t.Errorf("fell back: %s", mustJSON(doc))
		}
		if fast, _ := checkDifferential(t, p, doc); !fast {
			t.Errorf("check fell back: %s", mustJSON(doc))
		}
	}
}
