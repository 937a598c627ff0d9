package tpm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-tpm/tpm2"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/attest"
	"github.com/agentid/agentid/keys/tpm"
	"github.com/agentid/agentid/keys/tpm/tpmtest"
)

// compactJWS signs payload as a compact JWS with the signer's algorithm.
func compactJWS(t *testing.T, s keys.Signer, payload []byte) string {
	t.Helper()
	hdr, err := json.Marshal(map[string]string{"alg": string(s.Algorithm()), "typ": "JWT"})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(hdr) + "." + enc.EncodeToString(payload)
	sig, err := s.Sign(context.Background(), []byte(input))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return input + "." + enc.EncodeToString(sig)
}

// verifyJWS checks a compact ES256 JWS with plain crypto/ecdsa and with
// go-jose, and returns its payload.
func verifyJWS(t *testing.T, jws string, pub *ecdsa.PublicKey) []byte {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("JWS has %d parts", len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature: %d bytes, %v", len(sig), err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		t.Fatal("crypto/ecdsa: signature does not verify")
	}
	obj, err := jose.ParseSignedCompact(jws, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("go-jose parse: %v", err)
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		t.Fatalf("go-jose verify: %v", err)
	}
	return payload
}

func TestKeySignsJWS(t *testing.T) {
	tpmtest.Each(t, func(t *testing.T, tp *tpm.TPM) {
		ctx := context.Background()
		k, err := tp.CreateKey(ctx, "agent")
		if err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		defer k.Close()
		if k.KeyType() != keys.P256 || k.Algorithm() != keys.ES256 {
			t.Errorf("type %s alg %s", k.KeyType(), k.Algorithm())
		}
		if want := "tpm:" + tp.URI() + "?key=agent"; k.URI() != want {
			t.Errorf("URI = %q, want %q", k.URI(), want)
		}
		pub := k.Public().(*ecdsa.PublicKey)
		did, err := didmethods.CreateKey(pub)
		if err != nil || !strings.HasPrefix(did, "did:key:zDn") {
			t.Fatalf("did:key %q, %v", did, err)
		}
		payload := []byte(`{"sub":"` + did + `"}`)
		if got := verifyJWS(t, compactJWS(t, k, payload), pub); !bytes.Equal(got, payload) {
			t.Errorf("payload %s", got)
		}
		// The project's own verifier agrees.
		sig, err := k.Sign(ctx, []byte("m"))
		if err != nil {
			t.Fatal(err)
		}
		if err := keys.Verify(pub, keys.ES256, []byte("m"), sig); err != nil {
			t.Errorf("keys.Verify: %v", err)
		}

		// crypto.Signer: DER over a digest.
		digest := sha256.Sum256([]byte("x509"))
		der, err := k.CryptoSigner().Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(pub, digest[:], der) {
			t.Error("crypto.Signer signature does not verify")
		}
		if _, err := k.CryptoSigner().Sign(rand.Reader, digest[:20], crypto.SHA1); !errors.Is(err, tpm.ErrDigestSize) {
			t.Errorf("SHA-1 digest: %v, want ErrDigestSize", err)
		}

		// Save, close, reload from the store: same key, still signs.
		store, err := tpm.NewKeyStore(t.TempDir() + "/keys")
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Save(ctx, store); err != nil {
			t.Fatal(err)
		}
		if err := k.Save(ctx, store); !errors.Is(err, keys.ErrKeyExists) {
			t.Errorf("second Save: %v, want ErrKeyExists", err)
		}
		if err := k.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Sign(ctx, []byte("m")); !errors.Is(err, tpm.ErrClosed) {
			t.Errorf("Sign after Close: %v, want ErrClosed", err)
		}
		k2, err := tp.LoadKey(ctx, store, "agent")
		if err != nil {
			t.Fatalf("LoadKey: %v", err)
		}
		defer k2.Close()
		if !pub.Equal(k2.Public()) {
			t.Fatal("reloaded key has another public key")
		}
		verifyJWS(t, compactJWS(t, k2, payload), pub)
		if _, err := tp.LoadKey(ctx, store, "missing"); !errors.Is(err, keys.ErrKeyNotFound) {
			t.Errorf("missing key: %v, want ErrKeyNotFound", err)
		}
	})
}

