package sdjwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The token walk and json.Decoder that decodeJSON replaced, kept as the
// reference the one-pass decoder is tested and fuzzed against.

// refCheckJSON walks the tokens of one JSON value and rejects syntax errors,
// trailing data, nesting deeper than maxDepth and objects with a repeated
// member name, before anything is unmarshaled.
func refCheckJSON(data []byte, maxDepth int) error {
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

// refDecodeJSON checks data with refCheckJSON and unmarshals it into v, keeping
// numbers as json.Number.
func refDecodeJSON(data []byte, maxDepth int, v any) error {
	if err := refCheckJSON(data, maxDepth); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}
