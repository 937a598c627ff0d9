package sdjwt

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonMaxNesting is the deepest nesting the decoder accepts whatever
// Limits.MaxDepth says: encoding/json's own bound, which keeps the
// recursive descent's stack small.
const jsonMaxNesting = 10000

// decodeJSON parses one JSON value from data into v, which must be a
// *map[string]any, a *[]any or a *any. It rejects syntax errors, trailing
// data, nesting deeper than maxDepth and objects with a repeated member
// name (compared after unescaping), and keeps numbers as json.Number; the
// values it builds are those encoding/json builds (invalid UTF-8 and lone
// surrogates become U+FFFD).
//
// It does in one pass what a token walk for the checks followed by
// json.Decoder.Decode did in three (the decoder scans its input twice), and
// every string and number without escapes is a substring of one copy of
// data rather than an allocation of its own: header, payload and
// disclosures are decoded on every verification.
//
// Errors come in document order, as the token walk reported them: the
// first syntax error, repeated name or too-deep container wins.
func decodeJSON(data []byte, maxDepth int, v any) error {
	d := jsonDecoder{s: string(data), maxDepth: maxDepth}
	d.skipSpace()
	if d.i == len(d.s) {
		return fmt.Errorf("%w: empty or truncated JSON", ErrMalformed)
	}
	val, err := d.value()
	if err != nil {
		return err
	}
	d.skipSpace()
	if d.i != len(d.s) {
		return fmt.Errorf("%w: data after the JSON value", ErrMalformed)
	}
	switch p := v.(type) {
	case *map[string]any:
		switch t := val.(type) {
		case map[string]any:
			*p = t
		case nil: // null leaves the map alone, as json.Unmarshal does
		default:
			return fmt.Errorf("%w: %s where a JSON object was expected", ErrMalformed, jsonKind(val))
		}
	case *[]any:
		switch t := val.(type) {
		case []any:
			*p = t
		case nil:
		default:
			return fmt.Errorf("%w: %s where a JSON array was expected", ErrMalformed, jsonKind(val))
		}
	case *any:
		*p = val
	default:
		return fmt.Errorf("%w: cannot decode into %T", ErrMalformed, v)
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

// jsonDecoder is a recursive-descent JSON parser over s.
type jsonDecoder struct {
	s        string
	i        int
	depth    int // containers open
	maxDepth int
}

func (d *jsonDecoder) skipSpace() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// syntax is a syntax error at the current byte (or the end of input).
func (d *jsonDecoder) syntax(context string) error {
	if d.i >= len(d.s) {
		return fmt.Errorf("%w: empty or truncated JSON", ErrMalformed)
	}
	return fmt.Errorf("%w: invalid character %s %s at offset %d", ErrMalformed, quoteByte(d.s[d.i]), context, d.i)
}

// quoteByte formats c for an error message, as encoding/json does.
func quoteByte(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// value parses the value at d.i, after any white space.
func (d *jsonDecoder) value() (any, error) {
	d.skipSpace()
	if d.i >= len(d.s) {
		return nil, d.syntax("")
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.str()
	case c == 't':
		return d.literal("true", true)
	case c == 'f':
		return d.literal("false", false)
	case c == 'n':
		return d.literal("null", nil)
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, d.syntax("looking for beginning of value")
}

// open enters a container, enforcing the depth limit.
func (d *jsonDecoder) open() error {
	if d.depth >= d.maxDepth {
		return fmt.Errorf("%w: deeper than %d", ErrTooDeep, d.maxDepth)
	}
	if d.depth >= jsonMaxNesting {
		return fmt.Errorf("%w: exceeded max depth", ErrMalformed)
	}
	d.depth++
	d.i++
	return nil
}

func (d *jsonDecoder) object() (any, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	m := make(map[string]any)
	d.skipSpace()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		d.depth--
		return m, nil
	}
	for {
		d.skipSpace()
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return nil, d.syntax("looking for beginning of object key string")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		// Before the value, as the token walk saw the repeated name.
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%w: %q", ErrDuplicateJSONKey, k)
		}
		d.skipSpace()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return nil, d.syntax("after object key")
		}
		d.i++
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.skipSpace()
		if d.i < len(d.s) {
			switch d.s[d.i] {
			case ',':
				d.i++
				continue
			case '}':
				d.i++
				d.depth--
				return m, nil
			}
		}
		return nil, d.syntax("after object key:value pair")
	}
}

func (d *jsonDecoder) array() (any, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	a := make([]any, 0)
	d.skipSpace()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		d.depth--
		return a, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.i < len(d.s) {
			switch d.s[d.i] {
			case ',':
				d.i++
				continue
			case ']':
				d.i++
				d.depth--
				return a, nil
			}
		}
		return nil, d.syntax("after array element")
	}
}

