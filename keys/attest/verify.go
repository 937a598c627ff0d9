package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math/big"

	"github.com/google/go-tpm/tpm2"
)

// Nonce sizes Verify accepts. TPM2_Certify's qualifyingData is a
// TPM2B_DATA, which a TPM limits to the size of its largest digest; 32
// bytes fits every TPM.
const (
	MinNonceSize = 16
	MaxNonceSize = 64
)

// Trust methods: how the EK came to be trusted.
const (
	MethodEKCertificate = "ek-certificate"
	MethodEKAllowlist   = "ek-allowlist"
	MethodSoftware      = "software"
)

// Assurance levels.
const (
	LevelHardware = "hardware"
	LevelSoftware = "software"
)

// Facts is what verified evidence says before activation: everything except
// that the AK and the EK are in one TPM, which only Pending.Complete proves.
// Do not record an agent as hardware-bound from Facts; use the Assurance
// that Complete returns.
type Facts struct {
	// Method is MethodEKCertificate or MethodEKAllowlist.
	Method string `json:"method"`
	// TPMInfo is from the EK certificate when Method is
	// MethodEKCertificate, and empty otherwise: the certificate's claims
	// count only when its chain verified.
	TPMInfo
	// EKCertificateSHA256 is the hex SHA-256 of the DER EK certificate, when
	// the evidence has one and it chained to a root.
	EKCertificateSHA256 string `json:"ekCertificateSha256,omitempty"`
	// EKPublicKeySHA256 is the EKPublicKeyHash of the EK.
	EKPublicKeySHA256 string `json:"ekPublicKeySha256"`
	// EKType is "ecc-p256" or "rsa-2048".
	EKType string `json:"ekType"`
	// AKName is the hex TPM Name of the AK, to which activation is bound.
	AKName string `json:"akName"`
	// KeyName is the hex TPM Name of the certified agent key.
	KeyName string `json:"keyName"`
	// TPMFirmware is TPMS_ATTEST's firmwareVersion (vendor-specific), in hex.
	TPMFirmware string `json:"tpmFirmware"`
}

// verified is the result of the checks of Evidence, before activation.
type verified struct {
	facts  Facts
	ek     *tpm2.TPMTPublic
	akName []byte
}

// Verify checks evidence against the verifier's nonce and the agent key the
// agent claims (the public key of its did:key; resolve a did:key with
// didmethods.ParseDIDKey). It checks, in this order:
//
//  1. the nonce is fresh (when the Policy has a NonceSet);
//  2. the EK: a canonical TPMT_PUBLIC of an endorsement key; its certificate,
//     when present, parses (with its TCG subject-alternative-name), names
//     the same key and chains to the roots; otherwise (or when the chain
//     fails) the EK's hash is on the allowlist;
//  3. the AK: a restricted signing key that cannot leave its TPM;
//  4. the agent key: a P-256 signing key that cannot leave its TPM,
//     unrestricted and unable to decrypt, and the claimed key;
//  5. CertifyInfo: a TPM-generated certification of the agent key's Name,
//     over the nonce, signed by the AK.
//
// It does not prove that the AK is in the TPM of the EK: the Pending it
// returns holds the credential activation challenge that does, and Complete
// finishes the verification. Each failure wraps its own error (see
// errors.go).
func (v *Verifier) Verify(ev *Evidence, nonce []byte, claimed crypto.PublicKey) (*Pending, error) {
	r, err := v.verifyEvidence(ev, nonce, claimed)
	if err != nil {
		return nil, err
	}
	return v.challenge(r)
}

// VerifyEvidence runs every check of Verify but makes no activation
// challenge, for tools that only inspect evidence (agentid tpm verify). Its
// Facts do not prove the AK and the EK are in one TPM.
func (v *Verifier) VerifyEvidence(ev *Evidence, nonce []byte, claimed crypto.PublicKey) (Facts, error) {
	r, err := v.verifyEvidence(ev, nonce, claimed)
	if err != nil {
		return Facts{}, err
	}
	return r.facts, nil
}

