package credential

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode"
	"unicode/utf16"
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
//
// Every verify request goes through here, so the work is split in two: a
// single-pass byte scanner (scanObject) builds the document, and only when it
// refuses the input does the encoding/json token reader (decodeTokens) read
// it again, to say why in the words and at the pointer callers have always
// seen. The scanner accepts exactly what the token reader accepts and builds
// the same values (decode_test.go checks both, differentially and by
// fuzzing); a refusal costs one more pass, bounded by MaxDocumentBytes.
func DecodeObject(data []byte) (map[string]any, error) {
	if len(data) > MaxDocumentBytes {
		return nil, decodeErr("", "document is %d bytes, more than the limit of %d", len(data), MaxDocumentBytes)
	}
	if !utf8.Valid(data) {
		return nil, decodeErr("", "document is not valid UTF-8")
	}
	if m, ok := scanObject(data); ok {
		return m, nil
	}
	return decodeTokens(data)
}

// decodeTokens is DecodeObject's explanation of a refusal: it reads data
// with encoding/json's tokenizer and reports the first problem, with its
// pointer. data is valid UTF-8 of at most MaxDocumentBytes.
func decodeTokens(data []byte) (map[string]any, error) {
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

// scanObject is DecodeObject's fast path: one pass over data (valid UTF-8,
// at most MaxDocumentBytes) that builds the document as decodeTokens would,
// or reports false for anything decodeTokens refuses (then decodeTokens
// says why). Strings are unescaped as encoding/json does (a lone surrogate
// escape becomes U+FFFD), numbers are json.Number of their literal text, an
// empty array is a non-nil []any.
func scanObject(data []byte) (map[string]any, bool) {
	s := scanner{data: data}
	s.space()
	if s.i >= len(s.data) || s.data[s.i] != '{' {
		return nil, false
	}
	s.i++
	m, ok := s.object(1)
	if !ok {
		return nil, false
	}
	s.space()
	return m, s.i == len(s.data)
}

// scanner reads one document. Members and elements of the containers being
// read wait on stack, so that each map and slice is made once at its final
// size.
type scanner struct {
	data  []byte
	i     int
	stack []member
	buf   []byte // unescaped string being built
}

type member struct {
	key string
	val any
}

func (s *scanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object reads the members of an object whose '{' has been read, at
// nesting depth depth (the document object is depth 1).
func (s *scanner) object(depth int) (map[string]any, bool) {
	base := len(s.stack)
	s.space()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		return map[string]any{}, true
	}
	for {
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			return nil, false
		}
		k, ok := s.key()
		if !ok {
			return nil, false
		}
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return nil, false
		}
		s.i++
		v, ok := s.value(depth)
		if !ok {
			return nil, false
		}
		s.stack = append(s.stack, member{key: k, val: v})
		s.space()
		if s.i >= len(s.data) {
			return nil, false
		}
		c := s.data[s.i]
		s.i++
		if c == '}' {
			break
		}
		if c != ',' {
			return nil, false
		}
	}
	members := s.stack[base:]
	m := make(map[string]any, len(members))
	for _, e := range members {
		m[e.key] = e.val
	}
	clear(members) // let the collector have what the stack no longer holds
	s.stack = s.stack[:base]
	// A key seen twice leaves the map short of a member.
	return m, len(m) == len(members)
}

// array reads the elements of an array whose '[' has been read, at depth
// depth.
func (s *scanner) array(depth int) ([]any, bool) {
	base := len(s.stack)
	s.space()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
		return []any{}, true
	}
	for {
		v, ok := s.value(depth)
		if !ok {
			return nil, false
		}
		s.stack = append(s.stack, member{val: v})
		s.space()
		if s.i >= len(s.data) {
			return nil, false
		}
		c := s.data[s.i]
		s.i++
		if c == ']' {
			break
		}
		if c != ',' {
			return nil, false
		}
	}
	elems := s.stack[base:]
	a := make([]any, len(elems))
	for i, e := range elems {
		a[i] = e.val
	}
	clear(elems)
	s.stack = s.stack[:base]
	return a, true
}

// value reads one value inside a container at depth depth.
func (s *scanner) value(depth int) (any, bool) {
	s.space()
	if s.i >= len(s.data) {
		return nil, false
	}
	switch c := s.data[s.i]; c {
	case '{', '[':
		if depth+1 > MaxDepth {
			return nil, false
		}
		s.i++
		if c == '{' {
			m, ok := s.object(depth + 1)
			return m, ok
		}
		a, ok := s.array(depth + 1)
		return a, ok
	case '"':
		start, end, escaped, ok := s.str()
		if !ok {
			return nil, false
		}
		if !escaped {
			if v, ok := internedValues[string(s.data[start:end])]; ok {
				return v, true
			}
			return string(s.data[start:end]), true
		}
		return s.unquote(start, end), true
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return nil, s.literal("null")
	default:
		return s.number()
	}
}

