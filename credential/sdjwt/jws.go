package sdjwt

import (
	"context"
	"crypto"
	"fmt"
	"strings"

	"github.com/agentid/agentid/keys"
)

// allowedAlgorithms is the JWS alg allow-list: asymmetric algorithms only,
// never "none" nor HMAC.
var allowedAlgorithms = map[keys.Algorithm]bool{
	keys.EdDSA: true,
	keys.ES256: true,
	keys.ES384: true,
	keys.ES512: true,
}

// jwt is a parsed, not yet verified, compact JWS with JSON header and
// payload.
type jwt struct {
	signingInput string
	header       map[string]any
	payload      map[string]any
	signature    []byte
	alg          keys.Algorithm
	typ          string
}

// parseJWT decodes a compact JWS and checks its alg against the allow-list.
// The signature is not verified. s is a JWT of a Compact that ParseCompact
// made, whose syntax it checked (three non-empty base64url segments), so
// it is split here without scanning it again.
func parseJWT(s string, lim Limits) (*jwt, error) {
	i := strings.IndexByte(s, '.')
	j := i + 1 + strings.IndexByte(s[i+1:], '.')
	if i < 0 || j <= i {
		return nil, fmt.Errorf("%w: JWT does not have three segments", ErrMalformed)
	}
	segs := [3]string{s[:i], s[i+1 : j], s[j+1:]}
	var err error
	// The signing input is s up to its second dot: a substring, not a copy.
	t := &jwt{signingInput: s[:len(segs[0])+1+len(segs[1])]}
	raw, err := b64.DecodeString(segs[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if err := decodeJSON(raw, lim.MaxDepth, &t.header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if t.header == nil {
		return nil, fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	alg, _ := t.header["alg"].(string)
	if !allowedAlgorithms[keys.Algorithm(alg)] {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
	}
	t.alg = keys.Algorithm(alg)
	if _, ok := t.header["crit"]; ok {
		return nil, fmt.Errorf("%w: unsupported crit header", ErrMalformed)
	}
	if v, ok := t.header["typ"]; ok {
		if t.typ, ok = v.(string); !ok {
			return nil, fmt.Errorf("%w: typ is not a string", ErrMalformed)
		}
	}
	if raw, err = b64.DecodeString(segs[1]); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	if err := decodeJSON(raw, lim.MaxDepth, &t.payload); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if t.payload == nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	if t.signature, err = b64.DecodeString(segs[2]); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	return t, nil
}

// verify checks the JWS signature with pub.
func (t *jwt) verify(pub crypto.PublicKey) error {
	return keys.Verify(pub, t.alg, []byte(t.signingInput), t.signature)
}

// typeIs reports whether the JWT's typ is want, comparing media types as
// RFC 7515 §4.1.9 says: case-insensitively, with "application/" optional.
func typeIs(typ, want string) bool {
	norm := func(s string) string {
		s = strings.ToLower(s)
		return strings.TrimPrefix(s, "application/")
	}
	return norm(typ) == norm(want)
}

// signJWT makes a compact JWS over header and payload with signer; header's
// alg is set to the signer's algorithm, which must be on the allow-list.
func signJWT(ctx context.Context, signer keys.Signer, header, payload map[string]any, enc func(any) ([]byte, error)) (string, error) {
	if signer == nil {
		return "", fmt.Errorf("%w: no signer", ErrInvalidOptions)
	}
	alg := signer.Algorithm()
	if !allowedAlgorithms[alg] {
		return "", fmt.Errorf("%w: signer algorithm %q", ErrUnsupportedAlgorithm, alg)
	}
	h := make(map[string]any, len(header)+1)
	for k, v := range header {
		h[k] = v
	}
	h["alg"] = string(alg)
	hb, err := enc(h)
	if err != nil {
		return "", fmt.Errorf("encode JWT header: %w", err)
	}
	pb, err := enc(payload)
	if err != nil {
		return "", fmt.Errorf("encode JWT payload: %w", err)
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(pb)
	sig, err := signer.Sign(ctx, []byte(input))
	if err != nil {
		return "", fmt.Errorf("sign JWT with %s: %w", signer.URI(), err)
	}
	return input + "." + b64.EncodeToString(sig), nil
}
