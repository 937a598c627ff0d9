// Package tpmtest gives tests real TPMs to run against: the reference
// simulator in the test process (Simulator; needs cgo) and swtpm as a
// separate process over TCP (Swtpm), and a test certificate authority that
// provisions a TCG-format EK certificate into either, the way a TPM
// manufacturer does (NewTestCA, ProvisionEKCertificate).
//
// These helpers fail the test, never skip it, when a TPM cannot be had: CI
// installs gcc, libc6-dev, libssl-dev, swtpm and swtpm-tools, and a TPM test
// that silently skips proves nothing.
package tpmtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/agentid/agentid/keys/tpm"
)

// Simulator opens the process's shared in-process simulator and closes this
// handle on cleanup. There is one simulator per process, shared by every
// test (and kept for the whole process): tests running in parallel on it
// see each other's NV indices, and must keep their loaded keys few (three
// transient object slots; see package tpm).
func Simulator(t testing.TB) *tpm.TPM {
	t.Helper()
	tp, err := tpm.Open(tpm.SimulatorURI)
	if err != nil {
		t.Fatalf("open TPM simulator (needs CGO_ENABLED=1, gcc and libssl-dev): %v", err)
	}
	t.Cleanup(func() { _ = tp.Close() })
	return tp
}

// Swtpm starts a fresh swtpm (its state in a temporary directory) on a free
// loopback port pair, command channel PORT and control channel PORT+1,
// stops it on cleanup, and returns its device string "swtpm://127.0.0.1:PORT".
// It fails the test when swtpm is not installed.
func Swtpm(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		t.Fatalf("swtpm is not installed (apt-get install swtpm swtpm-tools): %v", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePortPair()
		if err != nil {
			lastErr = err
			continue
		}
		uri, err := startSwtpm(t, bin, port)
		if err == nil {
			return uri
		}
		lastErr = err
	}
	t.Fatalf("start swtpm: %v", lastErr)
	return ""
}

// freePortPair finds a port p such that p and p+1 are both free on
// 127.0.0.1 (at the moment of asking).
func freePortPair() (int, error) {
	for i := 0; i < 20; i++ {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		_ = l1.Close()
		if err == nil {
			_ = l2.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free loopback port pair")
}

// startSwtpm runs swtpm on port and port+1 and waits until its command
// channel accepts connections.
func startSwtpm(t testing.TB, bin string, port int) (string, error) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "socket", "--tpm2",
		"--server", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(port),
		"--ctrl", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(port+1),
		"--flags", "not-need-init,startup-clear",
		"--tpmstate", "dir="+dir)
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			return "", fmt.Errorf("swtpm exited: %v: %s", err, stderr.String())
		default:
		}
		// Probe the control channel, not the command channel: swtpm
		// serves one command connection at a time, and a probe there would
		// be that connection until swtpm notices it closed.
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)), time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("swtpm on %s did not come up: %v: %s", addr, err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(stop)
	return "swtpm://" + addr, nil
}

// Each runs f as a subtest on every emulator: "sim" (the shared simulator)
// and "swtpm" (a fresh swtpm for this call).
func Each(t *testing.T, f func(t *testing.T, tp *tpm.TPM)) {
	t.Helper()
	t.Run("sim", func(t *testing.T) { f(t, Simulator(t)) })
	t.Run("swtpm", func(t *testing.T) {
		tp, err := tpm.Open(Swtpm(t))
		if err != nil {
			t.Fatalf("open swtpm: %v", err)
		}
		t.Cleanup(func() { _ = tp.Close() })
		f(t, tp)
	})
}

// NewTestCA makes a self-signed ECDSA P-256 CA certificate, valid for a
// day, standing in for a TPM manufacturer's root.
func NewTestCA(t testing.TB) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(t),
		Subject:               pkix.Name{Organization: []string{"agentid test TPM manufacturer"}, CommonName: "agentid test EK root CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func randomSerial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

// OIDs of the TCG EK Credential Profile.
var (
	// OIDTPMManufacturer, OIDTPMModel and OIDTPMVersion are the attributes
	// of the directoryName in an EK certificate's subject alternative name.
	OIDTPMManufacturer = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	OIDTPMModel        = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	OIDTPMVersion      = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	// OIDEKCertificate is the extended key usage tcg-kp-EKCertificate.
	OIDEKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
	// oidSubjectAltName is id-ce-subjectAltName.
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// ProvisionEKCertificate issues a TCG-format certificate for the TPM's ECC
// EK, signed by ca, writes it to NV index 0x01C0000A, and returns it.
// It replaces a certificate already there (the simulator is shared: tests
// that provision different CAs must not run in parallel on it).
func ProvisionEKCertificate(t testing.TB, tp *tpm.TPM, ca *x509.Certificate, caKey crypto.Signer) *x509.Certificate {
	t.Helper()
	return ProvisionEKCertificateKind(t, tp, tpm.EKECC, ca, caKey)
}

// ProvisionEKCertificateKind is ProvisionEKCertificate for an EK of kind
// tpm.EKECC (NV 0x01C0000A) or tpm.EKRSA (NV 0x01C00002).
//
// The certificate follows the TCG EK Credential Profile: an empty subject;
// a critical subject alternative name whose directoryName holds the TPM's
// manufacturer ("id:" and the TPM_PT_MANUFACTURER value in hex), model (the
// vendor string) and version ("id:" and TPM_PT_FIRMWARE_VERSION_1 in hex);
// key usage keyEncipherment (RSA) or keyAgreement (ECC); extended key usage
// tcg-kp-EKCertificate; basic constraints cA FALSE.
func ProvisionEKCertificateKind(t testing.TB, tp *tpm.TPM, kind tpm.EKKind, ca *x509.Certificate, caKey crypto.Signer) *x509.Certificate {
	t.Helper()
	ctx := context.Background()
	pubArea, _, err := tp.EKPublic(ctx, kind)
	if err != nil {
		t.Fatalf("EK public: %v", err)
	}
	pub, err := tpm2.Pub(pubArea)
	if err != nil {
		t.Fatalf("EK public key: %v", err)
	}
	info, err := tp.Info(ctx)
	if err != nil {
		t.Fatalf("TPM info: %v", err)
	}
	san, err := ekSAN(info)
	if err != nil {
		t.Fatalf("EK certificate SAN: %v", err)
	}
	ku := x509.KeyUsageKeyAgreement
	if kind == tpm.EKRSA {
		ku = x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(t),
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              ku,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{OIDEKCertificate},
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: oidSubjectAltName, Critical: true, Value: san}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		t.Fatalf("issue EK certificate: %v", err)
	}
	if err := tp.WriteEKCertificate(ctx, kind, der); err != nil {
		t.Fatalf("provision EK certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse EK certificate: %v", err)
	}
	return cert
}

// ekSAN encodes the subject alternative name of an EK certificate:
// GeneralNames { directoryName [4] Name { RDN { manufacturer }, RDN { model },
// RDN { version } } }, each value a UTF8String.
func ekSAN(info tpm.Info) ([]byte, error) {
	attrs := []struct {
		oid asn1.ObjectIdentifier
		val string
	}{
		{OIDTPMManufacturer, fmt.Sprintf("id:%08X", info.Manufacturer)},
		{OIDTPMModel, info.Vendor},
		{OIDTPMVersion, fmt.Sprintf("id:%08X", info.FirmwareVersion1)},
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
		b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { // directoryName
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // RDNSequence
				for _, a := range attrs {
					b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(a.oid)
							b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(a.val)) })
						})
					})
				}
			})
		})
	})
	return b.Bytes()
}
