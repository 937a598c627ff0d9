package server

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// verifyRequestBodies are verify request bodies on which readVerifyRequest
// (one pass when it can) must agree with decodeVerifyRequest (the general
// reader), for either endpoint.
func verifyRequestBodies(tb testing.TB) []string {
	tb.Helper()
	raw, err := os.ReadFile("../../schemas/testdata/agent-identity.json")
	if err != nil {
		tb.Fatal(err)
	}
	vc := string(raw)
	out := []string{
		``, ` `, `null`, `[]`, `"x"`, `{}`, `{} {}`, `{}x`, `{"verifiableCredential":`, "\xff",
		`{"verifiableCredential":` + vc + `}`,
		`{"verifiablePresentation":` + vc + `}`,
		` {"verifiableCredential": ` + vc + ` , "options": {"challenge": "c", "domain": "d"}} `,
		`{"verifiableCredential":` + vc + `,"options":null}`,
		`{"verifiableCredential":` + vc + `,"options":{}}`,
		`{"verifiableCredential":` + vc + `,"options":[]}`,
		`{"verifiableCredential":` + vc + `,"options":"x"}`,
		`{"verifiableCredential":` + vc + `,"options":{"checks":["proof","status"],"minAssurance":"hardware","action":"a","resource":"r","policy":"p"}}`,
		`{"verifiableCredential":` + vc + `,"options":{"checks":[]}}`,
		`{"verifiableCredential":` + vc + `,"options":{"checks":null,"challenge":null}}`,
		`{"verifiableCredential":` + vc + `,"options":{"checks":[null]}}`,
		`{"verifiableCredential":` + vc + `,"options":{"checks":[1]}}`,
		`{"verifiableCredential":` + vc + `,"options":{"checks":"proof"}}`,
		`{"verifiableCredential":` + vc + `,"options":{"challenge":1}}`,
		`{"verifiableCredential":` + vc + `,"options":{"challenge":{"a":1}}}`,
		`{"verifiableCredential":` + vc + `,"options":{"Challenge":"c"}}`,
		`{"verifiableCredential":` + vc + `,"options":{"challenge":"c","CHALLENGE":"d"}}`,
		`{"verifiableCredential":` + vc + `,"options":{"challenge":"c","challenge":"d"}}`,
		`{"verifiableCredential":` + vc + `,"options":{"chec\u212As":["proof"]}}`,
		`{"verifiableCredential":` + vc + `,"options":{"unknown":{"deep":[1,2,{"x":null}]},"challenge":"c"}}`,
		`{"verifiableCredential":` + vc + `,"options":{"domain":"\u0001"}}`,
		`{"verifiableCredential":` + vc + `,"extra":[1,"two",{"three":3}]}`,
		`{"verifiableCredential":` + vc + `,"VerifiableCredential":{}}`,
		`{"VerifiableCredential":` + vc + `}`,
		`{"verifiablePre\u017Fentation":` + vc + `}`,
		`{"verifiableCredential":` + vc + `,"verifiableCredential":` + vc + `}`,
		`{"verifiableCredential":{"a":1,"a":2}}`,
		`{"verifiableCredential":{"a":1,"a":2},"x":{"b":1,"b":2}}`,
		`{"verifiableCredential":{"a":` + strings.Repeat("[", 62) + strings.Repeat("]", 62) + `}}`,
		`{"verifiableCredential":{"a":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `}}`,
		`{"verifiableCredential":{"a":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}}`,
		`{"verifiableCredential":null}`, `{"verifiableCredential":null,"verifiablePresentation":null}`,
		`{"verifiablePresentation":{}}`, `{"verifiableCredential":{}}`,
		`{"verifiableCredential":5}`, `{"verifiableCredential":true}`, `{"verifiableCredential":[]}`,
		`{"verifiableCredential":""}`, `{"verifiableCredential":"  "}`, `{"verifiableCredential":"eyJ.eyJ.sig~"}`,
		`{"verifiableCredential":"eyJ\u002eeyJ.sig~d~"}`, `{"verifiableCredential":"{\"a\":1}"}`, `{"verifiableCredential":" [1]"}`,
		`{"verifiableCredential":"\ud800"}`,
		`{"verifiableCredential":` + vc + `,"options":{"challenge":"` + strings.Repeat("c", 2000) + `"}}`,
	}
	return out
}

// checkSameVerifyRequest fails unless readVerifyRequest reads body as
// decodeVerifyRequest does, for the endpoint presentation names.
func checkSameVerifyRequest(t *testing.T, body []byte, presentation bool) {
	t.Helper()
	input, o, err := readVerifyRequest(body, presentation)
	wantInput, wantO, wantErr := decodeVerifyRequest(body, presentation)
	if !reflect.DeepEqual(err, wantErr) {
		t.Fatalf("readVerifyRequest(%q, %v): error %v, general reader %v", body, presentation, err, wantErr)
	}
	if !reflect.DeepEqual(input, wantInput) {
		t.Fatalf("readVerifyRequest(%q, %v): input %#v, general reader %#v", body, presentation, input, wantInput)
	}
	if !reflect.DeepEqual(o, wantO) {
		t.Fatalf("readVerifyRequest(%q, %v): options %#v, general reader %#v", body, presentation, o, wantO)
	}
}

func TestReadVerifyRequestMatchesGeneralReader(t *testing.T) {
	for _, body := range verifyRequestBodies(t) {
		for _, presentation := range []bool{false, true} {
			checkSameVerifyRequest(t, []byte(body), presentation)
		}
	}
}

// TestScanVerifyRequestTakesCommonBodies checks that the bodies clients
// send do take the one pass, and that what it declines is what the general
// reader must word or match.
func TestScanVerifyRequestTakesCommonBodies(t *testing.T) {
	raw, err := os.ReadFile("../../schemas/testdata/agent-identity.json")
	if err != nil {
		t.Fatal(err)
	}
	vc := string(raw)
	for _, body := range []string{
		`{"verifiableCredential":` + vc + `}`,
		`{"verifiableCredential":` + vc + `,"options":{"challenge":"c","domain":"d","checks":["proof"]}}`,
		`{"verifiableCredential":"eyJ.eyJ.sig~d~"}`,
		`{"verifiableCredential":` + vc + `,"options":{"unknownOption":true}}`,
	} {
		if _, _, ok := scanVerifyRequest([]byte(body), false); !ok {
			t.Errorf("scanVerifyRequest declined %.80s…", body)
		}
	}
	for _, body := range []string{
		`{"VerifiableCredential":` + vc + `}`,
		`{"verifiableCredential":` + vc + `,"options":{"Domain":"d"}}`,
		`{"verifiableCredential":` + vc + `,"options":{"challenge":5}}`,
		`{"verifiableCredential":{"a":1,"a":2}}`,
		`{"verifiableCredential":""}`,
		`{"verifiableCredential":null}`,
	} {
		if _, _, ok := scanVerifyRequest([]byte(body), false); ok {
			t.Errorf("scanVerifyRequest took %.80s…", body)
		}
	}
}

// FuzzReadVerifyRequest: on any body, readVerifyRequest agrees with the
// general reader, for both endpoints.
func FuzzReadVerifyRequest(f *testing.F) {
	for _, body := range verifyRequestBodies(f) {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkSameVerifyRequest(t, body, false)
		checkSameVerifyRequest(t, body, true)
	})
}

// BenchmarkReadVerifyRequest compares readVerifyRequest with the general
// reader on a verify request for a signed identity credential.
//
//	go test -run '^$' -bench ReadVerifyRequest -benchmem ./internal/server/
func BenchmarkReadVerifyRequest(b *testing.B) {
	raw, err := os.ReadFile("../../schemas/testdata/agent-identity.json")
	if err != nil {
		b.Fatal(err)
	}
	vc := strings.TrimSuffix(strings.TrimSpace(string(raw)), "}") + `,
  "proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "created": "2026-11-29T10:00:00Z",
    "verificationMethod": "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj#z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj",
    "proofPurpose": "assertionMethod",
    "proofValue": "z5Y9cYzRxJ2sQfTqj3yBTwAhYmYv4Mh3W8rF1hV8b8d5Zy6J1hKbJ6Sg2tH9bZb3QmN2fT4Lz6qW7Y8cXq9Rz1dKpE"}
}`
	body := []byte(`{"verifiableCredential":` + vc + `,"options":{"checks":["proof","validity","status"]}}`)
	if !json.Valid(body) {
		b.Fatal("bad benchmark body")
	}
	for _, r := range []struct {
		name string
		read func([]byte, bool) (any, *verifyOptions, error)
	}{{"readVerifyRequest", readVerifyRequest}, {"general", decodeVerifyRequest}} {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := r.read(body, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestScanVerifyRequestKnowsEveryMember fails when a member is added to
// verifyRequest or verifyOptions: scanVerifyRequest and scanVerifyOptions
// must learn it, or they would ignore it where encoding/json reads it.
func TestScanVerifyRequestKnowsEveryMember(t *testing.T) {
	for typ, want := range map[reflect.Type][]string{
		reflect.TypeFor[verifyRequest](): verifyRequestMembers,
		reflect.TypeFor[verifyOptions](): verifyOptionMembers,
	} {
		var got []string
		for f := range typ.Fields() {
			got = append(got, strings.Split(f.Tag.Get("json"), ",")[0])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v has members %v; the one-pass reader knows %v", typ, got, want)
		}
	}
}

// readAllSized reads a body whole whatever its declared size says, in one
// allocation when the size is right; a read error is returned.
func TestReadAllSized(t *testing.T) {
	body := strings.Repeat("0123456789", 170) // 1,700 bytes, a verify request's size
	for _, size := range []int64{-1, 0, 1, 1699, 1700, 1701, 5000} {
		// iotest.OneByteReader makes every read short, as a slow client's are.
		for _, r := range []func() io.Reader{
			func() io.Reader { return strings.NewReader(body) },
			func() io.Reader { return iotest.OneByteReader(strings.NewReader(body)) },
		} {
			got, err := readAllSized(r(), size)
			if err != nil || string(got) != body {
				t.Fatalf("size %d: read %d bytes, %v", size, len(got), err)
			}
		}
	}
	broken := errors.New("connection reset")
	if _, err := readAllSized(io.MultiReader(strings.NewReader(body), iotest.ErrReader(broken)), 1700); !errors.Is(err, broken) {
		t.Fatalf("error %v, want %v", err, broken)
	}
	r := strings.NewReader(body)
	if allocs := testing.AllocsPerRun(100, func() {
		r.Reset(body)
		_, _ = readAllSized(r, int64(len(body)))
	}); allocs != 1 {
		t.Fatalf("%v allocations to read a body of its declared size, want 1", allocs)
	}
}
