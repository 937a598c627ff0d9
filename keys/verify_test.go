package keys_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

// signingTypes are the key types software keys can be generated for, with
// the algorithm and the exact signature length each must produce.
var signingTypes = []struct {
	typ    keys.KeyType
	alg    keys.Algorithm
	sigLen int
}{
	{keys.Ed25519, keys.EdDSA, 64},
	{keys.P256, keys.ES256, 64},
	{keys.P384, keys.ES384, 96},
	{keys.P521, keys.ES512, 132},
}

func mustGenerate(t testing.TB, typ keys.KeyType) *software.Key {
	t.Helper()
	k, err := software.Generate(typ)
	if err != nil {
		t.Fatalf("Generate(%s): %v", typ, err)
	}
	return k
}

func TestAlgorithmFor(t *testing.T) {
	want := map[keys.KeyType]keys.Algorithm{
		keys.Ed25519:   keys.EdDSA,
		keys.P256:      keys.ES256,
		keys.P384:      keys.ES384,
		keys.P521:      keys.ES512,
		keys.Secp256k1: keys.ES256K,
	}
	for typ, alg := range want {
		got, err := keys.AlgorithmFor(typ)
		if err != nil || got != alg {
			t.Errorf("AlgorithmFor(%s) = %q, %v; want %q", typ, got, err, alg)
		}
	}
	for _, typ := range []keys.KeyType{keys.X25519, "rsa", ""} {
		if _, err := keys.AlgorithmFor(typ); !errors.Is(err, keys.ErrUnsupportedKeyType) {
			t.Errorf("AlgorithmFor(%q) error = %v; want ErrUnsupportedKeyType", typ, err)
		}
	}
}

func TestSignVerify(t *testing.T) {
	ctx := context.Background()
	msg := []byte("agentid: the message, not a digest")
	for _, tc := range signingTypes {
		t.Run(string(tc.typ), func(t *testing.T) {
			k := mustGenerate(t, tc.typ)
			if k.Algorithm() != tc.alg {
				t.Fatalf("Algorithm() = %s, want %s", k.Algorithm(), tc.alg)
			}
			sig, err := k.Sign(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) != tc.sigLen {
				t.Fatalf("signature is %d bytes, want %d", len(sig), tc.sigLen)
			}
			if err := keys.Verify(k.Public(), tc.alg, msg, sig); err != nil {
				t.Fatalf("Verify: %v", err)
			}

			tampered := append([]byte(nil), msg...)
			tampered[0] ^= 1
			if err := keys.Verify(k.Public(), tc.alg, tampered, sig); !errors.Is(err, keys.ErrInvalidSignature) {
				t.Errorf("tampered message: err = %v, want ErrInvalidSignature", err)
			}
			for _, i := range []int{0, len(sig)/2 - 1, len(sig) / 2, len(sig) - 1} {
				bad := append([]byte(nil), sig...)
				bad[i] ^= 0x40
				if err := keys.Verify(k.Public(), tc.alg, msg, bad); !errors.Is(err, keys.ErrInvalidSignature) {
					t.Errorf("signature byte %d flipped: err = %v, want ErrInvalidSignature", i, err)
				}
			}
			for _, bad := range [][]byte{nil, sig[:len(sig)-1], append(append([]byte(nil), sig...), 0)} {
				if err := keys.Verify(k.Public(), tc.alg, msg, bad); !errors.Is(err, keys.ErrInvalidSignature) {
					t.Errorf("%d-byte signature: err = %v, want ErrInvalidSignature", len(bad), err)
				}
			}

			other := mustGenerate(t, tc.typ)
			if err := keys.Verify(other.Public(), tc.alg, msg, sig); !errors.Is(err, keys.ErrInvalidSignature) {
				t.Errorf("wrong key: err = %v, want ErrInvalidSignature", err)
			}
		})
	}
}

func TestSignHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k := mustGenerate(t, keys.P256)
	if _, err := k.Sign(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sign with a cancelled context: err = %v, want context.Canceled", err)
	}
}

