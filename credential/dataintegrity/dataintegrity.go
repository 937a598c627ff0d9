package dataintegrity

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/agentid/agentid/credential/jsonld"
	"github.com/agentid/agentid/keys"
)

// Names from the specifications.
const (
	// ProofType is the proof type of every proof this package makes.
	ProofType = "DataIntegrityProof"
	// EdDSARDFC2022 is the eddsa-rdfc-2022 cryptosuite (Ed25519, RDFC-1.0,
	// SHA-256).
	EdDSARDFC2022 = "eddsa-rdfc-2022"
	// ECDSARDFC2019 is the ecdsa-rdfc-2019 cryptosuite (ECDSA P-256 with
	// SHA-256 or P-384 with SHA-384, RDFC-1.0).
	ECDSARDFC2019 = "ecdsa-rdfc-2019"

	// PurposeAssertionMethod is the proof purpose of an issuer's proof.
	PurposeAssertionMethod = "assertionMethod"
	// PurposeAuthentication is the proof purpose of a holder's proof on a
	// presentation.
	PurposeAuthentication = "authentication"
)

// dateTimeLayout is how Sign writes created and expires: an XML Schema
// dateTimeStamp in UTC with whole seconds, as the W3C vectors do.
const dateTimeLayout = "2006-01-02T15:04:05Z"

// Errors of signing and verification. Each failed check wraps exactly one
// of them (canonicalization failures wrap the named errors of package
// credential/jsonld instead).
var (
	// ErrInvalidOptions is a ProofOptions or VerifyOptions value that
	// cannot be used (no verification method, unknown purpose, no
	// resolver, …).
	ErrInvalidOptions = errors.New("invalid proof options")
	// ErrInvalidDocument is a document that cannot carry a proof: nil, or
	// a "proof" member that is not an object or an array of objects.
	ErrInvalidDocument = errors.New("invalid secured document")
	// ErrNoProof is a document without a "proof" member.
	ErrNoProof = errors.New("document has no proof")
	// ErrUnknownProofType is a proof whose type is not DataIntegrityProof.
	ErrUnknownProofType = errors.New("unknown proof type")
	// ErrUnknownCryptosuite is a cryptosuite this package does not
	// implement.
	ErrUnknownCryptosuite = errors.New("unknown cryptosuite")
	// ErrMissingProofValue is a proof without proofValue.
	ErrMissingProofValue = errors.New("proof has no proofValue")
	// ErrInvalidProofValue is a proofValue that is not multibase base58btc
	// (a leading "z"), or a signature of the wrong size.
	ErrInvalidProofValue = errors.New("proofValue is not a base58btc multibase signature")
	// ErrMissingVerificationMethod is a proof without verificationMethod.
	ErrMissingVerificationMethod = errors.New("proof has no verificationMethod")
	// ErrVerificationMethodNotFound is a verification method that its DID
	// document does not contain, or a DID that does not resolve.
	ErrVerificationMethodNotFound = errors.New("verification method not found")
	// ErrProofPurposeMismatch is a proof whose proofPurpose is missing or
	// is not the one the verifier expects.
	ErrProofPurposeMismatch = errors.New("proof purpose does not match")
	// ErrNotAuthorized is a verification method that its DID document does
	// not list under the verification relationship of the proof purpose.
	ErrNotAuthorized = errors.New("verification method is not authorized for the proof purpose")
	// ErrControllerMismatch is a verification method whose controller is
	// not its DID document's subject, or not the expected controller.
	ErrControllerMismatch = errors.New("verification method controller does not match")
	// ErrInvalidCreated is a created value that is missing or not an XML
	// Schema dateTimeStamp.
	ErrInvalidCreated = errors.New("proof created is not a valid dateTimeStamp")
	// ErrCreatedInFuture is a proof created later than now plus the
	// allowed skew.
	ErrCreatedInFuture = errors.New("proof created is in the future")
	// ErrInvalidExpires is an expires value that is not an XML Schema
	// dateTimeStamp.
	ErrInvalidExpires = errors.New("proof expires is not a valid dateTimeStamp")
	// ErrProofExpired is a proof whose expires has passed (beyond the
	// allowed skew).
	ErrProofExpired = errors.New("proof has expired")
	// ErrChallengeMismatch is a proof whose challenge is missing or differs
	// from the expected one.
	ErrChallengeMismatch = errors.New("proof challenge does not match")
	// ErrDomainMismatch is a proof whose domain is missing or does not
	// contain the expected one.
	ErrDomainMismatch = errors.New("proof domain does not match")
	// ErrContextMismatch is a proof with an @context that the document's
	// @context does not start with.
	ErrContextMismatch = errors.New("proof @context does not match the document's")
	// ErrPreviousProofNotFound is a previousProof id that names no proof of
	// the document.
	ErrPreviousProofNotFound = errors.New("previous proof not found")
	// ErrKeyTypeMismatch is a key whose type the cryptosuite cannot use
	// (eddsa-rdfc-2022 needs Ed25519; ecdsa-rdfc-2019 needs P-256 or
	// P-384).
	ErrKeyTypeMismatch = errors.New("key type does not match the cryptosuite")
	// ErrInvalidSignature is a signature that does not verify: a changed
	// document, changed proof options, or the wrong key.
	ErrInvalidSignature = errors.New("proof signature does not verify")
)

