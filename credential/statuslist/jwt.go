package statuslist

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentid/agentid/keys"
)

// TokenType is the JWT typ of a status list token, and (with
// "application/") its media type.
const TokenType = "statuslist+jwt"

// MediaType is the HTTP content type of a status list token.
const MediaType = "application/" + TokenType

// DefaultMaxTokenSize caps the compact serialization VerifyToken accepts.
const DefaultMaxTokenSize = 24 << 20

// TokenHeader is the protected header of a status list token.
type TokenHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
	Typ string `json:"typ"`
}

// TokenClaims are the claims of a status list token. Zero times and
// durations are absent claims.
type TokenClaims struct {
	// Subject (sub) is the URI of the status list token: what the
	// referenced tokens' status_list.uri says. Required.
	Subject string
	// Issuer (iss) is optional.
	Issuer string
	// IssuedAt (iat) is required.
	IssuedAt time.Time
	// ExpiresAt (exp) is recommended.
	ExpiresAt time.Time
	// TTL (ttl) is how long a consumer may cache the token, in whole
	// seconds; recommended.
	TTL time.Duration
	// StatusList (status_list) is the list. Required.
	StatusList StatusListClaim
}

// validate checks the claims a status list token must have.
func (c *TokenClaims) validate() error {
	if err := checkURI("sub", c.Subject); err != nil {
		return err
	}
	if c.IssuedAt.IsZero() || c.IssuedAt.Unix() < 0 {
		return fmt.Errorf("%w: iat missing", ErrMalformed)
	}
	if !c.ExpiresAt.IsZero() && !c.ExpiresAt.After(c.IssuedAt) {
		return fmt.Errorf("%w: exp not after iat", ErrMalformed)
	}
	if c.TTL < 0 {
		return fmt.Errorf("%w: ttl must be a positive number of seconds", ErrMalformed)
	}
	if err := checkBits(c.StatusList.Bits); err != nil {
		return err
	}
	if c.StatusList.Lst == "" {
		return fmt.Errorf("%w: status_list without lst", ErrMalformed)
	}
	if c.StatusList.AggregationURI != "" {
		if err := checkURI("aggregation_uri", c.StatusList.AggregationURI); err != nil {
			return err
		}
	}
	return nil
}

// checkURI requires an absolute URI (RFC 3986: a scheme).
func checkURI(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("%w: %s %q is not an absolute URI", ErrMalformed, field, s)
	}
	return nil
}

// wireClaims is the JSON form of TokenClaims (keys in a stable order).
type wireClaims struct {
	Exp        int64           `json:"exp,omitempty"`
	Iat        int64           `json:"iat"`
	Iss        string          `json:"iss,omitempty"`
	StatusList StatusListClaim `json:"status_list"`
	Sub        string          `json:"sub"`
	TTL        int64           `json:"ttl,omitempty"`
}