func TestVerifyAlgorithmMismatch(t *testing.T) {
	ctx := context.Background()
	msg := []byte("m")
	ed := mustGenerate(t, keys.Ed25519)
	p256 := mustGenerate(t, keys.P256)
	p384 := mustGenerate(t, keys.P384)
	sig256, err := p256.Sign(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		key  *software.Key
		alg  keys.Algorithm
	}{
		{"ES384 on P-256", p256, keys.ES384},
		{"ES256K on P-256", p256, keys.ES256K},
		{"EdDSA on P-256", p256, keys.EdDSA},
		{"ES256 on Ed25519", ed, keys.ES256},
		{"ES256 on P-384", p384, keys.ES256},
	}
	for _, c := range cases {
		err := keys.Verify(c.key.Public(), c.alg, msg, sig256)
		if !errors.Is(err, keys.ErrAlgorithmMismatch) {
			t.Errorf("%s: err = %v, want ErrAlgorithmMismatch", c.name, err)
		}
		if errors.Is(err, keys.ErrInvalidSignature) {
			t.Errorf("%s: a mismatch must not be reported as an invalid signature", c.name)
		}
	}
	for _, alg := range []keys.Algorithm{"none", "HS256", "RS256", ""} {
		if err := keys.Verify(p256.Public(), alg, msg, sig256); !errors.Is(err, keys.ErrUnsupportedAlgorithm) {
			t.Errorf("alg %q: err = %v, want ErrUnsupportedAlgorithm", alg, err)
		}
	}
	if err := keys.Verify("not a key", keys.ES256, msg, sig256); !errors.Is(err, keys.ErrUnsupportedKeyType) {
		t.Errorf("non-key: err = %v, want ErrUnsupportedKeyType", err)
	}
}

