package sdjwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Default limits on SD-JWT input; see Limits.
const (
	DefaultMaxSize        = 1 << 20
	DefaultMaxDisclosures = 1024
	DefaultMaxDepth       = 32
)

// Limits bound the input that parsing and verification accept, so that a
// hostile SD-JWT cannot make them use unbounded memory or time. A zero field
// takes its default.
type Limits struct {
	// MaxSize is the largest compact SD-JWT, in bytes (default 1 MiB).
	MaxSize int
	// MaxDisclosures is the most disclosures one SD-JWT may carry
	// (default 1024).
	MaxDisclosures int
	// MaxDepth is the deepest nesting of JSON arrays and objects, counted
	// across recursive disclosures (default 32).
	MaxDepth int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxDisclosures <= 0 {
		l.MaxDisclosures = DefaultMaxDisclosures
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// checkJSON walks the tokens of one JSON value and rejects syntax errors,
// trailing data, nesting deeper than maxDepth and objects with a repeated
// member name, before anything is unmarshaled.
func checkJSON(data []byte, maxDepth int) error {
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
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if done {
			return fmt.Errorf("%w: data after the JSON value", ErrMalformed)
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				done = true
			}
			continue
		}
		if top != nil && top.object && top.expectKey {
			name, ok := tok.(string)
			if !ok {
				return fmt.Errorf("%w: object member name is not a string", ErrMalformed)
			}
			if _, dup := top.names[name]; dup {
				return fmt.Errorf("%w: %q", ErrDuplicateJSONKey, name)
			}
			top.names[name] = struct{}{}
			top.expectKey = false
			continue
		}
		// tok is a value.
		if top != nil && top.object {
			top.expectKey = true
		}
		if d, ok := tok.(json.Delim); ok {
			if len(stack) >= maxDepth {
				return fmt.Errorf("%w: deeper than %d", ErrTooDeep, maxDepth)
			}
			if d == '{' {
				stack = append(stack, frame{object: true, expectKey: true, names: map[string]struct{}{}})
			} else {
				stack = append(stack, frame{})
			}
			continue
		}
		if top == nil {
			done = true
		}
	}
	if !done {
		return fmt.Errorf("%w: empty or truncated JSON", ErrMalformed)
	}
	return nil
}

// decodeJSON checks data with checkJSON and unmarshals it into v, keeping
// numbers as json.Number.
func decodeJSON(data []byte, maxDepth int, v any) error {
	if err := checkJSON(data, maxDepth); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// encodeJSON marshals v without HTML escaping and without a trailing
// newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
