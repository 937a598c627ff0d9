package credential

import (
	"encoding/json"
	"time"

	"github.com/agentid/agentid/internal/jsonvalue"
)

// The base contexts that identify the two versions of the data model. The
// first entry of a document's @context must be one of them.
const (
	ContextV1 = "https://www.w3.org/2018/credentials/v1"
	ContextV2 = "https://www.w3.org/ns/credentials/v2"
)

// Types that the data model gives meaning to.
const (
	TypeVerifiableCredential            = "VerifiableCredential"
	TypeVerifiablePresentation          = "VerifiablePresentation"
	TypeEnvelopedVerifiableCredential   = "EnvelopedVerifiableCredential"
	TypeEnvelopedVerifiablePresentation = "EnvelopedVerifiablePresentation"
)

// Version is the version of the VC Data Model a document follows, read from
// the first entry of its @context.
type Version int

const (
	// VersionUnknown: the first @context entry is neither base context.
	VersionUnknown Version = iota
	// V1 is VC Data Model 1.1 (https://www.w3.org/2018/credentials/v1).
	V1
	// V2 is VC Data Model 2.0 (https://www.w3.org/ns/credentials/v2).
	V2
)

func (v Version) String() string {
	switch v {
	case V1:
		return "1.1"
	case V2:
		return "2.0"
	}
	return "unknown"
}

// Document is what Credential and Presentation have in common: the decoded
// JSON-LD document underneath.
type Document interface {
	Map() map[string]any
}

// Credential is a verifiable credential (or an unsecured credential on its
// way to being signed). A credential is open-world JSON-LD: any property may
// appear, from any vocabulary its @context brings in, and a signature covers
// all of them. So the document is kept as decoded JSON, exactly as received
// (numbers as json.Number), and the methods below read the properties the
// data model defines. Nothing is lost by parsing and marshalling again.
//
// Accessors never fail: a property that is missing or has the wrong shape
// reads as the zero value. Validate says what is wrong with the shape.
//
// A Credential is not safe for concurrent mutation of its map; reading from
// several goroutines is fine.
type Credential struct {
	raw map[string]any
}