func (d *jsonDecoder) literal(word string, v any) (any, error) {
	for j := 0; j < len(word); j++ {
		if d.i >= len(d.s) || d.s[d.i] != word[j] {
			return nil, d.syntax("in literal " + word)
		}
		d.i++
	}
	return v, nil
}

// number parses -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? into a
// json.Number.
func (d *jsonDecoder) number() (any, error) {
	start := d.i
	if d.s[d.i] == '-' {
		d.i++
	}
	if d.i >= len(d.s) {
		return nil, d.syntax("")
	}
	switch c := d.s[d.i]; {
	case c == '0':
		d.i++
	case c >= '1' && c <= '9':
		d.digits()
	default:
		return nil, d.syntax("in numeric literal")
	}
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		if d.i >= len(d.s) || !isDigit(d.s[d.i]) {
			return nil, d.syntax("after decimal point in numeric literal")
		}
		d.digits()
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if d.i >= len(d.s) || !isDigit(d.s[d.i]) {
			return nil, d.syntax("in exponent of numeric literal")
		}
		d.digits()
	}
	return json.Number(d.s[start:d.i]), nil
}

func (d *jsonDecoder) digits() {
	for d.i < len(d.s) && isDigit(d.s[d.i]) {
		d.i++
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// str parses the string at d.i (its opening quote). A string of valid UTF-8
// without escapes is returned as a substring of the input; otherwise it is
// unescaped as encoding/json does: invalid UTF-8 bytes and unpaired
// surrogate escapes become U+FFFD.
func (d *jsonDecoder) str() (string, error) {
	d.i++
	start := d.i
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			s := d.s[start:d.i]
			d.i++
			return s, nil
		case c == '\\' || c < ' ':
			return d.strSlow(start)
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, size := utf8.DecodeRuneInString(d.s[d.i:])
			if r == utf8.RuneError && size == 1 {
				return d.strSlow(start)
			}
			d.i += size
		}
	}
	return "", d.syntax("")
}

// strSlow finishes a string that needs unescaping or repair; d.s[start:d.i]
// is its plain beginning.
func (d *jsonDecoder) strSlow(start int) (string, error) {
	b := make([]byte, 0, d.i-start+16)
	b = append(b, d.s[start:d.i]...)
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			return string(b), nil
		case c < ' ':
			return "", d.syntax("in string literal")
		case c == '\\':
			d.i++
			if d.i >= len(d.s) {
				return "", d.syntax("")
			}
			switch e := d.s[d.i]; e {
			case '"', '\\', '/':
				b = append(b, e)
				d.i++
			case 'b':
				b = append(b, '\b')
				d.i++
			case 'f':
				b = append(b, '\f')
				d.i++
			case 'n':
				b = append(b, '\n')
				d.i++
			case 'r':
				b = append(b, '\r')
				d.i++
			case 't':
				b = append(b, '\t')
				d.i++
			case 'u':
				d.i++
				r := hex4(d.s[d.i:])
				if r < 0 {
					for j := 0; j < 4; j++ { // point at the first bad hex digit
						if d.i >= len(d.s) || hex4val(d.s[d.i]) < 0 {
							break
						}
						d.i++
					}
					return "", d.syntax("in \\u hexadecimal character escape")
				}
				d.i += 4
				if utf16.IsSurrogate(r) {
					// A pair is two escapes; anything else leaves the
					// first one unpaired.
					if len(d.s)-d.i >= 6 && d.s[d.i] == '\\' && d.s[d.i+1] == 'u' {
						if r2 := hex4(d.s[d.i+2:]); r2 >= 0 {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								b = utf8.AppendRune(b, dec)
								d.i += 6
								break
							}
						}
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", d.syntax("in string escape code")
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			d.i++
		default:
			r, size := utf8.DecodeRuneInString(d.s[d.i:])
			b = utf8.AppendRune(b, r)
			d.i += size
		}
	}
	return "", d.syntax("")
}

// hex4 reads four hex digits at the start of s, or returns -1.
func hex4(s string) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for j := 0; j < 4; j++ {
		v := hex4val(s[j])
		if v < 0 {
			return -1
		}
		r = r<<4 | v
	}
	return r
}

func hex4val(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}
