package credential

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"

	"github.com/agentid/agentid/internal/jsonvalue"
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
// Every verify request goes through here, so the work is split in two:
// jsonvalue's single-pass decoder (scanObject) builds the document, and only
// when it refuses the input does the encoding/json token reader
// (decodeTokens) read it again, to say why in the words and at the pointer
// callers have always seen. The scanner accepts exactly what the token reader accepts and builds
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

// scanObject is DecodeObject's fast path: jsonvalue's one-pass decoder,
// which accepts exactly what decodeTokens accepts and builds the same
// document, or reports false for anything decodeTokens refuses (then
// decodeTokens says why). data is valid UTF-8 of at most MaxDocumentBytes.
func scanObject(data []byte) (map[string]any, bool) {
	v, err := scanner.Decode(data)
	if err != nil {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

// scanner is the decoder scanObject uses. Its depth count is decodeTokens's:
// the document object is the first of MaxDepth containers. Each string is
// an allocation of its own, not a substring of a copy of the input, so that
// a string a cache keeps (an issuer DID, say) does not keep a whole
// document of up to MaxDocumentBytes alive; the strings credentials repeat
// are interned instead.
var scanner = &jsonvalue.Decoder{MaxDepth: MaxDepth, Keys: internedKeys, Values: internedValues}

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
