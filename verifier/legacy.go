package verifier

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/agentid/agentid/credential/legacy"
)

// LegacyVerifier verifies the proof formats that predate Data Integrity: the
// Linked Data suites Ed25519Signature2020 and JsonWebSignature2020 and VC-JWT
// (VC Data Model 1.1 §6.3.1). Package credential/legacy implements them on
// aries-framework-go; the verifier reaches it only through this interface, so
// the pipeline builds and runs without it, and its policy checks (issuer
// controls the key, validity, status, trust) apply to legacy credentials
// exactly as to Data Integrity ones.
type LegacyVerifier interface {
	// VerifyProofs verifies every proof of doc, each of which has a legacy
	// type, for the given proof purpose, and returns the controller of each
	// proof's verification method (the verifier compares them with the
	// issuer). It must not fetch contexts or schemas.
	VerifyProofs(ctx context.Context, doc map[string]any, purpose string) (controllers []string, err error)
	// VerifyJWT verifies a VC-JWT's signature and returns the credential it
	// secures, with the JWT claims (iss, jti, sub, nbf, exp) already
	// transformed into credential properties, and the controller of the
	// signing key.
	VerifyJWT(ctx context.Context, token string) (vc map[string]any, controller string, err error)
}

// legacyProofTypes are the embedded proof types LegacyVerifier handles.
var legacyProofTypes = []string{"Ed25519Signature2020", "JsonWebSignature2020", "Ed25519Signature2018"}

// IsLegacyProofType reports whether t is a proof type for LegacyVerifier
// rather than credential/dataintegrity.
func IsLegacyProofType(t string) bool {
	for _, l := range legacyProofTypes {
		if t == l {
			return true
		}
	}
	return false
}

// errNoLegacy explains a legacy credential met by a verifier without
// LegacyVerifier.
func errNoLegacy(what string) string {
	return fmt.Sprintf("%s needs the legacy proof verifier (credential/legacy), which this verifier is not configured with", what)
}

// looksLikeJWT reports whether s has the shape of a compact JWS: three
// non-empty base64url segments.
func looksLikeJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return false
		}
	}
	return true
}

// classifyLegacyError names the check behind a credential/legacy failure.
// legacy enforces some of the verifier's policy itself (controller, validity,
// challenge, domain) and stops at the first failure; the other checks then
// cannot be judged and are not reported as passed.
func classifyLegacyError(r *recorder, err error) {
	msg := "legacy proof: " + err.Error()
	switch {
	case errors.Is(err, legacy.ErrControllerMismatch), errors.Is(err, legacy.ErrKidNotIssuer):
		r.fail(CheckIssuerController, CodeControllerMismatch, msg)
	case errors.Is(err, legacy.ErrExpired):
		r.fail(CheckValidity, CodeExpired, msg)
	case errors.Is(err, legacy.ErrNotYetValid):
		r.fail(CheckValidity, CodeNotYetValid, msg)
	case errors.Is(err, legacy.ErrChallenge):
		r.fail(CheckChallenge, CodeChallengeMismatch, msg)
	case errors.Is(err, legacy.ErrDomain):
		r.fail(CheckDomain, CodeDomainMismatch, msg)
	case errors.Is(err, legacy.ErrUnsupportedProofType):
		r.fail(CheckProof, CodeUnsupportedProofType, msg)
	default:
		r.fail(CheckProof, CodeInvalidProof, msg)
	}
}
