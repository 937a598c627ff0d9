package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA is a TPM manufacturer's CA made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Test TPM Maker"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// writePEM writes the CA's certificate into dir as name.
func (ca *testCA) writePEM(t testing.TB, dir, name string) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// utf8 is an ASN.1 UTF8String, as the TCG profile writes TPM attributes.
func utf8(s string) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagUTF8String, Bytes: []byte(s)}
}

// tcgSAN is a TCG EK certificate subject-alternative-name: one
// directoryName holding the TPM attributes, each in its own RDN.
func tcgSAN(t testing.TB, info TPMInfo) []byte {
	t.Helper()
	type atv struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	rdns := [][]atv{
		{{oidTPMManufacturer, utf8(info.Manufacturer)}},
		{{oidTPMModel, utf8(info.Model)}},
		{{oidTPMVersion, utf8(info.FirmwareVersion)}},
	}
	// Each RDN is a SET OF AttributeTypeAndValue.
	var rdnSeq []asn1.RawValue
	for _, rdn := range rdns {
		b, err := asn1.MarshalWithParams(rdn, "set")
		if err != nil {
			t.Fatal(err)
		}
		rdnSeq = append(rdnSeq, asn1.RawValue{FullBytes: b})
	}
	name, err := asn1.Marshal(rdnSeq)
	if err != nil {
		t.Fatal(err)
	}
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		t.Fatal(err)
	}
	return san
}

// issueEK issues a TCG-format EK certificate for pub: empty subject,
// critical SAN with the TPM attributes, EKU tcg-kp-EKCertificate.
func (ca *testCA) issueEK(t testing.TB, pub crypto.PublicKey, info TPMInfo, mutate ...func(*x509.Certificate)) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageKeyAgreement | x509.KeyUsageKeyEncipherment,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{oidEKCertificateEKU},
		ExtraExtensions: []pkix.Extension{
			{Id: oidSubjectAltName, Critical: true, Value: tcgSAN(t, info)},
		},
	}
	for _, m := range mutate {
		m(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

var testTPMInfo = TPMInfo{Manufacturer: "id:414D4300", Model: "Test vTPM", FirmwareVersion: "id:00020008"}
