// Package sdjwt implements Selective Disclosure for JWTs (SD-JWT, RFC 9901)
// and the SD-JWT VC profile (draft-ietf-oauth-sd-jwt-vc, media type
// dc+sd-jwt): issuance, holder presentation with key binding, and
// verification.
//
// # How SD-JWT works
//
// An issuer wants to sign a set of claims once, yet let the holder show a
// verifier only some of them. It does so in three pieces:
//
//   - A disclosure per selectively disclosable claim: the JSON array
//     [salt, name, value] for an object property, or [salt, value] for an
//     array element, encoded as base64url. The salt is at least 128 random
//     bits, so the disclosure cannot be guessed from its digest.
//
//   - Digests in the issuer-signed JWT: the issuer replaces each disclosable
//     property by the base64url SHA-256 digest of its disclosure, listed in
//     the object's "_sd" array, and each disclosable array element by the
//     object {"...": digest}. "_sd_alg" names the hash ("sha-256"). The
//     "_sd" arrays are sorted and may hold decoy digests that match no
//     disclosure, so neither order nor count tells what is hidden. A
//     disclosure's value may itself contain "_sd" arrays and "..." elements
//     (recursive disclosure).
//
//   - The compact form <issuer-signed JWT>~<disclosure 1>~...~<disclosure n>~
//     that the issuer hands to the holder.
//
// To present, the holder drops the disclosures it does not want to reveal
// (keeping, for every nested claim it reveals, the disclosures of the claims
// that contain it) and may append a Key Binding JWT (KB-JWT, typ "kb+jwt")
// signed with the key the issuer bound in the "cnf" claim. The KB-JWT
// carries "aud" (the verifier), "nonce" (the verifier's challenge), "iat"
// and "sd_hash", the base64url SHA-256 of the presented
// <JWT>~<D1>~...~<Dn>~ string, which ties the signature to exactly this
// selection of disclosures.
//
// A verifier checks the issuer signature, then hashes each presented
// disclosure and puts its claim back where its digest appears; every
// disclosure must be referenced exactly once and no digest may repeat.
// Undisclosed digests, "_sd" and "_sd_alg" are removed, leaving the claims
// the holder chose to reveal. With key binding, the verifier checks the
// KB-JWT's signature by the "cnf" key, its sd_hash, audience, nonce and
// freshness.
//
// # This package
//
// [Issue] issues a plain SD-JWT and [IssueVC] an SD-JWT VC (header typ
// "dc+sd-jwt", kid a DID URL; claims iss, vct, iat, exp, nbf, cnf and status
// always stay plain). What is disclosable is named by JSON Pointers
// (RFC 6901); nested pointers give recursive disclosures and pointers to
// array elements give "..." entries. [Present] selects disclosures by claim
// path and appends a KB-JWT. [Verify] checks it all (RFC 9901 §7.1 and
// §7.3) and returns the disclosed claims; every failure wraps one of the
// named Err* errors. Issuer keys come from a didmethods.Resolver (the DID in
// iss, the verification method in kid, authorized for assertionMethod) or
// from an [IssuerKeyFunc].
//
// Input is bounded (see [Limits]): total size, number of disclosures and
// JSON nesting depth are checked before any digest is computed, and JSON
// objects with duplicate member names are rejected. Only asymmetric JOSE
// algorithms are accepted (EdDSA, ES256, ES384, ES512); "none" and HMAC
// never are. JSON numbers in the returned claims are json.Number, so large
// integers keep their precision.
package sdjwt
