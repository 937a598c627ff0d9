package issuer

import (
	"errors"
	"fmt"

	"github.com/agentid/agentid/internal/problem"
)

// Errors the issuer returns; test for them with errors.Is. Each error that
// stands for bad input or a refused request also carries the
// *problem.Problem (RFC 9457) that tells an HTTP client what went wrong
// (problem.From finds it), naming the offending fields of the request body
// as JSON pointers.
var (
	// ErrInvalidCredential is a credential to issue that is malformed, fails
	// the data model, JSON-LD or its JSON Schema, or cannot become the
	// requested format (400).
	ErrInvalidCredential = errors.New("invalid credential")
	// ErrInvalidOptions is an unknown or unusable issuance option (400).
	ErrInvalidOptions = errors.New("invalid issuance options")
	// ErrUnknownIssuer is a credential issuer that is not an active issuer
	// identity of the caller's organization (400). Whether another
	// organization has that DID is not said.
	ErrUnknownIssuer = errors.New("issuer is not an active issuer identity of the organization")
	// ErrCredentialExists is a credential id the organization has issued
	// already (409).
	ErrCredentialExists = errors.New("a credential with this id was issued already")
	// ErrNotFound is a credential or status list that does not exist — or
	// that belongs to another organization (404).
	ErrNotFound = errors.New("not found")
	// ErrInvalidStatusRequest is a malformed status change request (400).
	ErrInvalidStatusRequest = errors.New("invalid status change request")
	// ErrStatusConflict is a status change the credential's state does not
	// allow: a revoked credential cannot be suspended or reinstated, and a
	// credential issued without status entries has no status to change
	// (409).
	ErrStatusConflict = errors.New("status change not allowed")
	// ErrForbidden is an actor that may not change this credential (403).
	ErrForbidden = errors.New("forbidden")
)

// Error is an issuer error: a named kind (one of the Err values above) and
// the problem document that describes it to an HTTP client.
type Error struct {
	Kind    error
	Problem *problem.Problem
}

func (e *Error) Error() string { return fmt.Sprintf("%v: %v", e.Kind, e.Problem) }

// Unwrap gives errors.Is the kind and errors.As the problem.
func (e *Error) Unwrap() []error { return []error{e.Kind, e.Problem} }

// invalid is a 400 of the given kind naming fields.
func invalid(kind error, detail string, fields ...problem.FieldError) error {
	return &Error{Kind: kind, Problem: problem.Invalid(detail, fields...)}
}

// field is one offending field.
func field(pointer, reason string) problem.FieldError {
	return problem.FieldError{Field: pointer, Reason: reason}
}

func notFound(detail string) error {
	return &Error{Kind: ErrNotFound, Problem: problem.NotFound(detail)}
}

func conflict(kind error, detail string) error {
	return &Error{Kind: kind, Problem: problem.Conflict(detail)}
}
