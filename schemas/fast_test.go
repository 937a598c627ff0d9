package schemas

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Every embedded schema has a fast form, and every pattern it uses has a
// hand-written matcher: otherwise validation is still right, only slow.
func TestFastFormsExist(t *testing.T) {
	all, err := compiled()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range List() {
		b, _ := Schema(in.ID)
		if _, err := fastCompile(b); err != nil {
			t.Errorf("%s: no fast form: %v", in.ID, err)
		}
		if all[in.ID].fast == nil {
			t.Errorf("%s: fast form not used", in.ID)
		}
	}
}

// The fast compiler refuses what it does not know, so that such a schema
// is left to the library alone.
func TestFastCompileRefuses(t *testing.T) {
	for _, s := range []string{
		`{"format": "date-time"}`,
		`{"type": "integer"}`,
		`{"minimum": 1}`,
		`{"const": 1}`,
		`{"enum": [{"a": 1}]}`,
		`{"patternProperties": {"^x": true}}`,
		`{"unevaluatedProperties": false}`,
		`{"$ref": "https://example.com/other.json"}`,
		`{"$ref": "#/$defs/missing"}`,
		`{"properties": {"a": {"$id": "https://example.com/a"}}}`,
		`{"$schema": "http://json-schema.org/draft-07/schema#"}`,
		`{"minItems": 1.5}`,
		`{"minContains": 2, "contains": true}`,
		`{"pattern": "("}`,
		`{"dependentRequired": {"a": ["b"]}}`,
		`[]`,
	} {
		if _, err := fastCompile([]byte(s)); err == nil {
			t.Errorf("%s compiled", s)
		}
	}
	// a $ref cycle compiles, and a run through it that consumes no value
	// ends unsure instead of recursing without end
	n, err := fastCompile([]byte(`{"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}`))
	if err != nil {
		t.Fatal(err)
	}
	if fastValid(n, "x") {
		t.Error("cyclic schema accepted")
	}
}

// fastVerdict runs the fast check alone: its verdict, and whether it was
// sure of it.
func fastVerdict(n *fnode, v any) (ok, sure bool) {
	var r fastRun
	ok = r.valid(n, v)
	return ok && !r.unsure, !r.unsure
}

// libraryValid is the library's verdict alone.
func libraryValid(t testing.TB, id string, v any) bool {
	t.Helper()
	all, err := compiled()
	if err != nil {
		t.Fatal(err)
	}
	return all[id].full.Validate(v) == nil
}

// compare fails if the fast check accepts what the library rejects, or
// (being exact for decoded JSON) disagrees with the library when sure.
func compare(t testing.TB, id string, doc any, what string) (sure bool) {
	t.Helper()
	all, err := compiled()
	if err != nil {
		t.Fatal(err)
	}
	fast, sure := fastVerdict(all[id].fast, doc)
	lib := libraryValid(t, id, doc)
	if fast && !lib {
		b, _ := json.Marshal(doc)
		t.Fatalf("%s: fast check accepts what the library rejects: %s", what, b)
	}
	if sure && fast != lib {
		b, _ := json.Marshal(doc)
		t.Errorf("%s: fast check says %v, library %v: %s", what, fast, lib, b)
	}
	return sure
}

// clone deep-copies a decoded document.
func clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = clone(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = clone(x)
		}
		return l
	}
	return v
}

