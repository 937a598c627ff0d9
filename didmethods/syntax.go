package didmethods

import (
	"errors"
	"fmt"
	"strings"
)

// MaxDIDLength bounds the DIDs a Registry accepts, so that hostile input is
// cheap to refuse. Each method applies its own, tighter bound.
const MaxDIDLength = 4096

// SplitDID checks did against the DID Core 1.0 ABNF (§3.1):
//
//	did                = "did:" method-name ":" method-specific-id
//	method-name        = 1*method-char
//	method-char        = %x61-7A / DIGIT
//	method-specific-id = *( *idchar ":" ) 1*idchar
//	idchar             = ALPHA / DIGIT / "." / "-" / "_" / pct-encoded
//
// and returns its method name and method-specific identifier. A DID URL
// (with path, query or fragment) is not a DID and is refused.
func SplitDID(did string) (method, id string, err error) {
	if len(did) > MaxDIDLength {
		return "", "", fmt.Errorf("DID is %d characters, more than %d", len(did), MaxDIDLength)
	}
	rest, ok := strings.CutPrefix(did, "did:")
	if !ok {
		return "", "", errors.New(`DID must begin with "did:"`)
	}
	method, id, ok = strings.Cut(rest, ":")
	if !ok || method == "" {
		return "", "", errors.New("DID has no method name")
	}
	for i := 0; i < len(method); i++ {
		if c := method[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return "", "", fmt.Errorf("method name has character %q", c)
		}
	}
	if err := checkMethodSpecificID(id); err != nil {
		return "", "", err
	}
	return method, id, nil
}

func checkMethodSpecificID(id string) error {
	if id == "" {
		return errors.New("DID has an empty method-specific identifier")
	}
	if id[len(id)-1] == ':' {
		return errors.New("method-specific identifier ends with ':'")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case isIDChar(c), c == ':':
		case c == '%':
			if i+2 >= len(id) || !isHex(id[i+1]) || !isHex(id[i+2]) {
				return errors.New("method-specific identifier has a malformed percent-encoding")
			}
			i += 2
		default:
			return fmt.Errorf("method-specific identifier has character %q", c)
		}
	}
	return nil
}

func isIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// splitDIDURL splits a DID URL of the form did#fragment. Paths and queries
// are not supported by any method here.
func splitDIDURL(didURL string) (did, fragment string, err error) {
	did, fragment, _ = strings.Cut(didURL, "#")
	if strings.ContainsAny(did, "/?") {
		return "", "", errors.New("DID URL paths and queries are not supported")
	}
	return did, fragment, nil
}
