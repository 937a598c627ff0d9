package didmethods

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/agentid/agentid/keys"
	"github.com/multiformats/go-multibase"
)

// Document is a DID document (W3C DID Core 1.0 §5). Its JSON members come
// out in the order the W3C suites' did:key resolver writes them. Members of
// a did:web document that this type does not model are dropped on parsing.
type Document struct {
	Context              Context              `json:"@context,omitempty"`
	ID                   string               `json:"id"`
	Controller           StringSet            `json:"controller,omitempty"`
	AlsoKnownAs          []string             `json:"alsoKnownAs,omitempty"`
	VerificationMethod   []VerificationMethod `json:"verificationMethod,omitempty"`
	Authentication       []VerificationRef    `json:"authentication,omitempty"`
	AssertionMethod      []VerificationRef    `json:"assertionMethod,omitempty"`
	CapabilityDelegation []VerificationRef    `json:"capabilityDelegation,omitempty"`
	CapabilityInvocation []VerificationRef    `json:"capabilityInvocation,omitempty"`
	KeyAgreement         []VerificationRef    `json:"keyAgreement,omitempty"`
	Service              []Service            `json:"service,omitempty"`
}

// VerificationMethod is a DID Core verification method. Exactly one of
// PublicKeyMultibase, PublicKeyJWK and PublicKeyBase58 carries the key.
type VerificationMethod struct {
	ID                 string    `json:"id"`
	Type               string    `json:"type"`
	Controller         string    `json:"controller"`
	PublicKeyMultibase string    `json:"publicKeyMultibase,omitempty"`
	PublicKeyJWK       *keys.JWK `json:"publicKeyJwk,omitempty"`
	// PublicKeyBase58 is the raw key in base58btc, used by the 2018/2019
	// suite types (Ed25519VerificationKey2018, X25519KeyAgreementKey2019,
	// EcdsaSecp256k1VerificationKey2019) and P256Key2021.
	PublicKeyBase58 string `json:"publicKeyBase58,omitempty"`
}

// VerificationMethodDocument is a verification method dereferenced from a
// DID URL, as a JSON-LD document of its own: the method's members with an
// "@context" naming the context that defines its type.
type VerificationMethodDocument struct {
	Context any `json:"@context"`
	VerificationMethod
}

// VerificationRef is one entry of a verification relationship: either a
// reference (a DID URL, possibly relative such as "#key-1") to a method, or
// an embedded method.
type VerificationRef struct {
	// ID is the referenced DID URL; empty when Embedded is set.
	ID string
	// Embedded is a verification method embedded in the relationship.
	Embedded *VerificationMethod
}

// MethodID returns the id of the referenced or embedded method.
func (r VerificationRef) MethodID() string {
	if r.Embedded != nil {
		return r.Embedded.ID
	}
	return r.ID
}

// MarshalJSON writes a reference as a string and an embedded method as an
// object.
func (r VerificationRef) MarshalJSON() ([]byte, error) {
	if r.Embedded != nil {
		return json.Marshal(r.Embedded)
	}
	return json.Marshal(r.ID)
}

// UnmarshalJSON reads a string (reference) or an object (embedded method).
func (r *VerificationRef) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) > 0 && data[0] == '"':
		var id string
		if err := json.Unmarshal(data, &id); err != nil {
			return fmt.Errorf("verification relationship entry: %w", err)
		}
		*r = VerificationRef{ID: id}
	case len(data) > 0 && data[0] == '{':
		var vm VerificationMethod
		if err := json.Unmarshal(data, &vm); err != nil {
			return fmt.Errorf("embedded verification method: %w", err)
		}
		*r = VerificationRef{Embedded: &vm}
	default:
		return errors.New("verification relationship entry is neither a DID URL nor a verification method")
	}
	return nil
}

// Service is a DID document service endpoint.
type Service struct {
	ID              string    `json:"id"`
	Type            StringSet `json:"type"`
	ServiceEndpoint any       `json:"serviceEndpoint"`
}

// Context is a JSON-LD @context: context URLs (strings) and embedded context
// definitions (objects). A single string or object unmarshals into a
// one-element Context; a Context always marshals as an array.
type Context []any

// UnmarshalJSON accepts a string, an object, or an array of them.
func (c *Context) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("@context: %w", err)
	}
	switch t := v.(type) {
	case nil:
		*c = nil
	case string, map[string]any:
		*c = Context{t}
	case []any:
		for _, e := range t {
			switch e.(type) {
			case string, map[string]any:
			default:
				return fmt.Errorf("@context: entry of type %T", e)
			}
		}
		*c = Context(t)
	default:
		return fmt.Errorf("@context: value of type %T", v)
	}
	return nil
}

