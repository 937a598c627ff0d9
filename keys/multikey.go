package keys

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"fmt"

	"filippo.io/edwards25519"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/multiformats/go-multibase"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-varint"
)

// Multikey (W3C Controlled Identifiers, §2.2.2) encodes a public key as the
// multibase base58btc ("z") string of a multicodec varint header followed by
// the key bytes. EC keys are in SEC 1 compressed form. The same encoding is the
// method-specific identifier of a did:key.

// multicodec header and raw key length of each public key type.
var multikeyCodecs = []struct {
	typ    KeyType
	codec  multicodec.Code
	length int
}{
	{Ed25519, multicodec.Ed25519Pub, ed25519.PublicKeySize},
	{X25519, multicodec.X25519Pub, 32},
	{P256, multicodec.P256Pub, 33},
	{P384, multicodec.P384Pub, 49},
	{P521, multicodec.P521Pub, 67},
	{Secp256k1, multicodec.Secp256k1Pub, 33},
}

// EncodeMultikey encodes a public key (ed25519.PublicKey, *ecdsa.PublicKey on
// P-256, P-384 or P-521, *ecdh.PublicKey on X25519, *secp256k1.PublicKey) as
// a base58btc Multikey string.
func EncodeMultikey(pub crypto.PublicKey) (string, error) {
	typ, raw, err := compactPublicKey(pub)
	if err != nil {
		return "", err
	}
	for _, c := range multikeyCodecs {
		if c.typ == typ {
			buf := append(varint.ToUvarint(uint64(c.codec)), raw...)
			s, err := multibase.Encode(multibase.Base58BTC, buf)
			if err != nil {
				return "", fmt.Errorf("multibase encode: %w", err)
			}
			return s, nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrUnsupportedKeyType, typ)
}

// DecodeMultikey decodes a base58btc Multikey string into its key type and
// public key. Errors wrap ErrInvalidEncoding, ErrUnsupportedKeyType,
// ErrInvalidPublicKeyLength or ErrInvalidPublicKey.
func DecodeMultikey(s string) (KeyType, crypto.PublicKey, error) {
	if len(s) == 0 || s[0] != 'z' {
		return "", nil, fmt.Errorf("%w: multikey must be base58btc (prefix z)", ErrInvalidEncoding)
	}
	enc, data, err := multibase.Decode(s)
	if err != nil || enc != multibase.Base58BTC {
		return "", nil, fmt.Errorf("%w: base58btc: %v", ErrInvalidEncoding, err)
	}
	code, n, err := varint.FromUvarint(data)
	if err != nil {
		return "", nil, fmt.Errorf("%w: multicodec header: %v", ErrInvalidEncoding, err)
	}
	raw := data[n:]
	for _, c := range multikeyCodecs {
		if multicodec.Code(code) != c.codec {
			continue
		}
		if len(raw) != c.length {
			return "", nil, fmt.Errorf("%w: %s key is %d bytes, want %d", ErrInvalidPublicKeyLength, c.typ, len(raw), c.length)
		}
		pub, err := ParsePublicKey(c.typ, raw)
		if err != nil {
			return "", nil, err
		}
		return c.typ, pub, nil
	}
	return "", nil, fmt.Errorf("%w: multicodec 0x%x", ErrUnsupportedKeyType, code)
}

// ParsePublicKey parses the compact byte form of a public key of type typ:
// 32 bytes for Ed25519 and X25519, the SEC 1 compressed (or uncompressed)
// point for EC keys.
func ParsePublicKey(typ KeyType, raw []byte) (crypto.PublicKey, error) {
	switch typ {
	case Ed25519:
		if len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: ed25519 key is %d bytes", ErrInvalidPublicKeyLength, len(raw))
		}
		// Reject encodings that are not points on the curve.
		if _, err := new(edwards25519.Point).SetBytes(raw); err != nil {
			return nil, fmt.Errorf("%w: ed25519: %v", ErrInvalidPublicKey, err)
		}
		return ed25519.PublicKey(append([]byte(nil), raw...)), nil
	case X25519:
		pub, err := ecdh.X25519().NewPublicKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: x25519: %v", ErrInvalidPublicKeyLength, err)
		}
		return pub, nil
	case Secp256k1:
		pub, err := secp256k1.ParsePubKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: secp256k1: %v", ErrInvalidPublicKey, err)
		}
		return pub, nil
	case P256, P384, P521:
		curve := curveOf(typ)
		size := (curve.Params().BitSize + 7) / 8
		switch {
		case len(raw) == 1+size && (raw[0] == 2 || raw[0] == 3):
			x, y := elliptic.UnmarshalCompressed(curve, raw)
			if x == nil {
				return nil, fmt.Errorf("%w: %s point is not on the curve", ErrInvalidPublicKey, typ)
			}
			raw = make([]byte, 1+2*size)
			raw[0] = 4
			x.FillBytes(raw[1 : 1+size])
			y.FillBytes(raw[1+size:])
		case len(raw) == 1+2*size && raw[0] == 4:
		default:
			return nil, fmt.Errorf("%w: %s key is %d bytes", ErrInvalidPublicKeyLength, typ, len(raw))
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidPublicKey, typ, err)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupportedKeyType, typ)
}

