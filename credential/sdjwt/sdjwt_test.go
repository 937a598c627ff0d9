package sdjwt

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

var testNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return testNow }

func genKey(t testing.TB, typ keys.KeyType) keys.Signer {
	t.Helper()
	k, err := software.Generate(typ)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// didKey returns the did:key of a signer and the DID URL of its method.
func didKey(t testing.TB, s keys.Signer) (did, kid string) {
	t.Helper()
	did, err := didmethods.CreateKey(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return did, did + "#" + strings.TrimPrefix(did, "did:key:")
}

func TestRFCDisclosures(t *testing.T) {
	// RFC 9901 §5.1: the given_name disclosure and its digest, and an
	// array element.
	for _, tc := range []struct {
		salt, name string
		value      any
		arr        bool
		encoded    string
		digest     string
	}{
		{"2GLC42sKQveCfGfryNRN9w", "given_name", "John", false,
			"WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd", "jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4"},
		{"lklxF5jMYlGTPUovMNIvCA", "", "US", true,
			"WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0", "pFndjkZ_VCzmyTa6UjlZo3dh-ko8aIKQc9DlGzhaVYo"},
	} {
		var name *string
		if !tc.arr {
			name = &tc.name
		}
		d, err := newDisclosure(tc.salt, name, tc.value, pythonJSON)
		if err != nil {
			t.Fatal(err)
		}
		if d.Encoded != tc.encoded || d.Digest() != tc.digest {
			t.Errorf("got %s %s, want %s %s", d.Encoded, d.Digest(), tc.encoded, tc.digest)
		}
		back, err := DecodeDisclosure(tc.encoded)
		if err != nil || back.Salt != tc.salt || back.Name != tc.name || back.IsArrayElement != tc.arr || back.Value != tc.value {
			t.Errorf("decode %s: %+v %v", tc.encoded, back, err)
		}
	}
	// Go's own encoding (no spaces) gives another, equally valid string.
	d, _ := NewDisclosure("2GLC42sKQveCfGfryNRN9w", "given_name", "John")
	if got, _ := b64.DecodeString(d.Encoded); string(got) != `["2GLC42sKQveCfGfryNRN9w","given_name","John"]` {
		t.Errorf("compact disclosure %s", got)
	}
}

func agentClaims() map[string]any {
	return map[string]any{
		"sub":       "did:key:zAgent",
		"name":      "invoice-bot",
		"operator":  "did:web:issuer.example.com:orgs:acme",
		"software":  map[string]any{"name": "invoice-bot", "version": "1.4.2"},
		"scopes":    []any{"invoices:read", "invoices:pay", "payees:read"},
		"assurance": "hardware",
	}
}

func TestRoundTripDIDKey(t *testing.T) {
	ctx := context.Background()
	reg := didmethods.NewDefaultRegistry()
	holder := genKey(t, keys.P256)
	for _, typ := range []keys.KeyType{keys.Ed25519, keys.P256, keys.P384} {
		t.Run(string(typ), func(t *testing.T) {
			issuer := genKey(t, typ)
			did, kid := didKey(t, issuer)
			issued, err := IssueVC(ctx, issuer, VC{
				Issuer: did, KeyID: kid, Type: "https://agentid.dev/vct/agent-identity/v1",
				Claims: agentClaims(), HolderKey: holder.Public(),
				Status:   map[string]any{"status_list": map[string]any{"idx": 7, "uri": "https://issuer.example.com/status/1"}},
				IssuedAt: testNow.Add(-time.Hour), Expiry: testNow.Add(24 * time.Hour), NotBefore: testNow.Add(-time.Hour),
			}, IssueOptions{
				Disclose: []string{"/name", "/software", "/software/version", "/scopes/0", "/scopes/1", "/operator", "/sub"},
				Decoys:   2,
			})
			if err != nil {
				t.Fatal(err)
			}
			paths, err := DisclosurePaths(issued, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			wantPaths := []string{"/name", "/operator", "/scopes/0", "/scopes/1", "/software", "/software/version", "/sub"}
			if !reflect.DeepEqual(paths, wantPaths) {
				t.Errorf("paths %v", paths)
			}
			pres, err := Present(ctx, issued, PresentOptions{
				Disclose:   []string{"/software/version", "/scopes/1"},
				KeyBinding: &KeyBinding{Signer: holder, Audience: "https://erp.example.com", Nonce: "c-123", IssuedAt: testNow},
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Verify(ctx, pres, VerifyOptions{
				Resolver: reg, VC: true, RequireKeyBinding: true,
				Audience: "https://erp.example.com", Nonce: "c-123", Now: clock,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Disclosed, []string{"/scopes/1", "/software", "/software/version"}) {
				t.Errorf("disclosed %v", res.Disclosed)
			}
			for _, absent := range []string{"name", "operator", "sub", "_sd", "_sd_alg"} {
				if _, ok := res.Claims[absent]; ok {
					t.Errorf("%s disclosed", absent)
				}
			}
			if sw := res.Claims["software"].(map[string]any); sw["version"] != "1.4.2" || sw["name"] != "invoice-bot" || len(sw) != 2 {
				t.Errorf("software %v", sw)
			}
			if sc := res.Claims["scopes"].([]any); len(sc) != 2 || sc[0] != "invoices:pay" || sc[1] != "payees:read" {
				t.Errorf("scopes %v", sc)
			}
			if res.Issuer != did || res.KeyID != kid || res.Type != "https://agentid.dev/vct/agent-identity/v1" || res.Header["typ"] != TypeVC {
				t.Errorf("result %+v", res)
			}
			if res.Status["status_list"] == nil || !res.Expiry.Equal(testNow.Add(24*time.Hour)) {
				t.Errorf("status %v exp %v", res.Status, res.Expiry)
			}
			if hk, _ := keys.PublicJWK(holder.Public()); res.HolderJWK == nil || res.HolderJWK.X != hk.X {
				t.Errorf("holder key %v", res.HolderJWK)
			}
			if res.KeyBinding == nil || res.KeyBinding.Nonce != "c-123" {
				t.Errorf("kb %+v", res.KeyBinding)
			}
			// Everything disclosed by default.
			all, err := IssueVC(ctx, issuer, VC{Issuer: did, KeyID: kid, Type: "urn:t", Claims: agentClaims()}, IssueOptions{Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			if p, _ := DisclosurePaths(all, Limits{}); len(p) != len(agentClaims()) {
				t.Errorf("default disclosures %v", p)
			}
			res, err = Verify(ctx, all, VerifyOptions{Resolver: reg, VC: true, Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Claims["software"], map[string]any{"name": "invoice-bot", "version": "1.4.2"}) {
				t.Errorf("claims %v", res.Claims)
			}
		})
	}
}

// fixture signs arbitrary SD-JWTs with one P-256 issuer key.
type fixture struct {
	t      *testing.T
	issuer keys.Signer
	holder keys.Signer
}

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, issuer: genKey(t, keys.P256), holder: genKey(t, keys.P256)}
}

func (f *fixture) jwt(header, payload map[string]any) string {
	f.t.Helper()
	if header == nil {
		header = map[string]any{"typ": TypeVC}
	}
	s, err := signJWT(context.Background(), f.issuer, header, payload, encodeJSON)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) sdjwt(payload map[string]any, disclosures ...string) string {
	f.t.Helper()
	return (&Compact{IssuerJWT: f.jwt(nil, payload), Disclosures: disclosures}).String()
}

func (f *fixture) opts() VerifyOptions {
	return VerifyOptions{IssuerKeys: StaticIssuerKey(f.issuer.Public()), Now: clock}
}

func disc(t *testing.T, json string) (string, string) {
	enc := b64.EncodeToString([]byte(json))
	return enc, Digest(enc)
}

func TestVerifyRejectsDisclosureErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	gn, gnD := disc(t, `["salt1","given_name","John"]`)
	us, usD := disc(t, `["salt2","US"]`)
	sdName, sdNameD := disc(t, `["salt3","_sd",["x"]]`)
	dots, dotsD := disc(t, `["salt4","...","x"]`)
	four, fourD := disc(t, `["salt5","a","b","c"]`)
	one, oneD := disc(t, `["salt6"]`)
	numSalt, numSaltD := disc(t, `[6,"a","b"]`)
	numName, numNameD := disc(t, `["salt7",7,"b"]`)
	notArr, notArrD := disc(t, `{"salt":"x"}`)
	vct, vctD := disc(t, `["salt8","vct","urn:x"]`)
	dupKey, dupKeyD := disc(t, `["salt9","a",{"b":1,"b":2}]`)

	for _, tc := range []struct {
		name    string
		payload map[string]any
		discl   []string
		opts    func(*VerifyOptions)
		want    error
	}{
		{"ok", map[string]any{"_sd": []any{gnD}, "nat": []any{map[string]any{"...": usD}}}, []string{gn, us}, nil, nil},
		{"duplicate digest in _sd", map[string]any{"_sd": []any{gnD, gnD}}, []string{gn}, nil, ErrDuplicateDigest},
		{"duplicate digest across _sd and array", map[string]any{"_sd": []any{usD}, "nat": []any{map[string]any{"...": usD}}}, nil, nil, ErrDuplicateDigest},
		{"duplicate undisclosed digest", map[string]any{"_sd": []any{"AAAA", "AAAA"}}, nil, nil, ErrDuplicateDigest},
		{"disclosure presented twice", map[string]any{"_sd": []any{gnD}}, []string{gn, gn}, nil, ErrDuplicateDigest},
		{"unreferenced disclosure", map[string]any{"_sd": []any{gnD}}, []string{gn, us}, nil, ErrUnreferencedDisclosure},
		{"unsupported _sd_alg", map[string]any{"_sd": []any{gnD}, "_sd_alg": "sha-512"}, []string{gn}, nil, ErrUnsupportedHashAlgorithm},
		{"_sd_alg not a string", map[string]any{"_sd_alg": 1}, nil, nil, ErrUnsupportedHashAlgorithm},
		{"reserved name _sd", map[string]any{"_sd": []any{sdNameD}}, []string{sdName}, nil, ErrReservedClaimName},
		{"reserved name ...", map[string]any{"_sd": []any{dotsD}}, []string{dots}, nil, ErrReservedClaimName},
		{"overwrites existing claim", map[string]any{"given_name": "Eve", "_sd": []any{gnD}}, []string{gn}, nil, ErrClaimExists},
		{"four-element disclosure", map[string]any{"_sd": []any{fourD}}, []string{four}, nil, ErrInvalidDisclosure},
		{"one-element disclosure", map[string]any{"_sd": []any{oneD}}, []string{one}, nil, ErrInvalidDisclosure},
		{"non-string salt", map[string]any{"_sd": []any{numSaltD}}, []string{numSalt}, nil, ErrInvalidDisclosure},
		{"non-string name", map[string]any{"_sd": []any{numNameD}}, []string{numName}, nil, ErrInvalidDisclosure},
		{"disclosure not an array", map[string]any{"_sd": []any{notArrD}}, []string{notArr}, nil, ErrInvalidDisclosure},
		{"disclosure with duplicate member", map[string]any{"_sd": []any{dupKeyD}}, []string{dupKey}, nil, ErrInvalidDisclosure},
		{"array disclosure in _sd", map[string]any{"_sd": []any{usD}}, []string{us}, nil, ErrInvalidDisclosure},
		{"object disclosure in array", map[string]any{"nat": []any{map[string]any{"...": gnD}}}, []string{gn}, nil, ErrInvalidDisclosure},
		{"_sd not an array", map[string]any{"_sd": gnD}, []string{gn}, nil, ErrInvalidSDArray},
		{"_sd with a number", map[string]any{"_sd": []any{gnD, 1}}, []string{gn}, nil, ErrInvalidSDArray},
		{"... with extra member", map[string]any{"nat": []any{map[string]any{"...": usD, "x": 1}}}, []string{us}, nil, ErrInvalidArrayDigest},
		{"... not a string", map[string]any{"nat": []any{map[string]any{"...": 1}}}, nil, nil, ErrInvalidArrayDigest},
		{"VC: vct disclosed", map[string]any{"iss": "did:x", "_sd": []any{vctD}}, []string{vct},
			func(o *VerifyOptions) { o.VC = true }, ErrNonDisclosableClaim},
		{"not base64url", map[string]any{}, []string{"WyJ!"}, nil, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := f.opts()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			_, err := Verify(ctx, f.sdjwt(tc.payload, tc.discl...), opts)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyRejectsIssuerJWTErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	reg := didmethods.NewDefaultRegistry()
	did, kid := didKey(t, f.issuer)
	otherKey := genKey(t, keys.P256)
	otherDID, otherKid := didKey(t, otherKey)
	base := map[string]any{"iss": did, "vct": "urn:t", "iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix()}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range base {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	vcHeader := map[string]any{"typ": TypeVC, "kid": kid}
	good := f.jwt(vcHeader, base) + "~"
	segs := strings.Split(strings.TrimSuffix(good, "~"), ".")
	tamperedPayload := b64.EncodeToString([]byte(`{"iss":"` + did + `","vct":"urn:evil"}`))
	hdr := func(h string) string { return b64.EncodeToString([]byte(h)) }
	hs256 := hdr(`{"alg":"HS256","typ":"dc+sd-jwt","kid":"`+kid+`"}`) + "." + segs[1] + "." + b64.EncodeToString(make([]byte, 32)) + "~"
	none := hdr(`{"alg":"none","typ":"dc+sd-jwt","kid":"`+kid+`"}`) + "." + segs[1] + ".AA~"
	noneEmpty := hdr(`{"alg":"none","typ":"dc+sd-jwt","kid":"`+kid+`"}`) + "." + segs[1] + ".~"

	// A DID document that lists the key only under authentication.
	authOnly := didmethods.ResolverFunc(func(ctx context.Context, d string, o didmethods.ResolveOptions) (*didmethods.Resolution, error) {
		res, err := reg.Resolve(ctx, d, o)
		if err != nil {
			return nil, err
		}
		res.Document.AssertionMethod = nil
		return res, nil
	})

	for _, tc := range []struct {
		name string
		in   string
		opts func(*VerifyOptions)
		want error
	}{
		{"ok", good, nil, nil},
		{"legacy typ vc+sd-jwt", f.jwt(map[string]any{"typ": TypeVCLegacy, "kid": kid}, base) + "~", nil, nil},
		{"tampered payload", segs[0] + "." + tamperedPayload + "." + segs[2] + "~", nil, ErrInvalidSignature},
		{"tampered signature", segs[0] + "." + segs[1] + "." + b64.EncodeToString(make([]byte, 64)) + "~", nil, ErrInvalidSignature},
		{"wrong key", good, func(o *VerifyOptions) { o.Resolver = nil; o.IssuerKeys = StaticIssuerKey(otherKey.Public()) }, ErrInvalidSignature},
		{"wrong key type", good, func(o *VerifyOptions) {
			o.Resolver = nil
			o.IssuerKeys = StaticIssuerKey(ed25519.PublicKey(make([]byte, 32)))
		}, ErrInvalidSignature},
		{"alg none", none, nil, ErrUnsupportedAlgorithm},
		{"alg none, empty signature", noneEmpty, nil, ErrMalformed},
		{"HS256", hs256, nil, ErrUnsupportedAlgorithm},
		{"kid of another DID", f.jwt(map[string]any{"typ": TypeVC, "kid": otherKid}, base) + "~", nil, ErrKeyIDMismatch},
		{"iss of another DID", f.jwt(vcHeader, with("iss", otherDID)) + "~", nil, ErrKeyIDMismatch},
		{"kid missing", f.jwt(map[string]any{"typ": TypeVC}, base) + "~", nil, ErrIssuerKey},
		{"unknown method", f.jwt(map[string]any{"typ": TypeVC, "kid": did + "#nope"}, base) + "~", nil, ErrIssuerKey},
		{"iss not a DID", f.jwt(vcHeader, with("iss", "https://issuer.example.com")) + "~", nil, ErrIssuerKey},
		{"not assertionMethod", good, func(o *VerifyOptions) { o.Resolver = authOnly }, ErrKeyNotAuthorized},
		{"expired", f.jwt(vcHeader, with("exp", testNow.Add(-2*time.Minute).Unix())) + "~", nil, ErrExpired},
		{"expired within skew", f.jwt(vcHeader, with("exp", testNow.Add(-30*time.Second).Unix())) + "~", nil, nil},
		{"not yet valid", f.jwt(vcHeader, with("nbf", testNow.Add(2*time.Minute).Unix())) + "~", nil, ErrNotYetValid},
		{"issued in the future", f.jwt(vcHeader, with("iat", testNow.Add(2*time.Minute).Unix())) + "~", nil, ErrIssuedInFuture},
		{"exp not a number", f.jwt(vcHeader, with("exp", "tomorrow")) + "~", nil, ErrMissingClaim},
		{"typ wrong", f.jwt(map[string]any{"typ": "JWT", "kid": kid}, base) + "~", nil, ErrWrongType},
		{"typ missing", f.jwt(map[string]any{"kid": kid}, base) + "~", nil, ErrWrongType},
		{"vct missing", f.jwt(vcHeader, with("vct", nil)) + "~", nil, ErrMissingClaim},
		{"iss missing", f.jwt(vcHeader, with("iss", nil)) + "~", nil, ErrMissingClaim},
		{"crit header", f.jwt(map[string]any{"typ": TypeVC, "kid": kid, "crit": []any{"x"}}, base) + "~", nil, ErrMalformed},
		{"duplicate member", hdr(`{"alg":"ES256","alg":"ES256"}`) + "." + segs[1] + "." + segs[2] + "~", nil, ErrDuplicateJSONKey},
		{"no tilde", strings.TrimSuffix(good, "~"), nil, ErrMalformed},
		{"too large", good, func(o *VerifyOptions) { o.Limits.MaxSize = 100 }, ErrTooLarge},
		{"too many disclosures", good + strings.Repeat("AA~", 3), func(o *VerifyOptions) { o.Limits.MaxDisclosures = 2 }, ErrTooLarge},
		{"too deep", f.jwt(vcHeader, with("deep", []any{[]any{[]any{[]any{}}}})) + "~", func(o *VerifyOptions) { o.Limits.MaxDepth = 4 }, ErrTooDeep},
		{"no key source", good, func(o *VerifyOptions) { o.Resolver = nil }, ErrInvalidOptions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := VerifyOptions{Resolver: reg, VC: true, Now: clock}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			_, err := Verify(ctx, tc.in, opts)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyKeyBinding(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	reg := didmethods.NewDefaultRegistry()
	did, kid := didKey(t, f.issuer)
	issued, err := IssueVC(ctx, f.issuer, VC{Issuer: did, KeyID: kid, Type: "urn:t", Claims: agentClaims(), HolderKey: f.holder.Public()}, IssueOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	present := func(kb *KeyBinding, paths ...string) string {
		t.Helper()
		p, err := Present(ctx, issued, PresentOptions{Disclose: paths, KeyBinding: kb})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	kb := func(mod func(*KeyBinding)) *KeyBinding {
		k := &KeyBinding{Signer: f.holder, Audience: "https://rp.example", Nonce: "n1", IssuedAt: testNow}
		if mod != nil {
			mod(k)
		}
		return k
	}
	// A KB-JWT signed over arbitrary header and claims.
	custom := func(header map[string]any, claims map[string]any, signer keys.Signer) string {
		t.Helper()
		sd := present(nil, "/name")
		c, _ := ParseCompact(sd, Limits{})
		payload := map[string]any{"iat": testNow.Unix(), "aud": "https://rp.example", "nonce": "n1", "sd_hash": Digest(c.SDHashInput())}
		for k, v := range claims {
			payload[k] = v
		}
		c.KeyBindingJWT, err = signJWT(ctx, signer, header, payload, encodeJSON)
		if err != nil {
			t.Fatal(err)
		}
		return c.String()
	}
	good := present(kb(nil), "/name")
	dropped := func() string { // a disclosure removed after signing
		c, _ := ParseCompact(present(kb(nil), "/name", "/sub"), Limits{})
		c.Disclosures = c.Disclosures[:1]
		return c.String()
	}()
	noKB := present(nil, "/name")
	kbType := map[string]any{"typ": TypeKeyBinding}

	for _, tc := range []struct {
		name string
		in   string
		opts func(*VerifyOptions)
		want error
	}{
		{"ok", good, nil, nil},
		{"ok without expectations", good, func(o *VerifyOptions) { o.RequireKeyBinding, o.Audience, o.Nonce = false, "", "" }, nil},
		{"custom ok", custom(kbType, nil, f.holder), nil, nil},
		{"wrong sd_hash", custom(kbType, map[string]any{"sd_hash": Digest("other~")}, f.holder), nil, ErrKBSDHashMismatch},
		{"disclosure dropped after signing", dropped, nil, ErrKBSDHashMismatch},
		{"wrong aud", present(kb(func(k *KeyBinding) { k.Audience = "https://evil.example" }), "/name"), nil, ErrKBAudience},
		{"wrong nonce", present(kb(func(k *KeyBinding) { k.Nonce = "n2" }), "/name"), nil, ErrKBNonce},
		{"stale iat", present(kb(func(k *KeyBinding) { k.IssuedAt = testNow.Add(-10 * time.Minute) }), "/name"), nil, ErrKBStale},
		{"within window", present(kb(func(k *KeyBinding) { k.IssuedAt = testNow.Add(-5 * time.Minute) }), "/name"), nil, nil},
		{"future iat", present(kb(func(k *KeyBinding) { k.IssuedAt = testNow.Add(10 * time.Minute) }), "/name"), nil, ErrKBIssuedInFuture},
		{"signed by another key", present(kb(func(k *KeyBinding) { k.Signer = genKey(t, keys.P256) }), "/name"), nil, ErrKBInvalidSignature},
		{"signed by another key type", present(kb(func(k *KeyBinding) { k.Signer = genKey(t, keys.Ed25519) }), "/name"), nil, ErrKBInvalidSignature},
		{"wrong typ", custom(map[string]any{"typ": "JWT"}, nil, f.holder), nil, ErrKBWrongType},
		{"missing typ", custom(map[string]any{}, nil, f.holder), nil, ErrKBWrongType},
		{"aud array", custom(kbType, map[string]any{"aud": []any{"https://rp.example"}}, f.holder), nil, ErrMissingClaim},
		{"missing KB-JWT", noKB, nil, ErrKeyBindingRequired},
		{"KB-JWT not required", noKB, func(o *VerifyOptions) { o.RequireKeyBinding = false }, nil},
		{"required without audience", good, func(o *VerifyOptions) { o.Audience = "" }, ErrInvalidOptions},
		{"stale with longer window", present(kb(func(k *KeyBinding) { k.IssuedAt = testNow.Add(-10 * time.Minute) }), "/name"),
			func(o *VerifyOptions) { o.KeyBindingMaxAge = time.Hour }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := VerifyOptions{Resolver: reg, VC: true, Now: clock, RequireKeyBinding: true, Audience: "https://rp.example", Nonce: "n1"}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			_, err := Verify(ctx, tc.in, opts)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	// No cnf: a KB-JWT cannot be checked.
	plain, err := IssueVC(ctx, f.issuer, VC{Issuer: did, KeyID: kid, Type: "urn:t", Claims: agentClaims()}, IssueOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Present(ctx, plain, PresentOptions{Disclose: []string{"/name"}, KeyBinding: kb(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, p, VerifyOptions{Resolver: reg, VC: true, Now: clock}); !errors.Is(err, ErrNoHolderKey) {
		t.Fatalf("no cnf: %v", err)
	}
}

func TestIssueErrors(t *testing.T) {
	ctx := context.Background()
	s := genKey(t, keys.Ed25519)
	did, kid := didKey(t, s)
	vc := func(claims map[string]any) VC {
		return VC{Issuer: did, KeyID: kid, Type: "urn:t", Claims: claims}
	}
	for _, tc := range []struct {
		name string
		run  func() error
		want error
	}{
		{"pointer to iss", func() error {
			_, err := IssueVC(ctx, s, vc(agentClaims()), IssueOptions{Disclose: []string{"/iss"}})
			return err
		}, ErrNonDisclosableClaim},
		{"iss in claims", func() error { _, err := IssueVC(ctx, s, vc(map[string]any{"iss": "x"}), IssueOptions{}); return err }, ErrReservedClaim},
		{"_sd in claims", func() error {
			_, err := Issue(ctx, s, map[string]any{"a": map[string]any{"_sd": 1}}, IssueOptions{})
			return err
		}, ErrReservedClaim},
		{"missing claim", func() error {
			_, err := Issue(ctx, s, agentClaims(), IssueOptions{Disclose: []string{"/nope"}})
			return err
		}, ErrInvalidPointer},
		{"index out of range", func() error {
			_, err := Issue(ctx, s, agentClaims(), IssueOptions{Disclose: []string{"/scopes/3"}})
			return err
		}, ErrInvalidPointer},
		{"leading zero", func() error {
			_, err := Issue(ctx, s, agentClaims(), IssueOptions{Disclose: []string{"/scopes/01"}})
			return err
		}, ErrInvalidPointer},
		{"root pointer", func() error { _, err := Issue(ctx, s, agentClaims(), IssueOptions{Disclose: []string{""}}); return err }, ErrInvalidPointer},
		{"bad escape", func() error {
			_, err := Issue(ctx, s, agentClaims(), IssueOptions{Disclose: []string{"/a~2"}})
			return err
		}, ErrInvalidPointer},
		{"inside scalar", func() error {
			_, err := Issue(ctx, s, agentClaims(), IssueOptions{Disclose: []string{"/name/x"}})
			return err
		}, ErrInvalidPointer},
		{"present unknown path", func() error {
			iss, err := Issue(ctx, s, agentClaims(), IssueOptions{Disclose: []string{"/name"}})
			if err != nil {
				return err
			}
			_, err = Present(ctx, iss, PresentOptions{Disclose: []string{"/nope"}})
			return err
		}, ErrInvalidPointer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestIssueDeterministicAndDecoys(t *testing.T) {
	ctx := context.Background()
	s := genKey(t, keys.Ed25519)
	claims := map[string]any{"a/b": 1, "c~d": map[string]any{"e": []any{1, 2}}}
	seed := make([]byte, 64*SaltSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	opts := IssueOptions{Disclose: []string{"/a~1b", "/c~0d/e/1", "/c~0d"}, Decoys: 3}
	opts.Rand = &saltReader{append([]byte(nil), seed...)}
	one, err := Issue(ctx, s, claims, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Rand = &saltReader{append([]byte(nil), seed...)}
	two, err := Issue(ctx, s, claims, opts)
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := ParseCompact(one, Limits{})
	c2, _ := ParseCompact(two, Limits{})
	if !reflect.DeepEqual(c1.Disclosures, c2.Disclosures) || strings.Split(c1.IssuerJWT, ".")[1] != strings.Split(c2.IssuerJWT, ".")[1] {
		t.Error("same salts, different issuance")
	}
	tj, err := parseJWT(c1.IssuerJWT, Limits{}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	sd := tj.payload["_sd"].([]any)
	if len(sd) != 2+3 { // a/b, c~d, and 3 decoys
		t.Errorf("top-level _sd %v", sd)
	}
	for i := 1; i < len(sd); i++ {
		if sd[i-1].(string) >= sd[i].(string) {
			t.Errorf("_sd not sorted: %v", sd)
		}
	}
	paths, _ := DisclosurePaths(one, Limits{})
	if !reflect.DeepEqual(paths, []string{"/a~1b", "/c~0d", "/c~0d/e/1"}) {
		t.Errorf("paths %v", paths)
	}
	res, err := Verify(ctx, one, VerifyOptions{IssuerKeys: StaticIssuerKey(s.Public())})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Claims["c~d"], map[string]any{"e": []any{json1, json2}}) || res.Claims["a/b"] != json1 {
		t.Errorf("claims %v", res.Claims)
	}
}

var (
	json1 = jsonNumber("1")
	json2 = jsonNumber("2")
)

func jsonNumber(s string) json.Number { return json.Number(s) }
