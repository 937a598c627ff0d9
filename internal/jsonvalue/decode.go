package jsonvalue

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxNesting is the deepest nesting Decode accepts whatever maxDepth says:
// encoding/json's own bound, which keeps the recursive descent's stack
// small. Deeper input is a *SyntaxError, as it is for encoding/json.
const MaxNesting = 10000

// Errors of Decode. Every error it returns wraps exactly one of them, and is
// a *SyntaxError, a *TooDeepError or a *DuplicateKeyError with the details.
var (
	ErrSyntax       = errors.New("jsonvalue: not JSON")
	ErrTooDeep      = errors.New("jsonvalue: nested too deep")
	ErrDuplicateKey = errors.New("jsonvalue: duplicate object member name")
)

// SyntaxError is input that is not one JSON value: Msg says what went
// wrong, in encoding/json's words, and Offset where (the length of the
// input for a truncation).
type SyntaxError struct {
	Msg    string
	Offset int
}

func (e *SyntaxError) Error() string { return e.Msg }
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// TooDeepError is a container nested deeper than the limit given to Decode.
type TooDeepError struct{ Limit int }

func (e *TooDeepError) Error() string { return fmt.Sprintf("deeper than %d", e.Limit) }
func (e *TooDeepError) Unwrap() error { return ErrTooDeep }

// DuplicateKeyError is an object with the same member name twice (compared
// after unescaping).
type DuplicateKeyError struct{ Key string }

func (e *DuplicateKeyError) Error() string { return strconv.Quote(e.Key) }
func (e *DuplicateKeyError) Unwrap() error { return ErrDuplicateKey }

// Decode parses data as one JSON value, as a Decoder with MaxDepth
// maxDepth and nothing else set does.
func Decode(data []byte, maxDepth int) (any, error) {
	return (&Decoder{MaxDepth: maxDepth}).Decode(data)
}

// Decoder is a strict one-pass JSON parser. It builds what encoding/json
// builds into an any with UseNumber (map[string]any, []any, string,
// json.Number, bool, nil; empty containers are non-nil; invalid UTF-8 and
// unpaired surrogate escapes become U+FFFD), and refuses, in document order
// (the first problem in the input wins):
//
//   - anything encoding/json refuses, and data after the value;
//   - containers nested deeper than MaxDepth (a value inside MaxDepth
//     arrays and objects may not itself be one) or MaxNesting;
//   - an object with the same member name twice, which parsers disagree
//     on and a signature must not be ambiguous about.
//
// Members and elements wait on one stack while their container is read,
// so that each map and slice is made once at its final size.
//
// A Decoder is configuration only, safe for concurrent use; its fields must
// not change while it is in use.
type Decoder struct {
	MaxDepth int

	// ShareInput makes every string and number without escapes a
	// substring of one copy of the input instead of an allocation of its
	// own. That is cheaper for small inputs whose values die with them;
	// for large ones, one kept string keeps the whole copy alive.
	ShareInput bool

	// Keys and Values, when set, hold member names and string values
	// that documents repeat: a name or value without escapes found there
	// is taken from the table instead of being allocated (a value is
	// held boxed, ready to be a member of a map or slice). Tables must
	// map each string to itself.
	Keys   map[string]string
	Values map[string]any
}

