package sdjwt

import "errors"

// Errors of parsing and verification. Every error this package returns wraps
// exactly one of them (and sometimes an error from keys or didmethods), so
// callers can branch with errors.Is.
var (
	// ErrMalformed is input that is not an SD-JWT at all: bad compact
	// form, bad JWT segments, bad base64url, bad JSON.
	ErrMalformed = errors.New("sdjwt: malformed SD-JWT")
	// ErrTooLarge is input beyond a size or count limit (see Limits).
	ErrTooLarge = errors.New("sdjwt: input exceeds limit")
	// ErrTooDeep is JSON nested deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("sdjwt: JSON nested too deeply")
	// ErrDuplicateJSONKey is a JSON object with a member name twice.
	ErrDuplicateJSONKey = errors.New("sdjwt: duplicate JSON member name")

	// ErrInvalidDisclosure is a disclosure that is not a base64url JSON
	// array of [salt, name, value] or [salt, value] with a string salt
	// and a string name, or one used where the other kind is expected
	// (an array-element disclosure referenced from "_sd" or vice versa).
	ErrInvalidDisclosure = errors.New("sdjwt: invalid disclosure")
	// ErrReservedClaimName is a disclosure whose claim name is "_sd" or
	// "...".
	ErrReservedClaimName = errors.New("sdjwt: reserved claim name in disclosure")
	// ErrDuplicateDigest is a digest that appears more than once, in the
	// JWT or in disclosures.
	ErrDuplicateDigest = errors.New("sdjwt: digest appears more than once")
	// ErrUnreferencedDisclosure is a disclosure whose digest appears
	// nowhere in the JWT or the other disclosures.
	ErrUnreferencedDisclosure = errors.New("sdjwt: disclosure not referenced by any digest")
	// ErrClaimExists is a disclosure whose claim name already exists in
	// the object it is disclosed into.
	ErrClaimExists = errors.New("sdjwt: disclosed claim already exists")
	// ErrInvalidSDArray is an "_sd" member that is not an array of
	// strings.
	ErrInvalidSDArray = errors.New("sdjwt: _sd is not an array of strings")
	// ErrInvalidArrayDigest is an array element {"...": digest} with other
	// members or a digest that is not a string.
	ErrInvalidArrayDigest = errors.New("sdjwt: invalid array element digest")
	// ErrUnsupportedHashAlgorithm is an _sd_alg other than sha-256.
	ErrUnsupportedHashAlgorithm = errors.New("sdjwt: unsupported _sd_alg")
	// ErrNonDisclosableClaim is, in an SD-JWT VC, a disclosure of a claim
	// that must stay plain (iss, vct, cnf, status, iat, exp, nbf), or a
	// request to issue one as disclosable.
	ErrNonDisclosableClaim = errors.New("sdjwt: claim must not be selectively disclosable")

	// ErrUnsupportedAlgorithm is a JWS alg outside the allow-list (EdDSA,
	// ES256, ES384, ES512): "none", HMAC and anything else.
	ErrUnsupportedAlgorithm = errors.New("sdjwt: JWS algorithm not allowed")
	// ErrInvalidSignature is an issuer-signed JWT whose signature does not
	// verify with the issuer key.
	ErrInvalidSignature = errors.New("sdjwt: issuer signature invalid")
	// ErrWrongType is an issuer-signed JWT whose typ is not the expected
	// one (dc+sd-jwt or vc+sd-jwt for an SD-JWT VC).
	ErrWrongType = errors.New("sdjwt: wrong typ header")
	// ErrMissingClaim is a required claim that is absent or of the wrong
	// JSON type (iss, vct, a numeric date).
	ErrMissingClaim = errors.New("sdjwt: required claim missing or invalid")
	// ErrIssuerKey is an issuer key that cannot be found: the DID does not
	// resolve, the verification method does not exist or holds no usable
	// key, or no key source was configured.
	ErrIssuerKey = errors.New("sdjwt: issuer key not found")
	// ErrKeyIDMismatch is a kid that is not a DID URL of the iss DID.
	ErrKeyIDMismatch = errors.New("sdjwt: kid does not belong to issuer")
	// ErrKeyNotAuthorized is a verification method that the issuer's DID
	// document does not authorize for assertionMethod, or that the issuer
	// does not control.
	ErrKeyNotAuthorized = errors.New("sdjwt: key not authorized for assertionMethod")
	// ErrExpired is a credential past its exp (beyond the clock skew).
	ErrExpired = errors.New("sdjwt: credential expired")
	// ErrNotYetValid is a credential before its nbf (beyond the skew).
	ErrNotYetValid = errors.New("sdjwt: credential not yet valid")
	// ErrIssuedInFuture is an iat later than now plus the skew.
	ErrIssuedInFuture = errors.New("sdjwt: credential issued in the future")

	// ErrKeyBindingRequired is a presentation without a KB-JWT where
	// key binding is required.
	ErrKeyBindingRequired = errors.New("sdjwt: key binding JWT required")
	// ErrNoHolderKey is a KB-JWT for an SD-JWT without a usable cnf.jwk.
	ErrNoHolderKey = errors.New("sdjwt: no holder key (cnf.jwk)")
	// ErrKBWrongType is a KB-JWT whose typ is not kb+jwt.
	ErrKBWrongType = errors.New("sdjwt: KB-JWT typ is not kb+jwt")
	// ErrKBInvalidSignature is a KB-JWT not signed by the cnf key.
	ErrKBInvalidSignature = errors.New("sdjwt: KB-JWT signature invalid")
	// ErrKBSDHashMismatch is a KB-JWT whose sd_hash is not the hash of
	// the presented SD-JWT.
	ErrKBSDHashMismatch = errors.New("sdjwt: KB-JWT sd_hash mismatch")
	// ErrKBAudience is a KB-JWT for another audience.
	ErrKBAudience = errors.New("sdjwt: KB-JWT aud mismatch")
	// ErrKBNonce is a KB-JWT with another nonce.
	ErrKBNonce = errors.New("sdjwt: KB-JWT nonce mismatch")
	// ErrKBStale is a KB-JWT whose iat is older than the allowed window.
	ErrKBStale = errors.New("sdjwt: KB-JWT too old")
	// ErrKBIssuedInFuture is a KB-JWT whose iat is later than now plus
	// the skew.
	ErrKBIssuedInFuture = errors.New("sdjwt: KB-JWT issued in the future")

	// ErrInvalidOptions is a call with options that cannot work, e.g. key
	// binding required without an expected audience and nonce.
	ErrInvalidOptions = errors.New("sdjwt: invalid options")
	// ErrInvalidPointer is a JSON Pointer that does not name a claim of
	// the input, or names a claim that cannot be disclosed separately.
	ErrInvalidPointer = errors.New("sdjwt: invalid claim pointer")
	// ErrReservedClaim is issuer input that uses "_sd", "_sd_alg" or "..."
	// as a claim name.
	ErrReservedClaim = errors.New("sdjwt: reserved claim name in input")
)
