package sdjwt

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/agentid/agentid/internal/jsonvalue"
)

// jsonMaxNesting is the deepest nesting the decoder accepts whatever
// Limits.MaxDepth says: encoding/json's own bound, which keeps the
// recursive descent's stack small.
const jsonMaxNesting = jsonvalue.MaxNesting

// decodeJSON parses one JSON value from data into v, which must be a
// *map[string]any, a *[]any or a *any. It rejects syntax errors, trailing
// data, nesting deeper than maxDepth and objects with a repeated member
// name (compared after unescaping), and keeps numbers as json.Number; the
// values it builds are those encoding/json builds (invalid UTF-8 and lone
// surrogates become U+FFFD).
//
// It is jsonvalue's one-pass decoder, whose errors become this package's:
// ErrTooDeep, ErrDuplicateJSONKey, and ErrMalformed for the rest. Strings
// and numbers without escapes are substrings of one copy of data rather
// than allocations of their own: header, payload and disclosures are small
// and decoded on every verification.
//
// Errors come in document order, as the token walk it replaced reported
// them: the first syntax error, repeated name or too-deep container wins.
func decodeJSON(data []byte, maxDepth int, v any) error {
	val, err := (&jsonvalue.Decoder{MaxDepth: maxDepth, ShareInput: true}).Decode(data)
	if err != nil {
		var dup *jsonvalue.DuplicateKeyError
		var deep *jsonvalue.TooDeepError
		switch {
		case errors.As(err, &dup):
			return fmt.Errorf("%w: %q", ErrDuplicateJSONKey, dup.Key)
		case errors.As(err, &deep):
			return fmt.Errorf("%w: deeper than %d", ErrTooDeep, deep.Limit)
		}
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch p := v.(type) {
	case *map[string]any:
		switch t := val.(type) {
		case map[string]any:
			*p = t
		case nil: // null leaves the map alone, as json.Unmarshal does
		default:
			return fmt.Errorf("%w: %s where a JSON object was expected", ErrMalformed, jsonKind(val))
		}
	case *[]any:
		switch t := val.(type) {
		case []any:
			*p = t
		case nil:
		default:
			return fmt.Errorf("%w: %s where a JSON array was expected", ErrMalformed, jsonKind(val))
		}
	case *any:
		*p = val
	default:
		return fmt.Errorf("%w: cannot decode into %T", ErrMalformed, v)
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}
