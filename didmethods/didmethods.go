// Package didmethods creates and resolves Decentralized Identifiers (W3C DID
// Core 1.0) for the methods agentid uses: did:key (W3C CCG did:key v0.9, with
// Multikey verification methods), did:jwk and did:web.
//
// Resolvers implement one interface, Resolver; a Registry dispatches by method
// and a Cache bounds and reuses results. Errors carry the DID resolution error
// codes (invalidDid, notFound, methodNotSupported, invalidPublicKeyLength,
// unsupportedPublicKeyType, …) so that HTTP front ends can answer with the
// Universal Resolver conventions.
package didmethods

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Resolver resolves a DID to its DID document.
//
// Implementations return either a Resolution with a non-nil Document, or an
// error whose ErrorCode is one of the Code* constants. A Resolution returned
// to the caller is the caller's to keep and modify.
type Resolver interface {
	Resolve(ctx context.Context, did string, opts ResolveOptions) (*Resolution, error)
}

// ResolverFunc adapts a function to the Resolver interface.
type ResolverFunc func(ctx context.Context, did string, opts ResolveOptions) (*Resolution, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, did string, opts ResolveOptions) (*Resolution, error) {
	return f(ctx, did, opts)
}

// ResolveOptions are the DID resolution options a caller may pass. did:jwk
// and did:web ignore them: their documents have one representation.
type ResolveOptions struct {
	// PublicKeyFormat is the verification method type did:key produces (the
	// did:key spec's publicKeyFormat option). Empty means FormatMultikey,
	// the did:key v0.9 default and what the W3C test suites' resolver
	// returns. See the Format* constants for the others; an unknown name is
	// an unsupportedPublicKeyType error, a name that cannot express the
	// DID's key type (e.g. EcdsaSecp256k1VerificationKey2019 for an Ed25519
	// key) an invalidPublicKeyType error.
	PublicKeyFormat string
	// EnableEncryptionKeyDerivation adds, for an Ed25519 did:key, an X25519
	// keyAgreement method derived from the Ed25519 key (did:key v0.9). The
	// formats of the 2022 did:key test vectors (FormatJsonWebKey2020 and the
	// 2018/2019/2021 suite types) always include keyAgreement, as those
	// vectors do.
	EnableEncryptionKeyDerivation bool
	// RefuseExperimentalPublicKeyTypes is the did:key spec's
	// enableExperimentalPublicKeyTypes=false: a signature verification
	// method whose type is not Multikey, JsonWebKey2020 or
	// Ed25519VerificationKey2020, or an encryption (X25519) one whose type
	// is not Multikey, JsonWebKey2020 or X25519KeyAgreementKey2020, is an
	// invalidPublicKeyType error instead of a document. The zero value keeps
	// every format of the Format* constants available; the HTTP resolver
	// sets it unless the request enables experimental types, as the spec's
	// default is false.
	RefuseExperimentalPublicKeyTypes bool
}

// Error codes from DID Core and DID Resolution, and the did:key method.
const (
	CodeInvalidDID                 = "invalidDid"
	CodeInvalidDIDURL              = "invalidDidUrl"
	CodeNotFound                   = "notFound"
	CodeMethodNotSupported         = "methodNotSupported"
	CodeRepresentationNotSupported = "representationNotSupported"
	CodeInvalidPublicKey           = "invalidPublicKey"
	CodeInvalidPublicKeyLength     = "invalidPublicKeyLength"
	CodeInvalidPublicKeyType       = "invalidPublicKeyType"
	CodeUnsupportedPublicKeyType   = "unsupportedPublicKeyType"
	CodeInvalidOptions             = "invalidOptions"
	CodeInternalError              = "internalError"
)

// Error is a DID resolution failure with its error code.
type Error struct {
	Code string // one of the Code* constants
	DID  string // the DID (or DID URL) being resolved, truncated if very long
	Err  error  // the cause, may be nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("resolve %s: %s: %v", e.DID, e.Code, e.Err)
	}
	return fmt.Sprintf("resolve %s: %s", e.DID, e.Code)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the DID resolution error code of err, or internalError
// when err carries none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternalError
}

// maxErrorDIDLength bounds the DID echoed in errors, so that hostile input
// does not flood logs.
const maxErrorDIDLength = 128

// newError builds an *Error, truncating a long DID.
func newError(code, did string, err error) *Error {
	if len(did) > maxErrorDIDLength {
		did = strings.ToValidUTF8(did[:maxErrorDIDLength], "") + "…"
	}
	return &Error{Code: code, DID: did, Err: err}
}
