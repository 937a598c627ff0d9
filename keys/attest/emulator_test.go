package attest_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentid/agentid/keys/attest"
	"github.com/agentid/agentid/keys/tpm"
	"github.com/agentid/agentid/keys/tpm/tpmtest"
)

// These tests run the whole enrollment protocol on real TPM emulators: the
// reference simulator in this process and swtpm as a separate process. The
// agent side is package keys/tpm; the verifier side is this package, pure
// Go. tpmtest fails (never skips) when an emulator cannot be had.

// rootsDir writes ca into a fresh directory and loads it as LoadRoots would.
func rootsDir(t *testing.T, ca *x509.Certificate) *x509.CertPool {
	t.Helper()
	dir := t.TempDir()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	if err := os.WriteFile(filepath.Join(dir, "tpm-root.pem"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	pool, err := attest.LoadRoots(dir)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// enrolled is one agent key in one TPM with its attestation over a nonce.
type enrolled struct {
	key   *tpm.Key
	att   *tpm.Attestation
	nonce []byte
}

func attestKey(t *testing.T, tp *tpm.TPM, nonces *attest.NonceSet, opts ...tpm.AttestOption) enrolled {
	t.Helper()
	ctx := context.Background()
	key, err := tp.CreateKey(ctx, "agent-"+filepath.Base(t.Name()))
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	t.Cleanup(func() { _ = key.Close() })
	nonce, _, err := nonces.Issue()
	if err != nil {
		t.Fatal(err)
	}
	att, err := tp.Attest(ctx, key, nonce, opts...)
	if err != nil {
		t.Fatalf("Attest: %v", err)
	}
	return enrolled{key: key, att: att, nonce: nonce}
}

// TestEnrollmentOnEmulators is the issue's "done when": an agent key made
// in the TPM, its evidence verified against the nonce, the activation
// challenge answered by the TPM, and a hardware assurance naming the TPM
// from its EK certificate; for ECC and RSA EKs.
func TestEnrollmentOnEmulators(t *testing.T) {
	for _, kind := range []tpm.EKKind{tpm.EKECC, tpm.EKRSA} {
		t.Run(string(kind), func(t *testing.T) {
			tpmtest.Each(t, func(t *testing.T, tp *tpm.TPM) {
				ctx := context.Background()
				ca, caKey := tpmtest.NewTestCA(t)
				cert := tpmtest.ProvisionEKCertificateKind(t, tp, kind, ca, caKey)
				_, want, err := attest.ParseEKCertificate(cert.Raw)
				if err != nil {
					t.Fatal(err)
				}
				if want.Manufacturer == "" || want.Model == "" {
					t.Fatalf("provisioned certificate names no TPM: %+v", want)
				}
				nonces := attest.NewNonceSet(time.Minute, nil, 0)
				v, err := attest.NewVerifier(attest.Policy{Roots: rootsDir(t, ca), Nonces: nonces})
				if err != nil {
					t.Fatal(err)
				}
				e := attestKey(t, tp, nonces, tpm.WithEK(kind))

				p, err := v.Verify(&e.att.Evidence, e.nonce, e.key.Public())
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				wantType := map[tpm.EKKind]string{tpm.EKECC: "ecc-p256", tpm.EKRSA: "rsa-2048"}[kind]
				if p.Facts.EKType != wantType || p.Facts.Method != attest.MethodEKCertificate {
					t.Errorf("facts %+v", p.Facts)
				}
				secret, err := e.att.Activate(ctx, p.Challenge)
				if err != nil {
					t.Fatalf("Activate: %v", err)
				}
				a, err := p.Complete(secret)
				if err != nil {
					t.Fatalf("Complete: %v", err)
				}
				if err := attest.RequireHardware(a); err != nil {
					t.Fatal(err)
				}
				if a.Manufacturer != want.Manufacturer || a.Model != want.Model || a.FirmwareVersion != want.FirmwareVersion || a.Method != attest.MethodEKCertificate {
					t.Errorf("assurance %+v, certificate says %+v", a, want)
				}
				t.Logf("%s EK: %s %q firmware %s", kind, a.Manufacturer, a.Model, a.FirmwareVersion)

				// Replays: the activation answer, then the evidence itself.
				if _, err := p.Complete(secret); !errors.Is(err, attest.ErrActivationReplayed) {
					t.Errorf("second Complete: %v", err)
				}
				if _, err := v.Verify(&e.att.Evidence, e.nonce, e.key.Public()); !errors.Is(err, attest.ErrNonceReplayed) {
					t.Errorf("evidence replayed with its used nonce: %v", err)
				}
			})
		})
	}
}

// TestAllowlistOnEmulators trusts the EK by its hash instead of a
// certificate chain, and refuses it when it is neither.
func TestAllowlistOnEmulators(t *testing.T) {
	tpmtest.Each(t, func(t *testing.T, tp *tpm.TPM) {
		ctx := context.Background()
		nonces := attest.NewNonceSet(time.Minute, nil, 0)
		e := attestKey(t, tp, nonces, tpm.WithEK(tpm.EKECC))
		h, err := attest.EKPublicKeyHash(e.att.Evidence.EKPublic)
		if err != nil {
			t.Fatal(err)
		}

		// Not under any root and not allowlisted.
		otherCA, _ := tpmtest.NewTestCA(t)
		strict, _ := attest.NewVerifier(attest.Policy{Roots: rootsDir(t, otherCA)})
		if _, err := strict.Verify(&e.att.Evidence, e.nonce, e.key.Public()); !errors.Is(err, attest.ErrEKNotTrusted) {
			t.Fatalf("untrusted EK: %v", err)
		}

		v, _ := attest.NewVerifier(attest.Policy{EKAllowlist: []string{h}, Nonces: nonces})
		p, err := v.Verify(&e.att.Evidence, e.nonce, e.key.Public())
		if err != nil {
			t.Fatal(err)
		}
		secret, err := e.att.Activate(ctx, p.Challenge)
		if err != nil {
			t.Fatal(err)
		}
		a, err := p.Complete(secret)
		if err != nil || a.Method != attest.MethodEKAllowlist || a.EKPublicKeySHA256 != h || a.Manufacturer != "" {
			t.Fatalf("assurance %+v, %v", a, err)
		}
	})
}

// TestRefusalsOnEmulators breaks real evidence one property at a time.
func TestRefusalsOnEmulators(t *testing.T) {
	tpmtest.Each(t, func(t *testing.T, tp *tpm.TPM) {
		nonces := attest.NewNonceSet(time.Minute, nil, 0)
		e := attestKey(t, tp, nonces)
		h, _ := attest.EKPublicKeyHash(e.att.Evidence.EKPublic)
		v, _ := attest.NewVerifier(attest.Policy{EKAllowlist: []string{h}})
		ev := e.att.Evidence

		check := func(name string, ev attest.Evidence, nonce []byte, want error) {
			t.Helper()
			if _, err := v.Verify(&ev, nonce, e.key.Public()); !errors.Is(err, want) {
				t.Errorf("%s: %v, want %v", name, err, want)
			}
		}
		check("untouched", ev, e.nonce, nil)
		check("wrong nonce", ev, bytes.Repeat([]byte{1}, 32), attest.ErrNonceMismatch)

		tampered := ev
		tampered.CertifyInfo = bytes.Clone(ev.CertifyInfo)
		tampered.CertifyInfo[len(tampered.CertifyInfo)-10] ^= 1 // inside the qualified name, which no check compares
		check("tampered TPMS_ATTEST", tampered, e.nonce, attest.ErrSignatureInvalid)

		tampered = ev
		tampered.CertifySignature = bytes.Clone(ev.CertifySignature)
		tampered.CertifySignature[len(tampered.CertifySignature)-1] ^= 1
		check("tampered signature", tampered, e.nonce, attest.ErrSignatureInvalid)
	})
}

// TestActivationByAnotherTPM: the simulator's evidence, with the swtpm's EK
// put in (an agent claiming its AK is in a TPM it is not in). The evidence
// itself verifies, since the EK is trusted and the AK's signature is good;
// only activation catches it: the challenge is encrypted to the swtpm's EK
// for the simulator's AK, and neither TPM can open it.
func TestActivationByAnotherTPM(t *testing.T) {
	ctx := context.Background()
	sim := tpmtest.Simulator(t)
	sw, err := tpm.Open(tpmtest.Swtpm(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sw.Close() })
	nonces := attest.NewNonceSet(time.Minute, nil, 0)
	a := attestKey(t, sim, nonces, tpm.WithEK(tpm.EKECC))
	b := attestKey(t, sw, nonces, tpm.WithEK(tpm.EKECC))

	hb, _ := attest.EKPublicKeyHash(b.att.Evidence.EKPublic)
	v, _ := attest.NewVerifier(attest.Policy{EKAllowlist: []string{hb}})
	mixed := a.att.Evidence
	mixed.EKPublic, mixed.EKCertificate = b.att.Evidence.EKPublic, nil
	p, err := v.Verify(&mixed, a.nonce, a.key.Public())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := a.att.Activate(ctx, p.Challenge); !errors.Is(err, tpm.ErrActivation) {
		t.Errorf("the simulator (AK, not EK) activated: %v", err)
	}
	answer, err := b.att.Activate(ctx, p.Challenge)
	if err == nil {
		t.Errorf("the swtpm (EK, not AK) activated")
	}
	if _, err := p.Complete(answer); !errors.Is(err, attest.ErrActivationFailed) {
		t.Fatalf("Complete: %v", err)
	}

	// And a challenge made for one TPM, answered by the other.
	ha, _ := attest.EKPublicKeyHash(a.att.Evidence.EKPublic)
	v, _ = attest.NewVerifier(attest.Policy{EKAllowlist: []string{ha, hb}})
	pa, err := v.Verify(&a.att.Evidence, a.nonce, a.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.att.Activate(ctx, pa.Challenge); !errors.Is(err, tpm.ErrActivation) {
		t.Errorf("swtpm answered the simulator's challenge: %v", err)
	}
	if _, err := pa.Complete(make([]byte, attest.ActivationSecretSize)); !errors.Is(err, attest.ErrActivationFailed) {
		t.Errorf("guessed secret: %v", err)
	}
}