func (v *Verifier) verifyEvidence(ev *Evidence, nonce []byte, claimed crypto.PublicKey) (*verified, error) {
	if ev == nil {
		return nil, fmt.Errorf("%w: no evidence", ErrEvidenceFormat)
	}
	if len(nonce) < MinNonceSize || len(nonce) > MaxNonceSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d to %d", ErrNonceLength, len(nonce), MinNonceSize, MaxNonceSize)
	}
	claimedKey, ok := claimed.(*ecdsa.PublicKey)
	if !ok || claimedKey == nil || claimedKey.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: want a P-256 *ecdsa.PublicKey, got %T", ErrClaimedKey, claimed)
	}
	if v.nonces != nil {
		if err := v.nonces.Consume(nonce); err != nil {
			return nil, err
		}
	}
	r := &verified{}
	var err error
	if r.ek, err = v.checkEK(ev, &r.facts); err != nil {
		return nil, err
	}
	ak, akKey, err := checkAK(ev.AKPublic)
	if err != nil {
		return nil, err
	}
	if r.akName, err = objectName(ak); err != nil {
		return nil, fmt.Errorf("%w: name: %v", ErrAKKeyType, err)
	}
	r.facts.AKName = hex.EncodeToString(r.akName)
	keyName, err := checkAgentKey(ev.KeyPublic, claimedKey)
	if err != nil {
		return nil, err
	}
	r.facts.KeyName = hex.EncodeToString(keyName)
	attest, err := checkCertifyInfo(ev.CertifyInfo, nonce, keyName)
	if err != nil {
		return nil, err
	}
	r.facts.TPMFirmware = fmt.Sprintf("%016x", attest.FirmwareVersion)
	if err := checkSignature(ak, akKey, ev.CertifyInfo, ev.CertifySignature); err != nil {
		return nil, err
	}
	return r, nil
}

// checkEK parses and checks the EK and decides how it is trusted.
func (v *Verifier) checkEK(ev *Evidence, f *Facts) (*tpm2.TPMTPublic, error) {
	ek, err := decodeTPM[tpm2.TPMTPublic](ev.EKPublic)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEKPublicMalformed, err)
	}
	ekKey, err := checkEKShape(ek)
	if err != nil {
		return nil, err
	}
	keyHash, err := ekKeyHash(ek)
	if err != nil {
		return nil, err
	}
	f.EKPublicKeySHA256 = hex.EncodeToString(keyHash[:])
	f.EKType = "ecc-p256"
	if ek.Type == tpm2.TPMAlgRSA {
		f.EKType = "rsa-2048"
	}

	var chainErr error
	if len(ev.EKCertificate) > 0 {
		cert, info, err := ParseEKCertificate(ev.EKCertificate)
		if err != nil {
			return nil, err
		}
		if !publicKeysEqual(cert.PublicKey, ekKey) {
			return nil, ErrEKCertificateKeyMismatch
		}
		if err := checkEKUsage(cert); err != nil {
			return nil, err
		}
		chainErr = verifyEKChain(cert, v.roots, v.now())
		if chainErr == nil {
			sum := sha256.Sum256(ev.EKCertificate)
			f.Method = MethodEKCertificate
			f.TPMInfo = info
			f.EKCertificateSHA256 = hex.EncodeToString(sum[:])
			return ek, nil
		}
	}
	if v.allow[keyHash] {
		f.Method = MethodEKAllowlist
		return ek, nil
	}
	if chainErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrEKNotTrusted, chainErr)
	}
	return nil, fmt.Errorf("%w: EK %s has no certificate", ErrEKNotTrusted, f.EKPublicKeySHA256)
}

// publicKeysEqual compares a certificate's key with a TPM key.
func publicKeysEqual(certKey any, tpmKey crypto.PublicKey) bool {
	k, ok := certKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(tpmKey)
}

// checkEKShape checks that ek looks like an endorsement key made from one of
// the TCG EK templates (TCG EK Credential Profile, templates L-1 and L-2 and
// their high-range equivalents H-1 and H-2): a restricted decryption key
// that cannot leave the TPM, ECC P-256 or RSA-2048, name algorithm SHA-256,
// and AES in CFB mode for the symmetric protection that credential
// activation uses. It returns the EK's public key.
func checkEKShape(ek *tpm2.TPMTPublic) (crypto.PublicKey, error) {
	a := ek.ObjectAttributes
	if !a.Restricted || !a.Decrypt || a.SignEncrypt || !a.FixedTPM || !a.FixedParent {
		return nil, fmt.Errorf("%w: want restricted, decrypt, not sign, fixedTPM, fixedParent", ErrEKKeyType)
	}
	if ek.NameAlg != tpm2.TPMAlgSHA256 {
		return nil, fmt.Errorf("%w: name algorithm 0x%04x, want SHA-256", ErrEKKeyType, uint16(ek.NameAlg))
	}
	var sym tpm2.TPMTSymDefObject
	var key crypto.PublicKey
	switch ek.Type {
	case tpm2.TPMAlgECC:
		k, parms, err := eccPublic(ek)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrEKKeyType, err)
		}
		key, sym = k, parms.Symmetric
	case tpm2.TPMAlgRSA:
		k, parms, err := rsaPublic(ek)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrEKKeyType, err)
		}
		key, sym = k, parms.Symmetric
	default:
		return nil, fmt.Errorf("%w: key type 0x%04x, want ECC or RSA", ErrEKKeyType, uint16(ek.Type))
	}
	if sym.Algorithm != tpm2.TPMAlgAES {
		return nil, fmt.Errorf("%w: symmetric algorithm 0x%04x, want AES", ErrEKKeyType, uint16(sym.Algorithm))
	}
	bits, err := sym.KeyBits.AES()
	if err != nil || (*bits != 128 && *bits != 256) {
		return nil, fmt.Errorf("%w: AES key size, want 128 or 256", ErrEKKeyType)
	}
	mode, err := sym.Mode.AES()
	if err != nil || *mode != tpm2.TPMAlgCFB {
		return nil, fmt.Errorf("%w: symmetric mode, want CFB", ErrEKKeyType)
	}
	return key, nil
}