// pool is the replacement values of the mutation tests: values of every
// JSON type, and strings that match, nearly match or break the schemas'
// constants and patterns.
func pool() []any {
	lits := []string{
		`null`, `true`, `false`, `0`, `1`, `1.0`, `-2.5e3`, `""`, `"x"`, `" "`,
		`"Agent"`, `"Person"`, `"VerifiableCredential"`, `"AgentIdentityCredential"`, `"AgentDelegationCredential"`,
		`"HumanApproval"`, `"JsonSchema"`, `"TPM2"`, `"SoftwareKey"`, `"hardware"`, `"software"`,
		`"https://www.w3.org/ns/credentials/v2"`, `"https://agentid.dev/ns/v1"`, `"https://example.com/x"`,
		`"did:key:z6Mk"`, `"did:web:localhost%3A8080:orgs:acme"`, `"did:key:"`, `"did:web:a::b"`, `"did:web:a:"`,
		`"did:Web:a"`, `"did:web:a%3"`, `"did:web:a#frag"`, `"urn:uuid:1"`, `"http:"`, `"1http://x"`, `"http://a b"`,
		`"2026-11-29T10:00:00Z"`, `"2026-11-29T24:00:00.000+14:00"`, `"2026-11-29T10:00:00.5-13:59"`,
		`"2026-11-29T10:00:00"`, `"2026-13-29T10:00:00Z"`, `"0026-11-29T10:00:00Z"`, `"02026-11-29T10:00:00Z"`,
		`"2026-11-29T10:00:00+14:01"`, `"2026-11-29T24:00:01Z"`,
		`"9c1e2f4a6b8d0c1e3f5a7b9d1c3e5f7a9b1d3c5e7f9a1b3d5c7e9f1a3b5d7c9e"`,
		`"9C1E2F4A6B8D0C1E3F5A7B9D1C3E5F7A9B1D3C5E7F9A1B3D5C7E9F1A3B5D7C9E"`,
		`"invoices:pay"`, `"invoices::pay"`, `"invoices:"`, `":pay"`, `"*"`, `"a.b.c"`, `"a..c"`, `".b.c"`, `"a.b."`,
		`"é"`, `"` + strings.Repeat("x", 257) + `"`,
		`{}`, `[]`, `{"type": "X"}`, `{"id": "did:key:z6Mk"}`, `{"id": "https://x"}`, `["Agent"]`, `["Person"]`,
		`[""]`, `["x", "x"]`, `[1]`, `[null]`, `["https://a.example", "https://a.example"]`,
		`["https://www.w3.org/ns/credentials/v2", "https://agentid.dev/ns/v1", {}]`,
		`[{"type": "HumanApproval"}]`, `{"type": ["HumanApproval", "X"]}`, `{"type": []}`,
		`{"action": "a", "resource": "https://x"}`, `{"assurance": "hardware", "type": "SoftwareKey"}`,
	}
	out := make([]any, len(lits))
	for i, l := range lits {
		d := json.NewDecoder(strings.NewReader(l))
		d.UseNumber()
		if err := d.Decode(&out[i]); err != nil {
			panic(l + ": " + err.Error())
		}
	}
	return append(out, float64(3), json.Number("7"))
}

// paths lists the JSON pointers (as token lists) of every value in v.
func paths(v any, prefix []string, out *[][]string) {
	*out = append(*out, append([]string(nil), prefix...))
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			paths(x, append(prefix, k), out)
		}
	case []any:
		for i, x := range v {
			paths(x, append(prefix, strconv.Itoa(i)), out)
		}
	}
}

// sortedPaths is paths in a stable order.
func sortedPaths(doc map[string]any) [][]string {
	var ps [][]string
	paths(doc, nil, &ps)
	slices.SortFunc(ps, func(a, b []string) int { return slices.Compare(a, b) })
	return ps
}

// mutate applies op at the value at path of doc (a fresh copy), and
// returns the copy, or nil if op does not apply there.
func mutate(doc map[string]any, path []string, op int, val any) any {
	var root any = clone(doc)
	if len(path) == 0 {
		if op == 0 {
			return clone(val)
		}
		return nil
	}
	cur := root
	for _, tok := range path[:len(path)-1] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			i, _ := strconv.Atoi(tok)
			cur = c[i]
		}
	}
	last := path[len(path)-1]
	switch c := cur.(type) {
	case map[string]any:
		switch op {
		case 0: // replace
			c[last] = clone(val)
		case 1: // delete
			delete(c, last)
		case 2: // add a member next to it
			c["extra"] = clone(val)
		default:
			return nil
		}
	case []any:
		i, _ := strconv.Atoi(last)
		switch op {
		case 0:
			c[i] = clone(val)
		case 1: // drop the item (in the parent's copy)
			return setParent(root, path, append(append([]any(nil), c[:i]...), c[i+1:]...))
		case 2: // append a value
			return setParent(root, path, append(append([]any(nil), c...), clone(val)))
		case 3: // duplicate the item
			return setParent(root, path, append(append([]any(nil), c...), clone(c[i])))
		}
	}
	return root
}

// setParent replaces the array holding the value at path with arr.
func setParent(root any, path []string, arr []any) any {
	if len(path) == 1 {
		return arr
	}
	cur := root
	for _, tok := range path[:len(path)-2] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			i, _ := strconv.Atoi(tok)
			cur = c[i]
		}
	}
	tok := path[len(path)-2]
	switch c := cur.(type) {
	case map[string]any:
		c[tok] = arr
	case []any:
		i, _ := strconv.Atoi(tok)
		c[i] = arr
	}
	return root
}

