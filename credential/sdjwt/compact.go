package sdjwt

import (
	"fmt"
	"strings"
)

// Compact is an SD-JWT in compact serialization, split into its parts:
//
//	<IssuerJWT>~<Disclosures[0]>~...~<Disclosures[n-1]>~<KeyBindingJWT>
//
// KeyBindingJWT is empty for an SD-JWT without key binding (which ends in
// "~").
type Compact struct {
	IssuerJWT     string
	Disclosures   []string
	KeyBindingJWT string
}

// ParseCompact splits a compact SD-JWT or SD-JWT+KB into its parts and checks
// their syntax (three base64url JWT segments, non-empty base64url
// disclosures) and the size and count limits of lim. It does not decode
// disclosures or verify anything.
func ParseCompact(s string, lim Limits) (*Compact, error) {
	lim = lim.withDefaults()
	if len(s) > lim.MaxSize {
		return nil, fmt.Errorf("%w: SD-JWT of %d bytes, limit %d", ErrTooLarge, len(s), lim.MaxSize)
	}
	// Count before splitting so that a flood of "~" allocates nothing.
	if n := strings.Count(s, "~"); n == 0 {
		return nil, fmt.Errorf("%w: no '~' separator", ErrMalformed)
	} else if n-1 > lim.MaxDisclosures {
		return nil, fmt.Errorf("%w: %d disclosures, limit %d", ErrTooLarge, n-1, lim.MaxDisclosures)
	}
	parts := strings.Split(s, "~")
	c := &Compact{IssuerJWT: parts[0], KeyBindingJWT: parts[len(parts)-1]}
	if err := checkJWTSyntax(c.IssuerJWT); err != nil {
		return nil, fmt.Errorf("issuer-signed JWT: %w", err)
	}
	if c.KeyBindingJWT != "" {
		if err := checkJWTSyntax(c.KeyBindingJWT); err != nil {
			return nil, fmt.Errorf("key binding JWT: %w", err)
		}
	}
	if n := len(parts) - 2; n > 0 {
		c.Disclosures = parts[1 : len(parts)-1]
	}
	for i, d := range c.Disclosures {
		if d == "" {
			return nil, fmt.Errorf("%w: disclosure %d is empty", ErrMalformed, i+1)
		}
		if !isBase64URL(d) {
			return nil, fmt.Errorf("%w: disclosure %d is not base64url", ErrMalformed, i+1)
		}
	}
	return c, nil
}

// String serializes c back to the compact form.
func (c *Compact) String() string {
	return c.SDHashInput() + c.KeyBindingJWT
}

// SDHashInput is the SD-JWT without its KB-JWT, <JWT>~<D1>~...~<Dn>~: the
// string whose digest a KB-JWT's sd_hash carries.
func (c *Compact) SDHashInput() string {
	var b strings.Builder
	b.WriteString(c.IssuerJWT)
	b.WriteByte('~')
	for _, d := range c.Disclosures {
		b.WriteString(d)
		b.WriteByte('~')
	}
	return b.String()
}

// sdHashInput is c.SDHashInput() for a c that ParseCompact split from s:
// s without its KB-JWT, a substring rather than a new string.
func sdHashInput(s string, c *Compact) string {
	return s[:len(s)-len(c.KeyBindingJWT)]
}

// checkJWTSyntax checks that s has three dot-separated base64url segments,
// none of them empty.
func checkJWTSyntax(s string) error {
	_, err := splitJWT(s)
	return err
}

// splitJWT checks s as checkJWTSyntax does and returns its three segments.
func splitJWT(s string) (segs [3]string, err error) {
	if strings.Count(s, ".") != 2 {
		return segs, fmt.Errorf("%w: JWT does not have three segments", ErrMalformed)
	}
	i := strings.IndexByte(s, '.')
	j := i + 1 + strings.IndexByte(s[i+1:], '.')
	segs = [3]string{s[:i], s[i+1 : j], s[j+1:]}
	for n, seg := range segs {
		if seg == "" {
			return segs, fmt.Errorf("%w: JWT segment %d is empty", ErrMalformed, n+1)
		}
		if !isBase64URL(seg) {
			return segs, fmt.Errorf("%w: JWT segment %d is not base64url", ErrMalformed, n+1)
		}
	}
	return segs, nil
}

// notBase64URL is 1 for the bytes outside the base64url alphabet. OR-ing
// table entries, with no branch per byte, matters here: every SD-JWT is
// scanned whole on each parse.
var notBase64URL = func() (t [256]byte) {
	for c := range 256 {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			t[c] = 1
		}
	}
	return t
}()

func isBase64URL(s string) bool {
	var bad byte
	for i := 0; i < len(s); i++ {
		bad |= notBase64URL[s[i]]
	}
	return bad == 0
}
