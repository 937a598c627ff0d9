package keys

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// JWK is a JSON Web Key (RFC 7517) for the key types agentid knows: OKP keys
// (Ed25519, X25519; RFC 8037) and EC keys (P-256, P-384, P-521, secp256k1).
// D is set only for private keys.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	D   string `json:"d,omitempty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

var b64 = base64.RawURLEncoding

// jwkCurves maps key types to their JWK kty and crv.
var jwkCurves = map[KeyType][2]string{
	Ed25519:   {"OKP", "Ed25519"},
	X25519:    {"OKP", "X25519"},
	P256:      {"EC", "P-256"},
	P384:      {"EC", "P-384"},
	P521:      {"EC", "P-521"},
	Secp256k1: {"EC", "secp256k1"},
}

// PublicJWK returns the public JWK of a public key.
func PublicJWK(pub crypto.PublicKey) (JWK, error) {
	typ, err := PublicKeyType(pub)
	if err != nil {
		return JWK{}, err
	}
	names := jwkCurves[typ]
	j := JWK{Kty: names[0], Crv: names[1]}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		j.X = b64.EncodeToString(k)
	case *ecdh.PublicKey:
		j.X = b64.EncodeToString(k.Bytes())
	case *secp256k1.PublicKey:
		raw := k.SerializeUncompressed()
		j.X, j.Y = b64.EncodeToString(raw[1:33]), b64.EncodeToString(raw[33:])
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			return JWK{}, fmt.Errorf("%w: %v", ErrInvalidPublicKey, err)
		}
		size := (len(raw) - 1) / 2
		j.X, j.Y = b64.EncodeToString(raw[1:1+size]), b64.EncodeToString(raw[1+size:])
	}
	return j, nil
}

// KeyType returns the key type a JWK's kty and crv name.
func (j JWK) KeyType() (KeyType, error) {
	for typ, names := range jwkCurves {
		if names[0] == j.Kty && names[1] == j.Crv {
			return typ, nil
		}
	}
	return "", fmt.Errorf("%w: jwk kty %q crv %q", ErrUnsupportedKeyType, j.Kty, j.Crv)
}

// PublicKey parses the public part of a JWK.
func (j JWK) PublicKey() (crypto.PublicKey, error) {
	typ, err := j.KeyType()
	if err != nil {
		return nil, err
	}
	x, err := b64.DecodeString(j.X)
	if err != nil {
		return nil, fmt.Errorf("%w: jwk x: %v", ErrInvalidEncoding, err)
	}
	if j.Kty == "OKP" {
		if j.Y != "" {
			return nil, fmt.Errorf("%w: OKP jwk has y", ErrInvalidPublicKey)
		}
		return ParsePublicKey(typ, x)
	}
	y, err := b64.DecodeString(j.Y)
	if err != nil {
		return nil, fmt.Errorf("%w: jwk y: %v", ErrInvalidEncoding, err)
	}
	size := 32
	if c := curveOf(typ); c != nil {
		size = (c.Params().BitSize + 7) / 8
	}
	if len(x) != size || len(y) != size {
		return nil, fmt.Errorf("%w: %s jwk coordinates are %d and %d bytes, want %d", ErrInvalidPublicKeyLength, typ, len(x), len(y), size)
	}
	raw := append(append([]byte{4}, x...), y...)
	return ParsePublicKey(typ, raw)
}

// Public returns the JWK without its private part.
func (j JWK) Public() JWK {
	j.D = ""
	return j
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of the JWK's public part,
// base64url without padding.
func (j JWK) Thumbprint() (string, error) {
	var members any
	switch j.Kty {
	case "OKP":
		members = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
		}{j.Crv, j.Kty, j.X}
	case "EC":
		members = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{j.Crv, j.Kty, j.X, j.Y}
	default:
		return "", fmt.Errorf("%w: kty %q", ErrUnsupportedKeyType, j.Kty)
	}
	data, err := json.Marshal(members)
	if err != nil {
		return "", fmt.Errorf("jwk thumbprint: %w", err)
	}
	sum := sha256.Sum256(data)
	return b64.EncodeToString(sum[:]), nil
}
