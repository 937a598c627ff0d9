package didmethods

import (
	"crypto"

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
		return e.typ, keys.ClonePublicKey(e.pub), nil
	}
	typ, pub, err := keys.DecodeMultikey(s)
	if err != nil {
		return "", nil, err
	}
	multikeys.Put(s, multikeyEntry{typ: typ, pub: keys.ClonePublicKey(pub)})
	return typ, pub, nil
}