// compactPublicKey returns a public key's type and its compact byte form (the
// form Multikey uses).
func compactPublicKey(pub crypto.PublicKey) (KeyType, []byte, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", nil, fmt.Errorf("%w: ed25519 key is %d bytes", ErrInvalidPublicKeyLength, len(k))
		}
		return Ed25519, []byte(k), nil
	case *ecdh.PublicKey:
		if k.Curve() != ecdh.X25519() {
			return "", nil, fmt.Errorf("%w: ecdh key on %v", ErrUnsupportedKeyType, k.Curve())
		}
		return X25519, k.Bytes(), nil
	case *secp256k1.PublicKey:
		return Secp256k1, k.SerializeCompressed(), nil
	case *ecdsa.PublicKey:
		typ, err := ecKeyType(k.Curve)
		if err != nil {
			return "", nil, err
		}
		raw, err := k.Bytes()
		if err != nil {
			return "", nil, fmt.Errorf("%w: %v", ErrInvalidPublicKey, err)
		}
		return typ, compressPoint(raw), nil
	}
	return "", nil, fmt.Errorf("%w: %T", ErrUnsupportedKeyType, pub)
}

// compressPoint turns an uncompressed SEC 1 point 04‖X‖Y into 02|03‖X.
func compressPoint(uncompressed []byte) []byte {
	size := (len(uncompressed) - 1) / 2
	out := make([]byte, 1+size)
	out[0] = 2 | (uncompressed[len(uncompressed)-1] & 1)
	copy(out[1:], uncompressed[1:1+size])
	return out
}

func curveOf(typ KeyType) elliptic.Curve {
	switch typ {
	case P256:
		return elliptic.P256()
	case P384:
		return elliptic.P384()
	case P521:
		return elliptic.P521()
	}
	return nil
}

func ecKeyType(c elliptic.Curve) (KeyType, error) {
	switch c {
	case elliptic.P256():
		return P256, nil
	case elliptic.P384():
		return P384, nil
	case elliptic.P521():
		return P521, nil
	}
	return "", fmt.Errorf("%w: curve %s", ErrUnsupportedKeyType, c.Params().Name)
}

// PublicKeyType returns the KeyType of a public key.
func PublicKeyType(pub crypto.PublicKey) (KeyType, error) {
	typ, _, err := compactPublicKey(pub)
	return typ, err
}

// X25519FromEd25519 derives the X25519 public key that corresponds to an
// Ed25519 public key (the birational map of RFC 7748 §4.1), as did:key does
// for its keyAgreement method.
func X25519FromEd25519(pub ed25519.PublicKey) (*ecdh.PublicKey, error) {
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: ed25519: %v", ErrInvalidPublicKey, err)
	}
	x, err := ecdh.X25519().NewPublicKey(p.BytesMontgomery())
	if err != nil {
		return nil, fmt.Errorf("%w: x25519: %v", ErrInvalidPublicKey, err)
	}
	return x, nil
}

// ClonePublicKey returns a public key that a caller may keep as its own: a
// new ed25519.PublicKey slice, a new *ecdsa.PublicKey struct, so that a
// caller that changes the slice or the struct's fields changes nothing for
// whoever holds pub (caches of parsed keys hand out clones). The ECDSA
// coordinates are shared: crypto/ecdsa never writes them, their doc
// deprecates changing them and nothing in agentid does. *ecdh.PublicKey
// and *secp256k1.PublicKey are immutable and returned as they are.
func ClonePublicKey(pub crypto.PublicKey) crypto.PublicKey {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return append(ed25519.PublicKey(nil), k...)
	case *ecdsa.PublicKey:
		c := *k
		return &c
	}
	return pub
}
