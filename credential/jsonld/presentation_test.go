package jsonld

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/agentid/agentid/internal/jsonvalue"
	"github.com/agentid/agentid/schemas"
)

const (
	vcV1          = "https://www.w3.org/2018/credentials/v1"
	dataIntegrity = "https://w3id.org/security/data-integrity/v2"
)

// credentialFixtures returns every credential among the shared vectors, the
// W3C VC Data Model 2.0 suite fixtures and the repository's own examples:
// documents whose type includes VerifiableCredential. Presentations among
// them are returned separately.
func credentialFixtures(t testing.TB) (creds, presentations map[string]map[string]any) {
	t.Helper()
	all := vectorDocuments(t)
	var paths []string
	for _, pattern := range []string{
		filepath.Join("..", "testdata", "vcdm2-suite", "*.json"),
		filepath.Join("..", "..", "schemas", "testdata", "*.json"),
		filepath.Join("..", "..", "bench", "credential.json"),
	} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if json.Unmarshal(data, &m) == nil && m["@context"] != nil {
			all[path] = m
		}
	}
	creds, presentations = map[string]map[string]any{}, map[string]map[string]any{}
	for name, doc := range all {
		switch {
		case hasType(doc, "VerifiablePresentation"):
			presentations[name] = doc
		case hasType(doc, "VerifiableCredential"):
			creds[name] = doc
		}
	}
	if len(creds) < 60 || len(presentations) < 15 {
		t.Fatalf("fixtures: %d credentials, %d presentations", len(creds), len(presentations))
	}
	return creds, presentations
}

func hasType(doc map[string]any, typ string) bool {
	switch t := doc["type"].(type) {
	case string:
		return t == typ
	case []any:
		return slices.Contains(t, any(typ))
	}
	return false
}

// isV1 reports whether a credential's first context is the VC 1.1 one.
func isV1(doc map[string]any) bool {
	switch c := doc["@context"].(type) {
	case string:
		return c == vcV1
	case []any:
		return len(c) > 0 && c[0] == vcV1
	}
	return false
}

// wrap returns a presentation of creds in the VP context matching the
// first credential's version, with a Data Integrity proof when withProof.
func wrap(withProof bool, creds ...map[string]any) map[string]any {
	vcs := make([]any, len(creds))
	for i, c := range creds {
		vcs[i] = jsonvalue.CloneObject(c)
	}
	vp := map[string]any{
		"@context":             []any{vcV2},
		"type":                 []any{"VerifiablePresentation"},
		"holder":               "did:example:holder",
		"verifiableCredential": vcs,
	}
	if isV1(creds[0]) {
		vp["@context"] = []any{vcV1}
		if withProof {
			vp["@context"] = []any{vcV1, dataIntegrity}
		}
	}
	if withProof {
		vp["proof"] = map[string]any{
			"type":               "DataIntegrityProof",
			"cryptosuite":        "eddsa-rdfc-2022",
			"created":            "2026-11-29T10:00:00Z",
			"verificationMethod": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
			"proofPurpose":       "authentication",
			"challenge":          "c-1",
			"domain":             "https://rp.example",
			"proofValue":         "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a22gkfUKods5D2UAUL5n2Brbx",
		}
	}
	return vp
}

// proofViews are the documents a Data Integrity proof over doc
// canonicalizes: doc without its proof, and the proof configuration (the
// proof without proofValue, in doc's @context).
func proofViews(doc map[string]any) []map[string]any {
	proof, ok := doc["proof"].(map[string]any)
	if !ok {
		return nil
	}
	bare := map[string]any{}
	for k, v := range doc {
		if k != "proof" {
			bare[k] = v
		}
	}
	cfg := map[string]any{"@context": doc["@context"]}
	for k, v := range proof {
		if k != "proofValue" {
			cfg[k] = v
		}
	}
	return []map[string]any{bare, cfg}
}

