package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// ActivationSecretSize is the size of the secret a Pending activation
// encrypts to the EK. TPM2_ActivateCredential returns it as a TPM2B_DIGEST,
// so it can be at most the size of the EK's name-algorithm digest (32 bytes
// for SHA-256).
const ActivationSecretSize = 32

// Assurance is what the verifier concludes about where an agent's key
// lives. It is the same for hardware and software keys, so that a policy
// can require Level "hardware" (RequireHardware) and records look alike.
type Assurance struct {
	// Level is LevelHardware (a TPM key proven non-exportable) or
	// LevelSoftware.
	Level string `json:"level"`
	// Manufacturer, Model and FirmwareVersion are the TPM attributes from
	// the EK certificate, when the EK was trusted through one.
	Manufacturer    string `json:"manufacturer,omitempty"`
	Model           string `json:"model,omitempty"`
	FirmwareVersion string `json:"firmwareVersion,omitempty"`
	// EKCertificateSHA256 is the hex SHA-256 of the DER EK certificate,
	// when the EK was trusted through one.
	EKCertificateSHA256 string `json:"ekCertificateSha256,omitempty"`
	// EKPublicKeySHA256 is the EKPublicKeyHash of the EK (hardware), or the
	// hex SHA-256 of the key's SubjectPublicKeyInfo (software).
	EKPublicKeySHA256 string `json:"ekPublicKeySha256,omitempty"`
	// AttestedAt is when the verification finished.
	AttestedAt time.Time `json:"attestedAt"`
	// Method is MethodEKCertificate, MethodEKAllowlist or MethodSoftware.
	Method string `json:"method"`
}

// RequireHardware returns nil when a is a hardware assurance, and an error
// wrapping ErrNotHardware otherwise (including nil).
func RequireHardware(a *Assurance) error {
	if a == nil {
		return fmt.Errorf("%w: no assurance", ErrNotHardware)
	}
	if a.Level != LevelHardware {
		return fmt.Errorf("%w: assurance is %q", ErrNotHardware, a.Level)
	}
	return nil
}

// SoftwareAssurance is the assurance of a key without a TPM (keys/software):
// the organization's policy allowed it, and nothing proves where the private
// key is. EKPublicKeySHA256 is set to the hex SHA-256 of the key's DER
// SubjectPublicKeyInfo so that records name the key either way (Ed25519 keys
// included).
func SoftwareAssurance(pub crypto.PublicKey, now time.Time) (*Assurance, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey, *rsa.PublicKey:
	default:
		return nil, fmt.Errorf("%w: %T", ErrClaimedKey, pub)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrClaimedKey, err)
	}
	sum := sha256.Sum256(spki)
	return &Assurance{
		Level:             LevelSoftware,
		Method:            MethodSoftware,
		EKPublicKeySHA256: hex.EncodeToString(sum[:]),
		AttestedAt:        now.UTC(),
	}, nil
}

// Pending is verified evidence waiting for its credential activation: send
// Challenge to the agent, whose TPM answers with TPM2_ActivateCredential,
// and pass its answer to Complete. A Pending can be completed once, before
// Expires. It keeps the secret in memory: an issuer that runs several
// replicas must route the answer to the replica that made the challenge.
type Pending struct {
	// Challenge is what the agent's TPM must decrypt.
	Challenge ActivationChallenge
	// Expires is when Complete stops accepting answers.
	Expires time.Time
	// Facts are the verified facts of the evidence, for logs and display.
	Facts Facts

	secret []byte
	now    func() time.Time

	mu   sync.Mutex
	used bool
}

// challenge makes the activation challenge for verified evidence: a random
// secret, encrypted to the EK and bound to the AK's Name with go-tpm's
// software TPM2_MakeCredential (tpm2.CreateCredential): for an ECC EK, an
// ephemeral ECDH key agreement with the EK and KDFe; for an RSA EK,
// RSA-OAEP with the label "IDENTITY"; then KDFa, AES-CFB and an HMAC over
// the AK's Name. The EK's TPM decrypts it only for a loaded object with
// that Name.
func (v *Verifier) challenge(r *verified) (*Pending, error) {
	secret := make([]byte, ActivationSecretSize)
	if _, err := io.ReadFull(v.rand, secret); err != nil {
		return nil, fmt.Errorf("%w: randomness: %v", ErrCredential, err)
	}
	ch, err := makeCredential(v.rand, r.ek, r.akName, secret)
	if err != nil {
		return nil, err
	}
	return &Pending{
		Challenge: ch,
		Expires:   v.now().Add(v.ttl),
		Facts:     r.facts,
		secret:    secret,
		now:       v.now,
	}, nil
}

