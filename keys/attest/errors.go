package attest

import "errors"

// Every way verification can fail has its own error, so that callers (and
// the issuer's problem responses) can say exactly what was wrong. Errors
// returned by this package wrap one of these; test with errors.Is.
//
// The input errors (ErrEvidenceFormat, ErrNonceLength, ErrClaimedKey) mean
// the request was malformed; every other error means the evidence was
// well-formed but does not prove what it claims.
var (
	// ErrNonceLength is a verifier nonce shorter than MinNonceSize or longer
	// than MaxNonceSize bytes.
	ErrNonceLength = errors.New("nonce length out of range")
	// ErrClaimedKey is a claimed agent key that is missing or not a public
	// key this package can compare (an *ecdsa.PublicKey on P-256).
	ErrClaimedKey = errors.New("unusable claimed agent key")

	// ErrEKPublicMalformed is an EKPublic that is not a canonical TPMT_PUBLIC.
	ErrEKPublicMalformed = errors.New("EK public area does not parse")
	// ErrEKKeyType is an EKPublic that is not shaped like an endorsement
	// key: a restricted decryption key (not a signing key), fixedTPM and
	// fixedParent, ECC P-256 or RSA-2048 with name algorithm SHA-256 and an
	// AES-CFB symmetric scheme.
	ErrEKKeyType = errors.New("EK public area is not an endorsement key")
	// ErrEKCertificateMalformed is an EK certificate that does not parse,
	// including its TCG subject-alternative-name.
	ErrEKCertificateMalformed = errors.New("EK certificate does not parse")
	// ErrEKCertificateKeyMismatch is an EK certificate for another key than
	// EKPublic.
	ErrEKCertificateKeyMismatch = errors.New("EK certificate certifies another key than EKPublic")
	// ErrEKCertificateUsage is an EK certificate whose extended key usage
	// names neither tcg-kp-EKCertificate (2.23.133.8.1) nor anyExtendedKeyUsage.
	ErrEKCertificateUsage = errors.New("EK certificate is not for endorsement")
	// ErrEKCertificateChain is an EK certificate that does not chain to any
	// configured TPM root (or is expired). It is always joined with
	// ErrEKNotTrusted.
	ErrEKCertificateChain = errors.New("EK certificate does not chain to a TPM root")
	// ErrEKNotTrusted is an EK trusted neither by a certificate chain nor by
	// the EK allowlist.
	ErrEKNotTrusted = errors.New("EK is not trusted: no certificate chain to a TPM root and not on the EK allowlist")

	// ErrAKPublicMalformed is an AKPublic that is not a canonical TPMT_PUBLIC.
	ErrAKPublicMalformed = errors.New("AK public area does not parse")
	// ErrAKAttributes is an AK that is not a restricted signing key that
	// cannot leave its TPM (restricted, sign, not decrypt, fixedTPM,
	// fixedParent, sensitiveDataOrigin).
	ErrAKAttributes = errors.New("AK is not a restricted, non-exportable signing key")
	// ErrAKKeyType is an AK of an unsupported algorithm: it must be ECC P-256
	// with ECDSA-SHA256 or RSA-2048 with RSASSA-SHA256, name algorithm SHA-256.
	ErrAKKeyType = errors.New("AK algorithm is not supported")

	// ErrKeyPublicMalformed is a KeyPublic that is not a canonical TPMT_PUBLIC.
	ErrKeyPublicMalformed = errors.New("agent key public area does not parse")
	// ErrKeyExportable is an agent key that could leave its TPM: fixedTPM,
	// fixedParent or sensitiveDataOrigin is clear.
	ErrKeyExportable = errors.New("agent key is exportable")
	// ErrKeyAttributes is an agent key that is not a plain signing key: it is
	// restricted, can decrypt, or cannot sign.
	ErrKeyAttributes = errors.New("agent key is not an unrestricted signing-only key")
	// ErrKeyType is an agent key that is not ECC P-256 with name algorithm
	// SHA-256 (or whose point is not on the curve).
	ErrKeyType = errors.New("agent key is not a P-256 key")
	// ErrKeyMismatch is a certified key that is not the claimed agent key
	// (the did:key's public key).
	ErrKeyMismatch = errors.New("certified key is not the claimed agent key")

	// ErrAttestMalformed is a CertifyInfo that is not a canonical TPMS_ATTEST.
	ErrAttestMalformed = errors.New("TPMS_ATTEST does not parse")
	// ErrAttestMagic is a TPMS_ATTEST without TPM_GENERATED_VALUE: the TPM
	// did not produce it.
	ErrAttestMagic = errors.New("TPMS_ATTEST magic is not TPM_GENERATED_VALUE")
	// ErrAttestType is a TPMS_ATTEST that is not a TPM2_Certify result
	// (TPM_ST_ATTEST_CERTIFY).
	ErrAttestType = errors.New("TPMS_ATTEST is not a certification")
	// ErrNonceMismatch is a TPMS_ATTEST whose extraData is not the
	// verifier's nonce: stale or made for another verifier.
	ErrNonceMismatch = errors.New("TPMS_ATTEST extraData is not the nonce")
	// ErrCertifiedNameMismatch is a TPMS_ATTEST that certifies another object
	// than KeyPublic.
	ErrCertifiedNameMismatch = errors.New("certified name is not the agent key's name")
	// ErrSignatureMalformed is a CertifySignature that is not a canonical
	// TPMT_SIGNATURE of the AK's scheme.
	ErrSignatureMalformed = errors.New("certification signature does not parse")
	// ErrSignatureInvalid is a signature that does not verify with the AK
	// over CertifyInfo: either was altered, or another key signed.
	ErrSignatureInvalid = errors.New("certification signature does not verify with the AK")

	// ErrCredential is a failure to make the activation challenge.
	ErrCredential = errors.New("cannot make the credential activation challenge")
	// ErrActivationFailed is an activation answer that is not the secret:
	// the AK and the EK are not in one TPM.
	ErrActivationFailed = errors.New("credential activation failed: AK and EK are not in one TPM")
	// ErrActivationReplayed is a second Complete of one Pending.
	ErrActivationReplayed = errors.New("credential activation already attempted")
	// ErrActivationExpired is a Complete after the Pending expired.
	ErrActivationExpired = errors.New("credential activation expired")

	// ErrNonceUnknown is a nonce the NonceSet never issued (or forgot).
	ErrNonceUnknown = errors.New("nonce was not issued")
	// ErrNonceReplayed is a nonce used a second time.
	ErrNonceReplayed = errors.New("nonce already used")
	// ErrNonceExpired is a nonce used after its time to live.
	ErrNonceExpired = errors.New("nonce expired")
	// ErrNonceSetFull is a NonceSet holding its maximum of live nonces.
	ErrNonceSetFull = errors.New("too many outstanding nonces")

	// ErrRoots is a roots directory that cannot be read or holds a file that
	// is not a certificate.
	ErrRoots = errors.New("cannot load TPM roots")
	// ErrEKHash is an EK allowlist entry that is not 64 hex digits.
	ErrEKHash = errors.New("EK allowlist entry is not a SHA-256 hex digest")
	// ErrNotHardware is an assurance below "hardware" where hardware is
	// required.
	ErrNotHardware = errors.New("key is not hardware-bound")
)