// tally counts differential outcomes by fixture kind.
type tally struct{ fast, fallback int }

func (c *tally) add(o diffOutcome) {
	if o == diffFast {
		c.fast++
	} else {
		c.fallback++
	}
}

// Every credential fixture wrapped in a presentation (VC 1.1 credentials in
// a VC 1.1 presentation), with and without a presentation proof, alone and
// (every fourth) with others, and every presentation fixture: the fast path
// reproduces json-gold byte for byte or declines, and safe-mode Check
// answers as Expand does, also with an undefined term added at each level.
func TestFastPathPresentationFixtures(t *testing.T) {
	p := newProcessor(t)
	creds, presentations := credentialFixtures(t)
	names := make([]string, 0, len(creds))
	for name := range creds {
		names = append(names, name)
	}
	sort.Strings(names)
	var canon, check tally
	run := func(doc map[string]any) {
		for _, d := range append([]map[string]any{doc}, proofViews(doc)...) {
			canon.add(differential(t, p, d))
		}
		f, _ := checkDifferential(t, p, doc)
		if f {
			check.fast++
		} else {
			check.fallback++
		}
		for _, bad := range undefinedTermVariants(doc) {
			checkDifferential(t, p, bad)
		}
	}
	for i, name := range names {
		c := creds[name]
		// The presentation, and (proofViews) the presentation without its
		// proof and the proof configuration.
		run(wrap(true, c))
		if i%4 != 0 {
			continue
		}
		// With the next two credentials of the same version, one of them
		// twice.
		others := []map[string]any{c}
		for j := 1; len(others) < 3 && j < len(names); j++ {
			o := creds[names[(i+j)%len(names)]]
			if isV1(o) == isV1(c) {
				others = append(others, o)
			}
		}
		others = append(others, others[len(others)-1])
		run(wrap(true, others...))
	}
	for _, doc := range presentations {
		run(doc)
	}
	t.Logf("canonicalization: %d fast, %d fell back; Check: %d fast, %d fell back", canon.fast, canon.fallback, check.fast, check.fallback)
	if canon.fast < canon.fallback {
		t.Errorf("only %d of %d presentation documents canonicalized on the fast path", canon.fast, canon.fast+canon.fallback)
	}
}

// undefinedTermVariants returns doc with an undefined property added at the
// top, in each embedded credential and in each credential's subject.
func undefinedTermVariants(doc map[string]any) []map[string]any {
	var out []map[string]any
	bad := jsonvalue.CloneObject(doc)
	bad["agentidUndefinedTerm"] = "x"
	out = append(out, bad)
	vcs, _ := doc["verifiableCredential"].([]any)
	for i := range vcs {
		for _, inSubject := range []bool{false, true} {
			bad := jsonvalue.CloneObject(doc)
			vc, ok := bad["verifiableCredential"].([]any)[i].(map[string]any)
			if !ok {
				continue
			}
			target := vc
			if inSubject {
				if target, ok = vc["credentialSubject"].(map[string]any); !ok {
					continue
				}
			}
			target["agentidUndefinedTerm"] = "x"
			out = append(out, bad)
		}
	}
	return out
}

