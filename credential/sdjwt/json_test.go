package sdjwt

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// jsonErrorClass names the sentinel a decodeJSON error wraps.
func jsonErrorClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrTooDeep):
		return "too deep"
	case errors.Is(err, ErrDuplicateJSONKey):
		return "duplicate key"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	}
	return "unnamed: " + err.Error()
}

// sameAsReference decodes data with decodeJSON and with the token walk and
// json.Decoder it replaced, into each target type, and fails unless both
// accept the same value or reject it with the same sentinel.
func sameAsReference(t *testing.T, data []byte, maxDepth int) {
	t.Helper()
	targets := []func() any{
		func() any { return new(any) },
		func() any { return new(map[string]any) },
		func() any { return new([]any) },
	}
	for _, mk := range targets {
		got, want := mk(), mk()
		gotErr := decodeJSON(data, maxDepth, got)
		wantErr := refDecodeJSON(data, maxDepth, want)
		if gc, wc := jsonErrorClass(gotErr), jsonErrorClass(wantErr); gc != wc {
			t.Fatalf("%q into %T: got %s (%v), reference %s (%v)", data, got, gc, gotErr, wc, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q into %T: got %#v, reference %#v", data, got, reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem())
		}
	}
}

var jsonCases = []string{
	// accepted
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5`, `-1.5e10`, `1E+2`, `1e-2`, `123456789012345678901234567890`,
	`""`, `"a"`, ` {"a" : [1, 2, {"b": null}], "c": "d"} `, "\t\r\n[\n]\n",
	`{"alg":"ES256","typ":"dc+sd-jwt","kid":"did:key:z#z"}`,
	`["salt","name",{"nested":[true,false,null,1.0]}]`,
	`"\"\\\/\b\f\n\r\t"`, `"\u0041\u00e9\u4e2d"`, `"\ud83d\ude00"`, `"é中😀"`,
	// repaired as encoding/json repairs them
	`"\ud83d"`, `"\ude00"`, `"\ud83dx"`, `"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`, "\"\xff\"", "\"a\xc3\"", "\"\xed\xa0\x80\"",
	`{"\u0061":1,"b":2}`, "{\"\xff\":1,\"\xfe\":2}", `{"\ud800":1,"\udc00":2}`,
	// duplicates
	`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"x":{"a":1,"a":2}}`, `[{"a":1},{"a":1,"a":1}]`, `{"":1,"":2}`,
	`{"a":1,"a"`, `{"a":1,"a":[[[[[[[[[[[[`, `{"a":1,"a" x}`,
	// malformed
	``, ` `, `{`, `[`, `}`, `]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `[1 2]`, `{"a":1 "b":2}`, `{1:2}`,
	`01`, `-`, `-a`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `NaN`, `Infinity`, `tru`, `truex`, `nul`, `[nulll]`,
	`"abc`, `"\x"`, `"\u12"`, `"\u12G4"`, `"\ud83d\u12"`, "\"a\nb\"", "\"\x00\"", `{} {}`, `[] x`, `1 2`,
	"\xef\xbb\xbf{}", `{"a":1}}`, `[[]]]`, `{"a":[}`, `'a'`,
	// depth
	`[[[[]]]]`, `[[[[[]]]]]`, `{"a":{"b":{"c":{"d":{}}}}}`, `[[[[[`, `[[[[[1,]]]]]`, `[{"a":1,"a":2}`, `[[[[[{"a":1,"a":2}]]]]]`,
}

func TestDecodeJSONMatchesReference(t *testing.T) {
	for _, c := range jsonCases {
		for _, depth := range []int{4, 5, DefaultMaxDepth} {
			sameAsReference(t, []byte(c), depth)
		}
	}
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	sameAsReference(t, []byte(deep), DefaultMaxDepth)
	sameAsReference(t, []byte(deep), 40)
}

// The recursive descent stops where encoding/json stops, whatever the
// configured depth.
func TestDecodeJSONNestingBound(t *testing.T) {
	for _, n := range []int{jsonMaxNesting, jsonMaxNesting + 1} {
		data := []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
		sameAsReference(t, data, 2*jsonMaxNesting)
	}
	var v any
	err := decodeJSON([]byte(strings.Repeat("[", jsonMaxNesting+1)), 2*jsonMaxNesting, &v)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
}

func TestDecodeJSONValues(t *testing.T) {
	var m map[string]any
	if err := decodeJSON([]byte(`{"n":1.50,"s":"x\ty","a":[],"o":{},"t":true,"z":null}`), DefaultMaxDepth, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"n": json.Number("1.50"), "s": "x\ty", "a": []any{}, "o": map[string]any{}, "t": true, "z": nil}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %#v", m)
	}
	// null leaves the target alone; another kind of value is an error.
	m = nil
	if err := decodeJSON([]byte(`null`), DefaultMaxDepth, &m); err != nil || m != nil {
		t.Fatalf("null: %v, %v", m, err)
	}
	for _, in := range []string{`[1]`, `"s"`, `1`, `true`} {
		if err := decodeJSON([]byte(in), DefaultMaxDepth, &m); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s into a map: %v", in, err)
		}
	}
	var a []any
	if err := decodeJSON([]byte(`{}`), DefaultMaxDepth, &a); !errors.Is(err, ErrMalformed) {
		t.Errorf("object into an array: %v", err)
	}
	var s string
	if err := decodeJSON([]byte(`"s"`), DefaultMaxDepth, &s); !errors.Is(err, ErrMalformed) {
		t.Errorf("unsupported target: %v", err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, c := range jsonCases {
		f.Add([]byte(c), uint8(5))
	}
	f.Fuzz(func(t *testing.T, data []byte, depth uint8) {
		if len(data) > 1<<12 {
			return
		}
		sameAsReference(t, data, int(depth%40)+1)
	})
}

func BenchmarkDecodeJSON(b *testing.B) {
	payload := []byte(`{"_sd":["CrQe7S5kqBAHt-nMYXgc6bdt2SH5aTY1sU_M-PgkjPI","JzYjH4svliH0R3PyEMfeZu6Jt69u5qehZo7F7EPYlSE","PorFbpKuVu6xymJagvkFsFXAbRoc2JGlAUA2BA4o7cI"],"iss":"did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169","iat":1683000000,"exp":1883000000,"vct":"https://agentid.dev/vct/agent-identity/v1","_sd_alg":"sha-256","cnf":{"jwk":{"kty":"EC","crv":"P-256","x":"TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc","y":"ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ"}}}`)
	b.Run("one-pass", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := decodeJSON(payload, DefaultMaxDepth, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := refDecodeJSON(payload, DefaultMaxDepth, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkIsBase64URL(b *testing.B) {
	s := strings.Repeat("eyJhbGciOiJFUzI1NiIsInR5cCI6ImRjK3NkLWp3dCJ9_-", 30)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if !isBase64URL(s) {
			b.Fatal("not base64url")
		}
	}
}
