// Package dataintegrity signs and verifies W3C Verifiable Credential Data
// Integrity 1.0 proofs of type DataIntegrityProof with the cryptosuites
// eddsa-rdfc-2022 (Ed25519) and ecdsa-rdfc-2019 (ECDSA on P-256 with
// SHA-256, or on P-384 with SHA-384).
//
// # How a proof is made
//
// A Data Integrity proof is a "proof" member added to a JSON-LD document
// (a credential, a presentation). It signs the document's meaning rather
// than its bytes, in three steps that the two cryptosuites share:
//
//  1. Proof configuration. The proof's own options (type
//     DataIntegrityProof, cryptosuite, created, verificationMethod,
//     proofPurpose, and optionally expires, challenge, domain, nonce, id,
//     previousProof) form a small JSON-LD document with the same @context
//     as the credential. It is signed too, so none of its members can be
//     changed after signing.
//  2. Transform and hash. The document without its proof, and the proof
//     configuration without proofValue, are each canonicalized with
//     RDFC-1.0 (package credential/jsonld: expansion to RDF, then canonical
//     blank node labels and sorted N-Quads) and hashed: SHA-256 for
//     eddsa-rdfc-2022 and for ecdsa-rdfc-2019 on P-256, SHA-384 for P-384.
//     hashData is hash(proof configuration) ‖ hash(document).
//  3. Sign and serialize. hashData is signed (Ed25519 signs it as is; ECDSA
//     hashes it once more with the curve's hash, as keys.Signer does) and
//     the signature becomes proofValue, multibase base58btc (a leading
//     "z"). The proof is the configuration, without @context, plus
//     proofValue.
//
// Verification repeats steps 1 and 2 from the proof found in the document
// and checks the signature with the public key of the proof's
// verificationMethod, resolved through its DID document, which must also
// authorize that method for the proof's purpose (assertionMethod for an
// issuer's credential, authentication for a holder's presentation).
//
// # Proof sets and chains
//
// A document may carry several proofs ("proof" is then an array). In a
// proof set each proof signs the document without any proof and is
// verified independently. A proof with previousProof (the id or ids of
// other proofs) forms a chain: it signs the document together with the
// proofs it names, so they cannot be removed without breaking it. Sign adds
// to an existing proof or set; Verify checks every proof and every
// previousProof reference.
//
// # Safety
//
// Canonicalization runs in JSON-LD safe mode (a term no context defines is
// an error, not a silently unsigned claim) and within limits that refuse
// documents whose blank nodes would make RDFC-1.0 take exponential time;
// contexts come only from the embedded, offline set. Every failure wraps a
// named error of this package (or of credential/jsonld) so callers can
// report which check failed. Verify does not decide whether the key's
// controller may issue this document: it reports the controller in the
// Result, and the verifier compares it with the credential's issuer (or
// passes VerifyOptions.Controller).
package dataintegrity
