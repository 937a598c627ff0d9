package sdjwt

import (
	"bytes"
	"encoding/json"
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
