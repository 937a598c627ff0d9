package attest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

func TestParseEKCertificate(t *testing.T) {
	ca := newTestCA(t, "Test EK Root")
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der := ca.issueEK(t, &k.PublicKey, testTPMInfo)

	// Go's x509 alone refuses the TCG certificate: its SAN is critical and
	// holds only a directoryName.
	raw, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw.UnhandledCriticalExtensions) != 1 {
		t.Fatalf("Go left %v unhandled, want the SAN", raw.UnhandledCriticalExtensions)
	}
	_, err = raw.Verify(x509.VerifyOptions{Roots: ca.pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	var uce x509.UnhandledCriticalExtension
	if !errors.As(err, &uce) {
		t.Fatalf("plain x509 Verify = %v, want UnhandledCriticalExtension", err)
	}

	cert, info, err := ParseEKCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if info != testTPMInfo {
		t.Errorf("info = %+v", info)
	}
	if len(cert.UnhandledCriticalExtensions) != 0 {
		t.Errorf("left %v", cert.UnhandledCriticalExtensions)
	}
	if err := verifyEKChain(cert, ca.pool(), cert.NotBefore.Add(1)); err != nil {
		t.Error(err)
	}
	if err := checkEKUsage(cert); err != nil {
		t.Error(err)
	}
}

func TestParseTCGSubjectAltName(t *testing.T) {
	type atv struct {
		Type  asn1.ObjectIdentifier
		Value any
	}
	dirName := func(rdns ...[]atv) asn1.RawValue {
		var seq []asn1.RawValue
		for _, rdn := range rdns {
			b, err := asn1.MarshalWithParams(rdn, "set")
			if err != nil {
				t.Fatal(err)
			}
			seq = append(seq, asn1.RawValue{FullBytes: b})
		}
		b, err := asn1.Marshal(seq)
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: b}
	}
	san := func(names ...asn1.RawValue) []byte {
		b, err := asn1.Marshal(names)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	dns := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("tpm.example")}

	// One RDN holding all three attributes (PrintableString), as some
	// manufacturers write it, next to a DNS name.
	got, err := parseTCGSubjectAltName(san(dns, dirName([]atv{
		{oidTPMManufacturer, "id:49465800"}, {oidTPMModel, "SLB9670"}, {oidTPMVersion, "id:00070055"},
	})))
	if err != nil {
		t.Fatal(err)
	}
	if want := (TPMInfo{"id:49465800", "SLB9670", "id:00070055"}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}

	for name, value := range map[string][]byte{
		"duplicate manufacturer":  san(dirName([]atv{{oidTPMManufacturer, "a"}}, []atv{{oidTPMManufacturer, "b"}})),
		"integer model":           san(dirName([]atv{{oidTPMModel, 42}})),
		"trailing bytes":          append(san(dns), 0),
		"not a sequence":          {0x05, 0x00},
		"primitive directoryName": san(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, Bytes: []byte{1}}),
	} {
		if _, err := parseTCGSubjectAltName(value); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestEKPublicKeyHash(t *testing.T) {
	f := newFakeTPM(t)
	ca := newTestCA(t, "Test EK Root")
	cert, _, err := ParseEKCertificate(ca.issueEK(t, &f.ek.PublicKey, testTPMInfo))
	if err != nil {
		t.Fatal(err)
	}
	got, err := EKPublicKeyHash(tpm2.Marshal(f.ekPublic()))
	if err != nil {
		t.Fatal(err)
	}
	// The definition: SHA-256 of the DER SubjectPublicKeyInfo, which is
	// what the EK certificate carries.
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	if got != hex.EncodeToString(sum[:]) {
		t.Errorf("hash %s, certificate SPKI hash %x", got, sum)
	}
	if _, err := EKPublicKeyHash([]byte{0, 1}); !errors.Is(err, ErrEKPublicMalformed) {
		t.Errorf("garbage: %v", err)
	}
	if d, err := ParseEKHash(" SHA256:" + got); err == nil {
		t.Errorf("upper-case prefix accepted: %x", d)
	}
	for _, bad := range []string{"", "abc", got[:63] + "g", got + "00"} {
		if _, err := ParseEKHash(bad); !errors.Is(err, ErrEKHash) {
			t.Errorf("ParseEKHash(%q) = %v", bad, err)
		}
	}
	if _, err := NewVerifier(Policy{EKAllowlist: []string{"nope"}}); !errors.Is(err, ErrEKHash) {
		t.Errorf("NewVerifier with a bad hash: %v", err)
	}
}

func TestObjectName(t *testing.T) {
	f := newFakeTPM(t)
	pub := tpm2.Marshal(f.keyPublic())
	name, err := ObjectName(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pub)
	if want := append([]byte{0x00, 0x0b}, sum[:]...); string(name) != string(want) {
		t.Errorf("name %x, want %x", name, want)
	}
	if _, err := ObjectName(append(pub, 0)); !errors.Is(err, ErrEvidenceFormat) {
		t.Errorf("trailing byte: %v", err)
	}
}

func TestLoadRoots(t *testing.T) {
	a, b := newTestCA(t, "A"), newTestCA(t, "B")
	dir := t.TempDir()
	a.writePEM(t, dir, "a.pem")
	if err := os.WriteFile(filepath.Join(dir, "b.cer"), b.cert.Raw, 0o644); err != nil { // DER
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".hidden"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	pool, err := LoadRoots(dir)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, ca := range []*testCA{a, b} {
		cert, _, err := ParseEKCertificate(ca.issueEK(t, &k.PublicKey, testTPMInfo))
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyEKChain(cert, pool, cert.NotBefore.Add(1)); err != nil {
			t.Errorf("%s: %v", ca.cert.Subject.CommonName, err)
		}
	}

	if _, err := LoadRoots(t.TempDir()); !errors.Is(err, ErrRoots) {
		t.Errorf("empty directory: %v", err)
	}
	if _, err := LoadRoots(filepath.Join(dir, "missing")); !errors.Is(err, ErrRoots) {
		t.Errorf("missing directory: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRoots(dir); !errors.Is(err, ErrRoots) {
		t.Errorf("directory with a key file: %v", err)
	}
}