// SignToken makes a status list token: a JWT with typ statuslist+jwt, the
// signer's algorithm, kid if not empty, and the claims, in JWS compact
// serialization. Times are written as whole seconds (rounded down); TTL
// must be whole seconds. The list in the claims is decoded once to make sure the
// token carries a usable list.
func SignToken(ctx context.Context, signer keys.Signer, kid string, claims TokenClaims) (string, error) {
	if signer == nil {
		return "", fmt.Errorf("sign status list token: no signer")
	}
	if err := claims.validate(); err != nil {
		return "", fmt.Errorf("sign status list token: %w", err)
	}
	if claims.TTL%time.Second != 0 {
		return "", fmt.Errorf("sign status list token: %w: ttl %s is not whole seconds", ErrMalformed, claims.TTL)
	}
	if _, err := claims.StatusList.Decode(); err != nil {
		return "", fmt.Errorf("sign status list token: %w", err)
	}
	header, err := json.Marshal(TokenHeader{Alg: string(signer.Algorithm()), Kid: kid, Typ: TokenType})
	if err != nil {
		return "", fmt.Errorf("sign status list token: %w", err)
	}
	w := wireClaims{
		Iat:        claims.IssuedAt.Unix(),
		Iss:        claims.Issuer,
		StatusList: claims.StatusList,
		Sub:        claims.Subject,
		TTL:        int64(claims.TTL / time.Second),
	}
	if !claims.ExpiresAt.IsZero() {
		w.Exp = claims.ExpiresAt.Unix()
	}
	payload, err := json.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("sign status list token: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := signer.Sign(ctx, []byte(input))
	if err != nil {
		return "", fmt.Errorf("sign status list token: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// VerifyOptions says how to verify a status list token.
type VerifyOptions struct {
	// Key returns the public key that must have signed the token, given
	// its header (for a kid lookup). Required; StaticKey wraps a fixed key.
	Key func(TokenHeader) (crypto.PublicKey, error)
	// URI is the status_list.uri of the referenced token; the token's sub
	// must equal it. Required.
	URI string
	// Now is the time of the check; time.Now() when zero.
	Now time.Time
	// Leeway is the clock skew allowed on exp and nbf.
	Leeway time.Duration
	// MaxDecodedSize caps the decompressed list (DefaultMaxDecodedSize when
	// 0).
	MaxDecodedSize int
}

// StaticKey returns a VerifyOptions.Key that always answers pub.
func StaticKey(pub crypto.PublicKey) func(TokenHeader) (crypto.PublicKey, error) {
	return func(TokenHeader) (crypto.PublicKey, error) { return pub, nil }
}

// VerifiedToken is a status list token that passed VerifyToken.
type VerifiedToken struct {
	Header TokenHeader
	Claims TokenClaims
	// List is the decoded status_list.
	List *TokenList
}

// StatusOf returns the status of a referenced token: its uri must be the
// token's sub and its idx inside the list.
func (t *VerifiedToken) StatusOf(ref StatusListReference) (Status, error) {
	if err := ref.Validate(); err != nil {
		return 0, fmt.Errorf("token status: %w", err)
	}
	if ref.URI != t.Claims.Subject {
		return 0, fmt.Errorf("token status: %w: uri %q is not the token's sub %q", ErrVerification, ref.URI, t.Claims.Subject)
	}
	s, err := t.List.Get(ref.Index)
	if err != nil {
		return 0, fmt.Errorf("token status: %w", err)
	}
	return s, nil
}

// VerifyToken verifies a status list token in JWS compact serialization
// and decodes its list. It refuses (with ErrVerification unless noted):
// more or fewer than three parts, bad base64url or JSON (ErrMalformed), a
// crit header, typ other than statuslist+jwt (or its media type form
// application/statuslist+jwt, compared case-insensitively as RFC 7515
// allows), alg none or any algorithm other than the one the key signs with
// (keys.Verify enforces one algorithm per key type), a signature that does
// not verify, a sub other than opts.URI, a missing iat, an exp in the past
// or an nbf in the future (ErrExpired), a ttl that is not a positive
// number, and a status_list whose bits or lst are invalid (ErrMalformed).
func VerifyToken(token string, opts VerifyOptions) (*VerifiedToken, error) {
	if opts.Key == nil {
		return nil, fmt.Errorf("verify status list token: no key")
	}
	if opts.URI == "" {
		return nil, fmt.Errorf("verify status list token: no expected uri")
	}
	if len(token) > DefaultMaxTokenSize {
		return nil, fmt.Errorf("verify status list token: %w: %d bytes", ErrTooLarge, len(token))
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("verify status list token: %w: %d parts, want 3 (JWS compact)", ErrMalformed, len(parts))
	}
	headerJSON, err := decodeBase64URL(parts[0])
	if err != nil {
		return nil, fmt.Errorf("verify status list token: header: %w", err)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(headerJSON, &hdr); err != nil || hdr == nil {
		return nil, fmt.Errorf("verify status list token: %w: header is not a JSON object", ErrMalformed)
	}
	if _, ok := hdr["crit"]; ok {
		return nil, fmt.Errorf("verify status list token: %w: crit header not supported", ErrVerification)
	}
	var h TokenHeader
	if err := json.Unmarshal(headerJSON, &h); err != nil {
		return nil, fmt.Errorf("verify status list token: %w: header: %w", ErrMalformed, err)
	}
	if !strings.EqualFold(h.Typ, TokenType) && !strings.EqualFold(h.Typ, MediaType) {
		return nil, fmt.Errorf("verify status list token: %w: typ %q, want %q", ErrVerification, h.Typ, TokenType)
	}
	if h.Alg == "" || strings.EqualFold(h.Alg, "none") {
		return nil, fmt.Errorf("verify status list token: %w: alg %q: unsigned tokens are refused", ErrVerification, h.Alg)
	}
	sig, err := decodeBase64URL(parts[2])
	if err != nil {
		return nil, fmt.Errorf("verify status list token: signature: %w", err)
	}
	pub, err := opts.Key(h)
	if err != nil {
		return nil, fmt.Errorf("verify status list token: %w: key: %w", ErrVerification, err)
	}
	if err := keys.Verify(pub, keys.Algorithm(h.Alg), []byte(parts[0]+"."+parts[1]), sig); err != nil {
		return nil, fmt.Errorf("verify status list token: %w: %w", ErrVerification, err)
	}
	payload, err := decodeBase64URL(parts[1])
	if err != nil {
		return nil, fmt.Errorf("verify status list token: payload: %w", err)
	}
	claims, nbf, err := parseClaims(payload)
	if err != nil {
		return nil, fmt.Errorf("verify status list token: %w", err)
	}
	if claims.Subject != opts.URI {
		return nil, fmt.Errorf("verify status list token: %w: sub %q, want %q", ErrVerification, claims.Subject, opts.URI)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if !claims.ExpiresAt.IsZero() && !now.Before(claims.ExpiresAt.Add(opts.Leeway)) {
		return nil, fmt.Errorf("verify status list token: %w: expired at %s", ErrExpired, claims.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if !nbf.IsZero() && now.Add(opts.Leeway).Before(nbf) {
		return nil, fmt.Errorf("verify status list token: %w: not valid before %s", ErrExpired, nbf.UTC().Format(time.RFC3339))
	}
	var decodeOpts []Option
	if opts.MaxDecodedSize > 0 {
		decodeOpts = append(decodeOpts, WithMaxDecodedSize(opts.MaxDecodedSize))
	}
	list, err := claims.StatusList.Decode(decodeOpts...)
	if err != nil {
		return nil, fmt.Errorf("verify status list token: %w", err)
	}
	return &VerifiedToken{Header: h, Claims: claims, List: list}, nil
}

// parseClaims decodes and checks a status list token payload. NumericDate
// values may have a fraction (RFC 7519); it is dropped.
func parseClaims(payload []byte) (TokenClaims, time.Time, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil || raw == nil {
		return TokenClaims{}, time.Time{}, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	var c TokenClaims
	var nbf time.Time
	if err := unmarshalString(raw, "sub", &c.Subject, true); err != nil {
		return c, nbf, err
	}
	if err := unmarshalString(raw, "iss", &c.Issuer, false); err != nil {
		return c, nbf, err
	}
	var err error
	if c.IssuedAt, err = numericDate(raw, "iat", true); err != nil {
		return c, nbf, err
	}
	if c.ExpiresAt, err = numericDate(raw, "exp", false); err != nil {
		return c, nbf, err
	}
	if nbf, err = numericDate(raw, "nbf", false); err != nil {
		return c, nbf, err
	}
	if v, ok := raw["ttl"]; ok {
		ttl, err := jsonNumber(v)
		if err != nil || ttl <= 0 || ttl > float64(math.MaxInt64/int64(time.Second)) {
			return c, nbf, fmt.Errorf("%w: ttl must be a positive number", ErrMalformed)
		}
		c.TTL = time.Duration(ttl * float64(time.Second))
	}
	sl, ok := raw["status_list"]
	if !ok {
		return c, nbf, fmt.Errorf("%w: no status_list claim", ErrMalformed)
	}
	if err := unmarshalStatusList(sl, &c.StatusList); err != nil {
		return c, nbf, err
	}
	if err := c.validate(); err != nil {
		return c, nbf, err
	}
	return c, nbf, nil
}

func unmarshalString(raw map[string]json.RawMessage, name string, dst *string, required bool) error {
	v, ok := raw[name]
	if !ok {
		if required {
			return fmt.Errorf("%w: no %s claim", ErrMalformed, name)
		}
		return nil
	}
	if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, dst) != nil {
		return fmt.Errorf("%w: %s must be a string", ErrMalformed, name)
	}
	return nil
}

// jsonNumber parses a JSON number literal (not a string holding one).
func jsonNumber(v json.RawMessage) (float64, error) {
	s := string(bytes.TrimSpace(v))
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, fmt.Errorf("not a number")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("not a number")
	}
	return f, nil
}

// jsonInteger parses a non-negative JSON integer written with digits only
// (no sign, fraction or exponent), at most limit.
func jsonInteger(v json.RawMessage, limit int) (int, error) {
	s := string(bytes.TrimSpace(v))
	if s == "" || len(s) > 10 {
		return 0, fmt.Errorf("not an integer")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("not an integer")
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > limit || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("not an integer")
	}
	return n, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z.
const maxNumericDate = 253402300799

func numericDate(raw map[string]json.RawMessage, name string, required bool) (time.Time, error) {
	v, ok := raw[name]
	if !ok {
		if required {
			return time.Time{}, fmt.Errorf("%w: no %s claim", ErrMalformed, name)
		}
		return time.Time{}, nil
	}
	f, err := jsonNumber(v)
	if err != nil || f < 0 || f > maxNumericDate {
		return time.Time{}, fmt.Errorf("%w: %s must be a NumericDate", ErrMalformed, name)
	}
	return time.Unix(int64(f), 0).UTC(), nil
}

func unmarshalStatusList(v json.RawMessage, dst *StatusListClaim) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil || raw == nil {
		return fmt.Errorf("%w: status_list must be an object", ErrMalformed)
	}
	b, ok := raw["bits"]
	if !ok {
		return fmt.Errorf("%w: status_list without bits", ErrMalformed)
	}
	bits, err := jsonInteger(b, 8)
	if err != nil {
		return fmt.Errorf("%w: status_list bits must be 1, 2, 4 or 8", ErrMalformed)
	}
	dst.Bits = bits
	if err := unmarshalString(raw, "lst", &dst.Lst, true); err != nil {
		return fmt.Errorf("status_list: %w", err)
	}
	if err := unmarshalString(raw, "aggregation_uri", &dst.AggregationURI, false); err != nil {
		return fmt.Errorf("status_list: %w", err)
	}
	return nil
}

// StatusClaim is the status claim of a Referenced Token (a JWT or SD-JWT
// VC that points at a status list token).
type StatusClaim struct {
	// StatusList is the reference into a Token Status List.
	StatusList *StatusListReference `json:"status_list,omitempty"`
}

// Validate requires a valid status_list reference (the only status
// mechanism agentid knows).
func (c *StatusClaim) Validate() error {
	if c == nil || c.StatusList == nil {
		return fmt.Errorf("%w: status claim without status_list", ErrMalformed)
	}
	return c.StatusList.Validate()
}

// StatusListReference is the status_list member of a status claim: the
// index of the token in the list at URI.
type StatusListReference struct {
	Index int    `json:"idx"`
	URI   string `json:"uri"`
}

// UnmarshalJSON requires idx, a non-negative JSON integer, and uri, a
// string.
func (r *StatusListReference) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return fmt.Errorf("%w: status_list must be an object", ErrMalformed)
	}
	v, ok := raw["idx"]
	if !ok {
		return fmt.Errorf("%w: status_list without idx", ErrMalformed)
	}
	idx, err := jsonInteger(v, maxIndex)
	if err != nil {
		return fmt.Errorf("%w: status_list idx must be a non-negative integer, got %.20s", ErrMalformed, v)
	}
	var out StatusListReference
	out.Index = idx
	if err := unmarshalString(raw, "uri", &out.URI, true); err != nil {
		return fmt.Errorf("status_list: %w", err)
	}
	*r = out
	return nil
}

// Validate requires a non-negative idx and an absolute URI.
func (r StatusListReference) Validate() error {
	if r.Index < 0 {
		return fmt.Errorf("%w: status_list idx %d is negative", ErrMalformed, r.Index)
	}
	return checkURI("uri", r.URI)
}