// StringSet is a DID Core "string or set of strings" value (controller,
// service type). One string marshals as a plain string, more as an array.
type StringSet []string

// MarshalJSON writes one value as a string, several as an array.
func (s StringSet) MarshalJSON() ([]byte, error) {
	if len(s) == 1 {
		return json.Marshal(s[0])
	}
	return json.Marshal([]string(s))
}

// UnmarshalJSON accepts a string or an array of strings.
func (s *StringSet) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var one string
		if err := json.Unmarshal(data, &one); err != nil {
			return fmt.Errorf("string set: %w", err)
		}
		*s = StringSet{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return fmt.Errorf("string set: %w", err)
	}
	*s = many
	return nil
}

// Relationship names a DID Core verification relationship, i.e. a proof
// purpose.
type Relationship string

// The verification relationships of DID Core.
const (
	Authentication       Relationship = "authentication"
	AssertionMethod      Relationship = "assertionMethod"
	KeyAgreement         Relationship = "keyAgreement"
	CapabilityInvocation Relationship = "capabilityInvocation"
	CapabilityDelegation Relationship = "capabilityDelegation"
)

// Relationship returns the entries of a verification relationship, or nil
// for an unknown relationship name.
func (d *Document) Relationship(rel Relationship) []VerificationRef {
	switch rel {
	case Authentication:
		return d.Authentication
	case AssertionMethod:
		return d.AssertionMethod
	case KeyAgreement:
		return d.KeyAgreement
	case CapabilityInvocation:
		return d.CapabilityInvocation
	case CapabilityDelegation:
		return d.CapabilityDelegation
	}
	return nil
}

// absoluteURL resolves a relative DID URL ("#key-1") against the document's
// id.
func (d *Document) absoluteURL(u string) string {
	if strings.HasPrefix(u, "#") {
		return d.ID + u
	}
	return u
}

// VerificationMethodByID finds a verification method of the document, listed
// under verificationMethod or embedded in a relationship, by its DID URL.
// didURL may be absolute or relative ("#frag"); method ids written relative
// to the document are matched too.
func (d *Document) VerificationMethodByID(didURL string) (*VerificationMethod, bool) {
	if d == nil || didURL == "" {
		return nil, false
	}
	want := d.absoluteURL(didURL)
	for i := range d.VerificationMethod {
		if d.absoluteURL(d.VerificationMethod[i].ID) == want {
			return &d.VerificationMethod[i], true
		}
	}
	for _, rel := range []Relationship{Authentication, AssertionMethod, KeyAgreement, CapabilityInvocation, CapabilityDelegation} {
		for _, ref := range d.Relationship(rel) {
			if ref.Embedded != nil && d.absoluteURL(ref.Embedded.ID) == want {
				return ref.Embedded, true
			}
		}
	}
	return nil, false
}

// Authorizes reports whether the verification method vmID (absolute or
// relative DID URL) is listed under the verification relationship rel, by
// reference or embedded. A verifier checks this for the proof purpose of a
// proof, along with the method's controller.
func (d *Document) Authorizes(rel Relationship, vmID string) bool {
	if d == nil || vmID == "" {
		return false
	}
	want := d.absoluteURL(vmID)
	for _, ref := range d.Relationship(rel) {
		if id := ref.MethodID(); id != "" && d.absoluteURL(id) == want {
			return true
		}
	}
	return false
}

// Verification method types that fix the key type they carry.
var methodKeyTypes = map[string]keys.KeyType{
	FormatEd25519VerificationKey2018:        keys.Ed25519,
	FormatEd25519VerificationKey2020:        keys.Ed25519,
	FormatX25519KeyAgreementKey2019:         keys.X25519,
	FormatX25519KeyAgreementKey2020:         keys.X25519,
	FormatEcdsaSecp256k1VerificationKey2019: keys.Secp256k1,
	FormatP256Key2021:                       keys.P256,
}

// ErrNoPublicKey is a verification method that carries no usable public key
// material.
var ErrNoPublicKey = errors.New("verification method has no public key")