// The Data Integrity vectors' credentials inside a presentation take the
// fast path, for the presentation, the presentation without its proof and
// the proof configuration, in Canonicalize, CanonicalizeSHA384 and Check:
// a presentation with an embedded credential that carries its own @context
// no longer falls back.
func TestFastPathTakenForPresentations(t *testing.T) {
	p := newProcessor(t)
	ctx := context.Background()
	var docs []map[string]any
	agent := readJSON(t, filepath.Join("..", "..", "schemas", "testdata", "agent-identity.json"))
	proof := wrap(true, agent)["proof"].(map[string]any)
	proof["proofPurpose"] = "assertionMethod"
	delete(proof, "challenge")
	delete(proof, "domain")
	agent["proof"] = proof
	other := jsonvalue.CloneObject(agent)
	other["id"] = "urn:uuid:other"
	other["credentialSubject"].(map[string]any)["id"] = "did:example:other-agent"
	other["proof"].(map[string]any)["created"] = "2026-11-29T11:00:00Z"
	docs = append(docs, wrap(true, agent), wrap(true, agent, other))
	for name, doc := range vectorDocuments(t) {
		proof, _ := doc["proof"].(map[string]any)
		if strings.Contains(name, "TestVectors") && hasType(doc, "VerifiableCredential") && proof["@context"] == nil {
			docs = append(docs, wrap(true, doc))
		}
	}
	if len(docs) < 6 {
		t.Fatalf("only %d presentations", len(docs))
	}
	for _, vp := range docs {
		for _, d := range append([]map[string]any{vp}, proofViews(vp)...) {
			if o := differential(t, p, d); o != diffFast {
				t.Errorf("fell back to json-gold: %s", mustJSON(d))
			}
		}
		if err := p.checkFast(ctx, vp); err != nil {
			t.Errorf("Check fast path: %v\n%s", err, mustJSON(vp))
		}
	}
	// Each embedded credential is a named graph (VC 2.0's
	// verifiableCredential has a @graph container; JSON-LD 1.1 takes it
	// from the active context): the presentation links to the graph's
	// blank node, and the credential's statements are in that graph.
	out, err := p.canonicalizeFast(ctx, proofViews(wrap(true, agent))[0], sha256.New())
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`(?m)^_:c14n\d+ <https://www\.w3\.org/2018/credentials#verifiableCredential> (_:c14n\d+) \.$`).FindStringSubmatch(out)
	if link == nil {
		t.Fatalf("canonical presentation lacks the link to the credential's graph:\n%s", out)
	}
	if !strings.Contains(out, "<urn:uuid:5f2b6c1e-8d2a-4c1b-9a57-3f0e2d9c4b11> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://www.w3.org/2018/credentials#VerifiableCredential> "+link[1]+" .") {
		t.Errorf("the credential's statements are not in graph %s:\n%s", link[1], out)
	}
}

