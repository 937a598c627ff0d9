// Package tpm is the agent's side of hardware-bound identity: it keeps an
// agent's signing key inside a TPM 2.0, signs with it through keys.Signer,
// and produces the evidence (package keys/attest) by which an issuer learns,
// without trusting the agent, that the key cannot leave that TPM.
//
// # Opening a TPM
//
// Every TPM is named by one string, the same in --tpm flags, configuration and
// key URIs (see Open): a device path ("/dev/tpmrm0", the Linux resource
// manager, in production), "swtpm://HOST:PORT" for swtpm's TCP command
// channel, or "sim" for the Microsoft reference simulator linked into the
// process (tests; needs cgo).
//
// # The key hierarchy
//
// A TPM never stores the keys it creates: TPM2_Create returns the key's
// public area (TPM2B_PUBLIC) and its private area encrypted under the parent
// key (TPM2B_PRIVATE), and TPM2_Load takes both back later. The parent here is
// the storage root key (SRK), an ECC P-256 primary key of the owner
// hierarchy made from the TCG's standard template (or the persistent SRK at
// 0x81000001 when the platform provisioned one). A primary key is derived
// from the hierarchy's secret seed and its template, so the same template
// gives the same SRK every time, and only this TPM can decrypt the blob.
//
// The agent key is an ECC P-256 ECDSA/SHA-256 signing key with the
// attributes that make it non-exportable: fixedTPM (it can never be
// duplicated to another TPM), fixedParent (nor re-parented), and
// sensitiveDataOrigin (the TPM generated the private key; nobody imported
// it). It is not restricted, so it signs any digest: JWS, SD-JWT key binding
// and Data Integrity proofs. Its did:key is the P-256 did:key of its public
// key.
//
// # Evidence
//
// Attest proves those attributes to a remote verifier:
//
//  1. The endorsement key (EK) is a primary key of the endorsement hierarchy
//     made from the TCG EK Credential Profile's template (ECC P-256, or
//     RSA-2048 where ECC is missing). It is a restricted decryption key
//     whose use is gated by the policy PolicySecret(TPM_RH_ENDORSEMENT).
//     Its manufacturer may have stored a certificate for it in NV
//     (0x01C0000A for ECC, 0x01C00002 for RSA).
//  2. The attestation key (AK) is a restricted signing key: the TPM signs
//     with it only structures that the TPM itself produced and marked with
//     TPM_GENERATED_VALUE, never caller-supplied data that merely looks like
//     them. This package makes the AK a primary key of the endorsement
//     hierarchy, next to the EK: it needs no blob on disk, and recreating it
//     from the same template gives the same key and name, which activation
//     relies on.
//  3. TPM2_Certify has the AK sign a TPMS_ATTEST that names the agent key
//     (its Name is the hash of its public area, attributes included) and
//     carries the verifier's nonce as qualifyingData (extraData), so the
//     statement is fresh.
//  4. The verifier cannot yet tell that the AK lives in the TPM of that EK.
//     It runs credential activation: it encrypts a secret to the EK, bound to
//     the AK's Name (MakeCredential, in software); TPM2_ActivateCredential
//     releases the secret only inside a TPM that holds both the EK's private
//     key and a loaded object with that Name (Attestation.Activate).
//
// # Transient object slots
//
// A TPM holds few loaded objects at once (the simulator three). A Key keeps
// its object loaded until Close, so that Sign is one command; everything
// else this package loads (the SRK, the EK, the AK) is flushed before the
// call that loaded it returns. Behind a resource manager (/dev/tpmrm0) the
// limit does not apply; on the simulator and swtpm, keep at most one Key
// open while attesting (activation loads the EK and the AK next to it).
package tpm
