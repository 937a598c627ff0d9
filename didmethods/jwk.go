package didmethods

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/agentid/agentid/keys"
)

const (
	didJWKPrefix = "did:jwk:"
	// MaxDIDJWKLength bounds a did:jwk. A P-521 public JWK with kid, alg
	// and use takes about 500 characters.
	MaxDIDJWKLength = 2048
)

// CreateJWK returns the did:jwk of a public key: "did:jwk:" and the
// base64url (unpadded) UTF-8 JSON of its public JWK. The JWK holds only the
// required members (crv, kty, x, and y for EC keys) in lexicographic order,
// as RFC 7638 thumbprints do, so one key has one did:jwk.
func CreateJWK(pub crypto.PublicKey) (string, error) {
	j, err := keys.PublicJWK(pub)
	if err != nil {
		return "", fmt.Errorf("create did:jwk: %w", err)
	}
	members := map[string]string{"kty": j.Kty, "crv": j.Crv, "x": j.X}
	if j.Y != "" {
		members["y"] = j.Y
	}
	data, err := json.Marshal(members) // encoding/json sorts map keys
	if err != nil {
		return "", fmt.Errorf("create did:jwk: %w", err)
	}
	return didJWKPrefix + base64.RawURLEncoding.EncodeToString(data), nil
}

// JWKResolver resolves did:jwk DIDs (https://github.com/quartzjer/did-jwk).
// It does no I/O; its results never change.
type JWKResolver struct{}

// Resolve decodes the JWK of a did:jwk and builds its document: one
// JsonWebKey2020 method "did#0", listed under keyAgreement unless the JWK's
// use is "sig", and under the signing relationships unless its use is "enc"
// or it is an X25519 key.
func (JWKResolver) Resolve(_ context.Context, did string, _ ResolveOptions) (*Resolution, error) {
	j, err := parseDIDJWK(did)
	if err != nil {
		return nil, err
	}
	vm := VerificationMethod{ID: did + "#0", Type: FormatJsonWebKey2020, Controller: did, PublicKeyJWK: &j}
	doc := &Document{
		Context:            Context{ContextDIDv1, ContextJWS2020},
		ID:                 did,
		VerificationMethod: []VerificationMethod{vm},
	}
	ref := func() []VerificationRef { return []VerificationRef{{ID: vm.ID}} }
	if j.Use != "enc" && j.Crv != "X25519" {
		doc.AssertionMethod = ref()
		doc.Authentication = ref()
		doc.CapabilityInvocation = ref()
		doc.CapabilityDelegation = ref()
	}
	if j.Use != "sig" {
		doc.KeyAgreement = ref()
	}
	return newResolution(doc, freshness{kind: freshImmutable}), nil
}

// ParseDIDJWK decodes and checks the public JWK of a did:jwk. Errors are
// *Error with DID resolution codes.
func ParseDIDJWK(did string) (keys.JWK, crypto.PublicKey, error) {
	j, err := parseDIDJWK(did)
	if err != nil {
		return keys.JWK{}, nil, err
	}
	pub, err := j.PublicKey()
	if err != nil {
		return keys.JWK{}, nil, newError(keyErrorCode(err), did, err)
	}
	return j, pub, nil
}

func parseDIDJWK(did string) (keys.JWK, error) {
	if len(did) > MaxDIDJWKLength {
		return keys.JWK{}, newError(CodeInvalidDID, did, fmt.Errorf("did:jwk is %d characters, more than %d", len(did), MaxDIDJWKLength))
	}
	enc, ok := strings.CutPrefix(did, didJWKPrefix)
	if !ok {
		return keys.JWK{}, newError(CodeInvalidDID, did, errors.New(`a did:jwk begins with "did:jwk:"`))
	}
	data, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil || len(data) == 0 {
		return keys.JWK{}, newError(CodeInvalidDID, did, fmt.Errorf("did:jwk identifier is not base64url: %v", err))
	}
	j, err := decodeJWKObject(data)
	if err != nil {
		return keys.JWK{}, newError(CodeInvalidDID, did, err)
	}
	if j.D != "" {
		return keys.JWK{}, newError(CodeInvalidDID, did, errors.New("did:jwk holds a private key (member d)"))
	}
	switch j.Use {
	case "", "sig", "enc":
	default:
		return keys.JWK{}, newError(CodeInvalidDID, did, fmt.Errorf("JWK use %q is neither sig nor enc", j.Use))
	}
	if _, err := j.PublicKey(); err != nil {
		return keys.JWK{}, newError(keyErrorCode(err), did, err)
	}
	if j.Crv == "X25519" && j.Use == "sig" {
		return keys.JWK{}, newError(CodeInvalidDID, did, errors.New(`an X25519 JWK cannot have use "sig"`))
	}
	return j, nil
}

// decodeJWKObject parses a JWK strictly: one JSON object, member names
// matched exactly and never repeated, the members agentid models (kty, crv,
// x, y, d, kid, alg, use) strings. Other members are ignored.
func decodeJWKObject(data []byte) (keys.JWK, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return keys.JWK{}, errors.New("JWK is not a JSON object")
	}
	var j keys.JWK
	fields := map[string]*string{"kty": &j.Kty, "crv": &j.Crv, "x": &j.X, "y": &j.Y, "d": &j.D, "kid": &j.Kid, "alg": &j.Alg, "use": &j.Use}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys.JWK{}, fmt.Errorf("JWK: %w", err)
		}
		name, _ := tok.(string)
		if seen[name] {
			return keys.JWK{}, fmt.Errorf("JWK member %q repeated", name)
		}
		seen[name] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return keys.JWK{}, fmt.Errorf("JWK member %q: %w", name, err)
		}
		if field, ok := fields[name]; ok {
			if err := json.Unmarshal(value, field); err != nil {
				return keys.JWK{}, fmt.Errorf("JWK member %q is not a string", name)
			}
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return keys.JWK{}, errors.New("JWK object is not closed")
	}
	if _, err := dec.Token(); err != io.EOF {
		return keys.JWK{}, errors.New("data after the JWK object")
	}
	return j, nil
}
