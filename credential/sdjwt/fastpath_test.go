package sdjwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
)

// jwkFromMap must give what the JSON round trip gives, or defer to it.
func TestJWKFromMapMatchesRoundTrip(t *testing.T) {
	for _, m := range []map[string]any{
		{"kty": "EC", "crv": "P-256", "x": "abc", "y": "def"},
		{"kty": "OKP", "crv": "Ed25519", "x": "abc", "kid": "k<1>&", "alg": "EdDSA", "use": "sig"},
		{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "secret"},
		{"kty": "EC", "crv": "P-256", "x": "\u2028é中", "y": ""},
		{},
	} {
		got, ok := jwkFromMap(m)
		if !ok {
			t.Fatalf("%v: not taken", m)
		}
		raw, _ := json.Marshal(m)
		var want keys.JWK
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%v: got %+v, round trip %+v", m, got, want)
		}
	}
	// Member names json.Unmarshal would match case-insensitively, members
	// it ignores, values of other types and non-objects are left to the
	// round trip.
	for _, v := range []any{
		map[string]any{"KTY": "EC", "crv": "P-256", "x": "a", "y": "b"},
		map[string]any{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "X": "c"},
		map[string]any{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "ext": true},
		map[string]any{"kty": "EC", "crv": "P-256", "x": json.Number("1"), "y": "b"},
		map[string]any{"kty": "EC", "crv": "P-256", "x": nil, "y": "b"},
		"not an object", []any{"kty"}, nil,
	} {
		if _, ok := jwkFromMap(v); ok {
			t.Fatalf("%v: taken without the round trip", v)
		}
	}
}

// issueWithCnf issues an SD-JWT VC whose cnf is the given object.
func issueWithCnf(t *testing.T, f *fixture, cnf any) string {
	t.Helper()
	payload := map[string]any{"iss": "did:example:issuer", "vct": "urn:t", "iat": testNow.Unix(), "cnf": cnf}
	return f.sdjwt(payload)
}

// The holder-key cache returns what parsing gives; a JWK that does not
// parse is not cached and fails the KB-JWT every time; a JWK one
// coordinate away from a cached one is parsed on its own.
func TestHolderKeyCache(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	j, err := keys.PublicJWK(f.holder.Public())
	if err != nil {
		t.Fatal(err)
	}
	jwkMap := map[string]any{"kty": j.Kty, "crv": j.Crv, "x": j.X, "y": j.Y}
	opts := f.opts()
	opts.VC = true
	for i := range 3 {
		r, err := Verify(ctx, issueWithCnf(t, f, map[string]any{"jwk": jwkMap}), opts)
		if err != nil {
			t.Fatal(err)
		}
		if !f.holder.Public().(*ecdsa.PublicKey).Equal(r.HolderKey) || *r.HolderJWK != j {
			t.Fatalf("call %d: holder key %v, JWK %+v", i, r.HolderKey, r.HolderJWK)
		}
		wantDID, _ := didmethods.CreateKey(f.holder.Public())
		if did, err := r.HolderDID(); err != nil || did != wantDID {
			t.Fatalf("call %d: HolderDID %q %v, want %q", i, did, err, wantDID)
		}
	}
	// Each caller owns its key.
	a, _, _ := holderKey(&j)
	b, _, _ := holderKey(&j)
	if a == b {
		t.Fatal("two callers share one *ecdsa.PublicKey")
	}

	// y of another key: not on the curve with this x.
	other, _ := keys.PublicJWK(genKey(t, keys.P256).Public())
	bad := map[string]any{"kty": j.Kty, "crv": j.Crv, "x": j.X, "y": other.Y}
	for range 2 {
		r, err := Verify(ctx, issueWithCnf(t, f, map[string]any{"jwk": bad}), opts)
		if err != nil {
			t.Fatal(err) // an unusable cnf.jwk only matters for a KB-JWT
		}
		if r.HolderKey != nil || r.holderKeyErr == nil || !errors.Is(r.holderKeyErr, ErrNoHolderKey) {
			t.Fatalf("bad cnf.jwk: key %v, error %v", r.HolderKey, r.holderKeyErr)
		}
		if _, err := r.HolderDID(); !errors.Is(err, ErrNoHolderKey) {
			t.Fatalf("HolderDID of a bad key: %v", err)
		}
		if _, cached := holderKeys.Get(jwkCoords{j.Kty, j.Crv, j.X, other.Y}); cached {
			t.Fatal("a JWK that does not parse was cached")
		}
	}

	// An Ed25519 holder: copies are independent slices.
	ed := genKey(t, keys.Ed25519)
	ej, _ := keys.PublicJWK(ed.Public())
	k1, did1, err := holderKey(&ej)
	if err != nil || did1 == "" {
		t.Fatal(err)
	}
	k1.(ed25519.PublicKey)[0] ^= 0xff
	if k2, _, _ := holderKey(&ej); !ed.Public().(ed25519.PublicKey).Equal(k2) {
		t.Fatal("a caller's change to a cached key reached the next caller")
	}
	if _, err := (&Result{}).HolderDID(); !errors.Is(err, ErrNoHolderKey) {
		t.Fatalf("HolderDID without cnf: %v", err)
	}
}