// PublicKey decodes the method's public key from whichever of
// publicKeyMultibase, publicKeyJwk and publicKeyBase58 is present: an
// ed25519.PublicKey, *ecdsa.PublicKey, *ecdh.PublicKey (X25519) or
// *secp256k1.PublicKey. It refuses a method with more than one, a JWK with a
// private part, and a key whose type contradicts the method type (for
// example an Ed25519VerificationKey2018 holding a P-256 key).
func (vm *VerificationMethod) PublicKey() (crypto.PublicKey, error) {
	n := 0
	for _, present := range []bool{vm.PublicKeyMultibase != "", vm.PublicKeyJWK != nil, vm.PublicKeyBase58 != ""} {
		if present {
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: %w", vm.ID, ErrNoPublicKey)
	}
	if n > 1 {
		return nil, fmt.Errorf("%s: %w: more than one key representation", vm.ID, ErrNoPublicKey)
	}
	var (
		typ keys.KeyType
		pub crypto.PublicKey
		err error
	)
	switch {
	case vm.PublicKeyMultibase != "":
		typ, pub, err = decodeMultikey(vm.PublicKeyMultibase)
	case vm.PublicKeyJWK != nil:
		if vm.PublicKeyJWK.D != "" {
			return nil, fmt.Errorf("%s: %w: publicKeyJwk holds a private key", vm.ID, keys.ErrInvalidPublicKey)
		}
		if typ, err = vm.PublicKeyJWK.KeyType(); err == nil {
			pub, err = vm.PublicKeyJWK.PublicKey()
		}
	default:
		var ok bool
		if typ, ok = methodKeyTypes[vm.Type]; !ok {
			return nil, fmt.Errorf("%s: %w: publicKeyBase58 in a %q method", vm.ID, keys.ErrUnsupportedKeyType, vm.Type)
		}
		var raw []byte
		if raw, err = decodeBase58(vm.PublicKeyBase58); err == nil {
			pub, err = keys.ParsePublicKey(typ, raw)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("verification method %s: %w", vm.ID, err)
	}
	if want, ok := methodKeyTypes[vm.Type]; ok && want != typ {
		return nil, fmt.Errorf("verification method %s: %w: %s method holds a %s key", vm.ID, keys.ErrUnsupportedKeyType, vm.Type, typ)
	}
	return pub, nil
}

// encodeBase58 encodes raw bytes in base58btc without a multibase prefix.
func encodeBase58(raw []byte) (string, error) {
	s, err := multibase.Encode(multibase.Base58BTC, raw)
	if err != nil {
		return "", fmt.Errorf("base58btc encode: %w", err)
	}
	return s[1:], nil
}

// decodeBase58 decodes base58btc without a multibase prefix.
func decodeBase58(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty base58", keys.ErrInvalidEncoding)
	}
	_, raw, err := multibase.Decode("z" + s)
	if err != nil {
		return nil, fmt.Errorf("%w: base58btc: %v", keys.ErrInvalidEncoding, err)
	}
	return raw, nil
}

// Clone returns a deep copy of the document.
func (d *Document) Clone() *Document {
	if d == nil {
		return nil
	}
	c := *d
	if d.Context != nil {
		c.Context = make(Context, len(d.Context))
		for i, v := range d.Context {
			c.Context[i] = cloneJSONValue(v)
		}
	}
	c.Controller = cloneStrings(d.Controller)
	c.AlsoKnownAs = cloneStrings(d.AlsoKnownAs)
	if d.VerificationMethod != nil {
		c.VerificationMethod = make([]VerificationMethod, len(d.VerificationMethod))
		for i := range d.VerificationMethod {
			c.VerificationMethod[i] = d.VerificationMethod[i].clone()
		}
	}
	c.Authentication = cloneRefs(d.Authentication)
	c.AssertionMethod = cloneRefs(d.AssertionMethod)
	c.CapabilityDelegation = cloneRefs(d.CapabilityDelegation)
	c.CapabilityInvocation = cloneRefs(d.CapabilityInvocation)
	c.KeyAgreement = cloneRefs(d.KeyAgreement)
	if d.Service != nil {
		c.Service = make([]Service, len(d.Service))
		for i, s := range d.Service {
			c.Service[i] = Service{ID: s.ID, Type: cloneStrings(s.Type), ServiceEndpoint: cloneJSONValue(s.ServiceEndpoint)}
		}
	}
	return &c
}

func (vm VerificationMethod) clone() VerificationMethod {
	if vm.PublicKeyJWK != nil {
		j := *vm.PublicKeyJWK
		vm.PublicKeyJWK = &j
	}
	return vm
}

func cloneRefs(refs []VerificationRef) []VerificationRef {
	if refs == nil {
		return nil
	}
	out := make([]VerificationRef, len(refs))
	for i, r := range refs {
		out[i] = r
		if r.Embedded != nil {
			vm := r.Embedded.clone()
			out[i].Embedded = &vm
		}
	}
	return out
}

func cloneStrings[S ~[]string](s S) S {
	if s == nil {
		return nil
	}
	out := make(S, len(s))
	copy(out, s)
	return out
}

// cloneJSONValue deep-copies a value decoded by encoding/json into any.
func cloneJSONValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = cloneJSONValue(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = cloneJSONValue(e)
		}
		return s
	}
	return v
}
