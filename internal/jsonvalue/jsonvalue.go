// Package jsonvalue holds the small operations every package needs on
// decoded JSON trees (map[string]any, []any and scalars): deep copies and
// reading a member that may be one string or an array of strings, and the
// strict one-pass decoder (Decode) that builds them from untrusted input.
package jsonvalue

// Clone returns a deep copy of a decoded JSON value: maps and slices are
// copied, scalars are shared (they are immutable).
func Clone(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return CloneObject(t)
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = Clone(e)
		}
		return s
	}
	return v
}

// CloneObject returns a deep copy of a decoded JSON object.
func CloneObject(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		out[k] = Clone(e)
	}
	return out
}

// Strings reads a JSON member that is one string or an array of strings,
// skipping array elements that are not strings. Anything else gives nil.
func Strings(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []string:
		return t
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
