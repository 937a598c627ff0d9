package jsonvalue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// refDecode is the reference Decode is tested against: encoding/json's
// token reader for syntax, depth and repeated names, in document order,
// then json.Decoder with UseNumber for the value.
func refDecode(data []byte, maxDepth int) (any, error) {
	type frame struct {
		object    bool
		expectKey bool
		names     map[string]struct{}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []frame
	done := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
		}
		if done {
			return nil, fmt.Errorf("%w: data after the value", ErrSyntax)
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			done = len(stack) == 0
			continue
		}
		if top != nil && top.object && top.expectKey {
			name := tok.(string)
			if _, dup := top.names[name]; dup {
				return nil, fmt.Errorf("%w: %q", ErrDuplicateKey, name)
			}
			top.names[name] = struct{}{}
			top.expectKey = false
			continue
		}
		if top != nil && top.object {
			top.expectKey = true
		}
		if d, ok := tok.(json.Delim); ok {
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("%w: deeper than %d", ErrTooDeep, maxDepth)
			}
			stack = append(stack, frame{object: d == '{', expectKey: d == '{', names: map[string]struct{}{}})
			continue
		}
		done = top == nil
	}
	if !done {
		return nil, fmt.Errorf("%w: empty or truncated", ErrSyntax)
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	return v, nil
}

func errorClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrTooDeep):
		return "too deep"
	case errors.Is(err, ErrDuplicateKey):
		return "duplicate key"
	case errors.Is(err, ErrSyntax):
		return "syntax"
	}
	return "unnamed: " + err.Error()
}

// decoders are the configurations checked: plain, sharing the input, and
// with interning tables.
func decoders(maxDepth int) map[string]*Decoder {
	return map[string]*Decoder{
		"plain":  {MaxDepth: maxDepth},
		"shared": {MaxDepth: maxDepth, ShareInput: true},
		"interned": {MaxDepth: maxDepth,
			Keys:   map[string]string{"a": "a", "type": "type", "": ""},
			Values: map[string]any{"x": "x", "VerifiableCredential": "VerifiableCredential", "": ""}},
	}
}

