package didmethods

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"

	"filippo.io/edwards25519"
	"github.com/agentid/agentid/keys"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/multiformats/go-multibase"
	"github.com/multiformats/go-varint"
)

// refuseAll is a dial check that refuses every host before any lookup.
func refuseAll(context.Context, string, net.IP) error {
	return errors.New("network is off in this test")
}

// randomKeys returns a fresh public key of every type did:key supports.
func randomKeys(t testing.TB) map[keys.KeyType]crypto.PublicKey {
	t.Helper()
	out := map[keys.KeyType]crypto.PublicKey{}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	out[keys.Ed25519] = edPub
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	out[keys.X25519] = x.PublicKey()
	for typ, curve := range map[keys.KeyType]elliptic.Curve{keys.P256: elliptic.P256(), keys.P384: elliptic.P384(), keys.P521: elliptic.P521()} {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		out[typ] = &k.PublicKey
	}
	k, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	out[keys.Secp256k1] = k.PubKey()
	return out
}

func equalKeys(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := a.(equaler); ok {
		return e.Equal(b)
	}
	if k, ok := a.(*secp256k1.PublicKey); ok {
		o, ok := b.(*secp256k1.PublicKey)
		return ok && k.IsEqual(o)
	}
	return false
}

func TestKeyRoundTrip(t *testing.T) {
	ctx := context.Background()
	formats := []string{"", FormatMultikey, FormatJsonWebKey2020, FormatEd25519VerificationKey2020, FormatX25519KeyAgreementKey2020,
		FormatEd25519VerificationKey2018, FormatX25519KeyAgreementKey2019, FormatEcdsaSecp256k1VerificationKey2019, FormatP256Key2021}
	for typ, pub := range randomKeys(t) {
		t.Run(string(typ), func(t *testing.T) {
			did, err := CreateKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			gotTyp, gotPub, err := ParseDIDKey(did)
			if err != nil || gotTyp != typ || !equalKeys(pub, gotPub) {
				t.Fatalf("ParseDIDKey(%s) = %s, %v", did, gotTyp, err)
			}
			for _, format := range formats {
				res, err := KeyResolver{}.Resolve(ctx, did, ResolveOptions{PublicKeyFormat: format})
				if format != "" && format != FormatMultikey && format != FormatJsonWebKey2020 {
					if _, ok := keyFormats[format].types[typ]; !ok {
						if ErrorCode(err) != CodeInvalidPublicKeyType {
							t.Errorf("%s for a %s key: %v, want invalidPublicKeyType", format, typ, err)
						}
						continue
					}
				}
				if err != nil {
					t.Fatalf("%s: %v", format, err)
				}
				doc := res.Document
				if doc.ID != did || len(doc.VerificationMethod) == 0 {
					t.Fatalf("%s: document %+v", format, doc)
				}
				vm := doc.VerificationMethod[0]
				if vm.ID != did+"#"+strings.TrimPrefix(did, "did:key:") || vm.Controller != did {
					t.Errorf("%s: method id %s controller %s", format, vm.ID, vm.Controller)
				}
				back, err := vm.PublicKey()
				if err != nil || !equalKeys(pub, back) {
					t.Fatalf("%s: method key: %v", format, err)
				}
				if again, _ := CreateKey(back); again != did {
					t.Errorf("%s: round trip gives %s", format, again)
				}
				signing := typ != keys.X25519
				for _, rel := range []Relationship{Authentication, AssertionMethod, CapabilityInvocation, CapabilityDelegation} {
					if doc.Authorizes(rel, vm.ID) != signing {
						t.Errorf("%s: %s lists the key: %v, want %v", format, rel, !signing, signing)
					}
				}
				if !signing && !doc.Authorizes(KeyAgreement, vm.ID) {
					t.Errorf("%s: X25519 key not under keyAgreement", format)
				}
			}
		})
	}
}

func TestKeyEncryptionKeyDerivation(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	did, _ := CreateKey(pub)
	res, err := KeyResolver{}.Resolve(context.Background(), did, ResolveOptions{EnableEncryptionKeyDerivation: true})
	if err != nil {
		t.Fatal(err)
	}
	doc := res.Document
	if len(doc.VerificationMethod) != 2 || len(doc.KeyAgreement) != 1 {
		t.Fatalf("document %+v", doc)
	}
	xvm := doc.VerificationMethod[1]
	if xvm.Type != FormatMultikey || !strings.HasPrefix(xvm.PublicKeyMultibase, "z6LS") || doc.KeyAgreement[0].ID != xvm.ID {
		t.Fatalf("keyAgreement method %+v", xvm)
	}
	if doc.Authorizes(AssertionMethod, xvm.ID) || !doc.Authorizes(KeyAgreement, xvm.ID) {
		t.Error("the derived key's relationships are wrong")
	}
	xpub, err := xvm.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	// ECDH with the X25519 private key that goes with the Ed25519 seed
	// (RFC 8032 scalar) agrees with ECDH against the derived public key.
	h := sha512.Sum512(priv.Seed())
	xpriv, err := ecdh.X25519().NewPrivateKey(h[:32])
	if err != nil {
		t.Fatal(err)
	}
	if !xpriv.PublicKey().Equal(xpub) {
		t.Error("derived X25519 key does not match the Ed25519 private scalar")
	}
	// Without the option the default document has no keyAgreement.
	res, _ = KeyResolver{}.Resolve(context.Background(), did, ResolveOptions{})
	if res.Document.KeyAgreement != nil || len(res.Document.VerificationMethod) != 1 {
		t.Error("default document has a keyAgreement key")
	}
}

