// Package credential models W3C Verifiable Credentials and Presentations
// (VC Data Model 2.0, and 1.1 which the Data Integrity test suites still
// issue) and checks that a document has the shape the data model requires.
// Sub-packages hold the rest of the credential layer: credential/jsonld (the
// offline JSON-LD loader, safe expansion, RDF canonicalization),
// credential/dataintegrity (Data Integrity proofs), credential/sdjwt
// (SD-JWT VC) and credential/statuslist (status list codecs). It is a
// library: no HTTP server, no database, no mutable package state.
//
// # Documents stay JSON
//
// A credential is open-world JSON-LD: any property from any vocabulary its
// @context brings in may appear, and a proof signs all of them. So
// Credential and Presentation keep the document as decoded JSON
// (map[string]any, numbers as json.Number) and offer typed accessors for the
// properties the data model defines — Issuer, Subjects, ValidFrom, Status,
// Proofs, VerifiableCredentials and so on. Marshalling gives back every
// property, unchanged.
//
// # Reading untrusted input
//
// ParseCredential and ParsePresentation read strictly (DecodeObject: UTF-8,
// at most MaxDocumentBytes, nesting at most MaxDepth, no duplicate keys, no
// trailing data) and then validate. Validation reports every problem at
// once, as a *ValidationError whose FieldErrors name the offending value
// with a JSON pointer:
//
//	c, err := credential.ParseCredential(body)
//	var verr *credential.ValidationError
//	if errors.As(err, &verr) {
//		for _, fe := range verr.Errors {
//			fmt.Println(fe.Pointer, fe.Reason) // "/issuer must be a URL ..."
//		}
//	}
//
// The HTTP layer turns these into RFC 9457 problem details with an
// errors[] member of {field, reason} objects.
//
// # Two levels of validity
//
// Validate checks what the JSON alone shows (see Credential.Validate for
// the list of rules). What depends on the meaning of the @context — every
// term defined, no protected term redefined — needs JSON-LD expansion and is
// checked by ValidateJSONLD. Whether a credential is currently valid, who
// may issue it and whether it has been revoked are questions for the
// verifier, not for the data model.
package credential
