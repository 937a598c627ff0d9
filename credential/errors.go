package credential

import (
	"fmt"
	"strconv"
	"strings"
)

// FieldError is one problem found in a document. Pointer is an RFC 6901 JSON
// pointer to the offending value ("" is the whole document, "/issuer" the
// issuer, "/credentialSubject/0/id" the id of the first subject) and Reason
// says, in words, what is wrong with it. The JSON names match the `errors`
// members of the RFC 9457 problem documents that the HTTP layer returns.
type FieldError struct {
	Pointer string `json:"field"`
	Reason  string `json:"reason"`
}

func (e FieldError) String() string {
	if e.Pointer == "" {
		return e.Reason
	}
	return e.Pointer + ": " + e.Reason
}

// ValidationError reports every problem that validation found in a
// document, not only the first, so that a caller can fix them all at once.
// Parse errors (not JSON, too large, too deep, duplicate keys) are reported
// the same way, with the pointer of the place where decoding stopped.
//
// Err, when set, is the underlying cause (for example the error a JSON-LD
// expander returned); errors.Is and errors.As see it through Unwrap.
type ValidationError struct {
	Errors []FieldError
	Err    error
}

// Error summarises the first few problems on one line.
func (e *ValidationError) Error() string {
	const show = 3
	var b strings.Builder
	b.WriteString("credential: invalid document: ")
	for i, fe := range e.Errors {
		if i == show {
			fmt.Fprintf(&b, " (and %d more)", len(e.Errors)-show)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(fe.String())
	}
	if len(e.Errors) == 0 && e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause, if any.
func (e *ValidationError) Unwrap() error { return e.Err }

// Has reports whether one of the problems is at pointer; tests and callers
// that react to a specific field use it.
func (e *ValidationError) Has(pointer string) bool {
	for _, fe := range e.Errors {
		if fe.Pointer == pointer {
			return true
		}
	}
	return false
}

// problems collects FieldErrors while a validator walks a document.
type problems struct {
	errs []FieldError
}

func (p *problems) add(ptr, format string, args ...any) {
	p.errs = append(p.errs, FieldError{Pointer: ptr, Reason: fmt.Sprintf(format, args...)})
}

// err returns nil when nothing was found, else a *ValidationError.
func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: p.errs}
}

// ptr appends reference tokens to a JSON pointer, escaping "~" and "/" as
// RFC 6901 requires. Tokens are property names (string) or array indexes
// (int).
func ptr(base string, tokens ...any) string {
	var b strings.Builder
	b.WriteString(base)
	for _, t := range tokens {
		b.WriteByte('/')
		switch v := t.(type) {
		case int:
			b.WriteString(strconv.Itoa(v))
		case string:
			b.WriteString(escapeToken(v))
		}
	}
	return b.String()
}

func escapeToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
