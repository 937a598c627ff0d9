// Package statuslist encodes, decodes and checks the two status list
// mechanisms agentid uses to revoke and suspend credentials: the W3C
// Bitstring Status List 1.0 (for VC 2.0 credentials with Data Integrity
// proofs) and the IETF Token Status List (for SD-JWT VC). Both publish the
// status of many credentials in one compressed array, so that a verifier
// fetching the list learns nothing about which credential it is checking,
// and both are signed documents that any HTTP cache can serve.
//
// # Bitstring Status List (W3C)
//
// A credential carries a credentialStatus entry:
//
//	{"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
//	 "statusListIndex": "94567",
//	 "statusListCredential": "https://issuer.example.com/status/3"}
//
// The URL names a BitstringStatusListCredential whose credentialSubject
// (type BitstringStatusList) has a statusPurpose and an encodedList. The
// list is a bitstring of at least 131,072 entries (MinEntries) of statusSize
// bits each (1 unless the entry says otherwise; this package allows up to
// 8). Entry i starts at bit i*statusSize, and bit 0 is the most significant
// (left-most) bit of the first byte. encodedList is "u" (the multibase
// prefix of base64url without padding) followed by base64url of the GZIP
// (RFC 1952) compressed bitstring. A set entry (1) means revoked, suspended
// or "refresh available", depending on the purpose; with purpose message the
// value picks one of the entry's 2^statusSize statusMessage elements.
//
// New, Get, Set and Encode build a list; NewCredential wraps it in an
// unsigned status list credential for credential/dataintegrity to sign.
// A verifier verifies that credential's proof and validity, takes its
// subject with SubjectOf, and calls Check with the entry, which validates
// the entry, matches purposes, decodes the list and reads the index.
// Decode also accepts, unless StrictMultibase is given, the older
// StatusList2021 form without the multibase prefix ("H4sI…").
//
// # Token Status List (IETF)
//
// A Referenced Token (an SD-JWT VC here) carries
//
//	"status": {"status_list": {"idx": 0, "uri": "https://example.com/statuslists/1"}}
//
// and the URI serves a status list token: a JWT with typ statuslist+jwt
// whose claims are sub (the URI itself), iat, usually exp and ttl, and
// status_list {"bits": 1|2|4|8, "lst": …}. lst is base64url without padding
// of the ZLIB (RFC 1950, DEFLATE inside) compressed byte array. Statuses are
// packed from the least significant bit: status 0 is the low bits of byte 0,
// the opposite of the W3C order. A status is a Status Type: 0 VALID,
// 1 INVALID, 2 SUSPENDED, others application-specific.
//
// NewTokenList, Get, Set and Claim build a list; SignToken signs the token
// with a keys.Signer. A verifier calls VerifyToken with the referenced
// token's uri and the issuer's key, then VerifiedToken.StatusOf with the
// reference. This package follows draft-ietf-oauth-status-list-20
// (April 2026).
//
// # Limits
//
// Compressed input is attacker-controlled. Decoders refuse encoded input
// that could not come from a list within the decoded-size limit
// (DefaultMaxDecodedSize, 16 MiB) and stop decompressing at that limit, so
// a compression bomb costs no more than one legitimate large list. Indexes,
// sizes and values are checked on every call; nothing here panics on bad
// input.
//
// RandomIndex draws unused indexes uniformly at random, as both
// specifications advise for privacy; claiming an index durably is the
// issuer's job.
package statuslist