// Decode parses data (see Decoder).
func (dc *Decoder) Decode(data []byte) (any, error) {
	sp := stacks.Get().(*[]member)
	d := decodeState{data: data, dc: dc, stack: (*sp)[:0]}
	defer func() {
		clear(d.stack) // what an error left behind
		if cap(d.stack) <= maxPooledStack {
			*sp = d.stack[:0]
			stacks.Put(sp)
		}
	}()
	if dc.ShareInput {
		d.str = string(data)
	}
	d.skipSpace()
	if d.i == len(d.data) {
		return nil, &SyntaxError{Msg: "empty or truncated JSON", Offset: d.i}
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.i != len(d.data) {
		return nil, &SyntaxError{Msg: "data after the JSON value", Offset: d.i}
	}
	return v, nil
}

// stacks holds decodeState stacks for reuse: every verification decodes
// several documents, and a stack grown afresh for each is several
// allocations. A stack grown past maxPooledStack members (a document with
// very large arrays or objects) is left to the collector.
var stacks = sync.Pool{New: func() any { return new([]member) }}

const maxPooledStack = 1 << 12

type decodeState struct {
	data  []byte
	str   string // string(data), when dc.ShareInput
	dc    *Decoder
	i     int
	depth int      // containers open
	stack []member // members and elements of the open containers
}

type member struct {
	key string
	val any
}

func (d *decodeState) skipSpace() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// syntax is a syntax error at the current byte (or the end of input).
func (d *decodeState) syntax(context string) error {
	if d.i >= len(d.data) {
		return &SyntaxError{Msg: "empty or truncated JSON", Offset: len(d.data)}
	}
	return &SyntaxError{
		Msg:    fmt.Sprintf("invalid character %s %s at offset %d", quoteByte(d.data[d.i]), context, d.i),
		Offset: d.i,
	}
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

// sub is the text of data[start:end] as a string.
func (d *decodeState) sub(start, end int) string {
	if d.str != "" {
		return d.str[start:end]
	}
	return string(d.data[start:end])
}

// value parses the value at d.i, after any white space.
func (d *decodeState) value() (any, error) {
	d.skipSpace()
	if d.i >= len(d.data) {
		return nil, d.syntax("")
	}
	switch c := d.data[d.i]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		start, end, s, err := d.readString()
		if err != nil || start < 0 {
			return s, err
		}
		if d.dc.Values != nil {
			if v, ok := d.dc.Values[string(d.data[start:end])]; ok {
				return v, nil
			}
		}
		return d.sub(start, end), nil
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

// open enters a container, enforcing the depth limits.
func (d *decodeState) open() error {
	if d.depth >= d.dc.MaxDepth {
		return &TooDeepError{Limit: d.dc.MaxDepth}
	}
	if d.depth >= MaxNesting {
		return &SyntaxError{Msg: "exceeded max depth", Offset: d.i}
	}
	d.depth++
	d.i++
	return nil
}

// linearKeys is how many members an object may have before repeated names
// are looked for in a map rather than among the members read so far.
const linearKeys = 16

func (d *decodeState) object() (any, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		d.depth--
		return map[string]any{}, nil
	}
	base := len(d.stack)
	var seen map[string]struct{}
	for {
		d.skipSpace()
		if d.i >= len(d.data) || d.data[d.i] != '"' {
			return nil, d.syntax("looking for beginning of object key string")
		}
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		// Before the value, so that errors come in document order.
		if n := len(d.stack) - base; n < linearKeys {
			for _, e := range d.stack[base:] {
				if e.key == k {
					return nil, &DuplicateKeyError{Key: k}
				}
			}
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 2*n)
				for _, e := range d.stack[base:] {
					seen[e.key] = struct{}{}
				}
			}
			if _, dup := seen[k]; dup {
				return nil, &DuplicateKeyError{Key: k}
			}
			seen[k] = struct{}{}
		}
		d.stack = append(d.stack, member{key: k})
		at := len(d.stack) - 1
		d.skipSpace()
		if d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, d.syntax("after object key")
		}
		d.i++
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.stack[at].val = v
		d.skipSpace()
		if d.i < len(d.data) {
			switch d.data[d.i] {
			case ',':
				d.i++
				continue
			case '}':
				d.i++
				d.depth--
				members := d.stack[base:]
				m := make(map[string]any, len(members))
				for _, e := range members {
					m[e.key] = e.val
				}
				clear(members) // let the collector have what the stack no longer holds
				d.stack = d.stack[:base]
				return m, nil
			}
		}
		return nil, d.syntax("after object key:value pair")
	}
}

func (d *decodeState) array() (any, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		d.depth--
		return []any{}, nil
	}
	base := len(d.stack)
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.stack = append(d.stack, member{val: v})
		d.skipSpace()
		if d.i < len(d.data) {
			switch d.data[d.i] {
			case ',':
				d.i++
				continue
			case ']':
				d.i++
				d.depth--
				elems := d.stack[base:]
				a := make([]any, len(elems))
				for j, e := range elems {
					a[j] = e.val
				}
				clear(elems)
				d.stack = d.stack[:base]
				return a, nil
			}
		}
		return nil, d.syntax("after array element")
	}
}