// multikeyDID builds "did:key:z" + base58(varint(codec) ‖ raw).
func multikeyDID(t testing.TB, header []byte, raw []byte) string {
	t.Helper()
	s, err := multibase.Encode(multibase.Base58BTC, append(append([]byte(nil), header...), raw...))
	if err != nil {
		t.Fatal(err)
	}
	return "did:key:" + s
}

func codec(c uint64) []byte { return varint.ToUvarint(c) }

// notOnCurve returns a compressed point 02‖x whose x has no y on curve.
func notOnCurve(t testing.TB, curve elliptic.Curve) []byte {
	t.Helper()
	size := (curve.Params().BitSize + 7) / 8
	for i := int64(1); i < 1000; i++ {
		raw := make([]byte, 1+size)
		raw[0] = 2
		big.NewInt(i).FillBytes(raw[1:])
		if x, _ := elliptic.UnmarshalCompressed(curve, raw); x == nil {
			return raw
		}
	}
	t.Fatal("no x off the curve found")
	return nil
}

func secp256k1NotOnCurve(t testing.TB) []byte {
	t.Helper()
	for i := byte(1); i < 255; i++ {
		raw := make([]byte, 33)
		raw[0], raw[32] = 2, i
		if _, err := secp256k1.ParsePubKey(raw); err != nil {
			return raw
		}
	}
	t.Fatal("no secp256k1 x off the curve found")
	return nil
}

func ed25519NotOnCurve(t testing.TB) []byte {
	t.Helper()
	for i := byte(2); i < 255; i++ {
		raw := make([]byte, 32)
		raw[0] = i
		if _, err := new(edwards25519.Point).SetBytes(raw); err != nil {
			return raw
		}
	}
	t.Fatal("no ed25519 encoding off the curve found")
	return nil
}