// checkAK parses the AK and checks it is a restricted signing key that
// cannot leave its TPM: restricted means it signs only digests the TPM
// computed itself over structures that begin with TPM_GENERATED_VALUE, so a
// TPMS_ATTEST it signed is a TPM's statement, not the agent's.
func checkAK(akPublic []byte) (*tpm2.TPMTPublic, crypto.PublicKey, error) {
	ak, err := decodeTPM[tpm2.TPMTPublic](akPublic)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrAKPublicMalformed, err)
	}
	a := ak.ObjectAttributes
	if !a.Restricted || !a.SignEncrypt || a.Decrypt || !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin {
		return nil, nil, fmt.Errorf("%w: want restricted, sign, not decrypt, fixedTPM, fixedParent, sensitiveDataOrigin", ErrAKAttributes)
	}
	if ak.NameAlg != tpm2.TPMAlgSHA256 {
		return nil, nil, fmt.Errorf("%w: name algorithm 0x%04x, want SHA-256", ErrAKKeyType, uint16(ak.NameAlg))
	}
	switch ak.Type {
	case tpm2.TPMAlgECC:
		k, parms, err := eccPublic(ak)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrAKKeyType, err)
		}
		if parms.Scheme.Scheme != tpm2.TPMAlgECDSA {
			return nil, nil, fmt.Errorf("%w: scheme 0x%04x, want ECDSA", ErrAKKeyType, uint16(parms.Scheme.Scheme))
		}
		s, err := parms.Scheme.Details.ECDSA()
		if err != nil || s.HashAlg != tpm2.TPMAlgSHA256 {
			return nil, nil, fmt.Errorf("%w: ECDSA hash, want SHA-256", ErrAKKeyType)
		}
		return ak, k, nil
	case tpm2.TPMAlgRSA:
		k, parms, err := rsaPublic(ak)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrAKKeyType, err)
		}
		if parms.Scheme.Scheme != tpm2.TPMAlgRSASSA {
			return nil, nil, fmt.Errorf("%w: scheme 0x%04x, want RSASSA", ErrAKKeyType, uint16(parms.Scheme.Scheme))
		}
		s, err := parms.Scheme.Details.RSASSA()
		if err != nil || s.HashAlg != tpm2.TPMAlgSHA256 {
			return nil, nil, fmt.Errorf("%w: RSASSA hash, want SHA-256", ErrAKKeyType)
		}
		return ak, k, nil
	}
	return nil, nil, fmt.Errorf("%w: key type 0x%04x, want ECC or RSA", ErrAKKeyType, uint16(ak.Type))
}

// checkAgentKey parses the agent key, checks it can neither leave its TPM
// nor be used for anything but plain signing, and that it is the claimed
// key. It returns its TPM Name.
func checkAgentKey(keyPublic []byte, claimed *ecdsa.PublicKey) ([]byte, error) {
	key, err := decodeTPM[tpm2.TPMTPublic](keyPublic)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyPublicMalformed, err)
	}
	a := key.ObjectAttributes
	// fixedTPM: no duplication to another TPM; fixedParent: no duplication
	// at all; sensitiveDataOrigin: the TPM made the private key, so no copy
	// of it existed outside before either.
	if !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin {
		return nil, fmt.Errorf("%w: fixedTPM=%v fixedParent=%v sensitiveDataOrigin=%v", ErrKeyExportable, a.FixedTPM, a.FixedParent, a.SensitiveDataOrigin)
	}
	if !a.SignEncrypt || a.Decrypt || a.Restricted {
		return nil, fmt.Errorf("%w: sign=%v decrypt=%v restricted=%v", ErrKeyAttributes, a.SignEncrypt, a.Decrypt, a.Restricted)
	}
	if key.Type != tpm2.TPMAlgECC || key.NameAlg != tpm2.TPMAlgSHA256 {
		return nil, fmt.Errorf("%w: type 0x%04x, name algorithm 0x%04x", ErrKeyType, uint16(key.Type), uint16(key.NameAlg))
	}
	k, _, err := eccPublic(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyType, err)
	}
	if !k.Equal(claimed) {
		return nil, ErrKeyMismatch
	}
	name, err := objectName(key)
	if err != nil {
		return nil, fmt.Errorf("%w: name: %v", ErrKeyType, err)
	}
	return name, nil
}