// makeCredential is TPM2_MakeCredential in software.
func makeCredential(rand io.Reader, ek *tpm2.TPMTPublic, akName, secret []byte) (ActivationChallenge, error) {
	key, err := tpm2.ImportEncapsulationKey(ek)
	if err != nil {
		return ActivationChallenge{}, fmt.Errorf("%w: %v", ErrCredential, err)
	}
	idObject, encSecret, err := tpm2.CreateCredential(rand, key, akName, secret)
	if err != nil {
		return ActivationChallenge{}, fmt.Errorf("%w: %v", ErrCredential, err)
	}
	return ActivationChallenge{Credential: idObject, Secret: encSecret}, nil
}

// Complete checks the agent's answer to the challenge (the secret its TPM's
// ActivateCredential returned) and returns the hardware Assurance. The first
// call consumes the Pending whatever its outcome; later calls fail with
// ErrActivationReplayed. Errors: ErrActivationReplayed,
// ErrActivationExpired, ErrActivationFailed.
func (p *Pending) Complete(secret []byte) (*Assurance, error) {
	p.mu.Lock()
	used := p.used
	p.used = true
	p.mu.Unlock()
	if used {
		return nil, ErrActivationReplayed
	}
	now := p.now()
	if !now.Before(p.Expires) {
		return nil, fmt.Errorf("%w at %s", ErrActivationExpired, p.Expires.UTC().Format(time.RFC3339))
	}
	if subtle.ConstantTimeCompare(secret, p.secret) != 1 {
		return nil, ErrActivationFailed
	}
	return &Assurance{
		Level:               LevelHardware,
		Manufacturer:        p.Facts.Manufacturer,
		Model:               p.Facts.Model,
		FirmwareVersion:     p.Facts.FirmwareVersion,
		EKCertificateSHA256: p.Facts.EKCertificateSHA256,
		EKPublicKeySHA256:   p.Facts.EKPublicKeySHA256,
		AttestedAt:          now.UTC(),
		Method:              p.Facts.Method,
	}, nil
}

// SecretSHA256 is the SHA-256 of the activation secret. An issuer that runs
// several replicas persists it (with Expires and Facts) instead of keeping
// the Pending in memory, and finishes the activation on whichever replica
// the agent's answer reaches with CompleteStored.
func (p *Pending) SecretSHA256() [sha256.Size]byte { return sha256.Sum256(p.secret) }

// CompleteStored is Complete for an activation whose Pending was persisted
// as its Facts, SecretSHA256 and Expires: it checks the agent's answer
// against the digest in constant time and returns the hardware Assurance,
// attested at now. Single use is the caller's to enforce (a conditional
// database update), since nothing here is shared between calls. Errors:
// ErrActivationExpired, ErrActivationFailed.
func CompleteStored(facts Facts, secretSHA256 []byte, expires, now time.Time, answer []byte) (*Assurance, error) {
	if !now.Before(expires) {
		return nil, fmt.Errorf("%w at %s", ErrActivationExpired, expires.UTC().Format(time.RFC3339))
	}
	got := sha256.Sum256(answer)
	if len(secretSHA256) != sha256.Size || subtle.ConstantTimeCompare(got[:], secretSHA256) != 1 {
		return nil, ErrActivationFailed
	}
	return &Assurance{
		Level:               LevelHardware,
		Manufacturer:        facts.Manufacturer,
		Model:               facts.Model,
		FirmwareVersion:     facts.FirmwareVersion,
		EKCertificateSHA256: facts.EKCertificateSHA256,
		EKPublicKeySHA256:   facts.EKPublicKeySHA256,
		AttestedAt:          now.UTC(),
		Method:              facts.Method,
	}, nil
}
