package credential

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agentid/agentid/internal/jsonvalue"
)

// decodeCases are inputs on which DecodeObject's scanner must agree with
// the encoding/json token reader: what is accepted, and what it becomes.
var decodeCases = []string{
	`{}`, ` {} `, "\t\r\n{\t\r\n}\t\r\n", `{"a":1}`, `{"a": [1, {"b": null}]}`,
	`{"a":[]}`, `{"a":{}}`, `{"a":[[]]}`, `{"a":[{}]}`, `{"a":[1,2,3]}`, `{"a":[1,,2]}`, `{"a":[1,]}`, `{"a":[,1]}`,
	`{"a":1,}`, `{,"a":1}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a"::1}`, `{"a":1]`, `{"a":[1}`, `{"a":[1]]}`, `{1:2}`,
	`{"a":true}`, `{"a":false}`, `{"a":null}`, `{"a":tru}`, `{"a":truex}`, `{"a":nul}`, `{"a":True}`, `{"a":[truefalse]}`,
	`{"a":0}`, `{"a":-0}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":.1}`, `{"a":1.5}`, `{"a":1e5}`, `{"a":1E+5}`, `{"a":1e-5}`,
	`{"a":1e}`, `{"a":1e+}`, `{"a":-1.25e-300}`, `{"a":12345678901234567890123}`, `{"a":1e400}`, `{"a":+1}`, `{"a":0x10}`,
	`{"a":1true}`, `{"a":1"b"}`, `{"a":Infinity}`, `{"a":NaN}`, `{"a":-Infinity}`,
	`{"a":"x"}`, `{"a":""}`, `{"":""}`, `{"a":"\"\\\/\b\f\n\r\t"}`, `{"a":"\u0041\u00e9\u20ac"}`, `{"a":"\u0000"}`,
	`{"a":"\ud83d\ude00"}`, `{"a":"\ud83d"}`, `{"a":"\ude00"}`, `{"a":"\ud83dx"}`, `{"a":"\ud83d\u0041"}`, `{"a":"\ud83d\ud83d\ude00"}`,
	`{"a":"\ud83d\"}`, `{"a":"\ud83d\u"}`, `{"a":"\ud83d\u12"}`, `{"a":"\ud83d\uzzzz"}`, `{"a":"\DEAD"}`,
	`{"a":"\u12"}`, `{"a":"\u12g4"}`, `{"a":"\x41"}`, `{"a":"\'"}`, `{"a":"\`, `{"a":"x`, "{\"a\":\"\x01\"}", "{\"a\":\"\x1f\"}",
	"{\"a\":\"\x7f\"}", `{"a":"é€😀"}`, `{"\u0061":1}`, `{"a":1,"\u0061":2}`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":1}}`,
	`{"a":[{"b":1},{"b":1}]}`, `{"a":{"b":1},"c":{"b":1}}`, `{"a/b":{"~":1,"~":2}}`,
	`{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiableCredential"],"issuer":"did:key:z"}`,
	`{"type":"VerifiableCredentialX","id":"id"}`,
	`[]`, `"x"`, `1`, `null`, ``, ` `, `{`, `}`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,`, `{} {}`, `{}x`, `{}]`, `{}}`, `{} `,
	"\ufeff{}", `{}` + "\x00", `{"a":1}/**/`, `{"a":1}//`, `{'a':1}`, `{a:1}`,
	strings.Repeat(`{"a":`, MaxDepth-1) + `{}` + strings.Repeat(`}`, MaxDepth-1),
	strings.Repeat(`{"a":`, MaxDepth) + `{}` + strings.Repeat(`}`, MaxDepth),
	`{"a":` + strings.Repeat(`[`, MaxDepth-1) + strings.Repeat(`]`, MaxDepth-1) + `}`,
	`{"a":` + strings.Repeat(`[`, MaxDepth) + strings.Repeat(`]`, MaxDepth) + `}`,
	`{"a":` + strings.Repeat(`[`, MaxDepth-2) + `{}` + strings.Repeat(`]`, MaxDepth-2) + `}`,
	`{"a":` + strings.Repeat(`[`, MaxDepth-1) + `{}` + strings.Repeat(`]`, MaxDepth-1) + `}`,
	`{"a":` + strings.Repeat(`[1,`, 200) + `2` + strings.Repeat(`]`, 200) + `}`,
	`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16}`,
	`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k3":16}`,
}