// key reads an object key (the '"' is next).
func (s *scanner) key() (string, bool) {
	start, end, escaped, ok := s.str()
	if !ok {
		return "", false
	}
	if !escaped {
		if k, ok := internedKeys[string(s.data[start:end])]; ok {
			return k, true
		}
		return string(s.data[start:end]), true
	}
	return s.unquote(start, end), true
}

// str checks the string literal at s.i and moves past it: its contents are
// data[start:end]; escaped reports a backslash among them.
func (s *scanner) str() (start, end int, escaped, ok bool) {
	s.i++ // the opening quote
	start = s.i
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			end = s.i
			s.i++
			return start, end, escaped, true
		case c < 0x20:
			return 0, 0, false, false
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.data) {
				return 0, 0, false, false
			}
			switch s.data[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if hex4(s.data[s.i+2:]) < 0 {
					return 0, 0, false, false
				}
				s.i += 6
			default:
				return 0, 0, false, false
			}
		default:
			s.i++
		}
	}
	return 0, 0, false, false
}

// unquote is the text of the checked string literal contents data[start:
// end], escapes replaced the way encoding/json replaces them.
func (s *scanner) unquote(start, end int) string {
	b := s.buf[:0]
	in := s.data[start:end]
	for i := 0; i < len(in); {
		c := in[i]
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		switch in[i+1] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := rune(hex4(in[i+2:]))
			i += 6
			if utf16.IsSurrogate(r) {
				// A valid pair is one rune; anything else is U+FFFD
				// for the first half, and what follows is read on.
				if i+1 < len(in) && in[i] == '\\' && in[i+1] == 'u' {
					if r2 := hex4(in[i+2:]); r2 >= 0 {
						if d := utf16.DecodeRune(r, rune(r2)); d != unicode.ReplacementChar {
							b = utf8.AppendRune(b, d)
							i += 6
							continue
						}
					}
				}
				r = unicode.ReplacementChar
			}
			b = utf8.AppendRune(b, r)
			continue
		default: // '"', '\\', '/'
			b = append(b, in[i+1])
		}
		i += 2
	}
	s.buf = b
	return string(b)
}

// hex4 is the value of the four hex digits that start b, or -1.
func hex4(b []byte) int {
	if len(b) < 4 {
		return -1
	}
	r := 0
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | int(c)
	}
	return r
}

func (s *scanner) literal(word string) bool {
	if len(s.data)-s.i < len(word) || string(s.data[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// number reads a number literal (RFC 8259 grammar) as a json.Number.
func (s *scanner) number() (any, bool) {
	d, start := s.data, s.i
	i := s.i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = digits(d, i+1)
	default:
		return nil, false
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return nil, false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return nil, false
		}
		i = j
	}
	s.i = i
	return json.Number(d[start:i]), true
}

// digits is the index of the first non-digit at or after i.
func digits(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

// internedKeys and internedValues hold the keys and string values most
// credentials and presentations repeat, so that reading them allocates
// nothing (a value is held boxed, ready to be a member of a map or slice).
// Strings are immutable, so sharing them is safe.
var (
	internedKeys   = map[string]string{}
	internedValues = map[string]any{}
)

func init() {
	for _, k := range []string{
		"@context", "@id", "@type", "@vocab", "id", "type", "issuer", "issuanceDate", "expirationDate",
		"validFrom", "validUntil", "credentialSubject", "credentialStatus", "credentialSchema",
		"proof", "proofPurpose", "proofValue", "verificationMethod", "cryptosuite", "created", "expires",
		"challenge", "domain", "nonce", "holder", "verifiableCredential", "verifiablePresentation",
		"options", "checks", "evidence", "termsOfUse", "refreshService", "name", "description",
		"statusPurpose", "statusListIndex", "statusListCredential", "statusSize", "statusMessage",
		"status", "message", "principal", "hardwareBinding", "assurance", "keyType", "agent",
		"delegator", "scopes", "action", "resource", "constraints", "audience", "parent",
		"parentDelegation", "consent", "model", "version", "operator", "capabilities", "software",
		"ekCertificateSha256", "attestedAt",
	} {
		internedKeys[k] = k
	}
	for _, v := range []string{
		"https://www.w3.org/ns/credentials/v2", "https://www.w3.org/2018/credentials/v1",
		"https://w3id.org/security/data-integrity/v2", "VerifiableCredential", "VerifiablePresentation",
		"DataIntegrityProof", "eddsa-rdfc-2022", "ecdsa-rdfc-2019", "eddsa-jcs-2022", "ecdsa-jcs-2019",
		"assertionMethod", "authentication", "BitstringStatusListEntry", "BitstringStatusList",
		"BitstringStatusListCredential", "revocation", "suspension", "JsonSchema",
		"AgentIdentityCredential", "AgentDelegationCredential", "software", "hardware",
		"https://agentid.dev/ns/v1", "Agent", "TPM2",
	} {
		internedValues[v] = v
	}
}