// TestJOSEInterop proves the signature format against an independent JOSE
// implementation: a compact JWS assembled from Signer.Sign must verify with
// go-jose, and a JWS that go-jose signs must verify with keys.Verify.
func TestJOSEInterop(t *testing.T) {
	ctx := context.Background()
	payload := []byte(`{"iss":"did:example:issuer","sub":"agent"}`)
	b64 := base64.RawURLEncoding
	for _, tc := range signingTypes {
		t.Run(string(tc.typ), func(t *testing.T) {
			k := mustGenerate(t, tc.typ)
			jwk, err := keys.SignerJWK(k)
			if err != nil {
				t.Fatal(err)
			}
			header := fmt.Sprintf(`{"alg":%q,"kid":%q}`, k.Algorithm(), jwk.Kid)
			signingInput := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(payload)
			sig, err := k.Sign(ctx, []byte(signingInput))
			if err != nil {
				t.Fatal(err)
			}
			compact := signingInput + "." + b64.EncodeToString(sig)

			jws, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(tc.alg)})
			if err != nil {
				t.Fatalf("go-jose ParseSignedCompact: %v", err)
			}
			got, err := jws.Verify(k.Public())
			if err != nil {
				t.Fatalf("go-jose rejects our %s signature: %v", tc.alg, err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("go-jose payload = %q", got)
			}
			// And go-jose must reject it under another key.
			if _, err := jws.Verify(mustGenerate(t, tc.typ).Public()); err == nil {
				t.Fatal("go-jose accepted the signature under another key")
			}

			// The other direction: go-jose signs through CryptoSigner.
			signer, err := jose.NewSigner(jose.SigningKey{
				Algorithm: jose.SignatureAlgorithm(tc.alg),
				Key:       cryptosigner.Opaque(k.CryptoSigner()),
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := signer.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := obj.CompactSerialize()
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(theirs, ".")
			theirSig, err := b64.DecodeString(parts[2])
			if err != nil {
				t.Fatal(err)
			}
			if err := keys.Verify(k.Public(), tc.alg, []byte(parts[0]+"."+parts[1]), theirSig); err != nil {
				t.Fatalf("keys.Verify rejects go-jose's %s signature: %v", tc.alg, err)
			}
		})
	}
}

// es256kSign signs with the decred implementation and returns r‖s.
func es256kSign(priv *secp256k1.PrivateKey, msg []byte) []byte {
	digest := sha256.Sum256(msg)
	sig := secpecdsa.Sign(priv, digest[:])
	r, s := sig.R(), sig.S()
	out := make([]byte, 64)
	r.PutBytesUnchecked(out[:32])
	s.PutBytesUnchecked(out[32:])
	return out
}

func TestVerifyES256K(t *testing.T) {
	priv, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.PubKey()
	msg := []byte("secp256k1 message")
	sig := es256kSign(priv, msg)
	if err := keys.Verify(pub, keys.ES256K, msg, sig); err != nil {
		t.Fatalf("Verify ES256K: %v", err)
	}
	if err := keys.Verify(pub, keys.ES256, msg, sig); !errors.Is(err, keys.ErrAlgorithmMismatch) {
		t.Errorf("ES256 on secp256k1: err = %v, want ErrAlgorithmMismatch", err)
	}
	bad := append([]byte(nil), sig...)
	bad[40] ^= 1
	if err := keys.Verify(pub, keys.ES256K, msg, bad); !errors.Is(err, keys.ErrInvalidSignature) {
		t.Errorf("flipped s: err = %v, want ErrInvalidSignature", err)
	}
	if err := keys.Verify(pub, keys.ES256K, []byte("other"), sig); !errors.Is(err, keys.ErrInvalidSignature) {
		t.Errorf("other message: err = %v, want ErrInvalidSignature", err)
	}
	other, _ := secp256k1.GeneratePrivateKey()
	if err := keys.Verify(other.PubKey(), keys.ES256K, msg, sig); !errors.Is(err, keys.ErrInvalidSignature) {
		t.Errorf("other key: err = %v, want ErrInvalidSignature", err)
	}

	// The high-S twin (r, n−s) is a valid ECDSA signature and RFC 8812 does
	// not ask for low S, so it verifies too.
	var s secp256k1.ModNScalar
	s.SetByteSlice(sig[32:])
	s.Negate()
	high := append([]byte(nil), sig[:32]...)
	high = append(high, make([]byte, 32)...)
	s.PutBytesUnchecked(high[32:])
	if bytes.Equal(high, sig) {
		t.Fatal("negated s equals s")
	}
	if err := keys.Verify(pub, keys.ES256K, msg, high); err != nil {
		t.Errorf("high-S signature: %v", err)
	}

	// r at or above the group order is not a signature.
	overflow := append(bytes.Repeat([]byte{0xff}, 32), sig[32:]...)
	if err := keys.Verify(pub, keys.ES256K, msg, overflow); !errors.Is(err, keys.ErrInvalidSignature) {
		t.Errorf("r ≥ n: err = %v, want ErrInvalidSignature", err)
	}
	if err := keys.Verify(pub, keys.ES256K, msg, make([]byte, 64)); !errors.Is(err, keys.ErrInvalidSignature) {
		t.Errorf("zero signature: err = %v, want ErrInvalidSignature", err)
	}
}

func TestECDSASignatureASN1(t *testing.T) {
	k := mustGenerate(t, keys.P256)
	msg := []byte("der")
	sig, err := k.Sign(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	der, err := keys.ECDSASignatureToASN1(keys.ES256, sig)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], der) {
		t.Fatal("crypto/ecdsa rejects the DER form")
	}
	back, err := keys.ECDSASignatureFromASN1(keys.ES256, der)
	if err != nil || !bytes.Equal(back, sig) {
		t.Fatalf("round trip = %x, %v; want %x", back, err, sig)
	}

	// Small integers are padded on the left to the curve size.
	small := []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}
	raw, err := keys.ECDSASignatureFromASN1(keys.ES384, small)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 96 || raw[47] != 1 || raw[95] != 2 || !bytes.Equal(raw[:47], make([]byte, 47)) {
		t.Fatalf("small integers = %x", raw)
	}

	for name, bad := range map[string][]byte{
		"empty":            nil,
		"trailing data":    append(append([]byte(nil), der...), 0),
		"negative r":       {0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x02},
		"not minimal":      {0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x02},
		"one integer":      {0x30, 0x03, 0x02, 0x01, 0x01},
		"three integers":   {0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x03},
		"integer too long": append([]byte{0x30, 0x26, 0x02, 0x21, 0x01}, append(make([]byte, 32), 0x02, 0x01, 0x02)...),
	} {
		if _, err := keys.ECDSASignatureFromASN1(keys.ES256, bad); !errors.Is(err, keys.ErrInvalidSignature) {
			t.Errorf("%s: err = %v, want ErrInvalidSignature", name, err)
		}
	}
	if _, err := keys.ECDSASignatureToASN1(keys.ES256, sig[:63]); !errors.Is(err, keys.ErrInvalidSignature) {
		t.Errorf("short r‖s: err = %v, want ErrInvalidSignature", err)
	}
	if _, err := keys.ECDSASignatureToASN1(keys.EdDSA, sig); !errors.Is(err, keys.ErrUnsupportedAlgorithm) {
		t.Errorf("EdDSA: err = %v, want ErrUnsupportedAlgorithm", err)
	}
}