func TestKeyAttributes(t *testing.T) {
	tpmtest.Each(t, func(t *testing.T, tp *tpm.TPM) {
		ctx := context.Background()
		k, err := tp.CreateKey(ctx, "attrs")
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		pub, name, err := tpm.ReadPublicFromTPM(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		a := pub.ObjectAttributes
		if !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin || !a.UserWithAuth || !a.SignEncrypt {
			t.Errorf("missing attribute: %+v", a)
		}
		if a.Restricted || a.Decrypt || a.AdminWithPolicy {
			t.Errorf("unwanted attribute: %+v", a)
		}
		ecc, err := pub.Parameters.ECCDetail()
		if err != nil || ecc.CurveID != tpm2.TPMECCNistP256 {
			t.Errorf("not P-256: %v", err)
		}
		if !bytes.Equal(name, k.TPMName()) {
			t.Errorf("TPM name %x, key says %x", name, k.TPMName())
		}
	})
}

// attestKey creates a key and attests it over nonce.
func attestKey(t *testing.T, tp *tpm.TPM, nonce []byte, opts ...tpm.AttestOption) (*tpm.Key, *tpm.Attestation) {
	t.Helper()
	ctx := context.Background()
	k, err := tp.CreateKey(ctx, "attested")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	a, err := tp.Attest(ctx, k, nonce, opts...)
	if err != nil {
		t.Fatalf("Attest: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return k, a
}

func TestAttestEvidence(t *testing.T) {
	tpmtest.Each(t, func(t *testing.T, tp *tpm.TPM) {
		nonce := []byte("0123456789abcdef0123456789abcdef")
		k, a := attestKey(t, tp, nonce)
		ev := a.Evidence

		// The document round-trips through the attest package's parser.
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := attest.ParseEvidence(data); err != nil {
			t.Fatalf("ParseEvidence: %v", err)
		}

		info, err := tpm2.Unmarshal[tpm2.TPMSAttest](ev.CertifyInfo)
		if err != nil {
			t.Fatalf("CertifyInfo: %v", err)
		}
		if info.Magic != tpm2.TPMGeneratedValue {
			t.Errorf("magic %#x", info.Magic)
		}
		if info.Type != tpm2.TPMSTAttestCertify {
			t.Errorf("type %#x", info.Type)
		}
		if !bytes.Equal(info.ExtraData.Buffer, nonce) {
			t.Errorf("extraData %x, want the nonce", info.ExtraData.Buffer)
		}
		certified, err := info.Attested.Certify()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(certified.Name.Buffer, k.TPMName()) {
			t.Errorf("certified name %x, key's %x", certified.Name.Buffer, k.TPMName())
		}
		keyPub, err := tpm2.Unmarshal[tpm2.TPMTPublic](ev.KeyPublic)
		if err != nil {
			t.Fatal(err)
		}
		keyName, err := tpm2.ObjectName(keyPub)
		if err != nil || !bytes.Equal(keyName.Buffer, k.TPMName()) {
			t.Errorf("KeyPublic's name %x, %v", keyName, err)
		}

		// The AK is a restricted signing key and its signature verifies.
		akPub, err := tpm2.Unmarshal[tpm2.TPMTPublic](ev.AKPublic)
		if err != nil {
			t.Fatal(err)
		}
		if !akPub.ObjectAttributes.Restricted || !akPub.ObjectAttributes.SignEncrypt || !akPub.ObjectAttributes.FixedTPM {
			t.Errorf("AK attributes %+v", akPub.ObjectAttributes)
		}
		akKey, err := tpm2.Pub(*akPub)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := tpm2.Unmarshal[tpm2.TPMTSignature](ev.CertifySignature)
		if err != nil {
			t.Fatal(err)
		}
		esig, err := sig.Signature.ECDSA()
		if err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256(ev.CertifyInfo)
		if !ecdsa.Verify(akKey.(*ecdsa.PublicKey), digest[:],
			new(big.Int).SetBytes(esig.SignatureR.Buffer), new(big.Int).SetBytes(esig.SignatureS.Buffer)) {
			t.Error("AK signature over CertifyInfo does not verify")
		}
		if a.EKKind != tpm.EKECC {
			t.Errorf("EK kind %q, want ecc", a.EKKind)
		}
		if _, err := tp.Attest(context.Background(), k, nil); !errors.Is(err, tpm.ErrNonceSize) {
			t.Errorf("empty nonce: %v", err)
		}
		if _, err := tp.Attest(context.Background(), k, make([]byte, tpm.MaxNonceSize+1)); !errors.Is(err, tpm.ErrNonceSize) {
			t.Errorf("long nonce: %v", err)
		}
	})
}

// challenge makes an activation challenge in software, as a verifier does:
// secret encrypted to the EK, bound to the AK's name.
func challenge(t testing.TB, ev attest.Evidence, akName, secret []byte) attest.ActivationChallenge {
	t.Helper()
	ekPub, err := tpm2.Unmarshal[tpm2.TPMTPublic](ev.EKPublic)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := tpm2.ImportEncapsulationKey(ekPub)
	if err != nil {
		t.Fatal(err)
	}
	cred, enc, err := tpm2.CreateCredential(rand.Reader, ek, akName, secret)
	if err != nil {
		t.Fatal(err)
	}
	return attest.ActivationChallenge{Credential: cred, Secret: enc}
}

func TestActivate(t *testing.T) {
	for _, kind := range []tpm.EKKind{tpm.EKECC, tpm.EKRSA} {
		t.Run(string(kind), func(t *testing.T) {
			tpmtest.Each(t, func(t *testing.T, tp *tpm.TPM) {
				_, a := attestKey(t, tp, []byte("nonce"), tpm.WithEK(kind))
				if a.EKKind != kind {
					t.Fatalf("EK kind %q", a.EKKind)
				}
				akPub, err := tpm2.Unmarshal[tpm2.TPMTPublic](a.Evidence.AKPublic)
				if err != nil {
					t.Fatal(err)
				}
				akName, err := tpm2.ObjectName(akPub)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(akName.Buffer, a.AKName()) {
					t.Fatalf("AK name %x, attestation says %x", akName.Buffer, a.AKName())
				}
				secret := []byte("activation secret 0123456789abcd")
				got, err := a.Activate(context.Background(), challenge(t, a.Evidence, akName.Buffer, secret))
				if err != nil {
					t.Fatalf("Activate: %v", err)
				}
				if !bytes.Equal(got, secret) {
					t.Fatalf("secret %q", got)
				}
				// Bound to another name: the TPM refuses.
				other := append([]byte(nil), akName.Buffer...)
				other[len(other)-1] ^= 1
				if _, err := a.Activate(context.Background(), challenge(t, a.Evidence, other, secret)); !errors.Is(err, tpm.ErrActivation) {
					t.Errorf("challenge for another AK: %v, want ErrActivation", err)
				}
			})
		})
	}
}

func TestEKCertificate(t *testing.T) {
	ca, caKey := tpmtest.NewTestCA(t)
	for _, kind := range []tpm.EKKind{tpm.EKECC, tpm.EKRSA} {
		t.Run(string(kind), func(t *testing.T) {
			tpmtest.Each(t, func(t *testing.T, tp *tpm.TPM) {
				cert := tpmtest.ProvisionEKCertificateKind(t, tp, kind, ca, caKey)
				_, a := attestKey(t, tp, []byte("nonce"), tpm.WithEK(kind))
				if !bytes.Equal(a.Evidence.EKCertificate, cert.Raw) {
					t.Fatalf("evidence has %d certificate bytes, want the provisioned %d", len(a.Evidence.EKCertificate), len(cert.Raw))
				}
				got, err := x509.ParseCertificate(a.Evidence.EKCertificate)
				if err != nil {
					t.Fatal(err)
				}
				if err := got.CheckSignatureFrom(ca); err != nil {
					t.Errorf("certificate not from the CA: %v", err)
				}
				ekPub, err := tpm2.Unmarshal[tpm2.TPMTPublic](a.Evidence.EKPublic)
				if err != nil {
					t.Fatal(err)
				}
				pk, err := tpm2.Pub(*ekPub)
				if err != nil {
					t.Fatal(err)
				}
				if !pk.(interface{ Equal(crypto.PublicKey) bool }).Equal(got.PublicKey) {
					t.Error("certificate key is not the EK")
				}
				if len(got.Subject.Names) != 0 || len(got.UnhandledCriticalExtensions) != 1 {
					t.Errorf("subject %v, unhandled critical %v", got.Subject, got.UnhandledCriticalExtensions)
				}
				if len(got.UnknownExtKeyUsage) != 1 || !got.UnknownExtKeyUsage[0].Equal(tpmtest.OIDEKCertificate) {
					t.Errorf("EKU %v", got.UnknownExtKeyUsage)
				}
				direct, err := tp.EKCertificate(context.Background(), kind)
				if err != nil || !bytes.Equal(direct, cert.Raw) {
					t.Errorf("EKCertificate: %d bytes, %v", len(direct), err)
				}
			})
		})
	}
}

func TestWrongTPM(t *testing.T) {
	ctx := context.Background()
	sim := tpmtest.Simulator(t)
	sw, err := tpm.Open(tpmtest.Swtpm(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	k, err := sim.CreateKey(ctx, "sim-key")
	if err != nil {
		t.Fatal(err)
	}
	blob, err := k.Blob()
	k.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sw.LoadKeyBlob(ctx, "sim-key", blob); !errors.Is(err, tpm.ErrWrongTPM) {
		t.Errorf("sim blob in swtpm: %v, want ErrWrongTPM", err)
	}
	if _, err := sw.LoadKeyBlob(ctx, "x", []byte("{")); !errors.Is(err, tpm.ErrKeyBlobFormat) {
		t.Errorf("bad blob: %v", err)
	}
	k2, err := sw.CreateKey(ctx, "sw-key")
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	if _, err := sim.Attest(ctx, k2, []byte("n")); !errors.Is(err, tpm.ErrForeignKey) {
		t.Errorf("attest a key of another TPM: %v", err)
	}
}

func TestManagerBackend(t *testing.T) {
	tpmtest.Each(t, func(t *testing.T, tp *tpm.TPM) {
		ctx := context.Background()
		store, err := tpm.NewKeyStore(t.TempDir() + "/keys")
		if err != nil {
			t.Fatal(err)
		}
		b1, err := tpm.NewBackend(tp.URI(), store)
		if err != nil {
			t.Fatal(err)
		}
		m1, err := keys.NewManager(keys.WithBackend(tpm.Scheme, b1))
		if err != nil {
			t.Fatal(err)
		}
		s, err := m1.Create(ctx, tpm.Scheme, keys.P256)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		uri := s.URI()
		if err := b1.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := m1.Create(ctx, tpm.Scheme, keys.Ed25519); !errors.Is(err, keys.ErrUnsupportedKeyType) {
			t.Errorf("Ed25519: %v", err)
		}

		b2, err := tpm.NewBackend(tp.URI(), store)
		if err != nil {
			t.Fatal(err)
		}
		defer b2.Close()
		m2, err := keys.NewManager(keys.WithBackend(tpm.Scheme, b2))
		if err != nil {
			t.Fatal(err)
		}
		s2, err := m2.Load(ctx, uri)
		if err != nil {
			t.Fatalf("Load %s: %v", uri, err)
		}
		if !s.Public().(*ecdsa.PublicKey).Equal(s2.Public()) {
			t.Fatal("loaded another key")
		}
		verifyJWS(t, compactJWS(t, s2, []byte("{}")), s2.Public().(*ecdsa.PublicKey))
		if _, err := m2.Load(ctx, tpm.KeyURI(tp.URI(), "nope")); !errors.Is(err, keys.ErrKeyNotFound) {
			t.Errorf("missing: %v", err)
		}
	})
}

func TestOpenAndURIs(t *testing.T) {
	for _, bad := range []string{"", "tpm0", "swtpm://", "swtpm://host", "http://x", "swtpm://h:1/x"} {
		if _, err := tpm.Open(bad); !errors.Is(err, tpm.ErrUnsupportedDevice) {
			t.Errorf("Open(%q): %v, want ErrUnsupportedDevice", bad, err)
		}
	}
	dev, name, err := tpm.ParseKeyURI("tpm:swtpm://127.0.0.1:2321?key=agent")
	if err != nil || dev != "swtpm://127.0.0.1:2321" || name != "agent" {
		t.Errorf("ParseKeyURI: %q %q %v", dev, name, err)
	}
	for _, bad := range []string{"tpm:/dev/tpmrm0", "tpm:/dev/tpmrm0?key=", "tpm:/dev/tpmrm0?key=../x", "software:abc", "tpm:nodev?key=a"} {
		if _, _, err := tpm.ParseKeyURI(bad); !errors.Is(err, keys.ErrInvalidKeyURI) {
			t.Errorf("ParseKeyURI(%q): %v", bad, err)
		}
	}
	if _, err := tpm.Open("/nonexistent/tpm"); err == nil {
		t.Error("Open of a missing device succeeded")
	}
}
