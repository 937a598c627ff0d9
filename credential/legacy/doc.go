// Package legacy verifies the credential formats that came before W3C Data
// Integrity 1.0 and that agentid accepts but never issues:
//
//   - Linked Data proofs of the pre-Data-Integrity suites Ed25519Signature2020,
//     JsonWebSignature2020 and Ed25519Signature2018, on VC Data Model 1.1 and
//     2.0 credentials and presentations (VerifyProofs);
//   - VC-JWT, the JWT encoding of VC Data Model 1.1 §6.3 (a compact JWS
//     whose payload carries the credential in a "vc" claim, or a presentation
//     in "vp"), and the VC-JOSE "vc+jwt"/"vp+jwt" form of VC 2.0 whose
//     payload is the credential itself (VerifyJWT).
//
// DataIntegrityProof (eddsa-rdfc-2022, ecdsa-rdfc-2019) is not legacy: it
// belongs to credential/dataintegrity. VerifyProofs refuses every proof type
// it does not know with ErrUnsupportedProofType, and IsLegacyProofType lets a
// caller route a proof before calling it.
//
// # What aries does, and what this package adds
//
// The cryptography of the Linked Data suites is hyperledger/aries-framework-go
// v0.3.2 (its signature verifier and suites, called on the JSON object), always
// with the offline JSON-LD loader of credential/jsonld, extended here with the
// legacy suite contexts (jws-2020, security v1/v2, ed25519-2018) taken from
// aries' own embedded copies. aries checks that the signature matches the
// canonical document and proof options, and nothing else. On top of it this
// package enforces, each failure wrapping a named error:
//
//   - the proof is one of the legacy types and carries only members that aries
//     signs (type, created, verificationMethod, proofPurpose, challenge,
//     domain, and proofValue or jws). aries rebuilds the proof options from the
//     members it knows, so any other member (expires, nonce, id, an array
//     domain, …) would be present but unsigned: ErrUnsignedProofMember;
//   - the document passes the safe-mode, size and blank-node checks of
//     credential/jsonld before aries canonicalizes it (aries' canonicalization
//     silently drops undefined terms and has no bound on RDFC-1.0's cost);
//   - the JWS header of a jws proof is the detached, unencoded form (b64 false)
//     with an alg that fits the key;
//   - the verification method is resolved through didmethods, and its
//     controller's DID document authorizes it for the proof's proofPurpose
//     (ErrNotAuthorized); the purpose is the expected one (ErrProofPurpose);
//   - the method's controller is the credential's issuer (assertionMethod) or
//     the presentation's holder (authentication), unless the caller sets
//     Options.SkipControllerCheck (ErrControllerMismatch): aries accepts any
//     key;
//   - created is a dateTime and not in the future beyond the allowed skew
//     (ErrCreatedInFuture); challenge and domain equal the expected ones;
//   - the credential's validity period (validFrom/validUntil, or
//     issuanceDate/expirationDate in 1.1) holds at Options.Now within the skew
//     (ErrExpired, ErrNotYetValid): aries accepts expired credentials;
//   - every proof of a proof set verifies.
//
// VerifyJWT does not use aries: a compact JWS is a few lines on keys.Verify,
// and writing it directly lets the alg allow-list (EdDSA, ES256, ES384) and the
// kid-to-issuer binding run before any key is used.
//
// Embedded credentials of a presentation are not verified by VerifyProofs; the
// caller verifies each one (their proofs are covered by the presentation's
// signature, but say nothing about their issuers).
package legacy
