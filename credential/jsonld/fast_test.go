package jsonld

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agentid/agentid/internal/jsonvalue"
	"github.com/agentid/agentid/internal/testvectors"
	"github.com/agentid/agentid/schemas"
)

// diffOutcome is what the differential check saw for one document.
type diffOutcome int

const (
	diffFast     diffOutcome = iota // the fast path answered, identically to json-gold
	diffFallback                    // the fast path declined
)

// differential canonicalizes doc on the fast path and on json-gold, with
// SHA-256 and with SHA-384, and fails t unless the fast path declined or
// agreed byte for byte (or failed with the same error).
func differential(t testing.TB, p *Processor, doc map[string]any) diffOutcome {
	t.Helper()
	ctx := context.Background()
	outcome := diffFast
	// For a document json-gold gets wrong (a VC 2.0 presentation's
	// embedded graphs), json-gold runs on the oracle's rewrite, which
	// computes what JSON-LD 1.1 does (TestGraphOracleMatchesJSONLD11).
	goldDoc := doc
	if usesGraphScopedTerm(doc) {
		goldDoc = graphOracle(doc)
	}
	for _, v := range []struct {
		name string
		fast func() (string, error)
		gold func() (string, error)
	}{
		{"SHA-256", func() (string, error) { return p.canonicalizeFast(ctx, doc, sha256.New()) },
			func() (string, error) { return p.canonicalizeJSONGold(ctx, goldDoc) }},
		{"SHA-384", func() (string, error) { return p.canonicalizeFast(ctx, doc, sha512.New384()) },
			func() (string, error) { return p.canonicalizeSHA384JSONGold(ctx, goldDoc) }},
	} {
		fast, fastErr := v.fast()
		if errors.Is(fastErr, errFallback) {
			outcome = diffFallback
			continue
		}
		gold, goldErr := v.gold()
		switch {
		case fastErr != nil && (goldErr == nil || errorClass(goldErr) != errorClass(fastErr)):
			t.Fatalf("%s: fast path error %v, json-gold %v\ndocument: %s", v.name, fastErr, goldErr, mustJSON(doc))
		case fastErr == nil && goldErr != nil:
			t.Fatalf("%s: fast path succeeded, json-gold failed: %v\nfast:\n%s\ndocument: %s", v.name, goldErr, fast, mustJSON(doc))
		case fast != gold:
			t.Fatalf("%s: fast path differs from json-gold\nfast:\n%s\njson-gold:\n%s\ndocument: %s", v.name, fast, gold, mustJSON(doc))
		}
	}
	return outcome
}