// decodeCorpus is decodeCases with the credential package's test documents.
func decodeCorpus(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, c := range decodeCases {
		out = append(out, []byte(c))
	}
	out = append(out, []byte(baseVC), []byte(baseV1), []byte(basePresentation))
	for _, pattern := range []string{
		filepath.Join("testdata", "vcdm2-suite", "*.json"),
		filepath.Join("..", "schemas", "testdata", "*.json"),
	} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			tb.Fatal(err)
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// checkSameDecoding fails unless DecodeObject and its scanner read data as
// the encoding/json token reader does: the same document, or the same error.
func checkSameDecoding(t *testing.T, data []byte) {
	t.Helper()
	got, gotErr := DecodeObject(data)
	if len(data) > MaxDocumentBytes || !utf8.Valid(data) {
		if gotErr == nil {
			t.Fatalf("DecodeObject(%q) accepted input over the limit or not UTF-8", data)
		}
		return
	}
	want, wantErr := decodeTokens(data)
	switch {
	case (gotErr == nil) != (wantErr == nil):
		t.Fatalf("DecodeObject(%q): error %v, token reader: %v", data, gotErr, wantErr)
	case gotErr != nil && gotErr.Error() != wantErr.Error():
		t.Fatalf("DecodeObject(%q): error %q, token reader: %q", data, gotErr, wantErr)
	case !reflect.DeepEqual(got, want):
		t.Fatalf("DecodeObject(%q) = %#v, token reader: %#v", data, got, want)
	}
	// The scanner alone: it must refuse what the token reader refuses and
	// take the fast path on everything the token reader accepts.
	scanned, ok := scanObject(data)
	if ok != (wantErr == nil) {
		t.Fatalf("scanObject(%q) ok=%v, token reader error %v", data, ok, wantErr)
	}
	if ok && !reflect.DeepEqual(scanned, want) {
		t.Fatalf("scanObject(%q) = %#v, token reader: %#v", data, scanned, want)
	}
}

func TestDecodeObjectMatchesTokenReader(t *testing.T) {
	for _, data := range decodeCorpus(t) {
		checkSameDecoding(t, data)
		// Every prefix of a document is a truncation the scanner must
		// refuse exactly as the token reader does.
		if len(data) < 4096 {
			for n := range len(data) {
				checkSameDecoding(t, data[:n])
			}
		}
	}
}

// TestDecodeObjectEmptyContainers checks that empty arrays and objects are
// non-nil, as the token reader makes them (a nil []any marshals as null).
func TestDecodeObjectEmptyContainers(t *testing.T) {
	m, err := DecodeObject([]byte(`{"a":[],"o":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := m["a"].([]any); !ok || a == nil {
		t.Errorf("a = %#v, want a non-nil empty []any", m["a"])
	}
	if o, ok := m["o"].(map[string]any); !ok || o == nil {
		t.Errorf("o = %#v, want a non-nil empty map", m["o"])
	}
}

// TestDecodeObjectInternedStrings checks that the interned keys and values
// read like any other string, escaped or not.
func TestDecodeObjectInternedStrings(t *testing.T) {
	m, err := DecodeObject([]byte(`{"type":"VerifiableCredential","typ\u0065":1}`))
	if err == nil {
		t.Fatalf("a key spelt twice, once escaped, was accepted: %v", m)
	}
	m, err = DecodeObject([]byte(`{"type":["VerifiableCredential","Verifiable\u0043redential","VerifiableCredentia"]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"VerifiableCredential", "VerifiableCredential", "VerifiableCredentia"}
	if !reflect.DeepEqual(m["type"], want) {
		t.Errorf("type = %#v, want %#v", m["type"], want)
	}
}

// FuzzDecodeObject: on any input, DecodeObject and its scanner agree with
// the encoding/json token reader.
func FuzzDecodeObject(f *testing.F) {
	for _, data := range decodeCorpus(f) {
		f.Add(data)
	}
	f.Fuzz(checkSameDecoding)
}

// benchDocument is a signed identity credential of about 2 KB, as a verify
// request carries it.
func benchDocument(b *testing.B) []byte {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "schemas", "testdata", "agent-identity.json"))
	if err != nil {
		b.Fatal(err)
	}
	doc := strings.TrimSuffix(strings.TrimSpace(string(raw)), "}") + `,
  "proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "created": "2026-11-29T10:00:00Z",
    "verificationMethod": "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj#z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj",
    "proofPurpose": "assertionMethod",
    "proofValue": "z5Y9cYzRxJ2sQfTqj3yBTwAhYmYv4Mh3W8rF1hV8b8d5Zy6J1hKbJ6Sg2tH9bZb3QmN2fT4Lz6qW7Y8cXq9Rz1dKpE"}
}`
	if _, err := DecodeObject([]byte(doc)); err != nil {
		b.Fatal(err)
	}
	return []byte(doc)
}

// BenchmarkDecodeObject compares DecodeObject with the token reader it
// replaced on the fast path.
//
//	go test -run '^$' -bench DecodeObject -benchmem ./credential/
func BenchmarkDecodeObject(b *testing.B) {
	doc := benchDocument(b)
	b.Run("scanner", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeObject(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same decoder without the interning tables, and sharing one copy
	// of the input as sdjwt does: what those choices cost or save.
	for name, dec := range map[string]*jsonvalue.Decoder{
		"no-intern": {MaxDepth: MaxDepth},
		"shared":    {MaxDepth: MaxDepth, ShareInput: true},
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dec.Decode(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("tokens", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeTokens(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
