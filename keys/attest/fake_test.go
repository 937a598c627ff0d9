package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// This file builds evidence in software, without a TPM: the structures are
// go-tpm's, marshalled as a TPM would, and the "AK" is an ordinary ECDSA key
// signing the TPMS_ATTEST. It exercises every check of Verify except
// activation (which needs a TPM to decrypt; see the emulator tests).

// fixedPoint pads a big-endian coordinate to 32 bytes, as TPMs do.
func fixedPoint(k *ecdsa.PublicKey) *tpm2.TPMSECCPoint {
	raw, err := k.Bytes()
	if err != nil {
		panic(err)
	}
	return &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: raw[1:33]},
		Y: tpm2.TPM2BECCParameter{Buffer: raw[33:]},
	}
}

var nullSym = tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull}

// eccEKPublic is the TCG L-2 EK template with k as its key.
func eccEKPublic(k *ecdsa.PublicKey) tpm2.TPMTPublic {
	p := tpm2.ECCEKTemplate
	p.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, fixedPoint(k))
	return p
}

// rsaEKPublic is the TCG L-1 EK template with k as its key.
func rsaEKPublic(k *rsa.PublicKey) tpm2.TPMTPublic {
	p := tpm2.RSAEKTemplate
	p.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.Bytes()})
	return p
}

// akAttrs are the attributes of a well-made AK.
var akAttrs = tpm2.TPMAObject{
	FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
	UserWithAuth: true, Restricted: true, SignEncrypt: true,
}

// keyAttrs are the attributes of a well-made agent key.
var keyAttrs = tpm2.TPMAObject{
	FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
	UserWithAuth: true, SignEncrypt: true,
}

// eccSigningPublic is an ECC P-256 ECDSA-SHA256 signing key's public area.
func eccSigningPublic(k *ecdsa.PublicKey, attrs tpm2.TPMAObject) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgECC,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: nullSym,
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
			KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, fixedPoint(k)),
	}
}

// rsaAKPublic is an RSA-2048 RSASSA-SHA256 AK's public area.
func rsaAKPublic(k *rsa.PublicKey) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgRSA,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: akAttrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: nullSym,
			Scheme: tpm2.TPMTRSAScheme{
				Scheme:  tpm2.TPMAlgRSASSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			KeyBits: 2048,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.Bytes()}),
	}
}

// fakeTPM holds the private halves of a software "TPM"'s keys.
type fakeTPM struct {
	ek     *ecdsa.PrivateKey // nil when rsaEK is set
	rsaEK  *rsa.PrivateKey
	ak     *ecdsa.PrivateKey // nil when rsaAK is set
	rsaAK  *rsa.PrivateKey
	key    *ecdsa.PrivateKey
	ekCert []byte

	// Mutations applied before signing.
	keyAttrs *tpm2.TPMAObject
	akAttrs  *tpm2.TPMAObject
}

func newFakeTPM(t testing.TB) *fakeTPM {
	t.Helper()
	gen := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return &fakeTPM{ek: gen(), ak: gen(), key: gen()}
}

func (f *fakeTPM) ekPublic() tpm2.TPMTPublic {
	if f.rsaEK != nil {
		return rsaEKPublic(&f.rsaEK.PublicKey)
	}
	return eccEKPublic(&f.ek.PublicKey)
}

func (f *fakeTPM) akPublic() tpm2.TPMTPublic {
	if f.rsaAK != nil {
		return rsaAKPublic(&f.rsaAK.PublicKey)
	}
	a := akAttrs
	if f.akAttrs != nil {
		a = *f.akAttrs
	}
	return eccSigningPublic(&f.ak.PublicKey, a)
}

func (f *fakeTPM) keyPublic() tpm2.TPMTPublic {
	a := keyAttrs
	if f.keyAttrs != nil {
		a = *f.keyAttrs
	}
	return eccSigningPublic(&f.key.PublicKey, a)
}

// certifyInfo is the TPMS_ATTEST TPM2_Certify would produce.
func (f *fakeTPM) certifyInfo(t testing.TB, nonce []byte) []byte {
	t.Helper()
	kp := f.keyPublic()
	name, err := tpm2.ObjectName(&kp)
	if err != nil {
		t.Fatal(err)
	}
	return tpm2.Marshal(tpm2.TPMSAttest{
		Magic:           tpm2.TPMGeneratedValue,
		Type:            tpm2.TPMSTAttestCertify,
		QualifiedSigner: tpm2.TPM2BName{Buffer: append([]byte{0, 0x0b}, make([]byte, 32)...)},
		ExtraData:       tpm2.TPM2BData{Buffer: nonce},
		ClockInfo:       tpm2.TPMSClockInfo{Clock: 1234, Safe: true},
		FirmwareVersion: 0x2000_0001_0002_0003,
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestCertify, &tpm2.TPMSCertifyInfo{
			Name:          *name,
			QualifiedName: *name,
		}),
	})
}

// sign is the AK's TPMT_SIGNATURE over info.
func (f *fakeTPM) sign(t testing.TB, info []byte) []byte {
	t.Helper()
	d := sha256.Sum256(info)
	if f.rsaAK != nil {
		sig, err := rsa.SignPKCS1v15(rand.Reader, f.rsaAK, crypto.SHA256, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return tpm2.Marshal(tpm2.TPMTSignature{
			SigAlg: tpm2.TPMAlgRSASSA,
			Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSASSA, &tpm2.TPMSSignatureRSA{
				Hash: tpm2.TPMAlgSHA256, Sig: tpm2.TPM2BPublicKeyRSA{Buffer: sig},
			}),
		})
	}
	r, s, err := ecdsa.Sign(rand.Reader, f.ak, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return tpm2.Marshal(tpm2.TPMTSignature{
		SigAlg: tpm2.TPMAlgECDSA,
		Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{
			Hash:       tpm2.TPMAlgSHA256,
			SignatureR: tpm2.TPM2BECCParameter{Buffer: r.FillBytes(make([]byte, 32))},
			SignatureS: tpm2.TPM2BECCParameter{Buffer: s.FillBytes(make([]byte, 32))},
		}),
	})
}

// evidence is complete evidence over nonce.
func (f *fakeTPM) evidence(t testing.TB, nonce []byte) *Evidence {
	t.Helper()
	info := f.certifyInfo(t, nonce)
	return &Evidence{
		Version:          EvidenceVersion,
		EKCertificate:    f.ekCert,
		EKPublic:         tpm2.Marshal(f.ekPublic()),
		AKPublic:         tpm2.Marshal(f.akPublic()),
		KeyPublic:        tpm2.Marshal(f.keyPublic()),
		CertifyInfo:      info,
		CertifySignature: f.sign(t, info),
	}
}
