package attest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
)

func testNonce(t testing.TB) []byte {
	t.Helper()
	n := make([]byte, 32)
	if _, err := rand.Read(n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustVerifier(t testing.TB, p Policy) *Verifier {
	t.Helper()
	v, err := NewVerifier(p)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifyCertificatePath(t *testing.T) {
	ca := newTestCA(t, "Test EK Root")
	f := newFakeTPM(t)
	f.ekCert = ca.issueEK(t, &f.ek.PublicKey, testTPMInfo)
	v := mustVerifier(t, Policy{Roots: ca.pool()})
	nonce := testNonce(t)

	p, err := v.Verify(f.evidence(t, nonce), nonce, &f.key.PublicKey)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p.Facts.Method != MethodEKCertificate || p.Facts.TPMInfo != testTPMInfo || p.Facts.EKType != "ecc-p256" {
		t.Errorf("facts = %+v", p.Facts)
	}
	sum := sha256.Sum256(f.ekCert)
	if p.Facts.EKCertificateSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("EKCertificateSHA256 = %s", p.Facts.EKCertificateSHA256)
	}
	if len(p.Challenge.Credential) == 0 || len(p.Challenge.Secret) == 0 {
		t.Fatalf("empty challenge %+v", p.Challenge)
	}
	// The secret is what a TPM's ActivateCredential returns; the emulator
	// tests get it from a TPM, this test from the Pending itself.
	a, err := p.Complete(p.secret)
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if a.Level != LevelHardware || a.Method != MethodEKCertificate || a.Manufacturer != testTPMInfo.Manufacturer ||
		a.Model != testTPMInfo.Model || a.FirmwareVersion != testTPMInfo.FirmwareVersion ||
		a.EKCertificateSHA256 != p.Facts.EKCertificateSHA256 || a.EKPublicKeySHA256 != p.Facts.EKPublicKeySHA256 || a.AttestedAt.IsZero() {
		t.Errorf("assurance = %+v", a)
	}
	if err := RequireHardware(a); err != nil {
		t.Error(err)
	}
}

func TestVerifyAllowlistPath(t *testing.T) {
	f := newFakeTPM(t)
	ekHash, err := EKPublicKeyHash(tpm2.Marshal(f.ekPublic()))
	if err != nil {
		t.Fatal(err)
	}
	v := mustVerifier(t, Policy{EKAllowlist: []string{"sha256:" + ekHash}})
	nonce := testNonce(t)
	p, err := v.Verify(f.evidence(t, nonce), nonce, &f.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.Facts.Method != MethodEKAllowlist || p.Facts.EKPublicKeySHA256 != ekHash || p.Facts.Manufacturer != "" {
		t.Errorf("facts = %+v", p.Facts)
	}

	// A certificate that does not chain leaves the allowlist to decide, and
	// its unverified claims are not reported.
	other := newTestCA(t, "Unknown Root")
	f.ekCert = other.issueEK(t, &f.ek.PublicKey, testTPMInfo)
	p, err = v.Verify(f.evidence(t, nonce), nonce, &f.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.Facts.Method != MethodEKAllowlist || p.Facts.Manufacturer != "" || p.Facts.EKCertificateSHA256 != "" {
		t.Errorf("facts = %+v", p.Facts)
	}
}

func TestVerifyRSA(t *testing.T) {
	rsaKey := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ca := newTestCA(t, "Test EK Root")
	f := newFakeTPM(t)
	f.rsaEK, f.rsaAK = rsaKey(), rsaKey()
	f.ekCert = ca.issueEK(t, &f.rsaEK.PublicKey, testTPMInfo)
	v := mustVerifier(t, Policy{Roots: ca.pool()})
	nonce := testNonce(t)
	p, err := v.Verify(f.evidence(t, nonce), nonce, &f.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.Facts.EKType != "rsa-2048" || p.Facts.Method != MethodEKCertificate {
		t.Errorf("facts = %+v", p.Facts)
	}
	// RSA ciphertext of the seed: one RSA-2048 block.
	if len(p.Challenge.Secret) != 256 {
		t.Errorf("encrypted seed is %d bytes", len(p.Challenge.Secret))
	}
	ev := f.evidence(t, nonce)
	ev.CertifySignature = flip(ev.CertifySignature, len(ev.CertifySignature)-1)
	if _, err := v.Verify(ev, nonce, &f.key.PublicKey); !errors.Is(err, ErrSignatureInvalid) {
		t.Errorf("tampered RSA signature: %v", err)
	}
}

// flip returns a copy of b with byte i inverted.
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}

// TestVerifyRefuses runs one broken property at a time, each against
// evidence that is otherwise valid and correctly signed, so each case fails
// only through its own check.
func TestVerifyRefuses(t *testing.T) {
	ca := newTestCA(t, "Test EK Root")
	otherCA := newTestCA(t, "Other Root")
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	type tc struct {
		name  string
		setup func(f *fakeTPM)                    // before the evidence is made
		edit  func(f *fakeTPM, ev *Evidence) bool // after; true re-signs CertifyInfo
		nonce []byte                              // verify with this nonce (default: the evidence's)
		claim *ecdsa.PublicKey
		want  error
	}
	cases := []tc{
		{name: "EK neither certified nor allowlisted", setup: func(f *fakeTPM) { f.ekCert = nil }, want: ErrEKNotTrusted},
		{name: "EK certificate under an unknown root", setup: func(f *fakeTPM) { f.ekCert = otherCA.issueEK(t, &f.ek.PublicKey, testTPMInfo) }, want: ErrEKCertificateChain},
		{name: "EK certificate expired", setup: func(f *fakeTPM) {
			f.ekCert = ca.issueEK(t, &f.ek.PublicKey, testTPMInfo, func(c *x509.Certificate) { c.NotAfter = time.Now().Add(-time.Minute) })
		}, want: ErrEKNotTrusted},
		{name: "EK certificate for another key", setup: func(f *fakeTPM) { f.ekCert = ca.issueEK(t, &otherKey.PublicKey, testTPMInfo) }, want: ErrEKCertificateKeyMismatch},
		{name: "EK certificate garbage", setup: func(f *fakeTPM) { f.ekCert = []byte{0x30, 0x03, 0x02, 0x01, 0x01} }, want: ErrEKCertificateMalformed},
		{name: "EK certificate with a broken TCG SAN", setup: func(f *fakeTPM) {
			f.ekCert = ca.issueEK(t, &f.ek.PublicKey, testTPMInfo, func(c *x509.Certificate) {
				c.ExtraExtensions[0].Value = []byte{0x30, 0x04, 0xa4, 0x02, 0x05, 0x00} // directoryName holding NULL
			})
		}, want: ErrEKCertificateMalformed},
		{name: "EK certificate for TLS", setup: func(f *fakeTPM) {
			f.ekCert = ca.issueEK(t, &f.ek.PublicKey, testTPMInfo, func(c *x509.Certificate) {
				c.UnknownExtKeyUsage, c.ExtKeyUsage = nil, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			})
		}, want: ErrEKCertificateUsage},
		{name: "EK public with a trailing byte", edit: func(_ *fakeTPM, ev *Evidence) bool { ev.EKPublic = append(ev.EKPublic, 0); return false }, want: ErrEKPublicMalformed},
		{name: "EK is a signing key", edit: func(f *fakeTPM, ev *Evidence) bool {
			ev.EKPublic = tpm2.Marshal(eccSigningPublic(&f.ek.PublicKey, akAttrs))
			return false
		}, want: ErrEKKeyType},
		{name: "AK not restricted", setup: func(f *fakeTPM) { a := akAttrs; a.Restricted = false; f.akAttrs = &a }, want: ErrAKAttributes},
		{name: "AK not fixedTPM", setup: func(f *fakeTPM) { a := akAttrs; a.FixedTPM = false; f.akAttrs = &a }, want: ErrAKAttributes},
		{name: "AK public garbage", edit: func(_ *fakeTPM, ev *Evidence) bool { ev.AKPublic = []byte{0, 0x23, 0}; return false }, want: ErrAKPublicMalformed},
		{name: "key certified by another AK", edit: func(_ *fakeTPM, ev *Evidence) bool {
			other := newFakeTPM(t)
			ev.AKPublic = tpm2.Marshal(other.akPublic())
			return false
		}, want: ErrSignatureInvalid},
		{name: "exportable key: not fixedTPM", setup: func(f *fakeTPM) { a := keyAttrs; a.FixedTPM = false; f.keyAttrs = &a }, want: ErrKeyExportable},
		{name: "exportable key: not fixedParent", setup: func(f *fakeTPM) { a := keyAttrs; a.FixedParent = false; f.keyAttrs = &a }, want: ErrKeyExportable},
		{name: "imported key: not sensitiveDataOrigin", setup: func(f *fakeTPM) { a := keyAttrs; a.SensitiveDataOrigin = false; f.keyAttrs = &a }, want: ErrKeyExportable},
		{name: "restricted agent key", setup: func(f *fakeTPM) { a := keyAttrs; a.Restricted = true; f.keyAttrs = &a }, want: ErrKeyAttributes},
		{name: "agent key can decrypt", setup: func(f *fakeTPM) { a := keyAttrs; a.Decrypt = true; f.keyAttrs = &a }, want: ErrKeyAttributes},
		{name: "agent key public garbage", edit: func(_ *fakeTPM, ev *Evidence) bool { ev.KeyPublic = []byte{1, 2, 3}; return false }, want: ErrKeyPublicMalformed},
		{name: "agent key named with SHA-1", edit: func(f *fakeTPM, ev *Evidence) bool {
			p := f.keyPublic()
			p.NameAlg = tpm2.TPMAlgSHA1
			ev.KeyPublic = tpm2.Marshal(p)
			return false
		}, want: ErrKeyType},
		{name: "claimed key is another key", claim: &otherKey.PublicKey, want: ErrKeyMismatch},
		{name: "certification of another key", edit: func(_ *fakeTPM, ev *Evidence) bool {
			ev.KeyPublic = tpm2.Marshal(eccSigningPublic(&otherKey.PublicKey, keyAttrs))
			return false
		}, claim: &otherKey.PublicKey, want: ErrCertifiedNameMismatch},
		{name: "wrong nonce", nonce: bytes.Repeat([]byte{7}, 32), want: ErrNonceMismatch},
		{name: "magic", edit: func(_ *fakeTPM, ev *Evidence) bool { ev.CertifyInfo = flip(ev.CertifyInfo, 0); return true }, want: ErrAttestMagic},
		{name: "not a certification", edit: func(_ *fakeTPM, ev *Evidence) bool {
			a, _ := tpm2.Unmarshal[tpm2.TPMSAttest](ev.CertifyInfo)
			a.Type = tpm2.TPMSTAttestTime
			a.Attested = tpm2.NewTPMUAttest(tpm2.TPMSTAttestTime, &tpm2.TPMSTimeAttestInfo{})
			ev.CertifyInfo = tpm2.Marshal(*a)
			return true
		}, want: ErrAttestType},
		{name: "TPMS_ATTEST with a trailing byte", edit: func(_ *fakeTPM, ev *Evidence) bool { ev.CertifyInfo = append(ev.CertifyInfo, 0); return true }, want: ErrAttestMalformed},
		{name: "tampered TPMS_ATTEST", edit: func(_ *fakeTPM, ev *Evidence) bool {
			// Magic (4), type (2), qualifiedSigner (2+34), extraData (2+32),
			// then clockInfo: a field no check looks at but the signature.
			ev.CertifyInfo = flip(ev.CertifyInfo, 4+2+36+34+3)
			return false
		}, want: ErrSignatureInvalid},
		{name: "tampered signature", edit: func(_ *fakeTPM, ev *Evidence) bool {
			ev.CertifySignature = flip(ev.CertifySignature, len(ev.CertifySignature)-1)
			return false
		}, want: ErrSignatureInvalid},
		{name: "signature of another scheme", edit: func(_ *fakeTPM, ev *Evidence) bool {
			ev.CertifySignature = tpm2.Marshal(tpm2.TPMTSignature{
				SigAlg:    tpm2.TPMAlgRSASSA,
				Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSASSA, &tpm2.TPMSSignatureRSA{Hash: tpm2.TPMAlgSHA256, Sig: tpm2.TPM2BPublicKeyRSA{Buffer: []byte{1}}}),
			})
			return false
		}, want: ErrSignatureMalformed},
		{name: "short nonce", nonce: []byte("short"), want: ErrNonceLength},
		{name: "no claimed key", claim: &ecdsa.PublicKey{}, want: ErrClaimedKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeTPM(t)
			f.ekCert = ca.issueEK(t, &f.ek.PublicKey, testTPMInfo)
			if c.setup != nil {
				c.setup(f)
			}
			nonce := testNonce(t)
			ev := f.evidence(t, nonce)
			if c.edit != nil && c.edit(f, ev) {
				ev.CertifySignature = f.sign(t, ev.CertifyInfo)
			}
			if c.nonce != nil {
				nonce = c.nonce
			}
			claim := &f.key.PublicKey
			if c.claim != nil {
				claim = c.claim
			}
			v := mustVerifier(t, Policy{Roots: ca.pool()})
			_, err := v.Verify(ev, nonce, claim)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if errors.Is(c.want, ErrEKCertificateChain) && !errors.Is(err, ErrEKNotTrusted) {
				t.Errorf("chain failure %v is not ErrEKNotTrusted", err)
			}
		})
	}
}

func TestVerifyNonceSet(t *testing.T) {
	f := newFakeTPM(t)
	h, _ := EKPublicKeyHash(tpm2.Marshal(f.ekPublic()))
	set := NewNonceSet(time.Minute, nil, 0)
	v := mustVerifier(t, Policy{EKAllowlist: []string{h}, Nonces: set})
	nonce, _, err := set.Issue()
	if err != nil {
		t.Fatal(err)
	}
	ev := f.evidence(t, nonce)
	if _, err := v.Verify(ev, nonce, &f.key.PublicKey); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ev, nonce, &f.key.PublicKey); !errors.Is(err, ErrNonceReplayed) {
		t.Fatalf("replayed evidence: %v", err)
	}
	own := testNonce(t)
	if _, err := v.Verify(f.evidence(t, own), own, &f.key.PublicKey); !errors.Is(err, ErrNonceUnknown) {
		t.Fatalf("nonce the set never issued: %v", err)
	}
}

func TestNonceSet(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	s := NewNonceSet(time.Minute, clock, 2)
	a, exp, err := s.Issue()
	if err != nil || len(a) != NonceSize || !exp.Equal(now.Add(time.Minute)) {
		t.Fatal(a, exp, err)
	}
	b, _, _ := s.Issue()
	if _, _, err := s.Issue(); !errors.Is(err, ErrNonceSetFull) {
		t.Fatalf("third nonce: %v", err)
	}
	if err := s.Consume(a); err != nil {
		t.Fatal(err)
	}
	if err := s.Consume(a); !errors.Is(err, ErrNonceReplayed) {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if err := s.Consume(b); !errors.Is(err, ErrNonceExpired) {
		t.Fatalf("expired: %v", err)
	}
	// Expired nonces make room.
	if _, _, err := s.Issue(); err != nil {
		t.Fatal(err)
	}
}

func TestPendingComplete(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := newFakeTPM(t)
	h, _ := EKPublicKeyHash(tpm2.Marshal(f.ekPublic()))
	v := mustVerifier(t, Policy{EKAllowlist: []string{h}, Now: func() time.Time { return now }, ActivationTTL: time.Minute})
	verify := func() *Pending {
		nonce := testNonce(t)
		p, err := v.Verify(f.evidence(t, nonce), nonce, &f.key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	p := verify()
	a, err := p.Complete(bytes.Clone(p.secret))
	if err != nil || a.Method != MethodEKAllowlist || !a.AttestedAt.Equal(now) {
		t.Fatal(a, err)
	}
	if _, err := p.Complete(p.secret); !errors.Is(err, ErrActivationReplayed) {
		t.Fatalf("second Complete: %v", err)
	}

	p = verify()
	if _, err := p.Complete(make([]byte, ActivationSecretSize)); !errors.Is(err, ErrActivationFailed) {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := p.Complete(p.secret); !errors.Is(err, ErrActivationReplayed) {
		t.Fatalf("right secret after a wrong one: %v", err)
	}

	p = verify()
	now = now.Add(time.Minute)
	if _, err := p.Complete(p.secret); !errors.Is(err, ErrActivationExpired) {
		t.Fatalf("late: %v", err)
	}

	// Concurrent answers: exactly one wins.
	p = verify()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Go(func() {
			if _, err := p.Complete(p.secret); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent Completes succeeded", wins)
	}
}

func TestSoftwareAssurance(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	a, err := SoftwareAssurance(&k.PublicKey, now)
	if err != nil {
		t.Fatal(err)
	}
	if a.Level != LevelSoftware || a.Method != MethodSoftware || len(a.EKPublicKeySHA256) != 64 {
		t.Errorf("%+v", a)
	}
	if err := RequireHardware(a); !errors.Is(err, ErrNotHardware) {
		t.Errorf("RequireHardware(software) = %v", err)
	}
	if err := RequireHardware(nil); !errors.Is(err, ErrNotHardware) {
		t.Errorf("RequireHardware(nil) = %v", err)
	}
	if _, err := SoftwareAssurance("not a key", now); !errors.Is(err, ErrClaimedKey) {
		t.Errorf("SoftwareAssurance(string) = %v", err)
	}
}
