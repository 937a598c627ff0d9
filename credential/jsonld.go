package credential

import (
	"context"
	"errors"

	"github.com/agentid/agentid/credential/jsonld"
	"github.com/agentid/agentid/internal/jsonvalue"
)

// Expander runs JSON-LD expansion over a document and reports whether it
// succeeded. It is the seam between the data-model checks of this package
// and JSON-LD processing: the checks that need the meaning of the @context
// (every term defined, no protected term redefined, every type mapped to an
// absolute IRI) are exactly the errors a strict, offline expander raises.
// An Expander must not fetch contexts from the network.
type Expander func(ctx context.Context, doc map[string]any) error

// DefaultExpander expands with the shared credential/jsonld processor: the
// embedded contexts only (never fetched), in safe mode (an undefined term or
// a relative IRI is an error), within its size and node limits.
//
// It runs jsonld.Check, which fails exactly when jsonld.Expand fails (with
// the same error) but skips building the expansion for the documents the
// processor's fast path covers.
func DefaultExpander(ctx context.Context, doc map[string]any) error {
	return jsonld.Check(ctx, doc)
}

// ValidateJSONLD runs the JSON-LD checks that Validate leaves out, through
// expand (DefaultExpander when nil), on a copy of the document. It catches
// what the W3C VC 2.0 suite calls a redefined protected term (an inline
// context mapping VerifiableCredential elsewhere, or overriding a term an
// earlier @protected context defined), an unmapped type or property (for
// example after "@vocab": null), and contexts that are not available offline.
//
// A document the expander refuses yields a *ValidationError with one
// FieldError (at "/@context" when the context itself is at fault) whose
// Err is the expander's error, so errors.Is(err,
// jsonld.ErrProtectedTermRedefinition) works. A cancelled ctx is returned
// as is.
//
// Call it after Validate: it assumes the document has the shape of a
// credential or presentation.
func ValidateJSONLD(ctx context.Context, doc Document, expand Expander) error {
	var err error
	if expand == nil {
		// jsonld.Check never modifies its input (it copies the document
		// before handing it to json-gold), so the copy an arbitrary
		// Expander gets is not needed: it would cost a deep copy of the
		// document per verification.
		err = jsonld.Check(ctx, doc.Map())
	} else {
		err = expand(ctx, jsonvalue.CloneObject(doc.Map()))
	}
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	pointer := ""
	switch {
	case errors.Is(err, jsonld.ErrProtectedTermRedefinition),
		errors.Is(err, jsonld.ErrContextNotAllowed),
		errors.Is(err, jsonld.ErrInvalidContext):
		pointer = "/@context"
	}
	return &ValidationError{
		Errors: []FieldError{{Pointer: pointer, Reason: err.Error()}},
		Err:    err,
	}
}
