package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Errors of signature verification. Verify wraps exactly one of them (or an
// error of the public-key family, such as ErrUnsupportedKeyType), so callers
// can tell "this signature is wrong" from "this key cannot make this kind of
// signature" with errors.Is.
var (
	// ErrInvalidSignature is a signature that does not verify: wrong key,
	// altered message, altered or malformed signature bytes.
	ErrInvalidSignature = errors.New("invalid signature")
	// ErrAlgorithmMismatch is an algorithm that the key's type cannot sign
	// with, for example ES384 with a P-256 key. JOSE fixes one algorithm per
	// curve, so accepting another would be an algorithm-confusion hole.
	ErrAlgorithmMismatch = errors.New("algorithm does not match the key type")
	// ErrUnsupportedAlgorithm is an algorithm name agentid does not know.
	ErrUnsupportedAlgorithm = errors.New("unsupported signature algorithm")
)

// AlgorithmFor returns the one JOSE algorithm that signs with keys of type
// typ: EdDSA for Ed25519, ES256 for P-256, ES384 for P-384, ES512 for P-521
// and ES256K for secp256k1. X25519 is a key-agreement key and has none.
func AlgorithmFor(typ KeyType) (Algorithm, error) {
	switch typ {
	case Ed25519:
		return EdDSA, nil
	case P256:
		return ES256, nil
	case P384:
		return ES384, nil
	case P521:
		return ES512, nil
	case Secp256k1:
		return ES256K, nil
	}
	return "", fmt.Errorf("%w: %s keys do not sign", ErrUnsupportedKeyType, typ)
}

// ecdsaParams describes an ECDSA algorithm: the hash it applies to the
// message and the byte size of each half of its r‖s signature.
type ecdsaParams struct {
	hash crypto.Hash
	size int
}

var ecdsaAlgorithms = map[Algorithm]ecdsaParams{
	ES256:  {crypto.SHA256, 32},
	ES384:  {crypto.SHA384, 48},
	ES512:  {crypto.SHA512, 66},
	ES256K: {crypto.SHA256, 32},
}

// Digest hashes message with the hash of the ECDSA algorithm alg (SHA-256
// for ES256 and ES256K, SHA-384 for ES384, SHA-512 for ES512). Signers whose
// hardware signs digests (a TPM, for example) use it to implement
// Signer.Sign. EdDSA signs the message itself and has no digest.
func Digest(alg Algorithm, message []byte) ([]byte, error) {
	p, ok := ecdsaAlgorithms[alg]
	if !ok {
		return nil, fmt.Errorf("%w: %q has no message digest", ErrUnsupportedAlgorithm, alg)
	}
	switch p.hash {
	case crypto.SHA256:
		sum := sha256.Sum256(message)
		return sum[:], nil
	case crypto.SHA384:
		sum := sha512.Sum384(message)
		return sum[:], nil
	default:
		sum := sha512.Sum512(message)
		return sum[:], nil
	}
}

// Verify checks that sig is a signature by pub over message with algorithm
// alg, in the format Signer.Sign produces: 64 bytes for EdDSA, r‖s with each
// half zero-padded to the curve size for the ECDSA algorithms (64 bytes for
// ES256 and ES256K, 96 for ES384, 132 for ES512).
//
// pub is an ed25519.PublicKey, an *ecdsa.PublicKey on P-256, P-384 or P-521,
// or a *secp256k1.PublicKey. alg must be the algorithm of pub's key type (see
// AlgorithmFor); anything else fails with ErrAlgorithmMismatch before any
// signature math is done. A signature that does not verify fails with
// ErrInvalidSignature.
//
// ES256K follows RFC 8812: high-S signatures are accepted, as JOSE does not
// require the low-S form that Bitcoin does.
func Verify(pub crypto.PublicKey, alg Algorithm, message, sig []byte) error {
	typ, err := PublicKeyType(pub)
	if err != nil {
		return fmt.Errorf("verify %s signature: %w", alg, err)
	}
	want, err := AlgorithmFor(typ)
	if err != nil {
		return fmt.Errorf("verify %s signature: %w", alg, err)
	}
	if alg != want {
		if _, known := ecdsaAlgorithms[alg]; !known && alg != EdDSA {
			return fmt.Errorf("verify signature: %w: %q", ErrUnsupportedAlgorithm, alg)
		}
		return fmt.Errorf("verify signature: %w: %s with a %s key (which signs %s)", ErrAlgorithmMismatch, alg, typ, want)
	}

	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(sig) != ed25519.SignatureSize {
			return fmt.Errorf("verify EdDSA signature: %w: %d bytes, want %d", ErrInvalidSignature, len(sig), ed25519.SignatureSize)
		}
		if !ed25519.Verify(k, message, sig) {
			return fmt.Errorf("verify EdDSA signature: %w", ErrInvalidSignature)
		}
		return nil
	case *ecdsa.PublicKey:
		der, err := ECDSASignatureToASN1(alg, sig)
		if err != nil {
			return fmt.Errorf("verify %s signature: %w", alg, err)
		}
		digest, err := Digest(alg, message)
		if err != nil {
			return fmt.Errorf("verify %s signature: %w", alg, err)
		}
		if !ecdsa.VerifyASN1(k, digest, der) {
			return fmt.Errorf("verify %s signature: %w", alg, ErrInvalidSignature)
		}
		return nil
	case *secp256k1.PublicKey:
		return verifySecp256k1(k, message, sig)
	}
	// PublicKeyType accepted a key that has no verification case here.
	return fmt.Errorf("verify %s signature: %w: %T", alg, ErrUnsupportedKeyType, pub)
}

