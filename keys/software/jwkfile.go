package software

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/internal/securefile"
)

var b64 = base64.RawURLEncoding

// PrivateJWK exports the key as a private JWK (RFC 7517, RFC 8037): the public
// members, "d" (the Ed25519 seed, or the ECDSA scalar padded to the curve
// size), "alg", and "kid" set to the RFC 7638 thumbprint.
//
// This is the one way private material leaves a Key. Do not log the result:
// keys.JWK prints its D like any other field.
func (k *Key) PrivateJWK() keys.JWK {
	j := k.jwk
	switch p := k.priv.(type) {
	case ed25519.PrivateKey:
		j.D = b64.EncodeToString(p.Seed())
	case *ecdsa.PrivateKey:
		// Bytes fails only for curves other than P-224/256/384/521, and
		// fromPrivateKey admits P-256, P-384 and P-521 only.
		d, err := p.Bytes()
		if err != nil {
			panic("software: PrivateJWK of an invalid ECDSA key: " + err.Error())
		}
		j.D = b64.EncodeToString(d)
		clear(d)
	}
	return j
}

// FromPrivateJWK parses a private JWK (OKP Ed25519, or EC P-256, P-384 or
// P-521) into a Key with a new random id. It fails with ErrPrivateKeyMismatch
// when "d" does not derive the JWK's "x" (and "y"), and with
// keys.ErrAlgorithmMismatch when "alg" is present and is not the key type's
// algorithm. "kid" and other members are not checked.
func FromPrivateJWK(j keys.JWK) (*Key, error) {
	typ, err := j.KeyType()
	if err != nil {
		return nil, fmt.Errorf("private JWK: %w", err)
	}
	alg, err := keys.AlgorithmFor(typ)
	if err != nil {
		return nil, fmt.Errorf("private JWK: %w", err)
	}
	if j.Alg != "" && keys.Algorithm(j.Alg) != alg {
		return nil, fmt.Errorf("private JWK: %w: alg %q on a %s key (want %s)", keys.ErrAlgorithmMismatch, j.Alg, typ, alg)
	}
	if j.D == "" {
		return nil, errors.New("private JWK: no private key (member d is missing)")
	}
	pub, err := j.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("private JWK: %w", err)
	}
	d, err := b64.DecodeString(j.D)
	if err != nil {
		return nil, fmt.Errorf("private JWK: %w: d is not base64url", keys.ErrInvalidEncoding)
	}
	defer clear(d)

	var priv crypto.PrivateKey
	switch typ {
	case keys.Ed25519:
		if len(d) != ed25519.SeedSize {
			return nil, fmt.Errorf("private JWK: %w: ed25519 d is %d bytes, want %d", keys.ErrInvalidEncoding, len(d), ed25519.SeedSize)
		}
		p := ed25519.NewKeyFromSeed(d)
		if !bytes.Equal(p.Public().(ed25519.PublicKey), pub.(ed25519.PublicKey)) {
			return nil, fmt.Errorf("private JWK: %w: d does not derive x", ErrPrivateKeyMismatch)
		}
		priv = p
	case keys.P256, keys.P384, keys.P521:
		p, err := ecdsa.ParseRawPrivateKey(curves[typ], d)
		if err != nil {
			return nil, fmt.Errorf("private JWK: %w: %s d: %v", keys.ErrInvalidEncoding, typ, err)
		}
		if !p.PublicKey.Equal(pub) {
			return nil, fmt.Errorf("private JWK: %w: d does not derive x and y", ErrPrivateKeyMismatch)
		}
		priv = p
	default:
		return nil, fmt.Errorf("private JWK: %w: software keys are ed25519, p256, p384 or p521, not %s", keys.ErrUnsupportedKeyType, typ)
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	return fromPrivateKey(id, priv)
}

// maxJWKFileSize bounds what ReadPrivateJWKFile reads.
const maxJWKFileSize = 64 << 10

// WritePrivateJWKFile writes k's private JWK (with "kid" and "alg") as JSON to
// a new file at path with mode 0600. It refuses to replace an existing file:
// the error then names path and wraps fs.ErrExist. The file appears
// atomically, complete or not at all.
func WritePrivateJWKFile(path string, k *Key) error {
	data, err := json.MarshalIndent(k.PrivateJWK(), "", "  ")
	if err != nil {
		return fmt.Errorf("write private key file %s: %w", path, err)
	}
	data = append(data, '\n')
	defer clear(data)
	if err := securefile.WriteNew(path, data); err != nil {
		return fmt.Errorf("write private key file: %w", err)
	}
	return nil
}

// ReadPrivateJWKFile reads a private JWK file as WritePrivateJWKFile writes
// it, and returns its Key (with a new random id, as FromPrivateJWK). A file
// that group or others may access is refused with an error wrapping
// keys.ErrInsecureFileMode that says to run chmod 600: such a key must be
// considered leaked.
func ReadPrivateJWKFile(path string) (*Key, error) {
	data, err := securefile.ReadPrivate(path, maxJWKFileSize)
	if err != nil {
		return nil, fmt.Errorf("read private key file: %w", err)
	}
	defer clear(data)
	var j keys.JWK
	if err := json.Unmarshal(data, &j); err != nil {
		// The JSON error may quote the file, and the file is a secret.
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			return nil, fmt.Errorf("read private key file %s: not JSON (syntax error at byte %d)", path, syntaxErr.Offset)
		}
		return nil, fmt.Errorf("read private key file %s: not a JWK", path)
	}
	k, err := FromPrivateJWK(j)
	if err != nil {
		return nil, fmt.Errorf("read private key file %s: %w", path, err)
	}
	return k, nil
}
