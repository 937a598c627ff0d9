package sdjwt

import "errors"

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
	c, err := ParseCompact(presentation, lim)
	if err != nil {
		return nil, err
	}
	if r == nil || r.verified == "" || r.verified != c.SDHashInput() {
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
	kb, err := verifyKeyBinding(c, r, opts, lim, now, skew, maxAge)
	if err != nil {
		return nil, err // as Verify reports it
	}
	r.KeyBinding = kb
	return kb, nil
}