// ParseCredential decodes a credential strictly (see DecodeObject) and
// validates it against the data model (see Validate). It accepts VC Data
// Model 2.0 and 1.1 documents. On error it returns a *ValidationError listing
// every problem found.
func ParseCredential(data []byte) (*Credential, error) {
	m, err := DecodeObject(data)
	if err != nil {
		return nil, err
	}
	c := &Credential{raw: m}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// NewCredential wraps an already decoded document without validating it;
// call Validate before trusting its shape. The map is used, not copied.
func NewCredential(m map[string]any) *Credential {
	if m == nil {
		m = map[string]any{}
	}
	return &Credential{raw: m}
}

// Map returns the underlying document. Changes to it change the credential;
// use Clone first to work on a copy.
func (c *Credential) Map() map[string]any { return c.raw }

// Clone returns a deep copy.
func (c *Credential) Clone() *Credential {
	return &Credential{raw: jsonvalue.CloneObject(c.raw)}
}

// MarshalJSON encodes the document as it is, with all its properties.
func (c *Credential) MarshalJSON() ([]byte, error) { return json.Marshal(c.raw) }

// UnmarshalJSON decodes strictly (see DecodeObject) but does not validate:
// a Credential field in a request struct is filled, then the handler calls
// Validate and reports the problems.
func (c *Credential) UnmarshalJSON(data []byte) error {
	m, err := DecodeObject(data)
	if err != nil {
		return err
	}
	c.raw = m
	return nil
}

// Version is the data model version named by the first @context entry.
func (c *Credential) Version() Version { return versionOf(c.raw) }

// Contexts returns the @context entries (URL strings and inline context
// objects) in order; a single string context reads as a one-entry list.
func (c *Credential) Contexts() []any { return contexts(c.raw) }

// ID is the credential's id, or "" when it has none.
func (c *Credential) ID() string { return str(c.raw["id"]) }

// Types returns the type values (strings only), in document order.
func (c *Credential) Types() []string { return typesOf(c.raw["type"]) }

// HasType reports whether t is among the type values.
func (c *Credential) HasType(t string) bool { return hasType(c.raw, t) }

// Issuer returns the issuer's identifier and, when the issuer is written as
// an object ({"id": ..., "name": ...}), that object. id is "" when missing.
func (c *Credential) Issuer() (id string, obj map[string]any) {
	return idOrObject(c.raw["issuer"])
}

// ValidFrom is the parsed validFrom (VC 2.0); ok is false when it is
// missing or not a dateTimeStamp.
func (c *Credential) ValidFrom() (t time.Time, ok bool) { return stamp(c.raw["validFrom"]) }

// ValidUntil is the parsed validUntil (VC 2.0); ok is false when it is
// missing or not a dateTimeStamp.
func (c *Credential) ValidUntil() (t time.Time, ok bool) { return stamp(c.raw["validUntil"]) }

// IssuanceDate is the parsed issuanceDate (VC 1.1); ok is false when it is
// missing or not a dateTime.
func (c *Credential) IssuanceDate() (t time.Time, ok bool) { return dateTime(c.raw["issuanceDate"]) }

// ExpirationDate is the parsed expirationDate (VC 1.1); ok is false when
// it is missing or not a dateTime.
func (c *Credential) ExpirationDate() (t time.Time, ok bool) {
	return dateTime(c.raw["expirationDate"])
}

// NotBefore is the start of the validity period whatever the version:
// validFrom, or issuanceDate for a 1.1 credential.
func (c *Credential) NotBefore() (time.Time, bool) {
	if c.Version() == V1 {
		if t, ok := c.ValidFrom(); ok {
			return t, ok
		}
		return c.IssuanceDate()
	}
	return c.ValidFrom()
}

// NotAfter is the end of the validity period whatever the version:
// validUntil, or expirationDate for a 1.1 credential.
func (c *Credential) NotAfter() (time.Time, bool) {
	if c.Version() == V1 {
		if t, ok := c.ValidUntil(); ok {
			return t, ok
		}
		return c.ExpirationDate()
	}
	return c.ValidUntil()
}

// Subjects returns the credentialSubject objects (one or many).
func (c *Credential) Subjects() []map[string]any { return objects(c.raw["credentialSubject"]) }

// Status returns the credentialStatus entries.
func (c *Credential) Status() []map[string]any { return objects(c.raw["credentialStatus"]) }

// Schemas returns the credentialSchema entries.
func (c *Credential) Schemas() []map[string]any { return objects(c.raw["credentialSchema"]) }

// Proofs returns the embedded proof objects (a proof set when more than
// one).
func (c *Credential) Proofs() []map[string]any { return objects(c.raw["proof"]) }

// Evidence returns the evidence entries.
func (c *Credential) Evidence() []map[string]any { return objects(c.raw["evidence"]) }

// TermsOfUse returns the termsOfUse entries.
func (c *Credential) TermsOfUse() []map[string]any { return objects(c.raw["termsOfUse"]) }

// RefreshServices returns the refreshService entries.
func (c *Credential) RefreshServices() []map[string]any { return objects(c.raw["refreshService"]) }

// RelatedResources returns the relatedResource entries.
func (c *Credential) RelatedResources() []map[string]any { return objects(c.raw["relatedResource"]) }

// ---- helpers shared with Presentation ----

func versionOf(m map[string]any) Version {
	ctx := contexts(m)
	if len(ctx) == 0 {
		return VersionUnknown
	}
	switch ctx[0] {
	case ContextV2:
		return V2
	case ContextV1:
		return V1
	}
	return VersionUnknown
}

func contexts(m map[string]any) []any {
	switch v := m["@context"].(type) {
	case string:
		return []any{v}
	case []any:
		return append([]any(nil), v...)
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func typesOf(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func hasType(m map[string]any, want string) bool {
	for _, t := range typesOf(m["type"]) {
		if t == want {
			return true
		}
	}
	return false
}

func idOrObject(v any) (string, map[string]any) {
	switch t := v.(type) {
	case string:
		return t, nil
	case map[string]any:
		return str(t["id"]), t
	}
	return "", nil
}

// objects reads a property that holds one object or an array of objects;
// entries that are not objects are skipped.
func objects(v any) []map[string]any {
	switch t := v.(type) {
	case map[string]any:
		return []map[string]any{t}
	case []any:
		out := make([]map[string]any, 0, len(t))
		for _, e := range t {
			if o, ok := e.(map[string]any); ok {
				out = append(out, o)
			}
		}
		return out
	}
	return nil
}

func stamp(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := ParseDateTimeStamp(s)
	return t, err == nil
}

func dateTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := ParseDateTime(s)
	return t, err == nil
}