// errorClass is the named error err wraps. The fast path fails only where
// both paths check the document first (limits, context URLs); with two
// faults, which one that check meets first depends on map order, so the
// messages may differ but not the class.
func errorClass(err error) error {
	for _, e := range []error{ErrInvalidDocument, ErrDocumentTooLarge, ErrDocumentTooDeep, ErrTooManyNodes,
		ErrTooManyBlankNodes, ErrAmbiguousBlankNodes, ErrUndefinedTerm, ErrRelativeIRI, ErrProtectedTermRedefinition,
		ErrContextNotAllowed, ErrAmbiguousSHA384, ErrInvalidJSONLD, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, e) {
			return e
		}
	}
	return err
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// vectorDocuments returns every JSON-LD document among the shared vectors
// (Data Integrity, status list, VC-JOSE-COSE credentials), plus each signed
// one without its proof and each proof as a proof configuration.
func vectorDocuments(t testing.TB) map[string]map[string]any {
	t.Helper()
	docs := map[string]map[string]any{}
	for _, dir := range []string{"eddsa", "ecdsa", "bitstring-status-list/spec-examples", "vc-jose-cose"} {
		root := testvectors.Path(t, dir)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var m map[string]any
			if json.Unmarshal(data, &m) != nil || m["@context"] == nil {
				return nil
			}
			docs[path] = m
			if proof, ok := m["proof"].(map[string]any); ok {
				bare := map[string]any{}
				for k, v := range m {
					if k != "proof" {
						bare[k] = v
					}
				}
				docs[path+"#without-proof"] = bare
				cfg := map[string]any{}
				for k, v := range proof {
					if k != "proofValue" {
						cfg[k] = v
					}
				}
				if cfg["@context"] == nil {
					cfg["@context"] = m["@context"]
				}
				docs[path+"#proof-config"] = cfg
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return docs
}

// Every vector document: the fast path reproduces json-gold, and it is the
// fast path (not the fallback) that handles the Data Integrity vectors.
func TestFastPathVectors(t *testing.T) {
	p := newProcessor(t)
	fast, fallback := 0, 0
	for name, doc := range vectorDocuments(t) {
		switch differential(t, p, doc) {
		case diffFast:
			fast++
		case diffFallback:
			fallback++
			proof, _ := doc["proof"].(map[string]any)
			if strings.Contains(name, "TestVectors") && proof["@context"] == nil {
				t.Errorf("%s: Data Integrity vector fell back to json-gold", name)
			}
		}
	}
	t.Logf("vector documents: %d on the fast path, %d fell back", fast, fallback)
	if fast < 20 {
		t.Errorf("only %d vector documents on the fast path", fast)
	}
}

// Generated documents over the embedded contexts: nested objects, arrays,
// typed literals, numbers, booleans, nulls, blank node ids, shared ids,
// @graph containers (proof), @json, @value with @language, @list, inline
// and nested contexts, undefined terms, relative and invalid IRIs.
func TestFastPathDifferential(t *testing.T) {
	p := newProcessor(t)
	n := 3000
	if testing.Short() {
		n = 300
	}
	counts := map[diffOutcome]int{}
	for i := range n {
		g := &docGen{r: rand.New(rand.NewPCG(uint64(i), 42))}
		counts[differential(t, p, g.document())]++
	}
	t.Logf("generated documents: %d on the fast path, %d fell back", counts[diffFast], counts[diffFallback])
	if counts[diffFast] < n/4 {
		t.Errorf("only %d of %d generated documents on the fast path", counts[diffFast], n)
	}
}

// The fast path's caches are shared: concurrent canonicalizations agree
// (run with -race).
func TestFastPathConcurrent(t *testing.T) {
	p := newProcessor(t)
	docs := make([]map[string]any, 64)
	want := make([]string, len(docs))
	for i := range docs {
		docs[i] = (&docGen{r: rand.New(rand.NewPCG(uint64(i), 7))}).document()
		want[i], _ = p.canonicalizeJSONGold(context.Background(), docs[i])
	}
	q := newProcessor(t) // fresh caches, filled concurrently
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range docs {
				i := (i + w*16) % len(docs)
				got, err := q.Canonicalize(context.Background(), docs[i])
				if err == nil && got != want[i] {
					t.Errorf("document %d: concurrent result differs", i)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzCanonicalizeDifferential compares the fast path with json-gold, for
// canonicalization and for safe-mode Check, on documents drawn from the
// input: a JSON object when it starts with '{' (the seeds include every
// fixture presentation), a generated presentation when it starts with 'P',
// any other generated document otherwise.
func FuzzCanonicalizeDifferential(f *testing.F) {
	for i := range 16 {
		var seed [16]byte
		binary.LittleEndian.PutUint64(seed[:], uint64(i)*0x9e3779b97f4a7c15)
		f.Add(seed[:])
	}
	for _, seed := range presentationSeeds(f) {
		f.Add(seed)
	}
	p := newProcessor(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc map[string]any
		switch {
		case len(data) > 0 && data[0] == '{':
			if json.Unmarshal(data, &doc) != nil || doc == nil {
				return
			}
		case len(data) > 0 && data[0] == 'P':
			doc = (&docGen{bytes: data[1:]}).presentation()
		default:
			doc = (&docGen{bytes: data}).document()
		}
		differential(t, p, doc)
		checkDifferential(t, p, doc)
	})
}

// docGen generates small JSON-LD documents over the embedded contexts,
// drawing its choices from r or, for fuzzing, from bytes.
type docGen struct {
	r     *rand.Rand
	bytes []byte
	pos   int
	ids   []string
	depth int
	clean bool // only constructs the fast path handles (it may still decline)
}

func (g *docGen) intn(n int) int {
	if n <= 1 {
		return 0
	}
	if g.r != nil {
		return g.r.IntN(n)
	}
	if g.pos >= len(g.bytes) {
		return 0
	}
	b := g.bytes[g.pos]
	g.pos++
	return int(b) % n
}

func pick[T any](g *docGen, xs ...T) T { return xs[g.intn(len(xs))] }

var genContexts = [][]any{
	{vcV2},
	{vcV2, examplesV2},
	{vcV2, examplesV2},
	{vcV2, schemas.ContextURL},
	{vcV2, "https://w3id.org/security/data-integrity/v2"},
	{"https://www.w3.org/2018/credentials/v1", "https://www.w3.org/2018/credentials/examples/v1"},
	{"https://www.w3.org/2018/credentials/v1", "https://w3id.org/security/data-integrity/v2"},
	{vcV2, "https://www.w3.org/ns/credentials/undefined-terms/v2"},
	{"https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"},
}

func (g *docGen) document() map[string]any {
	g.clean = g.intn(2) == 0
	doc := g.object(true)
	var ctx any = pick(g, genContexts...)
	if g.clean {
		ctx = pick(g, []any{vcV2, examplesV2}, []any{vcV2, examplesV2, schemas.ContextURL})
	}
	switch g.intn(20) {
	case 0:
		ctx = append(ctx.([]any)[:len(ctx.([]any)):len(ctx.([]any))], map[string]any{"localTerm": "https://example.org/local#term"})
	case 1:
		ctx = ctx.([]any)[0]
	}
	doc["@context"] = ctx
	return doc
}

var (
	genTypes = []string{"VerifiableCredential", "VerifiablePresentation", "DataIntegrityProof", "BitstringStatusListEntry",
		"ExampleDegreeCredential", "Person", "AgentIdentityCredential", "Agent", "JsonSchema", "https://example.org/T", "UndefinedType", "_:t"}
	genKeys = []string{"id", "type", "issuer", "validFrom", "validUntil", "credentialSubject", "credentialStatus",
		"credentialSchema", "evidence", "name", "description", "proof", "cryptosuite", "created", "proofPurpose",
		"verificationMethod", "proofValue", "challenge", "degree", "alumniOf", "favoriteColor", "statusPurpose",
		"statusListIndex", "statusListCredential", "jsonSchema", "holder", "verifiableCredential", "operator",
		"principal", "scopes", "https://example.org/p", "ex:thing", "@id", "@type", "@foo", "_:p", "previousProof",
		"termsOfUse", "relatedResource", "digestSRI", "controller", "publicKeyMultibase", "assertionMethod"}
	genStrings = []string{"", "plain", "line\nbreak", `quote " and \ backslash`, "tab\there", "ünïcødé ✓", "2024-01-01T00:00:00Z",
		"did:example:123", "urn:uuid:1234", "https://example.org/a", "http://exa mple.org/", "relative/path", "_:b1", "_:b2",
		"#frag", "mailto:a@example.org", "https://example.org/x#y", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
		"assertionMethod", "revocation", "carriage\rreturn", "http://localhost:8080/p"}
)

func (g *docGen) value() any {
	if g.clean {
		switch g.intn(8) {
		case 0, 1, 2:
			return pick(g, cleanStrings...)
		case 3:
			return pick[any](g, float64(0), float64(5), float64(-3), float64(1.5), float64(3.0), float64(-0.25), float64(1e20))
		case 4:
			return g.intn(2) == 0
		case 5:
			n := g.intn(4)
			arr := make([]any, 0, n)
			for range n {
				if g.depth < 4 && g.intn(2) == 0 {
					arr = append(arr, g.object(false))
				} else {
					arr = append(arr, pick(g, cleanStrings...))
				}
			}
			return arr
		default:
			if g.depth < 4 {
				return g.object(false)
			}
			return "deep"
		}
	}
	switch g.intn(16) {
	case 0, 1, 2, 3, 4:
		return pick(g, genStrings...)
	case 5:
		return pick[any](g, float64(0), float64(5), float64(-3), float64(1.5), float64(1e21), float64(3.0), float64(-0.25), float64(1<<53+2))
	case 6:
		return g.intn(2) == 0
	case 7:
		return nil
	case 8, 9, 10:
		if g.depth < 4 {
			return g.object(false)
		}
		return "deep"
	case 11:
		n := g.intn(4)
		arr := make([]any, 0, n)
		for range n {
			arr = append(arr, g.value())
		}
		return arr
	case 12:
		return map[string]any{"@value": pick(g, genStrings...), "@language": pick(g, "en", "fr-CA", "EN", "bad lang")}
	case 13:
		return map[string]any{"@list": []any{pick(g, genStrings...), float64(1)}}
	case 14:
		if len(g.ids) > 0 {
			return map[string]any{"id": pick(g, g.ids...)}
		}
		return map[string]any{"@value": "x", "@type": pick(g, "http://www.w3.org/2001/XMLSchema#dateTime", "https://example.org/dt", "rel")}
	default:
		return []any{pick(g, genStrings...), []any{"nested"}}
	}
}

var (
	cleanStrings = []string{"", "plain", "line\nbreak", `quote " and \ backslash`, "tab\there", "ünïcødé ✓", "2024-01-01T00:00:00Z",
		"did:example:123", "urn:uuid:1234", "https://example.org/a", "_:b1", "_:b2", "mailto:a@example.org", "revocation",
		"carriage\rreturn", "https://example.org/x#y"}
	cleanTypes = []string{"VerifiableCredential", "VerifiablePresentation", "DataIntegrityProof", "BitstringStatusListEntry",
		"ExampleDegreeCredential", "https://example.org/T"}
	cleanKeys = []string{"issuer", "validFrom", "validUntil", "credentialSubject", "credentialStatus",
		"credentialSchema", "evidence", "name", "description", "proof", "cryptosuite", "created", "proofPurpose",
		"verificationMethod", "proofValue", "degree", "alumniOf", "statusPurpose", "statusListIndex", "statusListCredential",
		"holder", "verifiableCredential", "https://example.org/p", "termsOfUse", "relatedResource", "previousProof"}
)

func (g *docGen) object(top bool) map[string]any {
	g.depth++
	defer func() { g.depth-- }()
	if g.clean {
		obj := map[string]any{}
		if g.intn(2) == 0 {
			id := pick(g, "urn:uuid:1", "did:example:abc", "https://example.org/c/1", "_:b1", "_:b2", "urn:uuid:2")
			obj["id"] = id
		}
		if g.intn(3) > 0 {
			n := 1 + g.intn(2)
			ts := make([]any, 0, n)
			for range n {
				ts = append(ts, pick(g, cleanTypes...))
			}
			obj["type"] = ts
		}
		n := g.intn(5)
		if top {
			n += 2
		}
		for range n {
			obj[pick(g, cleanKeys...)] = g.value()
		}
		return obj
	}
	obj := map[string]any{}
	if g.intn(3) > 0 {
		id := pick(g, "urn:uuid:1", "did:example:abc", "https://example.org/c/1", "_:b1", "_:b2", "relative", "http://exa mple/", "did:example:abc")
		obj["id"] = id
		g.ids = append(g.ids, id)
	}
	switch g.intn(4) {
	case 0:
	case 1:
		obj["type"] = pick(g, genTypes...)
	default:
		n := 1 + g.intn(3)
		ts := make([]any, 0, n)
		for range n {
			ts = append(ts, pick(g, genTypes...))
		}
		obj["type"] = ts
	}
	n := g.intn(6)
	if top {
		n += 2
	}
	for range n {
		obj[pick(g, genKeys...)] = g.value()
	}
	if g.intn(12) == 0 && !top {
		obj["@context"] = map[string]any{"nestedTerm": "https://example.org/nested"}
	}
	if g.intn(10) == 0 {
		obj["jsonSchema"] = map[string]any{"a": []any{float64(1), "b"}, "c": nil}
	}
	return obj
}

// checkDifferential runs Check's fast path and Expand on doc and fails t
// unless the fast path declined or answered as Expand does (both succeed,
// or both fail with the same error). It reports whether the fast path
// answered, and whether doc passed.
func checkDifferential(t testing.TB, p *Processor, doc map[string]any) (fast, ok bool) {
	t.Helper()
	ctx := context.Background()
	fastErr := p.checkFast(ctx, doc)
	// The check-only walk declines exactly what the quad-building walk
	// declines.
	if quadErr := quadCheck(p, ctx, doc); (fastErr == nil) != (quadErr == nil) ||
		errors.Is(fastErr, errFallback) != errors.Is(quadErr, errFallback) {
		t.Fatalf("check-only walk: %v, quad-building walk: %v\ndocument: %s", fastErr, quadErr, mustJSON(doc))
	}
	_, goldErr := p.expand(ctx, doc)
	// Which error json-gold's path reports first for a document with two
	// faults depends on map order; whether it fails does not.
	if err := p.Check(ctx, doc); (err == nil) != (goldErr == nil) {
		t.Fatalf("Check: %v, Expand: %v\ndocument: %s", err, goldErr, mustJSON(doc))
	}
	if errors.Is(fastErr, errFallback) {
		return false, goldErr == nil
	}
	switch {
	case fastErr == nil && goldErr != nil:
		t.Fatalf("fast check accepted a document Expand refuses: %v\ndocument: %s", goldErr, mustJSON(doc))
	case fastErr != nil && (goldErr == nil || errorClass(fastErr) != errorClass(goldErr)):
		t.Fatalf("fast check error %v, Expand %v\ndocument: %s", fastErr, goldErr, mustJSON(doc))
	}
	return true, goldErr == nil
}

// quadCheck is checkFast building the quads (as Canonicalize does) rather
// than walking in check mode: the reference the check-only walk is held to.
func quadCheck(p *Processor, ctx context.Context, doc map[string]any) (err error) {
	defer declinePanic(&err)
	doc, err = p.prepare(ctx, doc)
	if err != nil {
		return err
	}
	if _, cacheable := contextKey(doc["@context"]); !cacheable {
		return errFallback
	}
	active, err := p.activeContext(doc["@context"])
	if err != nil {
		return errFallback
	}
	b, err := fastQuads(active, doc)
	if err == nil {
		b.release()
	}
	return err
}

// Safe-mode checking on the fast path agrees with Expand on the vectors,
// the W3C VC Data Model 2.0 suite fixtures and generated documents (among
// them undefined terms, relative IRIs, inline and nested contexts).
func TestCheckDifferential(t *testing.T) {
	p := newProcessor(t)
	docs := vectorDocuments(t)
	suite, err := filepath.Glob(filepath.Join("..", "testdata", "vcdm2-suite", "*.json"))
	if err != nil || len(suite) < 50 {
		t.Fatalf("W3C VCDM 2.0 fixtures: %d files, %v", len(suite), err)
	}
	for _, path := range suite {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if json.Unmarshal(data, &m) == nil {
			docs[path] = m
		}
	}
	fast, fastRefused, total := 0, 0, 0
	check := func(doc map[string]any) {
		total++
		f, ok := checkDifferential(t, p, doc)
		if f {
			fast++
			if !ok {
				fastRefused++
			}
		}
	}
	for _, doc := range docs {
		check(doc)
		// Each with an undefined property added, at the top and in each
		// nested object: the fast path must never let one through.
		bad := jsonvalue.CloneObject(doc)
		bad["agentidUndefinedTerm"] = "x"
		check(bad)
		for k, v := range doc {
			if obj, ok := v.(map[string]any); ok && k != "@context" {
				bad := jsonvalue.CloneObject(doc)
				inner := jsonvalue.CloneObject(obj)
				inner["agentidUndefinedTerm"] = "x"
				bad[k] = inner
				check(bad)
			}
		}
	}
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := range n {
		g := &docGen{r: rand.New(rand.NewPCG(uint64(i), 7))}
		check(g.document())
	}
	t.Logf("%d documents: %d answered on the fast path (%d of them refused by both)", total, fast, fastRefused)
	if fast < total/4 {
		t.Errorf("only %d of %d documents on the fast path", fast, total)
	}
}
