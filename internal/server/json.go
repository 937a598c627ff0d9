package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/delegation"
	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/verifier"
)

// decodeJSON reads one JSON value from r into v. Syntax and type errors
// become 400 problems that name the offending field as a JSON pointer.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if dec.More() {
		return problem.BadRequest("/", "the body holds more than one JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		return problem.BadRequest("/", "unexpected data after the JSON value")
	}
	return nil
}

func jsonProblem(err error) error {
	var (
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
		invalidUn *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &tooLarge):
		return err
	case errors.Is(err, io.EOF):
		return problem.BadRequest("/", "the request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.BadRequest("/", "the JSON body ends too early")
	case errors.As(err, &syntax):
		return problem.BadRequest("/", fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, syntax))
	case errors.As(err, &typeErr):
		field := "/" + strings.ReplaceAll(typeErr.Field, ".", "/")
		return problem.BadRequest(field, fmt.Sprintf("expected %s, got JSON %s", typeErr.Type, typeErr.Value))
	case errors.As(err, &invalidUn):
		return problem.Internal(err)
	}
	return problem.BadRequest("/", "the body is not valid JSON: "+err.Error())
}

// writeVerifyResponse answers with status and out as JSON, the bytes gin's
// c.JSON would write, built by appendVerifyResponse into a pooled buffer
// instead of by reflection (json_test.go compares the two). Should
// appendVerifyResponse meet a value it does not know, c.JSON answers.
func writeVerifyResponse(c *gin.Context, status int, out *verifyResponse) {
	bp := jsonBuffers.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledJSON {
			jsonBuffers.Put(bp)
		}
	}()
	b, ok := appendVerifyResponse((*bp)[:0], out)
	*bp = b[:0]
	if !ok {
		c.JSON(status, out)
		return
	}
	h := c.Writer.Header()
	if len(h["Content-Type"]) == 0 {
		h["Content-Type"] = []string{"application/json; charset=utf-8"}
	}
	c.Status(status)
	_, _ = c.Writer.Write(b)
}

// maxPooledJSON bounds the buffers writeVerifyResponse keeps for reuse.
const maxPooledJSON = 64 << 10

var jsonBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// appendVerifyResponse appends out as encoding/json's Marshal would (HTML
// characters escaped, map keys sorted, omitempty honoured): the fields of
// its Result in order, with its own Agent in place of the Result's. It
// reports false, and b is to be discarded, for a value Marshal would refuse
// or a type in claims or constraints it does not know.
func appendVerifyResponse(b []byte, out *verifyResponse) ([]byte, bool) {
	r := out.Result
	if r == nil {
		return b, false
	}
	ok := true
	b = append(b, `{"verified":`...)
	b = strconv.AppendBool(b, r.Verified)
	b = append(b, `,"checks":`...)
	if r.Checks == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, c := range r.Checks {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, string(c))
		}
		b = append(b, ']')
	}
	b = append(b, `,"warnings":`...)
	b = appendProblems(b, r.Warnings)
	b = append(b, `,"errors":`...)
	b = appendProblems(b, r.Errors)
	if r.Credential != nil {
		b = append(b, `,"credential":`...)
		if b, ok = appendCredentialFacts(b, r.Credential); !ok {
			return b, false
		}
	}
	if r.Presentation != nil {
		p := r.Presentation
		b = append(b, `,"presentation":{"format":`...)
		b = appendJSONString(b, p.Format)
		b = appendOptString(b, `,"id":`, p.ID)
		b = appendOptString(b, `,"holder":`, p.Holder)
		b = append(b, '}')
	}
	if len(r.Credentials) > 0 {
		b = append(b, `,"credentials":[`...)
		for i := range r.Credentials {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendCredentialFacts(b, &r.Credentials[i]); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	if a := out.Agent; a != nil {
		b = append(b, `,"agent":{`...)
		n := len(b)
		b = appendOptString(b, `,"id":`, a.ID)
		b = appendOptString(b, `,"issuer":`, a.Issuer)
		b = appendOptString(b, `,"principal":`, a.Principal)
		b = appendOptString(b, `,"name":`, a.Name)
		b = appendOptString(b, `,"assurance":`, a.Assurance)
		if d := a.Delegation; d != nil {
			b = append(b, `,"delegation":{`...)
			m := len(b)
			b = appendOptString(b, `,"credential":`, d.Credential)
			b = appendOptString(b, `,"issuer":`, d.Issuer)
			b = appendOptString(b, `,"delegator":`, d.Delegator)
			b = append(b, `,"scopes":`...)
			if b, ok = appendScopes(b, d.Scopes); !ok {
				return b, false
			}
			b = appendOptStrings(b, `,"audience":`, d.Audience)
			if b, ok = appendOptTime(b, `,"validUntil":`, d.ValidUntil); !ok {
				return b, false
			}
			b = append(b, `,"chainLength":`...)
			b = strconv.AppendInt(b, int64(d.ChainLength), 10)
			if len(d.Granted) > 0 {
				b = append(b, `,"granted":`...)
				if b, ok = appendScopes(b, d.Granted); !ok {
					return b, false
				}
			}
			b = dropLeadingComma(b, m)
			b = append(b, '}')
		}
		b = appendOptStrings(b, `,"credentials":`, a.Credentials)
		b = appendOptStrings(b, `,"types":`, a.Types)
		if len(a.Claims) > 0 {
			b = append(b, `,"claims":[`...)
			for i, c := range a.Claims {
				if i > 0 {
					b = append(b, ',')
				}
				if b, ok = appendJSONValue(b, c); !ok {
					return b, false
				}
			}
			b = append(b, ']')
		}
		b = dropLeadingComma(b, n)
		b = append(b, '}')
	}
	return append(b, '}'), true
}

// dropLeadingComma removes the comma at b[at], which the first member
// written after an object's brace brought.
func dropLeadingComma(b []byte, at int) []byte {
	if len(b) > at && b[at] == ',' {
		return append(b[:at], b[at+1:]...)
	}
	return b
}

func appendProblems(b []byte, ps []verifier.Problem) []byte {
	if ps == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"check":`...)
		b = appendJSONString(b, string(p.Check))
		b = appendOptString(b, `,"code":`, p.Code)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, p.Message)
		b = appendOptString(b, `,"credential":`, p.Credential)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendCredentialFacts(b []byte, f *verifier.CredentialFacts) ([]byte, bool) {
	ok := true
	b = append(b, `{"format":`...)
	b = appendJSONString(b, f.Format)
	b = appendOptString(b, `,"id":`, f.ID)
	b = appendOptStrings(b, `,"types":`, f.Types)
	b = appendOptString(b, `,"issuer":`, f.Issuer)
	b = appendOptString(b, `,"subject":`, f.Subject)
	if b, ok = appendOptTime(b, `,"validFrom":`, f.ValidFrom); !ok {
		return b, false
	}
	if b, ok = appendOptTime(b, `,"validUntil":`, f.ValidUntil); !ok {
		return b, false
	}
	b = appendOptString(b, `,"holder":`, f.Holder)
	if len(f.Claims) > 0 {
		b = append(b, `,"claims":`...)
		if b, ok = appendJSONValue(b, f.Claims); !ok {
			return b, false
		}
	}
	b = appendOptStrings(b, `,"disclosed":`, f.Disclosed)
	return append(b, '}'), true
}

func appendScopes(b []byte, scopes []delegation.Scope) ([]byte, bool) {
	if scopes == nil {
		return append(b, "null"...), true
	}
	ok := true
	b = append(b, '[')
	for i, s := range scopes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"action":`...)
		b = appendJSONString(b, s.Action)
		b = append(b, `,"resource":`...)
		b = appendJSONString(b, s.Resource)
		if len(s.Constraints) > 0 {
			b = append(b, `,"constraints":`...)
			if b, ok = appendJSONValue(b, s.Constraints); !ok {
				return b, false
			}
		}
		b = append(b, '}')
	}
	return append(b, ']'), true
}

// appendOptString writes member name (`,"name":`) and s unless s is empty
// (omitempty).
func appendOptString(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, name...), s)
}

// appendOptStrings writes member name and ss unless ss is empty.
func appendOptStrings(b []byte, name string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(b, name...)
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendOptTime writes member name and *t as time.Time's MarshalJSON does
// unless t is nil; false when it would refuse t.
func appendOptTime(b []byte, name string, t *time.Time) ([]byte, bool) {
	if t == nil {
		return b, true
	}
	b = append(append(b, name...), '"')
	b, err := t.AppendText(b) // what MarshalJSON writes between its quotes
	if err != nil {
		return b, false
	}
	return append(b, '"'), true
}

// appendJSONValue writes a JSON value as DecodeObject and the verifier
// build them: maps (keys sorted), slices, strings, json.Number, bool, nil.
// Any other type reports false.
func appendJSONValue(b []byte, v any) ([]byte, bool) {
	ok := true
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendJSONString(b, v), true
	case bool:
		return strconv.AppendBool(b, v), true
	case json.Number:
		n := string(v)
		if n == "" {
			n = "0"
		}
		if !validJSONNumber(n) {
			return b, false
		}
		return append(b, n...), true
	case map[string]any:
		if v == nil {
			return append(b, "null"...), true
		}
		var small [16]string
		keys := small[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			if b, ok = appendJSONValue(b, v[k]); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	case []any:
		if v == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendJSONValue(b, e); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	}
	return b, false
}

// appendJSONString writes s as encoding/json does by default: '"', '\\'
// and control characters escaped, '<', '>' and '&' as \u003c, \u003e,
// \u0026, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// validJSONNumber reports whether s is a JSON number literal.
func validJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(s)
}
