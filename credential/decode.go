package credential

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"
)

// Limits on the documents this package decodes. They keep a hostile document
// from exhausting memory or stack before any other check runs: a credential
// or presentation larger than MaxDocumentBytes, or nested deeper than
// MaxDepth arrays and objects, is refused while it is being read.
const (
	MaxDocumentBytes = 1 << 20
	MaxDepth         = 64
)

// DecodeObject decodes a JSON object strictly, the way every document in
// this package is read:
//
//   - the input must be valid UTF-8 and at most MaxDocumentBytes long;
//   - nesting deeper than MaxDepth is refused;
//   - an object with the same key twice is refused (parsers disagree on
//     which value wins, and a signature must cover what the reader sees);
//   - numbers are kept as json.Number, so that 12345678901234567890 or
//     0.1 survive a round trip unchanged;
//   - nothing may follow the object but white space.
//
// Errors are *ValidationError values whose pointer names where reading
// stopped.
func DecodeObject(data []byte) (map[string]any, error) {
	if len(data) > MaxDocumentBytes {
		return nil, decodeErr("", "document is %d bytes, more than the limit of %d", len(data), MaxDocumentBytes)
	}
	if !utf8.Valid(data) {
		return nil, decodeErr("", "document is not valid UTF-8")
	}
	d := &decoder{dec: json.NewDecoder(bytes.NewReader(data))}
	d.dec.UseNumber()
	tok, err := d.dec.Token()
	if err != nil {
		return nil, decodeErr("", "not JSON: %s", jsonReason(err))
	}
	if tok != json.Delim('{') {
		return nil, decodeErr("", "document must be a JSON object")
	}
	m, err := d.object(1)
	if err != nil {
		return nil, err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return nil, decodeErr("", "unexpected data after the JSON object")
	}
	return m, nil
}

type decoder struct {
	dec  *json.Decoder
	path []any // reference tokens of the value being read, for errors
}

func (d *decoder) here() string { return ptr("", d.path...) }

// value reads one JSON value whose first token is tok, at nesting depth
// depth (the document object is depth 1).
func (d *decoder) value(tok json.Token, depth int) (any, error) {
	switch t := tok.(type) {
	case json.Delim:
		if depth+1 > MaxDepth {
			return nil, decodeErr(d.here(), "nesting deeper than %d levels", MaxDepth)
		}
		if t == '{' {
			return d.object(depth + 1)
		}
		return d.array(depth + 1)
	default:
		// string, json.Number, bool or nil
		return t, nil
	}
}

func (d *decoder) object(depth int) (map[string]any, error) {
	m := make(map[string]any)
	for d.dec.More() {
		kt, err := d.dec.Token()
		if err != nil {
			return nil, decodeErr(d.here(), "not JSON: %s", jsonReason(err))
		}
		k, _ := kt.(string) // encoding/json only yields string keys here
		d.path = append(d.path, k)
		if _, dup := m[k]; dup {
			return nil, decodeErr(d.here(), "duplicate key %q", k)
		}
		vt, err := d.dec.Token()
		if err != nil {
			return nil, decodeErr(d.here(), "not JSON: %s", jsonReason(err))
		}
		v, err := d.value(vt, depth)
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.path = d.path[:len(d.path)-1]
	}
	if _, err := d.dec.Token(); err != nil { // the closing brace
		return nil, decodeErr(d.here(), "not JSON: %s", jsonReason(err))
	}
	return m, nil
}

func (d *decoder) array(depth int) ([]any, error) {
	a := []any{}
	for d.dec.More() {
		d.path = append(d.path, len(a))
		vt, err := d.dec.Token()
		if err != nil {
			return nil, decodeErr(d.here(), "not JSON: %s", jsonReason(err))
		}
		v, err := d.value(vt, depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.path = d.path[:len(d.path)-1]
	}
	if _, err := d.dec.Token(); err != nil { // the closing bracket
		return nil, decodeErr(d.here(), "not JSON: %s", jsonReason(err))
	}
	return a, nil
}

func decodeErr(pointer, format string, args ...any) error {
	var p problems
	p.add(pointer, format, args...)
	return p.err()
}

func jsonReason(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return err.Error()
}
