package jsonld

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// canonicalJSONLiteral writes v in the RFC 8785 (JCS) canonical form that
// json-gold gives a JSON literal: members sorted by their names' UTF-16
// code units, no whitespace, strings escaped as ECMAScript's
// JSON.stringify does. It takes strings, booleans, null, integers within
// ±2^53 (float64 or json.Number), objects and arrays; anything else (a
// fraction, an exponent) is false, for json-gold to write.
func canonicalJSONLiteral(v map[string]any) (string, bool) {
	var sb strings.Builder
	if !writeJCS(&sb, v, 0) {
		return "", false
	}
	return sb.String(), true
}

func writeJCS(sb *strings.Builder, v any, depth int) bool {
	if depth > 64 {
		return false
	}
	switch t := v.(type) {
	case nil:
		sb.WriteString("null")
	case bool:
		sb.WriteString(strconv.FormatBool(t))
	case string:
		writeJCSString(sb, t)
	case float64:
		if t != math.Trunc(t) || math.Abs(t) >= 1<<53 {
			return false
		}
		sb.WriteString(strconv.FormatInt(int64(t), 10))
	case json.Number:
		i, err := t.Int64()
		if err != nil || strings.ContainsAny(string(t), ".eE") || i >= 1<<53 || i <= -(1<<53) {
			return false
		}
		sb.WriteString(strconv.FormatInt(i, 10))
	case []any:
		sb.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				sb.WriteByte(',')
			}
			if !writeJCS(sb, e, depth+1) {
				return false
			}
		}
		sb.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
		})
		sb.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				sb.WriteByte(',')
			}
			writeJCSString(sb, k)
			sb.WriteByte(':')
			if !writeJCS(sb, t[k], depth+1) {
				return false
			}
		}
		sb.WriteByte('}')
	default:
		return false
	}
	return true
}

// validJCS reports whether writeJCS would write v (at depth), without
// writing it: the check-only walk of the fast path uses it.
func validJCS(v any, depth int) bool {
	if depth > 64 {
		return false
	}
	switch t := v.(type) {
	case nil, bool, string:
		return true
	case float64:
		return t == math.Trunc(t) && math.Abs(t) < 1<<53
	case json.Number:
		i, err := t.Int64()
		return err == nil && !strings.ContainsAny(string(t), ".eE") && i < 1<<53 && i > -(1<<53)
	case []any:
		for _, e := range t {
			if !validJCS(e, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range t {
			if !validJCS(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// writeJCSString writes s as JSON.stringify does: the two-character escapes
// for quote, backslash and \b \f \n \r \t, \u00xx for other control
// characters, everything else as it is.
func writeJCSString(sb *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	sb.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			sb.WriteString(`\"`)
		case '\\':
			sb.WriteString(`\\`)
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		default:
			if r < 0x20 {
				sb.WriteString(`\u00`)
				sb.WriteByte(hex[r>>4])
				sb.WriteByte(hex[r&0xf])
			} else {
				sb.WriteRune(r)
			}
		}
	}
	sb.WriteByte('"')
}
