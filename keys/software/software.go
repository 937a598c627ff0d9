// Package software implements keys.Signer with private keys held in process
// memory: Ed25519, ECDSA P-256, P-384 and P-521 keys generated from
// crypto/rand.
//
// Software keys are for issuers on servers without a TPM, for human wallets
// and for tests; an agent's own key belongs in its TPM (package keys/tpm).
// A software key reaches disk in one of two ways, both explicit:
//
//   - Backend stores it encrypted under a key-encryption key (keys.KEK) in a
//     keys.BlobStore, so that a keys.Manager can load it again by its URI
//     "software:<id>". This is how the server keeps its issuer keys.
//   - WritePrivateJWKFile writes it as a private JWK to a new 0600 file, for
//     `agentid key generate`; ReadPrivateJWKFile reads one back.
//
// Nothing else prints it. A *Key formats as its type and URI under every fmt
// verb, logs the same way through log/slog, and marshals to JSON as its
// public key only, so an accidental log line or API response cannot leak it.
package software

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/agentid/agentid/keys"
)

// Scheme is the URI scheme of software keys: "software:<id>".
const Scheme = "software"

// Key is a software private key. It implements keys.Signer, and
// CryptoSigner adapts it to crypto.Signer. A Key is immutable and safe for
// concurrent use.
type Key struct {
	uri  string // "software:<id>"
	typ  keys.KeyType
	alg  keys.Algorithm
	priv crypto.Signer // ed25519.PrivateKey or *ecdsa.PrivateKey
	pub  crypto.PublicKey
	// jwk is the public JWK with alg and kid, computed once.
	jwk keys.JWK
}

var _ keys.Signer = (*Key)(nil)

// ids are 128 random bits in lower-case base32 without padding (26
// characters): short, case-insensitive and safe in URIs and file names.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

const idBytes = 16

func newID() (string, error) {
	b := make([]byte, idBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate key id: %w", err)
	}
	return idEncoding.EncodeToString(b), nil
}

// validID reports whether id could have come from newID.
func validID(id string) bool {
	b, err := idEncoding.DecodeString(id)
	return err == nil && len(b) == idBytes && idEncoding.EncodeToString(b) == id
}

// curves maps the ECDSA key types to their curves.
var curves = map[keys.KeyType]elliptic.Curve{
	keys.P256: elliptic.P256(),
	keys.P384: elliptic.P384(),
	keys.P521: elliptic.P521(),
}

// Generate makes a new key of type typ (keys.Ed25519, keys.P256, keys.P384
// or keys.P521) from crypto/rand, with a new random id.
func Generate(typ keys.KeyType) (*Key, error) {
	var priv crypto.Signer
	switch typ {
	case keys.Ed25519:
		_, p, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate ed25519 key: %w", err)
		}
		priv = p
	case keys.P256, keys.P384, keys.P521:
		p, err := ecdsa.GenerateKey(curves[typ], rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate %s key: %w", typ, err)
		}
		priv = p
	default:
		return nil, fmt.Errorf("generate key: %w: %q (software keys are ed25519, p256, p384 or p521)", keys.ErrUnsupportedKeyType, typ)
	}
	return FromPrivateKey(priv)
}

// FromPrivateKey wraps an existing private key, an ed25519.PrivateKey or an
// *ecdsa.PrivateKey on P-256, P-384 or P-521, in a Key with a new random id.
// It checks that the key's public half matches its private half. Test
// vectors with fixed keys enter this way.
func FromPrivateKey(priv crypto.PrivateKey) (*Key, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	return fromPrivateKey(id, priv)
}

func fromPrivateKey(id string, priv crypto.PrivateKey) (*Key, error) {
	k := &Key{uri: Scheme + ":" + id}
	switch p := priv.(type) {
	case ed25519.PrivateKey:
		if len(p) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("%w: ed25519 private key is %d bytes, want %d", keys.ErrInvalidEncoding, len(p), ed25519.PrivateKeySize)
		}
		// The last 32 bytes of an ed25519.PrivateKey repeat the public key;
		// rebuilding from the seed catches a key whose halves disagree.
		rebuilt := ed25519.NewKeyFromSeed(p.Seed())
		if !rebuilt.Public().(ed25519.PublicKey).Equal(p.Public()) {
			return nil, fmt.Errorf("%w: ed25519 public half does not belong to the seed", ErrPrivateKeyMismatch)
		}
		k.typ, k.priv = keys.Ed25519, rebuilt
	case *ecdsa.PrivateKey:
		typ, err := keys.PublicKeyType(&p.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("software key: %w", err)
		}
		d, err := p.Bytes()
		if err != nil {
			return nil, fmt.Errorf("%w: %s private key: %v", keys.ErrInvalidEncoding, typ, err)
		}
		rebuilt, err := ecdsa.ParseRawPrivateKey(p.Curve, d)
		clear(d)
		if err != nil {
			return nil, fmt.Errorf("%w: %s private key: %v", keys.ErrInvalidEncoding, typ, err)
		}
		if !rebuilt.PublicKey.Equal(&p.PublicKey) {
			return nil, fmt.Errorf("%w: %s public point does not belong to the private scalar", ErrPrivateKeyMismatch, typ)
		}
		k.typ, k.priv = typ, rebuilt
	default:
		return nil, fmt.Errorf("software key: %w: %T", keys.ErrUnsupportedKeyType, priv)
	}
	var err error
	if k.alg, err = keys.AlgorithmFor(k.typ); err != nil {
		return nil, fmt.Errorf("software key: %w", err)
	}
	k.pub = k.priv.Public()
	if k.jwk, err = keys.PublicJWK(k.pub); err != nil {
		return nil, fmt.Errorf("software key: %w", err)
	}
	k.jwk.Alg = string(k.alg)
	if k.jwk.Kid, err = k.jwk.Thumbprint(); err != nil {
		return nil, fmt.Errorf("software key: %w", err)
	}
	return k, nil
}