// verifySecp256k1 checks an ES256K r‖s signature with the decred secp256k1
// implementation (Go's crypto/ecdsa has no secp256k1 curve).
func verifySecp256k1(pub *secp256k1.PublicKey, message, sig []byte) error {
	if len(sig) != 64 {
		return fmt.Errorf("verify ES256K signature: %w: %d bytes, want 64", ErrInvalidSignature, len(sig))
	}
	var r, s secp256k1.ModNScalar
	// SetByteSlice reports whether the value was reduced modulo the group
	// order; an unreduced r or s is not a valid signature.
	if r.SetByteSlice(sig[:32]) || s.SetByteSlice(sig[32:]) {
		return fmt.Errorf("verify ES256K signature: %w: r or s is not below the group order", ErrInvalidSignature)
	}
	digest := sha256.Sum256(message)
	if !secpecdsa.NewSignature(&r, &s).Verify(digest[:], pub) {
		return fmt.Errorf("verify ES256K signature: %w", ErrInvalidSignature)
	}
	return nil
}

// ECDSASignatureToASN1 converts a JOSE ECDSA signature r‖s of algorithm alg
// into the ASN.1 DER form SEQUENCE { r INTEGER, s INTEGER } that
// crypto/ecdsa.VerifyASN1, X.509 and TLS use. A signature of the wrong length
// for alg fails with ErrInvalidSignature.
func ECDSASignatureToASN1(alg Algorithm, sig []byte) ([]byte, error) {
	p, ok := ecdsaAlgorithms[alg]
	if !ok {
		return nil, fmt.Errorf("%w: %q is not an ECDSA algorithm", ErrUnsupportedAlgorithm, alg)
	}
	if len(sig) != 2*p.size {
		return nil, fmt.Errorf("%w: %s signature is %d bytes, want %d", ErrInvalidSignature, alg, len(sig), 2*p.size)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		// big.Int only carries the unsigned big-endian value here; the
		// builder chooses the minimal DER INTEGER encoding.
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[:p.size]))
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[p.size:]))
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode %s signature as ASN.1: %w", alg, err)
	}
	return der, nil
}

// ECDSASignatureFromASN1 converts an ASN.1 DER ECDSA signature, as
// crypto/ecdsa.SignASN1 and crypto.Signer implementations return it, into the
// JOSE form r‖s of algorithm alg, each half zero-padded to the curve size.
// DER that does not parse strictly, or integers too large for the curve, fail
// with ErrInvalidSignature.
func ECDSASignatureFromASN1(alg Algorithm, der []byte) ([]byte, error) {
	p, ok := ecdsaAlgorithms[alg]
	if !ok {
		return nil, fmt.Errorf("%w: %q is not an ECDSA algorithm", ErrUnsupportedAlgorithm, alg)
	}
	var r, s []byte
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) || !seq.Empty() {
		return nil, fmt.Errorf("%w: malformed ASN.1 %s signature", ErrInvalidSignature, alg)
	}
	if len(r) > p.size || len(s) > p.size {
		return nil, fmt.Errorf("%w: %s signature integer longer than %d bytes", ErrInvalidSignature, alg, p.size)
	}
	out := make([]byte, 2*p.size)
	copy(out[p.size-len(r):p.size], r)
	copy(out[2*p.size-len(s):], s)
	return out, nil
}

// SignerJWK returns the public JWK of a signer, with "alg" set to the
// signer's algorithm and "kid" to the key's RFC 7638 thumbprint, ready to be
// put in a JWS header, a did:jwk or a JWK Set.
func SignerJWK(s Signer) (JWK, error) {
	j, err := PublicJWK(s.Public())
	if err != nil {
		return JWK{}, fmt.Errorf("public JWK of %s: %w", s.URI(), err)
	}
	j.Alg = string(s.Algorithm())
	if j.Kid, err = j.Thumbprint(); err != nil {
		return JWK{}, fmt.Errorf("public JWK of %s: %w", s.URI(), err)
	}
	return j, nil
}

// SignerMultikey returns the base58btc Multikey of a signer's public key, the
// form did:key identifiers and Multikey verification methods use.
func SignerMultikey(s Signer) (string, error) {
	mk, err := EncodeMultikey(s.Public())
	if err != nil {
		return "", fmt.Errorf("multikey of %s: %w", s.URI(), err)
	}
	return mk, nil
}
