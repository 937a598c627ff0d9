package statuslist

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

// The draft's example status list token (examples/status_list_jwt_raw.md)
// and the example key it is signed with (src/util.py), both from
// draft-ietf-oauth-status-list-20.
const (
	draftToken = "eyJhbGciOiJFUzI1NiIsImtpZCI6IjEyIiwidHlwIjoic3RhdHVzbGlzdCtqd3QifQ.e" +
		"yJleHAiOjIyOTE3MjAxNzAsImlhdCI6MTY4NjkyMDE3MCwiaXNzIjoiaHR0cHM6Ly9le" +
		"GFtcGxlLmNvbSIsInN0YXR1c19saXN0Ijp7ImJpdHMiOjEsImxzdCI6ImVOcmJ1UmdBQ" +
		"WhjQlhRIn0sInN1YiI6Imh0dHBzOi8vZXhhbXBsZS5jb20vc3RhdHVzbGlzdHMvMSIsI" +
		"nR0bCI6NDMyMDB9.2lKUUNG503R9htu4aHAYi7vjmr3sgApbfoDvPrl65N3URUO1EYqq" +
		"Ql45Jfzd-Av4QzlKa3oVALpLwOEUOq-U_g"
	draftURI = "https://example.com/statuslists/1"
)

func draftKey(t *testing.T) crypto.PublicKey {
	t.Helper()
	pub, err := keys.JWK{Kty: "EC", Crv: "P-256",
		X: "I3HWm_0Ds1dPMI-IWmf4mBmH-YaeAVbPVu7vB27CxXo",
		Y: "6N_d5Elj9bs1htgV3okJKIdbHEpkgTmAluYKJemzn1M"}.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestVerifyDraftToken(t *testing.T) {
	now := time.Unix(1686920170+3600, 0)
	v, err := VerifyToken(draftToken, VerifyOptions{Key: StaticKey(draftKey(t)), URI: draftURI, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if v.Header.Kid != "12" || v.Header.Alg != "ES256" || v.Claims.Issuer != "https://example.com" ||
		v.Claims.TTL != 43200*time.Second || v.Claims.IssuedAt.Unix() != 1686920170 || v.Claims.ExpiresAt.Unix() != 2291720170 {
		t.Fatalf("parsed %+v %+v", v.Header, v.Claims)
	}
	for i, want := range draftExamples[0].statuses {
		got, err := v.StatusOf(StatusListReference{Index: i, URI: draftURI})
		if err != nil || got != want {
			t.Errorf("status[%d] = %d, %v; want %d", i, got, err, want)
		}
	}
	if _, err := v.StatusOf(StatusListReference{Index: 16, URI: draftURI}); !errors.Is(err, ErrRange) {
		t.Errorf("index 16 of 16: %v", err)
	}
	if _, err := v.StatusOf(StatusListReference{Index: 0, URI: "https://example.com/statuslists/2"}); !errors.Is(err, ErrVerification) {
		t.Errorf("other uri: %v", err)
	}
	// Past exp (2042-08-15).
	if _, err := VerifyToken(draftToken, VerifyOptions{Key: StaticKey(draftKey(t)), URI: draftURI, Now: time.Unix(2291720170, 0)}); !errors.Is(err, ErrExpired) {
		t.Errorf("at exp: %v", err)
	}
}

func signedList(t *testing.T) (*software.Key, TokenClaims) {
	t.Helper()
	k, err := software.Generate(keys.P256)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := NewTokenList(1024, 2)
	_ = l.Set(3, StatusInvalid)
	_ = l.Set(7, StatusSuspended)
	claim, err := l.Claim()
	if err != nil {
		t.Fatal(err)
	}
	iat := time.Now().Add(-time.Minute).Truncate(time.Second)
	return k, TokenClaims{
		Subject: "https://issuer.example.com/status/tsl/1", IssuedAt: iat,
		ExpiresAt: iat.Add(time.Hour), TTL: 5 * time.Minute, StatusList: claim,
	}
}

func TestSignVerifyToken(t *testing.T) {
	for _, typ := range []keys.KeyType{keys.P256, keys.Ed25519, keys.P384} {
		t.Run(string(typ), func(t *testing.T) {
			_, claims := signedList(t)
			k, _ := software.Generate(typ)
			tok, err := SignToken(context.Background(), k, "key-1", claims)
			if err != nil {
				t.Fatal(err)
			}
			v, err := VerifyToken(tok, VerifyOptions{Key: StaticKey(k.Public()), URI: claims.Subject})
			if err != nil {
				t.Fatal(err)
			}
			if v.Header.Typ != TokenType || v.Header.Kid != "key-1" || v.Claims.TTL != 5*time.Minute ||
				!v.Claims.IssuedAt.Equal(claims.IssuedAt) || !v.Claims.ExpiresAt.Equal(claims.ExpiresAt) {
				t.Fatalf("got %+v %+v", v.Header, v.Claims)
			}
			for idx, want := range map[int]Status{0: StatusValid, 3: StatusInvalid, 7: StatusSuspended} {
				if s, err := v.StatusOf(StatusListReference{Index: idx, URI: claims.Subject}); err != nil || s != want {
					t.Errorf("idx %d: %v %v", idx, s, err)
				}
			}
			// go-jose, an independent JOSE implementation, accepts the token.
			jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(k.Algorithm())})
			if err != nil {
				t.Fatal(err)
			}
			payload, err := jws.Verify(k.Public())
			if err != nil {
				t.Fatalf("go-jose: %v", err)
			}
			var m map[string]any
			if err := json.Unmarshal(payload, &m); err != nil || m["sub"] != claims.Subject {
				t.Fatalf("go-jose payload %s", payload)
			}
		})
	}
}

// forge builds a token with the given header and payload, signed by k.
func forge(t *testing.T, k keys.Signer, header, payload map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	sig, err := k.Sign(context.Background(), []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerifyTokenRejects(t *testing.T) {
	k, claims := signedList(t)
	ctx := context.Background()
	good, err := SignToken(ctx, k, "", claims)
	if err != nil {
		t.Fatal(err)
	}
	opts := VerifyOptions{Key: StaticKey(k.Public()), URI: claims.Subject}
	other, _ := software.Generate(keys.P256)
	edKey, _ := software.Generate(keys.Ed25519)
	parts := strings.Split(good, ".")
	hdr := map[string]any{"alg": "ES256", "typ": TokenType}
	payload := func(mod func(map[string]any)) map[string]any {
		m := map[string]any{"sub": claims.Subject, "iat": claims.IssuedAt.Unix(), "exp": claims.ExpiresAt.Unix(),
			"status_list": map[string]any{"bits": 2, "lst": claims.StatusList.Lst}}
		if mod != nil {
			mod(m)
		}
		return m
	}
	tampered, _ := json.Marshal(payload(func(m map[string]any) { m["status_list"] = map[string]any{"bits": 1, "lst": "eNrbuRgAAhcBXQ"} }))
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"statuslist+jwt"}`)) + "." + parts[1] + "."

	cases := []struct {
		name  string
		token string
		opts  func(*VerifyOptions)
		want  error
	}{
		{"control", forge(t, k, hdr, payload(nil)), nil, nil},
		{"media type typ", forge(t, k, map[string]any{"alg": "ES256", "typ": "application/statuslist+jwt"}, payload(nil)), nil, nil},
		{"wrong typ", forge(t, k, map[string]any{"alg": "ES256", "typ": "JWT"}, payload(nil)), nil, ErrVerification},
		{"no typ", forge(t, k, map[string]any{"alg": "ES256"}, payload(nil)), nil, ErrVerification},
		{"alg none", unsigned, nil, ErrVerification},
		{"alg none with signature", forge(t, k, map[string]any{"alg": "none", "typ": TokenType}, payload(nil)), nil, ErrVerification},
		{"alg HS256", forge(t, k, map[string]any{"alg": "HS256", "typ": TokenType}, payload(nil)), nil, ErrVerification},
		{"alg ES384 on P-256", forge(t, k, map[string]any{"alg": "ES384", "typ": TokenType}, payload(nil)), nil, ErrVerification},
		{"crit", forge(t, k, map[string]any{"alg": "ES256", "typ": TokenType, "crit": []string{"x"}, "x": 1}, payload(nil)), nil, ErrVerification},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString(tampered) + "." + parts[2], nil, ErrVerification},
		{"tampered signature", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64)), nil, ErrVerification},
		{"wrong key", good, func(o *VerifyOptions) { o.Key = StaticKey(other.Public()) }, ErrVerification},
		{"key of another type", good, func(o *VerifyOptions) { o.Key = StaticKey(edKey.Public()) }, ErrVerification},
		{"key lookup fails", good, func(o *VerifyOptions) {
			o.Key = func(TokenHeader) (crypto.PublicKey, error) { return nil, errors.New("unknown kid") }
		}, ErrVerification},
		{"sub mismatch", good, func(o *VerifyOptions) { o.URI = "https://issuer.example.com/status/tsl/2" }, ErrVerification},
		{"expired", good, func(o *VerifyOptions) { o.Now = claims.ExpiresAt }, ErrExpired},
		{"expired within leeway", good, func(o *VerifyOptions) { o.Now = claims.ExpiresAt; o.Leeway = time.Minute }, nil},
		{"nbf in the future", forge(t, k, hdr, payload(func(m map[string]any) { m["nbf"] = time.Now().Add(time.Hour).Unix() })), nil, ErrExpired},
		{"no sub", forge(t, k, hdr, payload(func(m map[string]any) { delete(m, "sub") })), nil, ErrMalformed},
		{"no iat", forge(t, k, hdr, payload(func(m map[string]any) { delete(m, "iat") })), nil, ErrMalformed},
		{"iat as string", forge(t, k, hdr, payload(func(m map[string]any) { m["iat"] = "1686920170" })), nil, ErrMalformed},
		{"ttl zero", forge(t, k, hdr, payload(func(m map[string]any) { m["ttl"] = 0 })), nil, ErrMalformed},
		{"no status_list", forge(t, k, hdr, payload(func(m map[string]any) { delete(m, "status_list") })), nil, ErrMalformed},
		{"bits 3", forge(t, k, hdr, payload(func(m map[string]any) { m["status_list"] = map[string]any{"bits": 3, "lst": "eNrbuRgAAhcBXQ"} })), nil, ErrMalformed},
		{"bits 1.0", forge(t, k, hdr, payload(func(m map[string]any) { m["status_list"] = json.RawMessage(`{"bits":1.0,"lst":"eNrbuRgAAhcBXQ"}`) })), nil, ErrMalformed},
		{"garbage lst", forge(t, k, hdr, payload(func(m map[string]any) { m["status_list"] = map[string]any{"bits": 1, "lst": "AAAA"} })), nil, ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], nil, ErrMalformed},
		{"JWE-like five parts", good + ".a.b", nil, ErrMalformed},
		{"header not JSON", "bm90IGpzb24." + parts[1] + "." + parts[2], nil, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := opts
			if c.opts != nil {
				c.opts(&o)
			}
			_, err := VerifyToken(c.token, o)
			if c.want == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestSignTokenRejects(t *testing.T) {
	k, claims := signedList(t)
	ctx := context.Background()
	for name, mod := range map[string]func(*TokenClaims){
		"no sub":       func(c *TokenClaims) { c.Subject = "" },
		"relative sub": func(c *TokenClaims) { c.Subject = "/status/1" },
		"no iat":       func(c *TokenClaims) { c.IssuedAt = time.Time{} },
		"exp<=iat":     func(c *TokenClaims) { c.ExpiresAt = c.IssuedAt },
		"ttl 1.5s":     func(c *TokenClaims) { c.TTL = 1500 * time.Millisecond },
		"bits 3":       func(c *TokenClaims) { c.StatusList.Bits = 3 },
		"bad lst":      func(c *TokenClaims) { c.StatusList.Lst = "AAAA" },
	} {
		c := claims
		mod(&c)
		if _, err := SignToken(ctx, k, "", c); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestStatusClaim(t *testing.T) {
	var c struct {
		Status StatusClaim `json:"status"`
	}
	ok := `{"status":{"status_list":{"idx":0,"uri":"https://example.com/statuslists/1"}}}`
	if err := json.Unmarshal([]byte(ok), &c); err != nil || c.Status.Validate() != nil || c.Status.StatusList.Index != 0 {
		t.Fatalf("%v %+v", err, c)
	}
	for _, bad := range []string{
		`{"status":{"status_list":{"idx":-1,"uri":"https://example.com/s/1"}}}`,
		`{"status":{"status_list":{"idx":1.5,"uri":"https://example.com/s/1"}}}`,
		`{"status":{"status_list":{"idx":1e3,"uri":"https://example.com/s/1"}}}`,
		`{"status":{"status_list":{"idx":"1","uri":"https://example.com/s/1"}}}`,
		`{"status":{"status_list":{"uri":"https://example.com/s/1"}}}`,
		`{"status":{"status_list":{"idx":1}}}`,
		`{"status":{"status_list":{"idx":1,"uri":7}}}`,
		`{"status":{"status_list":[]}}`,
	} {
		var c struct {
			Status StatusClaim `json:"status"`
		}
		if err := json.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	for _, c := range []StatusClaim{
		{},
		{StatusList: &StatusListReference{Index: -1, URI: "https://example.com/s/1"}},
		{StatusList: &StatusListReference{Index: 1, URI: "statuslists/1"}},
	} {
		if err := c.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
