// Package problem is agentid's one way to describe an HTTP error: RFC 9457
// problem details ("application/problem+json") with the offending fields
// named. Services return *problem.Problem (or wrap one) to say how a failure
// should reach a client; the server writes it.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// TypeBase prefixes agentid's problem type URIs.
const TypeBase = "https://agentid.dev/problems/"

// FieldError names one offending input field and why it was refused. Field is
// a JSON pointer (RFC 6901) into the request body, or a query or path
// parameter name.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Problem is an RFC 9457 problem details document. It is also an error, so
// services can return it and handlers can write it unchanged.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
	// RequestID ties the problem to the server's logs.
	RequestID string `json:"requestId,omitempty"`

	cause error
}

func (p *Problem) Error() string {
	msg := fmt.Sprintf("%d %s", p.Status, p.Title)
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	for _, f := range p.Errors {
		msg += fmt.Sprintf("; %s: %s", f.Field, f.Reason)
	}
	return msg
}

// Unwrap returns the error that caused the problem, if any. The cause is
// logged, never sent to the client.
func (p *Problem) Unwrap() error { return p.cause }

// New makes a problem with the given status; slug becomes the type URI
// (TypeBase + slug) and title the short human-readable summary.
func New(status int, slug, title, detail string, fields ...FieldError) *Problem {
	return &Problem{Type: TypeBase + slug, Title: title, Status: status, Detail: detail, Errors: fields}
}

// WithCause returns a copy of p that records err as its cause.
func (p *Problem) WithCause(err error) *Problem {
	c := *p
	c.cause = err
	return &c
}

// BadRequest is a 400 for input that cannot be accepted, naming the field.
func BadRequest(field, reason string) *Problem {
	return New(http.StatusBadRequest, "bad-request", "Bad request", reason, FieldError{Field: field, Reason: reason})
}

// Invalid is a 400 for a request body that fails validation in several
// places at once.
func Invalid(detail string, fields ...FieldError) *Problem {
	return New(http.StatusBadRequest, "invalid-request", "Invalid request", detail, fields...)
}

// Unauthorized is a 401: no credentials, or credentials that were refused.
func Unauthorized(detail string) *Problem {
	return New(http.StatusUnauthorized, "unauthorized", "Unauthorized", detail)
}

// Forbidden is a 403: the caller is known but may not do this.
func Forbidden(detail string) *Problem {
	return New(http.StatusForbidden, "forbidden", "Forbidden", detail)
}

// NotFound is a 404.
func NotFound(detail string) *Problem {
	return New(http.StatusNotFound, "not-found", "Not found", detail)
}

// Conflict is a 409.
func Conflict(detail string) *Problem {
	return New(http.StatusConflict, "conflict", "Conflict", detail)
}

// TooLarge is a 413 for a request body over the server's limit.
func TooLarge(limit int64) *Problem {
	return New(http.StatusRequestEntityTooLarge, "request-too-large", "Request body too large",
		fmt.Sprintf("the request body is larger than %d bytes", limit))
}

// Internal is a 500. Its detail never carries the cause.
func Internal(cause error) *Problem {
	return New(http.StatusInternalServerError, "internal", "Internal server error",
		"the server could not complete the request; the request id is in the logs").WithCause(cause)
}

// Unavailable is a 503.
func Unavailable(detail string) *Problem {
	return New(http.StatusServiceUnavailable, "unavailable", "Service unavailable", detail)
}

// From returns the *Problem err carries, or an Internal problem for any
// other error.
func From(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	return Internal(err)
}

// Write sends p as the response.
func Write(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
