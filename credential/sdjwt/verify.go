package sdjwt

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
)

// Defaults of VerifyOptions.
const (
	DefaultClockSkew        = time.Minute
	DefaultKeyBindingMaxAge = 5 * time.Minute
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// IssuerKeys finds the issuer's key. If nil, Resolver is used through
	// DIDIssuerKeys. One of the two is required.
	IssuerKeys IssuerKeyFunc
	// Resolver resolves the iss DID when IssuerKeys is nil.
	Resolver didmethods.Resolver
	// VC applies the SD-JWT VC profile: typ must be dc+sd-jwt (or the
	// legacy vc+sd-jwt), iss and vct are required strings, and iss, vct,
	// cnf, status, iat, exp and nbf must not come from disclosures.
	VC bool
	// Types, if not empty, lists the accepted typ header values of the
	// issuer-signed JWT (compared case-insensitively, "application/"
	// optional). With VC and no Types, dc+sd-jwt and vc+sd-jwt.
	Types []string
	// RequireKeyBinding fails a presentation without a KB-JWT. It needs
	// Audience and Nonce.
	RequireKeyBinding bool
	// Audience is the expected KB-JWT aud; checked when not empty.
	Audience string
	// Nonce is the expected KB-JWT nonce; checked when not empty.
	Nonce string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ClockSkew is the tolerance on exp, nbf and iat (default 1 minute;
	// negative means none).
	ClockSkew time.Duration
	// KeyBindingMaxAge is how old a KB-JWT's iat may be (default 5
	// minutes).
	KeyBindingMaxAge time.Duration
	// Limits bound the input.
	Limits Limits
}

// Result is a verified SD-JWT.
type Result struct {
	// Claims are the issuer's claims with every presented disclosure in
	// place and "_sd", "_sd_alg" and undisclosed digests removed.
	Claims map[string]any
	// Disclosed are the JSON Pointers of the claims that came from
	// disclosures, sorted. Array indexes count positions in the issued
	// array, undisclosed elements included.
	Disclosed []string
	// Header is the issuer-signed JWT's protected header.
	Header map[string]any
	// Issuer is iss, KeyID the kid header, Type vct (empty when absent).
	Issuer, KeyID, Type string
	// IssuerKey is the key that verified the issuer signature.
	IssuerKey crypto.PublicKey
	// HolderJWK and HolderKey are cnf.jwk, if present and of a key type
	// agentid supports (see keys.JWK).
	HolderJWK *keys.JWK
	HolderKey crypto.PublicKey
	// holderKeyErr says why cnf.jwk gave no HolderKey; it fails a KB-JWT.
	holderKeyErr error
	// verified is the SD-JWT (without KB-JWT) that Verify verified, and
	// verifiedLim the limits it was parsed under, for VerifyKeyBinding.
	verified    string
	verifiedLim Limits
	// IssuedAt, NotBefore and Expiry are iat, nbf and exp (zero when
	// absent).
	IssuedAt, NotBefore, Expiry time.Time
	// Status is the status claim, if present.
	Status map[string]any
	// KeyBinding describes the verified KB-JWT; nil when none was
	// presented.
	KeyBinding *KeyBindingResult
}

// KeyBindingResult is a verified KB-JWT.
type KeyBindingResult struct {
	Header   map[string]any
	Claims   map[string]any
	Audience string
	Nonce    string
	IssuedAt time.Time
	SDHash   string
}

// clock returns the time to verify at (opts.Now, or the current time) and
// the clock skew to allow (opts.ClockSkew; zero is DefaultClockSkew, a
// negative value none).
func (opts VerifyOptions) clock() (now time.Time, skew time.Duration) {
	now = time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	skew = opts.ClockSkew
	if skew == 0 {
		skew = DefaultClockSkew
	} else if skew < 0 {
		skew = 0
	}
	return now, skew
}

// Verify verifies a compact SD-JWT or SD-JWT+KB (RFC 9901 §7.1, §7.3 and,
// with opts.VC, SD-JWT VC) and returns its disclosed claims. Every failure
// wraps one of the package's Err* errors.
func Verify(ctx context.Context, sdjwt string, opts VerifyOptions) (*Result, error) {
	lim := opts.Limits.withDefaults()
	if opts.RequireKeyBinding && (opts.Audience == "" || opts.Nonce == "") {
		return nil, fmt.Errorf("%w: key binding required without expected audience and nonce", ErrInvalidOptions)
	}
	keyFunc := opts.IssuerKeys
	if keyFunc == nil {
		if opts.Resolver == nil {
			return nil, fmt.Errorf("%w: no issuer key source", ErrInvalidOptions)
		}
		keyFunc = DIDIssuerKeys(opts.Resolver)
	}
	now, skew := opts.clock()

	c, err := ParseCompact(sdjwt, lim)
	if err != nil {
		return nil, err
	}
	t, err := parseJWT(c.IssuerJWT, lim)
	if err != nil {
		return nil, fmt.Errorf("issuer-signed JWT: %w", err)
	}
	types := opts.Types
	if len(types) == 0 && opts.VC {
		types = []string{TypeVC, TypeVCLegacy}
	}
	if len(types) > 0 && !anyType(t.typ, types) {
		return nil, fmt.Errorf("%w: %q", ErrWrongType, t.typ)
	}
	r := &Result{Header: t.header}
	r.KeyID, _ = t.header["kid"].(string)
	if v, ok := t.payload["iss"]; ok {
		if r.Issuer, ok = v.(string); !ok {
			return nil, fmt.Errorf("%w: iss is not a string", ErrMissingClaim)
		}
	}
	if opts.VC && r.Issuer == "" {
		return nil, fmt.Errorf("%w: iss", ErrMissingClaim)
	}
	if r.IssuerKey, err = keyFunc(ctx, r.Issuer, r.KeyID); err != nil {
		return nil, fmt.Errorf("issuer key: %w", err)
	}
	if err := t.verify(r.IssuerKey); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}

	claims, placed, err := reconstruct(t.payload, c.Disclosures, lim, opts.VC)
	if err != nil {
		return nil, err
	}
	r.Claims = claims
	for _, p := range placed {
		r.Disclosed = append(r.Disclosed, p.path)
	}
	sort.Strings(r.Disclosed)
	if err := r.readClaims(opts.VC); err != nil {
		return nil, err
	}
	if !r.Expiry.IsZero() && now.After(r.Expiry.Add(skew)) {
		return nil, fmt.Errorf("%w: exp %s", ErrExpired, r.Expiry.UTC().Format(time.RFC3339))
	}
	if !r.NotBefore.IsZero() && now.Add(skew).Before(r.NotBefore) {
		return nil, fmt.Errorf("%w: nbf %s", ErrNotYetValid, r.NotBefore.UTC().Format(time.RFC3339))
	}
	if !r.IssuedAt.IsZero() && now.Add(skew).Before(r.IssuedAt) {
		return nil, fmt.Errorf("%w: iat %s", ErrIssuedInFuture, r.IssuedAt.UTC().Format(time.RFC3339))
	}

	r.verified, r.verifiedLim = sdHashInput(sdjwt, c), lim
	if c.KeyBindingJWT == "" {
		if opts.RequireKeyBinding {
			return nil, ErrKeyBindingRequired
		}
		return r, nil
	}
	maxAge := opts.KeyBindingMaxAge
	if maxAge <= 0 {
		maxAge = DefaultKeyBindingMaxAge
	}
	if r.KeyBinding, err = verifyKeyBinding(c, r.verified, r, opts, lim, now, skew, maxAge); err != nil {
		return nil, err
	}
	return r, nil
}

