package legacy

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/testvectors"
	"github.com/agentid/agentid/keys"
)

func b64json(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// makeJWT signs header and claims with k (header alg and kid default to the
// key's).
func makeJWT(t testing.TB, k testKey, header, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": string(k.signer.Algorithm()), "typ": "JWT", "kid": k.vm}
	for n, v := range header {
		if v == nil {
			delete(h, n)
		} else {
			h[n] = v
		}
	}
	input := b64json(t, h) + "." + b64json(t, claims)
	sig, err := k.signer.Sign(context.Background(), []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func vcClaims(k testKey) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": k.did,
		"sub": "did:example:subject",
		"jti": "urn:uuid:3c0d5a8e-1f2b-4c3d-9e4f-5a6b7c8d9e0f",
		"nbf": now.Add(-time.Hour).Unix(),
		"iat": now.Add(-time.Hour).Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"vc": map[string]any{
			"@context":          []any{"https://www.w3.org/2018/credentials/v1"},
			"type":              []any{"VerifiableCredential"},
			"credentialSubject": map[string]any{"degree": "BSc"},
		},
	}
}

func TestVCJWT(t *testing.T) {
	ctx := context.Background()
	for _, kt := range []keys.KeyType{keys.Ed25519, keys.P256, keys.P384} {
		t.Run(string(kt), func(t *testing.T) {
			k := newKey(t, kt)
			tok := makeJWT(t, k, nil, vcClaims(k))
			res, err := VerifyJWT(ctx, tok, JWTOptions{Resolver: registry()})
			if err != nil {
				t.Fatalf("valid: %v", err)
			}
			c := res.Credential
			if c["issuer"] != k.did || c["id"] != "urn:uuid:3c0d5a8e-1f2b-4c3d-9e4f-5a6b7c8d9e0f" ||
				c["credentialSubject"].(map[string]any)["id"] != "did:example:subject" || c["issuanceDate"] == nil || c["expirationDate"] == nil ||
				res.Format != FormatVCJWT || res.KeyID != k.vm {
				t.Fatalf("reconstructed: %+v", res)
			}
		})
	}

	k := newKey(t, keys.Ed25519)
	other := newKey(t, keys.Ed25519)
	p256 := newKey(t, keys.P256)
	mod := func(f func(c map[string]any)) map[string]any {
		c := vcClaims(k)
		f(c)
		return c
	}
	now := time.Now()
	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"expired", makeJWT(t, k, nil, mod(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), ErrExpired},
		{"nbf in the future", makeJWT(t, k, nil, mod(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })), ErrNotYetValid},
		{"alg none", b64json(t, map[string]any{"alg": "none", "kid": k.vm}) + "." + b64json(t, vcClaims(k)) + ".", ErrMalformedJWT},
		{"alg none with signature", b64json(t, map[string]any{"alg": "none", "kid": k.vm}) + "." + b64json(t, vcClaims(k)) + ".AAAA", ErrAlgorithmNotAllowed},
		{"HS256", hs256(t, k), ErrAlgorithmNotAllowed},
		{"kid of another DID", makeJWT(t, other, nil, vcClaims(k)), ErrKidNotIssuer},
		{"iss != vc.issuer", makeJWT(t, k, nil, mod(func(c map[string]any) { c["vc"].(map[string]any)["issuer"] = other.did })), ErrClaimMismatch},
		{"sub != credentialSubject.id", makeJWT(t, k, nil, mod(func(c map[string]any) {
			c["vc"].(map[string]any)["credentialSubject"].(map[string]any)["id"] = "did:example:else"
		})), ErrClaimMismatch},
		{"jti != vc.id", makeJWT(t, k, nil, mod(func(c map[string]any) { c["vc"].(map[string]any)["id"] = "urn:uuid:other" })), ErrClaimMismatch},
		{"tampered payload", tamper(makeJWT(t, k, nil, vcClaims(k))), ErrInvalidSignature},
		{"wrong key", resign(t, makeJWT(t, k, nil, vcClaims(k)), other), ErrInvalidSignature},
		{"alg does not fit the key", makeJWT(t, p256, map[string]any{"alg": "ES384"}, mod(func(c map[string]any) { c["iss"] = p256.did })), ErrKeyTypeMismatch},
		{"crit", makeJWT(t, k, map[string]any{"crit": []any{"exp"}}, vcClaims(k)), ErrUnsupportedHeader},
		{"no kid", makeJWT(t, k, map[string]any{"kid": nil}, vcClaims(k)), ErrVerificationMethod},
		{"both vc and vp", makeJWT(t, k, nil, mod(func(c map[string]any) { c["vp"] = map[string]any{} })), ErrMalformedJWT},
		{"not a JWS", "abc.def", ErrMalformedJWT},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := VerifyJWT(ctx, tc.token, JWTOptions{Resolver: registry()}); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// hs256 is a token "signed" with HMAC, using the public key as the secret
// (the classic algorithm confusion).
func hs256(t testing.TB, k testKey) string {
	input := b64json(t, map[string]any{"alg": "HS256", "kid": k.vm}) + "." + b64json(t, vcClaims(k))
	mac := hmac.New(sha256.New, []byte(k.did))
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// tamper changes the payload's degree claim, keeping the signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	b = []byte(strings.Replace(string(b), "BSc", "PhD", 1))
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

// resign replaces the signature with one by k over the same input.
func resign(t testing.TB, tok string, k testKey) string {
	i := strings.LastIndex(tok, ".")
	sig, err := k.signer.Sign(context.Background(), []byte(tok[:i]))
	if err != nil {
		t.Fatal(err)
	}
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVPJWT(t *testing.T) {
	ctx := context.Background()
	holder := newKey(t, keys.P256)
	claims := map[string]any{
		"iss":   holder.did,
		"aud":   "https://verifier.example",
		"nonce": "n-1",
		"exp":   time.Now().Add(time.Minute).Unix(),
		"vp": map[string]any{
			"@context": []any{"https://www.w3.org/2018/credentials/v1"},
			"type":     []any{"VerifiablePresentation"},
		},
	}
	tok := makeJWT(t, holder, nil, claims)
	res, err := VerifyJWT(ctx, tok, JWTOptions{Resolver: registry(), Audience: "https://verifier.example", Nonce: "n-1"})
	if err != nil || res.Presentation["holder"] != holder.did {
		t.Fatalf("vp: %v %+v", err, res)
	}
	if _, err := VerifyJWT(ctx, tok, JWTOptions{Resolver: registry(), Audience: "https://other.example"}); !errors.Is(err, ErrClaimMismatch) {
		t.Fatalf("aud: %v", err)
	}
	if _, err := VerifyJWT(ctx, tok, JWTOptions{Resolver: registry(), Nonce: "n-2"}); !errors.Is(err, ErrClaimMismatch) {
		t.Fatalf("nonce: %v", err)
	}
}

func TestVCJOSE(t *testing.T) {
	ctx := context.Background()
	k := newKey(t, keys.P256)
	c := vc20(k.did, "")
	c["@context"] = c["@context"].([]any)[:2]
	tok := makeJWT(t, k, map[string]any{"typ": "vc+jwt", "cty": "vc"}, c)
	res, err := VerifyJWT(ctx, tok, JWTOptions{Resolver: registry()})
	if err != nil || res.Format != FormatVCJOSE || res.Issuer != k.did {
		t.Fatalf("vc+jwt: %v %+v", err, res)
	}
	expired := clone(t, c)
	expired["validUntil"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if _, err := VerifyJWT(ctx, makeJWT(t, k, map[string]any{"typ": "vc+jwt"}, expired), JWTOptions{Resolver: registry()}); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired vc+jwt: %v", err)
	}
	other := newKey(t, keys.P256)
	if _, err := VerifyJWT(ctx, makeJWT(t, other, map[string]any{"typ": "vc+jwt"}, c), JWTOptions{Resolver: registry()}); !errors.Is(err, ErrKidNotIssuer) {
		t.Fatalf("other key: %v", err)
	}
}

// TestVCJOSEVectors runs the W3C vc-jose-cose-test-suite JOSE inputs. Their
// kid is a JWK thumbprint and their issuer an https URL, so none can pass the
// policy that kid be a DID URL of the issuer; each must be refused, the
// negative ones for their own reason where it comes first.
func TestVCJOSEVectors(t *testing.T) {
	want := map[string]error{
		"credential-jose-minimal.txt":            ErrVerificationMethod, // positive in the suite; kid not a DID URL
		"credential-issuer-match-signed.txt":     ErrVerificationMethod, // likewise
		"credential-jose-bad-signature.txt":      ErrVerificationMethod,
		"credential-jose-bad-media-type.txt":     ErrUnsupportedHeader,
		"credential-jose-unknown-extensions.txt": ErrAlgorithmNotAllowed, // ES512
		"credential-jose-vc-vp-claims.txt":       ErrMalformedJWT,
		"presentation-jose-multiple.txt":         ErrVerificationMethod,
		"presentation-jose-bad-credential.txt":   ErrVerificationMethod,
		"presentation-jose-bad-media-type.txt":   ErrUnsupportedHeader,
	}
	for name, wantErr := range want {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(testvectors.Path(t, "vc-jose-cose", name))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyJWT(context.Background(), string(b), JWTOptions{Resolver: registry()}); !errors.Is(err, wantErr) {
				t.Fatalf("got %v, want %v", err, wantErr)
			}
		})
	}
}

func TestVerifierAdapter(t *testing.T) {
	ctx := context.Background()
	k := newKey(t, keys.Ed25519)
	v := &Verifier{Resolver: registry()}
	vc, controller, err := v.VerifyJWT(ctx, makeJWT(t, k, nil, vcClaims(k)))
	if err != nil || controller != k.did || vc["issuer"] != k.did {
		t.Fatalf("VerifyJWT: %v %v %v", err, controller, vc)
	}
	doc := signLD(t, vc11(k.did, ctxEd2020), TypeEd25519Signature2020, k, signOpts{})
	cs, err := v.VerifyProofs(ctx, doc, "")
	if err != nil || len(cs) != 1 || cs[0] != k.did {
		t.Fatalf("VerifyProofs: %v %v", err, cs)
	}
}
