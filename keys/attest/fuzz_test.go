package attest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// FuzzVerify feeds arbitrary evidence documents to Verify: whatever the
// bytes, it must return an error or a Pending, never panic.
func FuzzVerify(f *testing.F) {
	ft := newFakeTPM(f)
	ca := newTestCA(f, "Fuzz Root")
	ft.ekCert = ca.issueEK(f, &ft.ek.PublicKey, testTPMInfo)
	nonce := make([]byte, 32)
	doc, err := json.Marshal(ft.evidence(f, nonce))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(doc)
	f.Add([]byte(`{"version":1,"ekPublic":"AA==","akPublic":"AA==","keyPublic":"AA==","certifyInfo":"/1RDRw==","certifySignature":"AA=="}`))
	h, _ := EKPublicKeyHash(tpm2.Marshal(ft.ekPublic()))
	v, err := NewVerifier(Policy{Roots: ca.pool(), EKAllowlist: []string{h}, Now: func() time.Time { return time.Now() }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseEvidence(data)
		if err != nil {
			return
		}
		_, _ = v.Verify(ev, nonce, &ft.key.PublicKey)
		_, _ = ev.CertifiedKey()
	})
}

// FuzzTPMStructures feeds arbitrary bytes to each TPM parser this package
// uses.
func FuzzTPMStructures(f *testing.F) {
	ft := newFakeTPM(f)
	f.Add(tpm2.Marshal(ft.ekPublic()))
	f.Add(tpm2.Marshal(ft.akPublic()))
	f.Add(ft.certifyInfo(f, make([]byte, 32)))
	f.Add(ft.sign(f, []byte("x")))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decodeTPM[tpm2.TPMTPublic](data)
		_, _ = decodeTPM[tpm2.TPMSAttest](data)
		_, _ = decodeTPM[tpm2.TPMTSignature](data)
		_, _ = EKPublicKeyHash(data)
		_, _ = ObjectName(data)
		_, _ = parseTCGSubjectAltName(data)
		if pub, err := decodeTPM[tpm2.TPMTPublic](data); err == nil {
			_, _ = checkEKShape(pub)
			_, _, _ = checkAK(data)
		}
	})
}
