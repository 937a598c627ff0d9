package jsonld

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// A VC 2.0 presentation's embedded credentials are named graphs (the
// verifiableCredential term's @graph container, JSON-LD 1.1): the fast
// path's N-Quads of a presentation the W3C VC 2.0 suite signed equal
// jsonld.js's, over which the suite's signature was made.
func TestPresentationGraphsMatchJSONLD11(t *testing.T) {
	vp, want := suitePresentation(t)
	p := newProcessor(t)
	got, err := p.Canonicalize(context.Background(), vp)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("N-Quads differ from jsonld.js's\ngot:\n%s\nwant:\n%s", got, want)
	}
	if _, err := p.canonicalizeFast(context.Background(), vp, sha256.New()); errors.Is(err, errFallback) {
		t.Fatal("the suite's presentation took the fallback")
	}
}

// A presentation whose embedded credential the fast path declines is
// refused, not handed to json-gold (which would put the credential in the
// default graph); the same credential alone still goes to json-gold.
func TestGraphContainerFallbackRefused(t *testing.T) {
	cred := map[string]any{
		"@context":          []any{"https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"},
		"type":              []any{"VerifiableCredential"},
		"issuer":            "did:example:issuer",
		"credentialSubject": map[string]any{"id": "did:example:s", "list": map[string]any{"@list": []any{"a", "b"}}},
	}
	vp := map[string]any{
		"@context":             []any{"https://www.w3.org/ns/credentials/v2"},
		"type":                 []any{"VerifiablePresentation"},
		"verifiableCredential": []any{cred},
	}
	p := newProcessor(t)
	ctx := context.Background()
	if _, err := p.canonicalizeFast(ctx, cred, sha256.New()); !errors.Is(err, errFallback) {
		t.Fatalf("the test credential must be outside the fast path: %v", err)
	}
	if _, err := p.Canonicalize(ctx, cred); err != nil {
		t.Fatalf("the credential alone: %v", err)
	}
	if _, err := p.Canonicalize(ctx, vp); !errors.Is(err, ErrGraphContainer) {
		t.Fatalf("presentation: err %v, want ErrGraphContainer", err)
	}
	if _, err := p.CanonicalizeSHA384(ctx, vp); !errors.Is(err, ErrGraphContainer) {
		t.Fatalf("presentation, SHA-384: err %v, want ErrGraphContainer", err)
	}
	// A VC 1.1 presentation's verifiableCredential has no scoped context:
	// json-gold gets its @graph container right and may take it.
	v1 := map[string]any{
		"@context":             []any{"https://www.w3.org/2018/credentials/v1"},
		"type":                 []any{"VerifiablePresentation"},
		"verifiableCredential": []any{map[string]any{"@context": []any{"https://www.w3.org/2018/credentials/v1"}, "type": []any{"VerifiableCredential"}, "issuer": "did:example:i", "issuanceDate": "2020-01-01T00:00:00Z", "credentialSubject": map[string]any{"id": "did:example:s"}}},
	}
	if usesGraphScopedTerm(v1) {
		t.Fatal("a VC 1.1 presentation counted as graph-scoped")
	}
	if !usesGraphScopedTerm(vp) {
		t.Fatal("a VC 2.0 presentation with a credential not counted as graph-scoped")
	}
}

// graphOracle rewrites doc so that json-gold computes what JSON-LD 1.1
// does for it: each value of verifiableCredential in a node typed
// VerifiablePresentation under the VC 2.0 context (the only graph-scoped
// term of the embedded contexts) wrapped in an explicit graph object,
// which json-gold does place in a named graph of its own.
func graphOracle(doc map[string]any) map[string]any {
	const v2 = "https://www.w3.org/ns/credentials/v2"
	isVP := func(m map[string]any) bool {
		for _, k := range []string{"type", "@type"} {
			switch t := m[k].(type) {
			case string:
				if t == "VerifiablePresentation" {
					return true
				}
			case []any:
				for _, e := range t {
					if e == "VerifiablePresentation" {
						return true
					}
				}
			}
		}
		return false
	}
	var walk func(v any, inV2 bool) any
	walk = func(v any, inV2 bool) any {
		switch t := v.(type) {
		case []any:
			out := make([]any, len(t))
			for i, e := range t {
				out[i] = walk(e, inV2)
			}
			return out
		case map[string]any:
			if c, ok := t["@context"]; ok {
				switch cv := c.(type) {
				case nil:
					inV2 = false
				case string:
					inV2 = inV2 || cv == v2
				case []any:
					for _, e := range cv {
						inV2 = inV2 || e == v2
					}
				}
			}
			vp := inV2 && isVP(t)
			out := make(map[string]any, len(t))
			for k, e := range t {
				switch {
				case k == "@context":
					out[k] = e
				case vp && k == "verifiableCredential":
					wrap := func(x any) any {
						if m, ok := x.(map[string]any); ok {
							// json-gold fails on a graph object whose
							// node has no statements (nothing, or only an
							// id); an empty graph is what JSON-LD 1.1
							// makes of it.
							bare := true
							for k := range m {
								bare = bare && (k == "@context" || k == "id" || k == "@id")
							}
							if bare {
								g := map[string]any{"@graph": []any{}}
								if c, ok := m["@context"]; ok {
									g["@context"] = c // its faults still count
								}
								return g
							}
							return map[string]any{"@graph": walk(m, false)}
						}
						return x
					}
					if list, ok := e.([]any); ok {
						w := make([]any, len(list))
						for i, x := range list {
							w[i] = wrap(x)
						}
						out[k] = w
					} else {
						out[k] = wrap(e)
					}
				default:
					out[k] = walk(e, inV2)
				}
			}
			return out
		}
		return v
	}
	return walk(doc, false).(map[string]any)
}

// The oracle agrees with jsonld.js on the suite's presentation, so the
// differential tests may use it for graph-scoped documents.
func TestGraphOracleMatchesJSONLD11(t *testing.T) {
	vp, want := suitePresentation(t)
	p := newProcessor(t)
	got, err := p.canonicalizeJSONGold(context.Background(), graphOracle(vp))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("json-gold on the oracle's rewrite differs from jsonld.js\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// suitePresentation is the presentation the W3C VC 2.0 suite signed,
// without its proof, and jsonld.js's canonical N-Quads of it
// (testdata/vc2-suite/SOURCES.md).
func suitePresentation(t *testing.T) (map[string]any, string) {
	t.Helper()
	raw, err := os.ReadFile("testdata/vc2-suite/presentation-holder-ok.signed.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/vc2-suite/presentation-holder-ok.jsonld-js.nq")
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		VP map[string]any `json:"verifiablePresentation"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	delete(req.VP, "proof")
	return req.VP, string(want)
}
