package didmethods

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/agentid/agentid/keys"
)

// The examples of the did:jwk specification (github.com/quartzjer/did-jwk).
const (
	specJWKP256   = "did:jwk:eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6ImFjYklRaXVNczNpOF91c3pFakoydHBUdFJNNEVVM3l6OTFQSDZDZEgyVjAiLCJ5IjoiX0tjeUxqOXZXTXB0bm1LdG00NkdxRHo4d2Y3NEk1TEtncmwyR3pIM25TRSJ9"
	specJWKX25519 = "did:jwk:eyJrdHkiOiJPS1AiLCJjcnYiOiJYMjU1MTkiLCJ1c2UiOiJlbmMiLCJ4IjoiM3A3YmZYdDl3YlRUVzJIQzdPUTFOei1EUThoYmVHZE5yZngtRkctSUswOCJ9"
)

func TestJWKSpecExamples(t *testing.T) {
	ctx := context.Background()
	p256 := `{
	  "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
	  "id": "` + specJWKP256 + `",
	  "verificationMethod": [{
	    "id": "` + specJWKP256 + `#0",
	    "type": "JsonWebKey2020",
	    "controller": "` + specJWKP256 + `",
	    "publicKeyJwk": {"crv": "P-256", "kty": "EC", "x": "acbIQiuMs3i8_uszEjJ2tpTtRM4EU3yz91PH6CdH2V0", "y": "_KcyLj9vWMptnmKtm46GqDz8wf74I5LKgrl2GzH3nSE"}
	  }],
	  "assertionMethod": ["` + specJWKP256 + `#0"],
	  "authentication": ["` + specJWKP256 + `#0"],
	  "capabilityInvocation": ["` + specJWKP256 + `#0"],
	  "capabilityDelegation": ["` + specJWKP256 + `#0"],
	  "keyAgreement": ["` + specJWKP256 + `#0"]
	}`
	x25519 := `{
	  "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
	  "id": "` + specJWKX25519 + `",
	  "verificationMethod": [{
	    "id": "` + specJWKX25519 + `#0",
	    "type": "JsonWebKey2020",
	    "controller": "` + specJWKX25519 + `",
	    "publicKeyJwk": {"kty": "OKP", "crv": "X25519", "use": "enc", "x": "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"}
	  }],
	  "keyAgreement": ["` + specJWKX25519 + `#0"]
	}`
	reg := NewDefaultRegistry(WithDialCheck(refuseAll))
	for did, want := range map[string]string{specJWKP256: p256, specJWKX25519: x25519} {
		res, err := reg.Resolve(ctx, did, ResolveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		assertSameJSON(t, res.Document, json.RawMessage(want))
		if _, err := res.Document.VerificationMethod[0].PublicKey(); err != nil {
			t.Error(err)
		}
	}
	// CreateJWK writes the P-256 example's JWK exactly: sorted members.
	j, pub, err := ParseDIDJWK(specJWKP256)
	if err != nil || j.Crv != "P-256" {
		t.Fatal(err)
	}
	if did, err := CreateJWK(pub); err != nil || did != specJWKP256 {
		t.Errorf("CreateJWK = %s, %v", did, err)
	}
}

func TestJWKRoundTrip(t *testing.T) {
	ctx := context.Background()
	for typ, pub := range randomKeys(t) {
		did, err := CreateJWK(pub)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		res, err := JWKResolver{}.Resolve(ctx, did, ResolveOptions{})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		doc := res.Document
		vm, ok := doc.VerificationMethodByID("#0")
		if !ok {
			t.Fatalf("%s: no #0 method", typ)
		}
		back, err := vm.PublicKey()
		if err != nil || !equalKeys(pub, back) {
			t.Fatalf("%s: method key: %v", typ, err)
		}
		if again, _ := CreateJWK(back); again != did {
			t.Errorf("%s: round trip %s", typ, again)
		}
		signing := typ != keys.X25519
		if doc.Authorizes(AssertionMethod, vm.ID) != signing || !doc.Authorizes(KeyAgreement, did+"#0") {
			t.Errorf("%s: relationships %+v", typ, doc)
		}
	}
}

func jwkDID(members string) string {
	return "did:jwk:" + base64.RawURLEncoding.EncodeToString([]byte(members))
}

func TestJWKUse(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	j, _ := keys.PublicJWK(pub)
	ctx := context.Background()
	for _, c := range []struct {
		use            string
		signing, agree bool
	}{{"sig", true, false}, {"enc", false, true}, {"", true, true}} {
		m := map[string]string{"kty": j.Kty, "crv": j.Crv, "x": j.X}
		if c.use != "" {
			m["use"] = c.use
		}
		data, _ := json.Marshal(m)
		did := jwkDID(string(data))
		res, err := JWKResolver{}.Resolve(ctx, did, ResolveOptions{})
		if err != nil {
			t.Fatalf("use %q: %v", c.use, err)
		}
		d := res.Document
		if d.Authorizes(Authentication, "#0") != c.signing || d.Authorizes(KeyAgreement, "#0") != c.agree {
			t.Errorf("use %q: authentication %v keyAgreement %v", c.use, d.Authorizes(Authentication, "#0"), d.Authorizes(KeyAgreement, "#0"))
		}
	}
}

func TestJWKErrors(t *testing.T) {
	ec, _ := randomKeys(t)[keys.P256].(*ecdsa.PublicKey)
	j, _ := keys.PublicJWK(ec)
	ed := ed25519.NewKeyFromSeed(make([]byte, 32))
	ej, _ := keys.PublicJWK(ed.Public())
	okp := func(crv, x string) string { return `{"kty":"OKP","crv":"` + crv + `","x":"` + x + `"}` }
	cases := []struct {
		name, did, code string
	}{
		{"empty", "", CodeInvalidDID},
		{"other method", "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", CodeInvalidDID},
		{"empty identifier", "did:jwk:", CodeInvalidDID},
		{"bad base64", "did:jwk:!!!", CodeInvalidDID},
		{"padded base64", jwkDID(okp("Ed25519", ej.X)) + "=", CodeInvalidDID},
		{"standard base64 alphabet", "did:jwk:" + base64.StdEncoding.EncodeToString([]byte(`{"kty":"OKP","crv":"Ed25519","x":"`+ej.X+`","kid":">>>???"}`)), CodeInvalidDID},
		{"not JSON", jwkDID("kty=OKP"), CodeInvalidDID},
		{"JSON array", jwkDID(`[]`), CodeInvalidDID},
		{"trailing data", jwkDID(okp("Ed25519", ej.X) + `{}`), CodeInvalidDID},
		{"repeated member", jwkDID(`{"kty":"OKP","crv":"Ed25519","x":"` + ej.X + `","x":"` + ej.X + `"}`), CodeInvalidDID},
		{"member not a string", jwkDID(`{"kty":"OKP","crv":"Ed25519","x":1}`), CodeInvalidDID},
		{"private key", jwkDID(`{"kty":"OKP","crv":"Ed25519","x":"` + ej.X + `","d":"` + base64.RawURLEncoding.EncodeToString(ed.Seed()) + `"}`), CodeInvalidDID},
		{"unknown use", jwkDID(`{"kty":"OKP","crv":"Ed25519","use":"wrap","x":"` + ej.X + `"}`), CodeInvalidDID},
		{"X25519 for signing", jwkDID(`{"kty":"OKP","crv":"X25519","use":"sig","x":"` + ej.X + `"}`), CodeInvalidDID},
		{"bad x encoding", jwkDID(okp("Ed25519", "***")), CodeInvalidDID},
		{"RSA", jwkDID(`{"kty":"RSA","n":"0vx7","e":"AQAB"}`), CodeUnsupportedPublicKeyType},
		{"unknown curve", jwkDID(okp("Ed448", ej.X)), CodeUnsupportedPublicKeyType},
		{"short Ed25519 key", jwkDID(okp("Ed25519", ej.X[:20])), CodeInvalidPublicKeyLength},
		{"short P-256 coordinate", jwkDID(`{"kty":"EC","crv":"P-256","x":"` + j.X[:20] + `","y":"` + j.Y + `"}`), CodeInvalidPublicKeyLength},
		{"P-256 point not on curve", jwkDID(`{"kty":"EC","crv":"P-256","x":"` + j.X + `","y":"` + j.X + `"}`), CodeInvalidPublicKey},
		{"OKP with y", jwkDID(`{"kty":"OKP","crv":"Ed25519","x":"` + ej.X + `","y":"` + ej.X + `"}`), CodeInvalidPublicKey},
		{"too long", jwkDID(`{"kty":"OKP","crv":"Ed25519","x":"` + ej.X + `","kid":"` + strings.Repeat("k", MaxDIDJWKLength) + `"}`), CodeInvalidDID},
	}
	ctx := context.Background()
	reg := NewDefaultRegistry(WithDialCheck(refuseAll))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := JWKResolver{}.Resolve(ctx, c.did, ResolveOptions{})
			if err == nil || res != nil {
				t.Fatalf("resolved %q", c.did)
			}
			if got := ErrorCode(err); got != c.code {
				t.Errorf("code %s, want %s (%v)", got, c.code, err)
			}
			if strings.HasPrefix(c.did, "did:jwk:") {
				if _, err := reg.Resolve(ctx, c.did, ResolveOptions{}); ErrorCode(err) != c.code {
					t.Errorf("registry: code %s, want %s (%v)", ErrorCode(err), c.code, err)
				}
			}
		})
	}
	var e *Error
	if _, _, err := ParseDIDJWK(jwkDID(okp("Ed25519", ej.X[:20]))); !errors.As(err, &e) || !errors.Is(err, keys.ErrInvalidPublicKeyLength) {
		t.Errorf("ParseDIDJWK error %v does not wrap the keys error", err)
	}
}