func anyType(typ string, types []string) bool {
	for _, want := range types {
		if typeIs(typ, want) {
			return true
		}
	}
	return false
}

// readClaims fills the typed fields of r from r.Claims.
func (r *Result) readClaims(vc bool) error {
	if v, ok := r.Claims["vct"]; ok {
		if r.Type, ok = v.(string); !ok {
			return fmt.Errorf("%w: vct is not a string", ErrMissingClaim)
		}
	}
	if vc && r.Type == "" {
		return fmt.Errorf("%w: vct", ErrMissingClaim)
	}
	for _, d := range [...]struct {
		name string
		dst  *time.Time
	}{{"iat", &r.IssuedAt}, {"nbf", &r.NotBefore}, {"exp", &r.Expiry}} {
		if v, ok := r.Claims[d.name]; ok {
			t, err := numericDate(v)
			if err != nil {
				return fmt.Errorf("%w: %s: %w", ErrMissingClaim, d.name, err)
			}
			*d.dst = t
		}
	}
	if v, ok := r.Claims["status"]; ok {
		if r.Status, ok = v.(map[string]any); !ok {
			return fmt.Errorf("%w: status is not an object", ErrMissingClaim)
		}
	}
	cnf, ok := r.Claims["cnf"]
	if !ok {
		return nil
	}
	m, ok := cnf.(map[string]any)
	if !ok {
		return fmt.Errorf("%w: cnf is not an object", ErrMissingClaim)
	}
	jwkVal, ok := m["jwk"]
	if !ok {
		return nil
	}
	j, ok := jwkFromMap(jwkVal)
	if !ok {
		raw, err := json.Marshal(jwkVal)
		if err != nil {
			return fmt.Errorf("%w: cnf.jwk: %v", ErrNoHolderKey, err)
		}
		// A cnf.jwk this package cannot use (an RSA key, say) only
		// matters when a KB-JWT must be checked against it.
		if err := json.Unmarshal(raw, &j); err != nil {
			r.holderKeyErr = fmt.Errorf("%w: cnf.jwk: %v", ErrNoHolderKey, err)
			return nil
		}
	}
	if j.D != "" {
		return fmt.Errorf("%w: cnf.jwk holds a private key", ErrNoHolderKey)
	}
	pub, _, err := holderKey(&j)
	if err != nil {
		r.holderKeyErr = fmt.Errorf("%w: cnf.jwk: %w", ErrNoHolderKey, err)
		return nil
	}
	r.HolderJWK, r.HolderKey = &j, pub
	return nil
}

