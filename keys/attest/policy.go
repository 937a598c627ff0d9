package attest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// DefaultActivationTTL is how long a Pending activation can be completed
// when Policy.ActivationTTL is zero.
const DefaultActivationTTL = 5 * time.Minute

// maxRootFile bounds one file of a roots directory.
const maxRootFile = 1 << 20

// Policy is what a Verifier trusts.
//
// An EK is trusted in one of two ways. Through its certificate, when the
// evidence carries one: it must chain to Roots (a manufacturer's CA, see
// LoadRoots). Or through EKAllowlist: an organization admin registers the
// EK of a TPM they know (a vTPM, or a TPM whose maker issues no
// certificates) by its EKPublicKeyHash. Evidence whose certificate does not
// chain can still be trusted through the allowlist; a certificate that is
// malformed or names another key is always refused.
type Policy struct {
	// Roots are the trusted TPM manufacturer certificates. Nil trusts no
	// certificate.
	Roots *x509.CertPool
	// EKAllowlist holds EKPublicKeyHash values (64 hex digits, any case).
	EKAllowlist []string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// ActivationTTL is how long the agent has to answer the activation
	// challenge; zero is DefaultActivationTTL.
	ActivationTTL time.Duration
	// Nonces, when set, makes Verify consume the nonce from this set, so
	// that a nonce verifies evidence once. Nil leaves tracking nonces to the
	// caller (the issuer service persists them in its database).
	Nonces *NonceSet
	// Rand is the randomness for activation secrets; nil is crypto/rand.
	Rand io.Reader
}

// Verifier checks attestation evidence under a Policy. It is safe for
// concurrent use.
type Verifier struct {
	roots  *x509.CertPool
	allow  map[[sha256.Size]byte]bool
	now    func() time.Time
	ttl    time.Duration
	nonces *NonceSet
	rand   io.Reader
}

// NewVerifier checks the policy and returns its Verifier. Errors wrap
// ErrEKHash for an allowlist entry that is not a SHA-256 hex digest.
func NewVerifier(p Policy) (*Verifier, error) {
	v := &Verifier{
		roots:  p.Roots,
		allow:  make(map[[sha256.Size]byte]bool, len(p.EKAllowlist)),
		now:    p.Now,
		ttl:    p.ActivationTTL,
		nonces: p.Nonces,
		rand:   p.Rand,
	}
	for _, h := range p.EKAllowlist {
		d, err := ParseEKHash(h)
		if err != nil {
			return nil, err
		}
		v.allow[d] = true
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.ttl <= 0 {
		v.ttl = DefaultActivationTTL
	}
	if v.rand == nil {
		v.rand = rand.Reader
	}
	return v, nil
}

// ParseEKHash parses one EK allowlist entry: the 64 hex digits of an
// EKPublicKeyHash, in either case, with an optional "sha256:" prefix.
// Errors wrap ErrEKHash.
func ParseEKHash(s string) ([sha256.Size]byte, error) {
	var d [sha256.Size]byte
	s = strings.TrimPrefix(strings.TrimSpace(s), "sha256:")
	if len(s) != 2*sha256.Size {
		return d, fmt.Errorf("%w: %q has %d characters, want 64", ErrEKHash, s, len(s))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("%w: %q: %v", ErrEKHash, s, err)
	}
	return d, nil
}

// EKPublicKeyHash is how an EK is named on an allowlist: the lowercase hex of
// the SHA-256 of the DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) of the EK's
// public key, given as its TPMT_PUBLIC (Evidence.EKPublic). It is the same
// value for the EK certificate's key, so an admin can compute it from a
// certificate too:
//
//	openssl x509 -in ek.pem -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum
//
// Hashing the key rather than the TPMT_PUBLIC keeps the hash independent of
// the EK template (attributes, policy) the TPM was asked to create it with.
// Errors wrap ErrEKPublicMalformed or ErrEKKeyType.
func EKPublicKeyHash(ekPublic []byte) (string, error) {
	pub, err := decodeTPM[tpm2.TPMTPublic](ekPublic)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrEKPublicMalformed, err)
	}
	d, err := ekKeyHash(pub)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(d[:]), nil
}

// ekKeyHash is EKPublicKeyHash of a parsed EK.
func ekKeyHash(pub *tpm2.TPMTPublic) ([sha256.Size]byte, error) {
	k, err := publicKey(pub)
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("%w: %v", ErrEKKeyType, err)
	}
	spki, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("%w: %v", ErrEKKeyType, err)
	}
	return sha256.Sum256(spki), nil
}

// LoadRoots reads the TPM roots from a directory: every regular file in it
// (not its subdirectories; names starting with "." are skipped) holds one or
// more PEM "CERTIFICATE" blocks, or one DER certificate, as manufacturers
// publish them. Every certificate loaded is a trust anchor, so put a
// manufacturer's intermediate CAs in the directory too when its EK
// certificates are issued by one (the verifier never fetches the
// certificates an EK certificate's AIA extension points to). Errors wrap
// ErrRoots; a directory without any certificate is an error too.
func LoadRoots(dir string) (*x509.CertPool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRoots, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	pool := x509.NewCertPool()
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		certs, err := readCertificates(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrRoots, path, err)
		}
		for _, c := range certs {
			pool.AddCert(c)
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no certificates in %s", ErrRoots, dir)
	}
	return pool, nil
}

// readCertificates parses one roots file: PEM certificates, or one DER
// certificate.
func readCertificates(path string) ([]*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRootFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRootFile {
		return nil, fmt.Errorf("larger than %d bytes", maxRootFile)
	}
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q, want CERTIFICATE", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) > 0 {
		return certs, nil
	}
	c, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("neither PEM nor a DER certificate: %v", err)
	}
	return []*x509.Certificate{c}, nil
}