func TestKeyErrors(t *testing.T) {
	edPub := make([]byte, 32)
	edPub[0] = 1 // y = 1: the identity point, a valid encoding
	good := multikeyDID(t, codec(0xed), ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	p256 := randomKeys(t)[keys.P256]
	p256DID, _ := CreateKey(p256)
	rawP256, _ := compactKey(p256)
	uncompressed, _ := p256.(*ecdsa.PublicKey).Bytes()
	cases := []struct {
		name, did, code string
		opts            ResolveOptions
	}{
		{"empty", "", CodeInvalidDID, ResolveOptions{}},
		{"other method", "did:web:example.com", CodeInvalidDID, ResolveOptions{}},
		{"no prefix", strings.TrimPrefix(good, "did:key:"), CodeInvalidDID, ResolveOptions{}},
		{"upper-case method", "did:KEY:" + strings.TrimPrefix(good, "did:key:"), CodeInvalidDID, ResolveOptions{}},
		{"empty identifier", "did:key:", CodeInvalidDID, ResolveOptions{}},
		{"not base58btc", "did:key:abc", CodeInvalidDID, ResolveOptions{}},
		{"base58flickr prefix Z", "did:key:Z" + strings.TrimPrefix(good, "did:key:z"), CodeInvalidDID, ResolveOptions{}},
		{"base64 multibase", "did:key:m7QE", CodeInvalidDID, ResolveOptions{}},
		{"bad base58 characters", "did:key:z0OIl", CodeInvalidDID, ResolveOptions{}},
		{"only the prefix z", "did:key:z", CodeInvalidDID, ResolveOptions{}},
		{"versioned", "did:key:1:" + strings.TrimPrefix(good, "did:key:"), CodeInvalidDID, ResolveOptions{}},
		{"fragment", good + "#frag", CodeInvalidDID, ResolveOptions{}},
		{"trailing colon", good + ":", CodeInvalidDID, ResolveOptions{}},
		{"truncated varint", multikeyDID(t, []byte{0xed}, nil), CodeInvalidDID, ResolveOptions{}},
		{"non-minimal varint", multikeyDID(t, []byte{0xed, 0x81, 0x00}, edPub), CodeInvalidDID, ResolveOptions{}},
		{"too long", "did:key:z" + strings.Repeat("2", MaxDIDKeyLength), CodeInvalidDID, ResolveOptions{}},
		{"ed25519 key 31 bytes", multikeyDID(t, codec(0xed), edPub[:31]), CodeInvalidPublicKeyLength, ResolveOptions{}},
		{"ed25519 key 33 bytes", multikeyDID(t, codec(0xed), append(edPub, 0)), CodeInvalidPublicKeyLength, ResolveOptions{}},
		{"no key bytes", multikeyDID(t, codec(0xed), nil), CodeInvalidPublicKeyLength, ResolveOptions{}},
		{"p256 uncompressed", multikeyDID(t, codec(0x1200), uncompressed), CodeInvalidPublicKeyLength, ResolveOptions{}},
		{"p256 extra byte", multikeyDID(t, codec(0x1200), append(rawP256, 0)), CodeInvalidPublicKeyLength, ResolveOptions{}},
		{"x25519 31 bytes", multikeyDID(t, codec(0xec), edPub[:31]), CodeInvalidPublicKeyLength, ResolveOptions{}},
		{"codec 0x00", multikeyDID(t, codec(0x00), edPub), CodeUnsupportedPublicKeyType, ResolveOptions{}},
		{"codec ed25519-priv 0x1300", multikeyDID(t, codec(0x1300), edPub), CodeUnsupportedPublicKeyType, ResolveOptions{}},
		{"codec rsa-pub 0x1205", multikeyDID(t, codec(0x1205), edPub), CodeUnsupportedPublicKeyType, ResolveOptions{}},
		{"codec bls12_381-g2 0xeb", multikeyDID(t, codec(0xeb), edPub), CodeUnsupportedPublicKeyType, ResolveOptions{}},
		{"p256 not on curve", multikeyDID(t, codec(0x1200), notOnCurve(t, elliptic.P256())), CodeInvalidPublicKey, ResolveOptions{}},
		{"p384 not on curve", multikeyDID(t, codec(0x1201), notOnCurve(t, elliptic.P384())), CodeInvalidPublicKey, ResolveOptions{}},
		{"p521 not on curve", multikeyDID(t, codec(0x1202), notOnCurve(t, elliptic.P521())), CodeInvalidPublicKey, ResolveOptions{}},
		{"secp256k1 not on curve", multikeyDID(t, codec(0xe7), secp256k1NotOnCurve(t)), CodeInvalidPublicKey, ResolveOptions{}},
		{"ed25519 not on curve", multikeyDID(t, codec(0xed), ed25519NotOnCurve(t)), CodeInvalidPublicKey, ResolveOptions{}},
		{"unknown publicKeyFormat", good, CodeUnsupportedPublicKeyType, ResolveOptions{PublicKeyFormat: "RsaVerificationKey2018"}},
		{"format for another key type", good, CodeInvalidPublicKeyType, ResolveOptions{PublicKeyFormat: FormatEcdsaSecp256k1VerificationKey2019}},
		{"P256Key2021 for P-256 is fine, for Ed25519 not", good, CodeInvalidPublicKeyType, ResolveOptions{PublicKeyFormat: FormatP256Key2021}},
		{"Ed25519VerificationKey2018 for P-256", p256DID, CodeInvalidPublicKeyType, ResolveOptions{PublicKeyFormat: FormatEd25519VerificationKey2018}},
	}
	ctx := context.Background()
	reg := NewDefaultRegistry(WithDialCheck(refuseAll))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := KeyResolver{}.Resolve(ctx, c.did, c.opts)
			if err == nil || res != nil {
				t.Fatalf("resolved %q", c.did)
			}
			if got := ErrorCode(err); got != c.code {
				t.Errorf("code %s, want %s (%v)", got, c.code, err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Err == nil {
				t.Errorf("error %v carries no cause", err)
			}
			// The registry agrees, except that a DID of another method is
			// dispatched elsewhere.
			if strings.HasPrefix(c.did, "did:key:") {
				if _, err := reg.Resolve(ctx, c.did, c.opts); ErrorCode(err) != c.code {
					t.Errorf("registry: code %s, want %s (%v)", ErrorCode(err), c.code, err)
				}
			}
		})
	}
}

func TestCreateKeyErrors(t *testing.T) {
	if _, err := CreateKey(ed25519.PublicKey(make([]byte, 31))); !errors.Is(err, keys.ErrInvalidPublicKeyLength) {
		t.Errorf("short ed25519 key: %v", err)
	}
	x, _ := ecdh.P256().GenerateKey(rand.Reader)
	if _, err := CreateKey(x.PublicKey()); !errors.Is(err, keys.ErrUnsupportedKeyType) {
		t.Errorf("ECDH P-256 key: %v", err)
	}
	if _, err := CreateKey("not a key"); !errors.Is(err, keys.ErrUnsupportedKeyType) {
		t.Errorf("string: %v", err)
	}
}