// The fast check agrees with the library on the examples and on every
// single mutation of them: each value replaced by each value of the pool,
// each member and item removed, members and items added and duplicated.
func TestFastAgreesWithLibrary(t *testing.T) {
	vals := pool()
	for _, tc := range []struct{ file, id string }{
		{"agent-identity.json", AgentIdentityV1},
		{"agent-delegation.json", AgentDelegationV1},
	} {
		doc := load(t, tc.file)
		doc["proof"] = map[string]any{"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
			"verificationMethod": "did:key:z6Mk#z6Mk", "proofPurpose": "assertionMethod", "proofValue": "z5"}
		for _, id := range []string{AgentIdentityV1, AgentDelegationV1} {
			if sure := compare(t, id, doc, tc.file); !sure {
				t.Errorf("%s against %s: fast check unsure", tc.file, id)
			}
		}
		all, _ := compiled()
		if ok, _ := fastVerdict(all[tc.id].fast, doc); !ok {
			t.Errorf("%s: fast check does not accept the example", tc.file)
		}
		ps := sortedPaths(doc)
		runs, accepted := 0, 0
		for _, p := range ps {
			for op := range 4 {
				for vi, v := range vals {
					if op != 0 && op != 2 && vi > 0 {
						break // delete and duplicate take no value
					}
					m := mutate(doc, p, op, v)
					if m == nil {
						continue
					}
					runs++
					compare(t, tc.id, m, tc.file+" /"+strings.Join(p, "/"))
					if ok, _ := fastVerdict(all[tc.id].fast, m); ok {
						accepted++
					}
				}
			}
		}
		t.Logf("%s: %d mutations, %d accepted", tc.file, runs, accepted)
	}
}

// Values that encoding/json does not produce are not judged by the fast
// check: Validate leaves them to the library, with the library's verdict.
func TestFastUnsureOfOtherGoTypes(t *testing.T) {
	for _, v := range []any{
		int(5), []string{"did:key:z6Mk"}, map[string]string{"id": "did:key:z6Mk"}, math.NaN(), math.Inf(1), float32(1),
		struct{}{},
	} {
		doc := load(t, "agent-identity.json")
		doc["issuer"] = v
		all, _ := compiled()
		if ok, sure := fastVerdict(all[AgentIdentityV1].fast, doc); ok || sure {
			t.Errorf("%T %v: fast check sure (%v)", v, v, ok)
		}
		want := libraryValid(t, AgentIdentityV1, doc)
		if got := Validate(AgentIdentityV1, doc) == nil; got != want {
			t.Errorf("%T %v: Validate says %v, library %v", v, v, got, want)
		}
		// an unknown Go type where no keyword looks is not the fast
		// check's concern, nor the library's
		doc = load(t, "agent-identity.json")
		doc["unrelated"] = v
		compare(t, AgentIdentityV1, doc, "unrelated member")
	}
}

// A valid credential is accepted by the fast check without allocating.
func TestFastPathAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	doc := load(t, "agent-delegation.json")
	if err := ForCredential(doc); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := ForCredential(doc); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per valid credential", n)
	}
}

// FuzzFastAgainstLibrary applies a sequence of mutations, chosen by the
// fuzzer's bytes, to an example credential, and compares the two checks.
func FuzzFastAgainstLibrary(f *testing.F) {
	f.Add(uint8(0), []byte{})
	f.Add(uint8(1), []byte{})
	f.Add(uint8(0), []byte{3, 0, 10, 7, 1, 0})
	f.Add(uint8(1), []byte{20, 2, 5, 40, 0, 33})
	docs := []map[string]any{load(f, "agent-identity.json"), load(f, "agent-delegation.json")}
	ids := []string{AgentIdentityV1, AgentDelegationV1}
	vals := pool()
	f.Fuzz(func(t *testing.T, which uint8, ops []byte) {
		var doc any = docs[int(which)%2]
		for len(ops) >= 3 {
			m, ok := doc.(map[string]any)
			if !ok {
				break
			}
			ps := sortedPaths(m)
			p := ps[int(ops[0])%len(ps)]
			next := mutate(m, p, int(ops[1])%4, vals[int(ops[2])%len(vals)])
			ops = ops[3:]
			if next != nil {
				doc = next
			}
		}
		for _, id := range ids {
			compare(t, id, doc, "fuzzed")
		}
	})
}

