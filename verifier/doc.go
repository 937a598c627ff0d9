// Package verifier checks what agents present: proofs, DIDs, issuer trust,
// validity, holder binding, challenges, status and delegated scopes, and
// records each verification as an audit event that names the agent.
//
// # The pipeline
//
// VerifyCredential and VerifyPresentation run named checks (type Check) and
// return a Result listing the checks that passed, the warnings and the
// errors, each error naming its check, a short code and, inside a
// presentation, the JSON pointer of the credential it is about. Options.
// Checks selects a subset. In order:
//
//   - structure, context: the VC Data Model shape; every term defined by
//     the offline contexts (not for SD-JWT VC, which is plain JSON).
//   - proof, issuerController: every Data Integrity proof (or the SD-JWT
//     issuer signature with its disclosures) verifies with a key the
//     issuer's DID document authorizes for the purpose.
//   - validity: validFrom/validUntil (nbf/exp) with a bounded clock skew.
//   - schema: the embedded JSON Schemas credentialSchema names.
//   - status: every Bitstring Status List entry or Token Status List claim,
//     through the StatusChecker, failing closed.
//   - trustedIssuer: the issuer is trusted for the credential's type (see
//     below).
//   - holderBinding, challenge, domain: the presentation's proof (or the
//     KB-JWT) is by the credential subject's key (or cnf) and carries the
//     expected challenge and domain.
//   - delegation: the agent's delegations (below).
//   - assurance: the credentials about the agent show at least
//     Options.MinAssurance in hardwareBinding.assurance ("software" <
//     "hardware").
//
// # Issuer trust
//
// A credential is trusted when its issuer is listed for one of its types
// (AgentIdentityCredential, AgentDelegationCredential, ...; agentid's SD-JWT
// vcts count as those names) or for every type (AnyType, "*"). The
// verifier's own lists come from WithTrustedIssuers and
// WithTrustedIssuersFor and are enforced; with none, trust is not judged
// (warning noTrustList). Options.Trust replaces them for one call: a
// relying party's lists, a function that recognizes the server's own
// organizations, and Advisory, which makes an untrusted issuer a warning
// (untrustedIssuer) rather than an error: a bare VC-API call, with no
// relying party's policy to apply, verifies credentials from any issuer.
//
// # Delegation
//
// An AgentDelegationCredential (type AgentDelegationCredential, or SD-JWT VC
// vct https://agentid.dev/vct/agent-delegation/v1) whose subject (id, SD-JWT
// sub, or cnf key) is the agent says that its delegator lets the agent
// perform credentialSubject.scopes (action, resource, constraints) for the
// relying parties in credentialSubject.audience until validUntil. A
// sub-delegation names the delegation it narrows (the parent in the
// issuer's signed consent evidence, or credentialSubject.parent), and its
// delegator is the parent's agent.
//
// Whenever a delegation of the agent is presented, the check follows its
// chain: each parent must be presented too (chainBroken), the parent's
// subject must be the child's delegator (delegatorMismatch), the child must
// narrow the parent (chainWidens: every scope within a parent scope,
// audience a subset, validUntil not later), and the root must be delegated
// by the principal of the agent's identity credential, when one is
// presented (delegatorMismatch). Each link is a presented credential, so it
// has passed every credential check on its own (proof, status, trust); a
// parent is bound to the presenter through the chain instead of holder
// binding. Chains longer than MaxChainLength are refused.
//
// When Options.Scopes asks for actions on resources, each must be granted by
// a delegation of the agent with a sound chain: a scope whose action covers
// the action (equal, or a wildcard "invoices:*" or "*") and whose resource
// covers the resource (equal, or a prefix ending at a "/" boundary:
// .../api/invoices covers .../api/invoices/42 but not .../api/invoicesX),
// an audience listing the relying party (Options.Audience, else
// Options.Domain), and validUntil not passed (a delegation without one
// grants nothing). The codes say why not: noDelegation, scopeNotGranted,
// audienceMismatch, delegationExpired. The rules are package delegation's,
// which the issuer applies when it issues a sub-delegation. Without
// Options.Scopes the delegations are verified and reported, and no scope
// is decided; Options.RequireDelegation fails a presentation without one.
// VerifyCredential of a lone sub-delegation, with nothing asked, does not
// follow its chain (its parents cannot be presented with it).
//
// # The agent
//
// Result.Agent gathers what the credentials say about the agent: its DID
// (the presentation's holder, else the subject), the issuer of its identity
// credential, its principal (the identity credential's, else the delegator
// of its chain's root), name, assurance, its delegation (the one that
// granted, else the first: delegator, scopes, audience, validUntil, chain
// length, granted scopes), the ids and types of the credentials, and each
// credential's claims: the credentialSubject, or for an SD-JWT VC only the
// claims that were disclosed. Like every fact of a Result it is
// trustworthy only when Verified is true.
package verifier
