// Package jsonld processes JSON-LD offline and safely, for signing and
// verifying W3C Verifiable Credentials with Data Integrity proofs.
//
// # Why JSON-LD at all
//
// A Data Integrity proof over a credential (eddsa-rdfc-2022,
// ecdsa-rdfc-2019) does not sign the JSON bytes: it signs the credential's
// meaning, an RDF dataset. JSON-LD turns the JSON into that dataset. Every
// property name and type is a "term" that the document's @context maps to
// an IRI, so "validFrom" in a document that starts with the VC 2.0 context
// means https://www.w3.org/2018/credentials#validFrom. Expansion applies the
// contexts and writes every term out as its IRI; conversion to RDF then
// yields one N-Quad (subject, predicate, object, graph) per statement.
//
// # RDFC-1.0
//
// The same dataset can be written in many ways: quads in any order, and
// blank nodes (nodes without an "id", such as a credentialSubject without
// one) under arbitrary labels. RDF Dataset Canonicalization (W3C RDFC-1.0,
// formerly URDNA2015) fixes both: it gives every blank node a label
// (_:c14n0, _:c14n1, …) derived from the hashes of the quads around it, and
// sorts the N-Quads. Two documents with the same meaning canonicalize to the
// same bytes, so a signature over the canonical form survives reordering of
// JSON members and survives nothing else. This package uses json-gold
// (v0.4.2) for expansion, RDF conversion and RDFC-1.0.
//
// # What makes it safe
//
//   - Offline: contexts come only from an embedded, digest-checked set (the
//     W3C VC, Data Integrity, Multikey, DID, status list and example contexts,
//     plus the agentid context from package schemas), or from contexts a
//     caller adds with WithContext. A document naming any other context
//     fails with ErrContextNotAllowed; nothing is ever fetched from the
//     network.
//   - Bounded: RDFC-1.0 is exponential in the number of blank nodes that look
//     alike and are linked to each other (eight such nodes in a 1.3 KB
//     document took 8 s). Before canonicalizing, a Processor bounds the
//     document's size, JSON depth and number of objects, then converts it to
//     RDF and bounds the number of blank nodes and, more tightly, the number
//     of blank nodes that share a first-degree hash with another (the ones
//     canonicalization must tell apart by exploring their neighbours). A
//     poison document is refused in microseconds with ErrTooManyBlankNodes
//     or ErrAmbiguousBlankNodes.
//   - Safe mode: JSON-LD silently drops a property that no context defines,
//     which would let an attacker add unsigned claims that a verifier's JSON
//     view still sees. The Data Integrity specification requires "safe mode",
//     which turns such a drop into an error. json-gold v0.4.2 has no safe
//     mode, so the Processor implements it: it expands with a sentinel
//     @vocab placed before the document's own contexts; a term that no
//     context defines expands to an IRI under the sentinel, and finding one
//     in the output is ErrUndefinedTerm. When no sentinel IRI appears, the
//     expansion is exactly the one without the sentinel, so the canonical
//     form is unaffected. Relative IRIs for @id or @type (which RDF cannot
//     carry and would drop) are ErrRelativeIRI, and an attempt to redefine a
//     protected term (for example "type" in the VC context) is
//     ErrProtectedTermRedefinition.
//   - No panics: json-gold v0.4.2 panics on some malformed documents (a
//     number under the empty key, a non-boolean @protected); the Processor
//     recovers and reports ErrInvalidJSONLD.
//
// # Speed
//
// Parsing the VC 2.0 context is a large part of the cost of expanding a
// small credential, so a Processor parses each top-level list of context
// URLs once and reuses the parsed active context, which is immutable and
// shared by concurrent calls. Loaded context documents are parsed from JSON
// once; LoadDocument hands out deep copies so no caller can change them.
//
// Canonicalize and CanonicalizeSHA384 first try a fast path (fastrdf.go,
// rdfc.go) that walks the compact document once, asks json-gold's processed
// contexts how each key and value expands, and emits RDF quads directly;
// scoped contexts, embedded contexts (a presentation's credentials carry
// their own @context), key expansions and IRI checks are cached. It then
// labels blank nodes by their first-degree hashes, which settles RDFC-1.0
// whenever those hashes are distinct. Anything it does not handle (null and
// @propagate contexts, value objects, lists, language maps, non-object @json values, undefined
// terms, relative or invalid IRIs, look-alike blank nodes, …) it detects and
// hands to the json-gold path above, so its output is json-gold's by
// construction or by test: the differential tests and
// FuzzCanonicalizeDifferential compare the two. A credential or a
// presentation canonicalizes about ten times faster this way.
//
// Check walks the same way in a check-only mode: every decision of the
// fast path is made (so it declines exactly what the quad-building walk
// declines, which the differential tests and the fuzz target compare),
// but no quad, blank node label or literal string is built; for a
// credential it allocates nothing. The quad-building walk and RDFC-1.0
// reuse their buffers between calls, serialize each N-Quads line into one
// buffer and sort spans of it, and look up the caches of the active
// contexts without locks. CanonicalDigest hashes the canonical N-Quads
// without gathering them into a string (package dataintegrity signs and
// verifies such digests).
//
// json-gold v0.4.2 reads a term's container mapping from the term's scoped
// context rather than the active context, so for VC 2.0's
// verifiableCredential (a @graph container with a null scoped context) it
// puts an embedded credential in the presentation's default graph instead
// of a named graph of its own, as the JSON-LD 1.1 algorithm (and jsonld.js)
// does. The fast path follows the algorithm: a VC 2.0 presentation signed
// elsewhere verifies here (TestPresentationGraphsMatchJSONLD11 holds a
// presentation the W3C VC 2.0 suite signed, with jsonld.js's N-Quads). A
// document that uses such a term and that the fast path declines is refused
// with ErrGraphContainer rather than handed to json-gold; the differential
// tests give json-gold an equivalent rewrite (each such value as an explicit
// graph object, which json-gold does place in a named graph).
//
// JSON literals ("@type": "@json", agentid's scope constraints) of objects
// with strings, booleans, null and integers, and integers decoded as
// json.Number, are on the fast path too, in json-gold's RFC 8785 form.
package jsonld