// FuzzFastAgainstLibraryJSON compares the two checks on arbitrary JSON.
func FuzzFastAgainstLibraryJSON(f *testing.F) {
	for _, name := range []string{"agent-identity.json", "agent-delegation.json"} {
		b, err := json.Marshal(load(f, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := json.NewDecoder(strings.NewReader(string(b)))
		d.UseNumber()
		var doc any
		if err := d.Decode(&doc); err != nil {
			return
		}
		for _, id := range []string{AgentIdentityV1, AgentDelegationV1} {
			compare(t, id, doc, "fuzzed JSON")
		}
	})
}

// The fast check's keywords, on small schemas where they interact in ways
// the embedded schemas do not exercise (a oneOf whose branches overlap, an
// else, additionalProperties as a schema…), against the library.
func TestFastKeywordsAgainstLibrary(t *testing.T) {
	schemas := []string{
		`true`, `false`, `{}`,
		`{"type": "string"}`, `{"type": ["string", "null"]}`, `{"type": "number"}`, `{"type": "boolean"}`,
		`{"const": null}`, `{"const": "Agent"}`, `{"enum": ["a", null, true]}`, `{"const": "x", "enum": ["x", "y"]}`,
		`{"oneOf": [{"type": "string"}, {"minLength": 2}]}`,
		`{"anyOf": [{"type": "string", "maxLength": 1}, {"type": "array", "minItems": 2}]}`,
		`{"allOf": [{"minLength": 1}, {"maxLength": 3}]}`,
		`{"not": {"type": "string"}}`,
		`{"if": {"type": "string"}, "then": {"minLength": 3}, "else": {"type": "array"}}`,
		`{"if": {"required": ["a"]}, "else": {"required": ["b"]}}`,
		`{"then": {"type": "string"}}`,
		`{"prefixItems": [{"const": "x"}, {"type": "string"}], "items": false}`,
		`{"prefixItems": [{"const": "x"}], "items": {"type": "object"}, "minItems": 1, "maxItems": 3}`,
		`{"contains": {"const": "x"}}`, `{"contains": false}`, `{"uniqueItems": true}`,
		`{"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "array"}}`,
		`{"properties": {"a": true}, "additionalProperties": false, "required": ["a"]}`,
		`{"minProperties": 1, "maxProperties": 2}`,
		`{"minLength": 2, "maxLength": 2}`, `{"minLength": 1}`, `{"maxLength": 0}`, `{"minLength": 3}`, `{"maxLength": 1}`,
		`{"pattern": "^did:[a-z0-9]+:(?:(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})*:)*(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+$"}`,
		`{"pattern": "e"}`,
		`{"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 3}`,
		`{"type": ["array", "string"], "items": {"$ref": "#"}}`,
		`{"$defs": {"a~b/c": {"const": "x"}}, "$ref": "#/$defs/a~0b~1c"}`,
	}
	instances := pool()
	for _, extra := range []string{`[[]]`, `[[["x"]]]`, `["x", "y", "z", "w"]`, `["x", {}]`, `[{"a": 1}, {"a": 1}]`, `[{"a": 1}, {"a": "1"}]`,
		`{"a": "x", "b": []}`, `{"a": 1}`, `{"b": 1}`, `{"a": "x", "b": [], "c": []}`, `["xy", 1]`, `[[1], [1.0]]`, `[["x"], ["x", "y"]]`, `[{"a": "x"}, {"a": "x", "b": "y"}]`, `"éé"`, `"ééé"`, `"é"`, `"ab\u00e9"`} {
		var v any
		d := json.NewDecoder(strings.NewReader(extra))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		instances = append(instances, v)
	}
	// strings that are not UTF-8: each bad byte is one character
	instances = append(instances, "\xff\xff", "\xff", "é\xff", "\xf0\x9f\x98")
	for i, s := range schemas {
		n, err := fastCompile([]byte(s))
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.UseLoader(refuseLoader{})
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		url := "https://example.com/s" + strconv.Itoa(i) + ".json"
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
		full, err := c.Compile(url)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		for _, v := range instances {
			fast, sure := fastVerdict(n, v)
			lib := full.Validate(v) == nil
			b, _ := json.Marshal(v)
			if fast && !lib || sure && fast != lib {
				t.Errorf("%s on %s: fast %v (sure %v), library %v", s, b, fast, sure, lib)
			}
		}
	}
}
