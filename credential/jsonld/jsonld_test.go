package jsonld

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/testvectors"
	"github.com/agentid/agentid/schemas"
)

const (
	vcV2       = "https://www.w3.org/ns/credentials/v2"
	examplesV2 = "https://www.w3.org/ns/credentials/examples/v2"
)

func readJSON(t testing.TB, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func readText(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func newProcessor(t testing.TB, opts ...Option) *Processor {
	t.Helper()
	p, err := NewProcessor(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The embedded contexts are byte for byte the shared vectors' contexts, and
// each matches the SHA-256 that index.json records.
func TestEmbeddedContextsMatchSharedIndex(t *testing.T) {
	dir := testvectors.Path(t, "contexts")
	var index map[string]indexEntry
	if err := json.Unmarshal([]byte(readText(t, filepath.Join(dir, "index.json"))), &index); err != nil {
		t.Fatal(err)
	}
	l, err := NewLoader()
	if err != nil {
		t.Fatal(err)
	}
	for url, e := range index {
		shared, err := os.ReadFile(filepath.Join(dir, e.File))
		if err != nil {
			t.Fatal(err)
		}
		mine, err := embedded.ReadFile("contexts/" + e.File)
		if err != nil {
			t.Fatalf("%s not embedded: %v", e.File, err)
		}
		if !bytes.Equal(shared, mine) {
			t.Errorf("%s differs from the shared copy", e.File)
		}
		sum := sha256.Sum256(mine)
		if hex.EncodeToString(sum[:]) != e.SHA256 {
			t.Errorf("%s: sha256 mismatch", e.File)
		}
		if !l.Has(url) {
			t.Errorf("loader does not serve %s", url)
		}
	}
	if !l.Has(schemas.ContextURL) {
		t.Errorf("loader does not serve %s", schemas.ContextURL)
	}
	if got, want := len(l.URLs()), len(index)+1; got != want {
		t.Errorf("loader serves %d URLs, want %d", got, want)
	}
}

func TestLoaderRefusesUnknownURLs(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/ld+json")
		fmt.Fprint(w, `{"@context":{"foo":"https://example.com/foo"}}`)
	}))
	defer srv.Close()

	p := newProcessor(t)
	if _, err := p.Loader().LoadDocument(srv.URL); !errors.Is(err, ErrContextNotAllowed) {
		t.Errorf("LoadDocument: err = %v, want ErrContextNotAllowed", err)
	}
	ctx := context.Background()
	for name, c := range map[string]any{
		"top-level":      []any{vcV2, srv.URL},
		"single string":  srv.URL,
		"http variant":   "http://www.w3.org/ns/credentials/v2",
		"trailing slash": vcV2 + "/",
	} {
		doc := map[string]any{"@context": c, "foo": "bar"}
		if _, err := p.Canonicalize(ctx, doc); !errors.Is(err, ErrContextNotAllowed) {
			t.Errorf("%s: err = %v, want ErrContextNotAllowed", name, err)
		}
	}
	// A nested, property-level context and an @import are refused too.
	nested := map[string]any{
		"@context":          []any{vcV2, examplesV2},
		"type":              "VerifiableCredential",
		"credentialSubject": map[string]any{"@context": srv.URL, "foo": "bar"},
	}
	if _, err := p.Canonicalize(ctx, nested); !errors.Is(err, ErrContextNotAllowed) {
		t.Errorf("nested: err = %v, want ErrContextNotAllowed", err)
	}
	imported := map[string]any{"@context": map[string]any{"@version": 1.1, "@import": srv.URL}, "foo": "bar"}
	if _, err := p.Canonicalize(ctx, imported); !errors.Is(err, ErrContextNotAllowed) {
		t.Errorf("@import: err = %v, want ErrContextNotAllowed", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loader fetched from the network %d times", n)
	}
}

func TestLoaderReturnsCopies(t *testing.T) {
	l, err := NewLoader()
	if err != nil {
		t.Fatal(err)
	}
	rd, err := l.LoadDocument(vcV2)
	if err != nil {
		t.Fatal(err)
	}
	m := rd.Document.(map[string]any)["@context"].(map[string]any)
	m["type"] = "https://evil.example/type"
	delete(m, "id")
	rd2, _ := l.LoadDocument(vcV2)
	m2 := rd2.Document.(map[string]any)["@context"].(map[string]any)
	if m2["type"] != "@type" || m2["id"] != "@id" {
		t.Fatal("a caller changed the loader's cached context")
	}
	// And canonicalization still gives the vector's output.
	checkVector(t, newProcessor(t), "eddsa", "TestVectors", "unsigned.json", "eddsa-rdfc-2022", "canonDocDataInt.txt")
}

func TestWithContext(t *testing.T) {
	const url = "https://example.com/ctx/v1"
	p := newProcessor(t, WithContext(url, []byte(`{"@context":{"widget":"https://example.com/vocab#widget"}}`)))
	out, err := p.Canonicalize(context.Background(), map[string]any{"@context": url, "@id": "urn:x", "widget": "w"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "<urn:x> <https://example.com/vocab#widget> \"w\" .\n"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	// Other processors do not see it.
	if newProcessor(t).Loader().Has(url) {
		t.Error("WithContext leaked into another processor")
	}
	if _, err := NewProcessor(WithContext(url, []byte(`{"no":"context"}`))); !errors.Is(err, ErrInvalidContext) {
		t.Errorf("context without @context: err = %v", err)
	}
	if _, err := NewProcessor(WithContext(url, []byte(`{`))); !errors.Is(err, ErrInvalidContext) {
		t.Errorf("context that is not JSON: err = %v", err)
	}
}

func checkVector(t *testing.T, p *Processor, suite string, elem ...string) {
	t.Helper()
	docPath := testvectors.Path(t, append([]string{suite}, elem[:len(elem)-2]...)...)
	wantPath := testvectors.Path(t, append([]string{suite, elem[0]}, elem[len(elem)-2:]...)...)
	got, err := p.Canonicalize(context.Background(), readJSON(t, docPath))
	if err != nil {
		t.Fatalf("%s: %v", docPath, err)
	}
	if want := readText(t, wantPath); got != want {
		t.Errorf("%s:\ngot\n%s\nwant\n%s", docPath, got, want)
	}
}

// The canonical forms of the W3C eddsa and ecdsa vectors (documents and
// proof configurations) come out byte for byte.
func TestCanonicalizeVectors(t *testing.T) {
	p := newProcessor(t)
	cases := []struct{ doc, canon string }{
		{"eddsa/TestVectors/unsigned.json", "eddsa/TestVectors/eddsa-rdfc-2022/canonDocDataInt.txt"},
		{"eddsa/TestVectors/eddsa-rdfc-2022/proofConfigDataInt.json", "eddsa/TestVectors/eddsa-rdfc-2022/proofCanonDataInt.txt"},
		{"eddsa/TestVectors/employmentAuth.json", "eddsa/TestVectors/eddsa-rdfc-2022/employ/canonDocDataInt.txt"},
		{"eddsa/TestVectors/eddsa-rdfc-2022/employ/proofConfigDataInt.json", "eddsa/TestVectors/eddsa-rdfc-2022/employ/proofCanonDataInt.txt"},
		{"ecdsa/TestVectors/unsigned.json", "ecdsa/TestVectors/ecdsa-rdfc-2019-p256/canonDocECDSAP256.txt"},
		{"ecdsa/TestVectors/ecdsa-rdfc-2019-p384/proofConfigECDSAP384.json", "ecdsa/TestVectors/ecdsa-rdfc-2019-p384/proofCanonECDSAP384.txt"},
	}
	for _, c := range cases {
		got, err := p.Canonicalize(context.Background(), readJSON(t, testvectors.Path(t, c.doc)))
		if err != nil {
			t.Errorf("%s: %v", c.doc, err)
			continue
		}
		if want := readText(t, testvectors.Path(t, c.canon)); got != want {
			t.Errorf("%s:\ngot\n%s\nwant\n%s", c.doc, got, want)
		}
	}
}

// ecdsa-rdfc-2019 on P-384 runs RDFC-1.0 with SHA-384: the W3C vector's
// blank node labels follow SHA-384 first-degree hashes.
func TestCanonicalizeSHA384(t *testing.T) {
	p := newProcessor(t)
	ctx := context.Background()
	doc := readJSON(t, testvectors.Path(t, "ecdsa", "TestVectors", "employmentAuth.json"))
	got, err := p.CanonicalizeSHA384(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	want := readText(t, testvectors.Path(t, "ecdsa", "TestVectors", "ecdsa-rdfc-2019-p384", "employ", "canonDocECDSAP384.txt"))
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	sha256Form, _ := p.Canonicalize(ctx, doc)
	if sha256Form == got {
		t.Error("the SHA-256 and SHA-384 forms should label blank nodes differently for this document")
	}
	// Without blank nodes both forms agree.
	plain := readJSON(t, testvectors.Path(t, "ecdsa", "TestVectors", "unsigned.json"))
	a, _ := p.Canonicalize(ctx, plain)
	b, err := p.CanonicalizeSHA384(ctx, plain)
	if err != nil || a != b {
		t.Errorf("no blank nodes: %v", err)
	}
	// Look-alike blank nodes need the N-degree step, which the SHA-384
	// variant refuses.
	same := map[string]any{"@context": []any{vcV2, examplesV2}, "id": "urn:x", "items": []any{map[string]any{"a": "b"}, map[string]any{"a": "b"}}}
	if _, err := p.CanonicalizeSHA384(ctx, same); !errors.Is(err, ErrAmbiguousSHA384) {
		t.Errorf("look-alike blank nodes: err = %v", err)
	}
}

func TestCanonicalizeDoesNotModifyInput(t *testing.T) {
	doc := readJSON(t, testvectors.Path(t, "eddsa", "TestVectors", "employmentAuth.json"))
	before, _ := json.Marshal(doc)
	for range 2 {
		if _, err := Canonicalize(context.Background(), doc); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := json.Marshal(doc)
	if !bytes.Equal(before, after) {
		t.Fatal("Canonicalize modified its input")
	}
}

// Go values that are not what encoding/json produces are normalized
// through JSON rather than misread.
func TestForeignGoValues(t *testing.T) {
	ctx := context.Background()
	plain := map[string]any{"@context": []any{vcV2, examplesV2}, "id": "urn:x", "type": []any{"VerifiableCredential"}, "n": float64(5)}
	foreign := map[string]any{"@context": []string{vcV2, examplesV2}, "id": "urn:x", "type": []string{"VerifiableCredential"}, "n": 5}
	a, err := Canonicalize(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Canonicalize(ctx, foreign)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("foreign values: got\n%s\nwant\n%s", b, a)
	}
	if _, err := Canonicalize(ctx, map[string]any{"@context": vcV2, "x": make(chan int)}); !errors.Is(err, ErrInvalidDocument) {
		t.Errorf("channel value: err = %v, want ErrInvalidDocument", err)
	}
	if _, err := Canonicalize(ctx, nil); !errors.Is(err, ErrInvalidDocument) {
		t.Errorf("nil: err = %v, want ErrInvalidDocument", err)
	}
}

func TestSafeMode(t *testing.T) {
	ctx := context.Background()
	base := func() map[string]any {
		return map[string]any{
			"@context":          []any{vcV2},
			"id":                "urn:uuid:1",
			"type":              []any{"VerifiableCredential"},
			"issuer":            "did:example:issuer",
			"validFrom":         "2024-01-01T00:00:00Z",
			"credentialSubject": map[string]any{"id": "did:example:subject"},
		}
	}
	if _, err := Canonicalize(ctx, base()); err != nil {
		t.Fatalf("valid document: %v", err)
	}
	cases := []struct {
		name   string
		modify func(map[string]any)
		want   error
	}{
		{"undefined top-level property", func(d map[string]any) { d["favoriteColor"] = "blue" }, ErrUndefinedTerm},
		{"undefined nested property", func(d map[string]any) {
			d["credentialSubject"].(map[string]any)["degree"] = "MSc"
		}, ErrUndefinedTerm},
		{"undefined type", func(d map[string]any) { d["type"] = []any{"VerifiableCredential", "AlumniCredential"} }, ErrUndefinedTerm},
		{"undefined nested type", func(d map[string]any) { d["credentialSubject"].(map[string]any)["type"] = "Person" }, ErrUndefinedTerm},
		{"relative id", func(d map[string]any) { d["id"] = "credential-1" }, ErrRelativeIRI},
		{"relative issuer", func(d map[string]any) { d["issuer"] = "issuer-1" }, ErrRelativeIRI},
		{"redefine protected term", func(d map[string]any) {
			d["@context"] = []any{vcV2, map[string]any{"name": "https://evil.example/name"}}
		}, ErrProtectedTermRedefinition},
		{"nullify protected context", func(d map[string]any) { d["@context"] = []any{vcV2, nil} }, ErrProtectedTermRedefinition},
		{"no context", func(d map[string]any) { delete(d, "@context") }, ErrUndefinedTerm},
	}
	for _, c := range cases {
		d := base()
		c.modify(d)
		if _, err := Canonicalize(ctx, d); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if _, err := Expand(ctx, d); !errors.Is(err, c.want) {
			t.Errorf("%s (Expand): err = %v, want %v", c.name, err, c.want)
		}
		if err := Check(ctx, d); !errors.Is(err, c.want) {
			t.Errorf("%s (Check): err = %v, want %v", c.name, err, c.want)
		}
	}
	// The examples context's @vocab defines every term: no error.
	d := base()
	d["@context"] = []any{vcV2, examplesV2}
	d["favoriteColor"] = "blue"
	d["type"] = []any{"VerifiableCredential", "AlumniCredential"}
	if _, err := Canonicalize(ctx, d); err != nil {
		t.Errorf("terms defined by @vocab: %v", err)
	}
}

// The sentinel @vocab changes nothing when every term is defined: expansion
// equals plain json-gold expansion of the same document.
func TestSentinelDoesNotChangeExpansion(t *testing.T) {
	doc := readJSON(t, testvectors.Path(t, "eddsa", "TestVectors", "employmentAuth.json"))
	got, err := Expand(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	want := plainExpand(t, doc)
	if !reflect.DeepEqual(got, want) {
		t.Error("expansion with the sentinel differs from plain expansion")
	}
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	p := newProcessor(t, WithLimits(Limits{MaxBytes: 4096, MaxDepth: 8, MaxNodes: 40, MaxBlankNodes: 10}))
	withSubject := func(s any) map[string]any {
		return map[string]any{"@context": []any{vcV2, examplesV2}, "id": "urn:x", "credentialSubject": s}
	}
	big := withSubject(map[string]any{"name": strings.Repeat("x", 5000)})
	if _, err := p.Canonicalize(ctx, big); !errors.Is(err, ErrDocumentTooLarge) {
		t.Errorf("large: err = %v", err)
	}
	var deep any = "leaf"
	for range 10 {
		deep = map[string]any{"next": deep}
	}
	if _, err := p.Canonicalize(ctx, withSubject(deep)); !errors.Is(err, ErrDocumentTooDeep) {
		t.Errorf("deep: err = %v", err)
	}
	var many []any
	for i := range 25 {
		many = append(many, "x")
		many = append(many, map[string]any{"id": fmt.Sprintf("urn:n:%d", i)})
	}
	if _, err := p.Canonicalize(ctx, withSubject(map[string]any{"items": many})); !errors.Is(err, ErrTooManyNodes) {
		t.Errorf("many nodes: err = %v", err)
	}
	var blanks []any
	for i := range 12 {
		blanks = append(blanks, map[string]any{"n": float64(i)})
	}
	if _, err := p.Canonicalize(ctx, withSubject(map[string]any{"items": blanks})); !errors.Is(err, ErrTooManyBlankNodes) {
		t.Errorf("many blank nodes: err = %v", err)
	}
	// Identical leaves are cheap and allowed.
	var same []any
	for range 8 {
		same = append(same, map[string]any{"action": "read"})
	}
	if _, err := Canonicalize(ctx, withSubject(map[string]any{"scopes": same})); err != nil {
		t.Errorf("identical leaf blank nodes: %v", err)
	}
}

// poisonDoc links n blank nodes of identical shape to each other: RDFC-1.0
// explores (n-1)! permutations per node, recursively.
func poisonDoc(n int) map[string]any {
	var graph []any
	for i := range n {
		var links []any
		for j := range n {
			if j != i {
				links = append(links, map[string]any{"@id": fmt.Sprintf("_:b%d", j)})
			}
		}
		graph = append(graph, map[string]any{"@id": fmt.Sprintf("_:b%d", i), "link": links})
	}
	return map[string]any{"@context": []any{vcV2, examplesV2}, "@graph": graph}
}

func TestPoisonDocumentRefusedFast(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{8, 12, 40} {
		start := time.Now()
		_, err := Canonicalize(ctx, poisonDoc(n))
		elapsed := time.Since(start)
		if !errors.Is(err, ErrAmbiguousBlankNodes) && !(n > 12 && errors.Is(err, ErrTooManyNodes)) {
			t.Errorf("poison n=%d: err = %v, want ErrAmbiguousBlankNodes", n, err)
		}
		if elapsed > fastLimit() {
			t.Errorf("poison n=%d refused after %v, want well under a second", n, elapsed)
		}
	}
	// A small clique is within the limit and canonicalizes quickly.
	if _, err := Canonicalize(ctx, poisonDoc(3)); err != nil {
		t.Errorf("3 linked blank nodes: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	doc := readJSON(t, testvectors.Path(t, "eddsa", "TestVectors", "unsigned.json"))
	if _, err := Canonicalize(ctx, doc); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestConcurrentCanonicalize(t *testing.T) {
	p := newProcessor(t)
	doc := readJSON(t, testvectors.Path(t, "eddsa", "TestVectors", "employmentAuth.json"))
	want := readText(t, testvectors.Path(t, "eddsa", "TestVectors", "eddsa-rdfc-2022", "employ", "canonDocDataInt.txt"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				got, err := p.Canonicalize(context.Background(), doc)
				if err != nil || got != want {
					t.Errorf("concurrent canonicalize: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkCanonicalizeVC(b *testing.B) {
	p := newProcessor(b)
	doc := readJSON(b, testvectors.Path(b, "eddsa", "TestVectors", "unsigned.json"))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Canonicalize(ctx, doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCanonicalizeVCPlainJSONGold is the same work with json-gold
// alone (no cached contexts, no limits, no safe mode), for comparison.
func BenchmarkCanonicalizeVCPlainJSONGold(b *testing.B) {
	doc := readJSON(b, testvectors.Path(b, "eddsa", "TestVectors", "unsigned.json"))
	b.ReportAllocs()
	for b.Loop() {
		plainCanonicalize(b, doc)
	}
}

// fastLimit is how long refusing a poison document may take.
func fastLimit() time.Duration {
	if raceEnabled {
		return 2 * time.Second
	}
	return 200 * time.Millisecond
}