// TestRefuseExperimentalPublicKeyTypes checks the did:key spec's
// enableExperimentalPublicKeyTypes=false: only Multikey, JsonWebKey2020 and
// Ed25519VerificationKey2020 (signature) or X25519KeyAgreementKey2020
// (encryption) methods are produced; any other type is invalidPublicKeyType.
// Without the option every format stays available.
func TestRefuseExperimentalPublicKeyTypes(t *testing.T) {
	ctx := context.Background()
	dids := map[keys.KeyType]string{}
	for typ, pub := range randomKeys(t) {
		did, err := CreateKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		dids[typ] = did
	}
	cases := []struct {
		typ    keys.KeyType
		format string
		derive bool // enableEncryptionKeyDerivation
		ok     bool
	}{
		{keys.Ed25519, FormatMultikey, true, true},
		{keys.Ed25519, FormatJsonWebKey2020, false, true},
		{keys.Ed25519, FormatEd25519VerificationKey2020, true, true}, // derived key is X25519KeyAgreementKey2020
		{keys.Ed25519, FormatX25519KeyAgreementKey2020, false, true},
		{keys.Ed25519, FormatEd25519VerificationKey2018, false, false},
		{keys.Ed25519, FormatX25519KeyAgreementKey2019, false, false},
		{keys.X25519, FormatMultikey, false, true},
		{keys.X25519, FormatX25519KeyAgreementKey2020, false, true},
		{keys.X25519, FormatEd25519VerificationKey2020, false, true},
		{keys.X25519, FormatX25519KeyAgreementKey2019, false, false},
		{keys.P256, FormatJsonWebKey2020, false, true},
		{keys.P256, FormatP256Key2021, false, false},
		{keys.Secp256k1, FormatEcdsaSecp256k1VerificationKey2019, false, false},
		{keys.Secp256k1, FormatMultikey, false, true},
	}
	for _, c := range cases {
		t.Run(string(c.typ)+"/"+c.format, func(t *testing.T) {
			opts := ResolveOptions{PublicKeyFormat: c.format, EnableEncryptionKeyDerivation: c.derive, RefuseExperimentalPublicKeyTypes: true}
			res, err := KeyResolver{}.Resolve(ctx, dids[c.typ], opts)
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				for _, vm := range res.Document.VerificationMethod {
					if vm.Type != FormatMultikey && vm.Type != FormatJsonWebKey2020 &&
						vm.Type != FormatEd25519VerificationKey2020 && vm.Type != FormatX25519KeyAgreementKey2020 {
						t.Errorf("experimental type %s produced", vm.Type)
					}
				}
			} else if ErrorCode(err) != CodeInvalidPublicKeyType || res != nil {
				t.Fatalf("got %v, %v; want invalidPublicKeyType", res, err)
			}
			// Enabled (the zero value), every format the key type has works.
			opts.RefuseExperimentalPublicKeyTypes = false
			if _, err := (KeyResolver{}).Resolve(ctx, dids[c.typ], opts); err != nil {
				t.Errorf("with experimental types enabled: %v", err)
			}
		})
	}
}

// TestDereferenceWithAnyResolver dereferences did:key URLs with a bare
// KeyResolver (no Registry), as the HTTP endpoint does with whatever
// resolver it was given.
func TestDereferenceWithAnyResolver(t *testing.T) {
	ctx := context.Background()
	did := "did:key:z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b"
	vmID := did + "#z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b"
	vm, err := Dereference(ctx, KeyResolver{}, vmID, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if vm.ID != vmID || vm.Controller != did || vm.Type != FormatMultikey || vm.Context != ContextMultikey {
		t.Errorf("dereferenced %+v", vm)
	}
	for _, c := range []struct {
		url  string
		opts ResolveOptions
		code string
	}{
		{did + "/^bar^/?query=`#z6Mk", ResolveOptions{}, CodeInvalidDIDURL},
		{did, ResolveOptions{}, CodeInvalidDIDURL},
		{"did:key:@#z6Mk", ResolveOptions{}, CodeInvalidDID},
		{did + "#nope", ResolveOptions{}, CodeNotFound},
		{vmID, ResolveOptions{PublicKeyFormat: FormatEd25519VerificationKey2018, RefuseExperimentalPublicKeyTypes: true}, CodeInvalidPublicKeyType},
	} {
		if _, err := Dereference(ctx, KeyResolver{}, c.url, c.opts); ErrorCode(err) != c.code {
			t.Errorf("Dereference(%q, %+v): %v, want %s", c.url, c.opts, err, c.code)
		}
	}
}
