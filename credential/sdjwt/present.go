package sdjwt

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/agentid/agentid/keys"
)

// KeyBinding are the parameters of a KB-JWT the holder appends to a
// presentation.
type KeyBinding struct {
	// Signer holds the key bound in the SD-JWT's cnf claim.
	Signer keys.Signer
	// Audience is the aud claim: the verifier.
	Audience string
	// Nonce is the nonce claim: the verifier's challenge.
	Nonce string
	// IssuedAt is the iat claim; zero means now.
	IssuedAt time.Time
}

// DisclosurePaths parses an SD-JWT as issued to the holder (without
// verifying the issuer signature) and returns the JSON Pointers of its
// selectively disclosable claims, sorted: the paths Present accepts.
func DisclosurePaths(sdjwt string, lim Limits) ([]string, error) {
	_, placed, _, err := parseForHolder(sdjwt, lim)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(placed))
	for _, p := range placed {
		paths = append(paths, p.path)
	}
	sort.Strings(paths)
	return paths, nil
}

func parseForHolder(sdjwt string, lim Limits) (*Compact, []disclosed, map[string]any, error) {
	lim = lim.withDefaults()
	c, err := ParseCompact(sdjwt, lim)
	if err != nil {
		return nil, nil, nil, err
	}
	t, err := parseJWT(c.IssuerJWT, lim)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("issuer-signed JWT: %w", err)
	}
	claims, placed, err := reconstruct(t.payload, c.Disclosures, lim, false)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, placed, claims, nil
}

// PresentOptions say what a presentation discloses.
type PresentOptions struct {
	// Disclose lists JSON Pointers of the claims to disclose. A pointer
	// selects the claim it names, the disclosures of the claims that
	// contain it (a nested claim cannot be disclosed without its
	// parents) and, unless Shallow, every disclosable claim inside it.
	// Array indexes count positions in the issued arrays. A pointer that
	// names nothing fails with ErrInvalidPointer.
	Disclose []string
	// Shallow stops a pointer from selecting the disclosable claims
	// inside the claim it names: an object then shows only its plain
	// members, an array only its plain elements.
	Shallow bool
	// KeyBinding, if not nil, appends a KB-JWT.
	KeyBinding *KeyBinding
	// Limits bound the parsed input.
	Limits Limits
}

// Present makes a presentation of an issued SD-JWT with the disclosures
// opts selects, in their issued order, and a KB-JWT when
// opts.KeyBinding is set. Any KB-JWT on the input is dropped. The issuer
// signature is not verified: the holder parses its own credential.
func Present(ctx context.Context, sdjwt string, opts PresentOptions) (string, error) {
	c, placed, claims, err := parseForHolder(sdjwt, opts.Limits)
	if err != nil {
		return "", err
	}
	kb := opts.KeyBinding
	keep := map[string]bool{}
	for _, p := range opts.Disclose {
		if _, err := parsePointer(p); err != nil {
			return "", err
		}
		found := false
		for _, pl := range placed {
			if isPathWithin(p, pl.path) || (!opts.Shallow && isPathWithin(pl.path, p)) {
				keep[pl.d.Encoded] = true
				found = true
			}
		}
		if !found && !pointerResolves(claims, p) {
			return "", fmt.Errorf("%w: %s names no claim", ErrInvalidPointer, p)
		}
	}
	out := Compact{IssuerJWT: c.IssuerJWT}
	for _, d := range c.Disclosures {
		if keep[d] {
			out.Disclosures = append(out.Disclosures, d)
		}
	}
	if kb == nil {
		return out.String(), nil
	}
	if kb.Audience == "" || kb.Nonce == "" {
		return "", fmt.Errorf("%w: key binding needs an audience and a nonce", ErrInvalidOptions)
	}
	iat := kb.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	payload := map[string]any{
		"iat":     iat.Unix(),
		"aud":     kb.Audience,
		"nonce":   kb.Nonce,
		"sd_hash": Digest(out.SDHashInput()),
	}
	out.KeyBindingJWT, err = signJWT(ctx, kb.Signer, map[string]any{"typ": TypeKeyBinding}, payload, encodeJSON)
	if err != nil {
		return "", fmt.Errorf("key binding JWT: %w", err)
	}
	return out.String(), nil
}

// pointerResolves reports whether p names a value in v.
func pointerResolves(v any, p string) bool {
	toks, err := parsePointer(p)
	if err != nil {
		return false
	}
	for _, tok := range toks {
		switch c := v.(type) {
		case map[string]any:
			e, ok := c[tok]
			if !ok {
				return false
			}
			v = e
		case []any:
			i, ok := arrayIndex(tok, len(c))
			if !ok {
				return false
			}
			v = c[i]
		default:
			return false
		}
	}
	return true
}