// ErrPrivateKeyMismatch is a private key whose public half (a JWK's x and y,
// or the public part of a Go key) is not the one its private half derives.
var ErrPrivateKeyMismatch = errors.New("private key does not match its public key")

// URI is "software:<id>".
func (k *Key) URI() string { return k.uri }

// KeyType is the key's type.
func (k *Key) KeyType() keys.KeyType { return k.typ }

// Algorithm is the JOSE algorithm of the key's signatures.
func (k *Key) Algorithm() keys.Algorithm { return k.alg }

// Public returns an ed25519.PublicKey or an *ecdsa.PublicKey.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// Sign signs message as keys.Signer specifies: Ed25519 over the message
// itself; ECDSA over its SHA-256/384/512 digest with a fresh random nonce,
// returned as JOSE r‖s. It fails only when ctx is already done.
func (k *Key) Sign(ctx context.Context, message []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sign with %s: %w", k.URI(), err)
	}
	switch p := k.priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(p, message), nil
	case *ecdsa.PrivateKey:
		digest, err := keys.Digest(k.alg, message)
		if err != nil {
			return nil, fmt.Errorf("sign with %s: %w", k.URI(), err)
		}
		der, err := ecdsa.SignASN1(rand.Reader, p, digest)
		if err != nil {
			return nil, fmt.Errorf("sign with %s: %w", k.URI(), err)
		}
		sig, err := keys.ECDSASignatureFromASN1(k.alg, der)
		if err != nil {
			return nil, fmt.Errorf("sign with %s: %w", k.URI(), err)
		}
		return sig, nil
	}
	return nil, fmt.Errorf("sign with %s: uninitialized key", k.URI())
}

// CryptoSigner adapts the key to crypto.Signer, for standard-library APIs
// such as x509.CreateCertificate. Its Sign has crypto.Signer's semantics, not
// keys.Signer's: it signs a digest the caller computed (the message itself
// for Ed25519), and ECDSA signatures are ASN.1 DER. It prints like the Key.
func (k *Key) CryptoSigner() crypto.Signer { return cryptoSigner{k} }

type cryptoSigner struct{ k *Key }

func (c cryptoSigner) Public() crypto.PublicKey { return c.k.pub }

func (c cryptoSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := c.k.priv.Sign(r, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("sign with %s: %w", c.k.URI(), err)
	}
	return sig, nil
}

func (c cryptoSigner) String() string             { return c.k.String() }
func (c cryptoSigner) GoString() string           { return c.k.GoString() }
func (c cryptoSigner) Format(f fmt.State, r rune) { c.k.Format(f, r) }
func (c cryptoSigner) LogValue() slog.Value       { return c.k.LogValue() }

// Redaction. These methods have value receivers so that a dereferenced Key
// is redacted as well as a *Key; fmt prints "<nil>" for a nil *Key.

// String returns "software <type> key <uri>".
func (k Key) String() string {
	return fmt.Sprintf("software %s key %s", k.typ, k.uri)
}

// GoString returns a Go-like form with the type and URI only, for %#v.
func (k Key) GoString() string {
	return fmt.Sprintf("&software.Key{type: %q, uri: %q}", k.typ, k.uri)
}

// Format writes String for every verb but %#v, which writes GoString. Without
// it, verbs such as %d or %x would print the struct's fields, private key
// included.
func (k Key) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, k.GoString())
		return
	}
	_, _ = io.WriteString(f, k.String())
}

// LogValue makes slog log the key as its type and URI.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("type", string(k.typ)),
		slog.String("uri", k.uri),
	)
}

// publicView is what a Key marshals to.
type publicView struct {
	URI          string         `json:"uri"`
	Type         keys.KeyType   `json:"type"`
	Algorithm    keys.Algorithm `json:"alg"`
	PublicKeyJWK keys.JWK       `json:"publicKeyJwk"`
}

// MarshalJSON marshals the key's public view: URI, type, algorithm and
// public JWK. The private key is exported only by PrivateJWK.
func (k Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(publicView{
		URI:          k.uri,
		Type:         k.typ,
		Algorithm:    k.alg,
		PublicKeyJWK: k.jwk.Public(),
	})
}
