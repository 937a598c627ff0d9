// Package attest is the verifier's side of hardware key attestation: it
// checks, in pure Go and without a TPM, that an agent's signing key lives in
// a TPM and cannot leave it.
//
// The protocol has a few nouns:
//
//   - EK, the endorsement key: a decryption key every TPM has, certified by
//     its manufacturer (the EK certificate, in NV) or registered by an
//     organization (an allowlist of EK public-key hashes).
//   - AK, the attestation key: a restricted signing key the agent creates in
//     the same TPM; restricted means it signs only structures the TPM itself
//     produced (TPMS_ATTEST), never arbitrary data.
//   - The agent key: the P-256 signing key behind the agent's did:key,
//     created fixedTPM and fixedParent so it can never be exported.
//   - Certification: TPM2_Certify, by which the AK signs a TPMS_ATTEST naming
//     the agent key and carrying the verifier's nonce (extraData).
//   - Credential activation: the verifier encrypts a secret to the EK, bound
//     to the AK's name (TPM2_MakeCredential, done in software here as
//     CreateCredential); only the TPM holding both the EK and an object with
//     that name can decrypt it (TPM2_ActivateCredential). Returning the secret
//     proves the AK and the EK are in one TPM.
//
// The agent side (keys/tpm) produces Evidence; this package verifies it.
package attest

import (
	"encoding/json"
	"errors"
	"fmt"
)

// EvidenceVersion is the version of the Evidence document this package
// writes and reads.
const EvidenceVersion = 1

// Evidence is what an agent sends to prove that its key is TPM-resident.
// Binary fields are TPM wire-format structures (big-endian, as the TPM
// marshals them) and are base64 (standard, padded) in JSON.
type Evidence struct {
	// Version is EvidenceVersion.
	Version int `json:"version"`
	// EKCertificate is the DER EK certificate read from the TPM's NV
	// (index 0x01C0000A for ECC, 0x01C00002 for RSA), when the TPM has one.
	EKCertificate []byte `json:"ekCertificate,omitempty"`
	// EKPublic is the EK's TPMT_PUBLIC. It is required: activation encrypts
	// to it, and when there is a certificate its key must match this one.
	EKPublic []byte `json:"ekPublic"`
	// AKPublic is the attestation key's TPMT_PUBLIC.
	AKPublic []byte `json:"akPublic"`
	// KeyPublic is the certified agent key's TPMT_PUBLIC.
	KeyPublic []byte `json:"keyPublic"`
	// CertifyInfo is the TPMS_ATTEST that TPM2_Certify produced (the
	// contents of its TPM2B_ATTEST, without the size prefix).
	CertifyInfo []byte `json:"certifyInfo"`
	// CertifySignature is the AK's TPMT_SIGNATURE over CertifyInfo.
	CertifySignature []byte `json:"certifySignature"`
}

// ActivationChallenge is what the verifier sends back: a secret encrypted to
// the EK and bound to the AK's name (TPM2_ActivateCredential's inputs).
type ActivationChallenge struct {
	// Credential is the TPM2B_ID_OBJECT contents (credentialBlob).
	Credential []byte `json:"credential"`
	// Secret is the TPM2B_ENCRYPTED_SECRET contents (the seed encrypted to
	// the EK).
	Secret []byte `json:"secret"`
}

// ErrEvidenceFormat is evidence that does not parse.
var ErrEvidenceFormat = errors.New("malformed attestation evidence")

// ParseEvidence decodes and checks the shape of an evidence document.
func ParseEvidence(data []byte) (*Evidence, error) {
	if len(data) > 64<<10 {
		return nil, fmt.Errorf("%w: %d bytes, limit 64 KiB", ErrEvidenceFormat, len(data))
	}
	var e Evidence
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEvidenceFormat, err)
	}
	if e.Version != EvidenceVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrEvidenceFormat, e.Version, EvidenceVersion)
	}
	for name, v := range map[string][]byte{
		"ekPublic": e.EKPublic, "akPublic": e.AKPublic, "keyPublic": e.KeyPublic,
		"certifyInfo": e.CertifyInfo, "certifySignature": e.CertifySignature,
	} {
		if len(v) == 0 {
			return nil, fmt.Errorf("%w: %s is missing", ErrEvidenceFormat, name)
		}
	}
	return &e, nil
}