// suite is a cryptosuite bound to a key type.
type suite struct {
	// hash hashes the canonical proof configuration and document.
	hash func([]byte) []byte
	// newHash is hash as a hash.Hash, for digest, which Sign and Verify
	// use (hash serves the tests, which hash canonical forms they read).
	newHash func() hash.Hash
	// alg is the signature algorithm of the key.
	alg keys.Algorithm
	// sha384 selects SHA-384 as RDFC-1.0's own hash (ecdsa-rdfc-2019 on
	// P-384).
	sha384 bool
}

// canonicalize canonicalizes doc with RDFC-1.0 using the suite's hash.
func (s suite) canonicalize(ctx context.Context, p *jsonld.Processor, doc map[string]any) (string, error) {
	if s.sha384 {
		return p.CanonicalizeSHA384(ctx, doc)
	}
	return p.Canonicalize(ctx, doc)
}

// digest returns hash(canonical doc), as canonicalize and hash would, but
// without gathering the canonical N-Quads into a string when the JSON-LD
// fast path takes the document.
func (s suite) digest(ctx context.Context, p *jsonld.Processor, doc map[string]any) ([]byte, error) {
	return p.CanonicalDigest(ctx, doc, s.sha384, s.newHash)
}

// suiteFor returns a cryptosuite for a key type, or ErrUnknownCryptosuite /
// ErrKeyTypeMismatch.
func suiteFor(cryptosuite string, typ keys.KeyType) (suite, error) {
	switch cryptosuite {
	case EdDSARDFC2022:
		if typ != keys.Ed25519 {
			return suite{}, fmt.Errorf("%w: %s needs an Ed25519 key, got %s", ErrKeyTypeMismatch, cryptosuite, typ)
		}
		return suite{hash: sum256, newHash: sha256.New, alg: keys.EdDSA}, nil
	case ECDSARDFC2019:
		switch typ {
		case keys.P256:
			return suite{hash: sum256, newHash: sha256.New, alg: keys.ES256}, nil
		case keys.P384:
			return suite{hash: sum384, newHash: sha512.New384, alg: keys.ES384, sha384: true}, nil
		}
		return suite{}, fmt.Errorf("%w: %s needs a P-256 or P-384 key, got %s", ErrKeyTypeMismatch, cryptosuite, typ)
	}
	return suite{}, fmt.Errorf("%w: %q", ErrUnknownCryptosuite, truncate(cryptosuite))
}

// knownCryptosuite reports whether this package implements name.
func knownCryptosuite(name string) bool {
	return name == EdDSARDFC2022 || name == ECDSARDFC2019
}

func sum256(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
func sum384(b []byte) []byte { s := sha512.Sum384(b); return s[:] }

// parseDateTime parses an XML Schema dateTimeStamp (a dateTime with a time
// zone), e.g. "2023-02-24T23:36:38Z".
func parseDateTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// truncate shortens attacker-controlled strings echoed in errors.
func truncate(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// stringList reads a JSON string or array of strings (domain,
// previousProof); ok is false for anything else.
func stringList(v any) (list []string, ok bool) {
	switch t := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{t}, true
	case []string:
		return t, true
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// proofList reads a document's proof member: one object or an array of
// objects.
func proofList(v any) ([]map[string]any, error) {
	switch t := v.(type) {
	case map[string]any:
		return []map[string]any{t}, nil
	case []any:
		out := make([]map[string]any, 0, len(t))
		for i, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%w: proof %d is not an object", ErrInvalidDocument, i)
			}
			out = append(out, m)
		}
		return out, nil
	case []map[string]any:
		return t, nil
	}
	return nil, fmt.Errorf("%w: proof is a %T, not an object or array", ErrInvalidDocument, v)
}

// withoutProof returns a shallow copy of doc without its proof member.
func withoutProof(doc map[string]any) map[string]any {
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		if k != "proof" {
			out[k] = v
		}
	}
	return out
}

// previousProofs returns the proofs among all whose ids are in ids, as the
// document's proof member for a chained proof, or ErrPreviousProofNotFound.
func previousProofs(all []map[string]any, ids []string) ([]any, error) {
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		found := false
		for _, p := range all {
			if pid, _ := p["id"].(string); pid != "" && pid == id {
				out = append(out, p)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: %q", ErrPreviousProofNotFound, truncate(id))
		}
	}
	return out, nil
}
