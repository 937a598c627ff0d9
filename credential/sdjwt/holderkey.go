package sdjwt

import (
	"crypto"
	"fmt"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/boundedcache"
	"github.com/agentid/agentid/keys"
)

// holderKeyCacheSize bounds the parsed cnf.jwk keys kept (a few hundred
// bytes each).
const holderKeyCacheSize = 4096

// holderKeys remembers parsed cnf.jwk public keys and their did:key. An
// agent presents its credentials again and again, and parsing its key (an
// on-curve check for an EC key) and encoding its did:key (base58 of the
// compressed point) cost microseconds each time. Both depend on nothing but
// the JWK's kty, crv, x and y, which are the cache key, so the cache can
// only return what parsing would; JWKs that fail to parse are not cached.
// In Verify only the cnf of an SD-JWT whose issuer signature verified gets
// here.
var holderKeys = boundedcache.New[jwkCoords, holderKeyEntry](holderKeyCacheSize)

// jwkCoords are the members of a public JWK that make its key.
type jwkCoords struct{ kty, crv, x, y string }

type holderKeyEntry struct {
	pub crypto.PublicKey
	did string // empty when the key has no did:key
}

// holderKey returns j.PublicKey() (j has no private part) and the did:key
// of that key ("" when it has none), through the cache. The key is the
// caller's own copy (see keys.ClonePublicKey).
func holderKey(j *keys.JWK) (crypto.PublicKey, string, error) {
	k := jwkCoords{j.Kty, j.Crv, j.X, j.Y}
	if e, ok := holderKeys.Get(k); ok {
		return keys.ClonePublicKey(e.pub), e.did, nil
	}
	pub, err := j.PublicKey()
	if err != nil {
		return nil, "", err
	}
	e := holderKeyEntry{pub: keys.ClonePublicKey(pub)}
	e.did, _ = didmethods.CreateKey(pub)
	holderKeys.Put(k, e)
	return pub, e.did, nil
}

// HolderDID returns the did:key of the key in r.HolderJWK, the cnf.jwk
// that binds the credential to its holder (so the DID an agent presenting
// it with a KB-JWT proves control of). It fails with ErrNoHolderKey when
// there is no usable cnf.jwk, and when the key's type has no did:key.
func (r *Result) HolderDID() (string, error) {
	if r.HolderJWK == nil {
		return "", ErrNoHolderKey
	}
	_, did, err := holderKey(r.HolderJWK)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoHolderKey, err)
	}
	if did == "" {
		return "", fmt.Errorf("%w: a %s %s key has no did:key", ErrNoHolderKey, r.HolderJWK.Kty, r.HolderJWK.Crv)
	}
	return did, nil
}
