package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// maxTPMStructure bounds any one TPM structure this package parses. The
// largest it reads is an RSA-2048 TPMT_PUBLIC (about 300 bytes) or its
// signature; a TPM's own limit for these is a few KiB.
const maxTPMStructure = 4096

// decodeTPM parses one TPM wire-format structure with go-tpm's Unmarshal and
// insists that the input is canonical: exactly the bytes that marshalling
// the parsed value gives back, with nothing trailing. Names and signatures
// are computed over these exact bytes, so anything else would let two
// different byte strings stand for one structure. A panic inside go-tpm is
// turned into an error: the input is hostile until proven otherwise.
func decodeTPM[T tpm2.Marshallable, P interface {
	*T
	tpm2.Unmarshallable
}](data []byte) (out *T, err error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("empty")
	}
	if len(data) > maxTPMStructure {
		return nil, fmt.Errorf("%d bytes, limit %d", len(data), maxTPMStructure)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("go-tpm: %v", r)
		}
	}()
	v, err := tpm2.Unmarshal[T, P](data)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(tpm2.Marshal(*v), data) {
		return nil, fmt.Errorf("not canonical (trailing or non-minimal bytes)")
	}
	return v, nil
}

// eccPublic returns the P-256 public key of an ECC TPMT_PUBLIC, with its
// point checked to be on the curve (go-tpm's ECDSAPub does not check).
func eccPublic(pub *tpm2.TPMTPublic) (*ecdsa.PublicKey, *tpm2.TPMSECCParms, error) {
	parms, err := pub.Parameters.ECCDetail()
	if err != nil {
		return nil, nil, err
	}
	if parms.CurveID != tpm2.TPMECCNistP256 {
		return nil, nil, fmt.Errorf("curve 0x%04x, want NIST P-256", uint16(parms.CurveID))
	}
	point, err := pub.Unique.ECC()
	if err != nil {
		return nil, nil, err
	}
	if len(point.X.Buffer) > 32 || len(point.Y.Buffer) > 32 {
		return nil, nil, fmt.Errorf("P-256 coordinate longer than 32 bytes")
	}
	// SEC 1 uncompressed point, which crypto/ecdsa parses and checks.
	raw := make([]byte, 65)
	raw[0] = 4
	copy(raw[33-len(point.X.Buffer):33], point.X.Buffer)
	copy(raw[65-len(point.Y.Buffer):], point.Y.Buffer)
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, nil, err
	}
	return k, parms, nil
}

// rsaPublic returns the RSA-2048 public key of an RSA TPMT_PUBLIC.
func rsaPublic(pub *tpm2.TPMTPublic) (*rsa.PublicKey, *tpm2.TPMSRSAParms, error) {
	parms, err := pub.Parameters.RSADetail()
	if err != nil {
		return nil, nil, err
	}
	if parms.KeyBits != 2048 {
		return nil, nil, fmt.Errorf("RSA-%d, want RSA-2048", parms.KeyBits)
	}
	if parms.Exponent != 0 && parms.Exponent != 65537 {
		return nil, nil, fmt.Errorf("RSA exponent %d, want 65537", parms.Exponent)
	}
	n, err := pub.Unique.RSA()
	if err != nil {
		return nil, nil, err
	}
	k, err := tpm2.RSAPub(parms, n)
	if err != nil {
		return nil, nil, err
	}
	if k.N.BitLen() != 2048 {
		return nil, nil, fmt.Errorf("RSA modulus of %d bits, want 2048", k.N.BitLen())
	}
	return k, parms, nil
}

// publicKey returns the crypto public key of an ECC P-256 or RSA-2048
// TPMT_PUBLIC.
func publicKey(pub *tpm2.TPMTPublic) (crypto.PublicKey, error) {
	switch pub.Type {
	case tpm2.TPMAlgECC:
		k, _, err := eccPublic(pub)
		return k, err
	case tpm2.TPMAlgRSA:
		k, _, err := rsaPublic(pub)
		return k, err
	}
	return nil, fmt.Errorf("key type 0x%04x, want ECC or RSA", uint16(pub.Type))
}

// objectName is the TPM Name of pub (nameAlg followed by the digest of the
// TPMT_PUBLIC), which is how the TPM refers to an object in TPMS_ATTEST and
// in credential activation.
func objectName(pub *tpm2.TPMTPublic) ([]byte, error) {
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		return nil, err
	}
	return name.Buffer, nil
}

// ObjectName returns the TPM Name of a TPMT_PUBLIC in wire format: the
// two-byte name algorithm (0x000B for SHA-256) followed by the digest of the
// marshalled public area. TPM2_Certify names the certified key this way and
// credential activation binds its secret to the AK's Name.
func ObjectName(tpmtPublic []byte) ([]byte, error) {
	pub, err := decodeTPM[tpm2.TPMTPublic](tpmtPublic)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEvidenceFormat, err)
	}
	name, err := objectName(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEvidenceFormat, err)
	}
	return name, nil
}
