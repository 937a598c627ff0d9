package didmethods

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"

	"github.com/agentid/agentid/internal/boundedcache"
	"github.com/agentid/agentid/keys"
)

// multikeyCacheSize bounds the parsed Multikeys kept: one entry is the
// Multikey string (at most ~100 characters for a key agentid supports) and
// its parsed key, a few hundred bytes.
const multikeyCacheSize = 4096

// multikeys remembers parsed Multikey strings. Decoding a compressed EC
// point (every P-256 did:key) costs a modular square root, tens of
// microseconds, and a verifier resolves the same issuer and holder DIDs
// over and over. A Multikey decodes to the same key every time (the string
// is the key), so the cache can only return what decoding would; failures
// are not cached, so a bad string is decoded, and rejected, every time.
var multikeys = boundedcache.New[string, multikeyEntry](multikeyCacheSize)

// multikeyEntry is a parsed Multikey.
type multikeyEntry struct {
	typ keys.KeyType
	pub crypto.PublicKey
}

// decodeMultikey is keys.DecodeMultikey through the cache.
func decodeMultikey(s string) (keys.KeyType, crypto.PublicKey, error) {
	if e, ok := multikeys.Get(s); ok {
		return e.typ, ownCopy(e.pub), nil
	}
	typ, pub, err := keys.DecodeMultikey(s)
	if err != nil {
		return "", nil, err
	}
	multikeys.Put(s, multikeyEntry{typ: typ, pub: ownCopy(pub)})
	return typ, pub, nil
}

// ownCopy returns a key that a caller may keep as its own: a new
// ed25519.PublicKey slice, a new *ecdsa.PublicKey struct, so that a caller
// that changes the slice or the struct's fields changes nothing for the
// next one. The ECDSA coordinates are shared: crypto/ecdsa never writes
// them, their doc deprecates changing them and nothing in agentid does.
// *ecdh.PublicKey and *secp256k1.PublicKey are immutable and shared as
// they are.
func ownCopy(pub crypto.PublicKey) crypto.PublicKey {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return append(ed25519.PublicKey(nil), k...)
	case *ecdsa.PublicKey:
		c := *k
		return &c
	}
	return pub
}
