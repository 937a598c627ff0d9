// Package statusfetch answers "has this credential been revoked or
// suspended?" for a verifier that does not share a database with the
// issuer: it fetches the status list a credential points at over HTTP(S),
// verifies that the list is genuine, and reads the credential's entry.
//
// # What is fetched
//
// Two kinds of reference are understood:
//
//   - a credentialStatus entry of type BitstringStatusListEntry (W3C
//     Bitstring Status List 1.0). Its statusListCredential URL serves a
//     BitstringStatusListCredential: a VC 2.0 credential secured with a Data
//     Integrity proof whose subject carries the compressed bitstring.
//   - the status claim of an SD-JWT VC, {"status_list": {"idx": 7, "uri":
//     "https://…"}} (IETF Token Status List). The uri serves a status list
//     token: a JWT of typ statuslist+jwt whose kid names the signing key.
//
// # Why a list is believed
//
// A status list can revoke a credential, and a forged or replayed one can
// un-revoke it, so a list is used only when all of these hold (each failure
// is a named error of this package):
//
//   - it was fetched over https (plain http only to loopback, only with
//     WithInsecureLoopback, for tests), from an address the outbound policy
//     allows: every address a host name resolves to is checked when the
//     connection is dialled, and again for every redirect, so neither DNS
//     nor a redirect can steer the fetch into the private network (SSRF);
//   - the response is 200 (or 304 for a list already held), within the size
//     limit and the timeout;
//   - its signature verifies: the Data Integrity proof (assertionMethod)
//     for a list credential, the JWS for a token;
//   - it was signed by the issuer of the credential being checked. For a
//     list credential its issuer must equal that issuer and control the
//     proof's verification method; for a token the kid must be a DID URL of
//     that issuer, authorized for assertionMethod. Anyone else's list, even
//     one correctly signed, neither revokes nor reinstates;
//   - it is the list the reference names: the credential's id (or the
//     token's sub) equals the URL, so an issuer's other list cannot be
//     served in its place;
//   - it is within its validity period (validFrom/validUntil, or the
//     token's exp), give or take the allowed skew;
//   - it has the entry's statusPurpose, decodes, and holds the index.
//
// # Caching without caching verdicts
//
// What is cached is the verified list, never an answer. The entry's value is
// read from the cached list on every call, so two credentials on one list
// cost one fetch, and the answer always reflects the list as last fetched.
// A cached list is used for at most the staleness bound (WithStaleness,
// default 60 s; 0 revalidates on every call), lowered by the list's own ttl
// and by Cache-Control max-age, no-cache or no-store. After that it is
// revalidated with If-None-Match (its ETag) and If-Modified-Since; a 304
// costs a round trip but no body and no signature check. The cache holds a
// bounded number of lists and bytes and evicts the least recently used.
//
// # Failing closed
//
// Whenever the status cannot be established — the list is unreachable, too
// slow, too big, unsigned, signed by someone else, expired, or undecodable,
// or the index lies outside it — Check returns an error and no Result. A
// stale list is never used in place of one that cannot be fetched. The
// verifier turns the error into a failed status check, so an outage of the
// issuer's status endpoint rejects credentials rather than accepting revoked
// ones.
//
// This package does not import package verifier;
// verifier.HTTPStatusChecker adapts a Checker to verifier.StatusChecker.
package statusfetch
