// Package verifier checks what agents present: proofs, DIDs, issuer trust,
// validity, holder binding, challenges, status and delegated scopes, and
// records each verification as an audit event that names the agent.
package verifier
