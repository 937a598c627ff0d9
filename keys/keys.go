// Package keys holds the one Signer interface that every signature in agentid
// goes through (issuer keys, agent TPM keys, human keys), the key types and
// JOSE algorithms agentid supports, the public-key encodings that DIDs and
// proofs need (JWK and Multikey), and a Manager that creates and loads signers
// addressed by key URI, in the spirit of a KMS:
//
//	software:<id>   a software key, stored encrypted under a key-encryption key
//	tpm:<device>?key=<name>   a TPM-resident key (package keys/tpm)
//
// Private key material never leaves a Signer except through the explicit
// export helpers for software keys (for example the private JWK file that
// `agentid key generate` writes).
package keys

import (
	"context"
	"crypto"
	"errors"
)

// KeyType names an asymmetric key type. The string values are the ones used on
// the command line (`--type`) and in storage.
type KeyType string

// Key types agentid knows. Ed25519, P256 and P384 can be generated and used to
// sign; the others are understood as public keys (for did:key and JWKs).
const (
	Ed25519   KeyType = "ed25519"
	P256      KeyType = "p256"
	P384      KeyType = "p384"
	P521      KeyType = "p521"
	Secp256k1 KeyType = "secp256k1"
	X25519    KeyType = "x25519"
)

// Algorithm is a JOSE signature algorithm name (RFC 7518, RFC 8037).
type Algorithm string

// Signature algorithms, one per signing key type.
const (
	EdDSA  Algorithm = "EdDSA"
	ES256  Algorithm = "ES256"
	ES384  Algorithm = "ES384"
	ES512  Algorithm = "ES512"
	ES256K Algorithm = "ES256K"
)

// Signer signs with one private key, wherever that key lives.
//
// Sign takes the whole message, not a digest: Ed25519 signs it as is, ECDSA
// keys hash it with the hash of their algorithm (SHA-256 for ES256, SHA-384 for
// ES384) and return the JOSE form r‖s with each half zero-padded to the curve
// size. The same signature bytes therefore serve JWS, SD-JWT and Data Integrity
// proofs.
type Signer interface {
	// URI addresses the key in its key manager, e.g. "software:3f2a…".
	URI() string
	// KeyType is the key's type.
	KeyType() KeyType
	// Algorithm is the JOSE algorithm of the signatures Sign makes.
	Algorithm() Algorithm
	// Public is the public key: ed25519.PublicKey or *ecdsa.PublicKey.
	Public() crypto.PublicKey
	// Sign signs message; see the type's documentation for the format.
	Sign(ctx context.Context, message []byte) ([]byte, error)
}

// Errors that describe a public key that cannot be used. didmethods maps them
// to the did:key error codes (invalidPublicKeyLength, unsupportedPublicKeyType).
var (
	// ErrUnsupportedKeyType is a key type or multicodec agentid does not know.
	ErrUnsupportedKeyType = errors.New("unsupported public key type")
	// ErrInvalidPublicKeyLength is a public key of the wrong size for its type.
	ErrInvalidPublicKeyLength = errors.New("invalid public key length")
	// ErrInvalidPublicKey is a public key of the right size that does not
	// decode (for example an EC point that is not on the curve).
	ErrInvalidPublicKey = errors.New("invalid public key")
	// ErrInvalidEncoding is an encoding that cannot be parsed at all (bad
	// multibase, bad varint, bad base64url).
	ErrInvalidEncoding = errors.New("invalid key encoding")
	// ErrKeyNotFound is a key URI that names no stored key.
	ErrKeyNotFound = errors.New("key not found")
)

// BlobStore keeps encrypted key blobs by id. It never sees plaintext: the
// Manager encrypts before Put and decrypts after Get. internal/store
// implements it on the database.
type BlobStore interface {
	// PutKeyBlob stores a new blob; it never overwrites an existing id.
	PutKeyBlob(ctx context.Context, id string, keyType string, blob []byte) error
	// GetKeyBlob returns the blob stored under id, or an error wrapping a
	// not-found error of the store.
	GetKeyBlob(ctx context.Context, id string) (keyType string, blob []byte, err error)
}
