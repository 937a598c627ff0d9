package attest

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// BenchmarkVerifyEvidence is the issuer's cost to check one evidence
// document, activation challenge excluded: parsing the four TPM
// structures, the EK certificate (TCG SAN included) and its chain, and the
// AK's ECDSA signature.
func BenchmarkVerifyEvidence(b *testing.B) {
	ca := newTestCA(b, "Bench Root")
	f := newFakeTPM(b)
	f.ekCert = ca.issueEK(b, &f.ek.PublicKey, testTPMInfo)
	nonce := make([]byte, 32)
	ev := f.evidence(b, nonce)
	v, err := NewVerifier(Policy{Roots: ca.pool()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyEvidence(ev, nonce, &f.key.PublicKey); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateCredential is the cost of one activation challenge
// (software TPM2_MakeCredential) to an ECC P-256 and an RSA-2048 EK.
func BenchmarkCreateCredential(b *testing.B) {
	f := newFakeTPM(b)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	akName, err := ObjectName(tpm2.Marshal(f.akPublic()))
	if err != nil {
		b.Fatal(err)
	}
	secret := make([]byte, ActivationSecretSize)
	for _, c := range []struct {
		name string
		ek   tpm2.TPMTPublic
	}{
		{"ecc-p256", eccEKPublic(&f.ek.PublicKey)},
		{"rsa-2048", rsaEKPublic(&rk.PublicKey)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := makeCredential(rand.Reader, &c.ek, akName, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