func (d *decodeState) literal(word string, v any) (any, error) {
	for j := 0; j < len(word); j++ {
		if d.i >= len(d.data) || d.data[d.i] != word[j] {
			return nil, d.syntax("in literal " + word)
		}
		d.i++
	}
	return v, nil
}

// number parses -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? into a
// json.Number of its literal text.
func (d *decodeState) number() (any, error) {
	start := d.i
	if d.data[d.i] == '-' {
		d.i++
	}
	if d.i >= len(d.data) {
		return nil, d.syntax("")
	}
	switch c := d.data[d.i]; {
	case c == '0':
		d.i++
	case c >= '1' && c <= '9':
		d.digits()
	default:
		return nil, d.syntax("in numeric literal")
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if d.i >= len(d.data) || !isDigit(d.data[d.i]) {
			return nil, d.syntax("after decimal point in numeric literal")
		}
		d.digits()
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if d.i >= len(d.data) || !isDigit(d.data[d.i]) {
			return nil, d.syntax("in exponent of numeric literal")
		}
		d.digits()
	}
	return json.Number(d.sub(start, d.i)), nil
}

func (d *decodeState) digits() {
	for d.i < len(d.data) && isDigit(d.data[d.i]) {
		d.i++
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// key parses an object member name (d.i is at its opening quote).
func (d *decodeState) key() (string, error) {
	start, end, s, err := d.readString()
	if err != nil || start < 0 {
		return s, err
	}
	if d.dc.Keys != nil {
		if k, ok := d.dc.Keys[string(d.data[start:end])]; ok {
			return k, nil
		}
	}
	return d.sub(start, end), nil
}

// readString parses the string at d.i (its opening quote). A string of
// valid UTF-8 without escapes is its text data[start:end], left for the
// caller to make a string of (or find in a table); otherwise start is -1
// and s is the text unescaped as encoding/json does: invalid UTF-8 bytes
// and unpaired surrogate escapes become U+FFFD.
func (d *decodeState) readString() (start, end int, s string, err error) {
	d.i++
	start = d.i
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			end = d.i
			d.i++
			return start, end, "", nil
		case c == '\\' || c < ' ':
			s, err := d.stringSlow(start)
			return -1, 0, s, err
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, size := utf8.DecodeRune(d.data[d.i:])
			if r == utf8.RuneError && size == 1 {
				s, err := d.stringSlow(start)
				return -1, 0, s, err
			}
			d.i += size
		}
	}
	return -1, 0, "", d.syntax("")
}

// stringSlow finishes a string that needs unescaping or repair;
// d.data[start:d.i] is its plain beginning.
func (d *decodeState) stringSlow(start int) (string, error) {
	b := make([]byte, 0, d.i-start+16)
	b = append(b, d.data[start:d.i]...)
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			return string(b), nil
		case c < ' ':
			return "", d.syntax("in string literal")
		case c == '\\':
			d.i++
			if d.i >= len(d.data) {
				return "", d.syntax("")
			}
			switch e := d.data[d.i]; e {
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
				r := hex4(d.data[d.i:])
				if r < 0 {
					for range 4 { // point at the first bad hex digit
						if d.i >= len(d.data) || hexVal(d.data[d.i]) < 0 {
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
					if len(d.data)-d.i >= 6 && d.data[d.i] == '\\' && d.data[d.i+1] == 'u' {
						if r2 := hex4(d.data[d.i+2:]); r2 >= 0 {
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
			r, size := utf8.DecodeRune(d.data[d.i:])
			b = utf8.AppendRune(b, r)
			d.i += size
		}
	}
	return "", d.syntax("")
}

// hex4 reads four hex digits at the start of b, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		v := hexVal(c)
		if v < 0 {
			return -1
		}
		r = r<<4 | v
	}
	return r
}

func hexVal(c byte) rune {
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