func TestSignerJWKAndMultikey(t *testing.T) {
	for _, tc := range signingTypes {
		k := mustGenerate(t, tc.typ)
		jwk, err := keys.SignerJWK(k)
		if err != nil {
			t.Fatal(err)
		}
		if jwk.D != "" {
			t.Errorf("%s: SignerJWK has d", tc.typ)
		}
		if jwk.Alg != string(tc.alg) {
			t.Errorf("%s: alg = %q, want %q", tc.typ, jwk.Alg, tc.alg)
		}
		tp, err := jwk.Thumbprint()
		if err != nil || jwk.Kid != tp {
			t.Errorf("%s: kid = %q, thumbprint = %q (%v)", tc.typ, jwk.Kid, tp, err)
		}
		pub, err := jwk.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if !samePublic(pub, k.Public()) {
			t.Errorf("%s: JWK public key differs from the signer's", tc.typ)
		}

		mk, err := keys.SignerMultikey(k)
		if err != nil {
			t.Fatal(err)
		}
		typ, mpub, err := keys.DecodeMultikey(mk)
		if err != nil || typ != tc.typ || !samePublic(mpub, k.Public()) {
			t.Errorf("%s: multikey %s decodes to %s, %v", tc.typ, mk, typ, err)
		}
	}
}

func samePublic(a, b any) bool {
	switch a := a.(type) {
	case ed25519.PublicKey:
		return a.Equal(b)
	case *ecdsa.PublicKey:
		return a.Equal(b)
	}
	return false
}

func BenchmarkSign(b *testing.B) {
	ctx := context.Background()
	msg := bytes.Repeat([]byte("m"), 256)
	for _, tc := range signingTypes {
		b.Run(string(tc.typ), func(b *testing.B) {
			k := mustGenerate(b, tc.typ)
			for b.Loop() {
				if _, err := k.Sign(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	msg := bytes.Repeat([]byte("m"), 256)
	for _, tc := range signingTypes {
		b.Run(string(tc.typ), func(b *testing.B) {
			k := mustGenerate(b, tc.typ)
			sig, err := k.Sign(context.Background(), msg)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := keys.Verify(k.Public(), tc.alg, msg, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run(string(keys.Secp256k1), func(b *testing.B) {
		priv, err := secp256k1.GeneratePrivateKey()
		if err != nil {
			b.Fatal(err)
		}
		sig := es256kSign(priv, msg)
		pub := priv.PubKey()
		for b.Loop() {
			if err := keys.Verify(pub, keys.ES256K, msg, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestClonePublicKey(t *testing.T) {
	edPub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	edClone := keys.ClonePublicKey(edPub).(ed25519.PublicKey)
	edClone[0] ^= 0xff
	if edPub[0] == edClone[0] {
		t.Fatal("changing the Ed25519 clone changed the original")
	}
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecClone := keys.ClonePublicKey(&ecPriv.PublicKey).(*ecdsa.PublicKey)
	if ecClone == &ecPriv.PublicKey || !ecClone.Equal(&ecPriv.PublicKey) {
		t.Fatal("the ECDSA clone is the same struct, or not an equal key")
	}
	ecClone.Curve = elliptic.P384()
	if ecPriv.PublicKey.Curve != elliptic.P256() {
		t.Fatal("changing the ECDSA clone changed the original")
	}
}