// sameAsReference fails unless every decoder configuration accepts data
// as refDecode does, builds the same value, and refuses it with the same
// class of error (the first problem in document order).
func sameAsReference(t *testing.T, data []byte, maxDepth int) {
	t.Helper()
	want, wantErr := refDecode(data, maxDepth)
	for name, dec := range decoders(maxDepth) {
		got, err := dec.Decode(data)
		if gc, wc := errorClass(err), errorClass(wantErr); gc != wc {
			t.Fatalf("%s: %q (depth %d): got %s (%v), reference %s (%v)", name, data, maxDepth, gc, err, wc, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %q: got %#v, reference %#v", name, data, got, want)
		}
	}
}

var decodeCases = []string{
	// accepted
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5`, `-1.5e10`, `1E+2`, `1e-2`, `123456789012345678901234567890`,
	`""`, `"a"`, ` {"a" : [1, 2, {"b": null}], "c": "d"} `, "\t\r\n[\n]\n", `{"a":[],"o":{}}`,
	`{"alg":"ES256","typ":"dc+sd-jwt","kid":"did:key:z#z"}`, `["salt","name",{"nested":[true,false,null,1.0]}]`,
	`{"type":["VerifiableCredential","Verifiable\u0043redential","VerifiableCredentia"],"x":"x","":""}`,
	`"\"\\\/\b\f\n\r\t"`, `"\u0041\u00e9\u4e2d"`, `"\ud83d\ude00"`, `"é中😀"`, `"\u0000"`,
	// repaired as encoding/json repairs them
	`"\ud83d"`, `"\ude00"`, `"\ud83dx"`, `"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`, "\"\xff\"", "\"a\xc3\"", "\"\xed\xa0\x80\"",
	`{"\u0061":1,"b":2}`, "{\"\xff\":1,\"\xfe\":2}", `{"\ud800":1,"\udc00":2}`, "[\"a\xffb\\n\"]",
	// duplicates
	`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"type":1,"typ\u0065":2}`, `{"x":{"a":1,"a":2}}`, `[{"a":1},{"a":1,"a":1}]`,
	`{"":1,"":2}`, `{"a":1,"a"`, `{"a":1,"a":[[[[[[[[[[[[`, `{"a":1,"a" x}`, `{"a":{"b":1},"c":{"b":1}}`,
	`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17}`,
	`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k3":16}`,
	`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k16":17}`,
	`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":[[[[[[[[[[[[}`,
	// malformed
	``, ` `, `{`, `[`, `}`, `]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `[1 2]`, `{"a":1 "b":2}`, `{1:2}`,
	`01`, `-`, `-a`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `NaN`, `Infinity`, `tru`, `truex`, `nul`, `[nulll]`,
	`"abc`, `"\x"`, `"\u12"`, `"\u12G4"`, `"\ud83d\u12"`, "\"a\nb\"", "\"\x00\"", `{} {}`, `[] x`, `1 2`,
	"\xef\xbb\xbf{}", `{"a":1}}`, `[[]]]`, `{"a":[}`, `'a'`, `{"a":1}/**/`, `"\`, `{"a":"\ud83d\"}`,
	// depth
	`[[[[]]]]`, `[[[[[]]]]]`, `{"a":{"b":{"c":{"d":{}}}}}`, `[[[[[`, `[[[[[1,]]]]]`, `[{"a":1,"a":2}`, `[[[[[{"a":1,"a":2}]]]]]`,
}

func TestDecodeMatchesReference(t *testing.T) {
	for _, c := range decodeCases {
		for _, depth := range []int{0, 1, 4, 5, 64} {
			sameAsReference(t, []byte(c), depth)
			for n := range len(c) {
				sameAsReference(t, []byte(c[:n]), depth)
			}
		}
	}
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	sameAsReference(t, []byte(deep), 64)
	sameAsReference(t, []byte(deep), 40)
	sameAsReference(t, []byte(deep), 39)
	big := `{"a":` + strings.Repeat(`[1,"s",{"k":null},`, 300) + `2` + strings.Repeat(`]`, 300) + `}`
	sameAsReference(t, []byte(big), 1000)
}

// The recursive descent stops where encoding/json stops, whatever the
// configured depth, with a syntax error.
func TestDecodeNestingBound(t *testing.T) {
	for _, n := range []int{MaxNesting, MaxNesting + 1} {
		sameAsReference(t, []byte(strings.Repeat("[", n)+strings.Repeat("]", n)), 2*MaxNesting)
	}
	_, err := Decode([]byte(strings.Repeat("[", MaxNesting+1)), 2*MaxNesting)
	var se *SyntaxError
	if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
		t.Fatalf("got %v, want a *SyntaxError", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	_, err := Decode([]byte(`{"a":1,"\u0061":2}`), 8)
	var dup *DuplicateKeyError
	if !errors.As(err, &dup) || dup.Key != "a" || err.Error() != `"a"` {
		t.Errorf("duplicate: %v", err)
	}
	_, err = Decode([]byte(`[[[]]]`), 2)
	var deep *TooDeepError
	if !errors.As(err, &deep) || deep.Limit != 2 || err.Error() != "deeper than 2" {
		t.Errorf("too deep: %v", err)
	}
	for in, want := range map[string]struct {
		msg    string
		offset int
	}{
		`{"a":1 x}`: {"invalid character 'x' after object key:value pair at offset 7", 7},
		`[1,`:       {"empty or truncated JSON", 3},
		`[] x`:      {"data after the JSON value", 3},
		``:          {"empty or truncated JSON", 0},
		`"\u12G4"`:  {`invalid character 'G' in \u hexadecimal character escape at offset 5`, 5},
	} {
		_, err := Decode([]byte(in), 8)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Msg != want.msg || se.Offset != want.offset || err.Error() != want.msg {
			t.Errorf("%q: %#v, want %q at %d", in, err, want.msg, want.offset)
		}
	}
}

// Interned strings read like any other: an escaped spelling is unescaped
// and compared, a near miss is its own string.
func TestDecodeInterning(t *testing.T) {
	dec := decoders(8)["interned"]
	v, err := dec.Decode([]byte(`{"type":["VerifiableCredential","Verifiable\u0043redential","VerifiableCredentia"]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": []any{"VerifiableCredential", "VerifiableCredential", "VerifiableCredentia"}}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v", v)
	}
	if _, err := dec.Decode([]byte(`{"type":1,"typ\u0065":2}`)); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("an interned key spelt twice: %v", err)
	}
}

// Decodes running at once share no state: the pooled stacks hand nothing
// from one document to another, even after a refusal.
func TestDecodeConcurrent(t *testing.T) {
	docs := []string{`{"a":[1,2,{"b":"c"}],"d":"e"}`, `[{"x":1},{"y":[2,3]}]`, `{"a":1,"a":2}`, `[[[[1,`, `{"k":"v"}`}
	want := make([]any, len(docs))
	for i, d := range docs {
		want[i], _ = Decode([]byte(d), 64)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				j := (g + i) % len(docs)
				got, _ := Decode([]byte(docs[j]), 64)
				if !reflect.DeepEqual(got, want[j]) {
					t.Errorf("%s: got %#v, want %#v", docs[j], got, want[j])
					return
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c), uint8(5))
	}
	f.Fuzz(func(t *testing.T, data []byte, depth uint8) {
		if len(data) > 1<<12 {
			return
		}
		sameAsReference(t, data, int(depth%70))
	})
}
