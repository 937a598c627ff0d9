// Package middleware protects a service's HTTP routes so that only agents
// with a verified agentid presentation reach them, and only with the
// delegated scopes and assurance each route requires. It is plain net/http;
// package ginagent adapts it to gin.
//
// # The AgentID HTTP authentication scheme
//
// The scheme follows HTTP authentication (RFC 9110 §11): the service
// challenges, the agent answers in the Authorization header.
//
//  1. A request without an AgentID Authorization header is answered 401
//     with a fresh single-use challenge and the service's domain:
//
//     WWW-Authenticate: AgentID challenge="Q2hhbGxlbmdl...", domain="https://erp.example.com", expires="2026-11-29T10:05:00Z"
//
//     and an RFC 9457 problem+json body saying so.
//
//  2. The agent builds a presentation bound to that challenge and domain
//     and repeats the request with it:
//
//     Authorization: AgentID <presentation>
//
//     The presentation is one of
//
//     - an SD-JWT VC presentation, the compact string as is
//     ("<issuer-jwt>~<disclosure>~...~<kb-jwt>"), whose KB-JWT carries
//     nonce = challenge and aud = domain, signed by the holder key in the
//     credential's cnf; or
//     - a VC Data Model 2.0 verifiable presentation (JSON) with a Data
//     Integrity proof of purpose authentication carrying challenge and
//     domain, encoded base64url without padding (RFC 4648 §5).
//
//     `agentid vc present --challenge C --domain D` prints either.
//
//  3. The middleware reads the challenge from the presentation, checks that
//     it issued it for this domain and that it is open, verifies the
//     presentation (proofs, issuer control, validity, status, holder
//     binding, challenge, domain) and consumes the challenge, so the same
//     Authorization header is refused the second time (a replay). Then it
//     applies the route's policy.
//
// Answers:
//
//   - 401, with a new challenge in WWW-Authenticate and error="..." naming
//     the failure class (invalid_request, invalid_presentation): no or
//     unreadable presentation; a presentation that does not verify,
//     including an expired, revoked or suspended credential and a replay;
//     a challenge this service did not issue; an issuer outside
//     RequireIssuer. The agent may try again with the new challenge.
//   - 403: the presentation verified, but the agent lacks what the route
//     requires (RequireScope, RequireAssurance). Another challenge would not
//     help without other credentials.
//   - 503: the challenge store or the remote verifier does not answer.
//     Nothing is let through (fail closed).
//
// Every 401 and 403 body is application/problem+json whose errors name the
// failed checks: the verifier's (proof, validity, challenge, ...) and the
// middleware's own (delegation, assurance, trustedIssuer).
//
// # Verification in process or remote
//
// WithVerifier and WithChallenges verify in the service's process: give a
// *verifier.Verifier and the *verifier.Challenges that issue the challenges
// (verifier.NewMemoryChallenges for one process without a database; on the
// agentid database, verifier.NewChallenges, shared by replicas).
//
// WithRemote verifies through an agentid server instead: the middleware
// asks its POST /challenges for each challenge (with the domain) and posts
// each presentation to POST /presentations/verify, which checks status
// against the issuer's lists, consumes the challenge and records an audit
// event naming the agent. The middleware also remembers, in memory, the
// challenges it handed out, and forwards only presentations that answer one
// of them: the server's VC-API endpoint accepts a challenge it never issued
// (checked against the proof only), so without this a self-chosen nonce would
// pass. Consequently a presentation must come back to the process that
// issued its challenge; behind a load balancer, use sticky routing or
// verify in process on the shared database.
//
// In process, WithAudit(auditLog, organizationID) records every
// verification as an audit event, as the server does for remote ones: the
// agent, its principal, the credentials, the route's scope, the decision
// (verified only when the request is let through) and the failed checks,
// in the hash chain of a *verifier.AuditLog. An event that cannot be
// recorded fails the request with 503.
//
// # Delegated scopes
//
// RequireScope(action, resource) is decided by the verifier's delegation
// check (package verifier, rules of package delegation), which the
// middleware asks for every RequireScope in process, and for the first one
// through the REST API (the others are then matched here, by the same
// rules, against the delegation the server reports). It is met when a
// presented AgentDelegationCredential (type AgentDelegationCredential, or
// SD-JWT VC vct https://agentid.dev/vct/agent-delegation/v1) of the agent
// that verified
//
//   - lists in credentialSubject.scopes an entry whose action covers the
//     required action (equal, or a wildcard "invoices:*" or "*") and whose
//     resource covers the required resource: equal to it, or a prefix of
//     it ending at a "/" boundary (a granted "https://erp.example.com/api"
//     covers "https://erp.example.com/api/invoices" but not
//     "https://erp.example.com/apix");
//   - names this service's domain in credentialSubject.audience;
//   - has a validUntil (SD-JWT exp) that has not passed: a delegation
//     without an expiry grants nothing; and
//   - when it is a sub-delegation, is presented with its parents up to a
//     delegation by the agent's principal, each link narrowing its parent
//     (see verifier.CheckDelegation). A parent's broader scopes grant the
//     agent nothing.
//
// Constraints of the matching scope (say maxAmount) are the handler's to
// enforce: they are in Agent.Grants.
//
// # Trusted issuers
//
// Issuer trust is always enforced. RequireIssuer lists the issuers this
// service accepts; without it, in process, the verifier's own trust list
// applies (verifier.WithTrustedIssuers, WithTrustedIssuersFor), and
// through the REST API the server's: the policy of the relying party
// configured for this service's domain (agentid serve --relying-parties),
// else the server's own organizations, whose untrusted-issuer warning the
// middleware turns into a 401. A verifier with no trust list at all only
// warns (code noTrustList); configure one.
//
// RequireAssurance(level) is met when a presented credential's
// credentialSubject.hardwareBinding.assurance is at least level
// ("software" < "hardware").
package middleware
