package tpm

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// PersistentSRK is the handle at which platforms conventionally persist the
// storage root key (TCG TPM v2.0 Provisioning Guidance).
const PersistentSRK tpm2.TPMHandle = 0x81000001

// eccP256Signing returns the public parameters of an ECDSA/SHA-256 P-256
// signing key. Fixing the scheme in the key (rather than choosing it at each
// TPM2_Sign) means the TPM refuses any other scheme with it.
func eccP256Signing() tpm2.TPMUPublicParms {
	return tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme: tpm2.TPMTECCScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
		CurveID: tpm2.TPMECCNistP256,
		KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	})
}

// emptyECCPoint is the unique field of a template whose key the TPM generates.
func emptyECCPoint() tpm2.TPMUPublicID {
	return tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{})
}

// agentKeyTemplate is the template of agent keys: a P-256 ECDSA/SHA-256
// signing key that never leaves this TPM (fixedTPM, fixedParent), whose
// private key the TPM generated (sensitiveDataOrigin), usable with its
// (empty) auth value (userWithAuth), and not restricted, so it signs any
// digest. It cannot decrypt.
func agentKeyTemplate() tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:            true,
			FixedParent:         true,
			SensitiveDataOrigin: true,
			UserWithAuth:        true,
			SignEncrypt:         true,
		},
		Parameters: eccP256Signing(),
		Unique:     emptyECCPoint(),
	}
}

// akTemplate is the template of the attestation key: like an agent key, but
// restricted, so the TPM signs with it only digests of structures the TPM
// produced itself (TPMS_ATTEST, beginning with TPM_GENERATED_VALUE).
func akTemplate() tpm2.TPMTPublic {
	t := agentKeyTemplate()
	t.ObjectAttributes.Restricted = true
	return t
}

// checkAgentKey reports whether pub is an agent key as agentKeyTemplate
// makes them; a blob that is not is refused on load.
func checkAgentKey(pub *tpm2.TPMTPublic) error {
	a := pub.ObjectAttributes
	if pub.Type != tpm2.TPMAlgECC || pub.NameAlg != tpm2.TPMAlgSHA256 ||
		!a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin || !a.UserWithAuth || !a.SignEncrypt ||
		a.Restricted || a.Decrypt {
		return fmt.Errorf("%w: attributes %+v", ErrNotAgentKey, a)
	}
	ecc, err := pub.Parameters.ECCDetail()
	if err != nil || ecc.CurveID != tpm2.TPMECCNistP256 || ecc.Scheme.Scheme != tpm2.TPMAlgECDSA {
		return fmt.Errorf("%w: not an ECDSA P-256 key", ErrNotAgentKey)
	}
	return nil
}

// ErrNotAgentKey is a key blob whose public area is not that of an agent key
// (P-256 ECDSA, fixedTPM, fixedParent, sensitiveDataOrigin, sign, not
// restricted).
var ErrNotAgentKey = errors.New("not an agent key")

// parent is a loaded storage parent for Create and Load.
type parent struct {
	handle tpm2.TPMHandle
	name   tpm2.TPM2BName
	flush  bool // transient: flush after use
}

// srk returns the storage root key: the persistent SRK at 0x81000001 when it
// is there and is an ECC P-256 storage key, otherwise a transient primary
// made from the TCG ECC SRK template in the owner hierarchy (deterministic:
// same seed, same key). Release it with releaseParent.
func srk(tpm transport.TPM) (parent, error) {
	if rp, err := (tpm2.ReadPublic{ObjectHandle: PersistentSRK}).Execute(tpm); err == nil {
		if pub, err := rp.OutPublic.Contents(); err == nil && isECCStorageKey(pub) {
			return parent{handle: PersistentSRK, name: rp.Name}, nil
		}
	}
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(tpm)
	if err != nil {
		return parent{}, fmt.Errorf("create storage root key: %w", err)
	}
	return parent{handle: rsp.ObjectHandle, name: rsp.Name, flush: true}, nil
}

// isECCStorageKey reports whether pub is a P-256 restricted decryption key.
func isECCStorageKey(pub *tpm2.TPMTPublic) bool {
	if pub.Type != tpm2.TPMAlgECC || !pub.ObjectAttributes.Restricted || !pub.ObjectAttributes.Decrypt {
		return false
	}
	ecc, err := pub.Parameters.ECCDetail()
	return err == nil && ecc.CurveID == tpm2.TPMECCNistP256
}

// releaseParent flushes a transient parent.
func releaseParent(tpm transport.TPM, p parent) {
	if p.flush {
		flush(tpm, p.handle)
	}
}

// flush flushes a transient handle, ignoring errors: there is nothing to do
// about a handle that will not flush, and it is gone at the next reset.
func flush(tpm transport.TPM, h tpm2.TPMHandle) {
	_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(tpm)
}

// authNone is the empty password session that objects with userWithAuth
// and an empty auth value accept.
func authNone(h tpm2.TPMHandle, name tpm2.TPM2BName) tpm2.AuthHandle {
	return tpm2.AuthHandle{Handle: h, Name: name, Auth: tpm2.PasswordAuth(nil)}
}

// hierarchy returns a hierarchy handle with its (empty) password.
func hierarchy(h tpm2.TPMHandle) tpm2.AuthHandle {
	return tpm2.AuthHandle{Handle: h, Auth: tpm2.PasswordAuth(nil)}
}
