package sdjwt

import (
	"fmt"
	"strconv"
	"strings"
)

// parsePointer splits an RFC 6901 JSON Pointer into its unescaped reference
// tokens. The root pointer "" names the whole document and is refused: only
// claims can be disclosed.
func parsePointer(p string) ([]string, error) {
	if p == "" || p[0] != '/' {
		return nil, fmt.Errorf("%w: %q does not start with '/'", ErrInvalidPointer, p)
	}
	toks := strings.Split(p[1:], "/")
	for i, t := range toks {
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(t, "~0", ""), "~1", ""), "~") {
			return nil, fmt.Errorf("%w: %q has a bad '~' escape", ErrInvalidPointer, p)
		}
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks, nil
}

// escapeToken escapes one reference token for a JSON Pointer.
func escapeToken(t string) string {
	return strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
}

// childPath appends a property name or index to a JSON Pointer.
func childPath(path, token string) string { return path + "/" + escapeToken(token) }

func indexPath(path string, i int) string { return path + "/" + strconv.Itoa(i) }

// arrayIndex parses an array index token (no leading zeros, no sign).
func arrayIndex(tok string, n int) (int, bool) {
	if tok == "" || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || i >= n || strconv.Itoa(i) != tok {
		return 0, false
	}
	return i, true
}

// isPathWithin reports whether path equals base or lies below it.
func isPathWithin(path, base string) bool {
	return path == base || strings.HasPrefix(path, base+"/")
}