// A presentation whose KB-JWT is signed by the holder of an earlier,
// cached credential fails for a credential bound to another key.
func TestHolderKeyCacheDoesNotLeakAcrossCredentials(t *testing.T) {
	ctx := context.Background()
	reg := didmethods.NewDefaultRegistry()
	issuer := genKey(t, keys.P256)
	did, kid := didKey(t, issuer)
	h1, h2 := genKey(t, keys.P256), genKey(t, keys.P256)
	opts := VerifyOptions{Resolver: reg, VC: true, Now: clock, RequireKeyBinding: true, Audience: "https://rp", Nonce: "n"}
	present := func(holder keys.Signer, signer keys.Signer) string {
		issued, err := IssueVC(ctx, issuer, VC{Issuer: did, KeyID: kid, Type: "urn:t", Claims: agentClaims(), HolderKey: holder.Public()}, IssueOptions{Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		p, err := Present(ctx, issued, PresentOptions{KeyBinding: &KeyBinding{Signer: signer, Audience: "https://rp", Nonce: "n", IssuedAt: testNow}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := Verify(ctx, present(h1, h1), opts); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, present(h2, h1), opts); !errors.Is(err, ErrKBInvalidSignature) {
		t.Fatalf("KB-JWT by the cached holder of another credential: %v", err)
	}
	if _, err := Verify(ctx, present(h2, h2), opts); err != nil {
		t.Fatal(err)
	}
}

// Errors below the top level still name where they are, now that paths
// are built only for objects and arrays.
func TestReconstructErrorPaths(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		payload map[string]any
		want    error
		path    string
	}{
		{map[string]any{"a": map[string]any{"b": map[string]any{"_sd": "x"}}}, ErrInvalidSDArray, `"/a/b"`},
		{map[string]any{"a": []any{1, "s", map[string]any{"_sd": 5}}}, ErrInvalidSDArray, `"/a/2"`},
		{map[string]any{"a": []any{true, map[string]any{"...": 1}}}, ErrInvalidArrayDigest, `"/a/1"`},
		{map[string]any{"x/y": map[string]any{"z~": map[string]any{"_sd": []any{1}}}}, ErrInvalidSDArray, `"/x~1y/z~0"`},
	} {
		_, err := Verify(ctx, f.sdjwt(tc.payload), f.opts())
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%v: got %v, want %v at %s", tc.payload, err, tc.want, tc.path)
		}
	}
	// Scalars beside the nested claims come through unchanged.
	r, err := Verify(ctx, f.sdjwt(map[string]any{"n": 1.5, "s": "x", "b": false, "z": nil, "a": []any{1, "y", nil, map[string]any{"k": true}}}), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"n": json.Number("1.5"), "s": "x", "b": false, "z": nil, "a": []any{json.Number("1"), "y", nil, map[string]any{"k": true}}}
	if !reflect.DeepEqual(r.Claims, want) {
		t.Fatalf("claims %#v", r.Claims)
	}
}

// parseJWT trusts ParseCompact's syntax check but still fails cleanly on
// anything else.
func TestParseJWTMalformed(t *testing.T) {
	for _, s := range []string{"", "abc", "a.b", ".", "..", "a..c", "a.b.c.d", "e30.e30.", "e30.e30.!!", "e30.W10.AA"} {
		if _, err := parseJWT(s, Limits{}.withDefaults()); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// VerifyKeyBinding finds the SD-JWT's part by its length in the
// presentation: a presentation that differs anywhere before its KB-JWT is
// not the verified one.
func TestVerifyKeyBindingPrefix(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	reg := didmethods.NewDefaultRegistry()
	did, kid := didKey(t, f.issuer)
	issued, err := IssueVC(ctx, f.issuer, VC{Issuer: did, KeyID: kid, Type: "urn:t", Claims: agentClaims(), HolderKey: f.holder.Public()},
		IssueOptions{Now: clock, Disclose: []string{"/name", "/operator"}})
	if err != nil {
		t.Fatal(err)
	}
	kb := &KeyBinding{Signer: f.holder, Audience: "https://rp", Nonce: "n", IssuedAt: testNow}
	p, err := Present(ctx, issued, PresentOptions{Disclose: []string{"/name", "/operator"}, KeyBinding: kb})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ParseCompact(p, Limits{})
	opts := VerifyOptions{Resolver: reg, VC: true, Now: clock, Audience: "https://rp", Nonce: "n"}
	r, err := Verify(ctx, c.SDHashInput(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyKeyBinding(p, r, opts); err != nil {
		t.Fatal(err)
	}
	swapped := &Compact{IssuerJWT: c.IssuerJWT, Disclosures: []string{c.Disclosures[1], c.Disclosures[0]}, KeyBindingJWT: c.KeyBindingJWT}
	if _, err := VerifyKeyBinding(swapped.String(), r, opts); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("disclosures reordered: %v", err)
	}
	if _, err := VerifyKeyBinding(c.IssuerJWT+"~"+c.Disclosures[0]+"~"+c.KeyBindingJWT, r, opts); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("disclosure dropped: %v", err)
	}
	r.verified = strings.Replace(r.verified, "~", "~~", 1)
	if _, err := VerifyKeyBinding(p, r, opts); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("result of another SD-JWT: %v", err)
	}
}

// keyBindingPart's shortcut for the presentation of a verified SD-JWT
// gives what parsing the whole presentation gives, errors included.
func TestKeyBindingPartMatchesParse(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	reg := didmethods.NewDefaultRegistry()
	did, kid := didKey(t, f.issuer)
	issued, err := IssueVC(ctx, f.issuer, VC{Issuer: did, KeyID: kid, Type: "urn:t", Claims: agentClaims(), HolderKey: f.holder.Public()},
		IssueOptions{Now: clock, Disclose: []string{"/name"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Present(ctx, issued, PresentOptions{Disclose: []string{"/name"},
		KeyBinding: &KeyBinding{Signer: f.holder, Audience: "https://rp", Nonce: "n", IssuedAt: testNow}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ParseCompact(p, Limits{})
	sd := c.SDHashInput()
	r, err := Verify(ctx, sd, VerifyOptions{Resolver: reg, VC: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	lim := Limits{}.withDefaults()
	for _, tc := range []struct {
		name string
		in   string
		lim  Limits
	}{
		{"presentation", p, lim},
		{"no KB-JWT", sd, lim},
		{"KB-JWT with two segments", sd + "a.b", lim},
		{"KB-JWT not base64url", sd + "a.b.c+", lim},
		{"KB-JWT with an empty segment", sd + "a..c", lim},
		{"a further disclosure", sd + "AA~" + c.KeyBindingJWT, lim},
		{"too large", p, Limits{MaxSize: len(sd) + 5, MaxDisclosures: lim.MaxDisclosures, MaxDepth: lim.MaxDepth}},
		{"other limits", p, Limits{MaxSize: len(p), MaxDisclosures: 1, MaxDepth: 5}},
		{"other SD-JWT", strings.Replace(p, "~", "~AA~", 1), lim},
	} {
		gotC, gotSD, gotErr := keyBindingPart(tc.in, r, tc.lim)
		wantC, wantSD, wantErr := keyBindingPart(tc.in, nil, tc.lim) // ParseCompact
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Errorf("%s: error %v, ParseCompact %v", tc.name, gotErr, wantErr)
			continue
		}
		if gotErr == nil && (gotSD != wantSD || gotC.KeyBindingJWT != wantC.KeyBindingJWT) {
			t.Errorf("%s: got %q %q, ParseCompact %q %q", tc.name, gotSD, gotC.KeyBindingJWT, wantSD, wantC.KeyBindingJWT)
		}
	}
}
