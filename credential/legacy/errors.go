package legacy

import "errors"

// Errors of verification. Every failure wraps at least one of them (and, for
// JSON-LD and DID resolution problems, the error of credential/jsonld or
// didmethods as well).
var (
	// ErrNoResolver is Options (or JWTOptions) without a DID resolver.
	ErrNoResolver = errors.New("legacy: no DID resolver given")
	// ErrInvalidDocument is input that is not a credential or presentation of
	// the VC Data Model (1.1 or 2.0), or that fails its validation.
	ErrInvalidDocument = errors.New("legacy: invalid credential or presentation")
	// ErrNoProof is a document without any proof.
	ErrNoProof = errors.New("legacy: document has no proof")
	// ErrUnsupportedProofType is a proof whose type is not a legacy suite
	// (for example DataIntegrityProof, which package credential/dataintegrity
	// verifies).
	ErrUnsupportedProofType = errors.New("legacy: unsupported proof type")
	// ErrMalformedProof is a proof missing a required member, or with a
	// member of the wrong form.
	ErrMalformedProof = errors.New("legacy: malformed proof")
	// ErrUnsignedProofMember is a proof member that the legacy suites (as
	// aries implements them) leave out of the signature.
	ErrUnsignedProofMember = errors.New("legacy: proof member would not be signed")
	// ErrProofPurpose is a proofPurpose other than the expected one.
	ErrProofPurpose = errors.New("legacy: unexpected proof purpose")
	// ErrCreatedInFuture is a proof created after now plus the allowed skew.
	ErrCreatedInFuture = errors.New("legacy: proof created in the future")
	// ErrChallenge is a proof whose challenge differs from the expected one.
	ErrChallenge = errors.New("legacy: challenge mismatch")
	// ErrDomain is a proof whose domain differs from the expected one.
	ErrDomain = errors.New("legacy: domain mismatch")
	// ErrVerificationMethod is a verification method that cannot be
	// dereferenced (not a DID URL, DID not resolvable, no such method).
	ErrVerificationMethod = errors.New("legacy: verification method not found")
	// ErrNotAuthorized is a verification method that its controller's DID
	// document does not list under the proof purpose's relationship.
	ErrNotAuthorized = errors.New("legacy: verification method not authorized for the proof purpose")
	// ErrControllerMismatch is a verification method whose controller is not
	// the credential's issuer (or the presentation's holder).
	ErrControllerMismatch = errors.New("legacy: verification method controller is not the issuer or holder")
	// ErrKeyTypeMismatch is a key that the proof's suite or the JWS alg
	// cannot use.
	ErrKeyTypeMismatch = errors.New("legacy: key type does not fit the signature suite or algorithm")
	// ErrJSONLD is a document refused by the JSON-LD checks (safe mode,
	// limits, context not available offline).
	ErrJSONLD = errors.New("legacy: JSON-LD processing failed")
	// ErrInvalidSignature is a signature that does not verify.
	ErrInvalidSignature = errors.New("legacy: invalid signature")
	// ErrExpired is a credential or token past its end of validity (plus skew).
	ErrExpired = errors.New("legacy: expired")
	// ErrNotYetValid is a credential or token before its start of validity
	// (minus skew).
	ErrNotYetValid = errors.New("legacy: not yet valid")

	// ErrMalformedJWT is a token that is not a compact JWS with JSON header
	// and payload.
	ErrMalformedJWT = errors.New("legacy: malformed JWT")
	// ErrAlgorithmNotAllowed is a JWS alg outside EdDSA, ES256, ES384.
	ErrAlgorithmNotAllowed = errors.New("legacy: JWS algorithm not allowed")
	// ErrUnsupportedHeader is a JWS header this package does not process
	// (crit, an unexpected typ or cty).
	ErrUnsupportedHeader = errors.New("legacy: unsupported JWS header")
	// ErrKidNotIssuer is a kid whose DID is not the token's issuer.
	ErrKidNotIssuer = errors.New("legacy: kid does not belong to the issuer")
	// ErrClaimMismatch is a JWT claim that contradicts the credential or
	// presentation it carries (iss and issuer, sub and
	// credentialSubject.id, jti and id, nbf and issuanceDate, exp and
	// expirationDate), or an expected audience or nonce that is missing.
	ErrClaimMismatch = errors.New("legacy: JWT claim does not match the credential")
)