// checkCertifyInfo parses CertifyInfo and checks that a TPM generated it
// (magic), that it is a certification (type), made for this nonce
// (extraData, compared in constant time), of the agent key (its Name).
func checkCertifyInfo(info, nonce, keyName []byte) (*tpm2.TPMSAttest, error) {
	// go-tpm's Unmarshal refuses a wrong magic with an anonymous error;
	// check it first so that it gets its own.
	if len(info) < 4 || !bytes.Equal(info[:4], []byte{0xff, 0x54, 0x43, 0x47}) {
		return nil, ErrAttestMagic
	}
	attest, err := decodeTPM[tpm2.TPMSAttest](info)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAttestMalformed, err)
	}
	if attest.Magic != tpm2.TPMGeneratedValue {
		return nil, ErrAttestMagic
	}
	if attest.Type != tpm2.TPMSTAttestCertify {
		return nil, fmt.Errorf("%w: type 0x%04x", ErrAttestType, uint16(attest.Type))
	}
	if subtle.ConstantTimeCompare(attest.ExtraData.Buffer, nonce) != 1 {
		return nil, ErrNonceMismatch
	}
	c, err := attest.Attested.Certify()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAttestType, err)
	}
	if !bytes.Equal(c.Name.Buffer, keyName) {
		return nil, ErrCertifiedNameMismatch
	}
	return attest, nil
}

// checkSignature verifies the AK's TPMT_SIGNATURE over CertifyInfo: ECDSA
// or RSASSA-PKCS1-v1_5 over the SHA-256 digest of the TPMS_ATTEST bytes, as
// the TPM computed it.
func checkSignature(ak *tpm2.TPMTPublic, akKey crypto.PublicKey, info, sigBytes []byte) error {
	sig, err := decodeTPM[tpm2.TPMTSignature](sigBytes)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSignatureMalformed, err)
	}
	digest := sha256.Sum256(info)
	switch k := akKey.(type) {
	case *ecdsa.PublicKey:
		if sig.SigAlg != tpm2.TPMAlgECDSA {
			return fmt.Errorf("%w: algorithm 0x%04x, want ECDSA", ErrSignatureMalformed, uint16(sig.SigAlg))
		}
		s, err := sig.Signature.ECDSA()
		if err != nil || s.Hash != tpm2.TPMAlgSHA256 {
			return fmt.Errorf("%w: want ECDSA with SHA-256", ErrSignatureMalformed)
		}
		r := new(big.Int).SetBytes(s.SignatureR.Buffer)
		ss := new(big.Int).SetBytes(s.SignatureS.Buffer)
		if !ecdsa.Verify(k, digest[:], r, ss) {
			return ErrSignatureInvalid
		}
		return nil
	case *rsa.PublicKey:
		if sig.SigAlg != tpm2.TPMAlgRSASSA {
			return fmt.Errorf("%w: algorithm 0x%04x, want RSASSA", ErrSignatureMalformed, uint16(sig.SigAlg))
		}
		s, err := sig.Signature.RSASSA()
		if err != nil || s.Hash != tpm2.TPMAlgSHA256 {
			return fmt.Errorf("%w: want RSASSA with SHA-256", ErrSignatureMalformed)
		}
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], s.Sig.Buffer); err != nil {
			return ErrSignatureInvalid
		}
		return nil
	}
	return fmt.Errorf("%w: AK key type %T", ErrAKKeyType, akKey)
}

// CertifiedKey returns the public key of the agent key the evidence
// certifies (KeyPublic), without checking anything else: a tool can show
// it, or derive the did:key to check, but Verify is what trusts it. Errors
// wrap ErrKeyPublicMalformed or ErrKeyType.
func (e *Evidence) CertifiedKey() (*ecdsa.PublicKey, error) {
	key, err := decodeTPM[tpm2.TPMTPublic](e.KeyPublic)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyPublicMalformed, err)
	}
	if key.Type != tpm2.TPMAlgECC {
		return nil, fmt.Errorf("%w: type 0x%04x", ErrKeyType, uint16(key.Type))
	}
	k, _, err := eccPublic(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyType, err)
	}
	return k, nil
}
