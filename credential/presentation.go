package credential

import (
	"encoding/json"

	"github.com/agentid/agentid/internal/jsonvalue"
)

// Presentation is a verifiable presentation: a holder's package of
// credentials, usually with a proof of the holder's key over a verifier's
// challenge. Like Credential it keeps the decoded document and reads the
// properties the data model defines.
type Presentation struct {
	raw map[string]any
}

// ParsePresentation decodes a presentation strictly (see DecodeObject) and
// validates it, including each embedded or enveloped credential (see
// (*Presentation).Validate).
func ParsePresentation(data []byte) (*Presentation, error) {
	m, err := DecodeObject(data)
	if err != nil {
		return nil, err
	}
	p := &Presentation{raw: m}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// NewPresentation wraps an already decoded document without validating it.
// The map is used, not copied.
func NewPresentation(m map[string]any) *Presentation {
	if m == nil {
		m = map[string]any{}
	}
	return &Presentation{raw: m}
}

// Map returns the underlying document (shared, not copied).
func (p *Presentation) Map() map[string]any { return p.raw }

// Clone returns a deep copy.
func (p *Presentation) Clone() *Presentation {
	return &Presentation{raw: jsonvalue.CloneObject(p.raw)}
}

// MarshalJSON encodes the document as it is.
func (p *Presentation) MarshalJSON() ([]byte, error) { return json.Marshal(p.raw) }

// UnmarshalJSON decodes strictly but does not validate.
func (p *Presentation) UnmarshalJSON(data []byte) error {
	m, err := DecodeObject(data)
	if err != nil {
		return err
	}
	p.raw = m
	return nil
}

// Version is the data model version named by the first @context entry.
func (p *Presentation) Version() Version { return versionOf(p.raw) }

// Contexts returns the @context entries in order.
func (p *Presentation) Contexts() []any { return contexts(p.raw) }

// ID is the presentation's id, or "".
func (p *Presentation) ID() string { return str(p.raw["id"]) }

// Types returns the type values.
func (p *Presentation) Types() []string { return typesOf(p.raw["type"]) }

// HasType reports whether t is among the type values.
func (p *Presentation) HasType(t string) bool { return hasType(p.raw, t) }

// Holder returns the holder's identifier and, when written as an object,
// that object.
func (p *Presentation) Holder() (id string, obj map[string]any) {
	return idOrObject(p.raw["holder"])
}

// Proofs returns the presentation's proof objects.
func (p *Presentation) Proofs() []map[string]any { return objects(p.raw["proof"]) }

// PresentedCredential is one entry of a presentation's verifiableCredential:
// either an embedded credential (a JSON object secured by an embedded proof)
// or an enveloped one (an EnvelopedVerifiableCredential whose id is a data:
// URL carrying, say, a VC-JOSE JWT or an SD-JWT).
type PresentedCredential struct {
	// Embedded is the credential when it is embedded, else nil.
	Embedded *Credential
	// Enveloped is the envelope's data: URL when it is enveloped, else "".
	Enveloped string
}

// VerifiableCredentials returns the presented credentials in order. Entries
// that are neither objects nor envelopes (Validate reports them) are
// skipped.
func (p *Presentation) VerifiableCredentials() []PresentedCredential {
	var out []PresentedCredential
	for _, o := range objects(p.raw["verifiableCredential"]) {
		if hasType(o, TypeEnvelopedVerifiableCredential) {
			out = append(out, PresentedCredential{Enveloped: str(o["id"])})
			continue
		}
		out = append(out, PresentedCredential{Embedded: &Credential{raw: o}})
	}
	return out
}

// Envelope is an EnvelopedVerifiableCredential or
// EnvelopedVerifiablePresentation: a small JSON-LD object whose id is a
// data: URL holding a credential or presentation secured by an enveloping
// proof (VC-JOSE-COSE, SD-JWT).
type Envelope struct {
	// Type is TypeEnvelopedVerifiableCredential or
	// TypeEnvelopedVerifiablePresentation.
	Type string
	// ID is the data: URL as written.
	ID string
	// Data is the parsed data: URL; Data.Data holds the secured payload
	// (for example a compact JWS).
	Data *DataURL
}

// IsEnvelope reports whether a decoded object says it is an
// EnvelopedVerifiableCredential or EnvelopedVerifiablePresentation.
func IsEnvelope(m map[string]any) bool {
	return hasType(m, TypeEnvelopedVerifiableCredential) || hasType(m, TypeEnvelopedVerifiablePresentation)
}

// ParseEnvelope validates an enveloped credential or presentation object:
// an @context whose first entry is the VC 2.0 context, a type naming one of
// the two envelope types, and an id that is a data: URL. It does not verify
// the enveloped payload; that is the job of the proof format (VC-JOSE,
// SD-JWT).
func ParseEnvelope(m map[string]any) (*Envelope, error) {
	var p problems
	env := validateEnvelope(&p, "", m)
	if err := p.err(); err != nil {
		return nil, err
	}
	return env, nil
}
