package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/agentid/agentid/internal/problem"
)

// decodeJSON reads one JSON value from r into v. Syntax and type errors
// become 400 problems that name the offending field as a JSON pointer.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if dec.More() {
		return problem.BadRequest("/", "the body holds more than one JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		return problem.BadRequest("/", "unexpected data after the JSON value")
	}
	return nil
}

func jsonProblem(err error) error {
	var (
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
		invalidUn *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &tooLarge):
		return err
	case errors.Is(err, io.EOF):
		return problem.BadRequest("/", "the request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.BadRequest("/", "the JSON body ends too early")
	case errors.As(err, &syntax):
		return problem.BadRequest("/", fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, syntax))
	case errors.As(err, &typeErr):
		field := "/" + strings.ReplaceAll(typeErr.Field, ".", "/")
		return problem.BadRequest(field, fmt.Sprintf("expected %s, got JSON %s", typeErr.Type, typeErr.Value))
	case errors.As(err, &invalidUn):
		return problem.Internal(err)
	}
	return problem.BadRequest("/", "the body is not valid JSON: "+err.Error())
}
