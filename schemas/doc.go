// Package schemas embeds the JSON Schemas of agentid's credential types and
// the agentid JSON-LD context, and validates credentials against the
// schemas. It is a library: no HTTP server, no database; nothing is ever
// fetched.
//
// # The JSON-LD context
//
// https://agentid.dev/ns/v1 (ContextURL; Context returns the document)
// defines, under @protected, every term of AgentIdentityCredential and
// AgentDelegationCredential with IRIs under https://agentid.dev/ns#: the
// classes Agent, AgentIdentityCredential, AgentDelegationCredential, TPM2,
// SoftwareKey and HumanApproval; operator, principal, delegator, approver,
// resource and audience as IRIs (their values are DIDs and URLs);
// attestedAt and approvedAt as xsd:dateTime; constraints as @json (a
// free-form object, signed as it is). It defines nothing the credentials v2
// context already defines (id, type, name, description…): that context is
// protected, and redefining its terms is an error.
//
// # The JSON Schemas
//
// AgentIdentityV1 and AgentDelegationV1 (List, Schema) are JSON Schema
// 2020-12 documents that each validate a whole credential: the VC 2.0 shape
// (contexts, types, a DID issuer, validFrom and validUntil) and the
// subject's claims: DIDs for the subject and the parties, assurance
// "hardware" or "software", scopes of {action, resource URL, constraints
// object}, an audience of URLs, and for delegations a HumanApproval evidence
// whose consent is a compact JWS.
//
// Validate checks a document against one schema; ForCredential follows a
// credential's own credentialSchema entries. Either reports every violation
// as a FieldError with a JSON pointer. A schema that is not embedded is
// never fetched: it is an error (ErrUnknownSchema). Schemas are compiled
// once, on first use, and the compiled form is shared safely between
// goroutines.
//
// Each schema is compiled twice: by the JSON Schema library, and into a
// boolean-only form (fast.go) that decides validity without allocating,
// with hand-written matchers of the schemas' patterns (patterns.go). A
// document the fast form accepts is valid; any other goes to the library,
// which gives the verdict and the errors. The fast form knows only the
// keywords our schemas use and only the values encoding/json decodes to,
// and is compared with the library by tests and fuzz targets, so it never
// accepts what the library rejects. A valid credential costs a few
// microseconds and no allocation instead of about a hundred microseconds
// and four hundred allocations.
package schemas
