package sdjwt

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotVerified means VerifyKeyBinding was given a Result that is not the
// outcome of Verify on the same SD-JWT.
var ErrNotVerified = errors.New("sdjwt: the SD-JWT was not verified")

// VerifyKeyBinding checks the KB-JWT of the SD-JWT+KB presentation against
// r, the Result of a successful Verify of the same presentation without its
// KB-JWT (the issuer-signed JWT and the same disclosures, in the same
// order): signature by r's holder key, sd_hash, iat, and opts.Nonce and
// opts.Audience when set, exactly as Verify checks them. On success it sets
// r.KeyBinding.
//
// It lets a caller that verified the issuer's part first, to tell issuer
// failures from holder failures, check the holder's part without verifying
// the issuer's signature and disclosures a second time. It returns
// ErrNotVerified when r does not come from Verify of presentation's
// issuer-signed part, and ErrKeyBindingRequired when presentation has no
// KB-JWT.
func VerifyKeyBinding(presentation string, r *Result, opts VerifyOptions) (*KeyBindingResult, error) {
	lim := opts.Limits.withDefaults()
	c, sdInput, err := keyBindingPart(presentation, r, lim)
	if err != nil {
		return nil, err
	}
	if r == nil || r.verified == "" || r.verified != sdInput {
		return nil, ErrNotVerified
	}
	if c.KeyBindingJWT == "" {
		return nil, ErrKeyBindingRequired
	}
	now, skew := opts.clock()
	maxAge := opts.KeyBindingMaxAge
	if maxAge <= 0 {
		maxAge = DefaultKeyBindingMaxAge
	}
	kb, err := verifyKeyBinding(c, sdInput, r, opts, lim, now, skew, maxAge)
	if err != nil {
		return nil, err // as Verify reports it
	}
	r.KeyBinding = kb
	return kb, nil
}

// keyBindingPart parses presentation as ParseCompact does and returns it
// with its SD-JWT part (Compact.SDHashInput). When the presentation is r's
// verified SD-JWT followed by a KB-JWT and lim are the limits Verify parsed
// it under, that part was checked then: only the size of the whole and the
// KB-JWT's syntax are left to check, which are the only checks of
// ParseCompact that could fail, in its order. The Compact then holds only
// the KB-JWT, all that verifyKeyBinding reads.
func keyBindingPart(presentation string, r *Result, lim Limits) (*Compact, string, error) {
	if r != nil && r.verified != "" && r.verifiedLim == lim && strings.HasPrefix(presentation, r.verified) {
		kb := presentation[len(r.verified):]
		if !strings.Contains(kb, "~") {
			if len(presentation) > lim.MaxSize {
				return nil, "", fmt.Errorf("%w: SD-JWT of %d bytes, limit %d", ErrTooLarge, len(presentation), lim.MaxSize)
			}
			if kb != "" {
				if err := checkJWTSyntax(kb); err != nil {
					return nil, "", fmt.Errorf("key binding JWT: %w", err)
				}
			}
			return &Compact{KeyBindingJWT: kb}, r.verified, nil
		}
	}
	c, err := ParseCompact(presentation, lim)
	if err != nil {
		return nil, "", err
	}
	return c, sdHashInput(presentation, c), nil
}