// jwkFromMap is the keys.JWK that a JSON round trip of v into one gives,
// when that is plain to see: v is an object whose members all have a name
// of a keys.JWK field, spelled exactly, and a string value. Anything else
// (another member, which json.Unmarshal might match case-insensitively, a
// value of another type) reports false, for the round trip to decide. The
// strings of a decoded SD-JWT are valid UTF-8, which the round trip keeps
// as they are.
func jwkFromMap(v any) (j keys.JWK, ok bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return j, false
	}
	for name, val := range m {
		s, ok := val.(string)
		if !ok {
			return keys.JWK{}, false
		}
		switch name {
		case "kty":
			j.Kty = s
		case "crv":
			j.Crv = s
		case "x":
			j.X = s
		case "y":
			j.Y = s
		case "d":
			j.D = s
		case "kid":
			j.Kid = s
		case "alg":
			j.Alg = s
		case "use":
			j.Use = s
		default:
			return keys.JWK{}, false
		}
	}
	return j, true
}

// numericDate reads a JWT NumericDate (seconds since the epoch, possibly
// fractional).
func numericDate(v any) (time.Time, error) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, fmt.Errorf("not a number")
	}
	if i, err := n.Int64(); err == nil {
		if i < 0 || i > 1<<40 {
			return time.Time{}, fmt.Errorf("out of range")
		}
		return time.Unix(i, 0), nil
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<40 {
		return time.Time{}, fmt.Errorf("not a valid NumericDate")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// verifyKeyBinding checks a KB-JWT (RFC 9901 §7.3 step 5). sdInput is
// c.SDHashInput().
func verifyKeyBinding(c *Compact, sdInput string, r *Result, opts VerifyOptions, lim Limits, now time.Time, skew, maxAge time.Duration) (*KeyBindingResult, error) {
	t, err := parseJWT(c.KeyBindingJWT, lim)
	if err != nil {
		return nil, fmt.Errorf("key binding JWT: %w", err)
	}
	if !typeIs(t.typ, TypeKeyBinding) {
		return nil, fmt.Errorf("%w: %q", ErrKBWrongType, t.typ)
	}
	if r.HolderKey == nil {
		if r.holderKeyErr != nil {
			return nil, r.holderKeyErr
		}
		return nil, ErrNoHolderKey
	}
	if err := t.verify(r.HolderKey); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKBInvalidSignature, err)
	}
	kb := &KeyBindingResult{Header: t.header, Claims: t.payload}
	var ok bool
	if kb.SDHash, ok = t.payload["sd_hash"].(string); !ok {
		return nil, fmt.Errorf("%w: KB-JWT sd_hash", ErrMissingClaim)
	}
	if kb.SDHash != Digest(sdInput) {
		return nil, ErrKBSDHashMismatch
	}
	iat, ok := t.payload["iat"]
	if !ok {
		return nil, fmt.Errorf("%w: KB-JWT iat", ErrMissingClaim)
	}
	if kb.IssuedAt, err = numericDate(iat); err != nil {
		return nil, fmt.Errorf("%w: KB-JWT iat: %w", ErrMissingClaim, err)
	}
	if now.Add(skew).Before(kb.IssuedAt) {
		return nil, fmt.Errorf("%w: iat %s", ErrKBIssuedInFuture, kb.IssuedAt.UTC().Format(time.RFC3339))
	}
	if now.Sub(kb.IssuedAt) > maxAge+skew {
		return nil, fmt.Errorf("%w: iat %s", ErrKBStale, kb.IssuedAt.UTC().Format(time.RFC3339))
	}
	if kb.Nonce, ok = t.payload["nonce"].(string); !ok {
		return nil, fmt.Errorf("%w: KB-JWT nonce", ErrMissingClaim)
	}
	if opts.Nonce != "" && kb.Nonce != opts.Nonce {
		return nil, ErrKBNonce
	}
	switch aud := t.payload["aud"].(type) {
	case string:
		kb.Audience = aud
	default:
		return nil, fmt.Errorf("%w: KB-JWT aud is not a string", ErrMissingClaim)
	}
	if opts.Audience != "" && kb.Audience != opts.Audience {
		return nil, ErrKBAudience
	}
	return kb, nil
}