// Embedded contexts the fast path must decline or get exactly right:
// protected-term redefinition (error on both paths), identical
// redefinition, nullification, @propagate, inline contexts, @vocab and
// @base overrides, a context on a lone node reference, a credential
// without its own context under verifiableCredential's null context, type
// aliases introduced by an embedded context, and caching across
// different active contexts.
func TestFastPathEmbeddedContexts(t *testing.T) {
	p := newProcessor(t)
	ctx := context.Background()
	cred := func(c any) map[string]any {
		m := map[string]any{
			"id":                "urn:uuid:c1",
			"type":              []any{"VerifiableCredential"},
			"issuer":            "did:example:issuer",
			"validFrom":         "2024-01-01T00:00:00Z",
			"credentialSubject": map[string]any{"id": "did:example:s", "name": "Alice"},
		}
		if c != nil {
			m["@context"] = c
		}
		return m
	}
	vp := func(c any) map[string]any { return wrap(false, cred(c)) }
	subject := func(c any) map[string]any {
		d := cred([]any{vcV2})
		s := d["credentialSubject"].(map[string]any)
		s["@context"] = c
		s["nick"] = "al"
		return d
	}
	cases := []struct {
		name  string
		doc   map[string]any
		want  diffOutcome
		err   error // of Check, nil for success
		check bool  // Check must be answered on the fast path
	}{
		{"string context", vp(vcV2), diffFast, nil, true},
		{"array context", vp([]any{vcV2, examplesV2}), diffFast, nil, true},
		{"agentid context", vp([]any{vcV2, schemas.ContextURL}), diffFast, nil, true},
		{"inline term", vp([]any{vcV2, map[string]any{"nick": "https://example.org/nick"}}), diffFast, nil, true},
		// json-gold reports a context listed twice in one array as a
		// recursive inclusion.
		{"context listed twice", vp([]any{vcV2, vcV2}), diffFallback, ErrInvalidJSONLD, false},
		{"identical protected redefinition", func() map[string]any {
			d := vp([]any{vcV2})
			d["verifiableCredential"].([]any)[0].(map[string]any)["credentialSubject"].(map[string]any)["@context"] = vcV2
			return d
		}(), diffFast, nil, true},
		{"protected redefinition", vp([]any{vcV2, map[string]any{"name": "https://evil.example/name"}}), diffFallback, ErrProtectedTermRedefinition, false},
		{"protected type redefinition", vp([]any{vcV2, map[string]any{"VerifiableCredential": "https://evil.example/VC"}}), diffFallback, ErrProtectedTermRedefinition, false},
		{"nullification", vp([]any{vcV2, nil}), diffFallback, ErrProtectedTermRedefinition, false},
		{"null context", vp(nil), diffFallback, nil, false},
		{"no context", wrap(false, cred(nil)), diffFallback, nil, false},
		{"propagate", vp([]any{vcV2, map[string]any{"@propagate": false, "nick": "https://example.org/nick"}}), diffFallback, nil, false},
		{"vocab", vp([]any{vcV2, map[string]any{"@vocab": "https://example.org/vocab#"}}), diffFast, nil, true},
		{"base", func() map[string]any {
			d := vp([]any{vcV2, map[string]any{"@base": "https://example.org/base/"}})
			d["verifiableCredential"].([]any)[0].(map[string]any)["id"] = "c/1"
			return d
		}(), diffFast, nil, true},
		{"context on a subject", subject(map[string]any{"nick": "https://example.org/nick"}), diffFast, nil, true},
		{"URL context on a subject", func() map[string]any {
			d := subject(examplesV2)
			delete(d["credentialSubject"].(map[string]any), "nick")
			d["credentialSubject"].(map[string]any)["alumniOf"] = "Example University"
			return d
		}(), diffFast, nil, true},
		{"undefined term under an embedded context", subject(schemas.ContextURL), diffFallback, ErrUndefinedTerm, false},
		{"context on a node reference", func() map[string]any {
			d := cred([]any{vcV2})
			d["issuer"] = map[string]any{"@context": examplesV2, "id": "did:example:issuer"}
			return d
		}(), diffFast, nil, true},
		{"type alias by embedded context", func() map[string]any {
			d := subject(map[string]any{"kind": "@type"})
			s := d["credentialSubject"].(map[string]any)
			delete(s, "nick")
			s["kind"] = "https://example.org/Kind"
			return d
		}(), diffFast, nil, true},
		{"second type key", func() map[string]any {
			d := subject(map[string]any{"kind": "@type"})
			s := d["credentialSubject"].(map[string]any)
			delete(s, "nick")
			s["kind"] = "https://example.org/Kind"
			s["type"] = "https://example.org/Other"
			return d
		}(), diffFallback, nil, false},
		{"empty context array", vp([]any{}), diffFallback, nil, false},
		{"json.Number in context", vp([]any{vcV2, map[string]any{"@version": json.Number("1.1"), "nick": "https://example.org/nick"}}), diffFallback, ErrInvalidJSONLD, false},
		{"@version", vp([]any{vcV2, map[string]any{"@version": 1.1, "nick": "https://example.org/nick"}}), diffFast, nil, true},
		{"VC 1.1 in VC 1.1 presentation", wrap(false, func() map[string]any {
			c := cred([]any{vcV1})
			delete(c, "validFrom")
			c["issuanceDate"] = "2024-01-01T00:00:00Z"
			c["credentialSubject"] = map[string]any{"id": "did:example:s", "https://example.org/p": "x"}
			return c
		}()), diffFast, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := differential(t, p, tc.doc)
			if got != tc.want {
				t.Errorf("outcome %v, want %v", got, tc.want)
			}
			f, ok := checkDifferential(t, p, tc.doc)
			err := p.Check(ctx, tc.doc)
			switch {
			case tc.err == nil && err != nil, tc.err != nil && !errors.Is(err, tc.err):
				t.Errorf("Check: %v, want %v", err, tc.err)
			case ok != (err == nil):
				t.Errorf("checkDifferential ok=%v, Check %v", ok, err)
			case f != tc.check:
				t.Errorf("Check on the fast path: %v, want %v", f, tc.check)
			}
		})
	}
	// A cached embedded context is per active context: the same @context
	// value under a different active context is processed again.
	a := wrap(false, cred([]any{map[string]any{"nick": "https://example.org/a"}, vcV2}))
	b := cred([]any{vcV2})
	b["credentialSubject"].(map[string]any)["@context"] = []any{map[string]any{"nick": "https://example.org/a"}, vcV2}
	b["credentialSubject"].(map[string]any)["nick"] = "x"
	for _, d := range []map[string]any{a, b, a, b} {
		differential(t, p, d)
		checkDifferential(t, p, d)
	}
}

