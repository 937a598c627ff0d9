// Package issuer is where an organization vouches for its agents: it holds
// organizations and their issuer identities, enrolls agents, issues
// credentials, keeps status lists and revokes. HTTP handlers in
// internal/server and the portal in web are thin adapters over its API.
//
// # Issuer identities and key rotation
//
// Every organization has an Ed25519 and a P-256 signing key, each with a
// did:key issuer identity, which anyone can resolve offline and which
// credentials are issued as by default. When the public URL is https
// (WithPublicURL), the organization also has did:web identities
// (EnsureWebIdentities, run at startup; WebBase gives the mapping):
// did:web:<host> for the default organization, served at
// /.well-known/did.json, and did:web:<host>:orgs:<slug> for every
// organization, served at /orgs/<slug>/did.json (a port is written %3A; a
// path in the public URL becomes colon-separated segments, and the default
// organization's document then moves to <path>/did.json). A did:web does
// not have keys of its own: its verification methods #key-1, #key-2, … are
// the organization's did:key keys, numbered in the order the did:web got
// them, as Multikey methods. A credential names a did:web as its issuer to
// be issued as it, and is then signed as did:web:…#key-N with the active
// key of the type its format and cryptosuite need.
//
// RotateKey replaces the organization's key of one type. The new key gets
// a new did:key identity and becomes the next #key-N of every did:web of
// the organization; the identities of the old key are retired (state
// retired, RetiredAt set): they sign no new credential, and naming the old
// did:key as issuer is refused. Credentials signed before stay
// verifiable: the old did:key resolves by itself, and its status lists
// stay where they are and are re-signed by the old key, so that the old
// credentials can still be revoked and suspended; a did:web document
// keeps every key it has had in assertionMethod (only the active ones in
// authentication), and its status lists are signed by its active key.
// Verifiers that cached a did:web document before a rotation see the new
// key once their copy expires (the document is served with max-age 60 s).
//
// # Delegation
//
// Delegate turns a human's consent (a compact JWS by the human's did:key
// over the agent, scopes, audience, purpose and expiry) into an
// AgentDelegationCredential with the consent as HumanApproval evidence,
// issued as ldp_vc and as dc+sd-jwt (SD-JWT VC of vct VCTAgentDelegation,
// every claim selectively disclosable but iss, vct, cnf — the agent's key
// — and status). A root consent is signed by the agent's recorded
// principal or by one of the organization's approvers (AddApprover); a
// sub-delegation is signed by the parent delegation's agent and may only
// narrow the parent. Each consent is used once. Delegations are
// short-lived (24 h by default).
//
// The credentials of a delegation share one status: revoking or
// suspending either (ChangeStatus, by an admin or by the principal)
// applies to both, and revoking a delegation revokes both credentials of
// every delegation below it.
//
// A delegation is renewed by a new consent that names it in renews: the
// new delegation supersedes the old one (whose credentials are revoked);
// the old one's children that narrow the new one move below it, the
// others are revoked. Or, when the organization's DelegationPolicy allows
// it, by the agent itself (RenewDelegation, a request signed by the
// agent's did:key): the delegation gets fresh credentials for another
// default lifetime, capped by the consent's time plus the policy's
// maxLifetime and by the parent's end, at most maxRenewals times; its
// earlier credentials are revoked and its children stay below it.
package issuer