// Generated presentations with one to three embedded credentials of mixed
// contexts (VC 2.0 with the examples, agentid, Data Integrity or inline
// contexts, VC 1.1 in VC 1.1 presentations, and faulty ones): the fast path
// reproduces json-gold or declines, Check answers as Expand does, and the
// well-formed ones are mostly on the fast path.
func TestFastPathPresentationsGenerated(t *testing.T) {
	p := newProcessor(t)
	n := 600
	if testing.Short() || raceEnabled {
		n = 150
	}
	var canon, check tally
	for i := range n {
		g := &docGen{r: rand.New(rand.NewPCG(uint64(i), 99))}
		doc := g.presentation()
		canon.add(differential(t, p, doc))
		if f, _ := checkDifferential(t, p, doc); f {
			check.fast++
		} else {
			check.fallback++
		}
	}
	t.Logf("generated presentations: canonicalization %d fast, %d fell back; Check %d fast, %d fell back",
		canon.fast, canon.fallback, check.fast, check.fallback)
	if canon.fast < n/3 || check.fast < n/3 {
		t.Errorf("too few generated presentations on the fast path: %+v, %+v of %d", canon, check, n)
	}
}

// presentationSeeds are fuzzing seeds: fixture presentations as JSON
// (FuzzCanonicalizeDifferential reads input starting with '{' as a
// document) and generator inputs that start presentations.
func presentationSeeds(t testing.TB) [][]byte {
	creds, presentations := credentialFixtures(t)
	var seeds [][]byte
	add := func(doc map[string]any) {
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	names := make([]string, 0, len(creds))
	for name := range creds {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		if i%4 == 0 {
			add(wrap(i%8 == 0, creds[name]))
		}
	}
	for _, doc := range presentations {
		add(doc)
	}
	for i := range 16 {
		seeds = append(seeds, []byte{'P', byte(i), byte(i * 7), byte(i * 13), 3, 1, 4, 1, 5, 9, 2, 6})
	}
	return seeds
}

// presentation generates a verifiable presentation with one to three
// embedded credentials.
func (g *docGen) presentation() map[string]any {
	g.clean = g.intn(4) > 0
	v1 := g.intn(4) == 0
	vp := map[string]any{"type": pick[any](g, "VerifiablePresentation", []any{"VerifiablePresentation"})}
	switch {
	case v1:
		vp["@context"] = pick[any](g, []any{vcV1}, []any{vcV1, dataIntegrity}, vcV1)
	default:
		vp["@context"] = pick[any](g, []any{vcV2}, vcV2, []any{vcV2, examplesV2}, []any{vcV2, schemas.ContextURL})
	}
	if g.intn(2) == 0 {
		vp["id"] = pick(g, "urn:uuid:vp1", "_:vp", "https://example.org/vp/1")
	}
	if g.intn(3) > 0 {
		vp["holder"] = pick[any](g, "did:example:holder", map[string]any{"id": "did:example:holder"})
	}
	n := 1 + g.intn(3)
	vcs := make([]any, 0, n)
	for range n {
		vcs = append(vcs, g.credential(v1))
	}
	if n == 1 && g.intn(2) == 0 {
		vp["verifiableCredential"] = vcs[0]
	} else {
		vp["verifiableCredential"] = vcs
	}
	if g.intn(2) == 0 && (!v1 || hasContext(vp, dataIntegrity) || !g.clean) {
		vp["proof"] = g.proof("authentication")
	}
	if !g.clean {
		for range g.intn(3) {
			vp[pick(g, genKeys...)] = g.value()
		}
	}
	return vp
}

// credential generates an embedded credential with its own @context. Clean
// credentials use only terms and types their contexts define.
func (g *docGen) credential(v1 bool) map[string]any {
	vc := map[string]any{}
	// The subject's keys and the extra types the context defines.
	keys := []string{"name", "description", "https://example.org/p"}
	extra := []any{"https://example.org/T"}
	switch {
	case v1 && g.intn(4) > 0:
		vc["@context"] = pick[any](g, []any{vcV1}, []any{vcV1, dataIntegrity}, vcV1)
		keys = []string{"https://example.org/p", "https://example.org/q"}
	case g.clean:
		switch g.intn(6) {
		case 0:
			vc["@context"] = pick[any](g, []any{vcV2}, vcV2)
		case 1:
			vc["@context"] = []any{vcV2, examplesV2}
			keys = append(keys, "degree", "alumniOf", "nick", "favoriteColor")
			extra = append(extra, "ExampleDegreeCredential", "ExampleThing")
		case 2:
			vc["@context"] = []any{vcV2, schemas.ContextURL}
			keys = append(keys, "operator", "principal")
			extra = append(extra, "AgentIdentityCredential")
		case 3:
			vc["@context"] = []any{vcV2, examplesV2, schemas.ContextURL}
			keys = append(keys, "operator", "degree", "nick")
			extra = append(extra, "AgentIdentityCredential", "ExampleDegreeCredential")
		case 4:
			vc["@context"] = []any{vcV2, map[string]any{"nick": "https://example.org/nick"}}
			keys = append(keys, "nick")
		default:
			vc["@context"] = []any{vcV2, dataIntegrity}
		}
	default:
		keys = append(keys, "degree", "nick", "operator", "agentidUndefinedTerm")
		extra = append(extra, "ExampleDegreeCredential", "AgentIdentityCredential", "UndefinedType")
		switch g.intn(9) {
		case 0: // no context: verifiableCredential's null context
		case 1:
			vc["@context"] = []any{vcV2, map[string]any{"name": "https://evil.example/name"}}
		case 2:
			vc["@context"] = []any{vcV2, nil}
		case 3:
			vc["@context"] = []any{vcV2, map[string]any{"@propagate": false, "nick": "https://example.org/nick"}}
		case 4:
			vc["@context"] = []any{vcV2, map[string]any{"@vocab": "https://example.org/vocab#"}}
		case 5:
			vc["@context"] = []any{vcV1, vcV2}
		case 6:
			vc["@context"] = []any{vcV2, examplesV2, map[string]any{"degree": map[string]any{"@id": "https://example.org/degree", "@context": map[string]any{"kind": "@type"}}}}
		default:
			vc["@context"] = pick(g, genContexts...)
		}
	}
	if g.intn(4) > 0 {
		vc["id"] = pick(g, "urn:uuid:vc1", "urn:uuid:vc2", "https://example.org/c/1", "_:b1", "did:example:abc")
	}
	types := []any{"VerifiableCredential"}
	if g.intn(2) == 0 {
		types = append(types, pick(g, extra...))
	}
	vc["type"] = types
	vc["issuer"] = pick[any](g, "did:example:issuer", map[string]any{"id": "did:example:issuer2", "name": "Issuer"})
	if v1 {
		vc["issuanceDate"] = "2024-01-01T00:00:00Z"
		if _, ok := vc["issuer"].(map[string]any); ok {
			vc["issuer"] = "did:example:issuer3"
		}
	} else {
		vc["validFrom"] = pick(g, "2024-01-01T00:00:00Z", "2025-06-01T12:00:00Z", "not a date")
	}
	subject := map[string]any{}
	if g.intn(3) > 0 {
		subject["id"] = pick(g, "did:example:s1", "did:example:s2", "_:s")
	}
	for range 1 + g.intn(3) {
		subject[pick(g, keys...)] = g.claim(keys, 0)
	}
	if g.intn(8) == 0 {
		subject["@context"] = pick[any](g, examplesV2, map[string]any{"nick": "https://example.org/nick"}, []any{examplesV2, schemas.ContextURL})
		subject["nick"] = "al"
	}
	vc["credentialSubject"] = subject
	if g.intn(3) == 0 && !v1 {
		vc["credentialStatus"] = map[string]any{"id": "https://example.org/status/3#94567", "type": "BitstringStatusListEntry",
			"statusPurpose": "revocation", "statusListIndex": "94567", "statusListCredential": "https://example.org/status/3"}
	}
	if g.intn(2) == 0 && (!v1 || hasContext(vc, dataIntegrity)) {
		vc["proof"] = g.proof("assertionMethod")
	}
	if !g.clean {
		for range g.intn(3) {
			vc[pick(g, genKeys...)] = g.value()
		}
	}
	return vc
}

// claim generates a claim value: in clean documents only strings, numbers,
// booleans and objects with keys, otherwise anything value generates.
func (g *docGen) claim(keys []string, depth int) any {
	if !g.clean {
		return g.value()
	}
	switch g.intn(6) {
	case 0, 1:
		return pick(g, cleanStrings...)
	case 2:
		return pick[any](g, float64(0), float64(5), float64(-3), float64(1.5), true, false)
	case 3:
		if depth < 3 {
			return []any{pick(g, cleanStrings...), g.claim(keys, 3)}
		}
		return "leaf"
	default:
		if depth >= 3 {
			return "leaf"
		}
		obj := map[string]any{}
		if g.intn(2) == 0 {
			obj["id"] = pick(g, "urn:uuid:o1", "did:example:o2", "_:o3", "https://example.org/o/4")
		}
		for range 1 + g.intn(2) {
			obj[pick(g, keys...)] = g.claim(keys, depth+1)
		}
		return obj
	}
}

func hasContext(doc map[string]any, url string) bool {
	c, _ := doc["@context"].([]any)
	return slices.Contains(c, any(url))
}

func (g *docGen) proof(purpose string) map[string]any {
	p := map[string]any{
		"type":               "DataIntegrityProof",
		"cryptosuite":        pick(g, "eddsa-rdfc-2022", "ecdsa-rdfc-2019"),
		"created":            pick(g, "2026-11-29T10:00:00Z", "2026-11-29T10:00:01Z", "2026-11-29T10:00:02Z", "2026-11-29T10:00:03Z"),
		"verificationMethod": pick(g, "did:example:issuer#key-1", "did:example:issuer#key-2", "did:example:holder#key-1"),
		"proofPurpose":       purpose,
		"proofValue":         "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a22gkfUKods5D2UAUL5n2Brbx",
	}
	if purpose == "authentication" {
		p["challenge"] = "c-1"
		p["domain"] = "https://rp.example"
	}
	return p
}

// Embedded contexts named by documents cannot grow the caches without
// bound: past the inline budget, inline contexts are processed uncached
// (still on the fast path, still exact), and they do not use up the room
// of URL contexts.
func TestEmbeddedContextCacheBounded(t *testing.T) {
	p := newProcessor(t)
	cred := func(c any) map[string]any {
		return map[string]any{
			"@context":          c,
			"type":              []any{"VerifiableCredential"},
			"issuer":            "did:example:issuer",
			"credentialSubject": map[string]any{"id": "did:example:s", "name": "Alice"},
		}
	}
	n := maxInlineTotal + 40
	for i := range n {
		inline := map[string]any{"nick" + strconv.Itoa(i): "https://example.org/nick"}
		if o := differential(t, p, wrap(false, cred([]any{vcV2, inline}))); o != diffFast {
			t.Fatalf("inline context %d fell back", i)
		}
	}
	if got := p.env.inline.Load(); got < int64(maxInlineTotal) {
		t.Errorf("inline budget used %d, want at least %d after %d inline contexts", got, maxInlineTotal, n)
	}
	before := p.env.derived.Load()
	if before > 64 {
		t.Errorf("inline contexts used %d of the URL contexts' budget", before)
	}
	vp := wrap(false, cred([]any{vcV2, examplesV2}))
	if o := differential(t, p, vp); o != diffFast {
		t.Fatal("URL context fell back")
	}
	if p.env.derived.Load() == before {
		t.Error("URL context was not cached after the inline budget ran out")
	}
}

// Documents on which json-gold v0.4.2 panics (a non-string value under the
// empty key, which its expansion takes for the @type key; a non-boolean
// @protected, at the top or in an embedded context) are refused with
// ErrInvalidJSONLD by every entry point, never a panic.
func TestJSONGoldPanicsAreErrors(t *testing.T) {
	p := newProcessor(t)
	ctx := context.Background()
	docs := map[string]map[string]any{
		"empty key":          {"": float64(0)},
		"empty key, no type": {"@context": []any{vcV2}, "issuer": "did:example:i", "": []any{true}},
		"@protected":         {"@context": []any{vcV2, map[string]any{"@protected": "yes", "nick": "https://example.org/nick"}}, "nick": "x"},
		"@protected embedded": wrap(false, map[string]any{
			"@context": []any{vcV2, map[string]any{"@protected": float64(1)}}, "type": "VerifiableCredential",
			"issuer": "did:example:i", "credentialSubject": map[string]any{"id": "did:example:s"},
		}),
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			if _, err := p.canonicalizeFast(ctx, doc, sha256.New()); !errors.Is(err, errFallback) {
				t.Errorf("fast path: %v, want a fallback", err)
			}
			for what, f := range map[string]func() error{
				"Check":              func() error { return p.Check(ctx, doc) },
				"Expand":             func() error { _, err := p.Expand(ctx, doc); return err },
				"Canonicalize":       func() error { _, err := p.Canonicalize(ctx, doc); return err },
				"CanonicalizeSHA384": func() error { _, err := p.CanonicalizeSHA384(ctx, doc); return err },
				"ToRDF":              func() error { _, err := p.ToRDF(ctx, doc); return err },
			} {
				if err := f(); !errors.Is(err, ErrInvalidJSONLD) {
					t.Errorf("%s: %v, want ErrInvalidJSONLD", what, err)
				}
			}
		})
	}
}

// The empty key: json-gold takes it for "no active property" and drops its
// scalar values even where a @vocab defines it; the fast path declines it
// (fuzzing found the fast path emitting the statement).
func TestFastPathDeclinesEmptyKey(t *testing.T) {
	p := newProcessor(t)
	for _, doc := range []map[string]any{
		{"@context": []any{vcV2, examplesV2}, "id": "urn:x", "": ""},
		{"@context": []any{vcV2, examplesV2}, "id": "urn:x", "name": map[string]any{"": "x", "id": "urn:y"}},
		wrap(false, map[string]any{"@context": []any{examplesV2}, "": ""}),
	} {
		if o := differential(t, p, doc); o != diffFallback {
			t.Errorf("fast path took a document with an empty key: %s", mustJSON(doc))
		}
		checkDifferential(t, p, doc)
	}
}
